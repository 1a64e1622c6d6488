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
    "MIN_BITS",
    "MAX_BITS",
    "as_real_array",
    "as_float_array",
    "check_bits",
    "check_choice",
    "check_frozen_dist",
    "check_sequence",
    "check_mapping",
    "check_no_overlap",
    "check_int",
    "check_bool",
    "check_real",
    "check_axis",
    "check_enum",
    "check_finite",
    "check_positive",
    "as_rng",
    "short_repr",
    "as_bits_array",
    "check_callable",
    "check_type",
    "check_str",
    "as_path",
]


#: Bit widths of a uniform quantizer grid, declared once for every module (``QuantSpec.bits``,
#: the clipping grids, the robustness theory, bit allocation).
MIN_BITS = 1
#: The largest bit width of a uniform quantizer grid (16: codes and ``q - z`` stay exact in float32 and int32).
MAX_BITS = 16


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
        raise TypeError(f"{name} must be a real numeric array, got dtype={arr.dtype} (value {short_repr(x)})")
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
        raise ValueError(
            f"{name}={a} is out of range for an array with ndim={ndim}; allowed: {-ndim} <= {name} < {ndim}"
        )
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
        raise TypeError(
            f"{name} must be one of {allowed} (str), got {name}={short_repr(value)} (type={type(value).__name__})"
        )
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


def channel_unrows(rows: np.ndarray, shape: tuple[int, ...], axis: int | None) -> np.ndarray:
    """The inverse of :func:`channel_rows`: ``(channels, elements per channel)`` rows back to *shape* with the
    channels along *axis* (an axis :func:`channel_rows` accepted, negative allowed; ``None``: one row)."""
    if axis is None:
        return rows.reshape(shape)
    ax = axis % len(shape)
    return np.moveaxis(rows.reshape((shape[ax],) + shape[:ax] + shape[ax + 1 :]), 0, ax)


def check_bits(value: Any, name: str = "bits", lo: int = MIN_BITS, hi: int = MAX_BITS) -> int:
    """Return a bit width as ``int`` within ``[lo, hi]`` (default the shared range ``MIN_BITS..MAX_BITS``).

    Raises ``TypeError`` for non-integers (``2.7`` is never truncated to 2, ``True`` is not 1) and
    ``ValueError`` outside the range.
    """
    return check_int(value, name, lo, hi)


def check_choice(value: Any, choices: Any, name: str) -> str:
    """Return *value* if it is one of the strings *choices*.

    Raises ``TypeError`` for a non-string and ``ValueError`` of the form
    ``grid='foo' is not one of 'midrise', 'paper', ...`` for an unknown string.
    """
    allowed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a str, one of {allowed}; got {name}={short_repr(value)} (type={type(value).__name__})"
        )
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {allowed}")
    return value


def as_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | None = None,
    min_ndim: int = 0,
    allow_empty: bool = False,
    allow_nonfinite: bool = False,
    positive: bool = False,
) -> np.ndarray:
    """A *fresh* float64 copy of a real, finite array (the caller may write to it).

    The dtype policy, the same in every statistics function: bool, complex,
    object and string arrays are rejected (``TypeError``); integers and float16
    are promoted to float64 exactly (every float16 and every integer below
    2**53 is a float64); float32/float64 are converted to float64. ``ndim``
    fixes the number of dimensions, ``min_ndim`` bounds it from below;
    ``positive`` requires every element > 0. NaN/inf and empty arrays raise
    ``ValueError`` unless allowed.
    """
    arr = as_real_array(x, name, allow_empty=allow_empty, allow_nonfinite=allow_nonfinite)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {name}.shape={arr.shape}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got {name}.shape={arr.shape}")
    out = np.array(arr, dtype=np.float64, copy=True, order="C")
    if positive and out.size and not np.all(out > 0):
        bad = out[~(out > 0)][0]
        raise ValueError(f"{name} must be > 0 everywhere, got an element {bad!r}")
    return out


