"""Serial path for small inputs: one place that decides how many Numba threads a kernel call may use.

A ``parallel=True`` kernel wakes Numba's thread pool on every call. On a machine whose cores are busy with other
work, waking a second thread for a few microseconds of arithmetic costs milliseconds (measured: ``fake_quant`` on
1,000 elements ~13 ms with two threads on a loaded 2-core machine, 0.09 ms with one). Wrappers therefore run
their kernel inside :func:`threads_for`, which limits the calling thread to one Numba thread when the work is
below a threshold the wrapper states (measured per kernel in ``benchmarks/``).

Results never depend on the thread count (kernels parallelise only over independent outputs), so this is a
speed decision only. ``numba.set_num_threads`` is thread-local: concurrent callers in other threads are not
affected.

Cost of the switch itself: Numba's public ``get_num_threads`` / ``set_num_threads`` take a process-wide
(multiprocessing) lock on every call to make sure the thread pool is launched (~10-40 us per call on the loaded
2-core development machine, two to three calls per switch). Once the pool is launched, :class:`threads_for` reads
and sets the thread-local count through the threading layer's own functions (the ones the public calls end in,
without the lock; a few hundred nanoseconds), and falls back to the public API before the pool exists or on a
Numba that does not expose them. A call that is at or above its threshold does not touch Numba at all.
"""

from __future__ import annotations

import contextlib

__all__ = ["threads_for", "serial"]


_FAST: list = []  # the threading layer's (get, set) once the pool is launched (filled on first use)


def _thread_count_functions():
    """``(get, set)`` for the calling thread's Numba thread count: the threading layer's lock-free functions once
    the pool is launched, else the public (locking, launching) API."""
    if _FAST:
        return _FAST[0]
    from numba.np.ufunc import parallel as _p

    if getattr(_p, "_is_initialized", False):
        get, set_ = getattr(_p, "_get_num_threads", None), getattr(_p, "_set_num_threads", None)
        if callable(get) and callable(set_):
            _FAST.append((get, set_))  # the pool is launched once per process; these stay valid
            return get, set_
    import numba

    return numba.get_num_threads, numba.set_num_threads


class threads_for:  # noqa: N801 - a context manager used as a function, the name of its first version
    """Run the body with one Numba thread when ``work < threshold``, else with the current setting.

    Use as ``with threads_for(work, threshold): kernel(...)``. The previous thread count of the calling
    thread is restored on exit (also when the body raises); when it already is 1, or when ``work >= threshold``,
    nothing is changed.

    Parameters
    ----------
    work : int
        Size of the call in the kernel's own unit (elements, channels x elements, multiply-accumulates).
    threshold : int
        Smallest ``work`` that is run in parallel (measured per kernel; documented where it is set).

    Attributes
    ----------
    work, threshold : int
        As given.
    """

    __slots__ = ("work", "threshold", "_restore", "_set")

    def __init__(self, work: int, threshold: int) -> None:
        self.work = work
        self.threshold = threshold
        self._restore = 0
        self._set = None

    def __enter__(self) -> None:
        if self.work >= self.threshold:
            return None
        get, set_ = _thread_count_functions()
        before = get()
        if before != 1:
            set_(1)
            self._restore, self._set = before, set_
        return None

    def __exit__(self, *exc) -> None:
        if self._set is not None:
            self._set(self._restore)
            self._set = None
        return None


def serial() -> contextlib.AbstractContextManager[None]:
    """Context manager that runs the body with one Numba thread (``threads_for(0, 1)``).

    Returns
    -------
    threads_for
    """
    return threads_for(0, 1)
