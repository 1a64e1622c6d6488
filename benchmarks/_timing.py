"""Timing helper shared by the benchmarks: median of ``reps`` runs after one warm-up call."""

from __future__ import annotations

import statistics
import time


def median_time(fn, reps: int, settle: float = 0.0) -> float:
    """Seconds: the median of ``reps`` timed calls of ``fn()``, after one untimed warm-up call.

    ``settle`` seconds of sleep come first, so that worker threads left spinning by the previously timed
    method (OpenBLAS busy-waits for a while after each GEMM) are idle before ``fn`` is timed.
    """
    time.sleep(settle)
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
