"""First-call (compile) time of every Numba kernel, of ``import refquant``, and of a first figure.

Method: each row runs in a fresh ``python3`` subprocess (so nothing is compiled or imported yet) and
times, inside that process, ``import refquant``, ``import numba`` and then the first call of one public function that
reaches one kernel family. Two columns: **cold** = an empty Numba cache directory (``NUMBA_CACHE_DIR``
pointing at a new temporary folder: a new install, or a changed kernel source) and **warm** = the same
folder again, now holding the cache the cold run wrote (every later process on the machine). The last
row times a whole ``python3 -m analysis uniform`` (interpreter start, imports, two spawned sweep
processes, the figure) cold and warm. Times depend heavily on the machine's load; the load average is
printed with the table.

Before/after in the same run: with ``REFQUANT_BENCH_BASELINE=<path of another refquant checkout>`` (for
example ``git archive <commit> | tar -x -C /tmp/base``) every kernel row is also timed cold against that
checkout, interleaved with this tree's runs (same load), in an extra column.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
QUICK = os.environ.get("REFQUANT_BENCH_QUICK") == "1"

_PRE = "import numpy as np\nrng = np.random.default_rng(0)\n"
#: row label -> (set-up code, first call). Every kernel module of refquant/_kernels is reached.
CASES = {
    "fake_quant float64 (uniform kernel)": (
        "import refquant as rq\nx = rng.standard_normal(1000)",
        "rq.fake_quant(x, 0.1, 0, rq.QuantSpec(8))",
    ),
    "fake_quant float32 (2nd signature)": (
        "import refquant as rq\nx = rng.standard_normal(1000).astype(np.float32)",
        "rq.fake_quant(x, 0.1, 0, rq.QuantSpec(8))",
    ),
    "optimal_clip_empirical (clip search kernel)": (
        "from refquant import clipping as C\nx = rng.standard_normal(1000)",
        "C.optimal_clip_empirical(x, 4)",
    ),
    "kurtosis 1,000 (fused moments kernel)": (
        "from refquant import kurtosis as K\nx = rng.standard_normal(1000)",
        "K.kurtosis(x)",
    ),
    "kure_grad 3x3x64x64 (row-split moment kernels)": (
        "from refquant import kurtosis as K\nw = rng.standard_normal((3, 3, 64, 64))",
        "K.kure_grad([w])",
    ),
    "imc_matmul (ADC kernels)": (
        "from refquant import imc as I\n"
        "spec = I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=I.ADCSpec(8, range_policy='granular'))\n"
        "x = np.array([[3, 1, 0, 2, 1]]); w = np.array([[1], [-3], [2], [0], [3]])",
        "I.imc_matmul(x, w, spec)",
    ),
    "factorized_matmul (repetition kernel)": (
        "from refquant import repetition as R\n"
        "w = np.array([[1, 0, 1, 0, 1, 0], [2, 2, 2, 0, 0, 0]]).T\nx = np.array([[1, 2, 3, 4, 5, 6]])",
        "R.factorized_matmul(x, w)",
    ),
    "shared_sum_matmul (2 repetition kernels)": (
        "from refquant import repetition as R\n"
        "w = np.array([[1, 0, 1, 0, 1, 0], [2, 2, 2, 0, 0, 0]]).T\nx = np.array([[1, 2, 3, 4, 5, 6]])",
        "R.shared_sum_matmul(x, w)",
    ),
}

_SCRIPT = """
import time, json
t0 = time.perf_counter()
import refquant
t1 = time.perf_counter()
{pre}{setup}
import numba  # the first kernel call imports Numba (llvmlite); timed apart from the kernel itself
t2 = time.perf_counter()
{call}
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "numba": t2 - t1, "first_call": t3 - t2}}))
"""


BASELINE = os.environ.get("REFQUANT_BENCH_BASELINE")


def _run(setup: str, call: str, cache: str, root: pathlib.Path = ROOT) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(NUMBA_CACHE_DIR=cache, PYTHONPATH=str(root))
    code = _SCRIPT.format(pre=_PRE, setup=setup, call=call)
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=900, check=True
    )
    return json.loads(p.stdout.strip().splitlines()[-1])


def _figure(cache: str, outdir: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(NUMBA_CACHE_DIR=cache)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "analysis", "uniform", "--outdir", outdir],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=1800,
        check=True,
    )
    return time.perf_counter() - t0


def main() -> str:
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    cases = dict(list(CASES.items())[:2]) if QUICK else CASES
    imports, numbas = [], []
    for label, (setup, call) in cases.items():
        base = ""
        if BASELINE:
            with tempfile.TemporaryDirectory() as cache:
                base = f" {_run(setup, call, cache, pathlib.Path(BASELINE))['first_call']:.2f} |"
        with tempfile.TemporaryDirectory() as cache:
            cold = _run(setup, call, cache)
            warm = _run(setup, call, cache)
        imports.append(warm["import"])
        numbas.append(warm["numba"])
        rows.append(f"| {label} |{base} {cold['first_call']:.2f} | {warm['first_call']:.3f} |")
    if not QUICK:
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            cold_fig = _figure(cache, out)
            warm_fig = _figure(cache, out)
        rows.append(
            f"| whole `python3 -m analysis uniform` (process start to figure written) |{' - |' if BASELINE else ''} "
            f"{cold_fig:.1f} | {warm_fig:.1f} |"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    imp = sorted(imports)[len(imports) // 2] * 1e3
    nb = sorted(numbas)[len(numbas) // 2] * 1e3
    return (
        f"`import refquant` in a fresh process: median {imp:.0f} ms (imports no Numba, compiles nothing); "
        f"the first kernel call then imports Numba: median {nb:.0f} ms with the test set-up (not in the columns "
        f"below). 1-minute load average at the start of the run: {load0:.1f}, at the end: {load:.1f} on "
        f"{os.cpu_count()} CPUs.\n\n"
        + (
            "| first call in a fresh process | baseline cold s (compile) | cold cache s (compile) "
            "| warm cache s (load) |\n|---|---|---|---|\n"
            if BASELINE
            else "| first call in a fresh process | cold cache s (compile) | warm cache s (load) |\n|---|---|---|\n"
        )
        + "\n".join(rows)
        + "\n"
    )
