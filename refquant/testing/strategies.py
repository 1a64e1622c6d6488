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
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .._validate import check_bool, check_int, check_real
from ..specs import MAX_BITS, MIN_BITS, QuantSpec, Rounding, ScaleOp

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
    """A matched quantizer input: ``x`` with ``scale``/``zero_point`` valid for ``spec``."""

    x: np.ndarray
    scale: object
    zero_point: object
    spec: QuantSpec


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype={dt}: allowed float32 or float64")
    return dt


def scales(*, dtype=np.float32, power_of_two: bool | None = None) -> st.SearchStrategy:
    """Positive scales, finite with a finite reciprocal, exactly representable in *dtype*.

    ``power_of_two=None`` mixes powers of two (2**-20 .. 2**10, which make
    ties exact) with arbitrary values in [2**-20, 1024]; ``True``/``False``
    restrict to one kind. Draws are Python floats equal to a *dtype* value.
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
    roundings : sequence of str
        Default the four classic deterministic modes (``half_even``,
        ``half_away``, ``half_up``, ``floor``). Stochastic rounding (specs that
        need an ``rng``) and any later-added mode are drawn only when listed.
    scale_ops : sequence of str
    compute_dtypes : sequence of None, "float32", "float64"
    **knobs : sequence
        Further ``QuantSpec`` fields by their plural name, each a non-empty
        sequence of values to draw from (e.g. ``zero_point_ops=["after_round",
        "before_round"]`` for a ``zero_point_op`` field). Fields not named keep
        ``QuantSpec``'s default, so new knobs are off unless asked for.

    Raises
    ------
    ValueError
        Empty sequences, unknown enum values, ``min_bits > max_bits``, or a
        knob that is not a field of this refquant's ``QuantSpec``.
    """
    lo = check_int(min_bits, "min_bits", MIN_BITS, MAX_BITS)
    hi = check_int(max_bits, "max_bits", MIN_BITS, MAX_BITS)
    if lo > hi:
        raise ValueError(f"min_bits={lo} is larger than max_bits={hi}")
    for r in roundings:
        Rounding(r)
    for o in scale_ops:
        ScaleOp(o)
    if not roundings or not scale_ops or not compute_dtypes:
        raise ValueError("roundings, scale_ops and compute_dtypes must be non-empty")
    fields = {f.name for f in dataclasses.fields(QuantSpec)}
    knob_st = {}
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
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"{plural}={values!r} must be a non-empty sequence of {field} values")
        for v in values:  # validate each value once, here, with QuantSpec's own checks
            QuantSpec(8, **{field: v})
        knob_st[field] = st.sampled_from(list(values))
    signed_st = st.booleans() if signed is None else st.just(check_bool(signed, "signed"))
    narrow_st = st.booleans() if narrow_range is None else st.just(check_bool(narrow_range, "narrow_range"))
    axis_st = axis if isinstance(axis, st.SearchStrategy) else st.just(axis)

    @st.composite
    def build(draw):
        bits = draw(st.integers(lo, hi))
        sg = draw(signed_st)
        nr = draw(narrow_st)
        if sg and nr and bits < 2:
            nr = False
        return QuantSpec(
            bits,
            signed=sg,
            narrow_range=nr,
            axis=draw(axis_st),
            rounding=draw(st.sampled_from(list(roundings))),
            scale_op=draw(st.sampled_from(list(scale_ops))),
            compute_dtype=draw(st.sampled_from(list(compute_dtypes))),
            **{f: draw(k) for f, k in knob_st.items()},
        )

    return build()


