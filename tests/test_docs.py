"""The documentation site builds cleanly, documents every public name, shows every figure, and its examples run.

* The site is built exactly as documented (``python3 -m sphinx -W -n -b html docs <out>``): ``-W`` makes every
  warning an error and ``-n`` (nitpicky) makes every unresolved cross-reference one, so a broken link between
  pages, a link to a heading that does not exist, a missing image or a ``:func:`` role naming nothing fails
  here. Measured on the project's shared 2-core machine: 13 s of CPU, 27-60 s of wall time depending on the
  load (the API pages import the library but compile no Numba kernel).
* Every name in ``__all__`` of every public module (found by walking ``refquant/`` on disk, independently of
  the site's own generator) is an object of the built site's inventory (``objects.inv``).
* Every PNG under ``figures/`` has an entry in ``docs/gallery.md``.
* Every Markdown page under ``docs/`` is in a toctree of the home page (user guide, theory, reference, results,
  development): none is built as an orphan or collected in a catch-all.
* The ``>>>`` examples (``pycon`` blocks) of every Markdown page under ``docs/`` and of README.md run and print
  what they show; every ``python`` block is at least valid Python.
* The ``>>>`` examples of every module docstring under ``refquant/`` run: the modules listed in
  ``tests/test_doctests.py`` there, every other module whose source holds an example here, so a new module's
  ``Examples`` section is doctested without being registered anywhere.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib
import re
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and "api" not in p.relative_to(DOCS).parts)

# -- building ---------------------------------------------------------------------------------------------------


def _sphinx(src: pathlib.Path, out: pathlib.Path) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "-n",
        "--keep-going",
        "-q",
        "-b",
        "html",
        "-d",
        str(out / "doctrees"),
        str(src),
        str(out / "html"),
    ]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    t0 = time.perf_counter()
    proc = _sphinx(DOCS, out)
    elapsed = time.perf_counter() - t0
    print(f"docs build: {elapsed:.1f} s")
    return proc, out / "html", elapsed


def test_site_builds_without_warnings(site):
    proc, html, _ = site
    assert proc.returncode == 0, f"sphinx -W -n failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    assert (html / "index.html").exists() and (html / "objects.inv").exists()


def test_broken_links_fail_the_build(tmp_path):
    """The build options catch what they are meant to catch: a link to a missing page and to a missing heading.

    A two-page site with the MyST settings of docs/conf.py, built with the same command: it must fail.
    """
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["myst_parser"]\nmyst_heading_anchors = 3\n')
    (src / "index.md").write_text("# Home\n\n```{toctree}\nother\n```\n\nSee [the other page](other.md#a-heading).\n")
    (src / "other.md").write_text("# Other\n\n## A heading\n\ntext\n")
    assert _sphinx(src, tmp_path / "ok").returncode == 0
    (src / "index.md").write_text(
        "# Home\n\n```{toctree}\nother\n```\n\nSee [the other page](other.md#no-such-heading).\n"
    )
    assert _sphinx(src, tmp_path / "bad1").returncode != 0
    (src / "index.md").write_text("# Home\n\n```{toctree}\nother\n```\n\nSee [a page](missing.md).\n")
    assert _sphinx(src, tmp_path / "bad2").returncode != 0


# -- the API reference covers __all__ ---------------------------------------------------------------------------


def public_modules_on_disk() -> list[str]:
    """Dotted names of refquant's public modules: every .py file / package whose path has no ``_``-prefixed part."""
    pkg = ROOT / "refquant"
    names = []
    for path in pkg.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        names.append(".".join(parts))
    return sorted(names)


def missing_from_inventory(documented: set[str], modules: list[str]) -> list[str]:
    """Public modules and ``module.name`` for every name in ``__all__`` that the inventory does not hold."""
    missing = []
    for m in modules:
        if m not in documented:
            missing.append(m)
        mod = importlib.import_module(m)
        for name in getattr(mod, "__all__", []):
            if f"{m}.{name}" not in documented:
                missing.append(f"{m}.{name}")
    return missing


