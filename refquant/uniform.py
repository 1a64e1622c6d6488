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

The :class:`~refquant.specs.QuantSpec` knobs state the variants real runtimes
compute, each as part of this one equation (never a separate quantizer):
``zero_point_op`` (z added after the rounding, before it, or inside an exactly
rounded fma), ``rounding="floor_plus_half"``, ``reciprocal_dtype``,
``domain="float_shifted"`` (TensorFlow's float-domain clamp shifted by the
nudged minimum) and ``block_size`` (ONNX opset-21 blocked parameters).

Small inputs (fewer than ``PARALLEL_THRESHOLD`` elements) run on one Numba thread.
"""

from __future__ import annotations

import enum
import math
from typing import NamedTuple

import numpy as np

from ._validate import (
    as_real_array,
    as_rng,
    check_axis,
    check_bool,
    check_enum,
    check_int,
    check_positive,
    check_sequence,
    short_repr,
)
from .specs import Domain, QuantSpec, Rounding, ScaleOp, ZeroPointOp

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

#: Inputs with fewer elements run the kernel on one Numba thread (refquant._kernels._threads.threads_for).
#: Below 2 * KERNEL_CHUNK there is at most one work item, so threads cannot help at all. Measured on the
#: 2-core development machine while other jobs ran (fake_quant, float32, per tensor, median of 30 calls,
#: serial vs 2 threads): 2^10: 0.094 vs 32 ms; 2^14: 0.11 vs 28 ms; 2^18: 0.61 vs 28 ms; 2^20: 1.7 vs
#: 32 ms -- waking a second, busy core costs ~30 ms, so parallel pays only beyond ~2^24 elements there.
#: The threshold 2^20 keeps every call below ~2 ms serial; on an idle machine the parallel path wins from
#: about 2 chunks on, and the large-array rows of benchmarks/bench_uniform.py (>= 10^7 elements) stay parallel.
PARALLEL_THRESHOLD = 1 << 20

_MODE_CODE = {
    Rounding.HALF_EVEN: 0,
    Rounding.HALF_AWAY: 1,
    Rounding.HALF_UP: 2,
    Rounding.FLOOR: 3,
    Rounding.STOCHASTIC: 4,
    Rounding.FLOOR_PLUS_HALF: 5,
}
_ZP_CODE = {ZeroPointOp.AFTER_ROUND: 0, ZeroPointOp.BEFORE_ROUND: 1, ZeroPointOp.FUSED: 2}


class NonFinite(str, enum.Enum):
    """What :func:`quantize` / :func:`fake_quant` do with NaN or ±inf in ``x`` (their ``nonfinite`` argument).

    Attributes
    ----------
    RAISE, SATURATE : NonFinite
        Values ``"raise"`` and ``"saturate"`` (each documented below).
    """

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

    Parameters
    ----------
    shape : tuple or list of int
        Non-negative dimensions (an array's ``shape``).
    axis : int or None
        ``-len(shape) <= axis < len(shape)``; a negative axis counts from the end; None for per tensor.

    Returns
    -------
    (outer, channels, inner) : tuple of int
        Products of the dimensions before *axis*, the dimension itself, and the dimensions after it.

    Raises
    ------
    TypeError
        ``shape`` is not a list/tuple of integers, or ``axis`` is not an int or None.
    ValueError
        A negative dimension, or ``axis`` out of range for ``len(shape)`` dimensions.
    """
    dims = check_sequence(shape, "shape")
    shape = tuple(check_int(v, f"shape[{i}]", 0) for i, v in enumerate(dims))
    size = math.prod(shape)  # (math.prod: no array round trip on every call)
    if axis is None:
        return 1, 1, size
    if not shape:
        raise ValueError("axis is set but shape=() has no dimensions; allowed: axis=None")
    axis = check_axis(axis, len(shape), "axis")
    outer = math.prod(shape[:axis])
    inner = math.prod(shape[axis + 1 :])
    return outer, int(shape[axis]), inner


def _resolve_axis(spec: QuantSpec, ndim: int, name: str = "x") -> int | None:
    if spec.axis is None:
        return None
    if ndim == 0:
        raise ValueError(f"spec.axis={spec.axis} needs {name} with ndim >= 1, got a 0-d {name}")
    return check_axis(spec.axis, ndim, "spec.axis")


