"""Timing helper shared by the benchmarks: median of ``reps`` runs after one warm-up call."""
from __future__ import annotations

import statistics
import time


def median_time(fn, reps: int) -> float:
    """Seconds: the median of ``reps`` timed calls of ``fn()``, after one untimed warm-up call."""
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
