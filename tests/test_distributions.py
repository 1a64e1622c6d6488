"""Tests for refquant.distributions: estimators against hand computations and scipy's fits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

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
