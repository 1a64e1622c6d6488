"""The KURE code's computations in refquant.kurtosis: ddof=1 (PyTorch's unbiased std), the layer reductions
(mean with an explicit count, sum, max), and the conformance checkers' ddof.

Oracles: the loss written the way the released KURE code writes it (``mean(((w - mean) / std)**4)`` with the
unbiased std, per-layer terms combined by a plain loop), its gradient by complex-step differentiation
(``Im f(w + i h e_j) / h``, exact to rounding, no subtraction) or central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from refquant import kurtosis as K
from refquant.testing import ConformanceError
from refquant.testing.conformance import check_kure_grad, check_kurtosis

N_EX = 40


def _code_kurt(w, ddof=1):
    """Kurtosis as the KURE code computes it (works for complex input: complex-step differentiation)."""
    w = np.asarray(w).ravel()
    m = w.sum() / w.size
    std = np.sqrt(((w - m) ** 2).sum() / (w.size - ddof))
    return (((w - m) / std) ** 4).sum() / w.size


def _code_loss(ws, target, ddof=1, mode="mean", count=None):
    terms = [(_code_kurt(w, ddof) - target) ** 2 for w in ws]
    if mode == "max":
        best = terms[0]
        for t in terms[1:]:
            best = t if t.real > best.real else best  # Python's max(a, b): keeps a unless b > a
        return best
    tot = terms[0]
    for t in terms[1:]:
        tot = tot + t
    return tot / (len(ws) if count is None else count) if mode == "mean" else tot


def _complex_step_grad(ws, target, ddof=1, mode="mean", count=None):
    out = []
    h = 1e-30
    for i, w in enumerate(ws):
        flat = np.asarray(w, dtype=np.float64).ravel()
        g = np.empty(flat.size)
        for j in range(flat.size):
            wj = flat.astype(np.complex128)
            wj[j] += 1j * h
            layers = [np.asarray(v, dtype=np.complex128) for v in ws]
            layers[i] = wj
            g[j] = _code_loss(layers, target, ddof, mode, count).imag / h
        out.append(g.reshape(np.shape(w)))
    return out


def _layers(seed, sizes=(7, 12, 30)):
    r = np.random.default_rng(seed)
    return [r.standard_normal(n) * (1 + i) + 0.3 * i for i, n in enumerate(sizes)] + [r.laplace(size=(3, 5))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kurtosis_ddof1_is_the_kure_code_value_per_tensor_and_per_channel(seed):
    x = np.random.default_rng(seed).laplace(size=(5, 9)) + 2.0
    assert abs(float(K.kurtosis(x, ddof=1)) / _code_kurt(x) - 1) < 1e-13
    got = K.kurtosis(x, axis=0, ddof=1)
    want = np.array([_code_kurt(x[c]) for c in range(x.shape[0])])  # plain loop over channels
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(
        K.kurtosis(x, axis=1, ddof=1), [_code_kurt(x[:, c]) for c in range(x.shape[1])], rtol=1e-13
    )
    # ddof=0 is the population definition, different from the code's at small N
    assert abs(float(K.kurtosis(x[0])) / _code_kurt(x[0]) - (9 / 8) ** 2) < 1e-13


@pytest.mark.parametrize("mode,count", [("mean", None), ("mean", 19), ("sum", None), ("max", None)])
@pytest.mark.parametrize("ddof", [0, 1])
def test_kure_loss_reductions_match_the_code_loop(mode, count, ddof):
    ws = _layers(3)
    want = _code_loss(ws, 1.8, ddof, mode, count)
    got = K.kure_loss(ws, 1.8, ddof=ddof, reduction=mode, n_layers=count)
    assert abs(got / want - 1) < 1e-13


@pytest.mark.parametrize("mode,count", [("mean", None), ("mean", 52), ("sum", None), ("max", None)])
@pytest.mark.parametrize("ddof", [0, 1])
def test_kure_grad_reductions_match_complex_step_of_the_code_loss(mode, count, ddof):
    ws = _layers(4)
    got = K.kure_grad(ws, 1.8, ddof=ddof, reduction=mode, n_layers=count)
    want = _complex_step_grad(ws, 1.8, ddof, mode, count)
    for g, w in zip(got, want):
        scale = max(np.abs(w).max(), 1e-300)
        assert np.abs(g - w).max() <= 1e-11 * scale
    if mode == "max":  # exactly one layer carries the gradient
        assert sum(bool(np.any(g != 0)) for g in got) == 1


def test_kure_grad_max_central_differences_away_from_ties():
    ws = _layers(5)
    got = K.kure_grad(ws, 1.8, reduction="max")
    for i, w in enumerate(ws):
        flat = w.ravel()
        for j in range(0, flat.size, 3):
            h = 1e-6 * w.std()
            up = [v.copy() for v in ws]
            dn = [v.copy() for v in ws]
            up[i].flat[j] += h
            dn[i].flat[j] -= h
            fd = (K.kure_loss(up, 1.8, reduction="max") - K.kure_loss(dn, 1.8, reduction="max")) / (2 * h)
            assert abs(fd - got[i].flat[j]) <= 1e-6 * max(1.0, np.abs(got[i]).max())


def test_kure_grad_max_tie_goes_to_the_first_layer():
    w = np.random.default_rng(6).standard_normal(20)
    got = K.kure_grad([w, w.copy(), 0.5 * w], 1.8, reduction="max")  # three equal terms (scale invariance)
    assert np.any(got[0] != 0) and not np.any(got[1]) and not np.any(got[2])
    np.testing.assert_array_equal(got[0], K.kure_grad([w], 1.8, reduction="sum")[0])


def test_kure_mean_with_count_is_sum_over_count():
    ws = _layers(7)
    assert K.kure_loss(ws, reduction="mean", n_layers=len(ws)) == K.kure_loss(ws)
    np.testing.assert_allclose(K.kure_loss(ws, n_layers=51) * 51, K.kure_loss(ws, reduction="sum"), rtol=1e-15)


def test_check_kurtosis_accepts_the_kure_code_only_with_ddof1():
    check_kurtosis(_code_kurt, ddof=1, max_examples=N_EX)
    with pytest.raises(ConformanceError, match="kurtosis"):
        check_kurtosis(_code_kurt, ddof=0, max_examples=N_EX)
    with pytest.raises(ConformanceError, match="kurtosis"):  # and the paper's definition fails ddof=1
        check_kurtosis(lambda w: _code_kurt(w, ddof=0), ddof=1, max_examples=N_EX)


def test_check_kure_grad_accepts_the_kure_code_gradient_only_with_ddof1():
    def code_grad(weights, target):  # "autograd" of the code's loss: complex step
        return _complex_step_grad(weights, target, ddof=1)

    check_kure_grad(code_grad, ddof=1, max_examples=N_EX)
    with pytest.raises(ConformanceError, match="kure_grad"):
        check_kure_grad(code_grad, ddof=0, max_examples=N_EX)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: K.kurtosis([1.0, 2.0, 4.0], ddof=2), ValueError, "ddof"),
        (lambda: K.kurtosis([1.0, 2.0, 4.0], ddof=1.0), TypeError, "ddof"),
        (lambda: K.kurtosis([1.0, 2.0, 4.0], ddof=True), TypeError, "ddof"),
        (lambda: K.kurtosis([1.0, 2.0, 4.0, 8.0], ddof=1, bias=False), ValueError, "ddof"),
        (lambda: K.kurtosis([1.0, 2.0, 4.0], bias=1), TypeError, "bias"),
        (lambda: K.kure_loss([[1.0, 2.0, 4.0]], reduction="avg"), ValueError, "reduction"),
        (lambda: K.kure_loss([[1.0, 2.0, 4.0]], reduction=None), TypeError, "reduction"),
        (lambda: K.kure_grad([[1.0, 2.0, 4.0]], reduction="MAX"), ValueError, "reduction"),
        (lambda: K.kure_loss([[1.0, 2.0, 4.0]], n_layers=0), ValueError, "n_layers"),
        (lambda: K.kure_loss([[1.0, 2.0, 4.0]], n_layers=2.0), TypeError, "n_layers"),
        (lambda: K.kure_grad([[1.0, 2.0, 4.0]], reduction="sum", n_layers=3), ValueError, "n_layers"),
        (lambda: check_kurtosis(_code_kurt, ddof=2), ValueError, "ddof"),
        (lambda: check_kure_grad(K.kure_grad, ddof="1"), TypeError, "ddof"),
    ],
)
def test_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------- the quantizer the KURE experiments ran


def _lapq_quantize(x, alpha, bits, symmetric, uint):
    """LAPQ's UniformQuantization.__quantize__ (the KURE code's PTQ quantizer), line by line in NumPy: step
    (2 if symmetric else 1) * alpha / (2^M - 1) (floored at 1e-8), shift by alpha for uint+symmetric, clamp to
    the integer range, round half to even (torch.round), dequantize."""
    qmax, qmin = (2**bits - 1, 0) if uint else (2 ** (bits - 1) - 1, -(2 ** (bits - 1)))
    delta = max((2 if symmetric else 1) * alpha / (2**bits - 1), 1e-8)
    t = (x + alpha) / delta if (uint and symmetric) else x / delta
    t = np.rint(np.clip(t, qmin, qmax))
    return t * delta - alpha if (uint and symmetric) else t * delta


def _lapq_gemmlowp(x, lo, hi, bits):
    """LAPQ's __quantize_gemmlowp__ (min/max quantizer): step (max - min)/(2^M - 1), no zero-point rounding."""
    delta = max((hi - lo) / (2**bits - 1), 1e-8)
    return np.rint(np.clip((x - lo) / delta, 0, 2**bits - 1)) * delta + lo


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_kure_codes_quantizer_is_the_aciq_runtime_and_endpoint_grids(bits):
    from refquant import QuantSpec, fake_quant
    from refquant import clipping as C

    alpha = 1.37
    x = np.concatenate([np.linspace(-2.0, 2.0, 40001), np.random.default_rng(bits).laplace(size=5000)])
    d = 2 * alpha / (2**bits - 1)
    x = np.concatenate([x, (np.arange(-(2**bits), 2**bits) + 0.5) * d])  # ties of the signed integer grid
    # signed integers: the grid kD, -2^(M-1) <= k < 2^(M-1), D = 2 alpha/(2^M - 1) -- bit for bit, ties included
    np.testing.assert_array_equal(
        _lapq_quantize(x, alpha, bits, True, False), C.quantize_on_grid(x, alpha, bits, "aciq_runtime")
    )
    # unsigned one-sided: the unsigned endpoint grid k alpha/(2^M - 1), bit for bit
    xp = np.abs(x)
    np.testing.assert_array_equal(
        _lapq_quantize(xp, alpha, bits, False, True), C.quantize_on_grid(xp, alpha, bits, "endpoint", signed=False)
    )
    # unsigned symmetric (shifted by alpha): the levels -alpha + iD of the signed endpoint grid. The level values
    # are computed differently (iD - alpha vs (k + 1/2) D: a few ulps apart), and the level chosen differs only
    # where the shift x + alpha rounds across a decision threshold (an integer multiple of D) or on a tie
    got = _lapq_quantize(x, alpha, bits, True, True)
    ref = C.quantize_on_grid(x, alpha, bits, "endpoint")
    np.testing.assert_allclose(got, ref, rtol=0, atol=d * (1 + 1e-9))
    i_got, i_ref = np.rint((got + alpha) / d), np.rint((ref + alpha) / d)
    off = i_got != i_ref
    near = np.abs(x - np.rint(x / d) * d) <= 4 * np.finfo(float).eps * (np.abs(x) + alpha)
    assert np.all(near[off]) and off.sum() <= near.sum()
    np.testing.assert_allclose(got[~off], ref[~off], rtol=0, atol=8 * np.finfo(float).eps * alpha)
    # the min/max path: fake_quant of x - min on the unsigned grid, shifted back
    lo, hi = -0.7, 1.9
    step = (hi - lo) / (2**bits - 1)
    np.testing.assert_array_equal(
        _lapq_gemmlowp(x, lo, hi, bits), fake_quant(x - lo, step, 0, QuantSpec(bits, signed=False)) + lo
    )
