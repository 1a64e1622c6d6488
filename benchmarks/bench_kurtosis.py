"""Per-channel kurtosis: refquant's two-pass kernel vs the NumPy equivalent and one np.copyto pass.

Method: x float32 N(0, 1) of shape (4096, 4096), one kurtosis per row
(4096 channels). "NumPy equivalent": the same two-pass float64 computation
with whole-array NumPy (mean, then (x - mean)^2 and ^4 means), which is what a
careful user writes; scipy.stats.kurtosis (float32 arithmetic, less accurate)
is reported too. Copy: np.copyto of the tensor into a preallocated buffer.
Median of REPS runs after a warm-up. Targets: >= 2x NumPy and within 3x of copy.

Small calls (second table): ``kurtosis`` of a 1,000-element float64 tensor and ``kure_grad`` of one
3x3x64x64 float64 layer (36,864 weights), each against a plain NumPy implementation of the same
formula on the same input (two-pass moments; the gradient 4/(N sigma) (z^3 - K z - S) times
2 (K - K_T)). Target: refquant within 2x of NumPy, i.e. the per-call overhead of validation and the
kernel launch stays small. These calls run on one Numba thread (``threads_for``: they are below
``refquant.kurtosis.PARALLEL_MIN_ELEMENTS``); the "two threads forced" column shows what the parallel
kernel costs on the same input on this machine at the time of the run.

Threshold (third table): ``kurtosis`` of one channel of ``n`` float64 elements with the moment kernels on
one Numba thread vs on every thread, for ``n`` around ``refquant.kurtosis.PARALLEL_MIN_ELEMENTS`` (the size
from which the wrapper lets the kernels use every thread).
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
from scipy import stats

from benchmarks._timing import median_time
from refquant.kurtosis import kure_grad, kurtosis

QUICK = os.environ.get("REFQUANT_BENCH_QUICK") == "1"
REPS = 2 if QUICK else 7
N = 256 if QUICK else 4096


def _median_time(fn, reps=REPS):
    return median_time(fn, reps)


def numpy_kurtosis(x):
    a = x.astype(np.float64)
    d = a - a.mean(axis=1, keepdims=True)
    d2 = d * d
    return (d2 * d2).mean(axis=1) / d2.mean(axis=1) ** 2


def numpy_kurtosis_1d(x):
    d = x - x.mean()
    d2 = d * d
    return (d2 * d2).mean() / d2.mean() ** 2


def numpy_kure_grad(w, target=1.8):
    a = w.astype(np.float64)
    n = a.size
    d = a - a.mean()
    m2 = np.mean(d * d)
    sigma = np.sqrt(m2)
    z = d / sigma
    z2 = z * z
    k = np.mean(z2 * z2)
    s = np.mean(z2 * z)
    return 2.0 * (k - target) * 4.0 / (n * sigma) * (z2 * z - k * z - s)


@contextlib.contextmanager
def _threshold(value: int):
    """Run the body with ``refquant.kurtosis.PARALLEL_MIN_ELEMENTS`` set to ``value`` (0: always parallel)."""
    import refquant.kurtosis as K

    old = K.PARALLEL_MIN_ELEMENTS
    K.PARALLEL_MIN_ELEMENTS = value
    try:
        yield
    finally:
        K.PARALLEL_MIN_ELEMENTS = old


def _forced_parallel(fn):
    """Time ``fn`` with the threshold set to 0, so the kernel runs on every Numba thread."""
    with _threshold(0):
        return _median_time(fn, reps=max(3, REPS))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _median_mean(fn, threshold, reps):
    """(median, mean) seconds of ``reps`` calls with the kernel threshold set to ``threshold`` (after a warm-up);
    the mean shows the tail that waking threads on a loaded machine adds, which the median hides."""
    with _threshold(threshold):
        fn()
        ts = [_timed(fn) for _ in range(reps)]
    return float(np.median(ts)), float(np.mean(ts))


def threshold_table() -> str:
    import numba

    from refquant.kurtosis import PARALLEL_MIN_ELEMENTS

    rows = []
    sizes = (1 << 14, 1 << 16) if QUICK else (1 << 16, 1 << 18, 1 << 20, 1 << 22)
    for n in sizes:
        x = np.random.default_rng(2).standard_normal(n)
        reps = max(5, min(200, (1 << 25) // n))
        m1, a1 = _median_mean(lambda: kurtosis(x), 1 << 62, reps)
        mp, ap = _median_mean(lambda: kurtosis(x), 0, reps)
        rows.append(f"| {n:,} | {m1 * 1e3:.3f} / {a1 * 1e3:.3f} | {mp * 1e3:.3f} / {ap * 1e3:.3f} | {a1 / ap:.2f}x |")
    return (
        f"| elements (one channel) | 1 thread ms (median / mean) | {numba.get_num_threads()} threads ms "
        "(median / mean) | mean 1 thread / mean parallel |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nCurrent threshold: PARALLEL_MIN_ELEMENTS = {PARALLEL_MIN_ELEMENTS:,}.\n"
    )


def small_calls() -> str:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1000)
    w = rng.standard_normal((3, 3, 64, 64))
    reps = 20 if QUICK else 200
    rows = []
    for label, ours, ref in (
        ("kurtosis, 1,000 elements", lambda: kurtosis(x), lambda: numpy_kurtosis_1d(x)),
        ("kure_grad, 3x3x64x64 layer", lambda: kure_grad([w]), lambda: numpy_kure_grad(w)),
    ):
        t_ours = _median_time(ours, reps=reps)
        t_ref = _median_time(ref, reps=reps)
        t_par = _forced_parallel(ours)
        rows.append(f"| {label} | {t_ours * 1e3:.3f} | {t_ref * 1e3:.3f} | {t_ours / t_ref:.2f}x | {t_par * 1e3:.2f} |")
    err = float(np.max(np.abs(kure_grad([w])[0] - numpy_kure_grad(w))) / np.max(np.abs(numpy_kure_grad(w))))
    return (
        "| small call | refquant ms | plain NumPy ms | refquant / NumPy (target <= 2x) "
        "| refquant, two threads forced ms |\n"
        "|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nkure_grad vs the NumPy formula: max relative difference {err:.1e}.\n"
    )


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main() -> str:
    load0 = _load()
    x = np.random.default_rng(0).standard_normal((N, N)).astype(np.float32)
    buf = np.empty_like(x)
    err = float(np.max(np.abs(kurtosis(x, axis=0) / numpy_kurtosis(x) - 1)))
    t_ref = _median_time(lambda: kurtosis(x, axis=0))
    t_np = _median_time(lambda: numpy_kurtosis(x))
    t_sp = _median_time(lambda: stats.kurtosis(x, axis=1, fisher=False), reps=max(1, REPS // 2))
    t_cp = _median_time(lambda: np.copyto(buf, x))
    return (
        "| tensor | refquant ms | NumPy two-pass ms | scipy.stats ms | np.copyto ms | speed-up vs NumPy "
        "| time / copy | max rel. diff vs NumPy |\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"| {N}x{N} float32, per channel | {t_ref * 1e3:.1f} | {t_np * 1e3:.1f} | {t_sp * 1e3:.1f} | {t_cp * 1e3:.1f} "
        f"| {t_np / t_ref:.1f}x | {t_ref / t_cp:.2f} | {err:.1e} |\n"
        "\n"
        + small_calls()
        + "\n"
        + threshold_table()
        + f"\n1-minute load average at the start / end of the run: {load0:.1f} / {_load():.1f} "
        f"on {os.cpu_count()} CPUs.\n"
    )
