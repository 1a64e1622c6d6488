"""Per-channel kurtosis: refquant's two-pass kernel vs the NumPy equivalent and one np.copyto pass.

Method: x float32 N(0, 1) of shape (4096, 4096), one kurtosis per row
(4096 channels). "NumPy equivalent": the same two-pass float64 computation
with whole-array NumPy (mean, then (x - mean)^2 and ^4 means), which is what a
careful user writes; scipy.stats.kurtosis (float32 arithmetic, less accurate)
is reported too. Copy: np.copyto of the tensor into a preallocated buffer.
Median of REPS runs after a warm-up. Targets: >= 2x NumPy and within 3x of copy.
"""
from __future__ import annotations

import os

import numpy as np
from scipy import stats

from benchmarks._timing import median_time
from refquant.kurtosis import kurtosis

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


def main() -> str:
    x = np.random.default_rng(0).standard_normal((N, N)).astype(np.float32)
    buf = np.empty_like(x)
    err = float(np.max(np.abs(kurtosis(x, axis=0) / numpy_kurtosis(x) - 1)))
    t_ref = _median_time(lambda: kurtosis(x, axis=0))
    t_np = _median_time(lambda: numpy_kurtosis(x))
    t_sp = _median_time(lambda: stats.kurtosis(x, axis=1, fisher=False), reps=max(1, REPS // 2))
    t_cp = _median_time(lambda: np.copyto(buf, x))
    return (
        "| tensor | refquant ms | NumPy two-pass ms | scipy.stats ms | np.copyto ms | speed-up vs NumPy | time / copy | max rel. diff vs NumPy |\n"
        "|---|---|---|---|---|---|---|---|\n"
        f"| {N}x{N} float32, per channel | {t_ref * 1e3:.1f} | {t_np * 1e3:.1f} | {t_sp * 1e3:.1f} | {t_cp * 1e3:.1f} "
        f"| {t_np / t_ref:.1f}x | {t_ref / t_cp:.2f} | {err:.1e} |\n"
    )
