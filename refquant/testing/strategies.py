"""Hypothesis strategies for testing quantizers (refquant's and yours).

All options are keyword-only and validated when the strategy is built
(errors name ``param=value``), in the style of ``hypothesis.extra.numpy``.

The float strategies deliberately over-sample the inputs where quantizers
disagree: exact ties ``(k + 1/2)·s`` (exact in floating point whenever the
scale is a power of two, which :func:`scales` draws often), their float
neighbours, values whose code depends on the operation order (``x / s`` vs
``x * (1/s)``, see :func:`order_sensitive_values`), exact grid points,
``±0.0``, subnormals, the clamp limits and values beyond them.

Example
-------
>>> from hypothesis import given
>>> from refquant.testing import quant_cases
>>> @given(quant_cases())
... def test_mine(case):
...     x, s, z, spec = case
...     ...  # compare my_fake_quant(x, s, z, spec) with refquant.fake_quant(x, s, z, spec)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .._validate import (
    check_bool,
    check_choice,
    check_enum,
    check_int,
    check_real,
    check_sequence,
    check_str,
    check_type,
    short_repr,
)
from ..specs import CROSSBAR_MODES, MAX_BITS, MIN_BITS, QuantSpec, Rounding, ScaleOp, _normalize_compute_dtype

__all__ = [
    "QuantCase",
    "scales",
    "quant_specs",
    "float_arrays",
    "quant_cases",
    "spec_strategy",
    "order_sensitive_values",
    "SignedBinaryCase",
    "region_layouts",
    "signed_binary_cases",
    "MatmulCase",
    "ternary_matmul_cases",
    "adc_specs",
    "crossbar_specs",
    "IMCCase",
    "imc_cases",
    "weight_layers",
]

# the classic deterministic modes; modes added later (e.g. a backend's "floor_plus_half") are drawn only when asked
_DETERMINISTIC = ("half_even", "half_away", "half_up", "floor")
# the scale ops drawn by default; "range_reciprocal" (a backend's reciprocal of its range) only when asked
_ALL_SCALE_OPS = ("divide", "reciprocal")


class QuantCase(NamedTuple):
    """A matched quantizer input: ``x`` with ``scale`` and ``zero_point`` valid for ``spec``.

    Drawn by :func:`quant_cases`; unpack it as ``x, scale, zero_point, spec = case`` and call
    ``refquant.fake_quant(x, scale, zero_point, spec)`` (or ``quantize``).

    Attributes
    ----------
    x : ndarray of float32 or float64
        The input tensor.
    scale : float, NumPy float scalar or 1-D ndarray
        A positive scale in the compute dtype: a scalar per tensor, one per channel (length
        ``x.shape[spec.axis]``) per channel.
    zero_point : int or 1-D int64 ndarray
        In ``[spec.qmin, spec.qmax]``; per channel one per channel.
    spec : QuantSpec
        The grid and rounding rule; its ``axis`` fits ``x``.
    """

    x: np.ndarray
    scale: object
    zero_point: object
    spec: QuantSpec


#: Zero points and code limits drawn or pinned by the strategies lie within +-2**MAX_BITS (every QuantSpec's codes do).
_CODE_LIMIT = 2**MAX_BITS


def _check_dtype(dtype, name: str = "dtype") -> np.dtype:
    """A float dtype of the data (float32 or float64, the compute dtypes of :class:`QuantSpec`); not None."""
    if dtype is None:
        raise TypeError(f"{name}=None: a float dtype is required (np.float32, np.float64 or their names)")
    return np.dtype(_normalize_compute_dtype(dtype, name))


def _check_strategy(value, name: str, what: str = "a Hypothesis strategy"):
    """*value* if it is a Hypothesis ``SearchStrategy`` (or None); TypeError naming *name* otherwise."""
    if value is None:
        return None
    return check_type(value, st.SearchStrategy, name, f"None or {what}")


def scales(*, dtype=np.float32, power_of_two: bool | None = None) -> st.SearchStrategy:
    """Positive scales, finite with a finite reciprocal, exactly representable in *dtype*.

    Parameters
    ----------
    dtype : np.float32, np.float64, "float32" or "float64"
        The compute dtype the scales must be values of (default float32).
    power_of_two : bool or None
        ``None`` (default) mixes powers of two (``2**-20`` to ``2**10``, which make ties exact) with
        arbitrary values in ``[2**-20, 1024]``; ``True``/``False`` restrict to one kind.

    Returns
    -------
    SearchStrategy of float
        Python floats equal to a *dtype* value.

    Raises
    ------
    TypeError
        ``dtype=None`` or a non-dtype; ``power_of_two`` not a bool or None.
    ValueError
        A dtype other than float32/float64.

    Examples
    --------
    >>> from refquant.testing import scales
    >>> s = scales(dtype="float64", power_of_two=True)
    """
    dt = _check_dtype(dtype)
    if power_of_two is not None:
        check_bool(power_of_two, "power_of_two")
    pow2 = st.integers(-20, 10).map(lambda e: float(2.0**e))
    width = 32 if dt == np.float32 else 64
    generic = st.floats(2.0**-20, 1024.0, width=width).map(float)
    if power_of_two is True:
        return pow2
    if power_of_two is False:
        return generic
    return st.one_of(pow2, generic)


def quant_specs(
    *,
    min_bits: int = MIN_BITS,
    max_bits: int = MAX_BITS,
    signed: bool | None = None,
    narrow_range: bool | None = None,
    axis: int | None | st.SearchStrategy = None,
    roundings: Sequence[str] = _DETERMINISTIC,
    scale_ops: Sequence[str] = _ALL_SCALE_OPS,
    compute_dtypes: Sequence = (None, "float32", "float64"),
    **knobs: Sequence,
) -> st.SearchStrategy:
    """Valid :class:`~refquant.specs.QuantSpec` objects.

    Parameters
    ----------
    min_bits, max_bits : int
        Code width range (1..16).
    signed, narrow_range : bool or None
        ``None`` draws both values.
    axis : int, None or a strategy
        The ``axis`` of every spec (default ``None``: per tensor); a strategy
        draws it.
    roundings : sequence of str
        Default the four classic deterministic modes (``half_even``,
        ``half_away``, ``half_up``, ``floor``). Stochastic rounding (specs that
        need an ``rng``) and any later-added mode are drawn only when listed.
    scale_ops : sequence of str
        The ``scale_op`` values to draw (default all).
    compute_dtypes : sequence of None, "float32", "float64"
        The ``compute_dtype`` values to draw (default all three).
    **knobs : sequence
        Further ``QuantSpec`` fields by their plural name, each a non-empty
        sequence of values to draw from (e.g. ``zero_point_ops=["after_round",
        "before_round"]`` for a ``zero_point_op`` field). Fields not named keep
        ``QuantSpec``'s default, so new knobs are off unless asked for.

    Returns
    -------
    SearchStrategy of QuantSpec

    Raises
    ------
    TypeError
        A non-integer bit width or ``axis``, ``signed``/``narrow_range`` not
        a bool or None, ``roundings``/``scale_ops``/``compute_dtypes`` or a
        knob not a list or tuple (a str, a set, a dict), holding a non-str, or
        a knob value of the wrong type for its field (the message names the
        keyword and index, e.g. ``domains[0]``).
    ValueError
        Empty sequences, unknown enum values (the message names e.g.
        ``roundings[1]``), bit widths outside 1..16, ``min_bits > max_bits``,
        a knob that is not a field of this refquant's ``QuantSpec``, or a knob
        value the field refuses (named as ``zero_point_ops[1]``). All checked
        when the strategy is built.

    Examples
    --------
    >>> from refquant.testing import quant_specs
    >>> s = quant_specs(min_bits=4, max_bits=8, roundings=["half_even"], compute_dtypes=["float32"])
    """
    lo = check_int(min_bits, "min_bits", MIN_BITS, MAX_BITS)
    hi = check_int(max_bits, "max_bits", MIN_BITS, MAX_BITS)
    if lo > hi:
        raise ValueError(f"min_bits={lo} is larger than max_bits={hi}")
    if signed is not None:
        check_bool(signed, "signed")
    if narrow_range is not None:
        check_bool(narrow_range, "narrow_range")
    if axis is not None and not isinstance(axis, st.SearchStrategy):
        check_int(axis, "axis")
    roundings = [
        check_enum(r, Rounding, f"roundings[{i}]").value for i, r in enumerate(_values(roundings, "roundings"))
    ]
    scale_ops = [check_enum(o, ScaleOp, f"scale_ops[{i}]").value for i, o in enumerate(_values(scale_ops, "scale_ops"))]
    compute_dtypes = [
        _normalize_compute_dtype(c, f"compute_dtypes[{i}]")
        for i, c in enumerate(_values(compute_dtypes, "compute_dtypes"))
    ]
    fields = {f.name for f in dataclasses.fields(QuantSpec)}
    knob_values = {}  # QuantSpec field -> (the caller's keyword, the values to draw)
    for plural, values in knobs.items():
        field = plural[:-1] if plural.endswith("s") else plural
        if field not in fields or field in (
            "bits",
            "signed",
            "narrow_range",
            "axis",
            "rounding",
            "scale_op",
            "compute_dtype",
        ):
            extra = sorted(
                f + "s"
                for f in fields - {"bits", "signed", "narrow_range", "axis", "rounding", "scale_op", "compute_dtype"}
            )
            raise ValueError(f"{plural}=: QuantSpec has no field {field!r} to draw; allowed knobs: {extra}")
        values = _values(values, plural)
        for i, v in enumerate(values):  # validate each value once, here, with QuantSpec's own checks
            try:  # alone, beside the fields it requires (fused and reciprocal_dtype: a reciprocal; blocks: an axis)
                QuantSpec(8, **{field: v}, **_knob_context(field, v))
            except (TypeError, ValueError) as exc:  # name the caller's keyword, not only the spec field
                raise type(exc)(f"{plural}[{i}]={v!r} is not a valid QuantSpec.{field}: {exc}") from None
        knob_values[field] = (plural, list(values))
    knob_st = {field: st.sampled_from(vals) for field, (_, vals) in knob_values.items()}
    signed_st = st.booleans() if signed is None else st.just(check_bool(signed, "signed"))
    narrow_st = st.booleans() if narrow_range is None else st.just(check_bool(narrow_range, "narrow_range"))
    axis_st = axis if isinstance(axis, st.SearchStrategy) else st.just(axis)
    _check_some_spec_valid(
        (lo, hi),
        signed,
        narrow_range,
        axis,
        roundings,
        scale_ops,
        compute_dtypes,
        knob_values,
    )

    @st.composite
    def build(draw):
        bits = draw(st.integers(lo, hi))
        sg = draw(signed_st)
        nr = draw(narrow_st)
        if sg and nr and bits < 2:
            nr = False
        fields = dict(
            signed=sg,
            narrow_range=nr,
            axis=draw(axis_st),
            rounding=draw(st.sampled_from(list(roundings))),
            scale_op=draw(st.sampled_from(list(scale_ops))),
            compute_dtype=draw(st.sampled_from(list(compute_dtypes))),
            **{f: draw(k) for f, k in knob_st.items()},
        )
        try:
            return QuantSpec(bits, **fields)
        except ValueError:  # a combination the fields refuse together (fused with divide, one code with a range)
            reject()  # at least one combination is valid: checked when the strategy was built

    return build()


def _knob_context(field: str, value) -> dict:
    """The fields a knob value needs beside it to form a valid QuantSpec on its own."""
    if (field == "zero_point_op" and value == "fused") or (field == "reciprocal_dtype" and value is not None):
        return {"scale_op": "reciprocal"}
    if field == "block_size" and value is not None:
        return {"axis": 0}
    return {}


def _check_some_spec_valid(bits, signed, narrow, axis, roundings, scale_ops, dtypes, knob_values) -> None:
    """Refuse options under which no drawn combination is a valid QuantSpec (e.g. only ``"fused"`` zero
    points with only ``"divide"``); the draws then reject the invalid combinations only. *knob_values* maps
    a QuantSpec field to ``(the caller's keyword, its values)``."""
    axes = [0, None] if isinstance(axis, st.SearchStrategy) else [axis]
    choices = [
        sorted(set(bits)),
        [True, False] if signed is None else [signed],
        [True, False] if narrow is None else [narrow],
        axes,
        list(roundings),
        list(scale_ops),
        list(dtypes),
        *(vals for _, vals in knob_values.values()),
    ]
    if math.prod(len(c) for c in choices) > 100_000:
        return
    for combo in itertools.product(*choices):
        b, sg, nr, ax, r, so, cd, *kv = combo
        try:
            QuantSpec(
                b,
                signed=sg,
                narrow_range=nr and not (sg and b < 2),
                axis=ax,
                rounding=r,
                scale_op=so,
                compute_dtype=cd,
                **dict(zip(knob_values, kv)),
            )
            return
        except ValueError:
            continue
    names = ", ".join(["scale_ops", *(kw for kw, _ in knob_values.values())])
    raise ValueError(f"no QuantSpec combines the values given ({names}, bit widths, signed/narrow_range, axis)")


#: order_sensitive_values: ties k in [-2**31, 2**31], at most 2**16 of them, at most 64 neighbours each way.
_ORDER_K_BOUND = 2**31
_ORDER_K_LIMIT = 2**16
_ORDER_MAX_ULPS = 64


def _values(seq, name: str) -> list:
    """A non-empty list or tuple of choices (a str, a set or a generator is an error naming *name*)."""
    return check_sequence(seq, name, min_len=1)


def order_sensitive_values(dtype, scale: float, k_lo: int, k_hi: int, max_ulps: int = 4) -> np.ndarray:
    """Values ``x`` near ties whose half-even code differs between ``x / s`` and ``x * (1/s)``.

    Searches the ``max_ulps`` float neighbours on each side of every tie ``(k + 1/2)·s``,
    ``k_lo <= k <= k_hi``, in *dtype*. Empty when the scale is a power of two (then both orders are
    exact). These are the inputs that tell an ONNX-style (divide) quantizer from a PyTorch-style
    (reciprocal) one.

    Parameters
    ----------
    dtype : np.float32, np.float64, "float32" or "float64"
        The arithmetic of both orders.
    scale : float > 0
        Rounded to *dtype*; it and its reciprocal must be positive and finite there.
    k_lo, k_hi : int
        Range of tie indices: ``-2**31 <= k_lo <= 2**31`` and ``k_lo <= k_hi <= k_lo + 2**16``.
    max_ulps : int, 0..64
        Neighbours searched on each side of a tie (0: the ties alone).

    Returns
    -------
    ndarray of *dtype*
        Sorted, unique, finite values.

    Raises
    ------
    TypeError
        ``dtype=None``; ``scale`` not a real number; ``k_lo``/``k_hi``/``max_ulps`` not integers.
    ValueError
        A dtype other than float32/float64; a scale that is not finite and > 0 (or not in *dtype*);
        an index or ``max_ulps`` out of its range.

    Examples
    --------
    >>> import numpy as np
    >>> from refquant.testing import order_sensitive_values
    >>> order_sensitive_values(np.float32, 0.25, -3, 3).size   # a power of two: both orders agree
    0
    """
    dt = _check_dtype(dtype)
    scale = check_real(scale, "scale", lo=0.0, lo_open=True)
    k_lo = check_int(k_lo, "k_lo", -_ORDER_K_BOUND, _ORDER_K_BOUND)
    k_hi = check_int(k_hi, "k_hi", k_lo, k_lo + _ORDER_K_LIMIT)
    max_ulps = check_int(max_ulps, "max_ulps", 0, _ORDER_MAX_ULPS)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        s = dt.type(scale)
        r = dt.type(1) / s
    if not (s > 0 and np.isfinite(s) and np.isfinite(r)):
        raise ValueError(f"scale={scale!r} is not a positive {dt.name} with a finite reciprocal")
    ties = ((np.arange(k_lo, k_hi + 1, dtype=np.float64) + 0.5) * float(s)).astype(dt)
    cands = [ties]
    up, down = ties.copy(), ties.copy()
    for _ in range(max_ulps):
        up = np.nextafter(up, dt.type(np.inf))
        down = np.nextafter(down, dt.type(-np.inf))
        cands += [up, down]
    x = np.concatenate(cands)
    with np.errstate(over="ignore", invalid="ignore"):
        differ = np.rint(x / s) != np.rint(x * r)
    return np.unique(x[differ & np.isfinite(x)])


@functools.lru_cache(maxsize=512)
def _element_strategy(
    dt: np.dtype, scale: float, zero_point: int, qmin: int, qmax: int, allow_subnormal: bool, max_magnitude: float
):
    width = 32 if dt == np.float32 else 64
    tiny = float(np.finfo(dt).tiny)
    k_lo = qmin - zero_point - 3
    k_hi = qmax - zero_point + 3

    def cast(v: float) -> float:
        with np.errstate(over="ignore"):
            return float(dt.type(v))

    ks = st.integers(k_lo, k_hi)
    ties = ks.map(lambda k: cast((k + 0.5) * scale))
    grid = ks.map(lambda k: cast(k * scale))
    near = st.tuples(ties, st.sampled_from([-1, 1])).map(
        lambda t: float(np.nextafter(dt.type(t[0]), dt.type(np.inf * t[1])))
    )
    zeros = st.sampled_from([0.0, -0.0])
    edges = st.sampled_from([qmin - zero_point, qmax - zero_point]).flatmap(
        lambda k: st.sampled_from([cast(k * scale), cast((k - 0.5) * scale), cast((k + 0.5) * scale)])
    )
    limit = cast(min(float(np.finfo(dt).max) / 4, max_magnitude))
    beyond_lo = cast(min(limit / 2, max(abs(k_lo), abs(k_hi)) * scale * 2 + 1))
    beyond = st.floats(beyond_lo, limit, width=width).flatmap(lambda v: st.sampled_from([v, -v]))
    span = cast(max(abs(k_lo), abs(k_hi)) * scale * 1.5)
    general = st.floats(-span, span, width=width, allow_subnormal=allow_subnormal)
    parts = [ties, ties, near, grid, zeros, edges, beyond, general, general]
    sensitive = order_sensitive_values(dt, scale, max(k_lo, -4096), min(k_hi, 4096))
    if sensitive.size:
        parts += [st.sampled_from([float(v) for v in sensitive])] * 2
    if allow_subnormal:
        parts.append(st.floats(-tiny, tiny, width=width, allow_subnormal=True, exclude_min=True, exclude_max=True))
    if limit > max_magnitude:  # the cast rounded up: step back to a dtype value inside the cap
        limit = float(np.nextafter(dt.type(limit), dt.type(0)))
    # every element (ties and grid points of a coarse grid too) stays within the cap
    return st.one_of(*parts).map(lambda v: v if abs(v) <= limit else float(np.copysign(limit, v)))


def float_arrays(
    *,
    dtype=np.float32,
    shape,
    scale: float = 1.0,
    zero_point: int = 0,
    qmin: int = -128,
    qmax: int = 127,
    allow_subnormal: bool = True,
    max_magnitude: float | None = None,
) -> st.SearchStrategy:
    """Float arrays rich in ties, grid points, ±0, subnormals and clamp edges.

    Parameters
    ----------
    dtype : np.float32, np.float64, "float32" or "float64"
        Element dtype (default float32).
    shape : int, tuple of int or a strategy of shapes
        Array shape (sides ``0..2**20``), as ``hypothesis.extra.numpy.arrays`` takes it.
    scale : float > 0
        The grid the values are placed around: ties at ``(k + 1/2)·scale`` for codes
        ``k + zero_point`` from ``qmin - 3`` to ``qmax + 3``.
    zero_point, qmin, qmax : int
        ``-2**16 <= qmin <= qmax <= 2**16`` and ``qmin <= zero_point <= qmax``.
    allow_subnormal : bool
        Include subnormal values.
    max_magnitude : float > 0 or None
        Largest ``|value|`` drawn for the "far beyond the clamp range" elements (default: a quarter
        of the dtype's max). Pass the compute dtype's range when it is narrower than *dtype*
        (float64 data, float32 arithmetic), so that no value overflows on conversion.

    Returns
    -------
    SearchStrategy of ndarray

    Raises
    ------
    TypeError
        ``dtype=None``, ``shape`` not an int, sequence or strategy; a non-integer ``zero_point``,
        ``qmin``, ``qmax`` or side; ``scale``/``max_magnitude`` not real numbers;
        ``allow_subnormal`` not a bool.
    ValueError
        A dtype other than float32/float64, a negative side, ``scale``/``max_magnitude`` not finite
        and > 0, or code limits out of their ranges. All checked when the strategy is built.
    """
    dt = _check_dtype(dtype)
    shape = _check_shape(shape)
    scale = check_real(scale, "scale", lo=0.0, lo_open=True)
    qmin = check_int(qmin, "qmin", -_CODE_LIMIT, _CODE_LIMIT)
    qmax = check_int(qmax, "qmax", qmin, _CODE_LIMIT)
    zero_point = check_int(zero_point, "zero_point", qmin, qmax)
    allow_subnormal = check_bool(allow_subnormal, "allow_subnormal")
    if max_magnitude is None:
        max_magnitude = float(np.finfo(dt).max) / 4
    else:
        max_magnitude = check_real(max_magnitude, "max_magnitude", lo=0.0, lo_open=True)
    elems = _element_strategy(dt, float(scale), zero_point, qmin, qmax, allow_subnormal, max_magnitude)
    return hnp.arrays(dt, shape, elements=elems)


def _check_shape(shape):
    """An array shape for ``hnp.arrays``: an int >= 0, a list/tuple of them, or a strategy of shapes."""
    if isinstance(shape, st.SearchStrategy):
        return shape
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        return (check_int(shape, "shape", 0, _MAX_SIDE),)
    if not isinstance(shape, (list, tuple)):
        raise TypeError(
            f"shape must be an int, a tuple of ints or a Hypothesis strategy of shapes, got shape={short_repr(shape)} "
            f"(type={type(shape).__name__})"
        )
    return tuple(check_int(d, f"shape[{i}]", 0, _MAX_SIDE) for i, d in enumerate(shape))


#: Largest side of a fixed array shape drawn by :func:`float_arrays`.
_MAX_SIDE = 2**20


def spec_strategy(specs, *, name: str = "specs") -> st.SearchStrategy:
    """Normalise a *specs* option to a strategy of :class:`~refquant.specs.QuantSpec`.

    Parameters
    ----------
    specs : None, SearchStrategy, QuantSpec or list/tuple of QuantSpec
        ``None``: every deterministic spec (:func:`quant_specs`). A strategy is returned as is; one
        ``QuantSpec`` is drawn always; a non-empty list or tuple is drawn with ``sampled_from``
        (shrinking towards the first).
    name : str
        The parameter name used in error messages (default ``"specs"``).

    Returns
    -------
    SearchStrategy of QuantSpec

    Raises
    ------
    TypeError
        Anything else, a sequence holding a non-``QuantSpec`` (the message names ``<name>[i]``), or
        a non-str *name*.
    ValueError
        An empty sequence.

    Examples
    --------
    >>> import refquant as rq
    >>> from refquant.testing import spec_strategy
    >>> st8 = spec_strategy([rq.QuantSpec(8), rq.QuantSpec(8, signed=False)])
    """
    check_str(name, "name")
    if specs is None:
        return quant_specs()
    if isinstance(specs, st.SearchStrategy):
        return specs
    if isinstance(specs, QuantSpec):
        return st.just(specs)
    if isinstance(specs, (list, tuple)):
        if not specs:
            raise ValueError(f"{name}=[] is empty; give at least one QuantSpec")
        for i, sp in enumerate(specs):
            if not isinstance(sp, QuantSpec):
                raise TypeError(f"{name}[{i}] must be a QuantSpec, got type={type(sp).__name__}")
        return st.sampled_from(list(specs))
    raise TypeError(
        f"{name} must be None, a Hypothesis strategy of QuantSpec, a QuantSpec or a list of QuantSpec; "
        f"got type={type(specs).__name__}"
    )


def _check_scale_option(scale):
    if scale is None or callable(scale):
        return scale
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"scale must be None, a positive float or a callable (x, spec) -> scale; got type={type(scale).__name__}"
        )
    v = float(scale)
    if not (np.isfinite(v) and v > 0 and np.isfinite(1.0 / v)):
        raise ValueError(f"scale={scale!r} must be finite and > 0 with a finite reciprocal")
    return v


