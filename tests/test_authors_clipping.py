"""The ACIQ code's clipping computations in refquant.clipping: the grid it ran ("aciq_runtime"), the empirical
solver on every grid, real bin counts in the paper's model, and the clip placement around a mean.

Oracles: transcriptions of the released arithmetic in plain NumPy (``__gemmlowpQuantize1__``'s shifted
rounding with its computed zero point, the CUDA kernel's ``roundf``, Distiller's ``round(x * scale)``),
scipy quadrature and bounded minimisation of the MSE, the Lambert-W closed form, brute-force candidate scans
with ``quantize_on_grid``, and the placement formulas written out per case.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from refquant import QuantSpec, quantize
from refquant import clipping as C
from refquant import robustness as R


def _dense(alpha, bits, grid="aciq_runtime"):
    """Dense points covering the grid and beyond, including every decision threshold (ties) exactly."""
    _, thr = C.grid_levels(alpha, bits, grid)
    x = np.linspace(-1.4 * alpha, 1.4 * alpha, 20001)
    return np.concatenate([x, thr, -thr])


def _code_clip_path(x, alpha, bits):
    """The ACIQ clip path (__gemmlowpQuantize1__), float64: range 2*alpha from offset -alpha, zero point
    round(-offset/scale) (half to even, as torch.round), codes clamp(x/scale + zp, 0, qmax) rounded half to even."""
    qmax = 2.0**bits - 1
    scale = 2 * alpha / qmax
    zp = np.rint(alpha / scale)
    q = np.rint(np.clip(x / scale + zp, 0, qmax))
    return (q - zp) * scale, zp


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("step", [2.0**-3, 0.5, 1.0, 3.0])
def test_aciq_runtime_image_is_the_code_clip_path(bits, step):
    alpha = step * (2**bits - 1) / 2  # step 2*alpha/(2^M - 1); dyadic steps make the thresholds exact
    x = _dense(alpha, bits)
    want, zp = _code_clip_path(x, alpha, bits)
    got = C.quantize_on_grid(x, alpha, bits, "aciq_runtime")
    if zp == 2 ** (bits - 1):
        np.testing.assert_array_equal(got, want)
    else:  # the code's zero point fell on the other side of the tie: the mirror grid
        assert zp == 2 ** (bits - 1) - 1
        np.testing.assert_array_equal(-C.quantize_on_grid(-x, alpha, bits, "aciq_runtime"), want)
    # and it is refquant.uniform with the matching spec, nearest level away from ties
    levels, thr = C.grid_levels(alpha, bits, "aciq_runtime")
    off = ~np.isin(x, thr)
    np.testing.assert_array_equal(got[off], levels[np.searchsorted(thr, x[off])])
    assert len(levels) == 2**bits and levels[0] < -alpha < alpha < levels[-1] + 1e-300 + (levels[1] - levels[0])


def test_code_zero_point_rounding_can_mirror_the_grid():
    """alpha / step = 2^(M-1) - 1/2 exactly in real arithmetic; in floating point it may land below the tie, and the
    code's zero point then selects the mirror image of the grid (same MSE for symmetric densities)."""
    alpha, bits = 0.23578595317725753, 3
    want, zp = _code_clip_path(np.zeros(1), alpha, bits)
    assert zp == 3  # not 4: this is the mirror case
    x = _dense(alpha, bits)
    want, _ = _code_clip_path(x, alpha, bits)
    s = 2 * alpha / 7
    off = np.abs(np.abs(x / s) % 1 - 0.5) > 1e-9
    np.testing.assert_allclose(-C.quantize_on_grid(-x, alpha, bits, "aciq_runtime")[off], want[off], rtol=0, atol=4e-16)


def test_aciq_runtime_levels():
    for bits in (1, 2, 3, 5):
        d = 2 * 1.3 / (2**bits - 1)
        want = [k * d for k in range(-(2 ** (bits - 1)), 2 ** (bits - 1))]
        np.testing.assert_allclose(C.grid_levels(1.3, bits, "aciq_runtime")[0], want, rtol=1e-15, atol=1e-15)
        np.testing.assert_array_equal(
            C.grid_levels(1.3, bits, "aciq_runtime", signed=False)[0],
            C.grid_levels(1.3, bits, "endpoint", signed=False)[0],
        )


