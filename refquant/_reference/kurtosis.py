"""Plain-NumPy twin of :mod:`refquant._kernels.kurtosis` (oracle, stated tolerance).

Whole-channel two-pass moments with NumPy's own (pairwise) summation, on the
original N-d array: ``mu = mean(x)``, ``m_k = mean((x - mu)**k)``. The kernel
sums in a different order (lanes and row segments), so the two agree to
rounding (relative ~1e-13 for the sizes in the tests), not bit for bit.
"""

from __future__ import annotations

import numpy as np


def central_moments(x: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mu, m2, m3, m4) per channel (``axis`` = channel axis) or for the whole tensor (``axis=None``)."""
    a = np.asarray(x, dtype=np.float64)
    red = None if axis is None else tuple(i for i in range(a.ndim) if i != axis)
    mu = a.mean(axis=red, keepdims=True)
    d = a - mu
    m2 = (d**2).mean(axis=red)
    m3 = (d**3).mean(axis=red)
    m4 = (d**4).mean(axis=red)
    return mu.reshape(m2.shape), m2, m3, m4


def row_sums_prepared(v: np.ndarray, out: np.ndarray) -> None:
    """Twin of ``row_sums`` on its own arguments: ``out[r]`` = float64 sum of row ``r`` (NumPy pairwise sum)."""
    out[...] = np.asarray(v, dtype=np.float64).sum(axis=1)


def row_central_sums_prepared(v: np.ndarray, mu: np.ndarray, out: np.ndarray) -> None:
    """Twin of ``row_central_sums``: ``out[r]`` = sums of ``d**2, d**3, d**4``, ``d = float64(v[r]) - mu[r]``."""
    d = np.asarray(v, dtype=np.float64) - mu[:, None]
    out[...] = np.stack([(d**2).sum(axis=1), (d**3).sum(axis=1), (d**4).sum(axis=1)], axis=1)


def fused_row_moments_prepared(v: np.ndarray, out: np.ndarray) -> None:
    """Twin of ``fused_row_moments``: ``out[r]`` = (sum x, then the central sums about the row mean sum/n)."""
    s = np.asarray(v, dtype=np.float64).sum(axis=1)
    out[:, 0] = s
    row_central_sums_prepared(v, s / v.shape[1], out[:, 1:])
