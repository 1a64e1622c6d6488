"""Shared pytest configuration: Hypothesis profiles.

Profiles (select with the environment variable ``REFQUANT_HYPOTHESIS_PROFILE``):

* ``ci`` (default): bounded examples so the whole suite stays well under
  10 minutes on 2 cores; ``deadline=None`` because the first call of a Numba
  kernel compiles (or loads the cache); ``print_blob=True`` so a failure
  prints the reproduction blob.
* ``thorough``: 20x the examples, for long local or nightly runs.
* ``nojit``: fewer examples, for the NUMBA_DISABLE_JIT=1 re-run (kernels in pure Python).
* ``repro``: derandomized, no example database, for bisecting.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])

settings.register_profile("ci", max_examples=60, **_COMMON)
settings.register_profile("thorough", max_examples=1200, **_COMMON)
settings.register_profile("nojit", max_examples=25, **_COMMON)  # used by test_nojit.py (pure-Python kernels)
settings.register_profile("repro", max_examples=60, derandomize=True, database=None, **_COMMON)
settings.load_profile(os.environ.get("REFQUANT_HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Bad-input registry: number of cases per public name (tests/test_bad_inputs.py), by outcome."""
    outcome_of: dict[str, str] = {}
    for outcome in ("passed", "failed", "xfailed", "xpassed", "skipped", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(rep, "nodeid", "")
            if "test_bad_inputs.py::test_case[" in nodeid and (outcome != "skipped" or nodeid not in outcome_of):
                outcome_of[nodeid] = outcome
    if not outcome_of:
        return
    counts: dict[str, dict[str, int]] = {}
    for nodeid, outcome in outcome_of.items():
        name = nodeid.split("[", 1)[1].split("|", 1)[0]
        d = counts.setdefault(name, {})
        d[outcome] = d.get(outcome, 0) + 1
    terminalreporter.section("bad-input registry: cases per public name")
    total: dict[str, int] = {}
    for name in sorted(counts):
        d = counts[name]
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
        extra = ", ".join(f"{k} {v}" for k, v in sorted(d.items()) if k != "passed")
        terminalreporter.write_line(f"{sum(d.values()):5d}  {name}" + (f"  ({extra})" if extra else ""))
    terminalreporter.write_line(
        f"{sum(total.values()):5d}  total ({', '.join(f'{k} {v}' for k, v in sorted(total.items()))})"
    )