def _fixed_scale(v: float, cdt: np.dtype) -> float:
    with np.errstate(over="ignore", under="ignore"):
        c = cdt.type(v)
        r = cdt.type(1) / c if c > 0 else cdt.type(np.inf)
    if not (np.isfinite(c) and c > 0 and np.isfinite(r)):
        raise ValueError(f"scale={v!r} is not a positive {cdt.name} with a finite reciprocal")
    return float(c)


def _as_channel_values(value, n: int, axis, dtype, what: str, spec, block_shape=None) -> object:
    """Check a supplied scale / zero point: a scalar per tensor, n values per channel, *block_shape* per block."""
    a = np.asarray(value)
    if block_shape is not None:
        if a.shape not in (tuple(block_shape), ()):
            raise ValueError(f"{what} returned shape {a.shape} for a blocked spec; expected {block_shape} ({spec})")
        return np.broadcast_to(a, block_shape).astype(dtype)
    if axis is None:
        if a.size != 1:
            raise ValueError(f"{what} returned shape {a.shape} for a per-tensor spec; expected one value ({spec})")
        return a.reshape(()).astype(dtype)[()]
    if a.shape not in ((n,), ()):
        raise ValueError(f"{what} returned shape {a.shape} for a per-channel spec with {n} channel(s) ({spec})")
    return np.broadcast_to(a, (n,)).astype(dtype)


