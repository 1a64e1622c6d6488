"""Comparison of a candidate's output with refquant's, with readable diffs (no Hypothesis needed).

Used by the conformance checkers (:mod:`refquant.testing.conformance`) and by
golden-vector verification (:mod:`refquant.testing.golden`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._validate import check_bool, check_choice, check_int, check_mapping, check_real, check_str, check_type

__all__ = ["ConformanceError", "Unsupported", "Tolerance", "EXACT", "STRICT", "compare_arrays", "mismatch_mask"]


class ConformanceError(AssertionError):
    """A candidate implementation disagrees with refquant (the message holds the diff).

    Raised by every ``check_<op>`` of :mod:`refquant.testing.conformance` and by
    :func:`compare_arrays`. It subclasses ``AssertionError``, so pytest shows it as a test failure.

    Attributes
    ----------
    args : tuple of str
        The message: the operation, the tolerance, the context (spec, scale ...) and the first
        mismatching element with refquant's and the candidate's values and bit patterns.
    """


class Unsupported(Exception):
    """Raised by a *candidate* to say "this case is outside my backend".

    A conformance checker catches it, does not compare that case, and counts it (with the
    exception's message as the reason) in the :class:`~refquant.testing.conformance.CheckReport` it
    returns. The check still fails when more than ``max_unsupported`` (a fraction, default 0.5) of
    the cases, or all of them, were unsupported: a candidate cannot pass by declining everything.

    Attributes
    ----------
    args : tuple of str
        The reason, counted in the ``reasons`` of the checker's ``CheckReport``.

    Examples
    --------
    >>> def my_fq(x, scale, zero_point, spec):
    ...     if spec.axis is not None:
    ...         raise Unsupported("per-channel not implemented")
    ...     ...
    """


#: The comparison rules of :class:`Tolerance`.
TOLERANCE_KINDS = ("exact", "ulp", "rel")


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """How closely a candidate must match.

    Parameters
    ----------
    kind : {"exact", "ulp", "rel"}
        "exact": equal values (NaN equals NaN; compared in float64 after
        converting the candidate, which is lossless for float32/float64 and
        integer codes); "ulp": ``|a - b| <= ulps`` units in the last place of
        refquant's value, in refquant's dtype; "rel": ``|a - b| <= atol +
        rtol*|b|``.
    ulps : int >= 0
        Allowed distance in units in the last place (``kind="ulp"``).
    rtol, atol : finite float >= 0
        Relative and absolute bounds (``kind="rel"``).
    signed_zero : bool
        If True, wherever refquant's value is a zero the candidate's must be a
        zero of the same sign (for every *kind*). :data:`STRICT` is
        ``Tolerance("exact", signed_zero=True)``.

    Raises
    ------
    ValueError
        Unknown *kind*; negative, NaN or infinite ``ulps``/``rtol``/``atol``
        (the message names the parameter).
    TypeError
        *kind* not a str, ``signed_zero`` not a bool, ``ulps`` not an integer,
        ``rtol``/``atol`` not real numbers.

    Examples
    --------
    >>> Tolerance("rel", rtol=1e-9).describe()
    '|a - b| <= 0.0 + 1e-09*|b|'
    """

    kind: str = "exact"
    ulps: int = 0
    rtol: float = 0.0
    atol: float = 0.0
    signed_zero: bool = False

    def __post_init__(self) -> None:
        check_choice(self.kind, TOLERANCE_KINDS, "kind")
        object.__setattr__(self, "ulps", check_int(self.ulps, "ulps", 0))
        object.__setattr__(self, "rtol", check_real(self.rtol, "rtol", lo=0.0))
        object.__setattr__(self, "atol", check_real(self.atol, "atol", lo=0.0))
        object.__setattr__(self, "signed_zero", check_bool(self.signed_zero, "signed_zero"))

    def describe(self) -> str:
        """One line for error messages.

        Returns
        -------
        str
            E.g. ``"bit-exact (signed zeros distinguished)"``, ``"within 2 ulp"`` or
            ``"|a - b| <= 0.0 + 1e-09*|b|"``.

        Examples
        --------
        >>> Tolerance("ulp", ulps=2).describe()
        'within 2 ulp'
        """
        sz = " (signed zeros distinguished)" if self.signed_zero else ""
        if self.kind == "exact":
            return "bit-exact" + sz
        if self.kind == "ulp":
            return f"within {self.ulps} ulp" + sz
        return f"|a - b| <= {self.atol} + {self.rtol}*|b|" + sz


#: Equal values; ``-0.0 == +0.0`` (for outputs whose contract does not state the sign of zero).
EXACT = Tolerance("exact")

#: Equal values *and* equal signs of zero: the contract of ``fake_quant`` and ``dequantize``
#: (docs/SEMANTICS.md: a zero result is always ``+0.0``). NaN equals NaN.
STRICT = Tolerance("exact", signed_zero=True)


def _fmt(v: Any) -> str:
    if isinstance(v, (np.floating, float)):
        f = np.asarray(v)
        bits = (
            f.view(np.uint32 if f.dtype == np.float32 else np.uint64) if f.dtype in (np.float32, np.float64) else None
        )
        return f"{float(v)!r}" + (f" (bits 0x{int(bits):x})" if bits is not None else "")
    return repr(v.item() if isinstance(v, np.generic) else v)


def compare_arrays(
    expected: np.ndarray,
    got: Any,
    tol: Tolerance = EXACT,
    *,
    op: str,
    context: dict[str, Any] | None = None,
    inputs: dict[str, np.ndarray] | None = None,
    check_dtype: bool = False,
) -> None:
    """Raise :class:`ConformanceError` with a readable diff unless *got* matches *expected*.

    Parameters
    ----------
    expected : array_like
        Refquant's result.
    got : array_like
        The candidate's result (anything ``numpy.asarray`` accepts: a NumPy array, a CPU torch
        tensor ...). Converted losslessly to float64 for the comparison.
    tol : Tolerance
        How closely *got* must match (default :data:`EXACT`); integer *expected* is always compared
        exactly (and a float *got* must hold integers there).
    op : str
        The operation's name, the first word of the message.
    context : dict or None
        Further facts printed in the message (``{"spec": spec}``).
    inputs : dict of str to array or None
        Inputs of the same shape as *expected*; their element at the first mismatch is printed.
    check_dtype : bool
        Also require ``got.dtype == expected.dtype``.

    Returns
    -------
    None

    Raises
    ------
    ConformanceError
        A shape or (with *check_dtype*) dtype mismatch, a non-numeric *got*, or elements that
        differ under *tol* (the message gives the count and the first such index).
    TypeError
        *tol* not a :class:`Tolerance`, *op* not a str, *context*/*inputs* not dicts,
        *check_dtype* not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> compare_arrays(np.array([0.5, 1.0]), [0.5, 1.0], EXACT, op="demo")
    >>> try:
    ...     compare_arrays(np.array([0.5, 1.0]), [0.5, 1.5], EXACT, op="demo")
    ... except ConformanceError as e:
    ...     print(str(e).splitlines()[0])
    demo: candidate does not conform (bit-exact): 1 of 2 element(s) differ
    """
    check_type(tol, Tolerance, "tol", "a refquant.testing.Tolerance (e.g. EXACT, STRICT)")
    check_str(op, "op")
    context = {} if context is None else check_mapping(context, "context")
    inputs = {} if inputs is None else check_mapping(inputs, "inputs")
    check_bool(check_dtype, "check_dtype")
    exp = np.asarray(expected)
    try:
        g = np.asarray(got)
    except Exception as exc:
        raise ConformanceError(f"{op}: candidate output is not array-like ({type(got).__name__}): {exc}") from exc

    def fail(msg: str, idx=None) -> None:
        lines = [f"{op}: candidate does not conform ({tol.describe()}): {msg}"]
        for k, v in context.items():
            lines.append(f"  {k}: {v}")
        if idx is not None:
            lines.append(f"  first mismatch at index {idx}:")
            for name, arr in inputs.items():
                a = np.asarray(arr)
                if a.shape == exp.shape:
                    lines.append(f"    {name:<10}= {_fmt(a[idx])}")
            lines.append(f"    refquant  = {_fmt(exp[idx])}")
            lines.append(f"    candidate = {_fmt(g[idx])}")
        raise ConformanceError("\n".join(lines))

    if g.shape != exp.shape:
        fail(f"shape {g.shape} != refquant's {exp.shape}")
    if check_dtype and g.dtype != exp.dtype:
        fail(f"dtype {g.dtype} != refquant's {exp.dtype}")
    if g.dtype.kind not in "fiub":
        fail(f"candidate dtype {g.dtype} is not numeric")
    bad = mismatch_mask(exp, g, tol)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if exp.ndim else ()
        fail(f"{int(np.count_nonzero(bad))} of {exp.size} element(s) differ", idx)


def mismatch_mask(expected: np.ndarray, got: np.ndarray, tol: Tolerance = EXACT) -> np.ndarray:
    """Boolean mask of the elements of *got* that do not match *expected* under *tol*.

    Both arrays must have the same shape and a numeric dtype (the checks of
    :func:`compare_arrays` come first). Integer *expected*: equal values, and a
    float *got* must hold integers. Float *expected*: see :class:`Tolerance`.
    """
    exp, g = np.asarray(expected), np.asarray(got)
    if exp.dtype.kind in "iub":
        bad = g.astype(np.float64) != exp.astype(np.float64)
        if g.dtype.kind == "f":
            bad |= g != np.round(g)
        return bad
    e64 = exp.astype(np.float64)
    g64 = g.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        if tol.kind == "exact":
            bad = ~((e64 == g64) | (np.isnan(e64) & np.isnan(g64)))
        elif tol.kind == "ulp":
            spacing = np.abs(np.spacing(exp.astype(exp.dtype))).astype(np.float64)
            bad = ~(np.abs(e64 - g64) <= tol.ulps * spacing)
        else:
            bad = ~(np.abs(e64 - g64) <= tol.atol + tol.rtol * np.abs(e64))
    if tol.signed_zero:
        bad |= (e64 == 0) & (np.signbit(e64) != np.signbit(g64))
    return bad
