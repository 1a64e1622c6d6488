"""RAOQ's training pieces (refquant.imc.training): straight-through gradients against central finite
differences of the frozen-residual surrogate (written here independently in plain NumPy), BitAug's schedule
against its closed form, the eq. 12 initialiser against zero and random initialisation, and the merge of
A·B against the unmerged chain (bit for bit); bad input named."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from refquant import imc as I
from refquant.kurtosis import kurtosis


def _adc_edges(n, floor):
    return (0.0, float(n)) if floor else (-0.5, n - 0.5)


def _adc_surrogate(a, o, d, n, floor, delta):
    """o + d * (clip(t, edges) + delta): the ADC with ``delta`` = level - clip(t, edges) frozen at the
    evaluation point (identity slope inside the ADC's range, flat outside; kinks only at the range's edges)."""
    lo, hi = _adc_edges(n, floor)
    return o + d * (np.clip((a - o) / d, lo, hi) + delta)


def _adc_delta(a, o, d, n, floor):
    t = (a - o) / d
    lo, hi = _adc_edges(n, floor)
    level = (np.clip(np.floor(t), 0, n - 1) + 0.5) if floor else np.clip(np.rint(t), 0, n - 1)
    return level - np.clip(t, lo, hi)


def _q_surrogate(v, lo, hi, delta):
    """clip(v, lo, hi) + delta, delta = clip(rint(v), lo, hi) - clip(v, lo, hi) frozen."""
    return np.clip(v, lo, hi) + delta


def _q_delta(v, lo, hi):
    return np.clip(np.rint(v), lo, hi) - np.clip(v, lo, hi)


def _central_differences(f, x, w, h=1e-7):
    """Central differences of the scalar ``f(x, w)`` with respect to every element of ``x`` and of ``w``."""
    fdx = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        fdx[idx] = (f(x + e, w) - f(x - e, w)) / (2 * h)
    fdw = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        fdw[idx] = (f(x, w + e) - f(x, w - e)) / (2 * h)
    return fdx, fdw


@pytest.mark.parametrize("transfer", ["round", "floor"])
def test_adc_ste_grad_against_central_differences(transfer):
    rng = np.random.default_rng(0)
    o, d, n = -3.3, 0.7, 16
    a = rng.uniform(o - 4, o + n * d + 4, 200)  # in range and clipped on both sides
    g = rng.standard_normal(a.shape)
    ga, go, gd = I.adc_ste_grad(a, g, offset=o, step=d, n_codes=n, transfer=transfer)
    floor = transfer == "floor"
    delta = _adc_delta(a, o, d, n, floor)
    np.testing.assert_array_equal(
        I.adc_fake_quant(a, offset=o, step=d, n_codes=n, transfer=transfer), _adc_surrogate(a, o, d, n, floor, delta)
    )
    h = 1e-6

    def loss(aa, oo, dd):
        return float(g @ _adc_surrogate(aa, oo, dd, n, floor, delta))

    fd_a = np.array([(loss(a + h * e, o, d) - loss(a - h * e, o, d)) / (2 * h) for e in np.eye(a.size)[:40]])
    np.testing.assert_allclose(ga[:40], fd_a, atol=1e-6)
    np.testing.assert_allclose(go, (loss(a, o + h, d) - loss(a, o - h, d)) / (2 * h), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gd, (loss(a, o, d + h) - loss(a, o, d - h)) / (2 * h), rtol=1e-6, atol=1e-6)
    assert 0 < np.count_nonzero(ga) < a.size  # both regions exercised


def _chain_surrogate(x, w, spec, sx, sw, dx, dw, dadc):
    """The multi-bit chain with every rounding residual frozen (plain NumPy, tiles of spec.rows)."""
    lo, hi = spec.x_range
    xq = _q_surrogate(x / sx, lo, hi, dx)
    wq = _q_surrogate(w / sw, -spec.w_max, spec.w_max, dw)
    shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
    o, d, n = I.adc_params(spec)
    y = 0.0
    for t, t0 in enumerate(range(0, x.shape[1], spec.rows)):
        t1 = min(t0 + spec.rows, x.shape[1])
        y = y + _adc_surrogate((xq[:, t0:t1] - shift) @ wq[t0:t1], o, d, n, spec.adc.transfer == "floor", dadc[t])
    return sx * sw * (y + shift * wq.sum(axis=0))


def _chain_deltas(x, w, spec, sx, sw):
    lo, hi = spec.x_range
    dx, dw = _q_delta(x / sx, lo, hi), _q_delta(w / sw, -spec.w_max, spec.w_max)
    xq, wq = np.clip(np.rint(x / sx), lo, hi), np.clip(np.rint(w / sw), -spec.w_max, spec.w_max)
    shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
    o, d, n = I.adc_params(spec)
    dadc = [
        _adc_delta(
            (xq[:, t0 : t0 + spec.rows] - shift) @ wq[t0 : t0 + spec.rows], o, d, n, spec.adc.transfer == "floor"
        )
        for t0 in range(0, x.shape[1], spec.rows)
    ]
    return dx, dw, dadc


@pytest.mark.parametrize("shift, transfer", [(False, "round"), (True, "floor")])
def test_crossbar_ste_grad_against_central_differences(shift, transfer):
    rng = np.random.default_rng(1)
    spec = I.CrossbarSpec(
        rows=6, input_bits=3, weight_bits=4, adc=I.ADCSpec(4, transfer=transfer, k=3.0), a_shift=shift
    )
    sx, sw = 0.25, 0.1
    x = rng.uniform(-0.3, 2.2, (5, 14))  # some inputs clip at both ends of [0, 7]
    w = rng.uniform(-0.8, 0.8, (14, 3))  # some weights clip at +-7
    g = rng.standard_normal((5, 3))
    y = I.crossbar_forward(x, w, spec, x_scale=sx, w_scale=sw)
    gx, gw = I.crossbar_ste_grad(x, w, g, spec, x_scale=sx, w_scale=sw)
    dx, dw, dadc = _chain_deltas(x, w, spec, sx, sw)

    def f(xx, ww):
        return float(np.sum(g * _chain_surrogate(xx, ww, spec, sx, sw, dx, dw, dadc)))

    np.testing.assert_allclose(_chain_surrogate(x, w, spec, sx, sw, dx, dw, dadc), y, rtol=0, atol=1e-9)
    fdx, fdw = _central_differences(f, x, w)
    np.testing.assert_allclose(gx, fdx, atol=1e-5)
    np.testing.assert_allclose(gw, fdw, atol=1e-5)
    assert np.count_nonzero(gx == 0) > 0 and np.count_nonzero(gx) > 0


def test_bitaug_schedule_and_sampling():
    n, h = 30, 10
    ws = [I.bitaug_weight(e, n, hold_epochs=h) for e in range(n)]
    for e in range(n - h):
        assert ws[e] == pytest.approx(0.5 * (1 + math.cos(math.pi * e / (n - h))), abs=1e-15)
    assert ws[0] == 1.0 and all(v == 0.0 for v in ws[n - h :]) and all(a >= b for a, b in zip(ws, ws[1:]))
    assert [I.bitaug_weight(e, 5) for e in range(5)] == [0.0] * 5  # n_epochs <= hold_epochs
    draws = [I.bitaug_sample(np.random.default_rng(s)) for s in range(300)]
    assert set(draws) == {7, 9, 10}
    assert draws == [I.bitaug_sample(np.random.default_rng(s)) for s in range(300)]  # explicit rng: reproducible
    gen = np.random.default_rng(5)
    counts = np.bincount([I.bitaug_sample(gen, (3, 4)) for _ in range(4000)])[3:]
    assert abs(counts[0] / 4000 - 0.5) < 0.04


def _lora_case(seed=2):
    rng = np.random.default_rng(seed)
    spec = I.CrossbarSpec(rows=32, input_bits=4, weight_bits=4, adc=I.ADCSpec(5, transfer="floor", k=2.0))
    x = np.maximum(rng.standard_normal((64, 64)), 0) * 4.0  # ReLU activations: a constant component exists
    w = rng.standard_normal((64, 8)) * 0.3
    return spec, x, w, 1.0, 0.15


def test_adc_lora_merge_equals_unmerged_chain_bit_for_bit():
    spec, x, w, sx, sw = _lora_case()
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((64, 2)) * 0.05, rng.standard_normal((2, 8)) * 0.05
    y = I.adc_lora_forward(x, w, a, b, spec, x_scale=sx, w_scale=sw)
    wm = I.adc_lora_merge(w, a, b)
    np.testing.assert_array_equal(wm, w + a @ b)
    xc = np.clip(np.rint(x / sx), 0, 15).astype(np.int64)
    wc = np.clip(np.rint(wm / sw), -7, 7).astype(np.int64)
    assert np.array_equal((sx * sw) * I.imc_matmul(xc, wc, spec), y)  # the programmed, merged weights


def test_adc_lora_grad_against_central_differences():
    spec, x, w, sx, sw = _lora_case()
    x, w = x[:6, :40], w[:40, :3]
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((40, 2)) * 0.05, rng.standard_normal((2, 3)) * 0.05
    ga, gb = I.adc_lora_grad(x, w, a, b, spec, x_scale=sx, w_scale=sw)
    # surrogate: residuals of Q_x, Q_w(W + AB) and of the ADC frozen at (a, b)
    wm = w + a @ b
    dx, dw, dadc = _chain_deltas(x, wm, spec, sx, sw)
    ideal = sx * sw * (np.clip(np.rint(x / sx), 0, 15) @ np.clip(np.rint(w / sw), -7, 7))

    def obj(aa, bb):
        y = _chain_surrogate(x, w + aa @ bb, spec, sx, sw, dx, dw, dadc)
        return float(np.sum((ideal - y) ** 2))

    assert obj(a, b) == pytest.approx(I.adc_lora_objective(x, w, a, b, spec, x_scale=sx, w_scale=sw), abs=1e-9)
    h = 1e-7
    for arr, grad in ((a, ga), (b, gb)):
        for idx in list(np.ndindex(arr.shape))[:12]:
            e = np.zeros_like(arr)
            e[idx] = h
            plus = obj(a + e, b) if arr is a else obj(a, b + e)
            minus = obj(a - e, b) if arr is a else obj(a, b - e)
            assert grad[idx] == pytest.approx((plus - minus) / (2 * h), abs=1e-4, rel=1e-5)


def test_adc_lora_init_beats_zero_and_random_init():
    """Floor ADC with step thresholds (each conversion biased by about +1/2 step): the eq. 12 initialiser
    finds a low-rank correction that lowers the objective below AB = 0 and below a random init."""
    spec, x, w, sx, sw = _lora_case()
    kw = dict(x_scale=sx, w_scale=sw)
    a, b, hist = I.adc_lora_init(x, w, 2, spec, rng=np.random.default_rng(0), steps=60, **kw)
    zero = I.adc_lora_objective(x, w, np.zeros((64, 2)), np.zeros((2, 8)), spec, **kw)
    rng = np.random.default_rng(1)
    rand = I.adc_lora_objective(x, w, rng.standard_normal((64, 2)) * 0.1, rng.standard_normal((2, 8)) * 0.1, spec, **kw)
    got = I.adc_lora_objective(x, w, a, b, spec, **kw)
    assert got == min(hist) and hist[0] == pytest.approx(zero, rel=0.05)
    assert got < 0.97 * zero and got < rand  # measured: 5.7 % below AB = 0


def test_w_reshape_penalty_and_gradient():
    rng = np.random.default_rng(4)
    ws = [rng.standard_normal((8, 5)), rng.laplace(size=30)]
    lam, target = 0.01, 1.8
    assert I.w_reshape_penalty(ws, target=target, lam=lam) == pytest.approx(
        lam * sum((kurtosis(v) - target) ** 2 for v in ws), rel=1e-12
    )
    gs = I.w_reshape_penalty_grad(ws, target=target, lam=lam)
    h = 1e-6
    for li, v in enumerate(ws):
        for idx in list(np.ndindex(v.shape))[:10]:
            e = np.zeros_like(v)
            e[idx] = h
            plus = [u + e if i == li else u for i, u in enumerate(ws)]
            minus = [u - e if i == li else u for i, u in enumerate(ws)]
            fd = (
                I.w_reshape_penalty(plus, target=target, lam=lam) - I.w_reshape_penalty(minus, target=target, lam=lam)
            ) / (2 * h)
            assert gs[li][idx] == pytest.approx(fd, rel=1e-5, abs=1e-9)


SPEC = I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: I.adc_fake_quant([1.0], offset=0.0, step=0.0, n_codes=4), ValueError, "step"),
        (lambda: I.adc_fake_quant([1.0], offset=0.0, step=1.0, n_codes=1), ValueError, "n_codes"),
        (lambda: I.adc_fake_quant([1.0], offset=np.nan, step=1.0, n_codes=4), ValueError, "offset"),
        (lambda: I.adc_fake_quant([1.0], offset=0.0, step=1.0, n_codes=4, transfer="up"), ValueError, "transfer"),
        (lambda: I.adc_ste_grad([1.0, 2.0], [1.0], offset=0.0, step=1.0, n_codes=4), ValueError, "grad_out must have"),
        (
            lambda: I.crossbar_forward(np.ones((2, 3)), np.ones((4, 1)), SPEC, x_scale=1.0, w_scale=1.0),
            ValueError,
            "matching K",
        ),
        (
            lambda: I.crossbar_forward(np.ones((2, 4)), np.ones((4, 1)), SPEC, x_scale=-1.0, w_scale=1.0),
            ValueError,
            "x_scale",
        ),
        (
            lambda: I.crossbar_forward(np.ones((2, 4)), np.ones((4, 1)), "spec", x_scale=1.0, w_scale=1.0),
            TypeError,
            "spec",
        ),
        (
            lambda: I.crossbar_ste_grad(
                np.ones((2, 4)), np.ones((4, 1)), np.ones((2, 2)), SPEC, x_scale=1.0, w_scale=1.0
            ),
            ValueError,
            "grad_y must have shape",
        ),
        (
            lambda: I.crossbar_ste_grad(
                np.ones((2, 4)),
                np.ones((4, 1)),
                np.ones((2, 2)),
                I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs"),
                x_scale=1.0,
                w_scale=1.0,
            ),
            ValueError,
            "grad_y",
        ),
        (lambda: I.bitaug_weight(5, 5), ValueError, "epoch"),
        (lambda: I.bitaug_weight(0, 5, hold_epochs=-1), ValueError, "hold_epochs"),
        (lambda: I.bitaug_weight(0.0, 5), TypeError, "epoch"),
        (lambda: I.bitaug_sample(np.random.default_rng(0), ()), ValueError, "candidates"),
        (lambda: I.bitaug_sample(np.random.default_rng(0), (7, 30)), ValueError, r"candidates\[1\]"),
        (lambda: I.bitaug_sample("rng"), TypeError, "rng"),
        (lambda: I.adc_lora_merge(np.ones((4, 2)), np.ones((4, 1)), np.ones((2, 2))), ValueError, "need w"),
        (
            lambda: I.adc_lora_init(np.ones((2, 4)), np.ones((4, 2)), 3, SPEC, x_scale=1.0, w_scale=1.0, rng=0),
            ValueError,
            "rank",
        ),
        (
            lambda: I.adc_lora_init(np.ones((2, 4)), np.ones((4, 2)), 1, SPEC, x_scale=1.0, w_scale=1.0, rng=0, lr=0.0),
            ValueError,
            "lr",
        ),
        (lambda: I.w_reshape_penalty([np.arange(4.0)], lam=-1.0), ValueError, "lam"),
        (lambda: I.w_reshape_penalty_grad([np.arange(4.0)], lam="x"), TypeError, "lam"),
    ],
)
def test_training_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------- BPBS straight-through gradient
def _digits(v, bits, n):
    """The ``n`` base-2^bits digits of non-negative integers ``v`` (least significant first)."""
    return [(v >> (bits * c)) & ((1 << bits) - 1) for c in range(n)]


def _bpbs_decomposition(spec):
    """Plane and cell decompositions written from the definitions: (planes(xa), plane signs, cells(w) as a list
    over (polarity, slice) of (polarity sign * slice sign * 2^(c beta), cells), digital offset)."""
    nb, beta, n_sl = spec.n_planes, spec.slice_bits, spec.n_slices

    def planes(xa):
        if spec.input_encoding == "sign_magnitude":
            return [np.sign(xa) * ((np.abs(xa) >> b) & 1) for b in range(nb)], np.ones(nb)
        s = np.ones(nb)
        if spec.input_signed or spec.a_shift:
            s[-1] = -1.0
        return [((xa & ((1 << nb) - 1)) >> b) & 1 for b in range(nb)], s

    def cells(wq):
        if spec.weight_encoding == "twos_complement":
            u = wq & ((1 << spec.weight_bits) - 1)
            return [((-1.0 if c == n_sl - 1 else 1.0) * 2.0**c, (u >> c) & 1) for c in range(n_sl)], 0
        if spec.weight_encoding == "offset":
            off = spec.offset_constant
            return [(2.0 ** (beta * c), d) for c, d in enumerate(_digits(wq + off, beta, n_sl))], off
        pos, neg = np.maximum(wq, 0), np.maximum(-wq, 0)
        return [(2.0 ** (beta * c), d) for c, d in enumerate(_digits(pos, beta, n_sl))] + [
            (-(2.0 ** (beta * c)), d) for c, d in enumerate(_digits(neg, beta, n_sl))
        ], 0

    return planes, cells


def _tile_bounds(k, rows, tiling):
    """Tiles by the definition: full tiles then the remainder, or ceil(k / rows) tiles of lengths differing by
    at most one, the longer first."""
    if tiling == "full_first":
        return [(t0, min(t0 + rows, k)) for t0 in range(0, k, rows)]
    n = -(-k // rows)
    lens = [k // n + (1 if t < k % n else 0) for t in range(n)]
    return [(sum(lens[:t]), sum(lens[: t + 1])) for t in range(n)]


def _bpbs_surrogate_parts(x, w, spec, sx, sw):
    """Everything the frozen-residual surrogate holds fixed at the evaluation point."""
    lo, hi = spec.x_range
    shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
    xq = np.clip(np.rint(x / sx), lo, hi).astype(np.int64)
    wq = np.clip(np.rint(w / sw), -spec.w_max, spec.w_max).astype(np.int64)
    planes, cells = _bpbs_decomposition(spec)
    p0, s_b = planes(xq - shift)
    c0, off = cells(wq)
    adcs = [I.adc_params(spec, slice_index=c % spec.n_slices) for c in range(len(c0))]
    floor = spec.adc.transfer == "floor"
    deltas = {}
    for t0, t1 in _tile_bounds(x.shape[1], spec.rows, spec.tiling):
        for b in range(spec.n_planes):
            for u, (_, cu) in enumerate(c0):
                o, d, n = adcs[u]
                deltas[t0, b, u] = _adc_delta(p0[b][:, t0:t1] @ cu[t0:t1], o, d, n, floor)
    dx, dw = _q_delta(x / sx, lo, hi), _q_delta(w / sw, -spec.w_max, spec.w_max)
    return dict(
        xq=xq, wq=wq, p0=p0, s_b=s_b, c0=c0, off=off, shift=shift, adcs=adcs, deltas=deltas, floor=floor, dx=dx, dw=dw
    )


def _bpbs_surrogate(x, w, spec, sx, sw, fz):
    """The BPBS chain with every residual frozen; planes move by nu_b * dx, cells by lambda * dw (minimum-norm
    inverses of the recombinations x = sum s_b 2^b x_b and w + offset = sum sign 2^(c beta) cell)."""
    lo, hi = spec.x_range
    xt = _q_surrogate(x / sx, lo, hi, fz["dx"])  # the code at the point, slope 1 inside the range
    wt = _q_surrogate(w / sw, -spec.w_max, spec.w_max, fz["dw"])
    nb = spec.n_planes
    nu = fz["s_b"] * 2.0 ** np.arange(nb) / np.sum(4.0 ** np.arange(nb))
    wsig = np.array([g for g, _ in fz["c0"]])
    lam = wsig / np.sum(wsig**2)
    dxa, dwa = xt - fz["xq"], wt - fz["wq"]
    y = 0.0
    for t0, t1 in _tile_bounds(x.shape[1], spec.rows, spec.tiling):
        for b in range(nb):
            xb = fz["p0"][b][:, t0:t1] + nu[b] * dxa[:, t0:t1]
            for u, (g, cu) in enumerate(fz["c0"]):
                cw = cu[t0:t1] + lam[u] * dwa[t0:t1]
                o, d, n = fz["adcs"][u]
                a = xb @ cw
                y = y + fz["s_b"][b] * 2.0**b * g * _adc_surrogate(a, o, d, n, fz["floor"], fz["deltas"][t0, b, u])
    y = y - fz["off"] * (xt - fz["shift"]).sum(axis=1)[:, None] + fz["shift"] * wt.sum(axis=0)[None, :]
    return sx * sw * y


_BPBS_STE_SPECS = [
    dict(input_bits=3, weight_bits=4, adc=I.ADCSpec(3, k=3.0)),  # unsigned inputs, two's-complement cells
    dict(
        input_bits=3,
        weight_bits=5,
        a_shift=True,
        weight_encoding="offset",
        slice_bits=2,
        adc=I.ADCSpec(3, transfer="floor", k=2.0, floor_threshold="half_unit"),
    ),  # A-shift, 2-bit offset cells, floor
    # (half-unit thresholds: with the default ones a plane sum 0 sits on the range's lower edge, a kink of the
    # surrogate where central differences give 1/2 and the rule the inside value 1)
    dict(
        input_bits=4,
        weight_bits=4,
        input_signed=True,
        input_encoding="sign_magnitude",
        weight_encoding="differential",
        adc=I.ADCSpec(2, k=4.0),
    ),  # bipolar ADC, two polarities
    dict(input_bits=3, weight_bits=4, adc=I.ADCSpec(2, k=2.0), tiling="even"),  # tiles 4 + 3 + 3, heavy clipping
]


@pytest.mark.parametrize("kw", _BPBS_STE_SPECS)
def test_crossbar_ste_grad_bpbs_against_central_differences(kw):
    rng = np.random.default_rng(3)
    spec = I.CrossbarSpec(rows=4, mode="bpbs", **kw)
    sx, sw = 0.25, 0.1
    lo, hi = spec.x_range
    x = rng.uniform((lo - 0.6) * sx, (hi + 0.6) * sx, (4, 10))  # some inputs clip at both ends
    w = rng.uniform(-(spec.w_max + 0.6) * sw, (spec.w_max + 0.6) * sw, (10, 3))  # some weights clip
    g = rng.standard_normal((4, 3))
    y = I.crossbar_forward(x, w, spec, x_scale=sx, w_scale=sw)
    fz = _bpbs_surrogate_parts(x, w, spec, sx, sw)
    np.testing.assert_allclose(_bpbs_surrogate(x, w, spec, sx, sw, fz), y, rtol=0, atol=1e-9)
    gx, gw = I.crossbar_ste_grad(x, w, g, spec, x_scale=sx, w_scale=sw)

    def f(xx, ww):
        return float(np.sum(g * _bpbs_surrogate(xx, ww, spec, sx, sw, fz)))

    fdx, fdw = _central_differences(f, x, w)
    np.testing.assert_allclose(gx, fdx, atol=1e-5)
    np.testing.assert_allclose(gw, fdw, atol=1e-5)
    _, det = I.imc_matmul(fz["xq"], fz["wq"], spec, return_details=True)
    assert 0 < np.count_nonzero(np.abs(det.error) > np.asarray(det.step).max() / 2 + 1e-9)  # some conversions clip


def test_crossbar_ste_grad_bpbs_lossless_is_the_plain_gradient():
    """With a lossless ADC every mask is 1: the documented rule gives G w^T / s_x and x^T G / s_w (times the
    operand masks), for every encoding."""
    rng = np.random.default_rng(4)
    for kw in _BPBS_STE_SPECS:
        kw = dict(kw, adc=I.ADCSpec(12, range_policy="granular"))
        spec = I.CrossbarSpec(rows=4, mode="bpbs", **kw)
        sx, sw = 0.5, 0.2
        lo, hi = spec.x_range
        x = rng.uniform(lo * sx, hi * sx, (3, 9))
        w = rng.uniform(-spec.w_max * sw, spec.w_max * sw, (9, 2))
        g = rng.standard_normal((3, 2))
        gx, gw = I.crossbar_ste_grad(x, w, g, spec, x_scale=sx, w_scale=sw)
        xa = np.clip(np.rint(x / sx), lo, hi) - (2 ** (spec.input_bits - 1) if spec.a_shift else 0)
        wq = np.clip(np.rint(w / sw), -spec.w_max, spec.w_max)
        np.testing.assert_allclose(gx, sx * sw * g @ wq.T / sx, rtol=1e-12, atol=1e-12)
        shift_term = (2 ** (spec.input_bits - 1) if spec.a_shift else 0) * g.sum(axis=0)[None, :]
        np.testing.assert_allclose(gw, sx * sw * (xa.T @ g + shift_term) / sw, rtol=1e-12, atol=1e-12)


def test_crossbar_ste_grad_bpbs_masks_each_plane_pair():
    """One clipped conversion removes exactly its term: one row of inputs x = 1 (plane 0 all ones, plane 1 all
    zeros), two's-complement 1-bit cells, an ADC whose range holds plane sums 0 .. 3 only. Slice 0 of plane 0
    sums to 8 and clips; every other conversion is in range (plane 1's sums are 0). The documented rule by hand:
    grad_x_k = sum over in-range (b, c) of nu_b * coef_bc * cell_ck, nu = (1, 2) / 5, coef_bc = s_c 2^(b + c)."""
    spec = I.CrossbarSpec(
        rows=8, input_bits=2, weight_bits=3, mode="bpbs", adc=I.ADCSpec(2, range_policy="granular")
    )  # codes 0..3, step 1
    x = np.ones((1, 8))
    w = np.array([[1.0]] * 5 + [[-1.0]] * 3)  # cells (bit 0, 1, 2) = (1, 0, 0) five times, (1, 1, 1) three times
    gx, _ = I.crossbar_ste_grad(x, w, np.array([[1.0]]), spec, x_scale=1.0, w_scale=1.0)
    u = w[:, 0].astype(np.int64) & 7
    bit = [(u >> c) & 1 for c in range(3)]
    plane0 = (1 / 5) * (2.0 * bit[1] - 4.0 * bit[2])  # slice 0 (coef 1) clipped
    plane1 = (2 / 5) * (2.0 * bit[0] + 4.0 * bit[1] - 8.0 * bit[2])  # all in range
    np.testing.assert_allclose(gx[0], plane0 + plane1, rtol=0, atol=1e-15)
    wide = dataclasses.replace(spec, adc=I.ADCSpec(4, range_policy="granular"))  # nothing clips: plain gradient
    np.testing.assert_allclose(
        I.crossbar_ste_grad(x, w, np.array([[1.0]]), wide, x_scale=1.0, w_scale=1.0)[0][0], w[:, 0], atol=1e-15
    )


def test_every_training_piece_is_exported_by_refquant_imc():
    from refquant.imc import training

    assert set(training.__all__) <= set(I.__all__)
    assert all(getattr(I, name) is getattr(training, name) for name in training.__all__)
