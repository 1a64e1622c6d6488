"""Fused Numba kernel for the uniform affine quantizer (quantize / fake_quant).

Private: no validation happens here; :mod:`refquant.uniform` validates and
prepares every argument. The plain-NumPy twin is
:mod:`refquant._reference.uniform`; it shares no code with this file.

Arithmetic (docs/SEMANTICS.md), per element ``x`` with parameters ``s, r, z``
(and ``lo, hi`` for the shifted domain)::

    shifted == 0 (domain "code"):
        v = x / s   (recip == 0)   or   v = x * r   (recip == 1)
        zp_op 0 (after_round):  q = round(v) + z
        zp_op 1 (before_round): q = round(v + z)              (v + z rounded to the compute dtype)
        zp_op 2 (fused):        q = round(fma(x, r, z))       (x*r + z rounded once, exactly)
        q = min(max(q, qmin), qmax);   out = (q - z) * s   if dequant   else   q
    shifted == 1 (domain "float_shifted"):
        w = min(max(x, lo), hi) - lo;   v = w / s   or   v = w * r
        q = min(max(round(v) + qmin, qmin), qmax);   out = ((q - qmin) * s) + lo   if dequant   else   q
    shifted == 2 (domain "float_centered"):
        w = min(max(x, lo), hi) - lo;   v = w / s   or   v = w * r;   t = v - (z - qmin)   (z - qmin exact)
        q = min(max(round(t) + z, qmin), qmax);   out = (q - z) * s   if dequant   else   q

Every operation is an IEEE operation of the compute dtype (the dtype of
``x``/``s``/``r``/``z``). Constants enter as compute-dtype scalars (``half``)
so that no float64 literal widens a float32 sum; the two results that must be
rounded to the compute dtype from a wider value (the fused multiply-add and
the shifted dequantization product) are stored through a one-element
compute-dtype buffer. Integer-valued quantities may be held in float64 by
Numba's literal promotion, which is exact (integers < 2**53).

Rounding modes (``mode``): 0 half-to-even, 1 half-away-from-zero, 2 half-up,
3 floor, 4 stochastic (``u`` holds one uniform [0, 1) float64 per element,
C order), 5 floor-plus-half (``floor(v + half)`` with the sum rounded to the
compute dtype). Ties of modes 1 and 2 are detected exactly from
``d = v - rint(v)``, which is exact (Sterbenz) for every finite ``v``.

Fused multiply-add: Numba/LLVM gives no guaranteed correctly rounded fma, so
it is computed with error-free transformations (:func:`_fma_rn`):

* float32 compute dtype: ``x*r`` is exact in float64 (24 + 24 <= 53 bits);
  ``x*r + z`` is added in float64 with round-to-odd (TwoSum gives the exact
  error; an inexact sum with an even last bit moves one ulp towards the error),
  and converting a round-to-odd value with >= p + 2 bits to p bits is
  correctly rounded (Boldo and Melquiond, "Emulation of FMA and correctly
  rounded sums: proved algorithms using rounding to odd", IEEE Trans.
  Computers 57(4), 2008, Theorem 1).
* float64 compute dtype: ``x*r = ph + pl`` exactly (Dekker's TwoProduct with
  Veltkamp splitting), ``z + ph = th + tl`` exactly (TwoSum), then
  ``RN(th + RO(tl + pl))`` (same paper, Algorithm 5 / Theorem 6). Inputs are
  rescaled by a power of two when a splitting could overflow; a product so
  large that it saturates (> 2**60) or so small that Dekker's error term could
  underflow (< 2**-900) is handled directly: the rounded sum is then
  ``fl(x*r + z)``, resp. ``z`` (``x*r`` alone if ``z == 0``), which is the
  correctly rounded fma there.

Parameter layout: ``x`` is C-ordered with shape ``(outer, n, inner)`` around
the quantization axis; the parameter of element ``(o, i, j)`` is at flat index
``(o * ob + i // blk) * ip + j * js``:
per tensor ``n = 1, ob = 0, ip = 0, js = 0``; per channel ``blk = 1, ob = 0,
ip = 1, js = 0``; blocked ``ob = ceil(n / blk), ip = inner, js = 1``.

Parallelism: ``prange`` over fixed-size chunks of the flat array; every
output element is written by exactly one iteration and there is no
reduction, so results do not depend on the thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _round(v, mode, half):
    """Deterministic modes 0, 1, 2, 3, 5 (stochastic rounding is done by the caller)."""
    if mode == 0:
        return np.rint(v)
    if mode == 3:
        return np.floor(v)
    if mode == 5:
        return np.floor(v + half)
    r = np.rint(v)
    d = v - r
    if mode == 2:
        return r + 1.0 if d == 0.5 else r
    if d == 0.5 and v > 0:
        return r + 1.0
    if d == -0.5 and v < 0:
        return r - 1.0
    return r


@njit(cache=True, inline="always")
def _two_sum(a, b):
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


@njit(cache=True, inline="always")
def _round_to_odd_fix(s, e):
    """``s`` = RN(a + b) with exact error ``e``: return RO(a + b) (float64)."""
    if e == 0.0 or not math.isfinite(s):
        return s
    m, _ = math.frexp(s)
    if int(m * 9007199254740992.0) & 1:  # 2**53: the integer significand; odd already
        return s
    return np.nextafter(s, math.inf if e > 0 else -math.inf)


@njit(cache=True, inline="always")
def _split(a):
    c = 134217729.0 * a  # 2**27 + 1 (Veltkamp)
    hi = c - (c - a)
    return hi, a - hi


@njit(cache=True)
def _fma_rn(x, r, z, f32):
    """fma(x, r, z) as a float64: round-to-odd of the exact value (``f32``), or its correct rounding."""
    xd = np.float64(x)  # (Numba's float() keeps a float32 a float32)
    rd = np.float64(r)
    zd = np.float64(z)
    p = xd * rd
    if f32:  # exact product; round-to-odd sum; the caller's conversion to float32 rounds correctly
        s, e = _two_sum(p, zd)
        return _round_to_odd_fix(s, e)
    ap = abs(p)
    if not ap <= 1.152921504606847e18:  # > 2**60 (or inf/NaN): saturates whatever the last bit
        return p + zd
    if ap < 1.4996e-271:  # < 2**-900: |x*r| far below half an ulp of any nonzero integer z
        return p if zd == 0.0 else zd
    if abs(xd) > 1e150:  # rescale exactly so that the splitting cannot overflow
        xd *= 2.0**-500
        rd *= 2.0**500
    elif abs(rd) > 1e150:
        rd *= 2.0**-500
        xd *= 2.0**500
    xh, xl = _split(xd)
    rh, rl = _split(rd)
    ph = xd * rd
    pl = ((xh * rh - ph) + xh * rl + xl * rh) + xl * rl
    th, tl = _two_sum(zd, ph)
    s, e = _two_sum(tl, pl)
    return th + _round_to_odd_fix(s, e)


@njit(cache=True, inline="always")
def _code(xv, sc, rc, zc, lo, hi, qmin, qmax, mode, recip, zp_op, shifted, half, uv, f32, buf):
    """The clamped code of one element, as a float of the compute dtype (or float64, integer-valued)."""
    if shifted:
        xv = min(max(xv, lo), hi) - lo
    if zp_op == 2:
        buf[0] = _fma_rn(xv, rc, zc, f32)
        v = buf[0]
    else:
        v = xv * rc if recip else xv / sc
        if zp_op == 1:
            v = v + zc
        elif shifted == 2:
            v = v - (zc - qmin)  # the zero code's offset from qmin: an exact integer
    if mode == 4:
        f = np.floor(v)
        k = f + 1.0 if uv < v - f else f
    else:
        k = _round(v, mode, half)
    if shifted == 1:
        k = k + qmin
    elif zp_op == 0:
        k = k + zc
    else:
        k = k + 0.0  # -0.0 -> +0.0, so that a zero code dequantizes to +0.0
    return min(max(k, qmin), qmax)


@njit(cache=True, parallel=True)
def affine_quant_kernel(
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
    """Quantize (``dequant=False``) or fake-quantize (``dequant=True``) ``x``.

    Parameters (all prepared by the caller)
    ---------------------------------------
    x : 1-D C-contiguous float32/float64, the flattened input (C order).
    n, inner : int; ``x`` has shape ``(outer, n, inner)`` around the axis.
    s, r, z, lo, hi : 1-D arrays of the compute dtype: scale, reciprocal,
        zero point, shifted minimum ``(qmin - z)*s`` and maximum ``(qmax - z)*s``
        (the last two read only when ``shifted``), indexed as in the module docstring. ``r`` is the
        reciprocal the caller derived (``1/s``, or ``(qmax - qmin)/range`` for "range_reciprocal").
    qmin, qmax, half : compute-dtype scalars: the code range and 0.5.
    mode : int rounding mode; recip : bool; zp_op : int 0/1/2; shifted : int 0/1/2 (domain code /
        float_shifted / float_centered).
    u : 1-D float64 uniforms (len(x) for stochastic, else any length >= 1).
    chunk : int > 0, elements per parallel work item.
    out : 1-D output, float (dequant) or integer code dtype, len(x).
    counts : int64 array (ceil(len(x) / chunk), 2), written with the number of
        non-finite (column 0) and NaN (column 1) inputs of each chunk, so the
        caller can enforce its NaN/inf policy without a separate pass over x.
        (``v - v != 0`` is true exactly for NaN and ±inf.) Where an input is
        NaN the output element is set to ``qmin`` (never an undefined
        NaN-to-integer conversion); the caller raises.
    blk, ob, ip, js : int parameter layout (module docstring).
    f32 : bool, the compute dtype is float32 (selects the fma algorithm).
    """
    size = x.size
    nchunks = (size + chunk - 1) // chunk
    simple = zp_op == 0 and shifted == 0 and mode != 4 and js == 0
    for k in prange(nchunks):
        start = k * chunk
        stop = min(start + chunk, size)
        o = start // (n * inner)
        i = (start // inner) % n
        j = start % inner
        p = start
        n_bad = 0
        n_nan = 0
        buf = np.empty(1, dtype=s.dtype)
        while p < stop:
            seg = min(stop - p, inner - j)
            pb = (o * ob + i // blk) * ip + j * js
            # slices (not x[t] with a signed index) let LLVM vectorise the inner loop
            xs = x[p : p + seg]
            os = out[p : p + seg]
            if simple:  # the common case, kept free of per-element branches on the knobs
                sc = s[pb]
                rc = r[pb]
                zc = z[pb]
                for t in range(seg):
                    xv = xs[t]
                    n_bad += (xv - xv) != 0
                    n_nan += xv != xv
                    v = xv * rc if recip else xv / sc
                    q = min(max(_round(v, mode, half) + zc, qmin), qmax)
                    if dequant:
                        os[t] = (q - zc) * sc
                    else:  # a NaN input gives qmin here (the caller raises), never a NaN-to-int conversion
                        os[t] = q if q == q else qmin
            else:
                for t in range(seg):
                    xv = xs[t]
                    n_bad += (xv - xv) != 0
                    n_nan += xv != xv
                    e = pb + t * js
                    uv = u[p + t] if mode == 4 else 0.0
                    q = _code(
                        xv, s[e], r[e], z[e], lo[e], hi[e], qmin, qmax, mode, recip, zp_op, shifted, half, uv, f32, buf
                    )
                    if dequant:
                        if shifted == 1:
                            buf[0] = (q - qmin) * s[e]
                            os[t] = buf[0] + lo[e]
                        else:
                            os[t] = (q - z[e]) * s[e]
                    else:
                        os[t] = q if q == q else qmin
            p += seg
            j = 0
            i += 1
            if i == n:
                i = 0
                o += 1
        counts[k, 0] = n_bad
        counts[k, 1] = n_nan