class _Layout:
    """Where each element's scale / zero point sits (see refquant._kernels.uniform, "Parameter layout")."""

    __slots__ = ("n", "inner", "blk", "ob", "ip", "js", "param_shape", "kind")

    def __init__(self, shape: tuple[int, ...], axis: int | None, block_size: int | None, size: int | None = None):
        if axis is None and size is not None:  # an array's own shape and size: nothing to validate
            n, inner = 1, size
        else:
            _, n, inner = channel_layout(shape, axis)
        self.n, self.inner = n, inner
        if axis is None:
            self.blk, self.ob, self.ip, self.js = 1, 0, 0, 0
            self.param_shape: tuple[int, ...] = ()
            self.kind = "tensor"
        elif block_size is None:
            self.blk, self.ob, self.ip, self.js = 1, 0, 1, 0
            self.param_shape = (n,)
            self.kind = "channel"
        else:
            nb = -(-n // block_size)
            self.blk, self.ob, self.ip, self.js = block_size, nb, inner, 1
            self.param_shape = tuple(shape[:axis]) + (nb,) + tuple(shape[axis + 1 :])
            self.kind = "block"

    @property
    def n_params(self) -> int:
        return int(np.prod(self.param_shape, dtype=np.int64))


def _param(value, name: str, lay: _Layout, allow_nonfinite: bool = True) -> np.ndarray:
    """*value* as a flat C-order array with one entry per parameter position of *lay*."""
    arr = as_real_array(value, name, allow_nonfinite=allow_nonfinite)
    if lay.kind == "tensor":
        if arr.size != 1 or arr.ndim > 1:
            raise ValueError(
                f"{name} has shape {arr.shape}; per-tensor quantization (spec.axis=None) needs a scalar. "
                "Set spec.axis for per-channel parameters"
            )
        return arr.reshape(1)
    if arr.ndim == 0:
        return np.full(lay.n_params, arr[()], dtype=arr.dtype)
    if lay.kind == "channel":
        if arr.ndim != 1 or arr.size != lay.n:
            raise ValueError(
                f"{name} has shape {arr.shape}; per-channel quantization along spec.axis needs a scalar "
                f"or a 1-D array of length {lay.n} (the channel count)"
            )
        return arr
    if arr.shape != lay.param_shape:
        raise ValueError(
            f"{name} has shape {arr.shape}; blocked quantization (spec.block_size={lay.blk}) needs a scalar or "
            f"an array of shape {lay.param_shape}: x's shape with dimension spec.axis replaced by "
            f"ceil({lay.n} / {lay.blk}) = {lay.ob}"
        )
    return arr.reshape(-1)


_SCALAR_TYPES = (float, int, np.floating, np.integer)
_F64 = np.dtype(np.float64)
_HALF_MAX = {np.dtype(d).char: float(np.finfo(d).max) * 0.5 for d in (np.float32, np.float64)}


def _scalar_scale(scale, spec: QuantSpec, cdtype: np.dtype):
    """Fast path of :func:`_prepare_scale` for a per-tensor Python/NumPy real scalar (same checks, same values)."""
    sf = float(scale)
    if not (math.isfinite(sf) and sf > 0):
        return None  # the general path raises with the full message
    s_c = cdtype.type(scale)
    if not (math.isfinite(float(s_c)) and s_c > 0):
        return None
    s = np.array((s_c,), dtype=cdtype)
    if spec.scale_op is ScaleOp.DIVIDE:
        return s, s
    if spec.scale_op is ScaleOp.RANGE_RECIPROCAL:
        return None  # the general path derives the range
    rdtype = cdtype if spec.reciprocal_dtype is None else np.dtype(spec.reciprocal_dtype)
    s_r = rdtype.type(s_c)
    if not (s_r > 0 and math.isfinite(float(s_r))) or 1.0 / float(s_r) > _HALF_MAX[rdtype.char]:
        return None  # near or beyond overflow: the general path decides exactly
    r = np.array((rdtype.type(1) / s_r,), dtype=rdtype).astype(cdtype, copy=False)
    return s, r


#: Prepared (scale, reciprocal) arrays of recent per-tensor scalar scales, by (value, compute dtype, scale_op,
#: reciprocal_dtype): a scalar scale is validated and rounded once, not on every call (the arrays are read, never
#: written, by the kernel). Keys are numeric values: 0.05 and np.float64(0.05) share an entry, np.float32(0.05)
#: (another value) does not; NaN never matches. Bounded: cleared when full.
_SCALE_CACHE: dict = {}
_SCALE_CACHE_MAX = 256
#: Per-tensor integer zero points as one-element compute-dtype arrays (read-only use by the kernel).
_ZP_CACHE: dict = {}


def _prepare_scale(scale, spec: QuantSpec, lay: _Layout, cdtype: np.dtype):
    if lay.kind == "tensor" and isinstance(scale, _SCALAR_TYPES) and not isinstance(scale, (bool, np.bool_)):
        key = (scale, cdtype.char, spec.scale_op, spec.reciprocal_dtype)
        hit = _SCALE_CACHE.get(key)
        if hit is not None:
            return hit
        fast = _scalar_scale(scale, spec, cdtype)
        if fast is not None:
            if len(_SCALE_CACHE) >= _SCALE_CACHE_MAX:
                _SCALE_CACHE.clear()
            _SCALE_CACHE[key] = fast
            return fast
    s_in = _param(scale, "scale", lay)
    check_positive(s_in.astype(np.float64), "scale")
    s = s_in.astype(cdtype)
    if not np.all(np.isfinite(s)) or not np.all(s > 0):
        raise ValueError(
            f"scale={short_repr(s_in)} is not representable as a positive finite {cdtype.name} "
            f"(it under- or overflows); allowed: {np.finfo(cdtype).tiny} <= scale <= {np.finfo(cdtype).max}"
        )
    if spec.scale_op is ScaleOp.DIVIDE:
        return s, s  # r is never read
    if spec.scale_op is ScaleOp.RANGE_RECIPROCAL:
        return s, _range_reciprocal(s_in, spec, cdtype)
    rdtype = cdtype if spec.reciprocal_dtype is None else np.dtype(spec.reciprocal_dtype)
    with np.errstate(over="ignore", divide="ignore", under="ignore"):
        s_r = s.astype(rdtype)
        r = (rdtype.type(1) / s_r).astype(cdtype)
    if not np.all(s_r > 0) or not np.all(np.isfinite(s_r)) or not np.all(np.isfinite(r)):
        raise ValueError(
            f"scale={short_repr(s_in)}: 1/scale overflows (or the scale underflows) in {rdtype.name} "
            f"(reciprocal_dtype={spec.reciprocal_dtype!r}), so scale_op='reciprocal' is undefined; use a scale with "
            f"{np.finfo(rdtype).tiny} <= scale and 1/scale <= {np.finfo(rdtype).max}, or scale_op='divide'"
        )
    return s, r


def _range_reciprocal(s_in: np.ndarray, spec: QuantSpec, cdtype: np.dtype) -> np.ndarray:
    """``r = fl(L / fl(fl64(s_in·L)))``, ``L = qmax - qmin``: the reciprocal of the range the scale came from."""
    span = spec.qmax - spec.qmin
    with np.errstate(over="ignore", divide="ignore", under="ignore"):
        rng = (s_in.astype(np.float64) * float(span)).astype(cdtype)
        r = (cdtype.type(span) / rng).astype(cdtype)
    if not (np.all(np.isfinite(rng)) and np.all(np.isfinite(r)) and np.all(r > 0)):
        raise ValueError(
            f"scale={short_repr(s_in)}: the range scale*(qmax - qmin) = scale*{span} or its reciprocal is not "
            f"finite in {cdtype.name}, so scale_op='range_reciprocal' is undefined; use scale <= "
            f"{float(np.finfo(cdtype).max) / span:.6g}"
        )
    return r


def _prepare_zero_point(zero_point, spec: QuantSpec, lay: _Layout, cdtype: np.dtype = _F64) -> np.ndarray:
    """Zero points as a flat *cdtype* array (integers below 2^17: exact in float32 and float64)."""
    if (
        lay.kind == "tensor"
        and isinstance(zero_point, (int, np.integer))
        and not isinstance(zero_point, (bool, np.bool_))
        and spec.qmin <= zero_point <= spec.qmax
    ):  # fast path for the common per-tensor integer zero point (the general path below raises for the rest)
        key = (int(zero_point), cdtype.char)
        hit = _ZP_CACHE.get(key)
        if hit is None:
            if len(_ZP_CACHE) >= _SCALE_CACHE_MAX:
                _ZP_CACHE.clear()
            hit = _ZP_CACHE[key] = np.array((zero_point,), dtype=cdtype)
        return hit
    z = _param(zero_point, "zero_point", lay, allow_nonfinite=False)
    if z.dtype.kind == "f":
        if not np.all(z == np.round(z)):
            raise ValueError(f"zero_point={short_repr(z)} must hold integers (integer-valued floats are accepted)")
    z64 = z.astype(np.float64)
    if np.any(z64 < spec.qmin) or np.any(z64 > spec.qmax):
        raise ValueError(
            f"zero_point={short_repr(z)} is outside the code range; allowed: {spec.qmin} <= zero_point <= {spec.qmax} "
            f"(bits={spec.bits}, signed={spec.signed}, narrow_range={spec.narrow_range})"
        )
    return z64.astype(cdtype, copy=False)


def _check_counts(counts: np.ndarray, policy: NonFinite, converted: bool) -> None:
    if counts.shape[0] == 1:
        n_bad, n_nan = int(counts[0, 0]), int(counts[0, 1])
    else:
        n_bad, n_nan = (int(v) for v in counts.sum(axis=0))
    if n_nan or (n_bad and policy is NonFinite.RAISE):
        extra = (
            " (counted after conversion to the compute dtype: finite values beyond its range become inf)"
            if converted
            else ""
        )
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
    return _NO_UNIFORMS


_NO_UNIFORMS = np.zeros(1, dtype=np.float64)
_NONFINITE = {m.value: m for m in NonFinite}


_DOMAIN_CODE = {Domain.CODE: 0, Domain.FLOAT_SHIFTED: 1, Domain.FLOAT_CENTERED: 2}


def _spec_flags(spec: QuantSpec) -> tuple[int, bool, int, int]:
    """(mode, recip, zp_op, shifted) kernel flags of *spec* (cheap; no validation needed, spec is frozen)."""
    return (
        _MODE_CODE[spec.rounding],
        spec.scale_op is not ScaleOp.DIVIDE,
        _ZP_CODE[spec.zero_point_op],
        _DOMAIN_CODE[spec.domain],
    )


def _derived(spec: QuantSpec, cdtype: np.dtype) -> tuple:
    """Spec-derived kernel constants for one compute dtype, computed once per spec object and cached on it.

    ``(mode, recip, zp_op, shifted, qmin, qmax, half, code_dtype, f32)`` with ``qmin``, ``qmax``, ``half`` as
    compute-dtype scalars. A QuantSpec is frozen and validated when constructed, so nothing here can go stale;
    the cache is a plain attribute outside the dataclass fields (equality, hashing, ``to_dict`` ignore it).
    """
    cache = spec.__dict__.get("_kernel_constants")
    if cache is None:
        cache = {}
        object.__setattr__(spec, "_kernel_constants", cache)
    key = cdtype.char
    got = cache.get(key)
    if got is None:
        got = (
            *_spec_flags(spec),
            cdtype.type(spec.qmin),
            cdtype.type(spec.qmax),
            cdtype.type(0.5),
            spec.code_dtype,
            cdtype == np.float32,
        )
        cache[key] = got
    return got


def _shifted_bounds(spec: QuantSpec, s: np.ndarray, z: np.ndarray, cdtype: np.dtype):
    """``lo = fl((qmin - z)·s)``, ``hi = fl((qmax - z)·s)`` in the compute dtype (``q - z`` is exact)."""
    lo = (cdtype.type(spec.qmin) - z) * s
    hi = (cdtype.type(spec.qmax) - z) * s
    return lo.astype(cdtype), hi.astype(cdtype)


class _AffineQuantArgs(NamedTuple):
    """The exact arguments of ``affine_quant_kernel`` (same names, same order); outputs ``out``/``counts`` allocated."""

    x: np.ndarray
    n: int
    inner: int
    s: np.ndarray
    r: np.ndarray
    z: np.ndarray
    qmin: np.floating
    qmax: np.floating
    mode: int
    recip: bool
    u: np.ndarray
    chunk: int
    dequant: bool
    out: np.ndarray
    counts: np.ndarray
    zp_op: int
    shifted: int
    lo: np.ndarray
    hi: np.ndarray
    half: np.floating
    blk: int
    ob: int
    ip: int
    js: int
    f32: bool


def _prepare_affine_quant(arr, scale, zero_point, spec, rng, dequant, out=None, chunk=None):
    """Validated public arguments -> (the kernel's exact arguments, the result array ``out`` views).

    ``arr`` is the real input array (``as_real_array``). Validates scale, zero point, rng and ``out``; converts
    ``x`` to the compute dtype (C order, flat), lays out the parameters (module ``_Layout``), draws the
    stochastic uniforms, computes the reciprocal and the shifted bounds, and allocates the outputs.
    ``chunk`` (default :data:`KERNEL_CHUNK`) is the kernel's work-item size (no effect on results).
    The kernel (``refquant._kernels.uniform.affine_quant_kernel``) and its twin
    (``refquant._reference.uniform.affine_quant_prepared``) both consume the returned arguments.
    """
    cdtype = spec.resolve_compute_dtype(arr.dtype)
    axis = _resolve_axis(spec, arr.ndim)
    lay = _Layout(arr.shape, axis, spec.block_size, arr.size)
    s, r = _prepare_scale(scale, spec, lay, cdtype)
    z = _prepare_zero_point(zero_point, spec, lay, cdtype)
    mode, recip, zp_op, shifted, qmin_c, qmax_c, half_c, code_dtype, f32 = _derived(spec, cdtype)
    lo, hi = _shifted_bounds(spec, s, z, cdtype) if shifted else (s, s)
    u = _draw_uniforms(spec, rng, arr.size)
    # A read-only array is a different Numba type (one more compiled signature): copy it, as other layouts.
    if arr.dtype == cdtype and arr.flags.c_contiguous and arr.flags.writeable:
        xc = arr.reshape(-1)
    else:
        with np.errstate(over="ignore"):
            xc = np.array(arr, dtype=cdtype, order="C").reshape(-1)  # always a fresh, writeable copy
    out_dtype = cdtype if dequant else code_dtype
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
        if np.may_share_memory(result, xc) and not (
            result.__array_interface__["data"][0] == xc.__array_interface__["data"][0] and result.shape == arr.shape
        ):
            xc = xc.copy()  # out partially overlaps x: read from a copy so no input element is overwritten first
    chunk = KERNEL_CHUNK if chunk is None else chunk
    counts = np.empty(((xc.size + chunk - 1) // chunk, 2), dtype=np.int64)
    args = _AffineQuantArgs(
        xc,
        lay.n,
        lay.inner,
        s,
        r,
        z,
        qmin_c,
        qmax_c,
        mode,
        recip,
        u,
        chunk,
        dequant,
        result.reshape(-1),
        counts,
        zp_op,
        shifted,
        lo,
        hi,
        half_c,
        lay.blk,
        lay.ob,
        lay.ip,
        lay.js,
        f32,
    )
    return args, result


_KERNEL: list = []


def _kernel_and_threads():
    """(affine_quant_kernel, threads_for, NUMBA_DISABLE_JIT): imported on first use (keeps ``import refquant``
    free of Numba's start-up), then taken from the module cache instead of an import statement per call."""
    if not _KERNEL:
        from numba import config

        from ._kernels._threads import threads_for
        from ._kernels.uniform import affine_quant_kernel

        _KERNEL.append((affine_quant_kernel, threads_for, bool(config.DISABLE_JIT)))
    return _KERNEL[0]


def _run(x, scale, zero_point, spec, rng, nonfinite, dequant, out=None):
    spec = _check_spec(spec)
    policy = _NONFINITE.get(nonfinite) if isinstance(nonfinite, str) else None
    if policy is None:
        policy = check_enum(nonfinite, NonFinite, "nonfinite")
    # NaN/inf are counted inside the kernel (one pass over x), see _check_counts.
    arr = as_real_array(x, "x", allow_nonfinite=True)
    args, result = _prepare_affine_quant(arr, scale, zero_point, spec, rng, dequant, out)
    kernel, threads_for, jit_disabled = _kernel_and_threads()
    with threads_for(args.x.size, PARALLEL_THRESHOLD):
        if jit_disabled:
            # with NUMBA_DISABLE_JIT=1 the kernel runs as Python on NumPy scalars, whose overflow to inf
            # (saturated by the clamp, as the contract says) would otherwise warn; compiled code never warns.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                kernel(*args)
        else:
            kernel(*args)
    _check_counts(args.counts, policy, converted=arr.dtype != args.x.dtype)
    return result


def quantize(x, scale, zero_point, spec: QuantSpec, *, rng=None, nonfinite: str = "raise") -> np.ndarray:
    r"""Integer codes ``clamp(round(x ⊘ s) + z, qmin, qmax)`` (or the variant *spec* selects).

    Parameters
    ----------
    x : array_like of real numbers
        Any shape (0-d allowed, empty not). Integer input is converted to
        the compute dtype. Never modified.
    scale : float or array_like
        Step size :math:`s > 0`, finite, representable as a positive finite
        number of the compute dtype (it is rounded once to that dtype).
        A scalar for ``spec.axis=None``; a scalar or a 1-D array of length
        ``x.shape[spec.axis]`` for per-channel; a scalar or an array of
        ``x``'s shape with dimension ``spec.axis`` replaced by
        ``ceil(x.shape[spec.axis] / spec.block_size)`` for blocked specs.
    zero_point : int or array_like of ints
        Integer(-valued) zero point(s) with ``qmin <= z <= qmax``; same shape
        rules as *scale*.
    spec : QuantSpec
        Grid, rounding mode, scale operation, compute dtype, channel axis,
        block size, zero-point placement, reciprocal dtype, domain.
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

    Raises
    ------
    TypeError
        *spec* not a QuantSpec; non-real *x*, *scale* or *zero_point*; a bad *rng*.
    ValueError
        Empty *x*; NaN in *x* (and ±inf with ``nonfinite="raise"``); a scale
        that is not positive and finite in the compute dtype (or whose
        reciprocal overflows, with ``scale_op="reciprocal"``, in the reciprocal
        dtype); a zero point outside ``[qmin, qmax]`` or not integral;
        parameters of the wrong shape (the message names ``scale`` /
        ``zero_point`` and the required shape); ``spec.axis`` out of range;
        stochastic rounding without *rng*; unknown *nonfinite*.

    Notes
    -----
    Arithmetic in the compute dtype (``spec.resolve_compute_dtype(x.dtype)``),
    ``fl`` a rounding to it, ``r = fl(1 / fl_rd(s))`` (``rd`` =
    ``spec.reciprocal_dtype`` or the compute dtype), ``x ⊘ s`` = ``fl(x / s)``
    (``scale_op="divide"``) or ``fl(x · r)`` (``"reciprocal"``)::

        zero_point_op="after_round"  q = clamp(round(x ⊘ s) + z)
        zero_point_op="before_round" q = clamp(round(fl(x ⊘ s + z)))
        zero_point_op="fused"        q = clamp(round(fl(x·r + z)))      (exact x·r + z, one rounding)
        domain="float_shifted"       q = clamp(round(fl(fl(clamp(x, lo, hi) - lo) ⊘ s)) + qmin),
                                     lo = fl((qmin - z)·s), hi = fl((qmax - z)·s)

    ``round`` is exact for every mode except ``floor_plus_half``, which is
    ``floor(fl(v + 0.5))`` by definition (docs/SEMANTICS.md).

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
    r"""Quantize then dequantize: ``(clamp(round(x ⊘ s) + z, qmin, qmax) - z) * s``.

    With ``spec.domain="float_shifted"`` the result is ``fl(fl((q - qmin)·s) + lo)``
    (TensorFlow's ``floor((clamp(x, lo, hi) - lo)·inv + 0.5)·s + lo``), with
    ``lo = fl((qmin - z)·s)``; *q* as in :func:`quantize` for every knob.
    Raises what :func:`quantize` raises, and for a bad *out*.

    Same parameters and semantics as :func:`quantize`; additionally *out*.

    Parameters
    ----------
    x : array_like of float
        The values to fake-quantize, as in :func:`quantize`.
    scale : float or array of float
        The step ``s`` (positive, finite); per channel or per block as in :func:`quantize`.
    zero_point : int or array of int
        The zero code ``z`` within ``[spec.qmin, spec.qmax]``, shaped like *scale*.
    spec : QuantSpec
        The grid, rounding, scale operation and the other knobs of the one equation.
    rng : numpy.random.Generator, optional
        Required for ``rounding="stochastic"`` only, as in :func:`quantize`.
    nonfinite : {"raise", "saturate"}
        What a NaN/inf in *x* does, as in :func:`quantize`.
    out : numpy.ndarray, optional
        C-contiguous, writeable, shape of ``x``, dtype = compute dtype. The
        result is written there (avoiding an allocation) and returned.
        ``out`` may be ``x`` itself (explicit in-place use); an ``out`` that
        partially overlaps ``x`` (e.g. ``x=b[:-1], out=b[1:]``) gives the
        same result as a separate buffer (``x`` is read from a copy first). If the call
        raises because ``x`` holds NaN/inf, ``out``'s contents are
        unspecified (the check is fused into the kernel's single pass).

    Returns
    -------
    numpy.ndarray of the compute dtype (float32 for float32 input by
    default, float64 otherwise), shape of ``x``. Bit-identical to
    ``dequantize(quantize(x, ...), ...)`` evaluated in the same compute
    dtype; a zero result is always ``+0.0``.

    Raises
    ------
    TypeError
        As :func:`quantize`; *out* not a ``numpy.ndarray``.
    ValueError
        As :func:`quantize`; *out* of the wrong shape or dtype, not C-contiguous or not writeable.

    Examples
    --------
    >>> fake_quant([0.26, -0.74, 10.0], 0.5, 0, QuantSpec(4)).tolist()
    [0.5, -0.5, 3.5]
    """
    return _run(x, scale, zero_point, spec, rng, nonfinite, dequant=True, out=out)


def dequantize(codes, scale, zero_point, spec: QuantSpec) -> np.ndarray:
    r"""Real values ``(q - z) * s`` of integer codes (``fl(fl((q - qmin)·s) + fl((qmin - z)·s))`` when
    ``spec.domain="float_shifted"``).

    Per tensor, per channel or blocked (``spec.block_size``, ONNX
    DequantizeLinear opset 21) as for :func:`quantize`.

    Raises
    ------
    TypeError
        Non-integer *codes*; *spec* not a QuantSpec.
    ValueError
        Codes outside ``[qmin, qmax]``; scale / zero point as in :func:`quantize`.

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
            f"[{spec.qmin}, {spec.qmax}] of spec (bits={spec.bits}, signed={spec.signed}, "
            f"narrow_range={spec.narrow_range})"
        )
    axis = _resolve_axis(spec, q.ndim, "codes")
    lay = _Layout(q.shape, axis, spec.block_size)
    scale_arr = np.asarray(scale)
    if spec.compute_dtype is not None:
        cdtype = np.dtype(spec.compute_dtype)
    else:
        cdtype = np.dtype(np.float32) if scale_arr.dtype == np.float32 else np.dtype(np.float64)
    s, _ = _prepare_scale(scale, spec, lay, cdtype)
    z = _prepare_zero_point(zero_point, spec, lay).astype(cdtype)
    qf = q.astype(cdtype)
    if spec.domain is Domain.FLOAT_SHIFTED:
        lo, _ = _shifted_bounds(spec, s, z, cdtype)
        step = ((qf - cdtype.type(spec.qmin)) * _expand(s, lay, q.shape, axis)).astype(cdtype)
        return (step + _expand(lo, lay, q.shape, axis)).astype(cdtype)
    return (qf - _expand(z, lay, q.shape, axis)) * _expand(s, lay, q.shape, axis)


def _expand(p: np.ndarray, lay: _Layout, shape: tuple[int, ...], axis: int | None) -> np.ndarray:
    """Flat parameters of *lay* as an array that broadcasts against *shape*."""
    if lay.kind == "tensor":
        return p.reshape(())
    if lay.kind == "channel":
        view = [1] * len(shape)
        view[axis] = lay.n
        return p.reshape(view)
    return np.take(p.reshape(lay.param_shape), np.arange(lay.n) // lay.blk, axis=axis)


def _pow2_ceil(s: np.ndarray) -> np.ndarray:
    """Smallest power of two >= s (exact, via frexp)."""
    m, e = np.frexp(s)
    return np.ldexp(np.ones_like(s), np.where(m == 0.5, e - 1, e))


def calibrate_minmax(x, spec: QuantSpec, *, symmetric: bool = True, power_of_two: bool = False):
    r"""Scale and zero point from the range of ``x`` (per tensor, per channel or per block).

    The range always includes 0 (so that 0 is exactly representable):
    ``lo = min(min(x), 0)``, ``hi = max(max(x), 0)``, reduced over all axes
    (``spec.axis=None``), over all axes but ``spec.axis`` (per channel), or,
    with ``spec.block_size = B``, over each block of ``B`` consecutive
    elements along ``spec.axis`` at each index of the other axes (the last
    block may be shorter; ONNX opset-21 blocked layout).

    * ``symmetric=True``: ``z = 0`` and ``s = max(|lo|, hi) / qmax`` (signed),
      so both ``-max|x|`` and ``+max|x|`` map inside the grid without
      clipping. Unsigned symmetric means scale-only quantization of
      non-negative data (``s = hi / qmax``); negative values then raise
      ``ValueError``.
    * ``symmetric=False`` (asymmetric): ``s = (hi - lo) / (qmax - qmin)``,
      ``z = clamp(qmin - round_half_even(lo / s), qmin, qmax)``.
    * ``power_of_two=True``: ``s`` is rounded *up* to the next power of two
      (exactly, via ``frexp``), so the range stays covered; ``z`` is then
      recomputed from the new ``s``.
    * A zero range (all-zero data) gives ``s = 1`` (any positive scale
      represents it exactly); a positive scale below the smallest normal
      number of the compute dtype is raised to it, so the scale and its
      reciprocal stay finite.

    The scale is computed in float64 and rounded once to the compute dtype
    (``spec.resolve_compute_dtype(x.dtype)``): it is the correctly rounded
    value of the formula (for float64 data up to the one rounding of the
    float64 quotient).

    This is *not* PyTorch's observer arithmetic, which differs in three
    ways: ``MinMaxObserver`` / ``PerChannelMinMaxObserver`` compute step by
    step in float32 (``fl32(fl32(max - min) / fl32(qmax - qmin))``, 1 ulp away
    from the correctly rounded scale on about a quarter of random ranges),
    floor the scale at float32 ``eps`` (``2^-23``, not the smallest normal
    number), and divide symmetric ranges by ``(qmax - qmin) / 2`` (127.5 for 8
    bits, which clips the largest value by one code). ``refquant.profiles``
    reproduces backends' own calibration arithmetic.

    Parameters
    ----------
    x : array_like of real numbers
        Finite data, non-empty; for per channel / blocked ``ndim >= 1``.
    spec : QuantSpec
        Grid, axis, block size and compute dtype.
    symmetric : bool
        Zero point 0 (default) or an asymmetric range.
    power_of_two : bool
        Round the scale up to a power of two.

    Returns
    -------
    (scale, zero_point)
        Per tensor: a compute-dtype NumPy scalar and a Python ``int``. Per
        channel: a 1-D compute-dtype array and a 1-D int64 array, length
        ``x.shape[spec.axis]``. Blocked: arrays of ``x``'s shape with
        dimension ``spec.axis`` replaced by ``ceil(x.shape[spec.axis] / B)``.

    Raises
    ------
    TypeError
        *spec* not a QuantSpec, *symmetric*/*power_of_two* not bool, *x* not real.
    ValueError
        Non-finite or empty *x*, negative data with an unsigned symmetric
        spec, a range whose scale is not representable.

    Examples
    --------
    >>> calibrate_minmax([-1.0, 0.5, 2.54], QuantSpec(8))
    (np.float64(0.02), 0)
    >>> calibrate_minmax([0.0, 1.0], QuantSpec(8, signed=False), symmetric=False)
    (np.float64(0.00392156862745098), 0)
    >>> s, z = calibrate_minmax([[1.0, -2.0, 4.0]], QuantSpec(8, axis=1, block_size=2))
    >>> s.shape, (s * 127).tolist()
    ((1, 2), [[2.0, 4.0]])
    """
    spec = _check_spec(spec)
    symmetric = check_bool(symmetric, "symmetric")
    power_of_two = check_bool(power_of_two, "power_of_two")
    arr = as_real_array(x, "x")
    cdtype = spec.resolve_compute_dtype(arr.dtype)
    axis = _resolve_axis(spec, arr.ndim)
    a64 = arr.astype(np.float64)
    if axis is not None and spec.block_size is not None:
        starts = np.arange(0, arr.shape[axis], spec.block_size)
        lo = np.minimum(np.minimum.reduceat(a64, starts, axis=axis), 0.0)
        hi = np.maximum(np.maximum.reduceat(a64, starts, axis=axis), 0.0)
    else:
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
        raise ValueError(
            f"the calibrated scale is not representable in {cdtype.name} (x's range is too large or too small)"
        )
    if symmetric:
        z = np.zeros_like(lo, dtype=np.int64)
    else:
        z = np.clip(qmin - np.rint(lo / s.astype(np.float64)), qmin, qmax).astype(np.int64)
    if axis is None:
        return s[()], int(z)
    return s, z
