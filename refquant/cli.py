"""The ``refquant`` command line: ``refquant figures|bench|info``.

* ``refquant figures [NAME ...]`` regenerates figures/ (same as ``python -m analysis``;
  run from the repository root, where the ``analysis`` package lives).
* ``refquant bench [NAME ...]`` runs the benchmark suite (``python -m benchmarks``).
* ``refquant info`` prints versions, Numba's threading layer, cache location and CPU count.
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys


def _repo_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        sys.path.insert(0, os.getcwd())
        try:
            return importlib.import_module(name)
        except ImportError:
            raise SystemExit(
                f"refquant: cannot import the '{name}' package; run this command from the refquant repository root"
            ) from None


def _info() -> int:
    import numba
    import numpy
    import scipy

    import refquant

    print(f"refquant        {refquant.__version__} (semantics version {refquant.SEMANTICS_VERSION})")
    print(f"python          {platform.python_version()} ({sys.executable})")
    print(f"numpy           {numpy.__version__}")
    print(f"scipy           {scipy.__version__}")
    print(f"numba           {numba.__version__}")
    print(f"numba threads   {numba.get_num_threads()} (NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS})")
    try:
        from refquant._kernels.uniform import affine_quant_kernel
        import numpy as np

        refquant.fake_quant(np.zeros(4), 1.0, 0, refquant.QuantSpec(8))
        layer = numba.threading_layer()
        cache = getattr(affine_quant_kernel, "_cache", None)
        where = getattr(getattr(cache, "_cache_path", None), "__str__", lambda: "n/a")()
    except Exception as exc:  # pragma: no cover - diagnostic only
        layer, where = f"unavailable ({exc})", "n/a"
    print(f"threading layer {layer}")
    print(f"kernel cache    {where}")
    print(f"JIT disabled    {bool(numba.config.DISABLE_JIT)}")
    print(f"cpu count       {os.cpu_count()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="refquant", description="refquant: reference quantization theory.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_fig = sub.add_parser("figures", help="regenerate figures/ (run from the repository root)")
    p_fig.add_argument("names", nargs="*", help="figure families (default: all)")
    p_bench = sub.add_parser("bench", help="run the benchmark suite and write benchmarks/results.md")
    p_bench.add_argument("names", nargs="*", help="benchmarks (default: all)")
    sub.add_parser("info", help="versions, threading layer, cache location, CPU count")
    args = ap.parse_args(argv)
    if args.cmd == "info":
        return _info()
    if args.cmd == "figures":
        return _repo_module("analysis.__main__").main(args.names)
    return _repo_module("benchmarks.__main__").main(args.names)


if __name__ == "__main__":
    sys.exit(main())
