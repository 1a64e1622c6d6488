"""PTQ building blocks: scale_from_clip, per-channel bit widths, per-channel clips, the activation observer.

Oracles: refquant.clipping.quantize_on_grid / grid_levels (the grid definitions, written independently of
refquant.ptq), refquant.calibrate_minmax, plain NumPy (np.floor bin assignment, concatenated-data moments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import refquant as rq
from refquant import clipping as C
from refquant import ptq as P


def bits_equal(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


GRID_CASES = [
    (g, sd, m)
    for g in P._CLIP_GRIDS
    for sd in (True, False)
    for m in (1, 2, 3, 4, 8)
    if not (g == "symmetric" and m < 2)
]


def _recipe(x, alpha, s, z, spec, grid, signed):
    """The module table's last column, written out with refquant.uniform."""
    fq = rq.fake_quant
    if grid == "paper":
        return fq(np.clip(x, -alpha if signed else 0.0, alpha), s, z, spec)
    if grid == "midrise" or (grid == "endpoint" and signed):
        return fq(x, s, z, spec) + s / 2
    return fq(x, s, z, spec)


@pytest.mark.parametrize("grid,signed,bits", GRID_CASES)
def test_scale_from_clip_realises_every_grid(grid, signed, bits):
    alpha = 1.3
    spec = P.grid_spec(bits, grid, signed=signed)
    s, z = P.scale_from_clip(alpha, spec, grid=grid, signed=signed)
    levels, thr = C.grid_levels(alpha, bits, grid, signed=signed)
    lo = -1.6 * alpha if signed else 0.0
    # dense points, plus every level and threshold and their float neighbours
    x = np.concatenate(
        [np.linspace(lo, 1.6 * alpha, 40001), levels, thr, np.nextafter(thr, -np.inf), np.nextafter(thr, np.inf)]
    )
    if not signed:
        x = x[x >= 0]
    y = _recipe(x, alpha, s, z, spec, grid, signed)
    assert bits_equal(y, C.quantize_on_grid(x, alpha, bits, grid, signed=signed))
    # the image of refquant.uniform on dense points is exactly the grid's level set
    np.testing.assert_allclose(np.unique(y), levels, rtol=0, atol=1e-12 * alpha)
    assert np.unique(y).size == levels.size


def test_scale_from_clip_per_channel_equals_scalar_calls():
    alphas = np.array([0.1, 1.0, 3.7, 1e-3])
    for grid in P._CLIP_GRIDS:
        spec = P.grid_spec(4, grid, axis=0)
        s, z = P.scale_from_clip(alphas, spec, grid=grid, signed=True)
        for i, a in enumerate(alphas):
            si, zi = P.scale_from_clip(a, spec.replace(axis=None), grid=grid, signed=True)
            assert s[i] == si and z[i] == zi == 0


@pytest.mark.parametrize("spec", [rq.QuantSpec(8), rq.QuantSpec(4, signed=False), rq.QuantSpec(3, narrow_range=True)])
@pytest.mark.parametrize("lo,hi", [(-2.0, 6.0), (0.0, 1.7), (-5.0, 0.01), (-1e-3, 1e3)])
def test_asymmetric_matches_calibrate_minmax(spec, lo, hi):
    s, z = P.scale_from_clip(hi, spec, grid="asymmetric", lower=lo)
    s_ref, z_ref = rq.calibrate_minmax(np.array([lo, 0.3 * hi, hi]), spec, symmetric=False)
    assert s == s_ref and z == z_ref


def test_asymmetric_one_sided_default_lower_is_zero():
    s, z = P.scale_from_clip(2.55, rq.QuantSpec(8), grid="asymmetric")
    assert z == -128 and s == 2.55 / 255
    # post-ReLU data on a signed spec: every level in [0, 2.55] is used, none below 0
    y = rq.fake_quant(np.linspace(0, 2.55, 5001), s, z, rq.QuantSpec(8))
    assert np.unique(y).size == 256 and y.min() == 0.0


def test_grid_spec_is_the_carrier_and_wrong_carriers_are_named():
    assert P.grid_spec(3, "paper").bits == 4 and P.grid_spec(3, "midrise").rounding is rq.Rounding.FLOOR
    with pytest.raises(ValueError, match="not the carrier of grid='symmetric'.*grid_spec"):
        P.scale_from_clip(1.0, rq.QuantSpec(4), grid="symmetric")
    with pytest.raises(ValueError, match="rounding='floor'"):
        P.scale_from_clip(1.0, rq.QuantSpec(4), grid="midrise")


