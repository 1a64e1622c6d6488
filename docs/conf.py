"""Sphinx configuration of the refquant documentation site.

Build (from the repository root; the only documented command)::

    python3 -m sphinx -W -n -b html docs docs/_build/html

``-W`` turns every warning into an error and ``-n`` (nitpicky) reports every cross-reference that does not
resolve, so a broken link between pages, a missing heading anchor or a ``:func:`` role naming a function that
does not exist fails the build.  ``tests/test_docs.py`` runs exactly this build in the test suite.

The API reference (``docs/api/``) is generated here, on every build, from ``__all__`` of every public module
of the installed ``refquant`` package (a module is public when no component of its dotted name starts with an
underscore).  Each object is documented once, on the page of the module that defines it; the other modules
that re-export it list it with a link.  Nothing under ``docs/api/`` is committed.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import pkgutil
import re
import sys

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import refquant  # noqa: E402  (after the path insert: the checkout's package, not an installed copy)

# -- project -------------------------------------------------------------------------------------------------

project = "refquant"
author = "the refquant authors"
copyright = "the refquant authors, BSD-3-Clause"
release = refquant.__version__
version = release

# -- extensions ------------------------------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# MyST: ``$...$`` maths, tables, and an anchor for every heading down to level 3, so that a link
# ``theory/raoq.md#slice-covariance`` resolves (and a link to a heading that does not exist is an error).
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc / numpydoc: the docstrings carry the types (numpydoc ``Parameters``), so signatures are shown
# without annotations; class members are listed by autodoc, not by numpydoc's autosummary tables (which
# would need a stub page per member).
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # a method documents itself or shows no text, never its base class's
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Nitpicky mode checks every cross-reference inside the site.  References into other projects (numpy, scipy,
# Python's standard library, hypothesis, pandas, dask) cannot be resolved without their inventories, which
# need the network; they are ignored by pattern, everything under ``refquant`` is not.
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(numpy|np|scipy|pandas|hypothesis|distributed|dask|concurrent|collections|typing|enum|"
        r"dataclasses|pathlib|os|json|fractions|numba|matplotlib|pytest)(\..*)?",
    ),
    (
        r"py:.*",
        r"(int|float|str|bool|bytes|tuple|list|dict|set|frozenset|object|type|callable|None|"
        r"Exception|ValueError|TypeError|RuntimeError|KeyError|AttributeError|Generator|Iterable|"
        r"Sequence|Mapping|Callable|Any|Literal|Optional|Union)",
    ),
]

# -- HTML ----------------------------------------------------------------------------------------------------
# pydata-sphinx-theme: the theme of NumPy, SciPy and pandas, whose API references readers of a numerical
# library already know how to navigate (module pages, right-hand "on this page" outline, search).

html_theme = "pydata_sphinx_theme"
html_title = f"refquant {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "navbar_align": "left",
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False

# -- API reference generation ----------------------------------------------------------------------------------


def public_modules() -> list[str]:
    """Dotted names of the public modules of the refquant package, sorted (the package itself first)."""
    names = ["refquant"]
    for info in pkgutil.walk_packages(refquant.__path__, prefix="refquant."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names, key=lambda n: (n != "refquant", n))


def _defines(module_name: str, name: str) -> bool:
    """Whether the source of ``module_name`` binds ``name`` at top level by assignment, def or class."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return False
    tree = ast.parse(pathlib.Path(spec.origin).read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        for t in targets:
            if isinstance(t, ast.Name) and t.id == name:
                return True
    return False


def home_of(name: str, obj, listing: list[str]) -> str:
    """The one public module where ``obj`` (exported as ``name`` by every module in ``listing``) is documented."""
    mod = getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isroutine(obj)) else None
    if mod in listing:
        return mod
    for m in listing:
        if _defines(m, name):
            return m
    return max(listing, key=lambda m: (m.count("."), m))


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isroutine(obj) or callable(obj) and hasattr(obj, "__wrapped__"):
        return "function"
    return "data"


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""


def _pointer(name: str, obj, home: str, text: str) -> list[str]:
    """An object entry that only points at the full documentation of ``obj`` in module ``home``."""
    kind = _kind(obj)
    directive = {"class": "py:class", "exception": "py:exception", "function": "py:function"}.get(kind, "py:data")
    role = {"class": "class", "exception": "exc", "function": "func"}.get(kind, "data")
    return [f".. {directive}:: {name}", "    :no-contents-entry:", "", f"    {text} :{role}:`{home}.{name}`.", ""]


