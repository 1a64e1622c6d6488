"""Serial path for small inputs: one place that decides how many Numba threads a kernel call may use.

A ``parallel=True`` kernel wakes Numba's thread pool on every call. On a machine whose cores are busy with other
work, waking a second thread for a few microseconds of arithmetic costs milliseconds (measured: ``fake_quant`` on
1,000 elements ~13 ms with two threads on a loaded 2-core machine, 0.09 ms with one). Wrappers therefore run
their kernel inside :func:`threads_for`, which limits the calling thread to one Numba thread when the work is
below a threshold the wrapper states (measured per kernel in ``benchmarks/``).

Results never depend on the thread count (kernels parallelise only over independent outputs), so this is a
speed decision only. ``numba.set_num_threads`` is thread-local: concurrent callers in other threads are not
affected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["threads_for", "serial"]


@contextlib.contextmanager
def threads_for(work: int, threshold: int) -> Iterator[None]:
    """Run the body with one Numba thread when ``work < threshold``, else with the current setting.

    Parameters
    ----------
    work : int
        Size of the call in the kernel's own unit (elements, channels x elements, multiply-accumulates).
    threshold : int
        Smallest ``work`` that is run in parallel (measured per kernel; documented where it is set).
    """
    if work >= threshold:
        yield
        return
    import numba

    before = numba.get_num_threads()
    if before == 1:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def serial() -> contextlib.AbstractContextManager[None]:
    """Context manager that runs the body with one Numba thread (``threads_for(0, 1)``)."""
    return threads_for(0, 1)
