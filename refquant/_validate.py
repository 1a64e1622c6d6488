"""Shared argument checks for every public refquant function.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError``
(right kind, bad value) with a message of the form
``"<name>=<value>: <what is allowed>"`` so the caller sees which parameter
is wrong, what it was, and what would be accepted.  No ``assert`` is used for
user input (``python -O`` would strip it).

These helpers never modify their inputs: array helpers return either the
caller's array unchanged (read-only use) or a fresh copy.
"""
from __future__ import annotations

import numbers
import operator
from enum import Enum
from typing import Any

import numpy as np

__all__ = [
    "as_real_array",
    "check_int",
    "check_bool",
    "check_real",
    "check_axis",
    "check_enum",
    "check_finite",
    "check_positive",
    "as_rng",
    "short_repr",
]


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr`` of *value*, shortened for error messages."""
    if isinstance(value, np.ndarray):
        if value.size > 6:
            return f"array(shape={value.shape}, dtype={value.dtype})"
        text = np.array2string(value, separator=", ")
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_real_array(
    x: Any,
    name: str,
    *,
    allow_empty: bool = False,
    allow_nonfinite: bool = False,
    allow_bool: bool = False,
    allow_int: bool = True,
) -> np.ndarray:
    """Return ``np.asarray(x)`` after checking it is a real numeric array.

    Accepts anything :func:`numpy.asarray` accepts (lists, scalars, objects
    with ``__array__``). Rejects complex, object, string and (by default)
    boolean dtypes with ``TypeError``; empty arrays and NaN/inf (unless
    allowed) with ``ValueError``. The returned array may share memory with
    *x*; callers must not write to it.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy's own message is kept
        raise TypeError(f"{name} must be array-like of real numbers; np.asarray failed: {exc}") from exc
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype={arr.dtype}; pass x.real if intended")
    if kind == "b" and not allow_bool:
        raise TypeError(f"{name} must be a real numeric array, got dtype=bool")
    if kind in "iu" and not allow_int:
        raise TypeError(f"{name} must be a floating-point array, got dtype={arr.dtype}")
    if kind not in "fiub":
        raise TypeError(
            f"{name} must be a real numeric array, got dtype={arr.dtype} "
            f"(value {short_repr(x)})"
        )
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape={arr.shape}")
    if not allow_nonfinite and kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN/inf value(s); only finite values are allowed")
    return arr


def check_int(value: Any, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """Return *value* as a Python ``int`` within ``[lo, hi]``.

    Accepts Python and NumPy integers; rejects ``bool``, floats (even
    integer-valued ones) and everything else with ``TypeError``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {name}={short_repr(value)} (type={type(value).__name__})")
    v = operator.index(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        lo_s = "-inf" if lo is None else str(lo)
        hi_s = "inf" if hi is None else str(hi)
        raise ValueError(f"{name}={v} is out of range; allowed: {lo_s} <= {name} <= {hi_s}")
    return v


def check_bool(value: Any, name: str) -> bool:
    """Return *value* as ``bool``; only ``bool``/``np.bool_`` are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {name}={short_repr(value)} (type={type(value).__name__})")
    return bool(value)


def check_real(
    value: Any,
    name: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return a finite real scalar as ``float`` within the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {name}={short_repr(value)} (type={type(value).__name__})")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name}={v} must be finite")
    bad_lo = lo is not None and (v <= lo if lo_open else v < lo)
    bad_hi = hi is not None and (v >= hi if hi_open else v > hi)
    if bad_lo or bad_hi:
        left = "-inf" if lo is None else f"{lo} {'<' if lo_open else '<='} "
        right = "inf" if hi is None else f" {'<' if hi_open else '<='} {hi}"
        if lo is None:
            rng = f"{name}{right}"
        elif hi is None:
            rng = f"{left}{name}"
        else:
            rng = f"{left}{name}{right}"
        raise ValueError(f"{name}={v!r} is out of range; allowed: {rng}")
    return v


def check_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """Normalise a (possibly negative) axis for an array of *ndim* dims."""
    a = check_int(axis, name)
    if not -ndim <= a < ndim:
        raise ValueError(f"{name}={a} is out of range for an array with ndim={ndim}; allowed: {-ndim} <= {name} < {ndim}")
    return a % ndim


def check_enum(value: Any, enum_cls: type[Enum], name: str) -> Enum:
    """Return the member of *enum_cls* named by *value* (member or its string value)."""
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        for member in enum_cls:
            if member.value == value:
                return member
    allowed = ", ".join(repr(m.value) for m in enum_cls)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {allowed} (str), got {name}={short_repr(value)} (type={type(value).__name__})")
    raise ValueError(f"{name}={value!r} is not a valid choice; allowed: {allowed}")


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if *arr* has a NaN or an infinity."""
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}={short_repr(arr)} contains NaN or inf; only finite values are allowed")


def check_positive(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` unless every element of *arr* is finite and > 0."""
    check_finite(arr, name)
    if not np.all(arr > 0):
        raise ValueError(f"{name}={short_repr(arr)} must be > 0 everywhere (got min {arr.min()!r})")


def as_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """Turn a seed (non-negative int or ``SeedSequence``) or a Generator into a Generator.

    ``None`` is rejected: refquant never draws from hidden global state.
    The Generator passed in is used (and advanced) as is, not copied.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if rng is None:
        raise ValueError(f"{name}=None: an explicit seed (int >= 0) or numpy.random.Generator is required")
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (numbers.Integral, np.integer)):
        raise TypeError(
            f"{name} must be an int seed >= 0, a numpy.random.SeedSequence or a numpy.random.Generator, "
            f"got {name}={short_repr(rng)} (type={type(rng).__name__})"
        )
    seed = operator.index(rng)
    if seed < 0:
        raise ValueError(f"{name}={seed}: a seed must be >= 0")
    return np.random.default_rng(seed)



def channel_rows(a: np.ndarray, axis: Any, name: str = "x") -> np.ndarray:
    """*a* as a 2-D ``(channels, elements per channel)`` array: one row per index along the channel
    ``axis`` (statistics over all other axes), or a single row for ``axis=None``. May be a view."""
    if axis is None:
        v = a.reshape(1, -1)
    else:
        if a.ndim == 0:
            raise ValueError(f"{name} is 0-d; a channel axis needs at least one dimension")
        ax = check_axis(axis, a.ndim, "axis")
        v = np.moveaxis(a, ax, 0).reshape(a.shape[ax], -1)
    if v.shape[1] == 0:
        raise ValueError(f"{name} has an empty channel (shape {a.shape}, axis={axis})")
    return v
