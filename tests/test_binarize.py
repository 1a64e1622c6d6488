"""Tests for refquant.binarize (the signed-binary, binary and ternary quantizers).

Oracles: explicit Python loops over filters/tiles written from the
definitions (the authors' released signed-binary rule and EDE schedule, XNOR-Net and TWN
rules; docs/theory/signed_binary.md), a closed-form derivative for the EDE rule checked against central
finite differences of its surrogate, and structural properties (one non-zero
value per region, the sign map, idempotence) over Hypothesis inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refquant import binarize as B

finite = st.floats(-4, 4, allow_nan=False, width=64)


@st.composite
def conv_weights(draw):
    """OIHW conv weights with a region choice that divides the input channels."""
    o = draw(st.integers(1, 6))
    i = draw(st.sampled_from([1, 2, 3, 4, 6]))
    k = draw(st.sampled_from([1, 3]))
    w = draw(hnp.arrays(np.float64, (o, i, k, k), elements=finite))
    region = draw(st.one_of(st.none(), st.sampled_from([d for d in (1, 2, 3) if i % d == 0])))
    return w, region


def loop_signed_binary(w, signs, threshold, region, scale):
    """Reference for OIHW, axis=0: explicit loops over filters and input-channel tiles."""
    o, i = w.shape[:2]
    c = i if region is None else region
    out = np.zeros_like(w)
    for f in range(o):
        for t in range(i // c):
            blk = w[f, t * c : (t + 1) * c]
            delta = threshold * max(abs(v) for v in blk.ravel())
            s = signs[f][t]
            vals = []
            for idx in np.ndindex(blk.shape):
                v = blk[idx]
                if (s > 0 and v >= delta and v > 0) or (s < 0 and v <= -delta and v < 0):
                    vals.append(abs(v))
            alpha = 1.0 if scale == "none" else (sum(vals) / len(vals) if vals else 0.0)
            for idx in np.ndindex(blk.shape):
                v = blk[idx]
                if (s > 0 and v >= delta and v > 0) or (s < 0 and v <= -delta and v < 0):
                    out[(f, t * c + idx[0]) + idx[1:]] = s * alpha
    return out


@given(conv_weights(), st.sampled_from(["none", "mean"]), st.sampled_from([0.0, 0.05, 0.3]))
def test_signed_binarize_matches_loop_reference(wr, scale, threshold):
    w, region = wr
    q = B.signed_binarize(w, region=region, scale=scale, threshold=threshold)
    n_t = 1 if region is None else w.shape[1] // region
    r = np.arange(w.shape[0] * n_t)
    signs = np.where(r < r.size // 2, 1, -1).reshape(w.shape[0], n_t)  # the released code's rule, extended row-major
    np.testing.assert_allclose(q, loop_signed_binary(w, signs.tolist(), threshold, region, scale), rtol=1e-12, atol=0)


@given(conv_weights(), st.data())
def test_signed_binary_structure_sign_map_and_idempotence(wr, data):
    w, region = wr
    lay = B.region_layout(w.shape, axis=0, region=region)
    signs = np.array(
        data.draw(
            st.lists(
                st.sampled_from([-1, 1]), min_size=lay.n_filters * lay.n_tiles, max_size=lay.n_filters * lay.n_tiles
            )
        )
    ).reshape(lay.n_filters, lay.n_tiles)
    for scale in ("none", "mean"):
        q = B.signed_binarize(w, signs=signs, region=region, scale=scale)
        v = lay.view(q)
        for f in range(lay.n_filters):
            for t in range(lay.n_tiles):
                nz = v[f, t][v[f, t] != 0]
                assert np.unique(nz).size <= 1  # one non-zero value per region
                assert np.all(np.sign(nz) == signs[f, t])  # the sign map is honoured
        again = B.signed_binarize(q, signs=signs, region=region, scale=scale)
        np.testing.assert_allclose(again, q, rtol=1e-12, atol=0)


def test_default_sign_rule_is_first_half_positive():
    assert B.default_signs(5).ravel().tolist() == [1, 1, -1, -1, -1]
    assert B.default_signs(2, 3).ravel().tolist() == [1, 1, 1, -1, -1, -1]
    w = np.abs(np.random.default_rng(0).normal(size=(4, 8))) + 0.1  # all positive latent weights
    q = B.signed_binarize(w, axis=0)
    assert np.all(q[:2] == 1) and np.all(q[2:] == 0)  # negative filters keep only negative weights


def test_linear_layout_axis1_and_tiles():
    """(K, out) weights with axis=1: regions tile K; result equals transposing to (out, K)."""
    w = np.random.default_rng(1).normal(size=(12, 5))
    a = B.signed_binarize(w, axis=1, region=4, scale="mean")
    b = B.signed_binarize(w.T, axis=0, region=4, scale="mean").T
    np.testing.assert_array_equal(a, b)


def test_signed_binary_known_example_from_code_rule():
    w = np.array([[0.5, -1.0, 0.02, 0.06], [0.3, -0.2, -0.01, -0.04]])
    # filter 0 positive: Delta = 0.05; keeps 0.5, 0.06. filter 1 negative: Delta = 0.015; keeps -0.2, -0.04.
    assert B.signed_binarize(w).tolist() == [[1.0, 0.0, 0.0, 1.0], [0.0, -1.0, 0.0, -1.0]]
    q, a = B.signed_binarize(w, scale="mean", return_scale=True)
    assert a.ravel().tolist() == pytest.approx([0.28, 0.12])


def test_zero_region_stays_zero():
    w = np.zeros((2, 3))
    assert np.all(B.signed_binarize(w) == 0)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=5), elements=finite))
def test_binarize_matches_xnor_definition(w):
    q, a = B.binarize(w, axis=0, return_scale=True)
    for f in range(w.shape[0]):
        alpha = sum(abs(v) for v in w[f].ravel()) / w[f].size
        assert a[f] == pytest.approx(alpha, rel=1e-12, abs=1e-300)
        np.testing.assert_array_equal(q[f], np.where(w[f] >= 0, a[f], -a[f]))
    qt = B.binarize(w, axis=None)
    assert np.unique(np.abs(qt)).size == 1


@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=6), elements=finite),
    st.sampled_from([("mean", 0.7), ("max", 0.05), ("max", 0.5)]),
)
def test_ternarize_matches_twn_definition(w, rule):
    rel, theta = rule
    q, a = B.ternarize(w, axis=0, threshold=theta, relative_to=rel, return_scale=True)
    for f in range(w.shape[0]):
        vals = [abs(v) for v in w[f].ravel()]
        base = sum(vals) / len(vals) if rel == "mean" else max(vals)
        delta = theta * base
        kept = [v for v in vals if v > delta]
        alpha = sum(kept) / len(kept) if kept else 0.0
        assert a[f] == pytest.approx(alpha, rel=1e-12, abs=1e-300)
        np.testing.assert_allclose(q[f], np.where(np.abs(w[f]) > delta, np.sign(w[f]) * a[f], 0.0), rtol=1e-12)
        assert set(np.unique(q[f])) <= {-a[f], 0.0, a[f]}


def test_ede_schedule_endpoints_and_midpoint():
    assert B.ede_schedule(0, 320) == pytest.approx((0.1, 10.0))
    assert B.ede_schedule(160, 320) == pytest.approx((1.0, 1.0))
    assert B.ede_schedule(320, 320) == pytest.approx((10.0, 1.0))


@given(conv_weights(), st.floats(0, 320), st.data())
def test_ede_grad_is_derivative_of_its_surrogate(wr, epoch, data):
    """Central differences of k*tanh(t*(w - s*Delta)) with each region's Delta held fixed; rel. error < 1e-6."""
    w, region = wr
    g = data.draw(hnp.arrays(np.float64, w.shape, elements=st.floats(-2, 2)))
    got = B.ede_grad(w, g, epoch=epoch, total_epochs=320, region=region)
    t, k = B.ede_schedule(epoch, 320)
    lay = B.region_layout(w.shape, axis=0, region=region)
    v = lay.view(w)
    center = (B.default_signs(lay.n_filters, lay.n_tiles) * 0.05 * np.abs(v).max(axis=(2, 3)))[:, :, None, None]
    h = 1e-6
    fd = (k * np.tanh(t * (v + h - center)) - k * np.tanh(t * (v - h - center))) / (2 * h)
    want = lay.restore(fd) * g
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9 * k * t)


