"""Every public name has a numpydoc docstring with the sections that apply.

What is enumerated: every name in ``__all__`` of every public module (``refquant`` and every ``refquant.<...>``
module with no ``_``-prefixed part in its dotted name), and every public method and property defined in the body
of a public class (inherited members are documented by their own class). Each object is checked once, under
the first public path that exports it.

What is asserted, with numpydoc's own parser (``numpydoc.docscrape``):

* **every name**: a docstring with a non-empty summary; no section numpydoc does not know (a misspelt
  ``Example`` or ``Note`` would silently vanish from the API reference);
* **functions and methods** (``FunctionDoc``): a ``Parameters`` section (``Other Parameters`` counts too)
  documenting exactly the signature's parameters -- none missing, none extra, each with a description
  (``self``/``cls`` excluded; ``*args``/``**kwargs`` are written ``*args`` / ``**kwargs``, with or without
  the stars or a backslash before them; ``x, y : float`` documents both; a ``_``-prefixed keyword such as a
  factory's token is not API and not required); a ``Returns`` section when the body returns a value (found
  in the source: a ``return`` with a value other than ``None``, or a return annotation other than ``None``),
  a ``Yields`` section for a generator (a ``contextmanager`` documents what it yields); a ``Raises`` section
  naming ``ValueError`` or ``TypeError`` when the callable takes parameters: every public callable validates
  its parameters and raises one of the two on bad input, and ``tests/test_bad_inputs.py`` holds each to that,
  parameter by parameter, so the conditions belong in its docstring. The exceptions are read from that
  registry: a name whose every entry lists no bad input (a result container rebuilt from its own fields, a
  class only a factory builds) owes no ``Raises``;
* **classes** (``ClassDoc``, without numpydoc's automatic member lists, which would fill ``Attributes`` by
  themselves): every constructor parameter and every public dataclass field documented under ``Parameters``
  or ``Attributes``, ``Parameters`` listing no name the constructor does not take, and ``Raises`` when the
  constructor takes parameters (it validates them; same registry exceptions);
* **enums, exceptions, properties**: a summary line;
* **constants**: a documentation comment (``#:`` before the assignment, or a string right after it; what
  Sphinx shows in the API reference) with a non-empty first line.

The offenders are printed, one line per object and problem, so the output is the to-do list. The planted
cases at the end show that each rule can fail.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import linecache
import pathlib
import pkgutil
import textwrap
import warnings

import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

import refquant

# ------------------------------------------------------------------------------------------ enumeration


def public_modules() -> list[str]:
    """Dotted names of the public modules (no ``_``-prefixed component), the package first."""
    names = ["refquant"]
    for info in pkgutil.walk_packages(refquant.__path__, prefix="refquant."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def public_objects() -> list[tuple[str, object, str]]:
    """``(path, object, kind)`` for every public name and every public member of a public class, once each.

    An object exported by several modules is checked once, under the path of the module that defines it (its
    ``__module__``) when that module exports it, otherwise under the most specific module exporting it.
    ``kind`` is one of ``function``, ``method``, ``property``, ``class``, ``enum``, ``exception``, ``constant``.
    """
    listing: dict[int, list[str]] = {}
    objs: dict[int, object] = {}
    names: dict[int, str] = {}
    for m in public_modules():
        mod = importlib.import_module(m)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.ismodule(obj):
                continue
            listing.setdefault(id(obj), []).append(m)
            objs[id(obj)] = obj
            names.setdefault(id(obj), name)
    out: list[tuple[str, object, str]] = []
    for key, mods in listing.items():
        obj, name = objs[key], names[key]
        home = getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isroutine(obj)) else None
        if home not in mods:
            home = max(mods, key=lambda m: (m.count("."), m))
        path = f"{home}.{name}"
        if inspect.isclass(obj):
            if issubclass(obj, enum.Enum):
                out.append((path, obj, "enum"))
                continue
            if issubclass(obj, BaseException):
                out.append((path, obj, "exception"))
                continue
            out.append((path, obj, "class"))
            for k, v in vars(obj).items():
                if k.startswith("_"):
                    continue
                if isinstance(v, property):
                    out.append((f"{path}.{k}", v, "property"))
                elif isinstance(v, (classmethod, staticmethod)) or inspect.isfunction(v):
                    out.append((f"{path}.{k}", v, "method"))
        elif callable(obj):
            out.append((path, obj, "function"))
        else:
            out.append((path, obj, "constant"))
    return sorted(out, key=lambda t: t[0])


# ------------------------------------------------------------------------------------------ the rules


def _names(entries) -> list[str]:
    """Parameter names of numpydoc entries (``x, y : float`` gives two; stars and backslashes dropped)."""
    out = []
    for e in entries:
        for part in e.name.split(","):
            part = part.strip().replace("\\", "").lstrip("*").strip()
            if part:
                out.append(part)
    return out


def _parse(cls, obj, **kw):
    """numpydoc's parse of ``obj``'s docstring, and the warnings numpydoc raised while parsing."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            doc = cls(obj, **kw)
        except Exception as exc:  # a malformed docstring (duplicate section, ...)
            return None, [f"numpydoc cannot parse the docstring: {exc}"]
    return doc, [f"numpydoc: {w.message}" for w in caught]


