"""Plain-NumPy twin of :mod:`refquant._kernels.clipping` (the oracle of the clip search).

Quantizes with the uniform quantizer's own twin (:func:`refquant._reference.uniform.fake_quant`)
and reproduces the kernel's summation order: ``LANES`` interleaved float64
partial sums, each accumulated left to right (``np.cumsum``), added in lane order.
"""

from __future__ import annotations

import numpy as np

from .uniform import fake_quant

LANES = 8


def clip_search_sse(v: np.ndarray, scales: np.ndarray, mode: int, lo: int, hi: int, offset: int) -> np.ndarray:
    n_ch, n = v.shape
    out = np.zeros(scales.shape, dtype=np.float64)
    rounding = "half_even" if mode == 0 else "floor"
    lane = np.arange(n) % LANES
    for k in range(scales.shape[1]):
        s = scales[:, k]
        y = fake_quant(v, s, np.zeros(n_ch, dtype=v.dtype), lo, hi, rounding, "divide", 0)
        if offset == 1:
            y = y + (s * v.dtype.type(0.5))[:, None]
        e2 = (y.astype(np.float64) - v.astype(np.float64)) ** 2
        for c in range(n_ch):
            tot = 0.0
            for j in range(LANES):
                part = e2[c, lane == j]
                tot = tot + (np.cumsum(part)[-1] if part.size else 0.0)
            out[c, k] = tot
    return out


def clip_search_prepared(v, scales, mode, lo, hi, offset, sse) -> None:
    """The twin on the kernel's own (prepared) arguments: fills ``sse`` as ``clip_search_kernel`` does."""
    sse[...] = clip_search_sse(v, scales, mode, lo, hi, offset)
