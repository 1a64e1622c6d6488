"""Numba kernel of the data-driven clip search (refquant.clipping.optimal_clip_empirical).

Private: no validation; the caller prepares every argument. Twin:
:mod:`refquant._reference.clipping` (shares no code with this file).

For channel ``c`` and candidate ``k`` with scale ``s = scales[c, k]`` (the
dtype of ``v``), every element ``x = v[c, i]`` is fake-quantized exactly as
refquant.uniform does it (divide, round half to even or floor, clamp to
``[lo, hi]``, multiply back, all in ``v``'s dtype; the midrise grid then adds
``s / 2``), and the squared error ``(float64(y) - float64(x))**2`` is summed in
float64 in 8 interleaved partial sums (element ``i`` goes to lane
``i % 8``; the lanes are then added in order 0..lanes-1). The partial
sums are part of the semantics, reproduced by the twin, and let the compiler
vectorise without reassociating anything. ``prange`` over channels; no
cross-iteration reduction.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _sq_err(x, s, half, mode, flo, fhi, offset):
    """(float64(fq(x)) - float64(x))**2 for one element; fq as in the module docstring."""
    t = x / s
    q = np.rint(t) if mode == 0 else np.floor(t)
    q = min(max(q, flo), fhi)
    y = q * s
    if offset == 1:
        y = y + half
    e = np.float64(y) - np.float64(x)
    return e * e


@njit(cache=True, parallel=True)
def clip_search_kernel(v, scales, mode, lo, hi, offset, sse):
    """sse[c, k] = sum_i (fq(v[c, i]; scales[c, k]) - v[c, i])**2 (mode 0: rint, 1: floor; offset 1: + s/2)."""
    lanes = 8  # partial sums per (channel, candidate): a literal, kernels read no module globals
    n_ch, n = v.shape
    n_cand = scales.shape[1]
    flo = v.dtype.type(lo)
    fhi = v.dtype.type(hi)
    for c in prange(n_ch):
        acc = np.zeros(lanes, dtype=np.float64)
        row = v[c]
        for k in range(n_cand):
            s = scales[c, k]
            half = s * v.dtype.type(0.5)
            acc[:] = 0.0
            n_full = n - n % lanes
            for i0 in range(0, n_full, lanes):
                for j in range(lanes):
                    acc[j] += _sq_err(row[i0 + j], s, half, mode, flo, fhi, offset)
            for i in range(n_full, n):
                acc[i - n_full] += _sq_err(row[i], s, half, mode, flo, fhi, offset)
            tot = 0.0
            for j in range(lanes):
                tot += acc[j]
            sse[c, k] = tot