def _inventory(html: pathlib.Path) -> set[str]:
    from sphinx.util.inventory import InventoryFile

    with open(html / "objects.inv", "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    names = set()
    for kind, entries in inv.items():
        if kind.startswith("py:"):
            names |= set(entries)
    return names


def test_every_public_name_is_in_the_api_reference(site):
    proc, html, _ = site
    assert proc.returncode == 0, "the site did not build"
    modules = public_modules_on_disk()
    assert "refquant.uniform" in modules and "refquant.testing.strategies" in modules
    documented = _inventory(html)
    assert missing_from_inventory(documented, modules) == []


def test_the_coverage_check_catches_an_undocumented_name(site):
    """Planted gap: drop one documented name (and one module) from the inventory; both are reported."""
    _, html, _ = site
    documented = _inventory(html) - {"refquant.clipping.optimal_clip", "refquant.sweep"}
    missing = missing_from_inventory(documented, public_modules_on_disk())
    assert "refquant.clipping.optimal_clip" in missing and "refquant.sweep" in missing


# -- the gallery ---------------------------------------------------------------------------------------------------


def gallery_entries(text: str) -> dict[str, str]:
    """figure or table file name -> the description paragraph that follows its image (PNG) or its heading
    (``### name.md``) in docs/gallery.md."""
    out = {}
    for m in re.finditer(r"!\[[^\]]*\]\(\.\./figures/([^)]+\.png)\)\n\n(.+?)(?:\n\n|\Z)", text, re.S):
        out[m.group(1)] = m.group(2).strip()
    for m in re.finditer(r"^### ([\w.-]+\.md)\n\n(.+?)(?:\n\n|\Z)", text, re.S | re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def test_every_figure_has_a_gallery_line():
    from analysis.__main__ import available

    entries = gallery_entries((DOCS / "gallery.md").read_text())
    figures = sorted(p.name for p in (ROOT / "figures").glob("*.png")) + sorted(
        p.name for p in (ROOT / "figures").glob("*.md")
    )
    assert figures, "no figures found"
    missing = [f for f in figures if f not in entries]
    assert missing == [], f"figures without a line in docs/gallery.md: {missing}"
    stale = [f for f in entries if not (ROOT / "figures" / f).exists()]
    assert stale == [], f"docs/gallery.md shows figures that do not exist: {stale}"
    for name, line in entries.items():
        fam = re.search(r"Family: `([a-z0-9_]+)`", line)
        assert len(line) > 40 and fam, f"{name}: the gallery line must say what it shows and name its family"
        assert fam.group(1) in available(), f"{name}: no analysis family {fam.group(1)!r}"


def test_the_gallery_check_catches_a_missing_line():
    text = (DOCS / "gallery.md").read_text()
    planted = text.replace("![kure_pow2](../figures/kure_pow2.png)", "")
    assert "kure_pow2.png" in gallery_entries(text) and "kure_pow2.png" not in gallery_entries(planted)
    planted = text.replace("### ptq_table.md", "### ptq table")
    assert "ptq_table.md" in gallery_entries(text) and "ptq_table.md" not in gallery_entries(planted)


# -- the examples of the pages ---------------------------------------------------------------------------------------

FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def code_blocks(path: pathlib.Path, lang: str) -> list[tuple[int, str]]:
    """(first line number, text) of every fenced block of the given language."""
    text = path.read_text()
    return [(text[: m.start(2)].count("\n"), m.group(2)) for m in FENCE.finditer(text) if m.group(1) == lang]


def _doctest_file(path: pathlib.Path, name: str | None = None) -> tuple[int, int, str]:
    """Run the page's ``pycon`` blocks as one doctest session (line numbers as in the file)."""
    text = path.read_text()
    lines = [""] * (text.count("\n") + 1)
    for start, block in code_blocks(path, "pycon"):
        for i, ln in enumerate(block.splitlines()):
            lines[start + i] = ln
    source = "\n".join(lines)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(source, {"__name__": "__main__"}, name or path.name, str(path), 0)
    out: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=out.append)
    return runner.failures, runner.tries, "".join(out)


@pytest.mark.parametrize("path", PAGES + [ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(path):
    failures, tries, report = _doctest_file(path, str(path.relative_to(ROOT)))
    assert failures == 0, report
    if path.name == "README.md":
        assert tries >= 5, "the README's one-minute example must be a doctested pycon block"


@pytest.mark.parametrize("path", PAGES + [ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_are_valid_python(path):
    import ast

    for start, block in code_blocks(path, "python"):
        try:
            ast.parse(block)
        except SyntaxError as e:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{path.relative_to(ROOT)}:{start + (e.lineno or 0)}: {e.msg}")


def test_the_example_check_catches_a_wrong_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# t\n\n```pycon\n>>> 1 + 1\n3\n```\n\n```python\nnot run\n```\n")
    failures, tries, _ = _doctest_file(page)
    assert tries == 1 and failures == 1


# -- every page has a place in the site's structure ----------------------------------------------------------------

TOCTREE = re.compile(r"^```\{toctree\}[^\n]*\n(.*?)^```", re.S | re.M)


def toctree_entries(text: str) -> set[str]:
    """Document names listed by the MyST toctree blocks of a page (option lines ``:name: value`` skipped)."""
    out = set()
    for m in TOCTREE.finditer(text):
        for line in m.group(1).splitlines():
            line = line.strip()
            if line and not line.startswith(":"):
                out.add(line)
    return out


def pages_outside_toctrees(docs: pathlib.Path) -> list[str]:
    pages = {str(p.relative_to(docs).with_suffix("")) for p in docs.rglob("*.md") if "_build" not in p.parts}
    listed = set()
    for p in docs.rglob("*.md"):
        if "_build" in p.parts:
            continue
        base = p.parent.relative_to(docs)
        listed |= {str(base / e) for e in toctree_entries(p.read_text())}
    return sorted(pages - listed - {"index"})


def test_every_page_is_in_a_toctree():
    assert pages_outside_toctrees(DOCS) == [], "add these pages to a toctree section of docs/index.md"


def test_the_toctree_check_catches_an_unlisted_page(tmp_path):
    (tmp_path / "index.md").write_text("# Home\n\n```{toctree}\n:caption: Guide\n:maxdepth: 1\n\nguide\n```\n")
    (tmp_path / "guide.md").write_text("# Guide\n")
    (tmp_path / "theory").mkdir()
    (tmp_path / "theory" / "paper.md").write_text("# Paper\n")
    assert pages_outside_toctrees(tmp_path) == ["theory/paper"]


# -- the examples of the module docstrings ------------------------------------------------------------------------


def modules_with_examples() -> list[str]:
    """Every module under ``refquant/`` (private ones too) whose source holds a ``>>>`` example."""
    out = []
    for path in sorted((ROOT / "refquant").rglob("*.py")):
        if ">>>" not in path.read_text():
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


def _doctested_elsewhere() -> set[str]:
    import test_doctests

    return set(test_doctests.MODULES)


@pytest.mark.parametrize("name", [m for m in modules_with_examples() if m not in _doctested_elsewhere()])
def test_module_examples_run(name):
    import refquant

    mod = importlib.import_module(name)
    res = doctest.testmod(
        mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, extraglobs={"QuantSpec": refquant.QuantSpec}
    )
    assert res.failed == 0
    assert res.attempted > 0, f"{name}: its '>>>' lines are not in a docstring doctest can find"


def test_the_example_discovery_finds_the_modules():
    assert "refquant.uniform" in modules_with_examples()
    assert set(modules_with_examples()) >= {"refquant.binarize", "refquant.robustness"}
