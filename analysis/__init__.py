"""Analysis scripts: one module per figure family, ``fig_<name>.py``.

Each module defines ``main(outdir: pathlib.Path) -> None`` which calls only the
public refquant API, writes ``<outdir>/<name>.png`` and ``<outdir>/<name>.csv``
and prints its table. ``python -m analysis`` runs all of them (or the ones
named on the command line) into ``figures/``.
"""
