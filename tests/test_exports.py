"""Exports are checked mechanically.

* Every public module of refquant (found by walking ``refquant/`` on disk: each ``.py`` file or package whose
  path has no ``_``-prefixed part) that has an ``__all__`` writes it as one literal list or tuple of strings in
  its source (read with ``ast``, not by importing): no ``*other_all``, no concatenation, no ``__all__ +=`` or
  ``__all__.extend``. A reader, Sphinx and the bad-input registry then see the same names.
* Every name in such an ``__all__`` exists on the imported module (``refquant.testing`` resolves its names
  lazily, so this also imports each of them).
* ``refquant.testing.__all__`` lists the ``golden`` module, ``run_property`` and every ``check_*`` function
  defined in a submodule of ``refquant.testing`` (checkers found in the source by ``ast``).
Each rule is shown to catch a planted violation.
"""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "refquant"


def public_module_files() -> dict[str, pathlib.Path]:
    """Dotted name -> source file of every public module (no path part starting with ``_``)."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        out[".".join(parts)] = path
    return out


def all_problems(source: str) -> tuple[list[str] | None, list[str]]:
    """``(names, problems)`` of the module-level ``__all__`` of *source*.

    ``names`` is None when the module has no ``__all__``. ``problems`` lists every way it is computed
    instead of written out: a value other than a list/tuple of string literals, more than one assignment,
    an augmented assignment, or a call of a method on ``__all__`` (``append``, ``extend`` ...).
    """
    tree = ast.parse(source)
    names = None
    problems = []
    assigned = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assigned += 1
                v = node.value
                if isinstance(v, (ast.List, ast.Tuple)) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in v.elts
                ):
                    names = [e.value for e in v.elts]
                else:
                    names = names or []
                    problems.append(f"line {node.lineno}: __all__ is not a literal list of strings")
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            problems.append(f"line {node.lineno}: __all__ is extended with an augmented assignment")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "__all__"
        ):
            problems.append(f"line {node.lineno}: __all__.{node.func.attr}(...) changes __all__ at import time")
    if assigned > 1:
        problems.append(f"__all__ is assigned {assigned} times")
    return names, problems


def defined_checkers(path: pathlib.Path) -> list[str]:
    """Names of the module-level ``check_*`` functions defined in the source file *path*."""
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("check_")]


def missing_testing_exports(exported: list[str], submodule_files: list[pathlib.Path]) -> list[str]:
    """Names ``refquant.testing`` must export but does not: ``golden``, ``run_property`` and every checker."""
    required = ["golden", "run_property"]
    for f in submodule_files:
        required += defined_checkers(f)
    return sorted(set(required) - set(exported))


MODULES = public_module_files()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_all_is_a_literal_list(name):
    names, problems = all_problems(MODULES[name].read_text())
    assert problems == [], f"{name}: {problems}; write __all__ as one literal list of names"
    if names is not None:
        assert len(names) == len(set(names)), f"{name}.__all__ lists a name twice"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_exported_name_exists(name):
    names, _ = all_problems(MODULES[name].read_text())
    if names is None:
        pytest.skip(f"{name} has no __all__ (an implementation module; its package exports its names)")
    mod = importlib.import_module(name)
    assert list(mod.__all__) == names, f"{name}.__all__ at run time differs from the literal in its source"
    missing = [n for n in names if not hasattr(mod, n)]
    assert missing == [], f"{name}.__all__ names attributes that do not exist: {missing}"


def test_the_main_modules_have_an_all():
    """The modules the documentation and the bad-input registry enumerate all declare their exports."""
    for name in ("refquant", "refquant.specs", "refquant.uniform", "refquant.clipping", "refquant.imc"):
        assert all_problems(MODULES[name].read_text())[0], f"{name} has no __all__"
    for name in ("refquant.sweep", "refquant.testing", "refquant.testing.golden", "refquant.testing.strategies"):
        assert all_problems(MODULES[name].read_text())[0], f"{name} has no __all__"


def test_testing_exports_golden_run_property_and_every_checker():
    import refquant.testing as T

    subs = sorted((PKG / "testing").glob("*.py"))
    found = [c for f in subs for c in defined_checkers(f)]
    # the count is a floor, not a copy: 11 uniform/theory checkers + 5 RAOQ training checkers exist today
    assert len(found) >= 16 and "check_fake_quant" in found and "check_w_reshape_grad" in found
    assert missing_testing_exports(list(T.__all__), subs) == []
    for n in found:
        assert callable(getattr(T, n)), n
    assert T.golden.__name__ == "refquant.testing.golden"


# ------------------------------------------------------------------------- the rules catch planted violations
@pytest.mark.parametrize(
    "source",
    [
        "from .a import __all__ as _a\n__all__ = ['x', *_a]\n",
        "__all__ = ['x'] + ['y']\n",
        "__all__ = ['x']\n__all__ += ['y']\n",
        "__all__ = ['x']\n__all__.extend(['y'])\n",
        "__all__ = [n for n in dir() if not n.startswith('_')]\n",
        "__all__ = ['x']\nif True:\n    __all__ = ['y']\n",
        "__all__ = ('x', 1)\n",
    ],
)
def test_a_computed_all_is_caught(source):
    assert all_problems(source)[1], source


def test_a_literal_all_passes():
    assert all_problems("__all__ = [\n    'x',  # comment\n    'y',\n]\n") == (["x", "y"], [])
    assert all_problems("x = 1\n") == (None, [])


def test_a_missing_checker_export_is_caught(tmp_path):
    f = tmp_path / "conformance_new.py"
    f.write_text("def check_new_op(candidate):\n    pass\n\ndef _check_helper():\n    pass\n")
    assert missing_testing_exports(["golden", "run_property"], [f]) == ["check_new_op"]
    assert missing_testing_exports(["run_property", "check_new_op"], [f]) == ["golden"]
    assert missing_testing_exports(["golden", "run_property", "check_new_op"], [f]) == []
