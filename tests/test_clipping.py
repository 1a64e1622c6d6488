"""Tests for refquant.clipping (ACIQ's MSE model, the exact MSE, optimal clipping).

Oracles: values recomputed independently of this code (bounded minimisation and
brentq, tolerance <= 1e-10), the ACIQ code's published 2-decimal tables, a brentq solution of
u·e^u = 3·4^M (independent of scipy's lambertw), scipy.integrate.quad per quantization cell,
Monte Carlo through refquant.uniform (10^6 samples, |z| < 5: false-alarm rate 5.7e-7 per check),
closed forms (1-bit midrise: E[(X - sign(X)·a/2)^2]), and a brute-force scan of the real quantizer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

from refquant import clipping as C
from refquant.uniform import fake_quant

# alpha* of the paper's model recomputed independently (4 decimals), signed
NOTE_ACIQ = {
    "laplace": [
        1.8628,
        2.8307,
        3.8972,
        5.0286,
        6.2048,
        7.4131,
        8.6456,
        9.8968,
        11.1627,
        12.4406,
        13.7284,
        15.0245,
        16.3276,
        17.6367,
        18.9512,
        20.2702,
    ],
    "gaussian": [
        1.2399,
        1.7106,
        2.1516,
        2.5591,
        2.9362,
        3.2869,
        3.6151,
        3.9240,
        4.2163,
        4.4942,
        4.7593,
        5.0132,
        5.2571,
        5.4920,
        5.7188,
        5.9382,
    ],
}
# exact optima on real grids recomputed independently by quadrature, M = 1..8, (laplace, gaussian);
# symmetric starts at M = 2
NOTE_EXACT = {
    "midrise": [
        (2.0000, 1.5958),
        (3.0756, 1.9914),
        (4.1348, 2.3441),
        (5.2156, 2.6816),
        (6.3354, 3.0102),
        (7.4979, 3.3300),
        (8.6979, 3.6395),
        (9.9279, 3.9376),
    ],
    "paper": [
        (2.0000, 1.2240),
        (2.8978, 1.6860),
        (3.9257, 2.1353),
        (5.0395, 2.5512),
        (6.2087, 2.9330),
        (7.4144, 3.2857),
        (8.6461, 3.6147),
        (9.8969, 3.9239),
    ],
    "endpoint": [
        (1.0000, 0.7979),
        (2.3067, 1.4935),
        (3.6179, 2.0511),
        (4.8896, 2.5140),
        (6.1374, 2.9162),
        (7.3807, 3.2780),
        (8.6299, 3.6111),
        (9.8891, 3.9222),
    ],
    "symmetric": [
        None,
        (2.0000, 1.2240),
        (3.4864, 1.9523),
        (4.8199, 2.4739),
        (6.0980, 2.8987),
        (7.3586, 3.2701),
        (8.6178, 3.6075),
        (9.8827, 3.9205),
    ],
}


@pytest.mark.parametrize("dist", ["laplace", "gaussian"])
def test_paper_alpha_matches_note_and_published_tables(dist):
    for m in range(1, 17):
        assert C.optimal_clip(m, dist) == pytest.approx(NOTE_ACIQ[dist][m - 1], abs=6e-5)
    for m, v in C.PUBLISHED_ALPHA[dist].items():  # code tables: 2 decimals, sometimes truncated (<= 0.016)
        assert abs(C.optimal_clip(m, dist) - v) <= 0.017


def test_laplace_optimum_is_lambert_w_closed_form():
    for m in range(0, 17):
        u = optimize.brentq(lambda u: u * math.exp(u) - 3 * 4.0**m, 0.0, 40.0, xtol=1e-15, rtol=1e-15)
        assert C.optimal_clip(m, "laplace", 2.5) == pytest.approx(2.5 * u, rel=1e-12)
        # one-sided (post-ReLU) M bits == signed M + 1 bits (the rounding terms agree)
        u1 = optimize.brentq(lambda u: u * math.exp(u) - 3 * 4.0 ** (m + 1), 0.0, 40.0, xtol=1e-15, rtol=1e-15)
        assert C.optimal_clip(m, "laplace", signed=False) == pytest.approx(u1, rel=1e-12)


@pytest.mark.parametrize("dist, frozen", [("gaussian", stats.norm()), ("laplace", stats.laplace())])
def test_aciq_model_against_quadrature(dist, frozen):
    for a, m in [(0.5, 1), (2.0, 2), (3.7, 4), (6.0, 8)]:
        tail = integrate.quad(lambda x: (x - a) ** 2 * frozen.pdf(x), a, np.inf, epsabs=0, epsrel=1e-13)[0]
        want = 2 * tail + a**2 / (3 * 4.0**m)
        assert float(C.mse_aciq(a, m, dist)) == pytest.approx(want, rel=1e-11)
        assert float(C.mse_aciq(a, m, dist, signed=False)) == pytest.approx(tail + a**2 / (24 * 4.0**m), rel=1e-11)
        # a frozen scipy distribution takes the quadrature path and must agree
        assert float(C.mse_aciq(a, m, frozen)) == pytest.approx(want, rel=1e-9)


def _quad_mse(alpha, bits, frozen, grid, signed):
    """Independent exact MSE: scipy quad over every cell (levels from grid_levels, checked in test_grids_are_images)."""
    levels, thr = C.grid_levels(alpha, bits, grid, signed=signed)
    edges = np.concatenate([[-np.inf if signed else 0.0], thr, [np.inf]])
    total = 0.0 if signed else frozen.cdf(0.0) * levels[0] ** 2
    for q, lo, hi in zip(levels, edges[:-1], edges[1:]):
        pts = [p for p in (0.0,) if lo < p < hi] if np.isfinite(lo) and np.isfinite(hi) else None
        total += integrate.quad(
            lambda x: (x - q) ** 2 * frozen.pdf(x), lo, hi, points=pts, epsabs=0, epsrel=1e-13, limit=200
        )[0]
    return total


@pytest.mark.parametrize("grid", C.GRIDS)
@pytest.mark.parametrize("dist, frozen", [("gaussian", stats.norm()), ("laplace", stats.laplace())])
def test_exact_mse_against_scipy_quadrature(grid, dist, frozen):
    for signed in (True, False):
        for m in (2, 3, 5):
            a = C.optimal_clip(m, dist) * 1.1
            want = _quad_mse(a, m, frozen, grid, signed)
            assert float(C.mse_exact(a, m, dist, grid=grid, signed=signed)) == pytest.approx(want, rel=1e-9)


def test_exact_mse_closed_form_one_bit_midrise():
    for a in (0.3, 1.0, 2.5):  # levels ±a/2: E[(X - sign(X) a/2)^2] = 1 - a·E|X| + a^2/4
        assert float(C.mse_exact(a, 1, "gaussian")) == pytest.approx(
            1 - a * math.sqrt(2 / math.pi) + a * a / 4, rel=1e-13
        )
        assert float(C.mse_exact(a, 1, "laplace")) == pytest.approx(2 - a + a * a / 4, rel=1e-13)


@pytest.mark.parametrize("grid", sorted(NOTE_EXACT))
def test_exact_optima_match_note_table(grid):
    for m in range(1, 9):
        want = NOTE_EXACT[grid][m - 1]
        if want is None:
            continue
        for dist, w in zip(("laplace", "gaussian"), want):
            assert C.optimal_clip(m, dist, model="exact", grid=grid) == pytest.approx(w, abs=6e-5)


@pytest.mark.parametrize("grid", C.GRIDS)
def test_grids_are_images_of_refquant_uniform(grid):
    """Every grid's levels/thresholds equal what refquant.uniform does (dense points, dyadic alpha: no rounding)."""
    for signed in (True, False):
        for m in (2, 3, 4, 8) if grid != "paper" else (2, 3, 4, 8):
            n = 2**m
            step = 2.0**-5
            div = {
                "paper": n / (2 if signed else 1),
                "midrise": n / (2 if signed else 1),
                "endpoint": (n - 1) / (2 if signed else 1),
                "aciq_runtime": (n - 1) / (2 if signed else 1),
                "symmetric": (n // 2 - 1) if signed else n - 2,
            }[grid]
            alpha = step * div  # alpha chosen so the step is exactly 2^-5
            levels, thr = C.grid_levels(alpha, m, grid, signed=signed)
            x = np.linspace(-1.3 * alpha, 1.3 * alpha, 4001)
            x = x[~np.isin(x, thr)]  # exact ties are decided by the rounding mode, not by the grid
            nearest = levels[np.searchsorted(thr, x)]
            np.testing.assert_array_equal(C.quantize_on_grid(x, alpha, m, grid, signed=signed), nearest)
            assert (
                len(levels)
                == {"paper": n + 1, "midrise": n, "endpoint": n, "aciq_runtime": n, "symmetric": n - 1}[grid]
            )


@pytest.mark.parametrize("dist", ["gaussian", "laplace"])
@pytest.mark.parametrize("grid", C.GRIDS)
def test_exact_mse_matches_monte_carlo(dist, grid):
    rng = np.random.default_rng(1234)
    x = rng.standard_normal(10**6) if dist == "gaussian" else rng.laplace(size=10**6)
    for m in (2, 4):
        a = C.optimal_clip(m, dist)
        e2 = (C.quantize_on_grid(x, a, m, grid) - x) ** 2
        se = e2.std(ddof=1) / math.sqrt(x.size)
        assert abs(e2.mean() - float(C.mse_exact(a, m, dist, grid=grid))) < 5 * se


def test_exact_approaches_paper_model_monotonically():
    for dist in ("gaussian", "laplace"):
        for grid in C.GRIDS:
            gaps = []
            for m in range(4, 13):
                a = C.optimal_clip(m, dist)
                gaps.append(abs(float(C.mse_exact(a, m, dist, grid=grid)) / float(C.mse_aciq(a, m, dist)) - 1))
            assert np.all(np.diff(gaps) < 0) and gaps[-1] < 1e-3, (dist, grid, gaps)


@settings(deadline=None, max_examples=25)
@given(
    st.sampled_from(["gaussian", "laplace", "uniform"]),
    st.sampled_from(C.GRIDS),
    st.integers(2, 10),
    st.booleans(),
    st.floats(0.1, 10.0),
)
def test_solvers_return_true_minima(dist, grid, bits, signed, scale):
    for model in ("aciq", "exact"):
        a = C.optimal_clip(bits, dist, scale, model=model, grid=grid, signed=signed)
        f = (
            (lambda v: float(C.mse_aciq(v, bits, dist, scale, signed=signed)))
            if model == "aciq"
            else (lambda v: float(C.mse_exact(v, bits, dist, scale, grid=grid, signed=signed)))
        )
        best = f(a)
        assert f(a * (1 + 1e-3)) >= best and f(a * (1 - 1e-3)) >= best


def test_one_sided_is_half_of_signed_with_one_more_bit():
    """ReLU'd input on refquant's unsigned grid == half the signed grid with one more bit (checked by quadrature)."""
    for dist in ("gaussian", "laplace"):
        for m in (2, 4, 7):
            for a in (1.0, 3.0):
                u = float(C.mse_exact(a, m, dist, grid="endpoint", signed=False))
                s = float(C.mse_exact(a, m + 1, dist, grid="symmetric"))
                assert u == pytest.approx(s / 2, rel=1e-12)


def test_scipy_distributions_match_named_ones_and_report_error():
    for dist, frozen in (("gaussian", stats.norm()), ("laplace", stats.laplace()), ("uniform", stats.uniform(-1, 2))):
        for grid in C.GRIDS:
            v, err = C.mse_exact(1.3, 3, frozen, grid=grid, return_error=True)
            assert float(v) == pytest.approx(float(C.mse_exact(1.3, 3, dist, grid=grid)), rel=1e-9)
            assert 0 <= float(err) < 1e-8
    t5 = stats.t(df=5)
    a = C.optimal_clip(3, t5, model="exact")
    x = t5.rvs(size=10**6, random_state=np.random.default_rng(7))
    e2 = (C.quantize_on_grid(x, a, 3, "midrise") - x) ** 2
    assert abs(e2.mean() - float(C.mse_exact(a, 3, t5))) < 5 * e2.std(ddof=1) / 1000


def test_vectorised_over_alpha_bits_scale():
    a = np.array([[1.0], [2.0]])
    m = np.array([2, 3, 4])
    got = C.mse_exact(a, m, "laplace", 0.5)
    assert got.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert got[i, j] == float(C.mse_exact(a[i, 0], int(m[j]), "laplace", 0.5))
    assert C.mse_aciq(a, m, "gaussian").shape == (2, 3)


def test_table_has_paper_exact_and_penalties():
    t = C.optimal_clip_table("gaussian", bits=range(1, 5))
    assert list(t.bits) == [1, 2, 3, 4]
    assert (t[[c for c in t.columns if c.startswith("penalty_")]].fillna(0) >= -1e-12).all().all()
    assert t.loc[t.bits == 4, "published"].item() == 2.55


# ---------------------------------------------------------------- empirical solver


def _brute(xc, bits, grid, n):
    """Independent scan: refquant.fake_quant-based quantize_on_grid at each candidate, mean in float64."""
    amax = float(np.abs(xc).max())
    half = 2 ** (bits - 1)
    div = {"symmetric": half - 1, "paper": half, "midrise": half}[grid]
    best = None
    for k in range(1, n + 1):
        s = np.asarray(amax * k / n / div, dtype=xc.dtype)
        if grid == "symmetric":
            from refquant import QuantSpec

            y = fake_quant(xc, s, 0, QuantSpec(bits, narrow_range=True))
        elif grid == "paper":
            from refquant import QuantSpec

            y = fake_quant(np.clip(xc, -s * half, s * half).astype(xc.dtype), s, 0, QuantSpec(bits + 1))
        else:
            from refquant import QuantSpec

            y = fake_quant(xc, s, 0, QuantSpec(bits, rounding="floor")) + s / 2
        mse = float(np.mean((y.astype(np.float64) - xc.astype(np.float64)) ** 2))
        if best is None or mse < best[0]:
            best = (mse, float(s) * div)
    return best


@pytest.mark.parametrize("grid", ["symmetric", "paper", "midrise"])
def test_empirical_clip_is_the_brute_force_minimum(grid):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((5, 300)) * np.array([[0.1], [1], [3], [10], [0.01]])).astype(np.float32)
    alpha, mse = C.optimal_clip_empirical(x, 4, axis=0, grid=grid, n_candidates=40, return_mse=True)
    for c in range(5):
        bmse, balpha = _brute(x[c], 4, grid, 40)
        assert mse[c].min() == pytest.approx(bmse, rel=1e-12)
        assert float(alpha[c]) == pytest.approx(balpha, rel=1e-6) or mse[c].min() == pytest.approx(bmse, rel=1e-12)