def quant_cases(
    *,
    dtype=None,
    specs=None,
    per_channel: bool | None = None,
    max_dims: int = 3,
    max_side: int = 6,
    power_of_two_scales: bool | None = None,
    allow_subnormal: bool = True,
    max_magnitude: float | None = None,
    scale=None,
    zero_point: int | None = None,
    calibrate=None,
    blocked: bool | None = False,
) -> st.SearchStrategy:
    """Matched :class:`QuantCase` draws ``(x, scale, zero_point, spec)``.

    Parameters
    ----------
    dtype : float32, float64 or None
        Input dtype (``None`` draws both).
    specs : None, strategy, QuantSpec or list of QuantSpec
        The configurations to draw (see :func:`spec_strategy`; default every
        deterministic spec). Their ``axis`` is replaced to fit ``x``.
    per_channel : bool or None
        Only per-tensor (False), only per-channel along a random axis (True,
        independent scales and zero points per channel) or both (None).
    max_dims : int, 1..6
        Largest rank of ``x``. Shapes shrink towards 1-D and sides towards 1.
    max_side : int, 1..64
        Largest side of ``x``.
    power_of_two_scales : bool or None
        Drawn scales are powers of two (True: ties are exact), arbitrary
        (False) or both (None). Ignored when *scale* or *calibrate* is given.
    allow_subnormal : bool
        Include subnormal input values.
    max_magnitude : float > 0 or None
        Largest ``|x|`` drawn (default: a quarter of the compute dtype's
        largest value, so that nothing overflows the compute dtype).
    scale : None, positive float or callable
        ``None``: drawn. A float: every case (and every channel) uses this
        scale, rounded to the compute dtype (it must be a positive value there
        with a finite reciprocal); inputs are laid out around its grid. A
        callable ``scale(x, spec)`` is called on the drawn ``x`` and returns
        the scale (a scalar per tensor, a length-C array per channel), e.g. a
        backend's calibration.
    zero_point : None or int
        ``None``: drawn in ``[qmin, qmax]``. An int pins the zero point of
        every case and channel (``0`` for symmetric backends); it must lie in
        the code range of every drawn spec.
    calibrate : None or callable
        ``calibrate(x, spec) -> (scale, zero_point)`` supplies both from the
        drawn ``x`` (e.g. :func:`refquant.calibrate_minmax` or a backend's
        observer). Exclusive with *scale* and *zero_point*.
    blocked : bool or None
        Blocked quantization (``QuantSpec.block_size``, ONNX QuantizeLinear
        opset 21): ``False`` (default) never, ``True`` every case, ``None``
        both (shrinking towards unblocked cases). A blocked case draws an
        axis of ``x`` and a block size from 1 to that axis's length (so the
        last block is often partial), and one scale and zero point per block:
        arrays of ``x``'s shape with the axis replaced by
        ``ceil(x.shape[axis] / block_size)``. A *scale* / *calibrate* callable
        returns that shape (or a scalar). Takes precedence over *per_channel*
        for the cases it draws.

    Returns
    -------
    SearchStrategy of QuantCase
        Values never overflow the compute dtype (so every case is valid input
        under refquant's default ``nonfinite="raise"``).

    Raises
    ------
    ValueError, TypeError
        Bad options, when the strategy is built (the message names the
        parameter): a dtype other than float32/float64, a bad *specs*
        (:func:`spec_strategy`), flags that are not bool or None,
        ``max_dims``/``max_side`` out of range, ``max_magnitude`` or a fixed
        *scale* not finite and > 0, a non-integer *zero_point* or one outside
        ``[-2**16, 2**16]``, a non-callable *calibrate*, or *calibrate* with
        *scale*/*zero_point*. A pinned *zero_point* outside a drawn spec's
        code range, or a *scale*/*calibrate* callable returning a
        non-positive, non-finite or wrongly shaped value, raises
        ``ValueError`` when the case is drawn.

    Examples
    --------
    >>> import refquant as rq
    >>> from refquant.testing import quant_cases
    >>> s = quant_cases(specs=[rq.QuantSpec(8)], per_channel=False, zero_point=0)
    """
    dtypes = st.sampled_from([np.float32, np.float64]) if dtype is None else st.just(_check_dtype(dtype))
    max_dims = check_int(max_dims, "max_dims", 1, 6)
    max_side = check_int(max_side, "max_side", 1, 64)
    specs = spec_strategy(specs)
    pc = st.booleans() if per_channel is None else st.just(check_bool(per_channel, "per_channel"))
    if power_of_two_scales is not None:
        check_bool(power_of_two_scales, "power_of_two_scales")
    allow_subnormal = check_bool(allow_subnormal, "allow_subnormal")
    if blocked is not None:
        blocked = check_bool(blocked, "blocked")
    if max_magnitude is not None:
        max_magnitude = check_real(max_magnitude, "max_magnitude", lo=0.0, lo_open=True)
    scale = _check_scale_option(scale)
    if zero_point is not None:
        zero_point = check_int(zero_point, "zero_point", -_CODE_LIMIT, _CODE_LIMIT)
    if calibrate is not None:
        if not callable(calibrate):
            raise TypeError(
                f"calibrate must be a callable (x, spec) -> (scale, zero_point), got type={type(calibrate).__name__}"
            )
        if scale is not None or zero_point is not None:
            raise ValueError("calibrate supplies both scale and zero_point; do not also pass scale= or zero_point=")

    @st.composite
    def build(draw):
        dt = np.dtype(draw(dtypes))
        # rank first, then each side, all shrinking towards 1: a failure ends as a short 1-D array
        ndim = draw(st.integers(1, max_dims))
        shape = tuple(draw(st.integers(1, max_side)) for _ in range(ndim))
        spec = draw(specs)
        pshape = None
        if blocked is True or (blocked is None and draw(st.booleans())):
            axis = draw(st.integers(0, ndim - 1))
            side = shape[axis]
            if draw(st.booleans()):
                axis -= ndim  # the same axis counted from the end
            bsize = draw(st.integers(1, side))
            spec = spec.replace(axis=axis, block_size=bsize)
            pshape = list(shape)
            pshape[axis] = -(-side // bsize)
            pshape = tuple(pshape)
            n = math.prod(pshape)
        elif draw(pc):
            if ndim > 1 and draw(st.booleans()):
                # equal sides: a per-channel implementation that uses the wrong axis still broadcasts
                # (no shape error to save it), so the value mismatch is what exposes it
                shape = (shape[0],) * ndim
            axis = draw(st.integers(0, ndim - 1))
            if draw(st.booleans()):
                axis -= ndim  # the same axis counted from the end
            spec = spec.replace(axis=axis, block_size=None)
            n = shape[axis]
        else:
            spec = spec.replace(axis=None, block_size=None)
            n = 1
        if zero_point is not None and not spec.qmin <= zero_point <= spec.qmax:
            raise ValueError(
                f"zero_point={zero_point} is outside the code range [{spec.qmin}, {spec.qmax}] of {spec}; "
                "restrict specs to ones that contain it"
            )
        cdt = spec.resolve_compute_dtype(dt)
        if isinstance(scale, float):
            ss = [_fixed_scale(scale, cdt)] * n
        else:
            ss = [draw(scales(dtype=cdt, power_of_two=power_of_two_scales)) for _ in range(n)]
        if zero_point is not None:
            zs = [zero_point] * n
        else:
            zs = [draw(st.integers(spec.qmin, spec.qmax)) for _ in range(n)]
        cap = float(np.finfo(cdt).max) / 4
        cap = cap if max_magnitude is None else min(cap, max_magnitude)
        # values are laid out around channel 0's grid; other channels see near-ties too when scales agree
        x = draw(
            float_arrays(
                dtype=dt,
                shape=shape,
                scale=ss[0],
                zero_point=zs[0],
                qmin=spec.qmin,
                qmax=spec.qmax,
                allow_subnormal=allow_subnormal,
                max_magnitude=cap,
            )
        )
        s_out = ss[0] if spec.axis is None else np.array(ss, dtype=cdt).reshape(pshape or (n,))
        z_out = zs[0] if spec.axis is None else np.array(zs, dtype=np.int64).reshape(pshape or (n,))
        if callable(scale):
            s_out = _as_channel_values(scale(x.copy(), spec), n, spec.axis, cdt, "scale(x, spec)", spec, pshape)
        elif calibrate is not None:
            got = calibrate(x.copy(), spec)
            if not (isinstance(got, tuple) and len(got) == 2):
                raise ValueError(f"calibrate(x, spec) must return (scale, zero_point), got {type(got).__name__}")
            s_out = _as_channel_values(got[0], n, spec.axis, cdt, "calibrate(x, spec) scale", spec, pshape)
            z_raw = np.asarray(got[1])
            if z_raw.dtype.kind not in "iu" and not np.all(np.round(z_raw) == z_raw):
                raise ValueError(f"calibrate(x, spec) returned a non-integer zero point {z_raw!r}")
            z_out = _as_channel_values(z_raw, n, spec.axis, np.int64, "calibrate(x, spec) zero point", spec, pshape)
            z_out = int(z_out) if spec.axis is None else z_out
        s_chk = np.asarray(s_out, dtype=np.float64)
        if not np.all(np.isfinite(s_chk) & (s_chk > 0)):
            raise ValueError(f"the supplied scale {s_out!r} is not finite and > 0 ({spec})")
        return QuantCase(x, s_out, z_out, spec)

    return build()


# ---------------------------------------------------------------- signed-binary and repetition cases


class SignedBinaryCase(NamedTuple):
    """Matched :func:`refquant.binarize.signed_binarize` input: call ``signed_binarize(w, **kwargs)``.

    Attributes
    ----------
    w : ndarray of float64
        The weights (conv-like ``(C_out, C_in, R, S)`` or linear, filter axis anywhere).
    kwargs : dict
        ``threshold``, ``axis``, ``region`` and possibly ``signs`` (an int array of -1/+1 per filter
        and region).
    """

    w: np.ndarray
    kwargs: dict


def region_layouts(*, max_filters: int = 6, max_channels: int = 8, max_spatial: int = 3) -> st.SearchStrategy:
    """``(shape, axis, region)`` triples valid for :func:`refquant.binarize.region_layout`.

    Shapes are conv-like ``(C_out, C_in, R, S)`` or linear ``(C_out, C_in)``, with the filter axis
    anywhere; ``region`` is ``None`` (whole filter) or a divisor of the input-channel count
    (including 1 and the full count).

    Parameters
    ----------
    max_filters : int, 1..256
        Largest number of filters ``C_out``.
    max_channels : int, 1..256
        Largest number of input channels ``C_in``.
    max_spatial : int, 1..7
        Largest kernel side ``R = S``.

    Returns
    -------
    SearchStrategy of (tuple of int, int, int or None)

    Raises
    ------
    TypeError, ValueError
        A non-integer or out-of-range bound (the message names it), when the strategy is built.
    """
    max_filters = check_int(max_filters, "max_filters", 1, 256)
    max_channels = check_int(max_channels, "max_channels", 1, 256)
    max_spatial = check_int(max_spatial, "max_spatial", 1, 7)
    return _region_layouts(max_filters, max_channels, max_spatial)


@st.composite
def _region_layouts(draw, max_filters: int, max_channels: int, max_spatial: int):
    c_out = draw(st.integers(1, max_filters))
    c_in = draw(st.integers(1, max_channels))
    conv = draw(st.booleans())
    base = [c_out, c_in] + ([draw(st.integers(1, max_spatial))] * 2 if conv else [])
    # put the filter axis anywhere; the input-channel axis is the first of the others (region_layout's rule)
    axis = draw(st.integers(0, len(base) - 1))
    shape = base[1:]
    shape.insert(axis, c_out)
    region = draw(st.one_of(st.none(), st.sampled_from([d for d in range(1, c_in + 1) if c_in % d == 0])))
    return tuple(shape), axis, region


def signed_binary_cases(*, explicit_signs: bool | None = None) -> st.SearchStrategy:
    """:class:`SignedBinaryCase` draws: weights with ties at the threshold, all-zero and single-sign regions.

    Weights include exact ``±threshold·max|w|`` values of a region (the ``>=`` boundary), exact
    zeros, and regions whose weights all have one sign, on every layout of :func:`region_layouts`.

    Parameters
    ----------
    explicit_signs : bool or None
        ``True``: always pass an explicit sign map ``signs``; ``False``: never (the default rule);
        ``None`` (default): both.

    Returns
    -------
    SearchStrategy of SignedBinaryCase

    Raises
    ------
    TypeError
        ``explicit_signs`` not a bool or None, when the strategy is built.
    """
    if explicit_signs is not None:
        check_bool(explicit_signs, "explicit_signs")
    return _signed_binary_cases(explicit_signs)


@st.composite
def _signed_binary_cases(draw, explicit_signs: bool | None):
    from ..binarize import region_layout

    shape, axis, region = draw(region_layouts())
    lay = region_layout(shape, axis=axis, region=region)
    dyadic = st.integers(-64, 64).map(lambda k: k / 16.0)
    w = draw(hnp.arrays(np.float64, shape, elements=st.one_of(dyadic, st.floats(-4, 4, allow_subnormal=True))))
    threshold = draw(st.sampled_from([0.0, 0.05, 0.25, 0.5]))
    kwargs: dict = {"threshold": threshold, "axis": axis, "region": region}
    use_signs = draw(st.booleans()) if explicit_signs is None else explicit_signs
    if use_signs:
        kwargs["signs"] = np.array(
            draw(
                st.lists(
                    st.sampled_from([-1, 1]), min_size=lay.n_filters * lay.n_tiles, max_size=lay.n_filters * lay.n_tiles
                )
            )
        ).reshape(lay.n_filters, lay.n_tiles)
    return SignedBinaryCase(w, kwargs)


class MatmulCase(NamedTuple):
    """Integer operands of a repetition-aware matmul: ``y = x @ w_q`` exactly in int64.

    Attributes
    ----------
    x : ndarray of int64, shape (batch, K)
        Activations in ``[-2**20, 2**20]``.
    w_q : ndarray of int64, shape (K, out)
        Weights with values in ``{0, ±u}`` per column (``u`` an integer magnitude).
    """

    x: np.ndarray
    w_q: np.ndarray


def ternary_matmul_cases(
    *, max_k: int = 40, max_out: int = 8, max_batch: int = 4, signed_binary: bool | None = None
) -> st.SearchStrategy:
    """Integer :class:`MatmulCase` draws for repetition-aware kernels (exact int64 semantics).

    Columns are binary, ternary or signed-binary (one sign per column) with a per-column integer
    magnitude, at densities 0 (all-zero columns) to 1, and with repeated and negated columns
    (cross-filter repetition) mixed in.

    Parameters
    ----------
    max_k : int, 1..4096
        Largest inner dimension ``K``.
    max_out : int, 1..512
        Largest number of output columns.
    max_batch : int, 1..64
        Largest batch.
    signed_binary : bool or None
        ``True``: only signed-binary columns; ``False`` or ``None`` (default): every kind.

    Returns
    -------
    SearchStrategy of MatmulCase

    Raises
    ------
    TypeError, ValueError
        A non-integer or out-of-range bound, or ``signed_binary`` not a bool or None (the message
        names it), when the strategy is built.
    """
    max_k = check_int(max_k, "max_k", 1, 4096)
    max_out = check_int(max_out, "max_out", 1, 512)
    max_batch = check_int(max_batch, "max_batch", 1, 64)
    if signed_binary is not None:
        check_bool(signed_binary, "signed_binary")
    return _ternary_matmul_cases(max_k, max_out, max_batch, signed_binary)


@st.composite
def _ternary_matmul_cases(draw, max_k: int, max_out: int, max_batch: int, signed_binary: bool | None):
    k = draw(st.integers(1, max_k))
    out = draw(st.integers(1, max_out))
    batch = draw(st.integers(1, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["signed_binary"] if signed_binary else ["binary", "ternary", "signed_binary"]))
    density = 1.0 if kind == "binary" else draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]))
    mask = rng.random((k, out)) < density
    if kind == "signed_binary":
        w = rng.choice([-1, 1], size=(1, out)) * mask
    else:
        w = rng.choice([-1, 1], size=(k, out)) * mask
    if out > 1 and draw(st.booleans()):  # cross-filter repetition
        w[:, 1] = draw(st.sampled_from([1, -1])) * w[:, 0]
    w = w * rng.integers(1, 4, size=(1, out))
    x = draw(hnp.arrays(np.int64, (batch, k), elements=st.integers(-(2**20), 2**20)))
    return MatmulCase(x, w.astype(np.int64))