def check_frozen_dist(dist: Any, name: str = "dist", *, finite_variance: bool = False) -> Any:
    """Check a frozen ``scipy.stats`` continuous distribution and return it unchanged.

    Rejects (``TypeError``) anything that is not a frozen ``rv_continuous``
    and (``ValueError``) one with invalid parameters (``stats.norm(0, -1)``:
    scipy marks them by a NaN support), and, with ``finite_variance=True``,
    one whose variance is not finite (``stats.cauchy()``, ``stats.t(1.5)``):
    the mean squared error of any finite quantizer is then infinite, so no
    MSE, optimal clip or equal-variance comparison exists.
    """
    from scipy import stats

    base = getattr(dist, "dist", None)
    if not (
        hasattr(dist, "support") and hasattr(dist, "cdf") and isinstance(base, (stats.rv_continuous, stats.rv_discrete))
    ):
        raise TypeError(
            f"{name} must be a frozen scipy.stats continuous distribution (e.g. scipy.stats.norm(0, 1)), "
            f"got {name}={short_repr(dist)} (type={type(dist).__name__})"
        )
    if not isinstance(base, stats.rv_continuous):
        raise TypeError(
            f"{name} must be a frozen *continuous* scipy.stats distribution, got the discrete {base.name!r}"
        )
    with np.errstate(all="ignore"):
        lo, hi = (float(v) for v in dist.support())
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(
            f"{name}=scipy.stats.{base.name}(args={dist.args}, kwds={dist.kwds}) has invalid parameters "
            "(scipy rejects them: e.g. scale <= 0 or a shape parameter out of its domain)"
        )
    if finite_variance:
        with np.errstate(all="ignore"):
            var = float(dist.var())
        if not np.isfinite(var):
            raise ValueError(
                f"{name}=scipy.stats.{base.name}(args={dist.args}, kwds={dist.kwds}) has infinite or "
                "undefined variance: its quantization MSE is infinite for every clip value; allowed: "
                "distributions with a finite second moment"
            )
    return dist


def check_sequence(value: Any, name: str, *, min_len: int = 0, allow_array: bool = False) -> list:
    """Return a list of the items of a list or tuple (or, with ``allow_array``, a 1-D array).

    Rejects strings, bytes, dicts, sets, generators and scalars with ``TypeError``
    (a set has no order, a generator would be consumed), and fewer than
    ``min_len`` items with ``ValueError``.
    """
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif allow_array and isinstance(value, (np.ndarray, range)) and np.ndim(value) == 1:
        items = list(value)
    else:
        kinds = "a list, a tuple" + (" or a 1-D array" if allow_array else "")
        raise TypeError(f"{name} must be {kinds}, got {name}={short_repr(value)} (type={type(value).__name__})")
    if len(items) < min_len:
        raise ValueError(f"{name} must have at least {min_len} item(s), got {len(items)}")
    return items


def check_mapping(value: Any, name: str, *, required: Any = (), optional: Any = ()) -> dict:
    """Return a ``dict`` copy of a mapping with exactly the *required* keys and possibly *optional* ones.

    ``TypeError`` for a non-mapping, ``ValueError`` naming the missing or unknown keys
    (instead of a bare ``KeyError`` deep inside the computation).
    """
    from collections.abc import Mapping

    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {name}={short_repr(value)} (type={type(value).__name__})")
    d = dict(value)
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(
            f"{name} is missing the key(s) {', '.join(map(repr, missing))}; required: {', '.join(map(repr, required))}"
        )
    if required or optional:
        unknown = [k for k in d if k not in required and k not in optional]
        if unknown:
            raise ValueError(
                f"{name} has unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                f"{', '.join(map(repr, list(required) + list(optional)))}"
            )
    return d


def check_no_overlap(out: np.ndarray, arr: np.ndarray, name: str = "out", other: str = "x") -> None:
    """Raise ``ValueError`` if *out* shares memory with *arr* without being exactly the same array layout.

    Writing a result element-wise into a buffer that partially overlaps its
    input reads already-overwritten values; an identical view (``out is x`` or
    the same memory, shape and strides) is safe for element-wise kernels.
    """
    if not np.may_share_memory(out, arr):
        return
    same = (
        out.__array_interface__["data"][0] == arr.__array_interface__["data"][0]
        and out.shape == arr.shape
        and out.strides == arr.strides
        and out.dtype == arr.dtype
    )
    if not same:
        raise ValueError(
            f"{name} partially overlaps {other} (they share memory but are not the same elements); "
            f"pass a separate buffer or {other} itself"
        )


