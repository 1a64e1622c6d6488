"""Numba kernels for two-pass central moments (refquant.kurtosis).

Private: no validation. The data arrive as a 2-D C-contiguous array ``v`` of
shape ``(n_rows, n)``; a *segment* is a row, and several consecutive rows may
belong to one channel (the caller splits long channels so that both cores
have work). Twin: :mod:`refquant._reference.kurtosis` (shares no code).

Pass 1 (``row_sums``): the float64 sum of each row. Pass 2
(``row_central_sums``): with the channel mean ``mu`` of each row, the float64
sums of ``d**2``, ``d**3`` and ``d**4``, ``d = float64(x) - mu``. Sums use
8 interleaved partial sums (element ``i`` into lane ``i % 8``, lanes added
in order; the lane count is a literal: kernels read no module globals) so the
loops vectorise without reassociation. The per-row loops live once, in
``lane_sum`` and ``lane_central_sums`` (``inline="always"``: inlined at the
Numba IR level, measured as fast as hand-inlined copies). ``prange`` over
rows; no cross-iteration reduction.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def lane_sum(row):
    """float64 sum of a 1-D row: element i into lane i % 8, lanes added in order (vectorises, no reassociation)."""
    lanes = 8  # a literal: kernels read no module globals
    n = row.shape[0]
    n_full = n - n % lanes
    acc = np.zeros(lanes, dtype=np.float64)
    for i0 in range(0, n_full, lanes):
        for j in range(lanes):
            acc[j] += np.float64(row[i0 + j])
    for i in range(n_full, n):
        acc[i - n_full] += np.float64(row[i])
    t = 0.0
    for j in range(lanes):
        t += acc[j]
    return t


@njit(cache=True, inline="always")
def lane_central_sums(row, m):
    """(sum d^2, sum d^3, sum d^4) of a 1-D row, d = float64(x) - m; same lane structure as lane_sum."""
    lanes = 8
    n = row.shape[0]
    n_full = n - n % lanes
    a2 = np.zeros(lanes, dtype=np.float64)
    a3 = np.zeros(lanes, dtype=np.float64)
    a4 = np.zeros(lanes, dtype=np.float64)
    for i0 in range(0, n_full, lanes):
        for j in range(lanes):
            d = np.float64(row[i0 + j]) - m
            d2 = d * d
            a2[j] += d2
            a3[j] += d2 * d
            a4[j] += d2 * d2
    for i in range(n_full, n):
        d = np.float64(row[i]) - m
        d2 = d * d
        a2[i - n_full] += d2
        a3[i - n_full] += d2 * d
        a4[i - n_full] += d2 * d2
    t2 = 0.0
    t3 = 0.0
    t4 = 0.0
    for j in range(lanes):
        t2 += a2[j]
        t3 += a3[j]
        t4 += a4[j]
    return t2, t3, t4


@njit(cache=True, parallel=True)
def row_sums(v, out):
    """out[r] = float64 sum of row r."""
    for r in prange(v.shape[0]):
        out[r] = lane_sum(v[r])


@njit(cache=True, parallel=True)
def row_central_sums(v, mu, out):
    """out[r, 0..2] = sums of d^2, d^3, d^4 over row r, with d = x - mu[r] in float64."""
    for r in prange(v.shape[0]):
        t2, t3, t4 = lane_central_sums(v[r], mu[r])
        out[r, 0] = t2
        out[r, 1] = t3
        out[r, 2] = t4


@njit(cache=True, parallel=True)
def fused_row_moments(v, out):
    """Both passes per row while the row is in cache: out[r] = (sum x, sum d^2, sum d^3, sum d^4), d = x - mean_r.

    Used when every row is a whole channel.
    """
    n = v.shape[1]
    for r in prange(v.shape[0]):
        row = v[r]
        s = lane_sum(row)
        t2, t3, t4 = lane_central_sums(row, s / n)
        out[r, 0] = s
        out[r, 1] = t2
        out[r, 2] = t3
        out[r, 3] = t4