# ---------------------------------------------------------------- IMC crossbars and weight layers


def adc_specs(*, lossless: bool | None = False) -> st.SearchStrategy:
    """:class:`refquant.imc.ADCSpec` draws: every transfer, floor threshold placement and range policy.

    Parameters
    ----------
    lossless : bool or None
        ``False`` (default): lossy ADCs (1 to 10 bits, ``full`` and ``calibrated`` ranges);
        ``True``: only 24-bit granular ADCs; ``None``: both kinds.

    Returns
    -------
    SearchStrategy of ADCSpec

    Raises
    ------
    TypeError
        ``lossless`` not a bool or None, when the strategy is built.
    """
    from ..imc import ADCSpec

    transfers = st.sampled_from([("round", "step"), ("floor", "step"), ("floor", "half_unit")])
    lossy = st.builds(
        lambda b, tf, k: ADCSpec(b, transfer=tf[0], floor_threshold=tf[1], range_policy="full", k=k),
        st.integers(1, 10),
        transfers,
        st.sampled_from([1.0, 2.0, 4.0, 16.0]),
    )
    calibrated = st.builds(
        lambda b, tf, lo, w: ADCSpec(
            b, transfer=tf[0], floor_threshold=tf[1], range_policy="calibrated", lo=lo, hi=lo + w
        ),
        st.integers(2, 10),
        transfers,
        st.floats(-200, 0),
        st.floats(1, 400),
    )
    exact = st.just(ADCSpec(24, range_policy="granular"))
    if lossless is None:
        return st.one_of(lossy, calibrated, exact)
    return exact if check_bool(lossless, "lossless") else st.one_of(lossy, calibrated)