@pytest.mark.parametrize("grid", ["midrise", "paper", "endpoint", "symmetric", "aciq_runtime"])
@pytest.mark.parametrize("signed", [True, False])
def test_fake_quant_bits_equals_per_channel_loop(grid, signed):
    rng = np.random.default_rng(5)
    c = 9
    x = rng.standard_normal((5, c, 7)) * np.linspace(0.1, 3.0, c)[None, :, None]
    if not signed:
        x = np.abs(x)
    lo = 2 if grid == "symmetric" else 1
    bits = np.array([0, lo, lo + 1, 0, 4, 8, lo, 3, 15])
    alpha = np.abs(x).max(axis=(0, 2)) * rng.uniform(0.3, 1.2, c)
    got = P.fake_quant_bits(x, alpha, bits, axis=1, grid=grid, signed=signed)
    want = np.zeros_like(x)
    for i in range(c):
        if bits[i]:
            want[:, i, :] = C.quantize_on_grid(x[:, i, :], alpha[i], int(bits[i]), grid, signed=signed)
    assert bits_equal(got, want)
    assert np.all(got[:, bits == 0, :] == 0)


def test_fake_quant_bits_scalar_bits_and_negative_axis():
    x = np.random.default_rng(1).standard_normal((4, 6))
    got = P.fake_quant_bits(x, 2.0, 3, axis=-1, grid="midrise")
    assert bits_equal(got, C.quantize_on_grid(x, 2.0, 3, "midrise"))


def test_two_bit_mean_allocation_is_possible_on_a_grid_with_one_bit():
    # a 2-bit mean forces some channels to 1 bit; the midrise grid has a 1-bit form (+-alpha/2)
    from refquant.allocation import allocate_bits

    rng = np.random.default_rng(0)
    sig = np.exp(rng.uniform(np.log(0.05), np.log(5.0), 16))
    w = rng.standard_normal((16, 400)) * sig[:, None]
    alpha = P.channel_clips(w, 2, method="minmax")
    bits = allocate_bits(sig, 2 * 16, min_bits=1, max_bits=8)
    assert bits.sum() == 32 and bits.min() == 1 and bits.max() > 2
    alloc = P.fake_quant_bits(w, alpha, bits, grid="midrise")
    equal = P.fake_quant_bits(w, alpha, 2, grid="midrise")
    assert np.sum((alloc - w) ** 2) < 0.5 * np.sum((equal - w) ** 2)
    with pytest.raises(ValueError, match="width 1, out of range for grid='symmetric'.*midrise"):
        P.fake_quant_bits(w, alpha, bits, grid="symmetric")


def test_channel_clips_against_per_channel_loops():
    rng = np.random.default_rng(2)
    w = rng.laplace(size=(6, 3, 50)) * np.arange(1, 7)[:, None, None]
    v = w.reshape(6, -1)
    np.testing.assert_array_equal(P.channel_clips(w, 4, method="minmax"), np.abs(v).max(axis=1))
    bits = np.array([2, 3, 4, 4, 8, 2])
    got = P.channel_clips(w, bits, method="aciq_laplace")
    for i in range(6):
        b = np.mean(np.abs(v[i] - v[i].mean()))
        assert got[i] == pytest.approx(C.optimal_clip(int(bits[i]), "laplace", b), rel=1e-14)
    got = P.channel_clips(w, bits, method="exact_gaussian", grid="midrise")
    for i in range(6):
        assert got[i] == pytest.approx(
            C.optimal_clip(int(bits[i]), "gaussian", float(np.std(v[i])), model="exact", grid="midrise"), rel=1e-12
        )
    got = P.channel_clips(w, bits, method="empirical", grid="symmetric")
    for i in range(6):
        assert got[i] == float(C.optimal_clip_empirical(v[i], int(bits[i]), grid="symmetric"))
    dead = np.zeros((2, 5))
    dead[1] = [1, -2, 3, 0, 0]
    assert P.channel_clips(dead, 4, method="empirical")[0] == 1.0


def test_fit_scale_one_sided_recovers_the_scale_of_relu_data():
    rng = np.random.default_rng(3)
    y = rng.laplace(scale=0.7, size=400_000)
    assert float(P.fit_scale(np.maximum(y, 0), "laplace", signed=False)) == pytest.approx(0.7, rel=0.01)
    g = rng.standard_normal(400_000) * 1.9
    assert float(P.fit_scale(np.maximum(g, 0), "gaussian", signed=False)) == pytest.approx(1.9, rel=0.01)
    assert float(P.fit_scale(g, "gaussian")) == pytest.approx(np.std(g), rel=1e-12)


