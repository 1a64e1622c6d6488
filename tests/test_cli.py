"""The refquant command line: each subcommand's success path and a bad-argument path."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "refquant.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_info():
    p = run("info")
    assert p.returncode == 0 and "numba threads" in p.stdout and "cpu count" in p.stdout


def test_help_and_bad_subcommand():
    assert run("--help").returncode == 0
    p = run("frobnicate")
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_golden_export_verify_and_failures(tmp_path):
    p = run("golden", "export", str(tmp_path / "g"), "--ops", "quantize")
    assert p.returncode == 0 and "wrote" in p.stdout
    p = run("golden", "verify", str(tmp_path / "g"))
    assert p.returncode == 0 and "0 failure(s)" in p.stdout
    f = next((tmp_path / "g" / "raw").rglob("output_codes.bin"))
    f.write_bytes(b"\x00" + f.read_bytes()[1:] if f.read_bytes()[:1] != b"\x00" else b"\x01" + f.read_bytes()[1:])
    p = run("golden", "verify", str(tmp_path / "g"))
    assert p.returncode == 1 and "FAIL quantize-" in p.stdout
    p = run("golden", "verify", str(tmp_path / "none"))
    assert p.returncode == 2 and "export first" in p.stderr
    p = run("golden", "export", str(tmp_path / "x"), "--ops", "nope")
    assert p.returncode == 2 and "unknown" in p.stderr


def test_figures_one_family_and_unknown_name(tmp_path):
    p = run("figures", "uniform", "--outdir", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "uniform_mse_vs_step.png").stat().st_size > 10_000
    assert (tmp_path / "uniform_mse_vs_step.csv").read_text().startswith("task,")
    p = run("figures", "nosuch")
    assert p.returncode != 0 and "unknown figure name" in (p.stderr + p.stdout)


def test_bench_quick_success(tmp_path):
    p = run("bench", "uniform", "--quick", "--out", str(tmp_path / "r.md"))
    assert p.returncode == 0, p.stderr
    assert "speed-up vs naive" in (tmp_path / "r.md").read_text()


def test_bench_unknown_name():
    p = run("bench", "nosuch")
    assert p.returncode == 2 and "unknown benchmark" in p.stderr