def test_empirical_clip_converges_to_exact_optimum():
    x = np.random.default_rng(5).standard_normal(400_000)
    a = float(C.optimal_clip_empirical(x, 4, grid="symmetric", n_candidates=400))
    assert a == pytest.approx(C.optimal_clip(4, "gaussian", model="exact", grid="symmetric"), rel=0.03)


@pytest.mark.kernel
@settings(deadline=None, max_examples=20)
@given(
    st.sampled_from(list(C.GRIDS)),
    st.sampled_from([np.float32, np.float64]),
    st.integers(1, 4),
    st.integers(1, 37),
    st.integers(2, 9),
    st.integers(0, 2**32 - 1),
)
def test_clip_kernel_bit_identical_to_twin(grid, dtype, n_ch, n, bits, seed):
    from refquant._reference.clipping import clip_search_sse

    x = np.random.default_rng(seed).laplace(size=(n_ch, n)).astype(dtype)
    _, mse = C.optimal_clip_empirical(x, bits, axis=0, grid=grid, n_candidates=13, return_mse=True)
    from refquant.clipping.empirical import _prepare_clip_search

    a, _ = _prepare_clip_search(x, bits, grid, 13, 0)
    np.testing.assert_array_equal(mse, clip_search_sse(a.v, a.scales, a.mode, a.lo, a.hi, a.offset) / n)


