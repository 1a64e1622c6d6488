"""The sweep runner: same seeds -> bit-identical results on every executor (serial, processes, Dask)."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pandas as pd
import pytest

from refquant.sweep import SerialExecutor, run_sweep, using_executor


def mc_task(*, rng, bits, n):
    """A small Monte Carlo task: fake-quant MSE of N(0, 1) samples, one row per step."""
    import refquant as rq

    x = rng.standard_normal(n)
    return [
        {"step": s, "mse": float(np.mean((rq.fake_quant(x, s, 0, rq.QuantSpec(bits)) - x) ** 2))} for s in (0.1, 0.5)
    ]


TASKS = [{"bits": b, "n": 2000} for b in (2, 3, 4, 5, 6)]


def test_serial_equals_processes_bitwise():
    a = run_sweep(mc_task, TASKS, seed=11, executor=SerialExecutor())
    b = run_sweep(mc_task, TASKS, seed=11)  # default: local spawn processes
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a.columns[:3]) == ["task", "bits", "n"] and len(a) == 10


def test_different_seed_differs_and_threads_agree():
    a = run_sweep(mc_task, TASKS, seed=11, executor=SerialExecutor())
    c = run_sweep(mc_task, TASKS, seed=12, executor=SerialExecutor())
    assert not a.mse.equals(c.mse)
    with cf.ThreadPoolExecutor(3) as ex, using_executor(ex):
        pd.testing.assert_frame_equal(a, run_sweep(mc_task, TASKS, seed=11), check_exact=True)


def test_dask_local_cluster_bitwise_identical():
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is part of [test]; CI installs it")
    a = run_sweep(mc_task, TASKS, seed=11, executor=SerialExecutor())
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            b = run_sweep(mc_task, TASKS, seed=11, executor=client.get_executor())
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match="tasks must have at least 1 item"):
        run_sweep(mc_task, [], seed=0)
    with pytest.raises(ValueError, match="seed=-1"):
        run_sweep(mc_task, TASKS, seed=-1)
    with pytest.raises(TypeError, match="executor must be"):
        with using_executor("local"):
            pass


def test_check_cluster_and_dask_executor_bad_arguments():
    from refquant.sweep import check_cluster, dask_executor, source_digest

    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        check_cluster("tcp://127.0.0.1:1")
    with pytest.raises(TypeError, match="check must be True or False"):
        with dask_executor("tcp://127.0.0.1:1", check="yes"):
            pass
    with pytest.raises(ValueError, match="address="):
        with dask_executor(""):
            pass
    d = source_digest()
    assert len(d) == 16 and int(d, 16) >= 0


def test_check_cluster_reports_a_mismatch_in_one_line():
    """In-process workers share this interpreter, so the probe sees the same source: then a planted
    mismatch (a worker reporting another digest) must give one ClusterMismatch line naming it."""
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is part of [test]; CI installs it")
    from refquant.sweep import ClusterMismatch, check_cluster

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            info = check_cluster(client)
            assert len(info) == 1
            real_run = client.run

            def fake_run(fn):
                return {addr: {**v, "digest": "0" * 16} for addr, v in real_run(fn).items()}

            client.run = fake_run
            with pytest.raises(
                ClusterMismatch, match=r"^Dask worker .* has refquant .* \(source 0{16}\)[^\n]*pip install[^\n]*$"
            ):
                check_cluster(client)