def order_sensitive_values(dtype, scale: float, k_lo: int, k_hi: int, max_ulps: int = 4) -> np.ndarray:
    """Values ``x`` near ties whose half-even code differs between ``x / s`` and ``x * (1/s)``.

    Searches the ``max_ulps`` float neighbours of every tie ``(k + 1/2)·s``,
    ``k_lo <= k <= k_hi``, in *dtype*. Empty when the scale is a power of two
    (then both orders are exact). These are the inputs that tell an
    ONNX-style (divide) quantizer from a PyTorch-style (reciprocal) one.
    """
    dt = np.dtype(dtype)
    s = dt.type(scale)
    r = dt.type(1) / s
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
    dtype : float32 or float64
    shape : tuple of int or a strategy of shapes
    scale, zero_point, qmin, qmax : the grid the values are placed around
        (ties at ``(k + 1/2)·scale`` for codes ``k + zero_point`` from
        ``qmin - 3`` to ``qmax + 3``).
    allow_subnormal : include subnormal values.
    max_magnitude : largest ``|value|`` drawn for the "far beyond the clamp range"
        elements (default: a quarter of the dtype's max). Pass the compute
        dtype's range when it is narrower than *dtype* (float64 data, float32
        arithmetic), so that no value overflows on conversion.
    """
    dt = _check_dtype(dtype)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale={scale!r} must be finite and > 0")
    qmin = check_int(qmin, "qmin")
    qmax = check_int(qmax, "qmax")
    zero_point = check_int(zero_point, "zero_point", qmin, qmax)
    allow_subnormal = check_bool(allow_subnormal, "allow_subnormal")
    max_magnitude = float(np.finfo(dt).max) / 4 if max_magnitude is None else float(max_magnitude)
    if not max_magnitude > 0:
        raise ValueError(f"max_magnitude={max_magnitude!r} must be > 0")
    elems = _element_strategy(dt, float(scale), zero_point, qmin, qmax, allow_subnormal, max_magnitude)
    return hnp.arrays(dt, shape, elements=elems)


def spec_strategy(specs, *, name: str = "specs") -> st.SearchStrategy:
    """Normalise a *specs* option to a strategy of :class:`~refquant.specs.QuantSpec`.

    Accepts ``None`` (every deterministic spec: :func:`quant_specs`), a
    strategy, one ``QuantSpec``, or a non-empty list/tuple of ``QuantSpec``
    (drawn with ``sampled_from``, shrinking towards the first).

    Raises
    ------
    TypeError
        Anything else, or a sequence holding a non-``QuantSpec`` (names *name*).
    ValueError
        An empty sequence.
    """
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
        Bad options (names the parameter). A pinned *zero_point* outside a
        drawn spec's code range, or a *scale*/*calibrate* callable returning
        a non-positive, non-finite or wrongly shaped value, raises
        ``ValueError`` when the case is drawn.
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
        zero_point = check_int(zero_point, "zero_point", -(2**16), 2**16)
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
    """Matched :func:`refquant.binarize.signed_binarize` input: call ``signed_binarize(w, **kwargs)``."""

    w: np.ndarray
    kwargs: dict


@st.composite
def region_layouts(draw, *, max_filters: int = 6, max_channels: int = 8, max_spatial: int = 3):
    """``(shape, axis, region)`` triples valid for :func:`refquant.binarize.region_layout`.

    Shapes are conv-like ``(C_out, C_in, R, S)`` or linear ``(C_out, C_in)``,
    with the filter axis anywhere; ``region`` is ``None`` (whole filter) or a
    divisor of the input-channel count (including 1 and the full count).
    """
    max_filters = check_int(max_filters, "max_filters", 1, 256)
    max_channels = check_int(max_channels, "max_channels", 1, 256)
    max_spatial = check_int(max_spatial, "max_spatial", 1, 7)
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


@st.composite
def signed_binary_cases(draw, *, explicit_signs: bool | None = None):
    """:class:`SignedBinaryCase` draws: weights with ties at the threshold, all-zero and single-sign regions.

    Weights include exact ``±threshold·max|w|`` values of a region (the
    ``>=`` boundary), exact zeros, and regions whose weights all have one sign.
    ``explicit_signs=None`` draws both the default and an explicit sign map.
    """
    from ..binarize import region_layout

    shape, axis, region = draw(region_layouts())
    lay = region_layout(shape, axis=axis, region=region)
    dyadic = st.integers(-64, 64).map(lambda k: k / 16.0)
    w = draw(hnp.arrays(np.float64, shape, elements=st.one_of(dyadic, st.floats(-4, 4, allow_subnormal=True))))
    threshold = draw(st.sampled_from([0.0, 0.05, 0.25, 0.5]))
    kwargs: dict = {"threshold": threshold, "axis": axis, "region": region}
    use_signs = draw(st.booleans()) if explicit_signs is None else check_bool(explicit_signs, "explicit_signs")
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
    """``x`` (batch, K) integer activations and ``w_q`` (K, out) weights with values in ``{0, ±u}`` per column."""

    x: np.ndarray
    w_q: np.ndarray


@st.composite
def ternary_matmul_cases(
    draw, *, max_k: int = 40, max_out: int = 8, max_batch: int = 4, signed_binary: bool | None = None
):
    """Integer :class:`MatmulCase` draws for repetition-aware kernels (exact int64 semantics).

    Columns are binary, ternary or signed-binary (one sign per column) with a
    per-column integer magnitude, at densities 0 (all-zero columns) to 1, and
    with repeated and negated columns (cross-filter repetition) mixed in.
    """
    max_k = check_int(max_k, "max_k", 1, 4096)
    max_out = check_int(max_out, "max_out", 1, 512)
    max_batch = check_int(max_batch, "max_batch", 1, 64)
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
    """:class:`refquant.imc.ADCSpec` draws: every transfer, floor threshold placement and range policy
    (``lossless=True``: only 24-bit granular ADCs; ``None``: both kinds)."""
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


@st.composite
def crossbar_specs(draw, *, adcs: st.SearchStrategy | None = None, modes=("multibit", "bpbs"), max_rows: int = 80):
    """Consistent :class:`refquant.imc.CrossbarSpec` draws (both modes, every weight and input encoding, both
    offset constants and tiling rules, A-shift, tile sizes; ADCs from ``adcs``, default :func:`adc_specs`)."""
    from ..imc import CrossbarSpec

    max_rows = check_int(max_rows, "max_rows", 1, 4096)
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
    """Integer codes valid for ``spec``: ``x_codes`` (batch, K), ``w_codes`` (K, out)."""

    x_codes: np.ndarray
    w_codes: np.ndarray
    spec: object


@st.composite
def imc_cases(draw, *, specs: st.SearchStrategy | None = None, max_k: int = 200, max_out: int = 6, max_batch: int = 4):
    """Matched :class:`IMCCase` draws: codes at and inside their declared ranges, K not a multiple of the
    tile size as often as possible (ragged last tiles). Raise ``max_out`` above 256 (and the specs'
    ``max_rows`` and ``max_k`` above 512) to reach a BPBS kernel's several column panels and long tiles."""
    spec = draw(specs if specs is not None else crossbar_specs())
    k = draw(st.integers(1, check_int(max_k, "max_k", 1, 100000)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lo, hi = spec.x_range
    wl, wh = spec.w_range
    x = rng.integers(lo, hi + 1, size=(draw(st.integers(1, check_int(max_batch, "max_batch", 1, 100000))), k))
    w = rng.integers(wl, wh + 1, size=(k, draw(st.integers(1, check_int(max_out, "max_out", 1, 100000)))))
    if draw(st.booleans()):  # range edges
        x.flat[0], w.flat[0] = hi, wl
    return IMCCase(x.astype(np.int64), w.astype(np.int64), spec)


@st.composite
def weight_layers(draw, *, max_layers: int = 3, max_size: int = 60):
    """Lists of float64 weight tensors (one per layer, 1-D to 3-D, >= 4 elements, never constant):
    Gaussian, Laplace, uniform, skewed (gamma) and outlier-heavy layers, as KURE sees them."""
    n = draw(st.integers(1, check_int(max_layers, "max_layers", 1, 64)))
    out = []
    for _ in range(n):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        size = draw(st.integers(4, check_int(max_size, "max_size", 4, 10**6)))
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