def _body_facts(func) -> tuple[bool | None, bool]:
    """(returns a value, is a generator) from the source; returns-a-value is ``None`` if there is no source."""
    try:
        src = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None, False
    tree = ast.parse(src)
    node = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    returns = yields = False
    todo = list(node.body)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue  # a nested function's returns are its own
        if isinstance(n, ast.Return) and n.value is not None:
            if not (isinstance(n.value, ast.Constant) and n.value.value is None):
                returns = True
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            yields = True
        todo.extend(ast.iter_child_nodes(n))
    ann = node.returns
    if ann is not None and not (isinstance(ann, ast.Constant) and ann.value in (None, "None")):
        if not (isinstance(ann, ast.Name) and ann.id == "None"):
            returns = True
    return returns, yields


def _signature_params(func, drop_first: bool) -> list[inspect.Parameter] | None:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return None
    if drop_first and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return [p for p in params if not p.name.startswith("_")]  # a private keyword (a factory's token) is not API


def _param_problems(doc, params: list[inspect.Parameter], *, also=()) -> list[str]:
    documented = _names(doc["Parameters"]) + _names(doc["Other Parameters"])
    wanted = [p.name for p in params]
    problems = []
    missing = [n for n in wanted if n not in documented and n not in also]
    extra = [n for n in documented if n not in wanted]
    if missing:
        problems.append(f"parameters not documented: {', '.join(missing)}")
    if extra:
        problems.append(f"documented parameters not in the signature: {', '.join(extra)}")
    empty = [n for e in doc["Parameters"] + doc["Other Parameters"] if not "".join(e.desc).strip() for n in _names([e])]
    if empty:
        problems.append(f"parameters without a description: {', '.join(empty)}")
    return problems


BAD_INPUTS = pathlib.Path(__file__).resolve().parent / "test_bad_inputs.py"


def _has_bad_classes(call: ast.Call) -> bool:
    """Whether a registry entry ``E(call, valid, bad, ...)`` lists bad-input classes (a non-empty ``bad``)."""
    bad = call.args[2] if len(call.args) > 2 else next((k.value for k in call.keywords if k.arg == "bad"), None)
    return bad is not None and not (isinstance(bad, ast.Dict) and not bad.keys)


def public_paths() -> dict[str, object]:
    """Every public import path (``module.name`` and ``module.Class.member``) -> the object, members unwrapped."""
    out: dict[str, object] = {}
    for m in public_modules():
        mod = importlib.import_module(m)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            out[f"{m}.{name}"] = obj
            if inspect.isclass(obj):
                for k, v in vars(obj).items():
                    out[f"{m}.{name}.{k}"] = v.__func__ if isinstance(v, (classmethod, staticmethod)) else v
    return out


_NO_BAD_INPUTS: set[int] | None = None


def registered_without_bad_inputs() -> set[int]:
    """ids of the public objects whose every bad-input registry entry lists no bad input at all.

    Read from the source of ``tests/test_bad_inputs.py`` (its ``REGISTRY`` literal and ``_reg(path, E(...))``
    calls), not by importing it: building the registry compiles kernels and takes half a minute. These are
    the result containers rebuilt from their own fields and the classes only a factory constructs: they
    validate nothing, so they owe no ``Raises`` section. Every other callable with parameters does.
    """
    global _NO_BAD_INPUTS
    if _NO_BAD_INPUTS is None:
        tree = ast.parse(BAD_INPUTS.read_text())
        entries: dict[str, list[bool]] = {}
        for node in ast.walk(tree):
            pairs = []
            if isinstance(node, ast.Dict):
                pairs = list(zip(node.keys, node.values))
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_reg" and len(node.args) == 2:
                pairs = [(node.args[0], node.args[1])]
            for key, value in pairs:
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                    and key.value.startswith("refquant")
                    and isinstance(value, ast.Call)
                    and getattr(value.func, "id", None) == "E"
                ):
                    entries.setdefault(key.value.split("#", 1)[0], []).append(_has_bad_classes(value))
        paths = public_paths()
        _NO_BAD_INPUTS = {id(paths[path]) for path, bad in entries.items() if not any(bad) and path in paths}
    return _NO_BAD_INPUTS


def _raises_problems(doc) -> list[str]:
    types = " ".join(e.name + " " + e.type for e in doc["Raises"])
    if not doc["Raises"]:
        return ["no Raises section (it validates its parameters: state the ValueError/TypeError conditions)"]
    if "ValueError" not in types and "TypeError" not in types:
        return ["the Raises section names neither ValueError nor TypeError"]
    return []