def pow2_normalize(a: np.ndarray) -> tuple[np.ndarray, int]:
    """``(a * 2**-e, e)`` with ``e`` chosen so that ``max|a * 2**-e|`` lies in ``[0.5, 1)``.

    Multiplying by a power of two is exact (except for results below the
    smallest normal number, which are irrelevant next to a maximum near 1), so
    statistics that are scale-equivariant can be computed on the normalised
    array without overflow (``x**4`` of ``1e100``) or underflow (``x**2`` of
    ``1e-200``) and rescaled exactly by ``2**(k*e)``. ``e = 0`` for an all-zero array.
    *a* must be a finite float array; a new array is returned.
    """
    m = float(np.max(np.abs(a))) if a.size else 0.0
    if m == 0.0 or not np.isfinite(m):
        return np.array(a, dtype=np.float64), 0
    e = int(np.frexp(m)[1])
    return np.ldexp(np.asarray(a, dtype=np.float64), -e), e


def as_bits_array(bits: Any, name: str = "bits", lo: int = MIN_BITS, hi: int = MAX_BITS) -> np.ndarray:
    """A non-empty integer array of bit widths in ``[lo, hi]``, as a fresh int64 array.

    Accepts an int or any integer array-like; rejects (``TypeError``) bool, float (``2.7`` is never
    truncated to 2, ``2.0`` is not an integer), complex, object and string dtypes, and (``ValueError``) an
    empty array or an element outside ``[lo, hi]`` (the message names the first such element).
    """
    b = np.asarray(bits)
    if b.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be an integer or an integer array, got {name}={short_repr(bits)} (dtype={b.dtype})"
        )
    if b.size == 0:
        raise ValueError(f"{name} must not be empty, got shape={b.shape}")
    out_of_range = (b < lo) | (b > hi)
    if np.any(out_of_range):
        bad = b[out_of_range].flat[0]
        raise ValueError(f"{name}={int(bad)} is out of range; allowed: {lo} <= {name} <= {hi}")
    return b.astype(np.int64)


def check_callable(value: Any, name: str, signature: str = "") -> Any:
    """Return *value* if it is callable; ``TypeError`` naming *name* (and the expected *signature*) otherwise."""
    if not callable(value):
        sig = f" {signature}" if signature else ""
        raise TypeError(f"{name} must be a callable{sig}, got {name}={short_repr(value)} (type={type(value).__name__})")
    return value


def check_type(value: Any, types: Any, name: str, what: str) -> Any:
    """Return *value* if it is an instance of *types*; ``TypeError`` saying *what* is required otherwise.

    ``bool`` is never accepted for a numeric *types* tuple (``isinstance(True, int)`` is true in Python).
    """
    if not isinstance(value, types) or (isinstance(value, (bool, np.bool_)) and bool not in _as_tuple(types)):
        raise TypeError(f"{name} must be {what}, got {name}={short_repr(value)} (type={type(value).__name__})")
    return value


def _as_tuple(types: Any) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def check_str(value: Any, name: str, *, allow_empty: bool = False) -> str:
    """Return *value* if it is a ``str`` (non-empty unless *allow_empty*)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {name}={short_repr(value)} (type={type(value).__name__})")
    if not value and not allow_empty:
        raise ValueError(f"{name}='' must not be empty")
    return value


def as_path(value: Any, name: str) -> Any:
    """*value* (a ``str`` or ``os.PathLike``) as a :class:`pathlib.Path`; ``TypeError`` for anything else.

    Bytes paths, integers (a file descriptor is not a directory) and ``None`` are rejected; so is the
    empty string (``ValueError``: it would silently mean the current directory).
    """
    import os
    import pathlib

    if isinstance(value, (bytes, bytearray)) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"{name} must be a path (str or os.PathLike), got {name}={short_repr(value)} (type={type(value).__name__})"
        )
    if isinstance(value, str) and not value:
        raise ValueError(f"{name}='' is not a path; give a directory name")
    return pathlib.Path(value)
