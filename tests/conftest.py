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
