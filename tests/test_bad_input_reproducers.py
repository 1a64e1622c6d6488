"""One-line reproducers of defects found by the bad-input sweep, each with its corrected behaviour.

Each test states the call that used to crash or return garbage and checks the documented result
(an independent value: a closed form, scipy, or the same call on rescaled input where the
mathematics is scale-invariant), or the clear error that replaced it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import refquant as rq
import refquant.allocation as A
import refquant.bias_correction as BC
import refquant.binarize as B
import refquant.kurtosis as K
import refquant.robustness as R
from refquant.uniform import channel_layout


def test_fake_quant_with_partially_overlapping_out_reads_the_input_first():
    b = np.arange(9.0)
    x_before = b[:-1].copy()
    got = rq.fake_quant(b[:-1], 1.0, 0, rq.QuantSpec(8), out=b[1:])
    want = rq.fake_quant(x_before, 1.0, 0, rq.QuantSpec(8))  # a separate buffer
    assert got.base is b or np.shares_memory(got, b)
    np.testing.assert_array_equal(got, want)  # used to be all zeros
    np.testing.assert_array_equal(b[1:], np.arange(8.0))
    # in-place (out is x itself) stays supported
    c = np.array([0.4, 1.6, -2.5])
    rq.fake_quant(c, 1.0, 0, rq.QuantSpec(8), out=c)
    np.testing.assert_array_equal(c, [0.0, 2.0, -2.0])


def test_empirical_sensitivity_of_a_tensor_the_grid_represents_exactly_is_a_clear_error():
    with pytest.raises(ValueError, match="represented exactly by the grid"):
        R.empirical_sensitivity(np.array([1.0, -1.0, 1.0, -1.0]), 4, 0.05)  # used to divide by zero


def test_heavy_tailed_and_invalid_scipy_distributions_are_rejected_by_the_robustness_theory():
    with pytest.raises(ValueError, match="dist=.*cauchy.*infinite"):
        R.optimal_step(4, stats.cauchy())
    with pytest.raises(ValueError, match="dist=.*t.*infinite"):
        R.sensitivity(4, stats.t(1.5), 0.05)
    with pytest.raises(ValueError, match="dist=scipy.stats.norm.*invalid parameters"):
        R.mse_vs_step(0.1, 4, stats.norm(0, -1))
    # a t distribution with finite variance still works
    assert R.optimal_step(4, stats.t(5)) > 0


def test_paper_allocation_rejects_bad_max_bits_instead_of_wrapping():
    a = [1.0, 2.0]
    with pytest.raises(ValueError, match="max_bits=-1"):
        A.paper_allocation(a, 8, max_bits=-1)  # used to return [-1 -1]
    with pytest.raises(TypeError, match="max_bits"):
        A.paper_allocation(a, 8, max_bits=float("nan"))  # used to return INT64_MIN
    with pytest.raises(TypeError, match="max_bits"):
        A.paper_allocation(a, 8, max_bits=2.7)  # no truncation to 2


def test_allocation_depends_only_on_ratios_at_any_magnitude():
    a = np.array([1.0, 2.0, 3.0, 5.0])
    want = A.allocate_bits(a, 16)
    assert want.tolist() == [3, 4, 4, 5]
    for f in (1e300, 1e-300, 2.0**-1060):
        assert A.allocate_bits(a * f, 16).tolist() == want.tolist()  # used to be [8 8 0 0] at 1e300
        np.testing.assert_array_equal(A.paper_allocation(a * f, 64), A.paper_allocation(a, 64))
        np.testing.assert_allclose(A.continuous_allocation(a * f, 16), A.continuous_allocation(a, 16), rtol=1e-12)


def test_kurtosis_and_kure_are_scale_invariant():
    x = np.random.default_rng(1).standard_normal((4, 32))
    want = stats.kurtosis(x, axis=1, fisher=False)
    np.testing.assert_allclose(K.kurtosis(x * 1e-80, axis=0), want, rtol=1e-12)  # used to be [2 2 2 2]
    assert float(K.kurtosis(x * 1e-100)) == pytest.approx(stats.kurtosis(x.ravel(), fisher=False), rel=1e-12)  # was nan
    assert K.kure_loss([x * 1e-100]) == pytest.approx(K.kure_loss([x]), rel=1e-12)  # was nan
    g, g_small = K.kure_grad([x])[0], K.kure_grad([x * 2.0**-400])[0]
    np.testing.assert_allclose(g_small * 2.0**-400, g, rtol=1e-10, atol=1e-14 * np.abs(g).max())


def test_kurtosis_shaping_blames_lr_not_x():
    with pytest.raises(ValueError, match=r"lr=1e\+300"):
        K.kurtosis_shaping(np.random.default_rng(2).standard_normal(32), lr=1e300)


def test_ternarize_and_binarize_near_the_float_limit():
    w = np.full((2, 4), 1e308)
    np.testing.assert_array_equal(B.ternarize(w), w)  # used to be zeros (mean|w| overflowed)
    np.testing.assert_array_equal(B.binarize(w), w)
    w32 = np.full((2, 4), 3e38, dtype=np.float32)
    np.testing.assert_array_equal(B.ternarize(w32), w32)


def test_pow2_penalty_at_tiny_scale_is_a_clear_error_or_the_unit_scale_penalty():
    unit = R.pow2_penalty(4, "gaussian", 2.0**-40)  # power-of-two scale: the same position between powers of two
    ref = R.pow2_penalty(4, "gaussian", 1.0)
    assert unit["penalty_best"] == pytest.approx(ref["penalty_best"], rel=1e-9)
    with pytest.raises(ValueError, match="scale"):
        R.pow2_penalty(4, "gaussian", 1e-300)  # the MSE (1e-600) is below float64: used to raise ZeroDivisionError


def test_flags_are_type_checked():
    w = np.random.default_rng(3).standard_normal((3, 4))
    with pytest.raises(TypeError, match="return_stats"):
        BC.bias_correct(w, np.round(w), return_stats="no")  # used to return a tuple
    with pytest.raises(TypeError, match="return_scale"):
        B.ternarize(w, return_scale="no")


def test_channel_layout_validates():
    assert channel_layout((2, 3, 4), -1) == (6, 4, 1)
    with pytest.raises(ValueError, match="axis=3"):
        channel_layout((2, 3, 4), 3)
    with pytest.raises(TypeError, match="shape"):
        channel_layout("abc", None)
    with pytest.raises(ValueError, match=r"shape\[1\]"):
        channel_layout((2, -3), None)


# ---------------------------------------------------------------- clipping and imc
def test_heavy_tailed_distributions_have_no_finite_mse():
    import refquant.clipping as C

    with pytest.raises(ValueError, match="dist=.*cauchy.*infinite"):
        C.mse_aciq(1.5, 4, stats.cauchy())  # used to return -13.79
    with pytest.raises(ValueError, match="dist=.*t.*infinite"):
        C.mse_exact(1.5, 4, stats.t(1.5), return_error=True)  # used to return -7.33 +- 3.5e-10
    with pytest.raises(ValueError, match="dist=.*infinite"):
        C.optimal_clip(4, stats.cauchy())  # used to blame alpha


def test_invalid_frozen_distribution_is_rejected_naming_dist():
    import refquant.clipping as C

    with pytest.raises(ValueError, match="dist=scipy.stats.norm.*invalid parameters"):
        C.mse_aciq(1.5, 4, stats.norm(0, -1))  # used to return 0.0029
    with pytest.raises(ValueError, match="dist=scipy.stats.norm.*invalid parameters"):
        C.optimal_clip(4, stats.norm(0, -1))  # used to blame alpha
    with pytest.raises(TypeError, match="dist"):
        C.mse_aciq(1.5, 4, stats.poisson(3.0))


def test_mse_aciq_at_tiny_and_huge_scale():
    import refquant.clipping as C

    # alpha = 1.5 >> scale = 1e-300: nothing is clipped, the MSE is the rounding term alpha^2 / (3 * 4^M) exactly
    assert float(C.mse_aciq(1.5, 4, "gaussian", 1e-300)) == 1.5**2 / (3 * 4.0**4)  # used to be nan
    # a power-of-two scale: the MSE scales by its square, exactly in the model's terms
    base = float(C.mse_aciq(1.5, 4, "gaussian", 1.0))
    assert float(C.mse_aciq(1.5 * 2.0**400, 4, "gaussian", 2.0**400)) == pytest.approx(base * 2.0**800, rel=1e-14)
    with pytest.raises(ValueError, match="outside the float64 range"):
        C.mse_aciq(1e-300, 4, "gaussian", 1e-300)  # 1e-600 is not a float64


def test_optimal_clip_empirical_near_the_float_limit_is_scale_equivariant():
    import refquant.clipping as C

    x = np.random.default_rng(4).standard_normal((3, 40))
    want = C.optimal_clip_empirical(x, 4, axis=0, n_candidates=30)
    for f in (1000, -1000):  # 2**-1000 keeps these values normal: the same values, exactly rescaled
        got = C.optimal_clip_empirical(np.ldexp(x, f), 4, axis=0, n_candidates=30)
        np.testing.assert_array_equal(np.ldexp(got, -f), want)
    assert float(C.optimal_clip_empirical(np.full(8, 1e308), 4)) == 1e308


def test_imc_operands_and_adc_inputs_are_checked():
    import refquant.imc as M

    spec = M.CrossbarSpec(rows=8, input_bits=3, weight_bits=3, adc=M.ADCSpec(6))
    x = np.array([[1, 2, 3, 0], [3, 3, 0, 1]])
    w = np.array([[1, -2], [3, 0], [-3, 1], [2, 2]])
    with pytest.raises(ValueError, match="x_codes has 4 columns but w_codes has 3 rows"):
        M.operand_moments(x, w[:3], spec)  # used to be accepted
    with pytest.raises(ValueError, match="a contains 1 NaN"):
        M.adc_convert([0.0, np.nan], spec)  # used to give code -2**63
    with pytest.raises(ValueError, match="hi - lo"):
        M.ADCSpec(6, range_policy="calibrated", lo=-1e308, hi=1e308)  # imc_matmul used to return [[nan]]


def test_predicted_sqnr_of_a_huge_dot_product_is_immediate():
    import time

    import refquant.imc as M

    spec = M.CrossbarSpec(rows=8, input_bits=3, weight_bits=3, adc=M.ADCSpec(6))
    m = M.operand_moments(np.array([[1, 2, 3, 0], [3, 3, 0, 1]]), np.array([[1, -2], [3, 0], [-3, 1], [2, 2]]), spec)
    t0 = time.perf_counter()
    big = M.predicted_sqnr(spec, 2**40, m)  # used to build one list entry per tile
    assert time.perf_counter() - t0 < 5.0
    assert np.isfinite(big)
    # identical tiles are grouped. With n independent full tiles of error variance v and mean b the noise is
    # n v + (n b)^2 (the tile biases add coherently); v and b^2 follow from the small cases n = 1 and n = 2,
    # which go through the per-tile path, so the grouped value at n = 2^37 is checked against them.
    from refquant.imc.theory import _multibit_noise

    n1, n2 = (_multibit_noise(spec, t * spec.rows, m, False, True) for t in (1, 2))
    b2 = (n2 - 2 * n1) / 2
    v = n1 - b2
    n = 2**40 // spec.rows
    assert _multibit_noise(spec, 2**40, m, False, True) == pytest.approx(n * v + n * n * b2, rel=1e-9)