def crossbar_specs(
    *, adcs: st.SearchStrategy | None = None, modes=CROSSBAR_MODES, max_rows: int = 80
) -> st.SearchStrategy:
    """Consistent :class:`refquant.imc.CrossbarSpec` draws.

    Both compute modes, every weight and input encoding, both offset constants and tiling rules,
    A-shift, tile sizes 1 to ``max_rows``.

    Parameters
    ----------
    adcs : SearchStrategy of ADCSpec or None
        The ADCs (default ``adc_specs(lossless=None)``).
    modes : non-empty list or tuple of str
        Compute modes to draw, each ``"multibit"`` or ``"bpbs"`` (default both).
    max_rows : int, 1..4096
        Largest tile size (rows summed by one ADC conversion).

    Returns
    -------
    SearchStrategy of CrossbarSpec

    Raises
    ------
    TypeError
        ``adcs`` not a strategy; ``modes`` not a list or tuple (a str, a set) or an element not a
        str; ``max_rows`` not an integer.
    ValueError
        An empty ``modes``, an unknown mode (the message names ``modes[i]``), ``max_rows`` out of
        range. All checked when the strategy is built.
    """
    adcs = _check_strategy(adcs, "adcs", "a Hypothesis strategy of ADCSpec")
    modes = [check_choice(m, CROSSBAR_MODES, f"modes[{i}]") for i, m in enumerate(_values(modes, "modes"))]
    max_rows = check_int(max_rows, "max_rows", 1, 4096)
    return _crossbar_specs(adcs, modes, max_rows)


