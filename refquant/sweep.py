"""One sweep runner for every parameter sweep (Monte Carlo MSE, SQNR grids, repetition statistics ...).

:func:`run_sweep` evaluates ``func(rng=<Generator>, **params)`` for each
parameter dict on any :class:`concurrent.futures.Executor` and gathers the
results into a pandas DataFrame, ordered by task.

Reproducibility contract: task ``i`` always receives
``numpy.random.default_rng(numpy.random.SeedSequence(seed).spawn(n)[i])``,
where ``n`` is the number of tasks — independent of which executor runs it,
of the number of workers, and of completion order. So the same ``seed`` gives
bit-identical results serially, on local processes, or on a Dask cluster
(``distributed.Client(address).get_executor()``); the tests check this with
an in-process ``LocalCluster``.

Executors:

* ``executor=None``: the one set by :func:`using_executor` if any, else a
  local :class:`~concurrent.futures.ProcessPoolExecutor` (``spawn`` start
  method: forking a process whose OpenMP runtime is initialised can hang) with
  ``min(os.cpu_count(), n)`` workers, created and shut down per sweep.
* :class:`SerialExecutor`: runs tasks in the calling thread (debugging, tiny sweeps).
* any Executor you pass (``ThreadPoolExecutor``, a Dask client's executor ...).

``func`` must be importable by the workers (a module-level function of an
installed package: it is pickled by reference). The figure families' tasks
live in the installed package (``refquant._figures``) for that reason, so a
Dask worker needs only ``pip install refquant`` -- no ``PYTHONPATH`` and no
copy of the repository. :func:`dask_executor` checks the workers first
(:func:`check_cluster`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import hashlib
import multiprocessing
import os
import pathlib
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ._validate import (
    check_bool,
    check_callable,
    check_int,
    check_mapping,
    check_sequence,
    check_str,
    check_type,
    short_repr,
)

__all__ = [
    "run_sweep",
    "SerialExecutor",
    "using_executor",
    "dask_executor",
    "check_cluster",
    "source_digest",
    "ClusterMismatch",
]

_EXECUTOR_STACK: list[cf.Executor] = []


class SerialExecutor(cf.Executor):
    """An Executor that runs each task immediately in the calling thread (debugging, tiny sweeps).

    A :class:`concurrent.futures.Executor` with no workers: ``submit`` calls the function at once and
    returns a finished future holding its result or its exception.

    Examples
    --------
    >>> SerialExecutor().submit(abs, -3).result()
    3
    """

    def submit(self, fn, /, *args, **kwargs):
        """Call ``fn(*args, **kwargs)`` now and return a finished future.

        Parameters
        ----------
        fn : callable
            The task.
        *args, **kwargs : any
            Its arguments.

        Returns
        -------
        concurrent.futures.Future
            Done: its ``result()`` is the return value, or re-raises the exception ``fn`` raised.

        Raises
        ------
        TypeError
            *fn* is not callable (raised here, not delivered through the future).
        """
        check_callable(fn, "fn")
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            fut.set_exception(exc)
        return fut


def using_executor(executor: cf.Executor) -> contextlib.AbstractContextManager:
    """Make *executor* the default of :func:`run_sweep` inside a ``with`` block.

    Parameters
    ----------
    executor : concurrent.futures.Executor
        Used by every :func:`run_sweep` without an explicit ``executor`` inside the block (nested
        blocks: the innermost). It is not shut down on exit.

    Returns
    -------
    context manager
        ``with using_executor(ex) as e:`` binds ``e`` to *executor*.

    Raises
    ------
    TypeError
        *executor* is not an Executor (raised when called, before the ``with`` block).

    Examples
    --------
    >>> with using_executor(SerialExecutor()) as ex:
    ...     isinstance(ex, SerialExecutor)
    True
    """
    _check_executor(executor)
    return _using_executor(executor)


def _check_executor(executor) -> cf.Executor:
    return check_type(executor, cf.Executor, "executor", "a concurrent.futures.Executor")


@contextlib.contextmanager
def _using_executor(executor: cf.Executor) -> Iterator[cf.Executor]:
    _EXECUTOR_STACK.append(executor)
    try:
        yield executor
    finally:
        _EXECUTOR_STACK.pop()


class ClusterMismatch(RuntimeError):
    """A Dask worker cannot run refquant's tasks: refquant is missing there, or its source differs.

    Raised by :func:`check_cluster` (and so by :func:`dask_executor`).

    Attributes
    ----------
    args : tuple of str
        One line naming the first bad worker and what to install.
    """


@functools.cache
def source_digest() -> str:
    """SHA-256 (hex, first 16 digits) of the source of the imported refquant package.

    Hashes every ``*.py`` file under the package directory (relative path and bytes, in sorted
    order). Two processes with the same digest run the same refquant code, so their sweep tasks give
    the same bits; the version number alone does not promise that (an edited checkout keeps its
    version). Computed once per process.

    Returns
    -------
    str
        16 lowercase hex digits.
    """
    root = pathlib.Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _make_probe():
    """A worker-side probe, built as a closure so that cloudpickle ships it *by value*: it must run on a
    worker where refquant cannot be imported (a by-reference function would fail there while unpickling)."""

    def probe():
        try:
            import refquant
            import refquant.sweep as sw

            return {"version": refquant.__version__, "digest": sw.source_digest(), "error": None}
        except Exception as exc:  # noqa: BLE001 - reported to the client
            return {"version": None, "digest": None, "error": f"{type(exc).__name__}: {exc}"}

    return probe


def check_cluster(client) -> dict:
    """Check that every worker of a ``distributed.Client`` imports the same refquant as this process.

    Runs a small probe on each worker (``client.run``) that imports refquant and returns its version
    and :func:`source_digest`.

    Parameters
    ----------
    client : distributed.Client
        Any object with a ``run(fn)`` method returning ``{worker address: fn()}``.

    Returns
    -------
    dict
        worker address -> ``{"version", "digest", "error"}`` (all workers agree).

    Raises
    ------
    TypeError
        If ``client`` is not a ``distributed.Client`` (has no ``run`` method).
    ClusterMismatch
        One line naming the first bad worker and what to install, if a worker cannot import
        refquant or holds a different version or source.
    ValueError
        If the cluster has no workers.
    """
    import refquant

    if not callable(getattr(client, "run", None)):
        raise TypeError(f"client must be a distributed.Client, got type={type(client).__name__}")
    info = client.run(_make_probe())
    if not info:
        raise ValueError("the Dask cluster has no workers; start some with: dask worker <scheduler address>")
    want = {"version": refquant.__version__, "digest": source_digest()}
    fix = (
        "install the same refquant on every worker (python3 -m pip install <this checkout or its wheel>) "
        "and restart the workers"
    )
    for addr, got in sorted(info.items()):
        if got["error"] is not None:
            raise ClusterMismatch(f"Dask worker {addr} cannot import refquant ({got['error']}); {fix}")
        if (got["version"], got["digest"]) != (want["version"], want["digest"]):
            raise ClusterMismatch(
                f"Dask worker {addr} has refquant {got['version']} (source {got['digest']}), this process "
                f"{want['version']} (source {want['digest']}); {fix}"
            )
    return info


def dask_executor(address: str, *, check: bool = True) -> contextlib.AbstractContextManager:
    """Connect to a Dask ``distributed`` scheduler at *address* and yield its Executor.

    Needs the optional extra ``pip install -e ".[dask]"``. With ``check=True`` (default) the workers
    are first checked with :func:`check_cluster` (refquant importable, same version and source), so
    a worker without refquant gives one clear :class:`ClusterMismatch` line instead of a
    deserialization error deep inside Dask. The connection is made on entering the ``with`` block
    and closed on leaving it.

    Parameters
    ----------
    address : str
        The scheduler, ``"<protocol>://<host>:<port>"`` (``"tcp://127.0.0.1:8786"``) or
        ``"<host>:<port>"``.
    check : bool
        Check the workers before yielding.

    Returns
    -------
    context manager
        ``with dask_executor(addr) as ex:`` binds ``ex`` to the client's Executor.

    Raises
    ------
    TypeError
        *address* not a str, *check* not a bool (raised when called, before connecting).
    ValueError
        An empty *address* or one without a port.
    ImportError
        ``distributed`` is not installed (on entering the block).
    ClusterMismatch
        A worker fails :func:`check_cluster` (on entering the block).
    """
    check_str(address, "address")
    if ":" not in address:
        raise ValueError(
            f"address={short_repr(address)} is not a scheduler address; give '<protocol>://<host>:<port>' "
            "(e.g. 'tcp://127.0.0.1:8786') or '<host>:<port>'"
        )
    check = check_bool(check, "check")
    return _dask_executor(address, check)


@contextlib.contextmanager
def _dask_executor(address: str, check: bool) -> Iterator[cf.Executor]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            "a Dask scheduler needs the optional dependency: python3 -m pip install 'refquant[dask]'"
        ) from exc
    client = Client(address, timeout=30)
    try:
        if check:
            check_cluster(client)
        yield client.get_executor()
    finally:
        client.close()


def _call(func: Callable, params: Mapping[str, Any], seed_seq: np.random.SeedSequence) -> list[dict]:
    out = func(rng=np.random.default_rng(seed_seq), **params)
    if isinstance(out, Mapping):
        return [dict(out)]
    return [dict(r) for r in out]


def _check_task(task, name: str) -> dict:
    """A copy of one task's parameter dict; its keys must be str (they become keyword arguments)."""
    d = check_mapping(task, name)
    for k in d:
        if not isinstance(k, str) or k == "rng":
            raise ValueError(
                f"{name} has the key {k!r}; keys must be parameter names of func (str), and 'rng' is passed by "
                "run_sweep itself"
            )
    return d


