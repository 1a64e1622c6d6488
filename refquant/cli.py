"""The ``refquant`` command line: ``refquant figures|golden|bench|info``.

* ``refquant figures [NAME ...] [--scheduler ADDR]`` regenerates figures/ (same as
  ``python -m analysis``; run from the repository root, where the ``analysis`` package
  lives: an installed wheel does not ship it, and the command says so in one line).
  With ``--scheduler tcp://host:port`` every sweep runs on that Dask cluster; its workers
  need only an installed refquant of the same source (checked first; docs/distributed.md).
* ``refquant golden export DIR [--ops OP ...] [--profile NAME]`` writes golden vectors (for one backend
  profile's semantics with ``--profile``);
  ``refquant golden verify DIR`` recomputes them and reports mismatches (exit 1 on any).
* ``refquant bench [NAME ...]`` runs the benchmark suite (``python -m benchmarks``).
* ``refquant info`` prints versions, Numba's threading layer, cache location and CPU count.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys


def _repo_module(name: str, cmd: str):
    """Import ``analysis``/``benchmarks`` (they live in the repository, not in the installed package)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (name, name.split(".")[0]):
            raise
        sys.path.insert(0, os.getcwd())
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc2:
            if exc2.name not in (name, name.split(".")[0]):
                raise
            top = name.split(".")[0]
            raise SystemExit(
                f"refquant {cmd}: the '{top}' folder of the refquant repository is not here (an installed wheel "
                f"does not ship it); run 'refquant {cmd}' from the root of a refquant checkout: "
                f"git clone <refquant repository> && cd refquant && python3 -m pip install -e '.[figures]'"
            ) from None


def _need_extras(cmd: str) -> None:
    """One-line message when the plotting/table stack of the [figures] extra is missing."""
    missing = []
    for m in ("matplotlib", "pandas"):
        try:
            importlib.import_module(m)
        except ImportError:
            missing.append(m)
    if missing:
        raise SystemExit(
            f"refquant {cmd}: needs {' and '.join(missing)} (the [figures] extra): "
            "python3 -m pip install 'refquant[figures]' (from a checkout: python3 -m pip install -e '.[figures]')"
        )


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
        import numpy as np

        from refquant._kernels.uniform import affine_quant_kernel

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


def _golden(args) -> int:
    from .testing import golden

    if args.golden_cmd == "export":
        try:
            manifest = golden.export(args.dir, ops=args.ops, seed=args.seed, profile=args.profile)
        except ValueError as exc:
            print(f"refquant golden export: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(manifest['cases'])} case(s) to {args.dir}")
        return 0
    try:
        report = golden.verify(args.dir, ops=args.ops)
    except (FileNotFoundError, ValueError) as exc:
        print(f"refquant golden verify: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run the ``refquant`` command line (the console script ``refquant``; subcommands in the module docstring).

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success; 1 when ``golden verify`` finds mismatches; 2 for a problem
        reported in one line on stderr (an unreadable golden folder, a Dask cluster without a matching
        refquant or without the ``distributed`` package).

    Raises
    ------
    SystemExit
        From argparse, for unknown subcommands or options (status 2) and ``--help`` (status 0); with a
        one-line message (status 1) when ``figures``/``bench`` run outside a repository checkout or
        without the ``[figures]`` extra.
    """
    ap = argparse.ArgumentParser(prog="refquant", description="refquant: reference quantization theory.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_fig = sub.add_parser("figures", help="regenerate figures/ (run from the repository root)")
    p_fig.add_argument("names", nargs="*", help="figure families (default: all)")
    p_fig.add_argument(
        "--scheduler", metavar="ADDR", help="Dask scheduler address; sweeps run there (needs the [dask] extra)"
    )
    p_fig.add_argument("--outdir", metavar="DIR", help="output folder (default: figures/)")
    p_gold = sub.add_parser("golden", help="export or verify golden test vectors (format: docs/GOLDEN.md)")
    gsub = p_gold.add_subparsers(dest="golden_cmd", required=True)
    g_exp = gsub.add_parser("export", help="write golden vectors into DIR")
    g_exp.add_argument("dir", help="output folder (created if missing)")
    g_exp.add_argument("--ops", nargs="+", metavar="OP", help="operations to export (default: all)")
    g_exp.add_argument("--seed", type=int, default=0, help="seed of the case generators (default 0)")
    g_exp.add_argument(
        "--profile",
        metavar="NAME",
        help="only the uniform quantizer's vectors for this backend "
        "profile's semantics (refquant.profiles.names(); docs/PROFILES.md)",
    )
    g_ver = gsub.add_parser("verify", help="recompute the vectors in DIR and report mismatches")
    g_ver.add_argument("dir", help="folder written by 'refquant golden export'")
    g_ver.add_argument("--ops", nargs="+", metavar="OP", help="operations to verify (default: all in the manifest)")
    p_bench = sub.add_parser("bench", help="run the benchmark suite and write benchmarks/results.md")
    p_bench.add_argument("names", nargs="*", help="benchmarks (default: all)")
    p_bench.add_argument("--out", metavar="FILE", help="results file (default: benchmarks/results.md)")
    p_bench.add_argument("--quick", action="store_true", help="tiny sizes (smoke test; numbers not meaningful)")
    sub.add_parser("info", help="versions, threading layer, cache location, CPU count")
    args = ap.parse_args(argv)
    if args.cmd == "info":
        return _info()
    if args.cmd == "golden":
        return _golden(args)
    if args.cmd == "figures":
        _need_extras("figures")
        analysis_main = _repo_module("analysis.__main__", "figures").main
        argv_fig = list(args.names) + (["--outdir", args.outdir] if args.outdir else [])
        if args.scheduler:
            from .sweep import ClusterMismatch, dask_executor, using_executor

            try:
                with dask_executor(args.scheduler) as ex, using_executor(ex):
                    return analysis_main(argv_fig)
            except ClusterMismatch as exc:
                print(f"refquant figures: {exc}", file=sys.stderr)
                return 2
            except ImportError as exc:
                print(f"refquant figures: {exc}", file=sys.stderr)
                return 2
        return analysis_main(argv_fig)
    if args.quick:
        os.environ["REFQUANT_BENCH_QUICK"] = "1"
    return _repo_module("benchmarks.__main__", "bench").main(
        list(args.names) + (["--out", args.out] if args.out else [])
    )


if __name__ == "__main__":
    sys.exit(main())
