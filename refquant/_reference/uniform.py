"""Plain-NumPy twin of :mod:`refquant._kernels.uniform` (the oracle).

Written for obviousness: whole-array NumPy operations on the *original*
N-d shape, with the parameters expanded to the full shape of ``x`` (the
kernel instead walks a flat array and computes a parameter index). The
rounding modes are formulated differently from the kernel on purpose
(``trunc`` / ``floor`` fraction tests instead of the kernel's ``rint``
residual), so a shared mistake is unlikely. Both formulations are exact: a
fraction ``v - trunc(v)`` or ``v - floor(v)`` of a float is compared with
0.5, and that comparison is decided exactly (see docs/SEMANTICS.md).

The fused multiply-add is computed element by element with exact rational
arithmetic (:class:`fractions.Fraction`) and an explicit round-to-nearest-even
onto the compute dtype's grid (the kernel uses error-free float
transformations instead). Slow, and only used in tests.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

_MODES = ("half_even", "half_away", "half_up", "floor", "stochastic", "floor_plus_half")


def round_values(v: np.ndarray, mode: str, u: np.ndarray | None = None) -> np.ndarray:
    """Round the float array *v* to integers (same dtype) with the named mode."""
    with np.errstate(invalid="ignore", over="ignore"):
        if mode == "half_even":
            return np.rint(v)
        if mode == "half_away":
            t = np.trunc(v)
            frac = np.abs(v - t)
            return np.where(frac >= 0.5, t + np.sign(v), t)
        if mode == "half_up":
            f = np.floor(v)
            return np.where(v - f >= 0.5, f + 1, f)
        if mode == "floor":
            return np.floor(v)
        if mode == "floor_plus_half":
            # the sum is an IEEE addition of the array's own dtype (NumPy keeps float32 + float32 in float32)
            return np.floor(np.add(v, np.asarray(0.5, dtype=v.dtype), dtype=v.dtype))
        if mode == "stochastic":
            f = np.floor(v)
            up = u.reshape(v.shape) < (v - f)
            return np.where(up, f + 1, f)
    raise ValueError(f"unknown mode {mode!r}")


def expand(p, shape: tuple[int, ...], axis: int | None, block_size: int | None, dtype) -> np.ndarray:
    """Parameters as an array of the full *shape* of ``x``.

    Per tensor: any size-1 array. Per channel: 1-D, length ``shape[axis]``.
    Blocked: ``shape`` with ``shape[axis]`` replaced by ``ceil(shape[axis] / block_size)``,
    each entry repeated ``block_size`` times along the axis and cut to ``shape[axis]``.
    """
    a = np.asarray(p, dtype=dtype)
    if axis is None:
        return np.broadcast_to(a.reshape(()), shape)
    if block_size is None:
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(a.reshape(view), shape)
    rep = np.repeat(a, block_size, axis=axis)
    return np.moveaxis(np.moveaxis(rep, axis, 0)[: shape[axis]], 0, axis)


def _round_fraction(q: Fraction, dt: np.dtype) -> float:
    """The float of dtype *dt* nearest to the rational *q* (ties to an even significand)."""
    if q == 0:
        return 0.0
    info = np.finfo(dt)
    p = info.nmant + 1  # significand bits
    emin = info.minexp  # smallest normal exponent: 2**emin
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()  # 2**e is within a factor 2 of a
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, emin)  # subnormals share the quantum 2**(emin - p + 1)
    quantum = Fraction(2) ** (e - p + 1)
    m = a / quantum
    k = m.numerator // m.denominator
    rest = m - k
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and k % 2 == 1):
        k += 1
    val = k * quantum
    if val > Fraction(float(info.max)):  # beyond the largest finite value: rounds to inf (only for huge x*r)
        out = np.inf
    else:
        out = float(val)  # k * 2**n with k < 2**p is exact in float64
    return out if q > 0 else -out


def _fma(x: np.ndarray, r: np.ndarray, z: np.ndarray, dt: np.dtype) -> np.ndarray:
    out = np.empty(x.shape, dtype=dt)
    for idx in np.ndindex(x.shape):
        xv, rv, zv = float(x[idx]), float(r[idx]), float(z[idx])
        if not np.isfinite(xv):
            out[idx] = xv * rv + zv  # inf/NaN propagate as the IEEE operations do
            continue
        out[idx] = _round_fraction(Fraction(xv) * Fraction(rv) + Fraction(zv), dt)
    return out


def _positive_zero(q: np.ndarray) -> np.ndarray:
    """A rounded -0.0 becomes +0.0 (the integer code 0 has no sign; its dequantized value is +0.0)."""
    return np.where(q == 0, np.zeros((), q.dtype), q)


def quantize_codes(
    x,
    scale,
    zero_point,
    qmin,
    qmax,
    mode,
    scale_op,
    axis,
    u=None,
    *,
    zero_point_op="after_round",
    reciprocal_dtype=None,
    block_size=None,
    domain="code",
    reciprocal=None,
):
    """Float-valued codes in ``x.dtype`` (the compute dtype) by the equation of docs/SEMANTICS.md.

    ``scale``/``zero_point``: as :func:`expand` takes them, in any float dtype. ``reciprocal``: the reciprocal
    scale already in the compute dtype, laid out as ``scale`` (used instead of computing ``1/scale`` in
    ``reciprocal_dtype``; the prepared kernel arguments carry it).
    """
    dt = x.dtype
    s = expand(scale, x.shape, axis, block_size, dt)
    z = expand(zero_point, x.shape, axis, block_size, dt)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if scale_op != "divide" and reciprocal is not None:
            r = expand(reciprocal, x.shape, axis, block_size, dt)
        elif scale_op == "reciprocal":
            rdt = dt if reciprocal_dtype is None else np.dtype(reciprocal_dtype)
            r = (np.ones((), dtype=rdt) / s.astype(rdt)).astype(dt)
        elif scale_op == "range_reciprocal":
            # the range the scale was derived from, from the scale as passed (float64), then L / range
            span = dt.type(qmax - qmin)
            rng = (expand(scale, x.shape, axis, block_size, np.float64) * float(qmax - qmin)).astype(dt)
            r = (span / rng).astype(dt)
        if domain in ("float_shifted", "float_centered"):
            lo = ((np.asarray(qmin, dtype=dt) - z) * s).astype(dt)
            hi = ((np.asarray(qmax, dtype=dt) - z) * s).astype(dt)
            w = (np.clip(x, lo, hi) - lo).astype(dt)
            v = (w / s if scale_op == "divide" else w * r).astype(dt)
            if domain == "float_shifted":
                q = round_values(v, mode, u) + dt.type(qmin)
            else:  # re-centred on the zero code: its offset z - qmin is an exact integer
                q = round_values((v - (z - dt.type(qmin))).astype(dt), mode, u) + z
        elif zero_point_op == "fused":
            q = _positive_zero(round_values(_fma(x, r, z, dt), mode, u))
        else:
            v = (x / s if scale_op == "divide" else x * r).astype(dt)
            if zero_point_op == "before_round":
                q = _positive_zero(round_values((v + z).astype(dt), mode, u))
            else:
                q = round_values(v, mode, u) + z
    return np.clip(q, dt.type(qmin), dt.type(qmax)).astype(dt)


def fake_quant(x, scale, zero_point, qmin, qmax, mode, scale_op, axis, u=None, **knobs):
    """Codes of :func:`quantize_codes` mapped back to reals, in ``x.dtype``."""
    dt = x.dtype
    q = quantize_codes(x, scale, zero_point, qmin, qmax, mode, scale_op, axis, u, **knobs)
    return dequantize(q, scale, zero_point, axis, dt, qmin=qmin, qmax=qmax, **_layout_knobs(knobs))


def _layout_knobs(knobs: dict) -> dict:
    return {k: v for k, v in knobs.items() if k in ("block_size", "domain")}


def dequantize(codes, scale, zero_point, axis, dtype, *, qmin=None, qmax=None, block_size=None, domain="code"):
    """``(codes - z) * s`` computed in *dtype*; ``fl(fl((codes - qmin)*s) + fl((qmin - z)*s))`` when shifted."""
    dt = np.dtype(dtype)
    q = np.asarray(codes).astype(dt)
    s = expand(scale, q.shape, axis, block_size, dt)
    z = expand(zero_point, q.shape, axis, block_size, dt)
    if domain == "float_shifted":
        lo = ((dt.type(qmin) - z) * s).astype(dt)
        return (((q - dt.type(qmin)) * s).astype(dt) + lo).astype(dt)
    return ((q - z) * s).astype(dt)


_ZP_OPS = ("after_round", "before_round", "fused")


def affine_quant_prepared(
    x,
    n,
    inner,
    s,
    r,
    z,
    qmin,
    qmax,
    mode,
    recip,
    u,
    chunk,
    dequant,
    out,
    counts,
    zp_op,
    shifted,
    lo,
    hi,
    half,
    blk,
    ob,
    ip,
    js,
    f32,
):
    """The twin on the kernel's own (prepared) arguments: fills ``out`` and ``counts`` as the kernel does.

    Decodes the flat parameter layout back to the N-d form of :func:`expand` (``x`` as ``(outer, n, inner)``,
    channel axis 1: per tensor when ``ip == 0``, per channel when ``js == 0``, else blocks of ``blk`` along the
    axis with parameters of shape ``(outer, ob, inner)``), maps the integer flags to the named modes and runs
    :func:`quantize_codes` / :func:`fake_quant`. ``lo``/``hi``, ``half``, ``f32`` are not read: the twin derives
    them from ``qmin``, ``z``, ``s`` and the dtype itself. ``counts[k]`` = (non-finite, NaN) inputs of chunk
    ``k``; a NaN input gives the code ``qmin`` (codes) or an unspecified value (dequantized; the caller raises).
    """
    x3 = x.reshape(-1, n, inner)
    if ip == 0:
        axis, block, pshape = None, None, (1,)
    elif js == 0:
        axis, block, pshape = 1, None, (n,)
    else:
        axis, block, pshape = 1, blk, (x3.shape[0], ob, inner)
    m = s.size if ip == 0 else int(np.prod(pshape))
    sp, rp, zp = (a[:m].reshape(pshape) for a in (s, r, z))
    knobs = dict(
        zero_point_op=_ZP_OPS[zp_op],
        block_size=block,
        domain=("code", "float_shifted", "float_centered")[shifted],
        reciprocal=rp if recip else None,
    )
    # a prepared reciprocal stands for both reciprocal kinds (it is passed in, not derived)
    args = (x3, sp, zp, qmin, qmax, _MODES[mode], "reciprocal" if recip else "divide", axis, u if mode == 4 else None)
    if dequant:
        out[...] = fake_quant(*args, **knobs).reshape(-1)
    else:
        q = quantize_codes(*args, **knobs).reshape(-1)
        out[...] = np.where(np.isnan(x), qmin, q)
    bad = ~np.isfinite(x)
    nan = np.isnan(x)
    for k in range(counts.shape[0]):
        counts[k, 0] = np.count_nonzero(bad[k * chunk : (k + 1) * chunk])
        counts[k, 1] = np.count_nonzero(nan[k * chunk : (k + 1) * chunk])