@st.composite
def _crossbar_specs(draw, adcs, modes, max_rows: int):
    from ..imc import CrossbarSpec

    mode = draw(st.sampled_from(list(modes)))
    signed = draw(st.booleans())
    a_shift = (not signed) and draw(st.booleans())
    enc, beta = None, 1
    if mode == "bpbs":
        enc = draw(st.sampled_from(["twos_complement", "offset", "differential"]))
        beta = 1 if enc == "twos_complement" else draw(st.integers(1, 3))
    bx = draw(st.integers(1, 6))
    in_enc = "twos_complement"
    if mode == "bpbs" and (signed or a_shift) and (bx >= 2 or a_shift):
        in_enc = draw(st.sampled_from(["twos_complement", "sign_magnitude"]))
    w_off = draw(st.sampled_from(["w_max", "half_range"])) if enc == "offset" else "w_max"
    return CrossbarSpec(
        rows=draw(st.integers(1, max_rows)),
        input_bits=bx,
        weight_bits=draw(st.integers(2, 6)),
        mode=mode,
        input_signed=signed,
        weight_encoding=enc,
        slice_bits=beta,
        adc=draw(adcs if adcs is not None else adc_specs(lossless=None)),
        a_shift=a_shift,
        input_encoding=in_enc,
        weight_offset=w_off,
        tiling=draw(st.sampled_from(["full_first", "even"])),
    )


