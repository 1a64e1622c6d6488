"""Numba kernels for repetition-aware matmul (factorised and partial-sum sharing).

Private: no validation happens here; :mod:`refquant.repetition` validates,
"programs" the weights (builds the index layouts below once per weight) and
calls these kernels. The plain-NumPy twin is :mod:`refquant._reference.repetition`;
it shares no code with this file and works from the weights, not from these
layouts.

Both kernels work on ``xT`` = activations transposed, shape ``(K, batch)``,
so that the activation row of one input index is contiguous and every
addition is a vector addition over the batch. They write ``yT`` of shape
``(out, batch)``. ``prange`` runs over output columns; each column is written
by exactly one iteration and there is no cross-iteration reduction, so the
result does not depend on the thread count.

Every vector operation over the batch is an explicit element loop over 1-D row views indexed from 0
(no NumPy array expressions; an offset index such as ``xT[r, b0 + b]`` keeps LLVM from vectorising the
loop, because of Numba's negative-index check): the same additions and multiplications in the same
order, but Numba compiles explicit loops several times
faster than array expressions (``python3 -m benchmarks compile``, both versions in one run on a loaded
2-core machine: the first ``shared_sum_matmul`` call with an empty cache took 16.9 s with array
expressions, 4.2 s with loops; ``factorized_matmul`` 5.3 s and 3.8 s), and the shared-sum kernels run
faster (no temporaries).

Summation order (the semantics, reproduced exactly by the twin):

* factorised, per column ``j``: groups in ascending magnitude ``u``; for each
  group ``acc = 0``, then ``acc += x[i]`` for the plus rows in ascending ``i``,
  then ``acc -= x[i]`` for the minus rows in ascending ``i``; then
  ``y[j] += u * acc`` (``y[j]`` starts at 0).
* shared sums: node values first, in node order, ``v[n] = s_a*val(a) + s_b*val(b)``
  evaluated as ``val(a) + val(b)`` / ``val(a) - val(b)`` / ``-val(a) ± val(b)``;
  then per group ``acc = 0; acc += / -= val(term)`` in term order; then
  ``y[j] += u * acc`` in group order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def factorized_kernel(xT, col_ptr, grp_mag, grp_ptr, grp_split, idx, yT, chunk):
    """yT[j] = sum_g grp_mag[g] * (sum_{p in plus(g)} xT[idx[p]] - sum_{p in minus(g)} xT[idx[p]]).

    col_ptr : int64 (out+1,), groups of column j are ``col_ptr[j]:col_ptr[j+1]``.
    grp_mag : (n_groups,) magnitudes, same dtype as xT.
    grp_ptr : int64 (n_groups+1,), rows of group g are ``idx[grp_ptr[g]:grp_ptr[g+1]]``;
              ``grp_split[g]`` separates plus rows (before) from minus rows (after).
    yT : (out, batch), zero-initialised by the caller.
    chunk : batch columns per task. Tasks are (batch chunk, output column)
            pairs, chunk-major, so a thread reuses one chunk of ``xT`` from
            cache across all columns; the per-element summation order is
            the same for every chunk size.
    """
    out = yT.shape[0]
    batch = xT.shape[1]
    n_chunks = (batch + chunk - 1) // chunk
    for t in prange(n_chunks * out):
        c = t // out
        j = t - c * out
        b0 = c * chunk
        b1 = min(b0 + chunk, batch)
        nb = b1 - b0
        acc = np.empty(nb, dtype=yT.dtype)
        yr = yT[j, b0:b1]
        for g in range(col_ptr[j], col_ptr[j + 1]):
            for b in range(nb):
                acc[b] = 0
            for p in range(grp_ptr[g], grp_split[g]):
                xr = xT[idx[p], b0:b1]
                for b in range(nb):
                    acc[b] += xr[b]
            for p in range(grp_split[g], grp_ptr[g + 1]):
                xr = xT[idx[p], b0:b1]
                for b in range(nb):
                    acc[b] -= xr[b]
            m = grp_mag[g]
            for b in range(nb):
                yr[b] += m * acc[b]


@njit(cache=True)
def shared_nodes_kernel(xT, node_a, node_sa, node_b, node_sb, vals):
    """Evaluate partial-sum nodes in order into ``vals`` (rows ``K + n``).

    ``vals`` has shape ``(K + n_nodes, batch)``; rows ``0..K-1`` hold ``xT``
    (copied here). Operand index ``< K`` is an activation row, ``>= K`` an
    earlier node. Signs are +1/-1.
    """
    k = xT.shape[0]
    batch = xT.shape[1]
    for r in range(k):
        src = xT[r]
        dst = vals[r]
        for b in range(batch):
            dst[b] = src[b]
    for n in range(node_a.shape[0]):
        a = vals[node_a[n]]
        v = vals[node_b[n]]
        dst = vals[k + n]
        if node_sa[n] > 0:
            if node_sb[n] > 0:
                for b in range(batch):
                    dst[b] = a[b] + v[b]
            else:
                for b in range(batch):
                    dst[b] = a[b] - v[b]
        else:
            if node_sb[n] > 0:
                for b in range(batch):
                    dst[b] = v[b] - a[b]
            else:
                for b in range(batch):
                    dst[b] = -a[b] - v[b]


@njit(cache=True, parallel=True)
def shared_groups_kernel(vals, col_ptr, grp_mag, grp_ptr, term, term_sign, yT):
    """yT[j] = sum_g grp_mag[g] * sum_{p in g} term_sign[p] * vals[term[p]] (order as in the module docstring)."""
    out = yT.shape[0]
    batch = vals.shape[1]
    for j in prange(out):
        acc = np.empty(batch, dtype=yT.dtype)
        yr = yT[j]
        for g in range(col_ptr[j], col_ptr[j + 1]):
            for b in range(batch):
                acc[b] = 0
            for p in range(grp_ptr[g], grp_ptr[g + 1]):
                src = vals[term[p]]
                if term_sign[p] > 0:
                    for b in range(batch):
                        acc[b] += src[b]
                else:
                    for b in range(batch):
                        acc[b] -= src[b]
            m = grp_mag[g]
            for b in range(batch):
                yr[b] += m * acc[b]
