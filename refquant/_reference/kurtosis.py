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
