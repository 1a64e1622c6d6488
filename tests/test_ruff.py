"""The linter runs inside the test command: ``ruff check`` and ``ruff format --check`` over the repository
with the checked-in configuration (``ruff.toml``: line length 120, the rule sets and the design-driven
exceptions stated once). A planted finding shows the configuration is the one in force and can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    try:
        import ruff  # noqa: F401  (the test extra installs it; its binary runs as ``python -m ruff``)
    except ImportError:  # pragma: no cover - the test extra always installs ruff
        pytest.fail("ruff is not installed: install the test extra (python3 -m pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_ruff_check_is_clean():
    r = _ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert r.returncode == 0, f"ruff check found problems:\n{r.stdout}{r.stderr}"


def test_ruff_format_is_clean():
    r = _ruff("format", "--no-cache", "--check", ".")
    assert r.returncode == 0, f"files not formatted with `ruff format`:\n{r.stdout}{r.stderr}"


def test_planted_findings_are_caught(tmp_path):
    """A copy of the configuration on a file with a 122-character line, an unused import and a mutable default
    argument: ruff must report E501, F401 and B006 (so a finding in the repository would fail the two tests
    above), and must not report E741 in a kernel file, the per-file exception the configuration states."""
    shutil.copy(ROOT / "ruff.toml", tmp_path / "ruff.toml")
    (tmp_path / "planted.py").write_text(
        "import os\n\n\ndef f(a=[]):\n    return a\n\n\nX = '" + "x" * 116 + "'\n", encoding="utf-8"
    )
    kernels = tmp_path / "refquant" / "_kernels"
    kernels.mkdir(parents=True)
    (kernels / "k.py").write_text("def g(n):\n    l = n\n    return l\n", encoding="utf-8")
    r = _ruff("check", "--no-cache", "--output-format", "concise", ".", cwd=tmp_path)
    assert r.returncode == 1
    for code in ("E501", "F401", "B006"):
        assert "planted.py" in r.stdout and code in r.stdout, f"{code} not reported:\n{r.stdout}"
    assert "k.py" not in r.stdout, f"the kernel-file exception for E741 is not in force:\n{r.stdout}"
