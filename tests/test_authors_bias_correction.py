"""ACIQ code's bias-correction variants: spread-only weight correction (``-vcw`` alone) and the activation
bias correction (``-bca``), in refquant.bias_correction.

Oracles: plain loops over channels with the code's unbiased std; a linear layer whose expected output
shift under weight quantization is known in closed form, ``E[(W_q - W) x] = (W_q - W) E[x]``; a
transcription of the released ``-bca`` arithmetic.
"""

from __future__ import annotations

import numpy as np
import pytest

from refquant import QuantSpec, fake_quant
from refquant import bias_correction as BC


def _quantize_per_channel(w, bits=3):
    s = np.abs(w).max(axis=1) / (2 ** (bits - 1) - 1)
    return np.stack([fake_quant(w[c], s[c], 0, QuantSpec(bits, narrow_range=True)) for c in range(w.shape[0])])


def test_std_only_is_the_codes_vcw_alone():
    r = np.random.default_rng(0)
    w = r.standard_normal((5, 3, 2, 2)) * 0.1 + 0.02
    wq = _quantize_per_channel(w.reshape(5, -1)).reshape(w.shape)
    got = BC.bias_correct(w, wq, method="std")
    for c in range(5):  # the code: (w_q - mean(w_q)) * std(w)/std(w_q) + mean(w_q), unbiased std
        a, aq = w[c].ravel(), wq[c].ravel()
        want = (aq - aq.mean()) * (a.std(ddof=1) / aq.std(ddof=1)) + aq.mean()
        np.testing.assert_allclose(got[c].ravel(), want, rtol=1e-13, atol=1e-16)
        assert abs(got[c].std() - a.std()) <= 1e-13 * a.std()  # spread restored
        assert abs(got[c].mean() - aq.mean()) <= 1e-14  # mean left as quantized
    # -vcw then -bcw is mean_std
    np.testing.assert_allclose(BC.bias_correct(w, got, method="mean"), BC.bias_correct(w, wq), rtol=1e-12, atol=1e-15)


def _layer(seed, c_out=4, c_in=6):
    r = np.random.default_rng(seed)
    w = r.standard_normal((c_out, c_in)) * 0.3
    return w, _quantize_per_channel(w, bits=2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_activation_correction_of_a_linear_layer_is_the_closed_form_shift(seed):
    w, wq = _layer(seed)
    r = np.random.default_rng(100 + seed)
    mu_x = r.standard_normal(w.shape[1])
    z = r.standard_normal((200, w.shape[1]))
    x_cal = np.concatenate([mu_x + z, mu_x - z])  # sample mean exactly mu_x (up to rounding)
    y, yq = x_cal @ w.T, x_cal @ wq.T  # (N, C)
    b = BC.activation_bias_correction(y, yq, axis=1)
    np.testing.assert_allclose(b, (w - wq) @ mu_x, rtol=1e-10, atol=1e-12)
    # applied to fresh inputs from the same distribution: the expected error vanishes
    x_new = mu_x + r.standard_normal((20000, w.shape[1]))
    err = BC.apply_activation_bias_correction(x_new @ wq.T, b) - x_new @ w.T
    sd = np.sqrt(np.einsum("ci,ci->c", wq - w, wq - w) / x_new.shape[0])  # std of the mean error per channel
    assert np.all(np.abs(err.mean(axis=0)) < 5 * sd)
    raw = (x_new @ wq.T - x_new @ w.T).mean(axis=0)
    assert np.abs(raw).max() > 5 * sd.max()  # without the correction the shift is visible


def _code_bca(out, out_q):
    """The released -bca: per channel (sum relu(out) - sum out_q) / (count(relu(out) > 0) + 1e-8), added where
    out_q > 0."""
    out = np.maximum(out, 0)
    temp = np.moveaxis(out, 1, 0).reshape(out.shape[1], -1)
    tq = np.moveaxis(out_q, 1, 0).reshape(out.shape[1], -1)
    q_bias = (temp.sum(-1) - tq.sum(-1)) / ((temp > 0).sum(-1) + 1e-8)
    return out_q + (out_q > 0) * q_bias.reshape(1, -1, 1, 1), q_bias


def test_positive_method_is_the_released_bca():
    r = np.random.default_rng(4)
    out = r.standard_normal((8, 3, 5, 5)) + 0.3
    out_q = fake_quant(np.maximum(out, 0), 0.4, 0, QuantSpec(3, signed=False))
    want, q_bias = _code_bca(out, out_q)
    b = BC.activation_bias_correction(np.maximum(out, 0), out_q, method="positive")
    np.testing.assert_allclose(b, q_bias, rtol=1e-7)  # the code's 1e-8 in the count: relative 1e-8 / count
    got = BC.apply_activation_bias_correction(out_q, b, method="positive")
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12)
    # per-channel plain loop, no epsilon
    for c in range(3):
        f, q = np.maximum(out[:, c], 0).ravel(), out_q[:, c].ravel()
        assert b[c] == pytest.approx((f.sum() - q.sum()) / np.count_nonzero(f > 0), rel=1e-13)


def test_positive_method_channel_without_positive_outputs():
    y = np.zeros((4, 2))
    y[:, 1] = [1.0, 2.0, 0.0, 3.0]
    yq = np.zeros((4, 2))
    yq[:, 1] = [1.0, 1.5, 0.0, 3.0]
    np.testing.assert_array_equal(BC.activation_bias_correction(y, yq, method="positive"), [0.0, 0.5 / 3])


def test_inputs_not_modified():
    y = np.ones((3, 2))
    yq = np.full((3, 2), 0.5)
    y0, yq0 = y.copy(), yq.copy()
    b = BC.activation_bias_correction(y, yq)
    BC.apply_activation_bias_correction(yq, b)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(yq, yq0)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: BC.bias_correct([[1.0, 2.0]], [[1.0, 2.0]], method="var"), ValueError, "method"),
        (lambda: BC.activation_bias_correction([[1.0]], [[1.0]], method="bca"), ValueError, "method"),
        (lambda: BC.activation_bias_correction([[1.0]], [[1.0]], method=None), TypeError, "method"),
        (lambda: BC.activation_bias_correction([[1.0, 2.0]], [[1.0]]), ValueError, "y_q"),
        (lambda: BC.activation_bias_correction([[1.0]], [[np.nan]]), ValueError, "y_q"),
        (lambda: BC.activation_bias_correction([[1.0]], [[1.0]], axis=2), ValueError, "axis"),
        (lambda: BC.activation_bias_correction(1.0, 1.0), ValueError, "y"),
        (lambda: BC.apply_activation_bias_correction([[1.0, 2.0]], [1.0]), ValueError, "correction"),
        (lambda: BC.apply_activation_bias_correction([[1.0, 2.0]], [1.0, 2.0], axis=1.0), TypeError, "axis"),
        (lambda: BC.apply_activation_bias_correction([[1.0, 2.0]], [1.0, 2.0], method="max"), ValueError, "method"),
        (lambda: BC.apply_activation_bias_correction([[1.0, 2.0]], ["a", "b"]), TypeError, "correction"),
    ],
)
def test_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
