r"""Weight repetition and sparsity statistics, and repetition-aware matmul with operation counts.

Concepts from Kuhar et al., "Signed-Binarization" (ICLR 2024 submission;
note ``shared/papers/signed_binary.md`` §2–§3, §7) and the kernels it relies on:
UCNN (Hegde et al., ISCA 2018) factorised dot products. The paper's counting
rules are *reconstructed* (its text was not accessible); every count below
states its rule.

Layout: ``w_q`` for :func:`factorized_matmul` has shape ``(K, out)`` so that the
result equals ``x @ w_q`` with ``x`` of shape ``(batch, K)``. For statistics,
``axis`` is the output-filter axis (0 for OIHW conv weights) as in
:mod:`refquant.binarize`, and ``block`` cuts filters into blocks of ``block``
input channels (``block=1`` on an OIHW 3×3 weight gives the R×S kernels the
paper counts).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._validate import as_real_array, check_int
from .binarize import region_layout

__all__ = ["OpCounts", "RepetitionStats", "pigeonhole_bound", "unique_filters", "paper_repetition_table", "factorized_matmul"]

_SCHEMES = ("binary", "ternary", "signed_binary")


@dataclasses.dataclass(frozen=True)
class OpCounts:
    """Arithmetic operations of a matmul, summed over all outputs (batch × out).

    adds : additions/subtractions; muls : multiplications; dense_macs : the
    dense baseline, ``K`` multiply-accumulates per output.
    """

    adds: int
    muls: int
    dense_macs: int


@dataclasses.dataclass(frozen=True)
class RepetitionStats:
    """Repetition and sparsity of a quantized weight.

    n_blocks : number of filter blocks; n_unique : distinct blocks;
    repetition : occurrences of each distinct block (sorted descending, sums to n_blocks);
    block_size : weights per block (K of the pigeonhole bound);
    sparsity / density : fraction of zero / non-zero weights; effectual : number of non-zero weights.
    """

    n_blocks: int
    n_unique: int
    repetition: np.ndarray
    block_size: int
    sparsity: float
    density: float
    effectual: int

    @property
    def mean_repetition(self) -> float:
        return self.n_blocks / self.n_unique


def pigeonhole_bound(k: int, scheme: str, *, shared_zero: bool = False) -> int:
    r"""Largest possible number of distinct blocks of *k* weights (exact Python int).

    binary ``2^k``; ternary ``3^k``; signed-binary ``2·2^k`` (a block is
    ``{0,+a}^k`` or ``{0,-a}^k``), the count the paper quotes. With
    ``shared_zero=True`` the all-zero block, common to both signs, is counted
    once: ``2^(k+1) - 1`` (note §2).

    >>> pigeonhole_bound(9, "binary"), pigeonhole_bound(9, "ternary"), pigeonhole_bound(9, "signed_binary")
    (512, 19683, 1024)
    """
    k = check_int(k, "k", 1, 4096)
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme={scheme!r}; allowed: {', '.join(map(repr, _SCHEMES))}")
    if scheme == "binary":
        return 2**k
    if scheme == "ternary":
        return 3**k
    return 2 ** (k + 1) - (1 if shared_zero else 0)


def unique_filters(w_q, *, block: int | None = None, axis: int | None = 0) -> RepetitionStats:
    """Count distinct filters (or blocks of ``block`` input channels) of a quantized weight.

    Blocks are compared by exact value equality of all their weights (after
    ``-0.0 -> +0.0``).
    """
    w = as_real_array(w_q, "w_q")
    lay = region_layout(w.shape, axis=axis, region=block)
    v = lay.view(w).reshape(lay.n_filters * lay.n_tiles, lay.tile * lay.rest) + 0.0
    _, counts = np.unique(v, axis=0, return_counts=True)
    nnz = int(np.count_nonzero(w))
    return RepetitionStats(
        n_blocks=v.shape[0],
        n_unique=int(counts.size),
        repetition=np.sort(counts)[::-1],
        block_size=int(v.shape[1]),
        sparsity=1.0 - nnz / w.size,
        density=nnz / w.size,
        effectual=nnz,
    )


def paper_repetition_table(shape=(3, 3, 256, 256)):
    """The paper's table for an ``[R, S, C_in, C_out]`` layer, from the pigeonhole bounds.

    One row per scheme: block size ``K = R·S``, number of kernels
    ``C_in·C_out``, the bound, and the average repetition per possible pattern
    (kernels / bound). For [3,3,256,256]: 512 / 1024 / 19683 patterns and
    128× / 64× / 3.33× (note §2 and §7). Returns a pandas DataFrame.
    """
    import pandas as pd

    if len(shape) != 4:
        raise ValueError(f"shape={shape!r}: expected [R, S, C_in, C_out]")
    r, s, cin, cout = (check_int(v, "shape entry", 1) for v in shape)
    k = r * s
    n = cin * cout
    rows = [{"scheme": sc, "K": k, "kernels": n, "bound": pigeonhole_bound(k, sc), "avg_repetition": n / pigeonhole_bound(k, sc)} for sc in _SCHEMES]
    return pd.DataFrame(rows)


def factorized_matmul(x, w_q):
    r"""``x @ w_q`` computed UCNN-style, with its operation count.

    Per output column ``j``, the non-zero weights are grouped by magnitude
    ``u``; each group's activations are added with their signs, multiplied
    once by ``u``, and the group products added:

    .. math:: y_{bj} = \sum_{u \in U_j} u \sum_{i:\,|w_{ij}| = u} \mathrm{sign}(w_{ij})\,x_{bi}

    Counting rule per output: ``nnz_j - 1`` ADD/SUB (all effectual terms
    accumulated once; 0 for an all-zero column) and ``|U_j|`` MUL (one per
    distinct non-zero magnitude, even when it is 1). Dense baseline: ``K`` MACs.

    Arithmetic: int64 (exact) when ``x`` and ``w_q`` are both integer arrays,
    float64 otherwise (it differs from ``x @ w_q`` only by summation order).

    Returns
    -------
    (y, OpCounts) with ``y`` of shape ``(batch, out)``.
    """
    xa = as_real_array(x, "x")
    wa = as_real_array(w_q, "w_q")
    if xa.ndim != 2 or wa.ndim != 2:
        raise ValueError(f"x and w_q must be 2-D, got x.shape={xa.shape}, w_q.shape={wa.shape}")
    if xa.shape[1] != wa.shape[0]:
        raise ValueError(f"x has {xa.shape[1]} columns but w_q has {wa.shape[0]} rows (shapes {xa.shape} @ {wa.shape})")
    exact = xa.dtype.kind in "iu" and wa.dtype.kind in "iu"
    dt = np.int64 if exact else np.float64
    xd = xa.astype(dt)
    wd = wa.astype(dt)
    batch, k = xd.shape
    out = wd.shape[1]
    y = np.zeros((batch, out), dtype=dt)
    adds = muls = 0
    for j in range(out):
        col = wd[:, j]
        nz = np.flatnonzero(col)
        if nz.size == 0:
            continue
        mags = np.abs(col[nz])
        for u in np.unique(mags):
            idx = nz[mags == u]
            signs = np.sign(col[idx])
            y[:, j] += u * (xd[:, idx] * signs).sum(axis=1)
            muls += 1
        adds += nz.size - 1
    return y, OpCounts(adds=adds * batch, muls=muls * batch, dense_macs=batch * k * out)
