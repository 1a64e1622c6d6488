r"""The uniform affine quantizer: the one quantize / dequantize equation.

Every other refquant module that quantizes calls these functions; none
re-derives the equation.

The equation (docs/SEMANTICS.md is the full contract)
-----------------------------------------------------
With scale :math:`s > 0`, integer zero point :math:`z \in [q_{min}, q_{max}]`
and the grid of a :class:`~refquant.specs.QuantSpec`:

.. math::

    q = \mathrm{clamp}\big(\mathrm{round}(x \oslash s) + z,\; q_{min},\; q_{max}\big),
    \qquad \hat x = (q - z)\cdot s

where :math:`x \oslash s` is either one correctly rounded division ``x / s``
(``scale_op="divide"``, ONNX QuantizeLinear) or ``x * r`` with
``r = 1 / s`` rounded once to the compute dtype (``scale_op="reciprocal"``,
PyTorch fake-quantize). Every operation is an IEEE-754 operation in the
compute dtype (float32 or float64), in exactly this order.

``fake_quant(x) == dequantize(quantize(x))`` bit for bit, whenever both
resolve the same compute dtype (see :func:`dequantize`).
"""
from __future__ import annotations

import enum

import numpy as np

from ._validate import (
    as_real_array,
    as_rng,
    check_axis,
    check_bool,
    check_enum,
    check_positive,
    short_repr,
)
from .specs import QuantSpec, Rounding, ScaleOp

__all__ = [
    "NonFinite",
    "quantize",
    "dequantize",
    "fake_quant",
    "calibrate_minmax",
    "channel_layout",
]

#: Elements per parallel work item of the fused kernel (tuned in benchmarks/bench_uniform.py).
KERNEL_CHUNK = 1 << 16

_MODE_CODE = {
    Rounding.HALF_EVEN: 0,
    Rounding.HALF_AWAY: 1,
    Rounding.HALF_UP: 2,
    Rounding.FLOOR: 3,
    Rounding.STOCHASTIC: 4,
}


class NonFinite(str, enum.Enum):
    """What :func:`quantize` / :func:`fake_quant` do with NaN or ±inf in ``x``."""

    RAISE = "raise"
    """Default: raise ``ValueError`` naming the count of non-finite values."""
    SATURATE = "saturate"
    """``+inf -> qmax``, ``-inf -> qmin`` (as the equation gives); NaN still raises (no code represents NaN)."""


def _check_spec(spec) -> QuantSpec:
    if not isinstance(spec, QuantSpec):
        raise TypeError(f"spec must be a refquant.QuantSpec, got type={type(spec).__name__}")
    return spec


def channel_layout(shape: tuple[int, ...], axis: int | None) -> tuple[int, int, int]:
    """``(outer, channels, inner)`` sizes of *shape* around *axis* (C order).

    Element with flat C-order index ``t`` belongs to channel
    ``(t // inner) % channels``. ``axis=None`` gives ``(1, 1, size)``.
    """
    size = int(np.prod(shape, dtype=np.int64))
    if axis is None:
        return 1, 1, size
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return outer, int(shape[axis]), inner


def _resolve_axis(spec: QuantSpec, ndim: int, name: str = "x") -> int | None:
    if spec.axis is None:
        return None
    if ndim == 0:
        raise ValueError(f"spec.axis={spec.axis} needs {name} with ndim >= 1, got a 0-d {name}")
    return check_axis(spec.axis, ndim, "spec.axis")


def _channel_param(value, name: str, n_channels: int, per_channel: bool, allow_nonfinite: bool = True) -> np.ndarray:
    arr = as_real_array(value, name, allow_nonfinite=allow_nonfinite)
    if per_channel:
        if arr.ndim == 0:
            return np.full(n_channels, arr[()], dtype=arr.dtype)
        if arr.ndim != 1 or arr.size != n_channels:
            raise ValueError(
                f"{name} has shape {arr.shape}; per-channel quantization along spec.axis needs a scalar "
                f"or a 1-D array of length {n_channels} (the channel count)"
            )
        return arr
    if arr.size != 1 or arr.ndim > 1:
        raise ValueError(
            f"{name} has shape {arr.shape}; per-tensor quantization (spec.axis=None) needs a scalar. "
            "Set spec.axis for per-channel parameters"
        )
    return arr.reshape(1)


