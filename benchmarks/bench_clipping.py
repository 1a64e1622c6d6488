"""Data-driven clip search: refquant's fused kernel vs a straightforward NumPy grid search.

Method: x float32 N(0, 1) of shape (4096, 4096), one clip per row
(4096 channels), 8-bit symmetric grid, the same 100 candidates
alpha_k = (k/100)·max|x_c| for both. The NumPy baseline loops over the
candidates and evaluates each on all channels at once
(``np.clip(np.rint(x / s), -127, 127) * s``, squared error, mean over the
row). Both are checked to pick the same clips. Median of REPS runs after a
warm-up. Target: refquant < 2 s and >= 5x the NumPy search.
"""

from __future__ import annotations

import os

import numpy as np

from benchmarks._timing import median_time
from refquant.clipping import optimal_clip_empirical

QUICK = os.environ.get("REFQUANT_BENCH_QUICK") == "1"
REPS = 1 if QUICK else 3
N = 256 if QUICK else 4096
CANDIDATES = 100


def _median_time(fn, reps=REPS):
    return median_time(fn, reps)


def numpy_search(x: np.ndarray, bits: int = 8, n: int = CANDIDATES) -> np.ndarray:
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(x).max(axis=1).astype(np.float64)
    best = np.full(x.shape[0], np.inf)
    alpha = np.zeros(x.shape[0])
    x64 = x.astype(np.float64)
    for k in range(1, n + 1):
        s = (amax * k / n / qmax).astype(np.float32)[:, None]
        y = np.clip(np.rint(x / s), -qmax, qmax) * s
        mse = ((y.astype(np.float64) - x64) ** 2).mean(axis=1)
        better = mse < best
        best[better] = mse[better]
        alpha[better] = s[better, 0].astype(np.float64) * qmax
    return alpha


def main() -> str:
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    x = np.random.default_rng(0).standard_normal((N, N)).astype(np.float32)
    a_ref = optimal_clip_empirical(x, 8, axis=0, n_candidates=CANDIDATES)
    a_np = numpy_search(x)
    agree = float(np.mean(np.isclose(a_ref, a_np, rtol=1e-6)))
    t_ref = _median_time(lambda: optimal_clip_empirical(x, 8, axis=0, n_candidates=CANDIDATES))
    t_np = _median_time(lambda: numpy_search(x))
    return (
        f"| tensor | channels | candidates | refquant s | NumPy grid search s | speed-up | same clips |\n"
        f"|---|---|---|---|---|---|---|\n"
        f"| {N}x{N} float32 | {N} | {CANDIDATES} | {t_ref:.2f} | {t_np:.2f} | {t_np / t_ref:.1f}x | {agree:.4f} |\n"
        f"\n1-minute load average at the start / end of the run: {load0:.1f} / "
        f"{os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan'):.1f} on {os.cpu_count()} CPUs.\n"
    )
