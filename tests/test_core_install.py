"""The core install (numpy, numba, scipy, hypothesis) is enough for the quantizers, the theory functions,
PTQ, golden vectors and the conformance kit: run them in a subprocess where pandas, matplotlib,
scikit-learn and distributed cannot be imported (as after ``pip install refquant`` without extras), and
check that ``refquant figures`` then says in one line which extra to install."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

BLOCK = (
    "import sys\nfor _m in ('pandas', 'matplotlib', 'sklearn', 'distributed', 'dask'):\n    sys.modules[_m] = None\n"
)

CORE = (
    BLOCK
    + r"""
import importlib, tempfile
import numpy as np
import refquant as rq
for name in sorted(rq._SUBMODULES):
    importlib.import_module(f"refquant.{name}")       # every public module imports without the extras
from refquant import clipping as C, kurtosis as K, ptq as P, allocation as A
x = np.linspace(-3, 3, 101)
rq.fake_quant(x, 0.1, 0, rq.QuantSpec(4))
C.optimal_clip(3, "laplace"); C.mse_exact(2.0, 3, "gaussian"); K.kurtosis(x)
w = np.random.default_rng(0).standard_normal((4, 16))
P.fake_quant_bits(w, P.channel_clips(w, 3), A.allocate_bits(np.ones(4), 12, min_bits=2))
from refquant.testing import golden, check_fake_quant
with tempfile.TemporaryDirectory() as d:
    golden.export(d, ops=["quantize"])
    assert golden.verify(d).ok
check_fake_quant(rq.fake_quant, max_examples=5)
assert not any(m in sys.modules and sys.modules[m] is not None for m in ("pandas", "matplotlib", "sklearn"))
print("core ok")
"""
)


def test_core_paths_need_no_extras():
    p = subprocess.run([sys.executable, "-c", CORE], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and "core ok" in p.stdout, p.stderr[-3000:]


def test_figures_without_the_extra_says_what_to_install():
    code = BLOCK + "import sys\nfrom refquant.cli import main\nsys.exit(main(['figures', 'uniform']))"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "refquant[figures]" in lines[0] and "matplotlib" in lines[0], p.stderr


def test_figures_and_bench_outside_a_checkout_say_what_to_do(tmp_path):
    # an installed wheel: refquant importable, the repository's analysis/ and benchmarks/ folders not
    site = tmp_path / "site"
    site.mkdir()
    (site / "refquant").symlink_to(ROOT / "refquant", target_is_directory=True)
    run = tmp_path / "elsewhere"
    run.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    for cmd in ("figures", "bench"):
        p = subprocess.run(
            [sys.executable, "-m", "refquant.cli", cmd], cwd=run, env=env, capture_output=True, text=True, timeout=300
        )
        assert p.returncode != 0
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert f"refquant {cmd}:" in lines[0] and "checkout" in lines[0] and "pip install" in lines[0]
