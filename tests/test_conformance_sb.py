"""Conformance checkers for signed-binary quantization and repetition-aware matmul.

They accept refquant and an independent loop implementation, and reject
planted bugs: a strict ``>`` at the region threshold, one threshold for the
whole tensor instead of per region, ignoring the sign map, dropping a region
tile; for matmul, dropping the last reduction tile, losing the weight sign,
and an off-by-one ADD count.
"""

from __future__ import annotations

import numpy as np
import pytest

from refquant import binarize as B
from refquant import repetition as R
from refquant.testing.conformance import ConformanceError, check_repetition_matmul, check_signed_binarize

EXAMPLES = 120


def loop_signed_binarize(w, *, signs=None, threshold=0.05, axis=0, region=None, bug=None):
    """Independent per-element loop implementation of the authors' released rule, with switchable bugs."""
    w = np.asarray(w, dtype=np.float64)
    m = np.moveaxis(w, axis, 0)
    n_f = m.shape[0]
    flat = m.reshape(n_f, m.shape[1] if m.ndim > 1 else 1, -1)  # (filter, C_in, rest)
    c_in = flat.shape[1]
    tile = c_in if region is None else region
    n_t = c_in // tile
    if signs is None:  # documented default: the first floor(R/2) regions (row-major) positive
        signs = np.where(np.arange(n_f * n_t) < (n_f * n_t) // 2, 1, -1).reshape(n_f, n_t)
    signs = np.asarray(signs).reshape(n_f, n_t)
    if bug == "ignore_signs":
        signs = np.ones_like(signs)
    gmax = np.abs(w).max()
    q = np.zeros_like(flat)
    for f in range(n_f):
        for t in range(n_t):
            if bug == "drop_tile" and t == n_t - 1 and n_t > 1:
                continue
            blk = flat[f, t * tile : (t + 1) * tile]
            delta = threshold * (gmax if bug == "global_threshold" else np.abs(blk).max())
            for idx in np.ndindex(blk.shape):
                v = blk[idx]
                s = signs[f, t]
                # documented rule: |w| at or beyond the threshold, on the region's side, and never a zero weight
                keep = (
                    (v > delta if bug == "strict" else v >= delta)
                    if s > 0
                    else (v < -delta if bug == "strict" else v <= -delta)
                )
                keep = keep and v != 0
                q[f, t * tile + idx[0], idx[1]] = s if keep else 0.0
    return np.moveaxis(q.reshape(m.shape), 0, axis)


def test_reference_and_independent_loop_conform():
    check_signed_binarize(B.signed_binarize, max_examples=EXAMPLES)
    check_signed_binarize(loop_signed_binarize, max_examples=EXAMPLES)


@pytest.mark.parametrize("bug", ["strict", "global_threshold", "ignore_signs", "drop_tile"])
def test_planted_signed_binarize_bugs_are_caught(bug):
    with pytest.raises(ConformanceError, match="signed_binarize"):
        check_signed_binarize(lambda w, **kw: loop_signed_binarize(w, bug=bug, **kw), max_examples=EXAMPLES)


def dense_int(x, w):
    return x @ w


def counted(x, w, *, adds_off_by_one=False):
    nnz = np.count_nonzero(w, axis=0)
    mags = [len({abs(int(v)) for v in w[:, j] if v}) for j in range(w.shape[1])]
    adds = int(np.maximum(nnz - (0 if adds_off_by_one else 1), 0).sum()) * x.shape[0]
    return x @ w, R.OpCounts(adds=adds, muls=int(sum(mags)) * x.shape[0], dense_macs=x.shape[0] * w.size)


def test_refquant_and_independent_matmul_conform():
    check_repetition_matmul(dense_int, max_examples=EXAMPLES)
    check_repetition_matmul(counted, method="factorized", max_examples=EXAMPLES)
    check_repetition_matmul(
        lambda x, w: R.shared_sum_matmul(x, w, tile=4), method="shared_sum", tile=4, max_examples=EXAMPLES
    )


@pytest.mark.parametrize(
    "bug, method",
    [
        ("drop_last_tile", None),
        ("lose_sign", None),
        ("adds_off_by_one", "factorized"),
        ("factorised_counts_for_shared", "shared_sum"),
    ],
)
def test_planted_matmul_bugs_are_caught(bug, method):
    def cand(x, w):
        if bug == "drop_last_tile":
            k = w.shape[0]
            keep = k - (k % 8 or 8) if k > 8 else k
            return x[:, :keep] @ w[:keep]
        if bug == "lose_sign":
            return x @ np.abs(w)
        if bug == "adds_off_by_one":
            return counted(x, w, adds_off_by_one=True)
        return R.factorized_matmul(x, w)

    with pytest.raises(ConformanceError, match="repetition matmul"):
        check_repetition_matmul(cand, method=method, max_examples=EXAMPLES)


def test_checker_argument_errors():
    with pytest.raises(ValueError, match="method='csr'"):
        check_repetition_matmul(dense_int, method="csr")
    with pytest.raises(ValueError, match="tile=0"):
        check_repetition_matmul(dense_int, tile=0)