def test_empirical_zero_channel_and_axis_layout():
    x = np.zeros((3, 4, 5))
    x[1] = np.arange(20).reshape(4, 5)
    a = C.optimal_clip_empirical(x, 8, axis=0)
    # dead (all-zero) channels get a defined positive clip, whose scale fake_quant accepts
    assert a.shape == (3,) and a[0] == a[2] == C.empirical.DEAD_CHANNEL_CLIP == 1.0 and a[1] > 0
    from refquant.ptq import grid_spec, scale_from_clip

    s, z = scale_from_clip(a, grid_spec(8, axis=0), grid="symmetric")
    assert np.all(fake_quant(x, s, z, grid_spec(8, axis=0))[[0, 2]] == 0)
    b = C.optimal_clip_empirical(np.moveaxis(x, 0, 2), 8, axis=2)
    np.testing.assert_array_equal(a, b)
    assert C.optimal_clip_empirical(x, 8).shape == ()


@pytest.mark.parametrize("grid", ["symmetric", "endpoint", "midrise", "paper", "aciq_runtime"])
def test_empirical_one_sided_is_the_brute_force_minimum(grid):
    """signed=False: the scan's errors equal quantize_on_grid(..., signed=False) at every candidate."""
    rng = np.random.default_rng(8)
    x = np.maximum(rng.laplace(size=(4, 250)) * np.array([[0.1], [1.0], [30.0], [1e-3]]), 0).astype(np.float32)
    n = 25
    alpha, mse = C.optimal_clip_empirical(x, 3, axis=0, grid=grid, n_candidates=n, return_mse=True, signed=False)
    for c in range(4):
        amax = float(np.abs(x[c]).max())
        errs = []
        for k in range(1, n + 1):
            steps = {"symmetric": 6, "endpoint": 7, "midrise": 8, "paper": 8, "aciq_runtime": 7}[grid]
            s = float(np.float32(amax * k / n / steps))  # the scan's scale, rounded once to the data's dtype
            y = C.quantize_on_grid(x[c].astype(np.float64), s * steps, 3, grid, signed=False)
            errs.append(float(np.mean((y - x[c].astype(np.float64)) ** 2)))
        np.testing.assert_allclose(mse[c], errs, rtol=1e-5, atol=1e-12 * amax**2)
        assert alpha[c] > 0 and alpha[c] <= amax * (1 + 1e-6)
    with pytest.raises(ValueError, match="negative values.*signed=False"):
        C.optimal_clip_empirical(-x, 3, grid=grid, signed=False)
    with pytest.raises(TypeError, match="signed must be True or False"):
        C.optimal_clip_empirical(x, 3, grid=grid, signed=0)