# ---------------------------------------------------------------------------------------------- observer
def _exact_bins(x, w, off, bins):
    """floor(x / w) in exact rational arithmetic (no float division)."""
    from fractions import Fraction

    idx = [math.floor(Fraction(float(v)) / Fraction(w)) + off for v in x]
    return np.bincount(np.array(idx, dtype=np.int64), minlength=bins)


def _batches(signed, seed=0):
    rng = np.random.default_rng(seed)
    parts = [
        rng.laplace(size=300) * 0.01,
        rng.laplace(size=(7, 11)),
        rng.laplace(size=50) * 40.0,
        np.zeros(3),
        rng.laplace(size=1000) * 1e-3,
        rng.laplace(size=200) * 300.0,
    ]
    return [np.abs(p) if not signed else p for p in parts]


@pytest.mark.parametrize("signed", [True, False])
def test_observer_batches_equal_concatenated_data(signed):
    parts = _batches(signed)
    full = np.concatenate([p.ravel() for p in parts])
    a = P.ActivationObserver(signed=signed, bins=256)
    for p in parts:
        a.update(p)
    b = P.ActivationObserver(signed=signed, bins=256)
    b.update(full)
    # exact: min, max, count, histogram width and counts
    assert (a.min, a.max, a.count, a.width) == (full.min(), full.max(), full.size, b.width)
    np.testing.assert_array_equal(a.hist, b.hist)
    # the histogram is the exact (rational) floor(x / w) binning of all data with the final width
    off = 128 if signed else 0
    ref = _exact_bins(full, a.width, off, 256)
    np.testing.assert_array_equal(a.hist, ref)
    assert ref.size == 256 and a.hist.sum() == full.size
    # moments to float64 rounding (stated tolerance: relative 1e-12)
    assert a.mean == pytest.approx(full.mean(), rel=1e-12, abs=1e-15)
    assert a.var == pytest.approx(full.var(), rel=1e-12)
    assert a.mean_square == pytest.approx(np.mean(full**2), rel=1e-12)
    spec = rq.QuantSpec(8, signed=signed)
    assert a.params(spec, "minmax") == rq.calibrate_minmax(full, spec, symmetric=signed)


def test_observer_all_zero_then_data_and_huge_growth():
    a = P.ActivationObserver(signed=True, bins=64)
    a.update(np.zeros(5))
    assert a.clip(4, "mse") == 1.0 and a.params(rq.QuantSpec(4, narrow_range=True), "aciq_laplace")[0] == 1.0 / 7
    a.update([1e-300, -1e-300])
    a.update([1e149, -3.0])
    full = np.array([0, 0, 0, 0, 0, 1e-300, -1e-300, 1e149, -3.0])
    np.testing.assert_array_equal(a.hist, _exact_bins(full, a.width, 32, 64))
    b = P.ActivationObserver(signed=True, bins=64)
    b.update(full)
    np.testing.assert_array_equal(a.hist, b.hist)


