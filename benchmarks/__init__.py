"""Speed benchmarks: ``python -m benchmarks [NAME ...]``.

Each ``benchmarks/bench_<name>.py`` defines ``main() -> str`` returning a
markdown table of speeds *as ratios against baselines measured in the same
run*; the runner prints the tables and writes them to
``benchmarks/results.md``. Nothing here is a unit test: speed targets live
only in these tables. With ``REFQUANT_BENCH_QUICK=1`` (``refquant bench --quick``)
each benchmark runs at tiny sizes: a smoke test whose numbers mean nothing.
"""