def run_sweep(
    func: Callable[..., Mapping[str, Any] | Sequence[Mapping[str, Any]]],
    tasks: Sequence[Mapping[str, Any]],
    *,
    seed: int,
    executor: cf.Executor | None = None,
    progress: bool = False,
    desc: str = "sweep",
):
    """Run ``func(rng=..., **params)`` for every ``params`` in *tasks*; return a DataFrame.

    Parameters
    ----------
    func : callable
        Module-level function taking keyword ``rng`` (a ``numpy.random.Generator``) plus the task's
        parameters, returning a dict of results or a list of dicts.
    tasks : non-empty list or tuple of dicts
        Parameters per task (str keys other than ``"rng"``; picklable for process/Dask executors).
    seed : int >= 0
        Root seed; task ``i`` gets ``SeedSequence(seed).spawn(len(tasks))[i]``.
    executor : concurrent.futures.Executor or None
        See the module docstring for the default.
    progress : bool
        Print ``desc: done/total`` lines to stderr as tasks finish.
    desc : str
        The label of the progress lines.

    Returns
    -------
    pandas.DataFrame
        One row per result dict, columns ``task`` + the task's parameters + the results (results
        win on a name clash), ordered by task then result.

    Raises
    ------
    TypeError
        *func* not callable; *tasks* not a list or tuple (a dict, a set, a generator, a str) or a
        task not a dict; *seed* not an int; *executor* not an Executor; *progress* not a bool;
        *desc* not a str.
    ValueError
        Empty *tasks*, a task key that is not a parameter name (non-str, or ``"rng"``), a negative
        *seed*. Whatever *func* raises propagates.

    Examples
    --------
    >>> def task(rng, a):
    ...     return {"y": a + 1}
    >>> run_sweep(task, [{"a": 1}, {"a": 2}], seed=0, executor=SerialExecutor())["y"].tolist()
    [2, 3]
    """
    import pandas as pd

    check_callable(func, "func", "(rng, **params) -> dict or list of dicts")
    tasks = [_check_task(t, f"tasks[{i}]") for i, t in enumerate(check_sequence(tasks, "tasks", min_len=1))]
    seed = check_int(seed, "seed", 0)
    if executor is not None:
        _check_executor(executor)
    progress = check_bool(progress, "progress")
    check_str(desc, "desc", allow_empty=True)
    seqs = np.random.SeedSequence(seed).spawn(len(tasks))
    own = None
    if executor is None:
        if _EXECUTOR_STACK:
            executor = _EXECUTOR_STACK[-1]
        else:
            workers = max(1, min(os.cpu_count() or 1, len(tasks)))
            own = executor = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {executor.submit(_call, func, t, s): i for i, (t, s) in enumerate(zip(tasks, seqs))}
        results: dict[int, list[dict]] = {}
        t0 = time.perf_counter()
        for done, fut in enumerate(cf.as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            if progress and (done == len(tasks) or done % max(1, len(tasks) // 10) == 0):
                print(
                    f"{desc}: {done}/{len(tasks)} tasks ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True
                )
    finally:
        if own is not None:
            own.shutdown()
    rows = []
    for i in range(len(tasks)):
        for r in results[i]:
            rows.append({"task": i, **tasks[i], **r})
    return pd.DataFrame(rows)