def test_inputs_not_modified():
    w = np.random.default_rng(3).normal(size=(4, 4, 3, 3))
    w0 = w.copy()
    signs = np.array([1, -1, 1, -1])
    s0 = signs.copy()
    B.signed_binarize(w, signs=signs, scale="mean")
    B.binarize(w)
    B.ternarize(w)
    B.ede_grad(w, w, epoch=1, total_epochs=10)
    assert np.array_equal(w, w0) and np.array_equal(signs, s0)


W = np.ones((4, 6))
BAD = [
    ("nan weights", B.signed_binarize, (np.array([[np.nan, 1.0]]),), {}, ValueError, r"w contains 1 NaN"),
    ("inf weights", B.binarize, (np.array([[np.inf, 1.0]]),), {}, ValueError, r"w contains"),
    ("empty weights", B.ternarize, (np.zeros((0, 3)),), {}, ValueError, r"w must not be empty"),
    ("complex weights", B.binarize, (W + 1j,), {}, TypeError, r"w must be real"),
    ("region does not divide", B.signed_binarize, (W,), {"region": 4}, ValueError, r"region=4 does not divide .* 6"),
    ("region zero", B.signed_binarize, (W,), {"region": 0}, ValueError, r"region=0"),
    ("region on 1-D", B.signed_binarize, (np.ones(4),), {"region": 2}, ValueError, r"no input-channel axis"),
    (
        "signs wrong shape",
        B.signed_binarize,
        (W,),
        {"signs": [1, -1]},
        ValueError,
        r"signs has shape \(2,\); expected \(4, 1\)",
    ),
    ("signs not +-1", B.signed_binarize, (W,), {"signs": [1, 0, -1, 1]}, ValueError, r"only \+1 and -1"),
    ("threshold >= 1", B.signed_binarize, (W,), {"threshold": 1.0}, ValueError, r"threshold=1.0 is out of range"),
    ("threshold negative", B.ternarize, (W,), {"threshold": -0.1}, ValueError, r"threshold=-0.1"),
    ("scale <= 0", B.signed_binarize, (W,), {"scale": 0.0}, ValueError, r"scale=0.0 is out of range"),
    ("scale unknown", B.signed_binarize, (W,), {"scale": "max"}, ValueError, r"scale='max'"),
    ("alpha <= 0", B.binarize, (W,), {"alpha": -1.0}, ValueError, r"alpha=-1.0"),
    ("axis out of range", B.binarize, (W,), {"axis": 2}, ValueError, r"axis=2 is out of range"),
    ("relative_to", B.ternarize, (W,), {"relative_to": "median"}, ValueError, r"relative_to='median'"),
    (
        "ede grad shape",
        B.ede_grad,
        (W, np.ones((4, 5))),
        {"epoch": 0, "total_epochs": 10},
        ValueError,
        r"grad_q has shape",
    ),
    ("ede epoch", B.ede_grad, (W, W), {"epoch": 11, "total_epochs": 10}, ValueError, r"epoch=11.0 is out of range"),
    ("ede t_min", B.ede_schedule, (0, 10), {"t_min": 0.0}, ValueError, r"t_min=0.0"),
]


