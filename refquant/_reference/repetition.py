"""Plain-NumPy twins of :mod:`refquant._kernels.repetition` (test oracles).

They reproduce the kernels' documented summation order exactly, so the
kernels must match them bit for bit, for float as well as integer data:
sequential sums are taken with ``np.cumsum`` (strictly left to right, unlike
``np.sum``'s pairwise summation), starting from an explicit 0.

``factorized_matmul_ref`` works from the weight matrix itself, not from the
kernel's index layout; ``shared_sum_matmul_ref`` executes a
:class:`refquant.repetition.SharedSumProgram` with vectorised NumPy.
Nothing here imports the kernels.
"""
from __future__ import annotations

import numpy as np


def _sequential_sum(cols: list[np.ndarray], batch: int, dtype) -> np.ndarray:
    """0 + c0 + c1 + ... evaluated left to right (each c of shape (batch,))."""
    stack = np.stack([np.zeros(batch, dtype=dtype)] + cols, axis=1)
    return np.cumsum(stack, axis=1, dtype=dtype)[:, -1]


def factorized_matmul_ref(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` as: per column, per ascending magnitude u, (plus rows − minus rows) summed sequentially, times u.

    ``x`` (batch, K) and ``w`` (K, out) of the same dtype (int64 or float64).
    """
    batch = x.shape[0]
    y = np.zeros((batch, w.shape[1]), dtype=x.dtype)
    for j in range(w.shape[1]):
        col = w[:, j]
        for u in np.unique(np.abs(col[col != 0])):
            plus = [x[:, i] for i in range(w.shape[0]) if col[i] == u]
            minus = [-x[:, i] for i in range(w.shape[0]) if col[i] == -u]
            acc = _sequential_sum(plus + minus, batch, x.dtype)
            y[:, j] = y[:, j] + u * acc
    return y


def shared_sum_matmul_ref(x: np.ndarray, program) -> np.ndarray:
    """Execute a SharedSumProgram: node values in order, then each group's signed terms sequentially, times u."""
    batch, k = x.shape
    vals = [x[:, i] for i in range(k)]
    for a, sa, b, sb in program.nodes.tolist():
        va = vals[a] if sa > 0 else -vals[a]
        vb = vals[b] if sb > 0 else -vals[b]
        vals.append(va + vb)
    out = program.shape[1]
    y = np.zeros((batch, out), dtype=x.dtype)
    for j in range(out):
        for g in range(program.col_ptr[j], program.col_ptr[j + 1]):
            lo, hi = program.grp_ptr[g], program.grp_ptr[g + 1]
            cols = [vals[t] if s > 0 else -vals[t] for t, s in zip(program.term[lo:hi].tolist(), program.term_sign[lo:hi].tolist())]
            y[:, j] = y[:, j] + program.grp_mag[g].astype(x.dtype) * _sequential_sum(cols, batch, x.dtype)
    return y