@pytest.mark.kernel
@settings(deadline=None, max_examples=15)
@given(
    st.sampled_from(["symmetric", "endpoint", "paper", "midrise", "aciq_runtime"]),
    st.sampled_from([np.float32, np.float64]),
    st.integers(1, 3),
    st.integers(1, 37),
    st.integers(2, 9),
    st.integers(0, 2**32 - 1),
)
def test_clip_kernel_one_sided_bit_identical_to_twin(grid, dtype, n_ch, n, bits, seed):
    from refquant._reference.clipping import clip_search_sse
    from refquant.clipping.empirical import _candidate_scales

    x = np.abs(np.random.default_rng(seed).laplace(size=(n_ch, n))).astype(dtype)
    _, mse = C.optimal_clip_empirical(x, bits, axis=0, grid=grid, n_candidates=13, return_mse=True, signed=False)
    s, mode, lo, hi, off = _candidate_scales(np.ascontiguousarray(x), bits, grid, 13, signed=False)
    np.testing.assert_array_equal(mse, clip_search_sse(x, s, mode, lo, hi, off) / n)


def test_inputs_not_mutated():
    x = np.random.default_rng(0).standard_normal((4, 50)).astype(np.float32)
    x0 = x.copy()
    C.optimal_clip_empirical(x, 4, axis=0)
    C.quantize_on_grid(x, 1.0, 4, "endpoint")
    a = np.array([1.0, 2.0])
    C.mse_exact(a, 3, "gaussian")
    assert np.array_equal(x, x0) and a.tolist() == [1.0, 2.0]


