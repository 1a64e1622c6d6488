"""Tests for refquant.bias_correction: moments restored exactly (float tolerance), eq. 13 as printed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refquant import QuantSpec, calibrate_minmax, fake_quant
from refquant.bias_correction import bias_correct


def _quantized(seed, shape=(6, 3, 3, 3), bits=4, axis=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(0.05, 0.3, size=shape) * rng.uniform(0.2, 3, size=(shape[0], 1, 1, 1))
    spec = QuantSpec(bits, narrow_range=True, axis=axis)
    s, z = calibrate_minmax(w, spec)
    return w, fake_quant(w, s, z, spec)


@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 4, 8]))
def test_mean_std_restores_both_moments(seed, bits):
    w, wq = _quantized(seed, bits=bits)
    out = bias_correct(w, wq, axis=0)
    for c in range(w.shape[0]):
        assert out[c].mean() == pytest.approx(w[c].mean(), abs=1e-12 * np.abs(w[c]).max())
        assert out[c].std() == pytest.approx(w[c].std(), rel=1e-12)


@given(st.integers(0, 2**32 - 1))
def test_mean_only_restores_mean_and_keeps_spread(seed):
    w, wq = _quantized(seed)
    out = bias_correct(w, wq, axis=0, method="mean")
    for c in range(w.shape[0]):
        assert out[c].mean() == pytest.approx(w[c].mean(), abs=1e-12)
        assert out[c].std() == pytest.approx(wq[c].std(), rel=1e-12)


def test_paper_eq13_literal_mean_is_xi_times_mean():
    w, wq = _quantized(11, bits=2)
    out, mu, xi = bias_correct(w, wq, axis=0, method="paper", return_stats=True)
    for c in range(w.shape[0]):
        assert mu[c] == pytest.approx(w[c].mean() - wq[c].mean())
        assert xi[c] == pytest.approx(np.linalg.norm(w[c] - w[c].mean()) / np.linalg.norm(wq[c] - wq[c].mean()))
        assert out[c].mean() == pytest.approx(xi[c] * w[c].mean(), abs=1e-12)


def test_other_axis_constant_channel_and_no_mutation():
    w = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.6]]).T  # channels on axis 1
    wq = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]]).T  # channel 1 constant after quantization
    w0, wq0 = w.copy(), wq.copy()
    out = bias_correct(w, wq, axis=1)
    assert out[:, 0].mean() == pytest.approx(0.25) and out[:, 0].std() == pytest.approx(w[:, 0].std())
    assert np.allclose(out[:, 1], 0.55)  # xi taken as 1: only the mean moves
    assert np.array_equal(w, w0) and np.array_equal(wq, wq0)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: bias_correct(np.ones((2, 3)), np.ones((3, 2))), ValueError, "w_q has shape"),
        (lambda: bias_correct(np.ones((2, 3)), np.ones((2, 3)), method="both"), ValueError, "method='both'"),
        (lambda: bias_correct(np.ones((2, 0)), np.ones((2, 0))), ValueError, "must not be empty"),
        (lambda: bias_correct(np.ones((2, 3)), np.ones((2, 3)), axis=3), ValueError, "axis=3"),
        (lambda: bias_correct(np.array([[np.nan, 1.0]]), np.ones((1, 2))), ValueError, "NaN"),
        (lambda: bias_correct(np.ones(3), np.ones(3, dtype=complex)), TypeError, "w_q must be real"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