def _prepare_scale(scale, spec: QuantSpec, n_channels: int, cdtype: np.dtype):
    s_in = _channel_param(scale, "scale", n_channels, spec.axis is not None)
    check_positive(s_in.astype(np.float64), "scale")
    s = s_in.astype(cdtype)
    if not np.all(np.isfinite(s)) or not np.all(s > 0):
        raise ValueError(
            f"scale={short_repr(s_in)} is not representable as a positive finite {cdtype.name} "
            f"(it under- or overflows); allowed: {np.finfo(cdtype).tiny} <= scale <= {np.finfo(cdtype).max}"
        )
    with np.errstate(over="ignore", divide="ignore"):
        r = (cdtype.type(1) / s).astype(cdtype)
    if spec.scale_op is ScaleOp.RECIPROCAL and not np.all(np.isfinite(r)):
        raise ValueError(
            f"scale={short_repr(s_in)}: 1/scale overflows {cdtype.name}, so scale_op='reciprocal' is undefined; "
            "use a larger scale or scale_op='divide'"
        )
    return s, r


def _prepare_zero_point(zero_point, spec: QuantSpec, n_channels: int) -> np.ndarray:
    z = _channel_param(zero_point, "zero_point", n_channels, spec.axis is not None, allow_nonfinite=False)
    if z.dtype.kind == "f":
        if not np.all(z == np.round(z)):
            raise ValueError(f"zero_point={short_repr(z)} must hold integers (integer-valued floats are accepted)")
    z64 = z.astype(np.float64)
    if np.any(z64 < spec.qmin) or np.any(z64 > spec.qmax):
        raise ValueError(
            f"zero_point={short_repr(z)} is outside the code range; allowed: {spec.qmin} <= zero_point <= {spec.qmax} "
            f"(bits={spec.bits}, signed={spec.signed}, narrow_range={spec.narrow_range})"
        )
    return z64


def _prepare_x(x, spec: QuantSpec) -> tuple[np.ndarray, np.dtype]:
    # NaN/inf are counted inside the kernel (one pass over x), see _check_counts.
    arr = as_real_array(x, "x", allow_nonfinite=True)
    return arr, spec.resolve_compute_dtype(arr.dtype)


def _check_counts(counts: np.ndarray, policy: NonFinite, converted: bool) -> None:
    n_bad, n_nan = (int(v) for v in counts.sum(axis=0))
    if n_nan or (n_bad and policy is NonFinite.RAISE):
        extra = " (counted after conversion to the compute dtype: finite values beyond its range become inf)" if converted else ""
        raise ValueError(
            f"x contains {n_nan} NaN and {n_bad - n_nan} inf value(s){extra}; nonfinite={policy.value!r}. "
            "Pass nonfinite='saturate' to map +-inf to the clamp limits (NaN always raises)"
        )


def _draw_uniforms(spec: QuantSpec, rng, size: int) -> np.ndarray:
    if spec.rounding is Rounding.STOCHASTIC:
        if rng is None:
            raise ValueError(
                "rng=None: spec.rounding='stochastic' needs an explicit seed (int >= 0) or numpy.random.Generator"
            )
        gen = as_rng(rng)
        return gen.random(size, dtype=np.float64)
    if rng is not None:
        as_rng(rng)  # type-check even when unused, so mistakes surface early
    return np.zeros(1, dtype=np.float64)