BAD = [
    ("alpha <= 0", lambda: C.mse_aciq(0.0, 4, "gaussian"), ValueError, "alpha must be > 0"),
    ("alpha negative exact", lambda: C.mse_exact([1.0, -1.0], 4, "laplace"), ValueError, "alpha must be > 0"),
    ("alpha nan", lambda: C.mse_exact(np.nan, 4, "laplace"), ValueError, "alpha contains 1 NaN"),
    ("bits too large", lambda: C.mse_exact(1.0, 17, "laplace"), ValueError, "bits=17 is out of range"),
    ("bits zero exact", lambda: C.mse_exact(1.0, 0, "laplace"), ValueError, "bits=0 is out of range"),
    ("bits float", lambda: C.mse_aciq(1.0, 2.5, "laplace"), TypeError, "bits must be an integer"),
    (
        "symmetric 1 bit",
        lambda: C.optimal_clip(1, "gaussian", model="exact", grid="symmetric"),
        ValueError,
        "bits=1 is out of range for grid='symmetric'",
    ),
    ("negative scale", lambda: C.mse_exact(1.0, 4, "gaussian", -1.0), ValueError, "scale must be > 0"),
    ("scale zero solver", lambda: C.optimal_clip(4, "gaussian", 0.0), ValueError, "scale=0.0 is out of range"),
    ("unknown dist", lambda: C.mse_aciq(1.0, 4, "cauchy"), ValueError, "dist='cauchy' is not a known distribution"),
    ("dist wrong type", lambda: C.mse_exact(1.0, 4, 3), TypeError, "dist must be one of"),
    ("unknown grid", lambda: C.mse_exact(1.0, 4, "gaussian", grid="uniform"), ValueError, "grid='uniform'"),
    ("unknown model", lambda: C.optimal_clip(4, "gaussian", model="mse"), ValueError, "model='mse'"),
    ("empirical grid", lambda: C.optimal_clip_empirical(np.ones(4), 4, grid="exact"), ValueError, "grid='exact'"),
    ("empirical empty channel", lambda: C.optimal_clip_empirical(np.ones((3, 0)), 4, axis=0), ValueError, "empty"),
    ("empirical empty", lambda: C.optimal_clip_empirical(np.ones(0), 4), ValueError, "x must not be empty"),
    ("empirical nan", lambda: C.optimal_clip_empirical(np.array([1.0, np.nan]), 4), ValueError, "x contains 1 NaN"),
    ("empirical axis", lambda: C.optimal_clip_empirical(np.ones((2, 2)), 4, axis=2), ValueError, "axis=2"),
    (
        "empirical candidates",
        lambda: C.optimal_clip_empirical(np.ones(4), 4, n_candidates=0),
        ValueError,
        "n_candidates=0",
    ),
    (
        "paper grid 16 bits image",
        lambda: C.quantize_on_grid(np.ones(3), 1.0, 16, "paper"),
        ValueError,
        "bits=16 is out of range",
    ),
]


@pytest.mark.parametrize("name, fn, exc, match", BAD, ids=[b[0] for b in BAD])
def test_bad_input(name, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()