@pytest.mark.parametrize("name, fn, args, kwargs, exc, match", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises(name, fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_density_at_init_near_note_reconstruction():
    """Reconstructed from the released rule: Gaussian latents, C_in = 64, 3x3 -> max|w| ~ 3.3 sigma,
    Delta ~ 0.16 sigma, density ~ 0.435.

    Independent expectation: for each filter, P(kept) = P(w >= Delta) = 1 - Phi(Delta/sigma) with the
    filter's own Delta; averaged over 256 filters. Tolerance 0.01 (binomial s.e. of 147k weights is 0.0013).
    """
    w = np.random.default_rng(7).standard_normal((256, 64, 3, 3))
    q = B.signed_binarize(w)
    delta = 0.05 * np.abs(w).reshape(256, -1).max(axis=1)
    expect = np.mean([0.5 * math.erfc(d / math.sqrt(2)) for d in delta])
    assert abs(np.count_nonzero(q) / q.size - expect) < 0.01
    assert 0.42 < expect < 0.45


def test_subnormal_filters_keep_their_own_scale():
    """Each filter's mean |w| is taken at its own power-of-two scale: a filter of subnormal weights beside a filter
    near 2**100 keeps its scale (values by hand: means of exact multiples of the smallest subnormal 2**-1074)."""
    tiny = 2.0**-1074
    q, a = B.binarize(np.array([[2.0**100, -1.0], [tiny, -tiny]]), axis=0, return_scale=True)
    assert a[1] == tiny and q[1].tolist() == [tiny, -tiny]
    # ternarize: mean |w| = 3 tiny, Delta = 0.7 * 3 tiny = 2.1 tiny: 4 tiny kept, 2 tiny not; alpha = 4 tiny
    q, a = B.ternarize(np.array([[2.0**100, -1.0], [4 * tiny, -2 * tiny]]), axis=0, return_scale=True)
    assert a[1] == 4 * tiny and q[1].tolist() == [4 * tiny, 0.0]
    # signed-binary, sign +1, threshold 0: the kept support of [-1, tiny] is {tiny}, whose mean is tiny
    w = np.zeros((2, 1, 1, 2))
    w[0, 0, 0] = [-1.0, tiny]
    q = B.signed_binarize(w, threshold=0.0, scale="mean")
    assert q[0, 0, 0].tolist() == [0.0, tiny] and not q[1].any()