def _run(x, scale, zero_point, spec, rng, nonfinite, dequant, out=None):
    spec = _check_spec(spec)
    policy = check_enum(nonfinite, NonFinite, "nonfinite")
    arr, cdtype = _prepare_x(x, spec)
    axis = _resolve_axis(spec, arr.ndim)
    _, n_channels, inner = channel_layout(arr.shape, axis)
    s, r = _prepare_scale(scale, spec, n_channels, cdtype)
    z = _prepare_zero_point(zero_point, spec, n_channels).astype(cdtype)
    u = _draw_uniforms(spec, rng, arr.size)
    with np.errstate(over="ignore"):
        xc = np.ascontiguousarray(arr, dtype=cdtype).reshape(-1)
    out_dtype = cdtype if dequant else spec.code_dtype
    if out is None:
        result = np.empty(arr.shape, dtype=out_dtype)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got type={type(out).__name__}")
        if out.shape != arr.shape or out.dtype != out_dtype or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(
                f"out must be a writeable C-contiguous array of shape {arr.shape} and dtype {out_dtype}, "
                f"got shape {out.shape}, dtype {out.dtype}, c_contiguous={out.flags.c_contiguous}"
            )
        result = out
    from ._kernels.uniform import affine_quant_kernel

    chunk = KERNEL_CHUNK
    counts = np.empty(((xc.size + chunk - 1) // chunk, 2), dtype=np.int64)
    affine_quant_kernel(
        xc,
        n_channels,
        inner,
        s,
        r,
        z,
        cdtype.type(spec.qmin),
        cdtype.type(spec.qmax),
        _MODE_CODE[spec.rounding],
        spec.scale_op is ScaleOp.RECIPROCAL,
        u,
        chunk,
        dequant,
        result.reshape(-1),
        counts,
    )
    _check_counts(counts, policy, converted=arr.dtype != cdtype)
    return result


def quantize(x, scale, zero_point, spec: QuantSpec, *, rng=None, nonfinite: str = "raise") -> np.ndarray:
    r"""Integer codes ``clamp(round(x / s) + z, qmin, qmax)``.

    Parameters
    ----------
    x : array_like of real numbers
        Any shape (0-d allowed, empty not). Integer input is converted to
        the compute dtype. Never modified.
    scale : float or array_like
        Step size :math:`s > 0`, finite, representable as a positive finite
        number of the compute dtype (it is rounded once to that dtype).
        A scalar for ``spec.axis=None``; a scalar or a 1-D array of length
        ``x.shape[spec.axis]`` for per-channel.
    zero_point : int or array_like of ints
        Integer(-valued) zero point(s) with ``qmin <= z <= qmax``; same shape
        rules as *scale*.
    spec : QuantSpec
        Grid, rounding mode, scale operation, compute dtype, channel axis.
    rng : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Required for ``rounding="stochastic"``: one uniform float64 in [0, 1)
        is drawn per element, in C order of ``x``, as
        ``rng.random(x.size)``. A Generator is advanced; a seed gives the
        same bits on every call.
    nonfinite : {"raise", "saturate"}
        Policy for NaN/inf in ``x``: raise (default), or map ±inf to
        ``qmax``/``qmin`` (NaN always raises).

    Returns
    -------
    numpy.ndarray of ``spec.code_dtype`` (int8/uint8/int16/uint16), shape of ``x``.

    Notes
    -----
    Arithmetic in the compute dtype (``spec.resolve_compute_dtype(x.dtype)``):
    ``v = x / s`` or ``v = x * (1/s)``; ``q = round(v) + z``; clamp. The
    rounding of ``v`` is exact for every mode (docs/SEMANTICS.md).

    Examples
    --------
    >>> import numpy as np
    >>> quantize([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], 1.0, 0, QuantSpec(8)).tolist()
    [-2, -2, 0, 0, 2, 2]
    >>> quantize([-2.5, 2.5], 1.0, 0, QuantSpec(8, rounding="half_away")).tolist()
    [-3, 3]
    >>> quantize([300.0], 1.0, 0, QuantSpec(8)).tolist()   # clamped to qmax
    [127]
    """
    return _run(x, scale, zero_point, spec, rng, nonfinite, dequant=False)


def fake_quant(
    x, scale, zero_point, spec: QuantSpec, *, rng=None, nonfinite: str = "raise", out: np.ndarray | None = None
) -> np.ndarray:
    r"""Quantize then dequantize: ``(clamp(round(x / s) + z, qmin, qmax) - z) * s``.

    Same parameters and semantics as :func:`quantize`; additionally

    Parameters
    ----------
    out : numpy.ndarray, optional
        C-contiguous, writeable, shape of ``x``, dtype = compute dtype. The
        result is written there (avoiding an allocation) and returned.
        ``out`` may be ``x`` itself (explicit in-place use). If the call
        raises because ``x`` holds NaN/inf, ``out``'s contents are
        unspecified (the check is fused into the kernel's single pass).

    Returns
    -------
    numpy.ndarray of the compute dtype (float32 for float32 input by
    default, float64 otherwise), shape of ``x``. Bit-identical to
    ``dequantize(quantize(x, ...), ...)`` evaluated in the same compute
    dtype; a zero result is always ``+0.0``.

    Examples
    --------
    >>> fake_quant([0.26, -0.74, 10.0], 0.5, 0, QuantSpec(4)).tolist()
    [0.5, -0.5, 3.5]
    """
    return _run(x, scale, zero_point, spec, rng, nonfinite, dequant=True, out=out)


def dequantize(codes, scale, zero_point, spec: QuantSpec) -> np.ndarray:
    r"""Real values ``(q - z) * s`` of integer codes.

    Parameters
    ----------
    codes : array_like of integers
        Integer dtype (any width), every value within ``[spec.qmin, spec.qmax]``.
    scale, zero_point :
        As in :func:`quantize`.
    spec : QuantSpec
        Its grid is used to check the codes; ``spec.axis`` selects per-channel.

    Returns
    -------
    numpy.ndarray of the compute dtype: ``spec.compute_dtype`` if set; else
    float32 if ``scale`` is a float32 NumPy scalar/array, float64 otherwise.
    (Codes carry no float dtype, so the scale's dtype stands for the data's;
    :func:`calibrate_minmax` returns float32 scales for float32 data.)

    Notes
    -----
    ``q - z`` is exact (``|q - z| < 2**17``); the product is rounded once.

    Examples
    --------
    >>> dequantize([-3, 0, 5], 0.25, 1, QuantSpec(4)).tolist()
    [-1.0, -0.25, 1.0]
    """
    spec = _check_spec(spec)
    q = as_real_array(codes, "codes", allow_nonfinite=False)
    if q.dtype.kind not in "iu":
        raise TypeError(f"codes must have an integer dtype, got dtype={q.dtype}; use quantize() to make codes")
    if q.min() < spec.qmin or q.max() > spec.qmax:
        raise ValueError(
            f"codes hold values in [{q.min()}, {q.max()}], outside the code range "
            f"[{spec.qmin}, {spec.qmax}] of spec (bits={spec.bits}, signed={spec.signed}, narrow_range={spec.narrow_range})"
        )
    axis = _resolve_axis(spec, q.ndim, "codes")
    _, n_channels, _ = channel_layout(q.shape, axis)
    scale_arr = np.asarray(scale)
    if spec.compute_dtype is not None:
        cdtype = np.dtype(spec.compute_dtype)
    else:
        cdtype = np.dtype(np.float32) if scale_arr.dtype == np.float32 else np.dtype(np.float64)
    s, _ = _prepare_scale(scale, spec, n_channels, cdtype)
    z = _prepare_zero_point(zero_point, spec, n_channels).astype(cdtype)
    shape = [1] * q.ndim
    if axis is not None:
        shape[axis] = n_channels
    qf = q.astype(cdtype)
    return (qf - z.reshape(shape)) * s.reshape(shape)


def _pow2_ceil(s: np.ndarray) -> np.ndarray:
    """Smallest power of two >= s (exact, via frexp)."""
    m, e = np.frexp(s)
    return np.ldexp(np.ones_like(s), np.where(m == 0.5, e - 1, e))


def calibrate_minmax(x, spec: QuantSpec, *, symmetric: bool = True, power_of_two: bool = False):
    r"""Scale and zero point from the range of ``x`` (per tensor or per channel).

    The range always includes 0 (so that 0 is exactly representable):
    ``lo = min(min(x), 0)``, ``hi = max(max(x), 0)``, reduced over all axes
    (``spec.axis=None``) or over all axes but ``spec.axis``.

    * ``symmetric=True``: ``z = 0`` and ``s = max(|lo|, hi) / qmax`` (signed),
      so both ``-max|x|`` and ``+max|x|`` map inside the grid without
      clipping. (PyTorch divides by ``(qmax - qmin) / 2`` = 127.5 instead,
      which clips the top value by one code; refquant does not.) Unsigned
      symmetric means scale-only quantization of non-negative data
      (``s = hi / qmax``); negative values then raise ``ValueError``.
    * ``symmetric=False`` (asymmetric): ``s = (hi - lo) / (qmax - qmin)``,
      ``z = clamp(qmin - round_half_even(lo / s), qmin, qmax)`` (as PyTorch's
      observers).
    * ``power_of_two=True``: ``s`` is rounded *up* to the next power of two
      (exactly, via ``frexp``), so the range stays covered; ``z`` is then
      recomputed from the new ``s``.
    * A zero range (all-zero data) gives ``s = 1`` (any positive scale
      represents it exactly); a positive scale below the smallest normal
      number of the compute dtype is raised to it (as PyTorch's observers
      clamp to ``eps``), so the scale and its reciprocal stay finite.

    The scale is computed in float64 and rounded once to the compute dtype
    (``spec.resolve_compute_dtype(x.dtype)``).

    Returns
    -------
    (scale, zero_point)
        Per tensor: a compute-dtype NumPy scalar and a Python ``int``. Per
        channel: a 1-D compute-dtype array and a 1-D int64 array, length
        ``x.shape[spec.axis]``.

    Examples
    --------
    >>> calibrate_minmax([-1.0, 0.5, 2.54], QuantSpec(8))
    (np.float64(0.02), 0)
    >>> calibrate_minmax([0.0, 1.0], QuantSpec(8, signed=False), symmetric=False)
    (np.float64(0.00392156862745098), 0)
    """
    spec = _check_spec(spec)
    symmetric = check_bool(symmetric, "symmetric")
    power_of_two = check_bool(power_of_two, "power_of_two")
    arr = as_real_array(x, "x")
    cdtype = spec.resolve_compute_dtype(arr.dtype)
    axis = _resolve_axis(spec, arr.ndim)
    a64 = arr.astype(np.float64)
    red = None if axis is None else tuple(i for i in range(arr.ndim) if i != axis)
    lo = np.minimum(a64.min(axis=red), 0.0)
    hi = np.maximum(a64.max(axis=red), 0.0)
    qmin, qmax = float(spec.qmin), float(spec.qmax)
    with np.errstate(over="ignore"):
        if symmetric:
            if not spec.signed and np.any(lo < 0):
                raise ValueError(
                    "x has negative values but spec is unsigned and symmetric=True (scale-only, zero_point=0); "
                    "use symmetric=False or a signed spec"
                )
            amax = np.maximum(-lo, hi)
            s = amax / qmax
        else:
            s = (hi - lo) / (qmax - qmin)
    s = np.where(s > 0, s, 1.0)
    if not np.all(np.isfinite(s)):
        raise ValueError("x spans a range too wide for a finite float64 scale")
    if power_of_two:
        s = _pow2_ceil(s)
    s = np.maximum(s, float(np.finfo(cdtype).tiny)).astype(cdtype)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"the calibrated scale is not representable in {cdtype.name} (x's range is too large or too small)")
    if symmetric:
        z = np.zeros_like(lo, dtype=np.int64)
    else:
        z = np.clip(qmin - np.rint(lo / s.astype(np.float64)), qmin, qmax).astype(np.int64)
    if axis is None:
        return s[()], int(z)
    return s, z
