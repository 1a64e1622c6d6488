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
    nd = np.asarray(program.nodes)
    vals = np.empty((k + nd.shape[0], batch), dtype=x.dtype)
    shared_nodes_prepared(x.T, nd[:, 0], nd[:, 1], nd[:, 2], nd[:, 3], vals)
    yT = np.zeros((program.shape[1], batch), dtype=x.dtype)
    shared_groups_prepared(
        vals, program.col_ptr, program.grp_mag.astype(x.dtype), program.grp_ptr, program.term, program.term_sign, yT
    )
    return np.ascontiguousarray(yT.T)


def shared_nodes_prepared(xT, node_a, node_sa, node_b, node_sb, vals) -> None:
    """Twin of ``shared_nodes_kernel``: rows of ``xT``, then node ``n`` = (+-val(a)) + (+-val(b)) in node order."""
    k = xT.shape[0]
    v = [xT[i] for i in range(k)]
    for a, sa, b, sb in zip(node_a.tolist(), node_sa.tolist(), node_b.tolist(), node_sb.tolist()):
        va = v[a] if sa > 0 else -v[a]
        vb = v[b] if sb > 0 else -v[b]
        v.append(va + vb)
    vals[...] = np.stack(v).reshape(vals.shape)


def shared_groups_prepared(vals, col_ptr, grp_mag, grp_ptr, term, term_sign, yT) -> None:
    """Twin of ``shared_groups_kernel``: per column, groups in order, each ``u * (0 +- val(term) ...)`` sequentially.

    ``yT`` (out, batch) must arrive zero-initialised (as prepared); it is overwritten.
    """
    batch = vals.shape[1]
    y = np.zeros(yT.shape, dtype=yT.dtype)
    for j in range(yT.shape[0]):
        for g in range(col_ptr[j], col_ptr[j + 1]):
            lo, hi = grp_ptr[g], grp_ptr[g + 1]
            cols = [vals[t] if sg > 0 else -vals[t] for t, sg in zip(term[lo:hi].tolist(), term_sign[lo:hi].tolist())]
            y[j] = y[j] + grp_mag[g] * _sequential_sum(cols, batch, yT.dtype)
    yT[...] = y


def factorized_prepared(xT, col_ptr, grp_mag, grp_ptr, grp_split, idx, yT, chunk) -> None:
    """Twin of ``factorized_kernel`` on its own arguments: decodes the layout back into the weight matrix
    (``+u`` at the plus rows, ``-u`` at the minus rows of each group) and runs :func:`factorized_matmul_ref`,
    which takes the order from the weights (ascending magnitude, ascending rows). ``chunk`` has no effect on
    the result. ``yT`` must arrive zero-initialised (as prepared); it is overwritten."""
    k = xT.shape[0]
    out = yT.shape[0]
    w = np.zeros((k, out), dtype=xT.dtype)
    for j in range(out):
        for g in range(col_ptr[j], col_ptr[j + 1]):
            w[idx[grp_ptr[g] : grp_split[g]], j] = grp_mag[g]
            w[idx[grp_split[g] : grp_ptr[g + 1]], j] = -grp_mag[g]
    yT[...] = factorized_matmul_ref(np.ascontiguousarray(xT.T), w).T