class IMCCase(NamedTuple):
    """Integer codes valid for ``spec``: the operands of :func:`refquant.imc.imc_matmul`.

    Attributes
    ----------
    x_codes : ndarray of int64, shape (batch, K)
        Input codes in ``spec.x_range``.
    w_codes : ndarray of int64, shape (K, out)
        Weight codes in ``spec.w_range``.
    spec : CrossbarSpec
        The crossbar.
    """

    x_codes: np.ndarray
    w_codes: np.ndarray
    spec: object


def imc_cases(
    *, specs: st.SearchStrategy | None = None, max_k: int = 200, max_out: int = 6, max_batch: int = 4
) -> st.SearchStrategy:
    """Matched :class:`IMCCase` draws for :func:`refquant.imc.imc_matmul`.

    Codes lie at and inside their declared ranges; ``K`` is not a multiple of the tile size as often
    as possible (ragged last tiles). Raise ``max_out`` above 256 (and the specs' ``max_rows`` and
    ``max_k`` above 512) to reach a BPBS kernel's several column panels and long tiles.

    Parameters
    ----------
    specs : SearchStrategy of CrossbarSpec or None
        The crossbars (default :func:`crossbar_specs`).
    max_k : int, 1..100000
        Largest inner dimension ``K``.
    max_out : int, 1..100000
        Largest number of output columns.
    max_batch : int, 1..100000
        Largest batch.

    Returns
    -------
    SearchStrategy of IMCCase

    Raises
    ------
    TypeError, ValueError
        ``specs`` not a strategy, or a non-integer or out-of-range bound (the message names it),
        when the strategy is built.
    """
    specs = _check_strategy(specs, "specs", "a Hypothesis strategy of CrossbarSpec")
    max_k = check_int(max_k, "max_k", 1, 100000)
    max_out = check_int(max_out, "max_out", 1, 100000)
    max_batch = check_int(max_batch, "max_batch", 1, 100000)
    return _imc_cases(specs if specs is not None else crossbar_specs(), max_k, max_out, max_batch)


