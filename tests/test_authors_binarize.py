"""The signed-binary code's and Larq's computations in refquant.binarize: PLUM's forward with its ``>=``
comparison (all-zero filters), its STE backward, its ``ede`` with one Delta per input position, and Larq's
``ste_tern``.

Oracles: plain NumPy transcriptions of the released arithmetic (the first-half / second-half slicing of
an OIHW weight, nested signs, clamp-then-mask), element loops with explicit cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from refquant import binarize as B


def _oihw(seed, shape=(6, 3, 3, 3), zero_filters=()):
    w = np.random.default_rng(seed).standard_normal(shape) * 0.05
    for f in zero_filters:
        w[f] = 0.0
    # put one weight of filter 0 exactly on its threshold (a tie of the >= comparison)
    m = np.abs(w[0]).max()
    if m > 0:
        w[0, 0, 0, 1] = 0.05 * m
    return w


def _plum_forward(w):
    """The released STESign.forward: per-filter Delta = 0.05 max|w|, first half >= Delta -> 1, rest <= -Delta -> -1."""
    p = w.copy()
    half = p.shape[0] // 2
    delta = np.abs(p).reshape(p.shape[0], -1).max(axis=1) * 0.05
    pos = p[:half] >= delta[:half, None, None, None]
    neg = p[half:] <= -delta[half:, None, None, None]
    out = np.zeros_like(p)
    out[:half][pos] = 1
    out[half:][neg] = -1
    return out


@pytest.mark.parametrize("seed", range(4))
def test_signed_binarize_plum_rule_is_the_released_forward(seed):
    w = _oihw(seed, zero_filters=(1, 4))
    got = B.signed_binarize(w, zero_rule="plum")
    np.testing.assert_array_equal(got, _plum_forward(w))
    assert np.all(got[1] == 1) and np.all(got[4] == -1)  # all-zero filters become all +-1
    default = B.signed_binarize(w)
    assert not np.any(default[1]) and not np.any(default[4])  # refquant's default keeps them 0
    keep = [0, 2, 3, 5]
    np.testing.assert_array_equal(default[keep], got[keep])  # identical wherever Delta > 0


def test_signed_binarize_plum_rule_with_zero_threshold():
    w = np.array([[0.0, 0.3, -0.2], [0.0, -0.1, 0.4]])
    np.testing.assert_array_equal(B.signed_binarize(w, threshold=0.0, zero_rule="plum"), [[1, 1, 0], [-1, -1, 0]])
    np.testing.assert_array_equal(B.signed_binarize(w, threshold=0.0), [[0, 1, 0], [0, -1, 0]])


def _plum_ste_backward(x, g):
    """The released STESign.backward: g*alpha + g*(~alpha) (= g), clamp to [-1, 1], zero where x > 1 or x < -1."""
    alpha = np.random.default_rng(0).random(x.shape) < 0.5  # any mask: the two terms add back to g
    gi = g * alpha + g * (~alpha)
    gi = np.clip(gi, -1, 1)
    gi[x > 1] = 0
    gi[x < -1] = 0
    return gi


def test_ste_grad_is_the_released_signed_binary_backward():
    r = np.random.default_rng(1)
    x = r.standard_normal((5, 4, 3, 3)) * 1.2
    x[0, 0, 0, :2] = [1.0, -1.0]  # exactly on the mask edge: passes
    g = r.standard_normal(x.shape) * 2
    np.testing.assert_array_equal(B.ste_grad(x, g, grad_clip=1.0), _plum_ste_backward(x, g))
    # Larq's clipped identity: no clamp of the value
    want = np.array([gi if abs(xi) <= 1 else 0.0 for xi, gi in zip(x.ravel(), g.ravel())]).reshape(x.shape)
    np.testing.assert_array_equal(B.ste_grad(x, g), want)
    np.testing.assert_array_equal(B.ste_grad(x, g, clip_value=0.5), np.where(np.abs(x) <= 0.5, g, 0))


def _plum_ede(p, g, epoch, total):
    """The released ede(): Delta = 0.05 * max over dim 0 (one per input position), first half w - Delta."""
    t = 0.1 * 10 ** ((epoch / total) * np.log10(100.0))
    k = max(1 / t, 1.0)
    delta = np.broadcast_to(np.abs(p).max(axis=0, keepdims=True) * 0.05, p.shape)
    h = p.shape[0] // 2
    first = k * t * (1 - np.tanh((p[:h] - delta[:h]) * t) ** 2) * g[:h]
    second = k * t * (1 - np.tanh((p[h:] + delta[h:]) * t) ** 2) * g[h:]
    return np.concatenate([first, second])


@pytest.mark.parametrize("epoch", [0, 17, 160, 320])
def test_ede_grad_position_delta_is_the_released_ede(epoch):
    r = np.random.default_rng(epoch)
    p = r.standard_normal((7, 4, 3, 3)) * 0.1
    g = r.standard_normal(p.shape)
    got = B.ede_grad(p, g, epoch=epoch, total_epochs=320, delta="position")
    np.testing.assert_allclose(got, _plum_ede(p, g, epoch, 320), rtol=1e-13, atol=0)
    region = B.ede_grad(p, g, epoch=epoch, total_epochs=320)
    if epoch == 320:  # late in training the two Delta choices give visibly different gradients
        assert np.abs(region - got).max() > 1e-3 * np.abs(got).max()


def _ste_tern_loop(x, delta):
    out = []
    for v in x.ravel():
        if delta > 0:
            out.append(1.0 if v >= delta else (-1.0 if v <= -delta else 0.0))
        else:
            out.append(float(np.sign(v)))
    return np.array(out).reshape(x.shape)


@pytest.mark.parametrize("threshold", [0.0, 0.05, 0.3])
def test_ste_tern_matches_the_case_definition(threshold):
    x = np.random.default_rng(2).standard_normal((4, 25)) * 0.1
    x[0, :3] = [threshold, -threshold, 0.0]  # ties at +-Delta and an exact zero
    np.testing.assert_array_equal(B.ste_tern(x, threshold=threshold), _ste_tern_loop(x, threshold))
    twn = 0.7 * np.abs(x).mean()  # TWN mode: one threshold for the whole tensor
    np.testing.assert_array_equal(B.ste_tern(x, ternary_weight_networks=True), _ste_tern_loop(x, twn))
    assert B.ste_tern(x.astype(np.float32)).dtype == np.float32


def test_ste_tern_is_not_ternarize_relative_to_max():
    w = np.random.default_rng(3).normal(0, 0.05, (64, 576))
    a = B.ste_tern(w)
    b = np.sign(B.ternarize(w, threshold=0.05, relative_to="max"))
    assert np.mean(a != b) > 0.3  # absolute vs relative threshold: most signs differ at this scale


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: B.signed_binarize([[1.0, -1.0]], zero_rule="code"), ValueError, "zero_rule"),
        (lambda: B.signed_binarize([[1.0, -1.0]], zero_rule=True), TypeError, "zero_rule"),
        (lambda: B.ede_grad([[1.0]], [[1.0]], epoch=0, total_epochs=1, delta="filter"), ValueError, "delta"),
        (lambda: B.ede_grad([[1.0]], [[1.0]], epoch=0, total_epochs=1, delta=0), TypeError, "delta"),
        (lambda: B.ste_tern([0.1], threshold=-0.1), ValueError, "threshold"),
        (lambda: B.ste_tern([0.1], threshold="0.1"), TypeError, "threshold"),
        (lambda: B.ste_tern([0.1], ternary_weight_networks=1), TypeError, "ternary_weight_networks"),
        (lambda: B.ste_tern([np.nan]), ValueError, "w"),
        (lambda: B.ste_grad([0.1, 0.2], [1.0]), ValueError, "grad_q"),
        (lambda: B.ste_grad([0.1], [1.0], clip_value=0.0), ValueError, "clip_value"),
        (lambda: B.ste_grad([0.1], [1.0], grad_clip=-1.0), ValueError, "grad_clip"),
        (lambda: B.ste_grad([0.1], [1.0], grad_clip="1"), TypeError, "grad_clip"),
    ],
)
def test_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
