"""Tests for refquant.distributions: estimators against hand computations and scipy's fits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from refquant import distributions as D


def test_estimators_by_hand():
    x = np.array([-2.0, 0.0, 2.0, 4.0])
    assert [float(v) for v in D.fit(x, "gaussian")] == [1.0, pytest.approx(np.sqrt(20 / 3))]
    assert [float(v) for v in D.fit(x, "laplace")] == [1.0, 2.0]  # mean, mean |x - mean|
    assert [float(v) for v in D.fit(x, "laplace", estimator="mle")] == [1.0, 2.0]  # median 1.0
    assert [float(v) for v in D.fit(x, "uniform", estimator="range")] == [1.0, 3.0]
    assert float(D.fit(x, "uniform")[1]) == pytest.approx(np.sqrt(3) * np.sqrt(5))


def test_laplace_mle_matches_scipy_and_large_samples_recover_parameters():
    rng = np.random.default_rng(0)
    y = rng.laplace(0.3, 1.7, size=20001)
    loc, b = D.fit(y, "laplace", estimator="mle")
    sl, sb = stats.laplace.fit(y)
    assert float(loc) == pytest.approx(sl, abs=1e-9) and float(b) == pytest.approx(sb, rel=1e-9)
    g = rng.normal(-1.0, 2.0, size=200_000)
    assert float(D.fit(g, "gaussian")[1]) == pytest.approx(2.0, rel=0.01)
    u = rng.uniform(-3, 5, size=200_000)
    assert [float(v) for v in D.fit(u, "uniform")] == [pytest.approx(1.0, abs=0.03), pytest.approx(4.0, rel=0.01)]


def test_per_channel_axis_and_float32_accumulation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 7)).astype(np.float32)
    loc, sc = D.fit(x, "gaussian", axis=1)
    for c in range(5):
        v = x[:, c, :].astype(np.float64).ravel()
        assert loc[c] == pytest.approx(v.mean(), rel=1e-12) and sc[c] == pytest.approx(v.std(ddof=1), rel=1e-12)
    assert loc.dtype == np.float64 and loc.shape == (5,)


def test_frozen_and_constants_consistent():
    for name in D.DISTRIBUTIONS:
        f = D.frozen(name, 2.0, 0.5)
        assert f.mean() == pytest.approx(0.5)
        assert f.std() == pytest.approx(2.0 * D.STD_PER_SCALE[name])
        assert f.stats(moments="k") + 3 == pytest.approx(D.KURTOSIS[name])


def _expected_max(n: int) -> float:
    """E[max of n iid N(0, 1)] by quadrature of x * n * phi(x) * Phi(x)^(n-1)."""
    f = lambda x: x * n * stats.norm.pdf(x) * np.exp((n - 1) * stats.norm.logcdf(x))  # noqa: E731
    return integrate.quad(f, -12, 12, points=[np.sqrt(2 * np.log(n))], limit=400, epsabs=1e-13)[0]


def test_range_sigma_is_the_first_aciq_codes_rule():
    import math

    gaussian_const = (0.5 * 0.35) * (1 + (math.pi * math.log(4)) ** 0.5)  # as the code writes it
    assert D.RANGE_SIGMA_CONSTANT == pytest.approx(gaussian_const, rel=1e-15)
    rng = np.random.default_rng(3)
    lo = rng.normal(size=50) - 1
    hi = lo + rng.exponential(2.0, 50)
    n = rng.integers(2, 10**7, 50)
    got = D.range_sigma(lo, hi, n)
    want = [((b - a) * gaussian_const) / ((2 * math.log(k)) ** 0.5) for a, b, k in zip(lo, hi, n)]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert got.dtype == np.float64 and D.range_sigma(0.0, 1.0, 3).shape == ()


def test_range_sigma_bias_stated_in_the_docstring():
    # E[sigma_hat] / sigma = c * E[max - min] / sqrt(2 ln N) = 2 c E[max] / sqrt(2 ln N) for Gaussian data
    stated = {10: 0.775, 10**2: 0.893, 10**3: 0.942, 10**4: 0.970, 10**5: 0.987, 10**6: 0.9995, 10**7: 1.009}
    for n, v in stated.items():
        ratio = 2 * D.RANGE_SIGMA_CONSTANT * _expected_max(n) / np.sqrt(2 * np.log(n))
        assert ratio == pytest.approx(v, abs=5e-4 if n != 10**6 else 5e-5)
    # Monte Carlo of the estimator itself (fit, per channel) against the quadrature, N = 1000, 400 channels
    x = np.random.default_rng(5).standard_normal((400, 1000)) * 2.5
    _, s = D.fit(x, "gaussian", axis=0, estimator="range")
    want = 2.5 * 2 * D.RANGE_SIGMA_CONSTANT * _expected_max(1000) / np.sqrt(2 * np.log(1000))
    assert s.mean() == pytest.approx(want, abs=4 * s.std() / np.sqrt(s.size))


def test_fit_range_estimator_is_range_sigma_per_channel():
    x = np.random.default_rng(6).laplace(size=(7, 5, 3)).astype(np.float32)
    loc, s = D.fit(x, "gaussian", axis=1, estimator="range")
    for c in range(5):
        v = x[:, c, :].astype(np.float64)
        assert loc[c] == pytest.approx(v.mean(), rel=1e-14)
        assert s[c] == D.range_sigma(v.min(), v.max(), v.size)
    loc0, s0 = D.fit(x, "gaussian", estimator="range")
    assert s0 == D.range_sigma(float(x.min()), float(x.max()), x.size)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: D.range_sigma(1.0, 0.0, 10), ValueError, "max_value"),
        (lambda: D.range_sigma(0.0, 1.0, 1), ValueError, "n"),
        (lambda: D.range_sigma(0.0, 1.0, 2.0), TypeError, "n"),
        (lambda: D.range_sigma(0.0, 1.0, True), TypeError, "n"),
        (lambda: D.range_sigma(0.0, 1.0, 2**70), TypeError, "n"),
        (lambda: D.range_sigma(np.nan, 1.0, 4), ValueError, "min_value"),
        (lambda: D.range_sigma(0.0, "1", 4), TypeError, "max_value"),
        (lambda: D.range_sigma([0.0, 1.0], [1.0, 2.0, 3.0], 4), ValueError, "broadcast"),
        (lambda: D.range_sigma(-1e308, 1e308, 4), ValueError, "overflow"),
        (lambda: D.fit([1.0], "gaussian", estimator="range"), ValueError, "x"),
    ],
)
def test_range_sigma_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: D.fit([1.0, 2.0], "cauchy"), ValueError, "dist='cauchy'"),
        (lambda: D.fit([1.0, 2.0], "gaussian", estimator="mle"), ValueError, "estimator='mle'"),
        (lambda: D.fit([], "laplace"), ValueError, "x must not be empty"),
        (lambda: D.fit(np.ones((2, 0)), "laplace", axis=0), ValueError, "x must not be empty"),
        (lambda: D.fit([1.0], "gaussian"), ValueError, ">= 2 values"),
        (lambda: D.fit([1.0, np.inf], "laplace"), ValueError, "NaN/inf"),
        (lambda: D.frozen("gaussian", -1.0), ValueError, "scale=-1.0"),
        (lambda: D.check_dist(stats.poisson(3)), TypeError, "continuous"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
