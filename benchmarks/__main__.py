"""Run the benchmark suite: ``python -m benchmarks [NAME ...]`` -> benchmarks/results.md."""

from __future__ import annotations

import argparse
import importlib
import pathlib
import platform
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem[6:] for p in HERE.glob("bench_*.py"))


def _sections(text: str) -> dict[str, str]:
    """``## name`` sections of a results file -> their table text."""
    out: dict[str, str] = {}
    for chunk in text.split("\n## ")[1:]:
        name, _, body = chunk.partition("\n")
        out[name.strip()] = body.strip("\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("names", nargs="*", help=f"benchmarks to run (default: all): {', '.join(available())}")
    ap.add_argument("--out", type=pathlib.Path, default=HERE / "results.md")
    args = ap.parse_args(argv)
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; available: {available()}")
    import numba
    import numpy

    parts = [
        "# refquant benchmark results\n",
        f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{numba.config.NUMBER_OF_THREADS if hasattr(numba.config, 'NUMBER_OF_THREADS') else numba.get_num_threads()}"
        " Numba threads, "
        f"Python {platform.python_version()}, NumPy {numpy.__version__}, Numba {numba.__version__}.\n",
    ]
    for name in names:
        print(f"== {name}", flush=True)
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        table = mod.main()
        print(table, flush=True)
        parts.append(f"\n## {name}\n\n{table}\n")
    if args.names and args.out.exists():  # a subset run keeps the other benchmarks' sections
        kept = _sections(args.out.read_text())
        parts += [f"\n## {n}\n\n{t}\n" for n, t in kept.items() if n not in names]
    args.out.write_text("".join(parts))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