@st.composite
def _imc_cases(draw, specs, max_k: int, max_out: int, max_batch: int):
    spec = draw(specs)
    k = draw(st.integers(1, max_k))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = spec.x_range
    wl, wh = spec.w_range
    x = rng.integers(lo, hi + 1, size=(draw(st.integers(1, max_batch)), k))
    w = rng.integers(wl, wh + 1, size=(k, draw(st.integers(1, max_out))))
    if draw(st.booleans()):  # range edges
        x.flat[0], w.flat[0] = hi, wl
    return IMCCase(x.astype(np.int64), w.astype(np.int64), spec)


def weight_layers(*, max_layers: int = 3, max_size: int = 60) -> st.SearchStrategy:
    """Lists of float64 weight tensors, as KURE sees them.

    One tensor per layer (1-D or 2-D, at least 4 elements, never constant): Gaussian, Laplace,
    uniform, skewed (gamma) and outlier-heavy layers, scaled by 1e-3, 1 or 30.

    Parameters
    ----------
    max_layers : int, 1..64
        Largest number of layers.
    max_size : int, 4..10**6
        Largest number of elements per layer.

    Returns
    -------
    SearchStrategy of list of ndarray

    Raises
    ------
    TypeError, ValueError
        A non-integer or out-of-range bound (the message names it), when the strategy is built.
    """
    max_layers = check_int(max_layers, "max_layers", 1, 64)
    max_size = check_int(max_size, "max_size", 4, 10**6)
    return _weight_layers(max_layers, max_size)


@st.composite
def _weight_layers(draw, max_layers: int, max_size: int):
    n = draw(st.integers(1, max_layers))
    out = []
    for _ in range(n):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        size = draw(st.integers(4, max_size))
        kind = draw(st.sampled_from(["normal", "laplace", "uniform", "gamma", "outlier"]))
        if kind == "gamma":
            v = rng.gamma(2.0, size=size)
        elif kind == "outlier":
            v = rng.standard_normal(size)
            v[rng.integers(size)] *= 20
        else:
            v = getattr(rng, kind)(size=size)
        shape = draw(st.sampled_from([(size,), (1, size), (size, 1)]))
        out.append(v.reshape(shape) * draw(st.sampled_from([1e-3, 1.0, 30.0])))
    return out
