"""Regenerate every figure and table: ``python -m analysis [NAME ...]``.

Discovers ``analysis/fig_*.py`` modules and runs their ``main(outdir)`` in
name order. ``NAME`` selects modules by the part after ``fig_``.
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "figures"


def available() -> list[str]:
    return sorted(p.stem[4:] for p in HERE.glob("fig_*.py"))


def run(names: list[str] | None = None, outdir: pathlib.Path = DEFAULT_OUT) -> None:
    try:
        import matplotlib
        import pandas  # noqa: F401 - every figure writes its table with pandas
    except ImportError as exc:
        raise SystemExit(
            f"python3 -m analysis: needs {exc.name} (the [figures] extra): python3 -m pip install -e '.[figures]'"
        ) from None

    matplotlib.use("Agg")
    names = names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        raise SystemExit(f"unknown figure name(s) {unknown}; available: {available()}")
    outdir.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names, 1):
        t0 = time.perf_counter()
        print(f"[{i}/{len(names)}] {name} ...", flush=True)
        mod = importlib.import_module(f"analysis.fig_{name}")
        mod.main(outdir)
        print(f"[{i}/{len(names)}] {name} done in {time.perf_counter() - t0:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    ap.add_argument("names", nargs="*", help=f"figure families to run (default: all): {', '.join(available())}")
    ap.add_argument("--outdir", type=pathlib.Path, default=DEFAULT_OUT, help="output folder (default: figures/)")
    args = ap.parse_args(argv)
    run(args.names or None, args.outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