def _summary_problems(doc) -> list[str]:
    return [] if doc is not None and "".join(doc["Summary"]).strip() else ["no summary line"]


def check_function(func, *, method: bool = False) -> list[str]:
    """Problems of one function or method's docstring (empty list: none)."""
    if isinstance(func, (classmethod, staticmethod)):
        drop = isinstance(func, classmethod)
        func = func.__func__
    else:
        drop = method
    if not inspect.getdoc(func):
        return ["no docstring"]
    doc, problems = _parse(FunctionDoc, func)
    if doc is None:
        return problems
    problems += _summary_problems(doc)
    params = _signature_params(inspect.unwrap(func), drop)
    if params is not None:
        problems += _param_problems(doc, params)
        if params and id(func) not in registered_without_bad_inputs():
            problems += _raises_problems(doc)
    returns, yields = _body_facts(inspect.unwrap(func))
    if yields and not doc["Yields"]:
        problems.append("a generator without a Yields section")
    elif not yields and returns is not False and not doc["Returns"]:
        problems.append("returns a value but has no Returns section")
    return problems


def _dataclass_fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []


def check_class(cls) -> list[str]:
    """Problems of one class's docstring: summary, constructor parameters and fields, Raises."""
    if not inspect.getdoc(cls):
        return ["no docstring"]
    doc, problems = _parse(ClassDoc, cls, config={"show_class_members": False})
    if doc is None:
        return problems
    problems += _summary_problems(doc)
    try:
        factory_only = any(p.startswith("_") for p in inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        factory_only = False
    # a constructor with a private token is built only by a factory: its parameters are not API
    params = [] if factory_only else (_signature_params(cls, drop_first=False) or [])
    attrs = _names(doc["Attributes"])
    documented = set(_names(doc["Parameters"]) + _names(doc["Other Parameters"]) + attrs)
    fields = [p.name for p in params] + [f for f in _dataclass_fields(cls) if not f.startswith("_")]
    missing = [n for n in dict.fromkeys(fields) if n not in documented]
    if missing:
        problems.append(f"fields/constructor parameters documented neither as Parameters nor Attributes: {missing}")
    extra = [
        n for n in _names(doc["Parameters"]) + _names(doc["Other Parameters"]) if n not in {p.name for p in params}
    ]
    if extra:
        problems.append(f"documented parameters the constructor does not take: {', '.join(extra)}")
    empty = [
        n
        for e in doc["Parameters"] + doc["Other Parameters"] + doc["Attributes"]
        if not "".join(e.desc).strip()
        for n in _names([e])
    ]
    if empty:
        problems.append(f"fields without a description: {', '.join(empty)}")
    if params and id(cls) not in registered_without_bad_inputs():
        problems += _raises_problems(doc)
    return problems


def check_summary_only(obj) -> list[str]:
    """Enums, exceptions, properties: a docstring numpydoc parses, with a summary line."""
    target = obj.fget if isinstance(obj, property) else obj
    if not inspect.getdoc(target):
        return ["no docstring"]
    kw = {"config": {"show_class_members": False}} if inspect.isclass(target) else {}
    doc, problems = _parse(ClassDoc if inspect.isclass(target) else FunctionDoc, target, **kw)
    return problems + _summary_problems(doc)


_ATTR_DOCS: dict[str, dict] = {}


def _attr_docs(modname: str) -> dict:
    """``{name: lines}`` of the documentation comments of a module's top-level assignments (as Sphinx reads them)."""
    if modname not in _ATTR_DOCS:
        from sphinx.pycode import ModuleAnalyzer

        try:
            found = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:
            found = {}
        _ATTR_DOCS[modname] = {name: lines for (ns, name), lines in found.items() if ns == ""}
    return _ATTR_DOCS[modname]


def check_constant(path: str) -> list[str]:
    """A constant's documentation comment, in the module that exports it or one it is imported from."""
    modname, name = path.rsplit(".", 1)
    obj = getattr(importlib.import_module(modname), name)
    candidates = [modname] + [
        info.name
        for info in pkgutil.walk_packages(refquant.__path__, prefix="refquant.")
        if info.name != modname and getattr(importlib.import_module(info.name), name, None) is obj
    ]
    for m in candidates:
        lines = _attr_docs(m).get(name)
        if lines and lines[0].strip():
            return []
    return ["no documentation comment (#: before the assignment, or a string right after it)"]


def offenders() -> list[str]:
    """One line ``path: problem`` per problem of every public name."""
    out = []
    for path, obj, kind in public_objects():
        if kind == "function":
            problems = check_function(obj)
        elif kind == "method":
            problems = check_function(obj, method=True)
        elif kind == "class":
            problems = check_class(obj)
        elif kind == "constant":
            problems = check_constant(path)
        else:
            problems = check_summary_only(obj)
        out += [f"{path}: {p}" for p in problems]
    return out


# ------------------------------------------------------------------------------------------ the test


def test_every_public_name_has_a_numpydoc_docstring():
    found = offenders()
    print("\n".join(found) if found else "no docstring offenders")
    assert found == [], f"{len(found)} docstring problems:\n" + "\n".join(found)


def test_the_enumeration_reaches_every_kind():
    kinds = {kind for _, _, kind in public_objects()}
    assert kinds >= {"function", "method", "property", "class", "enum", "exception", "constant"}
    paths = {p for p, _, _ in public_objects()}
    assert "refquant.uniform.quantize" in paths and "refquant.specs.QuantSpec.replace" in paths


# ------------------------------------------------------------------------------------------ planted cases


_PARAM_X = "\n    Parameters\n    ----------\n    x : ndarray\n        The values.\n"
_RETURNS = "\n    Returns\n    -------\n    int\n        The count.\n"
_RAISES = "\n    Raises\n    ------\n    ValueError\n        If ``x`` is empty.\n"


def _planted(signature: str, doc: str, body: str = "return len(x)"):
    """A function with the given signature, docstring and body (the planted cases below)."""
    src = f"def f({signature}):\n    {doc!r}\n    {body}\n"
    name = f"<planted {len(linecache.cache)}>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), name)  # so that inspect.getsource finds it
    ns: dict = {}
    exec(compile(src, name, "exec"), ns)
    return ns["f"]


_GOOD = _planted(
    "x, bins=8, *args, **kwargs",
    "Count things.\n"
    + _PARAM_X
    + "    bins : int\n        How many.\n    *args, **kwargs\n        Passed on.\n"
    + _RETURNS
    + _RAISES,
)
_RETURNS_NONE = _planted("x", "Check things.\n" + _PARAM_X + _RAISES, body="pass")
_PLANTED = [
    (_planted("x, bins=8", "Count things.\n" + _PARAM_X + _RETURNS + _RAISES), "parameters not documented: bins"),
    (
        _planted(
            "x", "Count things.\n" + _PARAM_X + "    y : ndarray\n        Not a parameter.\n" + _RETURNS + _RAISES
        ),
        "not in the signature: y",
    ),
    (_planted("x", "Count things.\n" + _PARAM_X + "    \n" + _RAISES), "no Returns section"),
    (_planted("x", "Count things.\n" + _PARAM_X + _RETURNS), "no Raises section"),
    (_planted("x", "Count up.\n" + _PARAM_X + _RAISES, body="yield from range(x)"), "without a Yields section"),
    (
        _planted(
            "x", "Count things.\n" + _PARAM_X + _RETURNS + _RAISES + "\n    Example\n    -------\n    >>> 1\n    1\n"
        ),
        "Unknown section Example",
    ),
    (
        _planted("x", "Count things.\n" + _PARAM_X.replace("        The values.\n", "") + _RETURNS + _RAISES),
        "without a",
    ),
]


@dataclasses.dataclass(frozen=True)
class _Fields:
    """A pair.

    Parameters
    ----------
    a : int
        First.

    Raises
    ------
    ValueError
        If a < 0.
    """

    a: int
    b: int = 0


@pytest.mark.parametrize("func, fragment", _PLANTED)
def test_planted_defects_are_caught(func, fragment):
    problems = check_function(func)
    assert any(fragment in p for p in problems), problems


def test_a_complete_docstring_passes():
    assert check_function(_GOOD) == []
    assert check_function(_RETURNS_NONE) == []  # returns nothing: no Returns section needed


def test_a_class_field_without_documentation_is_caught():
    problems = check_class(_Fields)
    assert any("['b']" in p for p in problems), problems


def test_the_bad_input_registry_decides_who_owes_a_raises_section():
    exempt = registered_without_bad_inputs()
    imc = importlib.import_module("refquant.imc")
    assert id(imc.ADCStats) in exempt  # a result container: rebuilt from its fields, validates nothing
    assert id(refquant.uniform.quantize) not in exempt and id(refquant.QuantSpec) not in exempt
    call = lambda src: ast.parse(src, mode="eval").body  # noqa: E731
    assert _has_bad_classes(call("E(f, dict(x=1), dict(x=ARR))"))
    assert _has_bad_classes(call("E(f, dict(x=1), bad=dict(x=ARR))"))
    assert not _has_bad_classes(call("E(f, {})")) and not _has_bad_classes(call("E(f, {}, {})"))


def test_constants_and_properties_are_checked():
    assert check_constant("refquant.distributions.DISTRIBUTIONS") == []  # documented by a #: comment
    assert check_summary_only(property(lambda self: 1)) == ["no docstring"]