@pytest.mark.parametrize("bits", [2, 4])
def test_cuda_kernel_ties_are_half_up_and_distiller_codes_agree(bits):
    alpha = 0.25 * (2**bits - 1) / 2
    x = _dense(alpha, bits)
    qmax = 2**bits - 1
    scale = 2 * alpha / qmax
    zp = 2 ** (bits - 1)
    v = np.clip(x / scale + zp, 0, qmax)
    cuda = np.floor(v + 0.5) - zp  # roundf on a non-negative value: half away from zero = half up
    np.testing.assert_array_equal(cuda, quantize(x, scale, 0, QuantSpec(bits, rounding="half_up")))
    # Distiller SYMMETRIC: round(x * n / sat), n = (2^M - 1)/2, clamped to the signed full range
    dist = np.clip(np.rint(x * (qmax / 2 / alpha)), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    ours = quantize(x, scale, 0, QuantSpec(bits))
    near_tie = np.abs(np.abs(x / scale) % 1 - 0.5) < 1e-9
    np.testing.assert_array_equal(dist[~near_tie], ours[~near_tie])
    np.testing.assert_array_equal(ours, np.round(C.quantize_on_grid(x, alpha, bits, "aciq_runtime") / scale))


def _quad_mse(alpha, bits, frozen):
    levels, thr = C.grid_levels(alpha, bits, "aciq_runtime")
    edges = np.concatenate([[-np.inf], thr, [np.inf]])
    tot = 0.0
    for q, lo, hi in zip(levels, edges[:-1], edges[1:]):
        pts = [0.0] if np.isfinite(lo) and np.isfinite(hi) and lo < 0 < hi else None
        tot += integrate.quad(
            lambda x: (x - q) ** 2 * frozen.pdf(x), lo, hi, points=pts, epsabs=0, epsrel=1e-13, limit=200
        )[0]
    return tot


@pytest.mark.parametrize("dist,frozen", [("gaussian", stats.norm()), ("laplace", stats.laplace())])
def test_aciq_runtime_exact_optimum_against_quadrature(dist, frozen):
    for bits in (2, 3, 4):
        a = C.optimal_clip(bits, dist, model="exact", grid="aciq_runtime")
        assert float(C.mse_exact(a * 0.9, bits, dist, grid="aciq_runtime")) == pytest.approx(
            _quad_mse(a * 0.9, bits, frozen), rel=1e-10
        )
        r = optimize.minimize_scalar(
            lambda v: _quad_mse(v, bits, frozen), bounds=(0.7 * a, 1.3 * a), method="bounded", options={"xatol": 1e-9}
        )
        assert a == pytest.approx(r.x, rel=1e-5)
    # the published 2-bit Gaussian clip on this grid: the true optimum is near 1.57 sigma, +1.7 % MSE at 1.71
    a2 = C.optimal_clip(2, "gaussian", model="exact", grid="aciq_runtime")
    if dist == "gaussian":
        assert 1.57 < a2 < 1.575
        pen = _quad_mse(1.71, 2, frozen) / _quad_mse(a2, 2, frozen) - 1
        assert 0.0168 < pen < 0.0170


def test_step_to_alpha_knows_the_runtime_grid():
    assert float(R.step_to_alpha(0.2, 3, "aciq_runtime")) == pytest.approx(0.7, rel=1e-15)


def _brute(xc, bits, grid, n):
    amax = float(np.abs(xc).max())
    best = None
    for k in range(1, n + 1):
        a = amax * k / n
        y = C.quantize_on_grid(xc.astype(np.float64), a, bits, grid)
        mse = float(np.mean((y - xc) ** 2))
        if best is None or mse < best[0]:
            best = (mse, a)
    return best


@pytest.mark.parametrize("grid", ["endpoint", "aciq_runtime"])
def test_empirical_clip_on_the_new_grids_is_the_brute_force_minimum(grid):
    x = np.random.default_rng(7).standard_normal((4, 500)) * np.array([[0.1], [1], [3], [10]])
    alpha, mse = C.optimal_clip_empirical(x, 3, axis=0, grid=grid, n_candidates=50, return_mse=True)
    for c in range(4):
        bmse, balpha = _brute(x[c], 3, grid, 50)
        assert mse[c].min() == pytest.approx(bmse, rel=1e-12)
        assert float(alpha[c]) == pytest.approx(balpha, rel=1e-12)


def test_empirical_runtime_clip_converges_to_the_exact_optimum():
    x = np.random.default_rng(8).standard_normal(300_000)
    a = float(C.optimal_clip_empirical(x, 2, grid="aciq_runtime", n_candidates=400))
    assert a == pytest.approx(C.optimal_clip(2, "gaussian", model="exact", grid="aciq_runtime"), rel=0.03)


# ---------------------------------------------------------------- real bin counts


def test_bins_equal_bits_at_powers_of_two():
    for m in range(0, 10):
        for dist in ("gaussian", "laplace", "uniform"):
            for signed in (True, False):
                assert float(C.mse_aciq(1.7, None, dist, signed=signed, bins=2.0**m)) == float(
                    C.mse_aciq(1.7, m, dist, signed=signed)
                )
                assert C.optimal_clip(None, dist, signed=signed, bins=2.0**m) == C.optimal_clip(m, dist, signed=signed)


@pytest.mark.parametrize("omega", [0.37, 1.0, 3.0, 5.3, 12.0, 955.0, 3000.5])
def test_real_bins_laplace_optimum_is_lambert_w(omega):
    u = optimize.brentq(lambda u: u * math.exp(u) - 3 * omega**2, 0.0, 60.0, xtol=1e-15, rtol=1e-15)
    assert C.optimal_clip(None, "laplace", 2.0, bins=omega) == pytest.approx(2.0 * u, rel=1e-12)
    u1 = float(special.lambertw(12 * omega**2).real)  # one-sided: doubled bin count
    assert C.optimal_clip(None, "laplace", bins=omega, signed=False) == pytest.approx(u1, rel=1e-12)


@pytest.mark.parametrize("omega", [0.5, 2.7, 6.0, 100.3])
def test_real_bins_gaussian_model_and_optimum(omega):
    def model(a):  # the Gaussian clipping term by quadrature plus a^2 / (3 omega^2)
        tail = integrate.quad(lambda x: (x - a) ** 2 * stats.norm.pdf(x), a, np.inf, epsabs=0, epsrel=1e-13)[0]
        return 2 * tail + a * a / (3 * omega**2)

    for a in (0.5, 1.5, 3.0):
        assert float(C.mse_aciq(a, None, "gaussian", bins=omega)) == pytest.approx(model(a), rel=1e-10)
    r = optimize.minimize_scalar(model, bounds=(1e-3, 10.0), method="bounded", options={"xatol": 1e-10})
    assert C.optimal_clip(None, "gaussian", bins=omega) == pytest.approx(r.x, rel=1e-6)


# ---------------------------------------------------------------- clip placement


def test_clip_range_formulas():
    a, mu, m = 2.0, 0.3, -1.5
    assert [float(v) for v in C.clip_range(a, mean=mu, min_value=m)] == [max(m, mu - a), max(m, mu - a) + 2 * a]
    assert [float(v) for v in C.clip_range(a, mean=-0.3, mode="one_sided")] == [0.0, a]
    assert [float(v) for v in C.clip_range(a, mean=mu, mode="one_sided")] == [0.0, mu + a]
    assert [float(v) for v in C.clip_range(a, mean=mu, min_value=0.0, convention="distiller", mode="one_sided")] == [
        0.0,
        a,
    ]
    assert [float(v) for v in C.clip_range(a, mean=3.0, min_value=0.0, convention="distiller", mode="one_sided")] == [
        1.0,
        3.0,
    ]
    assert [float(v) for v in C.clip_range(a, mean=-0.3, convention="distiller", mode="symmetric")] == [-2.3, 2.3]
    assert [float(v) for v in C.clip_range(a, mean=mu, convention="distiller")] == [mu - a, mu + a]
    # the two code bases' one-sided ranges at mean 0.4 b, 2-bit one-sided Laplace clip (3.89 b): 10 % apart
    hi_aciq = float(C.clip_range(3.89, mean=0.4, mode="one_sided")[1])
    hi_dist = float(C.clip_range(3.89, mean=0.4, min_value=0.0, convention="distiller", mode="one_sided")[1])
    assert hi_aciq / hi_dist - 1 == pytest.approx(0.4 / 3.89, rel=1e-12)
    lo, hi = C.clip_range([1.0, 2.0], mean=[0.0, 5.0], min_value=[-3.0, 4.5])  # broadcasting, per channel
    np.testing.assert_array_equal(lo, [-1.0, 4.5])
    np.testing.assert_array_equal(hi, [1.0, 8.5])


def _v1_alpha2_delta_offset(alpha, max_value, min_value, mean):
    """The first ACIQ code's IntQuantizer.alpha2DeltaOffset, line by line (returns range width and offset)."""
    max_range = max_value - min_value
    if alpha <= 0 or alpha >= max_range / 2:
        delta = max_range
    else:
        delta = 2 * alpha
        min_value = max(min_value, mean - delta / 2)
    return delta, min_value


def test_clip_range_aciq_v1_is_the_first_codes_placement():
    rng = np.random.default_rng(11)
    cases = []
    for _ in range(400):
        m = float(rng.normal())
        mx = m + float(rng.exponential(3.0))
        mu = float(rng.uniform(m, mx))
        a = float(rng.choice([rng.exponential(1.0), (mx - m) / 2, rng.uniform(0.5, 1.5) * (mx - m) / 2]))
        cases.append((a, mu, m, mx))
    a, mu, m, mx = (np.array(c) for c in zip(*cases))
    lo, hi = C.clip_range(a, mean=mu, min_value=m, max_value=mx, convention="aciq_v1")
    n_whole = 0
    for i, (ai, mui, mi, mxi) in enumerate(cases):
        delta, offset = _v1_alpha2_delta_offset(ai, mxi, mi, mui)
        assert float(lo[i]) == offset
        assert float(hi[i]) == pytest.approx(offset + delta, rel=1e-15, abs=1e-15)
        n_whole += delta == mxi - mi
    assert 50 < n_whole < 350  # both branches were exercised
    # away from the fallback the first code places the range as the later code does
    keep = a < (mx - m) / 2
    lo2, hi2 = C.clip_range(a[keep], mean=mu[keep], min_value=m[keep], convention="aciq")
    np.testing.assert_array_equal(lo[keep], lo2)
    np.testing.assert_array_equal(hi[keep], hi2)


# ---------------------------------------------------------------- the -mtq quantizer


def _code_mid_tread_row(row, omega, clip, sym, alpha=None, mu=None):
    """IntQuantizer.mid_tread_quantization for one row, element by element with Python floats (round() is
    half to even, as torch.round)."""
    if clip:
        rng = 2 * alpha if sym else max(mu, 0.0) + alpha
    else:
        rng = (max(row) - min(row)) if sym else max(row)
    delta = rng / omega if omega > 0 else float(np.finfo(np.float32).max)
    out = []
    for x in row:
        q = float(round(x / delta))
        if clip:
            mu_q = mu / delta if sym else max(mu, 0.0) / delta
            c_max = mu_q + (omega / 2 if sym else omega)
            c_min = (mu_q - omega / 2) if sym else 0.0
            q = max(min(q, c_max), c_min)
        out.append(q * delta)
    return out


@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("clip", [True, False])
def test_mid_tread_is_the_released_row_loop(sym, clip):
    rng = np.random.default_rng(12 + 2 * sym + clip)
    x = rng.laplace(size=(6, 3, 40)) * np.array([0.1, 1.0, 7.0])[None, :, None] + 0.3
    if not sym and not clip:
        x = np.maximum(x, 0.0)
    omega = np.array([0.0, 3.0, 14.0])  # rounded eq.-10 bin counts, one with no bins
    alpha = np.array([0.2, 2.5, 20.0])
    got = C.quantize_mid_tread(x, omega, axis=1, alpha=alpha if clip else None, signed=sym)
    for c in range(3):
        row = x[:, c, :].reshape(-1)
        mu = float(np.mean(row)) if clip else None
        want = _code_mid_tread_row(list(row), omega[c], clip, sym, alpha[c] if clip else None, mu)
        np.testing.assert_allclose(got[:, c, :].reshape(-1), want, rtol=0, atol=1e-15 * float(np.abs(row).max()))
        if omega[c] > 0:
            np.testing.assert_array_equal(got[:, c, :].reshape(-1), want)


def test_mid_tread_clamp_is_off_grid_and_the_unsigned_range_overshoots():
    a, mu = 3.89, 0.4
    y = C.quantize_mid_tread(np.array([0.0, 0.7, 100.0]), 7.0, alpha=a, mean=mu, signed=False)
    assert y[-1] == pytest.approx(2 * mu + a, rel=1e-15)  # 4.69, not the 2^M-level path's max(mu, 0) + alpha
    assert float(C.clip_range(a, mean=mu, mode="one_sided")[1]) == pytest.approx(mu + a, rel=1e-15)
    y = C.quantize_mid_tread(np.array([-50.0, 50.0]), 6.0, alpha=1.0, mean=0.1)  # step 1/3, clamp at mean -+ 1
    np.testing.assert_allclose(y, [-0.9, 1.1], rtol=1e-15)
    assert not np.any(np.isclose(y / (1 / 3), np.round(y / (1 / 3)), rtol=0, atol=1e-9))  # both off the grid


def test_mid_tread_mse_is_the_papers_real_bin_model():
    # Laplace(0, 1), omega = 37 bins (not a power of two), alpha the model's optimum for that bin count: the
    # quantizer's MSE is the model 2 b^2 e^{-alpha/b} + alpha^2 / (3 omega^2) up to the model's uniform-noise
    # approximation (<1 % here) and Monte Carlo error
    omega = 37.0
    alpha = float(C.optimal_clip(None, "laplace", bins=omega))
    x = np.random.default_rng(13).laplace(size=2_000_000)
    y = C.quantize_mid_tread(x, omega, alpha=alpha, mean=0.0)
    mse = float(np.mean((y - x) ** 2))
    assert mse == pytest.approx(float(C.mse_aciq(alpha, None, "laplace", bins=omega)), rel=0.02)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: C.quantize_mid_tread([0.1, 0.2], -1.0), ValueError, "bins"),
        (lambda: C.quantize_mid_tread([0.1, 0.2], np.nan), ValueError, "bins"),
        (lambda: C.quantize_mid_tread([0.1, 0.2], 3.0, alpha=0.0), ValueError, "alpha"),
        (lambda: C.quantize_mid_tread([0.1, 0.2], 3.0, mean=0.0), ValueError, "mean"),
        (lambda: C.quantize_mid_tread([-0.1, 0.2], 3.0, signed=False), ValueError, "x"),
        (lambda: C.quantize_mid_tread(np.ones((2, 3)), [1.0, 2.0, 3.0], axis=0), ValueError, "bins"),
        (lambda: C.quantize_mid_tread([0.1, 0.2], 3.0, signed=1), TypeError, "signed"),
        (lambda: C.quantize_mid_tread([0.1, 0.2], 3.0, axis=2), ValueError, "axis"),
        (lambda: C.quantize_mid_tread([1e308, -1e308], 3.0), ValueError, "overflow"),
    ],
)
def test_mid_tread_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: C.clip_range(1.0, min_value=0.0, convention="aciq_v1"), ValueError, "max_value"),
        (lambda: C.clip_range(1.0, max_value=0.0, convention="aciq_v1"), ValueError, "min_value"),
        (lambda: C.clip_range(1.0, min_value=1.0, max_value=0.0, convention="aciq_v1"), ValueError, "max_value"),
        (lambda: C.clip_range(1.0, min_value=0.0, max_value="a", convention="aciq_v1"), TypeError, "max_value"),
        (
            lambda: C.clip_range(1.0, min_value=0.0, max_value=1.0, convention="aciq_v1", mode="one_sided"),
            ValueError,
            "mode",
        ),
        (lambda: C.mse_exact(1.0, 1, "gaussian", grid="runtime"), ValueError, "grid"),
        (lambda: C.quantize_on_grid([0.1], 1.0, 17, "aciq_runtime"), ValueError, "bits"),
        (lambda: C.optimal_clip_empirical([0.1, 0.2], 0, grid="aciq_runtime"), ValueError, "bits"),
        (lambda: C.mse_aciq(1.0, 2, "laplace", bins=4.0), ValueError, "bins"),
        (lambda: C.mse_aciq(1.0, None, "laplace"), TypeError, "bits"),
        (lambda: C.mse_aciq(1.0, None, "laplace", bins=0.0), ValueError, "bins"),
        (lambda: C.mse_aciq(1.0, None, "laplace", bins=2.0**33), ValueError, "bins"),
        (lambda: C.mse_aciq(1.0, None, "laplace", bins="4"), TypeError, "bins"),
        (lambda: C.optimal_clip(None, "laplace", bins=-1.0), ValueError, "bins"),
        (lambda: C.optimal_clip(None, "laplace", bins=np.inf), ValueError, "bins"),
        (lambda: C.optimal_clip(2, "laplace", bins=4.0), ValueError, "bins"),
        (lambda: C.optimal_clip(None, "laplace", model="exact", bins=4.0), ValueError, "bins"),
        (lambda: C.clip_range(0.0), ValueError, "alpha"),
        (lambda: C.clip_range(1.0, mean=np.nan), ValueError, "mean"),
        (lambda: C.clip_range(1.0, min_value="a"), TypeError, "min_value"),
        (lambda: C.clip_range(1.0, convention="torch"), ValueError, "convention"),
        (lambda: C.clip_range(1.0, convention=None), TypeError, "convention"),
        (lambda: C.clip_range(1.0, mode="symmetric"), ValueError, "mode"),
        (lambda: C.clip_range(1.0, mode=2), TypeError, "mode"),
    ],
)
def test_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
