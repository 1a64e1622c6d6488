"""Re-run every ``kernel``-marked test with the JIT disabled (NUMBA_DISABLE_JIT=1).

With the JIT off the kernels run as plain Python: this checks that the
kernel *source* is correct Python too (coverage), not a second oracle — the
oracle is the NumPy twin (docs/ARCHITECTURE.md). It runs in a subprocess
because Numba reads the variable once, at import.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="already running without the JIT")
def test_kernel_tests_pass_without_jit():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", REFQUANT_HYPOTHESIS_PROFILE="nojit")
    # Pure-Python kernels warn on IEEE overflow / inf-inf (compiled code does not); the results are still checked.
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-m",
        "kernel",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::RuntimeWarning",
        "tests",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
    assert proc.returncode == 0, f"kernel tests failed with NUMBA_DISABLE_JIT=1:\n{tail}"
    assert " passed" in proc.stdout, tail
