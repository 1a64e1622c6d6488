"""Comparison of a candidate's output with refquant's, with readable diffs (no Hypothesis needed).

Used by the conformance checkers (:mod:`refquant.testing.conformance`) and by
golden-vector verification (:mod:`refquant.testing.golden`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["ConformanceError", "Tolerance", "EXACT", "compare_arrays"]


class ConformanceError(AssertionError):
    """A candidate implementation disagrees with refquant (message holds the diff)."""


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """How closely a candidate must match.

    Parameters
    ----------
    kind : {"exact", "ulp", "rel"}
        ``"exact"``: bit for bit, after casting the candidate to refquant's dtype when that cast is
        lossless; ``"ulp"``: ``|a - b| <= ulps`` units in the last place of refquant's value, in
        refquant's dtype; ``"rel"``: ``|a - b| <= atol + rtol·|b|``.
    ulps : int
        Allowed distance in units in the last place (``kind="ulp"``), ``>= 0``.
    rtol, atol : float
        Relative and absolute tolerance (``kind="rel"``), ``>= 0``.
    signed_zero : bool
        If True, -0.0 and +0.0 differ under ``"exact"``.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or a negative ``ulps``, ``rtol`` or ``atol``.
    """

    kind: str = "exact"
    ulps: int = 0
    rtol: float = 0.0
    atol: float = 0.0
    signed_zero: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("exact", "ulp", "rel"):
            raise ValueError(f"kind={self.kind!r}; allowed 'exact', 'ulp', 'rel'")
        if self.ulps < 0 or self.rtol < 0 or self.atol < 0:
            raise ValueError("ulps, rtol and atol must be >= 0")

    def describe(self) -> str:
        if self.kind == "exact":
            return "bit-exact" + (" (signed zeros distinguished)" if self.signed_zero else "")
        if self.kind == "ulp":
            return f"within {self.ulps} ulp"
        return f"|a - b| <= {self.atol} + {self.rtol}*|b|"


EXACT = Tolerance("exact")


def _fmt(v: Any) -> str:
    if isinstance(v, (np.floating, float)):
        f = np.asarray(v)
        bits = f.view(np.uint32 if f.dtype == np.float32 else np.uint64) if f.dtype in (np.float32, np.float64) else None
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
    """Raise :class:`ConformanceError` with a readable diff unless *got* matches *expected*."""
    context = context or {}
    inputs = inputs or {}
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
    if exp.dtype.kind in "iub":
        bad = g.astype(np.float64) != exp.astype(np.float64)
        if g.dtype.kind == "f":
            bad |= g != np.round(g)
    else:
        e64 = exp.astype(np.float64)
        g64 = g.astype(np.float64)
        if tol.kind == "exact":
            bad = ~((e64 == g64) | (np.isnan(e64) & np.isnan(g64)))
            if tol.signed_zero:
                bad |= (e64 == 0) & (np.signbit(e64) != np.signbit(g64))
        elif tol.kind == "ulp":
            spacing = np.abs(np.spacing(exp.astype(exp.dtype))).astype(np.float64)
            bad = ~(np.abs(e64 - g64) <= tol.ulps * spacing)
        else:
            bad = ~(np.abs(e64 - g64) <= tol.atol + tol.rtol * np.abs(e64))
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0]) if exp.ndim else ()
        fail(f"{int(np.count_nonzero(bad))} of {exp.size} element(s) differ", idx)