def generate_api(outdir: pathlib.Path) -> None:
    """Write ``outdir/index.rst`` and one page per public module (only files whose text changed)."""
    outdir.mkdir(exist_ok=True)
    modules = public_modules()
    objs: dict[tuple[str, str], object] = {}
    for m in modules:
        mod = importlib.import_module(m)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            objs[(m, name)] = obj
    homes: dict[tuple[str, str], str] = {}
    for (m, name), obj in objs.items():
        listing = [m2 for m2 in modules if (m2, name) in objs and objs[(m2, name)] is obj]
        homes[(m, name)] = home_of(name, obj, listing)

    pages = {}
    for m in modules:
        mod = importlib.import_module(m)
        all_names = list(getattr(mod, "__all__", []))
        title = f"``{m}``"
        lines = [f".. _api-{m}:", "", title, "=" * len(title), "", f".. automodule:: {m}", "    :no-members:", ""]
        submods = [n for n in all_names if inspect.ismodule(objs[(m, n)])]
        own = [n for n in all_names if homes[(m, n)] == m and n not in submods]
        reexp = [n for n in all_names if homes[(m, n)] != m and n not in submods]
        # Classes and functions whose __module__ is this module but which are documented elsewhere (a package
        # re-exports them): listed here too, so that references written inside this module resolve.
        defined_here = {}
        for key, obj in objs.items():
            if (
                homes[key] != m
                and getattr(obj, "__module__", None) == m
                and (inspect.isclass(obj) or inspect.isroutine(obj))
            ):
                defined_here.setdefault(key[1], (homes[key], obj))
        if not all_names:
            lines += [
                "This module has no ``__all__`` of its own"
                + (
                    ": the public names it defines are exported, and documented, by the package that re-exports them."
                    if defined_here
                    else "."
                ),
                "",
            ]
        if defined_here:
            lines += [
                "Defined here",
                "------------",
                "",
                "Importable from this module too; each is documented on the page of the module that exports it.",
                "",
                f".. currentmodule:: {m}",
                "",
            ]
            for n, (home, obj) in sorted(defined_here.items()):
                lines += _pointer(n, obj, home, "Documented as")
        if submods:
            lines += ["Submodules", "----------", ""] + [f"* :mod:`{objs[(m, n)].__name__}`" for n in submods] + [""]
        if own:
            lines += ["Summary", "-------", "", f".. currentmodule:: {m}", "", ".. autosummary::", ""]
            lines += [f"    {n}" for n in own] + [""]
        if reexp:
            lines += [
                "Re-exported names",
                "-----------------",
                "",
                "Documented on the page of the module that defines them; the same objects are importable from here.",
                "",
                f".. currentmodule:: {m}",
                "",
            ]
            for n in reexp:
                lines += _pointer(n, objs[(m, n)], homes[(m, n)], "The same object as")
        if own:
            lines += ["Reference", "---------", ""]
            for n in own:
                kind = _kind(objs[(m, n)])
                if kind in ("class", "exception"):
                    lines += [
                        f".. autoclass:: {m}.{n}",
                        "    :members:",
                        "    :undoc-members:",
                        "    :show-inheritance:",
                        "",
                    ]
                elif kind == "function":
                    lines += [f".. autofunction:: {m}.{n}", ""]
                else:
                    lines += [f".. autodata:: {m}.{n}", "    :no-value:", ""]
        pages[f"{m}.rst"] = "\n".join(lines)

    index = [
        "API reference",
        "=============",
        "",
        "One page per public module of the installed package, generated from the docstrings at build time",
        "(numpydoc format). Every name in a module's ``__all__`` is documented; ``tests/test_docs.py`` checks",
        "that against the built site.",
        "",
        ".. list-table::",
        "    :header-rows: 1",
        "    :widths: 30 70",
        "",
        "    * - module",
        "      - what it holds",
    ]
    for m in modules:
        first = re.sub(r":[a-z:]+:`~?([^`]+)`", r"``\1``", _summary(importlib.import_module(m)))
        index += [f"    * - :ref:`{m} <api-{m}>`", f"      - {first}"]
    index += ["", ".. toctree::", "    :hidden:", ""] + [f"    {m}" for m in modules] + [""]
    pages["index.rst"] = "\n".join(index)

    for fname, text in pages.items():
        path = outdir / fname
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for stale in outdir.glob("*.rst"):
        if stale.name not in pages:
            stale.unlink()


generate_api(DOCS / "api")


# -- pages that no toctree lists ----------------------------------------------------------------------------
# Every Markdown page under docs/ has a place in one of index.md's toctrees (user guide, theory, reference,
# results, development). A page that has none is reported here by name, with where to add it, as a warning, so
# the build (-W) fails; Sphinx's own "document isn't included in any toctree" warning says the same less
# helpfully.

_TOCTREE_LINE = re.compile(r"^(?!:)(\S+)\s*$")


def _toctree_entries(text: str) -> set[str]:
    entries, inside = set(), False
    for line in text.splitlines():
        if line.startswith("```{toctree}"):
            inside = True
        elif inside and line.startswith("```"):
            inside = False
        elif inside and _TOCTREE_LINE.match(line):
            entries.add(line.strip())
    return entries


def unlisted_pages() -> list[str]:
    pages = {
        str(p.relative_to(DOCS).with_suffix(""))
        for p in DOCS.rglob("*.md")
        if not any(part.startswith("_") or part == "api" for part in p.relative_to(DOCS).parts)
    }
    listed = set()
    for p in DOCS.rglob("*.md"):
        listed |= _toctree_entries(p.read_text())
    return sorted(pages - listed - {"index"})


def _report_unlisted(app):
    from sphinx.util import logging

    for page in unlisted_pages():
        logging.getLogger(__name__).warning(
            f"docs/{page}.md is in no toctree: add it to the fitting section of docs/index.md "
            "(User guide, Theory, Reference, Results or Development)"
        )


def _public_bases(app, name, obj, options, bases):
    """Show only public base classes (a private mix-in such as a read-access helper is an implementation detail)."""
    bases[:] = [
        b for b in bases if not any(part.startswith("_") for part in f"{b.__module__}.{b.__qualname__}".split("."))
    ]


def setup(app):
    app.connect("builder-inited", _report_unlisted)
    app.connect("autodoc-process-bases", _public_bases)
