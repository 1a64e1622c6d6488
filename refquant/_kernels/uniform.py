"""Fused Numba kernel for the uniform affine quantizer (quantize / fake_quant).

Private: no validation happens here; :mod:`refquant.uniform` validates and
prepares every argument. The plain-NumPy twin is
:mod:`refquant._reference.uniform`; it shares no code with this file.

Arithmetic (docs/SEMANTICS.md), per element ``x`` of channel ``c``::

    v = x / s[c]            (recip == False)   or   v = x * r[c]   (recip == True)
    q = round_mode(v) + z[c]
    q = min(max(q, qmin), qmax)
    out = (q - z[c]) * s[c]      if dequant else   out = q   (stored as integer code)

Every operation is an IEEE operation of the compute dtype (the dtype of
``x``/``s``/``r``/``z``); intermediate integer-valued quantities may be held
in float64 by Numba's literal promotion, which is exact because they are
integers of magnitude < 2**53 and the final product is rounded once.

Rounding modes (``mode``): 0 half-to-even, 1 half-away-from-zero, 2 half-up,
3 floor, 4 stochastic (``u`` holds one uniform [0, 1) float64 per element,
C order). Ties are detected exactly from ``d = v - rint(v)``, which is exact
(Sterbenz) for every finite ``v``.

Parallelism: ``prange`` over fixed-size chunks of the flat array; every
output element is written by exactly one iteration and there is no
reduction, so results do not depend on the thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _round(v, mode):
    """Deterministic modes 0..3 (stochastic rounding is inlined in the kernel)."""
    if mode == 0:
        return np.rint(v)
    if mode == 3:
        return np.floor(v)
    r = np.rint(v)
    d = v - r
    if mode == 2:
        return r + 1.0 if d == 0.5 else r
    if d == 0.5 and v > 0:
        return r + 1.0
    if d == -0.5 and v < 0:
        return r - 1.0
    return r


@njit(cache=True, parallel=True)
def affine_quant_kernel(x, n_channels, inner, s, r, z, qmin, qmax, mode, recip, u, chunk, dequant, out, counts):
    """Quantize (``dequant=False``) or fake-quantize (``dequant=True``) ``x``.

    Parameters (all prepared by the caller)
    ---------------------------------------
    x : 1-D C-contiguous float32/float64, the flattened input (C order).
    n_channels, inner : int; element ``t`` belongs to channel ``(t // inner) % n_channels``.
    s, r, z : 1-D arrays (n_channels,) of the compute dtype: scale, 1/scale, zero point.
    qmin, qmax : compute-dtype scalars, the code range.
    mode : int rounding mode (see module docstring); recip : bool.
    u : 1-D float64 uniforms (len(x) for stochastic, else any length >= 1).
    chunk : int > 0, elements per parallel work item.
    out : 1-D output, float (dequant) or integer code dtype, len(x).
    counts : int64 array (ceil(len(x) / chunk), 2), written with the number of
        non-finite (column 0) and NaN (column 1) inputs of each chunk, so the
        caller can enforce its NaN/inf policy without a separate pass over x.
        (``v - v != 0`` is true exactly for NaN and ±inf.) Where an input is
        NaN the output element is set to ``qmin`` (never an undefined
        NaN-to-integer conversion); the caller raises.
    """
    n = x.size
    nchunks = (n + chunk - 1) // chunk
    for k in prange(nchunks):
        start = k * chunk
        stop = min(start + chunk, n)
        c = (start // inner) % n_channels
        i = start % inner
        p = start
        n_bad = 0
        n_nan = 0
        while p < stop:
            seg = min(stop - p, inner - i)
            sc = s[c]
            rc = r[c]
            zc = z[c]
            # slices (not x[t] with a signed index) let LLVM vectorise the inner loop
            xs = x[p : p + seg]
            os = out[p : p + seg]
            if mode == 4:
                us = u[p : p + seg]
                for t in range(seg):
                    xv = xs[t]
                    n_bad += (xv - xv) != 0
                    n_nan += xv != xv
                    v = xv * rc if recip else xv / sc
                    f = np.floor(v)
                    q = (f + 1.0 if us[t] < v - f else f) + zc
                    q = min(max(q, qmin), qmax)
                    if dequant:
                        os[t] = (q - zc) * sc
                    else:  # a NaN input gives qmin here (the caller raises), never a NaN-to-int conversion
                        os[t] = q if q == q else qmin
            else:
                for t in range(seg):
                    xv = xs[t]
                    n_bad += (xv - xv) != 0
                    n_nan += xv != xv
                    v = xv * rc if recip else xv / sc
                    q = min(max(_round(v, mode) + zc, qmin), qmax)
                    if dequant:
                        os[t] = (q - zc) * sc
                    else:  # a NaN input gives qmin here (the caller raises), never a NaN-to-int conversion
                        os[t] = q if q == q else qmin
            p += seg
            i = 0
            c += 1
            if c == n_channels:
                c = 0
        counts[k, 0] = n_bad
        counts[k, 1] = n_nan