def _mse_oracle(obs, bits, grid, signed):
    """Brute force with quantize_on_grid over the bin edges (independent of refquant.ptq's grid code)."""
    centres = (np.arange(obs.bins) - (obs.bins // 2 if obs.signed else 0) + 0.5) * obs.width
    best = (np.inf, None)
    top = int(np.ceil(max(abs(obs.min), abs(obs.max)) / obs.width))
    for k in range(1, top + 1):
        a = k * obs.width
        e = float(np.sum(obs.hist * (C.quantize_on_grid(centres, a, bits, grid, signed=signed) - centres) ** 2))
        if e < best[0]:
            best = (e, a)
    return best[1]


@pytest.mark.parametrize(
    "signed,grid", [(True, "symmetric"), (False, "endpoint"), (False, "symmetric"), (True, "midrise")]
)
def test_observer_mse_clip_is_the_histogram_optimum(signed, grid):
    rng = np.random.default_rng(4)
    obs = P.ActivationObserver(signed=signed, bins=128)
    for _ in range(3):
        x = rng.laplace(size=2000)
        obs.update(x if signed else np.maximum(x, 0))
    for bits in (2, 3, 4):
        assert obs.clip(bits, "mse", grid=grid) == _mse_oracle(obs, bits, grid, signed)
    # with fewer bits the optimal clip moves inward (ACIQ's qualitative claim, on data)
    assert obs.clip(2, "mse", grid=grid) < obs.clip(4, "mse", grid=grid)


def test_observer_aciq_params_use_the_fitted_scale():
    rng = np.random.default_rng(6)
    obs = P.ActivationObserver(signed=False)
    x = np.maximum(rng.laplace(size=20000), 0)
    obs.update(x[:5000])
    obs.update(x[5000:])
    spec = rq.QuantSpec(3, signed=False)
    s, z = obs.params(spec, "aciq_laplace")
    b = np.sqrt(np.mean(x**2))
    alpha = min(C.optimal_clip(3, "laplace", b, signed=False), x.max())
    assert z == 0 and s == pytest.approx(alpha / 7, rel=1e-12)
    s2, _ = obs.params(rq.QuantSpec(3, signed=False), "mse")
    assert 0 < s2 < x.max() / 7


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_inputs_name_the_parameter():
    spec = P.grid_spec(4)
    cases = [
        (lambda: P.grid_spec(1, "symmetric"), ValueError, "bits=1"),
        (lambda: P.grid_spec(4, "nope"), ValueError, "grid='nope'"),
        (lambda: P.grid_spec(4, 3), TypeError, "grid must be a str"),
        (lambda: P.grid_spec(4.0), TypeError, "bits must be an integer"),
        (lambda: P.grid_spec(4, signed=1), TypeError, "signed must be True or False"),
        (lambda: P.grid_spec(16, "paper"), ValueError, "bits=16"),
        (lambda: P.scale_from_clip(0.0, spec), ValueError, "alpha must be > 0"),
        (lambda: P.scale_from_clip(np.nan, spec), ValueError, "alpha contains"),
        (lambda: P.scale_from_clip([1.0, 2.0], spec), ValueError, "alpha has shape"),
        (lambda: P.scale_from_clip(1.0, "spec"), TypeError, "spec must be"),
        (lambda: P.scale_from_clip(1.0, spec, grid="asym"), ValueError, "grid='asym'"),
        (
            lambda: P.scale_from_clip(1.0, rq.QuantSpec(8), grid="asymmetric", lower=0.5),
            ValueError,
            "lower must be <= 0",
        ),
        (
            lambda: P.scale_from_clip(1.0, rq.QuantSpec(8), grid="asymmetric", signed=True),
            ValueError,
            "signed must be None",
        ),
        (lambda: P.scale_from_clip(1.0, spec, lower=-1.0), ValueError, "lower is only used"),
        (lambda: P.scale_from_clip(1e308, rq.QuantSpec(8), grid="asymmetric", lower=-1e308), ValueError, "overflows"),
        (lambda: P.fit_scale([1.0, 2.0], "cauchy"), ValueError, "dist='cauchy'"),
        (lambda: P.fit_scale([-1.0, 2.0], "laplace", signed=False), ValueError, "negative"),
        (lambda: P.fit_scale([1.0, 2.0], "laplace", axis=2), ValueError, "axis=2"),
        (lambda: P.channel_clips(np.ones((2, 3)), 4, method="best"), ValueError, "method='best'"),
        (lambda: P.channel_clips(np.ones((2, 3)), [4, 4, 4], method="minmax"), ValueError, "bits has shape"),
        (lambda: P.channel_clips(np.ones((2, 3)), 4.5), TypeError, "bits must be an int"),
        (lambda: P.channel_clips(np.ones((2, 3)), 17), ValueError, "bits=17"),
        (lambda: P.channel_clips(np.ones((2, 3)), 4, n_candidates=0), ValueError, "n_candidates=0"),
        (lambda: P.fake_quant_bits(np.ones((2, 3)), [1.0, -1.0], 4), ValueError, "alpha must be > 0"),
        (lambda: P.fake_quant_bits(np.ones((2, 3)), 1.0, [4, 4, 4]), ValueError, "bits has shape"),
        (lambda: P.fake_quant_bits(np.ones((2, 3)), 1.0, [-1, 4]), ValueError, "bits=-1"),
        (lambda: P.fake_quant_bits(1.0, 1.0, 4), ValueError, "0-d"),
        (lambda: P.fake_quant_bits(np.ones((2, 3)), 1.0, 4, axis=5), ValueError, "axis=5"),
        (lambda: P.fake_quant_bits(np.ones((2, 3)), 1.0, 4, signed="yes"), TypeError, "signed must be"),
        (lambda: P.fake_quant_bits([[np.inf]], 1.0, 4), ValueError, "x contains"),
        (lambda: P.ActivationObserver(bins=15), ValueError, "bins=15"),
        (lambda: P.ActivationObserver(bins=17), ValueError, "even"),
        (lambda: P.ActivationObserver(signed=None), TypeError, "signed must be"),
        (lambda: P.ActivationObserver().params(spec), ValueError, "no data"),
    ]
    for fn, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            fn()
    obs = P.ActivationObserver(signed=False)
    with pytest.raises(ValueError, match="negative"):
        obs.update([-1.0])
    with pytest.raises(ValueError, match="x contains"):
        obs.update([np.nan])
    with pytest.raises(ValueError, match="beyond 1e150"):
        obs.update([1e301])
    obs.update([1.0, 2.0])
    with pytest.raises(ValueError, match="method='max'"):
        obs.params(rq.QuantSpec(8, signed=False), "max")
    with pytest.raises(ValueError, match="method='nope'"):
        obs.clip(3, "nope")
    with pytest.raises(ValueError, match="dist='cauchy'"):
        obs.fitted_scale("cauchy")
    with pytest.raises(TypeError, match="spec must be"):
        obs.params("spec")
    with pytest.raises(TypeError, match="bits must be an integer"):
        obs.clip(3.0, "aciq_laplace")
    with pytest.raises(ValueError, match="no data"):
        P.ActivationObserver().edges()
    with pytest.raises(ValueError, match="spec.axis=0"):
        obs.params(rq.QuantSpec(8, signed=False, axis=0))
    with pytest.raises(ValueError, match="bits=1"):
        obs.clip(1, "mse", grid="symmetric")
    with pytest.raises(ValueError, match="grid='endpoint' two-sided"):
        obs.clip(3, "mse", grid="endpoint", signed=True)
    two = P.ActivationObserver()
    two.update([-1.0, 1.0])
    with pytest.raises(ValueError, match="unsigned spec cannot hold two-sided"):
        two.params(rq.QuantSpec(4, signed=False), "mse")
    with pytest.raises(ValueError, match="not the carrier of grid='aciq_runtime'"):
        two.params(rq.QuantSpec(4, rounding="floor"), "aciq_gaussian")
    # per-channel observers: batches must keep the channel count, and the spec must be per channel
    pc = P.ActivationObserver(axis=1)
    pc.update(np.ones((2, 3)))
    with pytest.raises(ValueError, match="x has 4 channels along axis=1.*3 channels"):
        pc.update(np.ones((2, 4)))
    with pytest.raises(ValueError, match="x is 0-d"):
        pc.update(1.0)
    with pytest.raises(ValueError, match="axis=2 is out of range|axis"):
        P.ActivationObserver(axis=2).update(np.ones((2, 3)))
    with pytest.raises(ValueError, match="spec.axis=None: the observer is per channel"):
        pc.params(rq.QuantSpec(8))
    with pytest.raises(TypeError, match="axis must be an integer"):
        P.ActivationObserver(axis=1.0)


# ---------------------------------------------------------------------------------------------- per-channel observer
def _channel_batches(signed, axis):
    """Batches of shape (n_i, 5, 3) (channel axis 1), channels of very different scales, a dead channel,
    a channel that first sees only zeros, and a late batch that widens the range of every live channel."""
    rng = np.random.default_rng(11)
    scales = np.array([1e-3, 0.5, 7.0, 0.0, 300.0])
    out = []
    for i, n in enumerate((4, 1, 9, 6)):
        x = rng.laplace(size=(n, 5, 3)) * scales[None, :, None] * (40.0 if i == 3 else 1.0)
        if i < 2:
            x[:, 1] = 0.0  # channel 1 sees only zeros in the first two batches
        x = x if signed else np.maximum(x, 0)
        out.append(np.moveaxis(x, 1, axis))
    return out


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("axis", [1, -1, 0])
def test_per_channel_observer_equals_a_loop_of_per_tensor_observers(signed, axis):
    parts = _channel_batches(signed, axis)
    pc = P.ActivationObserver(signed=signed, bins=64, axis=axis)
    for p in parts:
        pc.update(p)
    assert pc.channels == 5 and pc.hist.shape == (5, 64)
    for c in range(5):
        chan = [np.take(p, c, axis=axis) for p in parts]
        one = P.ActivationObserver(signed=signed, bins=64)
        for q in chan:
            one.update(q)
        full = np.concatenate([q.ravel() for q in chan])
        # exact: count, min, max, histogram width and counts (also equal to the exact binning of the data)
        assert (pc.count, pc.min[c], pc.max[c]) == (one.count, one.min, one.max) == (full.size, full.min(), full.max())
        assert pc.width[c] == (0.0 if one.width is None else one.width)
        np.testing.assert_array_equal(pc.hist[c], one.hist)
        if one.width is not None:
            np.testing.assert_array_equal(pc.hist[c], _exact_bins(full, one.width, 32 if signed else 0, 64))
        # moments: stated tolerance relative 1e-12 against the per-tensor observer and the concatenated data
        for got, want in ((pc.mean[c], full.mean()), (pc.var[c], full.var()), (pc.mean_square[c], np.mean(full**2))):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-300)
        assert pc.mean[c] == pytest.approx(one.mean, rel=1e-12, abs=1e-300)
        for dist in ("laplace", "gaussian"):
            assert pc.fitted_scale(dist)[c] == pytest.approx(one.fitted_scale(dist), rel=1e-12, abs=1e-300)
        np.testing.assert_array_equal(pc.edges()[c], one.edges())
        # clips: the histogram methods exactly, the moment-based ones to the moments' tolerance
        for method in ("minmax", "mse"):
            for bits in (2, 4):
                assert pc.clip(bits, method)[c] == one.clip(bits, method)
        for method in ("aciq_laplace", "exact_gaussian"):
            assert pc.clip(3, method)[c] == pytest.approx(one.clip(3, method), rel=1e-10)
    # (scale, zero_point) per channel: min/max exactly calibrate_minmax of each channel's data
    spec = rq.QuantSpec(4, signed=signed, axis=0)
    s, z = pc.params(spec, "minmax")
    assert s.shape == z.shape == (5,)
    for c in range(5):
        full = np.concatenate([np.take(p, c, axis=axis).ravel() for p in parts])
        sc, zc = rq.calibrate_minmax(full, spec.replace(axis=None), symmetric=signed)
        assert s[c] == sc and z[c] == zc
    # the dead channel (index 3: all zeros) gets the clip 1.0 from every method, so its scale stays valid
    for method in P.OBSERVER_METHODS:
        assert pc.clip(3, method)[3] == 1.0


def test_observer_batches_of_one_channel_equal_concatenation_per_channel():
    # per channel, batch-accumulated statistics equal those of the concatenated batches (along the batch axis)
    parts = _channel_batches(True, 1)
    a = P.ActivationObserver(bins=128, axis=1)
    for p in parts:
        a.update(p)
    b = P.ActivationObserver(bins=128, axis=1)
    b.update(np.concatenate(parts, axis=0))
    np.testing.assert_array_equal(a.hist, b.hist)
    np.testing.assert_array_equal(a.width, b.width)
    assert np.array_equal(a.min, b.min) and np.array_equal(a.max, b.max) and a.count == b.count
    np.testing.assert_allclose(a.var, b.var, rtol=1e-12)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("method", ["aciq_laplace", "exact_laplace", "mse"])
@pytest.mark.parametrize("narrow", [True, False])
def test_observer_params_carry_a_zero_point_0_grid(method, narrow):
    """Signed narrow specs realise the symmetric grid, signed full-range specs the aciq_runtime grid
    (step 2 alpha / (2^M - 1)); the levels of fake_quant with the returned parameters are that grid's."""
    rng = np.random.default_rng(3)
    obs = P.ActivationObserver(bins=256, axis=0)
    obs.update(rng.laplace(size=(3, 500)) * np.array([[0.5], [2.0], [9.0]]))
    spec = rq.QuantSpec(3, narrow_range=narrow, axis=0)
    grid = "symmetric" if narrow else "aciq_runtime"
    alpha = obs.clip(3, method, grid=grid)
    s, z = obs.params(spec, method)
    assert np.all(z == 0)
    for c in range(3):
        x = np.linspace(-2 * alpha[c], 2 * alpha[c], 4001)
        y = rq.fake_quant(x, s[c], 0, spec.replace(axis=None))
        assert bits_equal(y, C.quantize_on_grid(x, alpha[c], 3, grid))
        assert np.unique(y).size == C.grid_levels(alpha[c], 3, grid)[0].size
