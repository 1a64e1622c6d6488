"""`refquant figures --scheduler` on a real Dask cluster: a scheduler and worker *processes* started
separately (as a user would), workers without PYTHONPATH and outside the repository.

The workers run an interpreter where refquant is *installed* and nothing else of the repository is
importable: a virtual environment on top of this interpreter's site-packages (for numpy, numba,
distributed) whose own site-packages holds a ``.pth`` entry exposing only this checkout's ``refquant``
package (what an editable install does), so the test checks the code under test, not whatever refquant
the base interpreter has installed. A second cluster, whose only worker runs in an environment where
``import refquant`` fails, must make the CLI stop with one clear line.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

distributed = pytest.importorskip("distributed", reason="the [dask] extra is part of [test]; CI installs it")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _venv(path: pathlib.Path, pth_lines: list[str]) -> pathlib.Path:
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(path)], check=True, timeout=120
    )
    site = next((path / "lib").glob("python3*/site-packages"))
    (site / "zz_refquant_test.pth").write_text("\n".join(pth_lines) + "\n")
    return path / "bin" / "python"


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("dask")
    expose = base / "site"
    expose.mkdir()
    (expose / "refquant").symlink_to(ROOT / "refquant", target_is_directory=True)
    py = _venv(base / "venv", [str(expose)])
    # a worker environment where refquant is not importable (as on a machine that never installed it)
    py_bare = _venv(base / "bare", ["import sys; sys.modules['refquant'] = None"])
    run = base / "run"
    run.mkdir()
    port, port_bare = _free_port(), _free_port()
    addr, addr_bare = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port_bare}"
    procs: list[subprocess.Popen] = []

    def start(python, *args, name):
        log = open(run / f"{name}.log", "w")
        p = subprocess.Popen(
            [str(python), "-m", "dask", *args], cwd=run, env=_env(), stdout=log, stderr=subprocess.STDOUT
        )
        procs.append(p)
        return p

    worker = ("--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1")
    try:
        start(py, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", name="scheduler")
        # a second cluster whose only worker cannot import refquant
        start(py, "scheduler", "--host", "127.0.0.1", "--port", str(port_bare), "--no-dashboard", name="scheduler_bare")
        for i in range(2):
            start(py, "worker", addr, *worker, name=f"worker{i}")
        start(py_bare, "worker", addr_bare, *worker, name="worker_bare")
        for a, n in ((addr, 2), (addr_bare, 1)):
            with distributed.Client(a, timeout=60) as client:
                client.wait_for_workers(n, timeout=60)
        yield {"addr": addr, "addr_bare": addr_bare}
    finally:
        for p in reversed(procs):  # stop exactly the processes this fixture started, by process id
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 5  # then SIGKILL: nothing of theirs needs a clean shutdown
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _cli(*args):
    """Start ``refquant ...`` from the repository root (the client side of a user's session)."""
    return subprocess.Popen(
        [sys.executable, "-m", "refquant.cli", *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(p: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return p.returncode, err


def test_figures_on_a_real_cluster_match_the_local_run_byte_for_byte(cluster, tmp_path):
    addr = cluster["addr"]

    def probe():  # a closure: shipped by value, runs on the workers
        import importlib.util
        import os as _os
        import sys as _sys

        import refquant

        return (
            importlib.util.find_spec("analysis") is None,
            "PYTHONPATH" in _os.environ,
            refquant.__file__,
            _sys.executable,
        )

    with distributed.Client(addr, timeout=60) as client:
        seen = client.run(probe)
    assert len(seen) == 2
    for no_analysis, has_pythonpath, rq_file, exe in seen.values():
        assert no_analysis and not has_pythonpath, "the workers must not see the repository's analysis package"
        assert pathlib.Path(rq_file).resolve() == (ROOT / "refquant" / "__init__.py").resolve()
        assert exe != sys.executable

    # the cluster run, the local run and a run against the cluster without refquant, concurrently
    runs = {
        "cluster": _cli("figures", "uniform", "--scheduler", addr, "--outdir", str(tmp_path / "cluster")),
        "local": _cli("figures", "uniform", "--outdir", str(tmp_path / "local")),
        "bad": _cli("figures", "uniform", "--scheduler", cluster["addr_bare"], "--outdir", str(tmp_path / "bad")),
    }
    res = {k: _finish(p) for k, p in runs.items()}
    assert res["cluster"][0] == 0, res["cluster"][1][-3000:]
    assert res["local"][0] == 0, res["local"][1][-3000:]
    a = (tmp_path / "cluster" / "uniform_mse_vs_step.csv").read_bytes()
    b = (tmp_path / "local" / "uniform_mse_vs_step.csv").read_bytes()
    assert len(a) > 10_000 and a == b

    # the worker that cannot import refquant: the CLI refuses with one line naming it and the fix
    code, err = res["bad"]
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("refquant figures:")]
    assert len(lines) == 1 and "cannot import refquant" in lines[0] and "pip install" in lines[0], err[-2000:]
    assert not (tmp_path / "bad" / "uniform_mse_vs_step.csv").exists()
