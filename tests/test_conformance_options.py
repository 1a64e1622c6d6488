"""Checker options that fit real backends: each option is shown to reach the candidate, and a candidate
that gets it wrong is caught (planted bugs).

Options: pinned zero point, fixed or supplied scale, calibrate=, quant_cases pass-through (power-of-two
scales, sizes, subnormals, magnitude cap), restricted specs, Unsupported, strict signed zero,
check_calibration, and the size of a reported counterexample.
"""

from __future__ import annotations

import ast
import functools
import pathlib
import time

import numpy as np
import pytest

import refquant as rq
from refquant import QuantSpec
from refquant.testing import (
    EXACT,
    STRICT,
    ConformanceError,
    Tolerance,
    Unsupported,
    check_calibration,
    check_dequantize,
    check_fake_quant,
    check_quantize,
)

N = 60
INT8 = [QuantSpec(8), QuantSpec(8, narrow_range=True)]


def _naive_fq(x, s, z, spec):
    """An independent NumPy fake-quant (half-even, divide or reciprocal) with the zero point added after rounding."""
    cdt = spec.resolve_compute_dtype(np.asarray(x).dtype)
    x = np.asarray(x).astype(cdt)
    shape = [1] * x.ndim
    if spec.axis is not None:
        shape[spec.axis] = -1
    s = np.asarray(s, cdt).reshape(shape)
    z = np.asarray(z, cdt).reshape(shape)
    with np.errstate(over="ignore"):  # a huge x/s saturates at the clamp, as the contract says
        v = x / s if spec.scale_op == "divide" else x * (cdt.type(1) / s)
    q = np.clip(np.rint(v) + z, spec.qmin, spec.qmax)
    return (q - z) * s


def _recorder(fn):
    seen = []

    def cand(x, s, z, spec):
        seen.append((np.asarray(x).copy(), s, z, spec))
        return fn(x, s, z, spec)

    return cand, seen


# ---------------------------------------------------------------- zero point
def test_pinned_zero_point_reaches_the_candidate():
    cand, seen = _recorder(_naive_fq)
    check_fake_quant(cand, specs=INT8, zero_point=0, max_examples=N)
    assert seen and all(np.all(np.asarray(z) == 0) for _, _, z, _ in seen)


def test_symmetric_only_candidate_passes_pinned_and_fails_unpinned():
    def symmetric(x, s, z, spec):  # a backend without zero points: z is ignored
        return _naive_fq(x, s, 0, spec)

    check_fake_quant(symmetric, specs=INT8, zero_point=0, max_examples=N)
    with pytest.raises(ConformanceError, match="zero_point"):
        check_fake_quant(symmetric, specs=INT8, max_examples=N, shrink_seconds=1.0)


def test_candidate_ignoring_a_pinned_nonzero_zero_point_is_caught():
    with pytest.raises(ConformanceError, match="zero_point: 3"):
        check_quantize(
            lambda x, s, z, spec: rq.quantize(x, s, 0, spec),
            specs=INT8,
            zero_point=3,
            max_examples=N,
            shrink_seconds=1.0,
        )


def test_pinned_zero_point_outside_a_spec_range_is_an_error():
    with pytest.raises(ValueError, match="zero_point=-3 is outside"):
        check_fake_quant(rq.fake_quant, specs=[QuantSpec(8, signed=False)], zero_point=-3, max_examples=5)


# ---------------------------------------------------------------- scale
def test_fixed_scale_reaches_the_candidate_and_one_ignoring_it_is_caught():
    cand, seen = _recorder(rq.fake_quant)
    check_fake_quant(cand, specs=INT8, scale=0.1, dtype=np.float32, max_examples=N)
    assert seen and all(np.all(np.asarray(s) == np.float32(0.1)) for _, s, _, _ in seen)

    # a candidate that hard-codes its own scale conforms only when that is the pinned one
    def own(x, s, z, spec):
        return (
            rq.fake_quant(x, np.float32(0.1), z, spec.replace(axis=None))
            if spec.axis is None
            else rq.fake_quant(x, np.full(np.shape(s), np.float32(0.1)), z, spec)
        )

    check_fake_quant(own, specs=INT8, scale=0.1, dtype=np.float32, max_examples=N)
    with pytest.raises(ConformanceError, match="scale: 0.25"):
        check_fake_quant(own, specs=INT8, scale=0.25, dtype=np.float32, max_examples=N, shrink_seconds=1.0)


def test_callable_scale_is_computed_from_the_drawn_x():
    def calib(x, spec):
        return rq.calibrate_minmax(x, spec)[0]

    cand, seen = _recorder(rq.fake_quant)
    check_fake_quant(cand, specs=INT8, scale=calib, zero_point=0, max_examples=N)
    for x, s, _, spec in seen:
        assert np.array_equal(np.asarray(s), np.asarray(rq.calibrate_minmax(x, spec)[0]))

    def own_calibration(x, s, z, spec):  # a backend that calibrates internally, 1 ulp off
        s_own = np.nextafter(np.asarray(calib(x, spec)), np.inf)
        return rq.fake_quant(x, s_own[()] if s_own.ndim == 0 else s_own, z, spec)

    with pytest.raises(ConformanceError):
        check_fake_quant(own_calibration, specs=INT8, scale=calib, zero_point=0, max_examples=N, shrink_seconds=1.0)


def test_calibrate_supplies_scale_and_zero_point():
    calib = functools.partial(rq.calibrate_minmax, symmetric=False)
    cand, seen = _recorder(rq.quantize)
    check_quantize(cand, specs=[QuantSpec(8, signed=False)], calibrate=calib, max_examples=N)
    for x, s, z, spec in seen:
        s_ref, z_ref = calib(x, spec)
        assert np.array_equal(np.asarray(s), np.asarray(s_ref)) and np.array_equal(np.asarray(z), np.asarray(z_ref))
    with pytest.raises(ValueError, match="calibrate supplies both"):
        check_quantize(rq.quantize, calibrate=calib, zero_point=0)


# ---------------------------------------------------------------- quant_cases options pass through
def test_strategy_options_reach_the_candidate():
    cand, seen = _recorder(rq.fake_quant)
    check_fake_quant(
        cand,
        specs=INT8,
        power_of_two_scales=True,
        max_dims=1,
        max_side=3,
        allow_subnormal=False,
        max_magnitude=1000.0,
        dtype=np.float64,
        per_channel=False,
        max_examples=N,
    )
    assert seen
    for x, s, _z, spec in seen:
        m, _ = np.frexp(float(s))
        assert m == 0.5  # a power of two
        assert x.ndim == 1 and x.shape[0] <= 3 and x.dtype == np.float64
        assert np.all(np.abs(x) <= 1000.0)
        tiny = np.finfo(np.float64).tiny
        assert not np.any((x != 0) & (np.abs(x) < tiny))
        assert spec in INT8 and spec.axis is None


def test_spec_list_strategy_and_single_spec_are_accepted():
    from refquant.testing import quant_specs

    for specs in (
        INT8,
        INT8[0],
        quant_specs(
            min_bits=8, max_bits=8, signed=True, roundings=["half_even"], scale_ops=["divide"], compute_dtypes=[None]
        ),
    ):
        cand, seen = _recorder(rq.fake_quant)
        check_fake_quant(cand, specs=specs, max_examples=10)
        assert {sp.replace(axis=None) for *_, sp in seen} <= set(INT8)
    with pytest.raises(TypeError, match="specs"):
        check_fake_quant(rq.fake_quant, specs="int8")
    with pytest.raises(TypeError, match=r"specs\[1\]"):
        check_fake_quant(rq.fake_quant, specs=[QuantSpec(8), 8])


# ---------------------------------------------------------------- Unsupported
def test_unsupported_storm_fails_with_a_clear_message():
    def declines_everything(x, s, z, spec):
        raise Unsupported("not my backend")

    with pytest.raises(ConformanceError, match="declined every case") as ei:
        check_fake_quant(declines_everything, max_examples=N, shrink_seconds=1.0)
    assert "not my backend" in str(ei.value)
    with pytest.raises(ConformanceError, match="declined every case"):
        check_fake_quant(declines_everything, max_examples=N, max_unsupported=1.0, shrink_seconds=1.0)


def test_more_unsupported_than_allowed_fails():
    def per_tensor_only(x, s, z, spec):
        if spec.axis is not None:
            raise Unsupported("per-channel")
        return rq.fake_quant(x, s, z, spec)

    with pytest.raises(ConformanceError, match=r"more than max_unsupported=0.1"):
        check_fake_quant(per_tensor_only, max_examples=N, max_unsupported=0.1, shrink_seconds=1.0)


def test_a_few_unsupported_cases_are_counted_and_reported():
    def no_wide_codes(x, s, z, spec):
        if spec.bits > 12:
            raise Unsupported("bits > 12")
        return rq.fake_quant(x, s, z, spec)

    rep = check_fake_quant(no_wide_codes, max_examples=N)
    assert 0 < rep.unsupported < rep.cases and rep.compared == rep.cases - rep.unsupported
    assert rep.reasons["bits > 12"] == rep.unsupported
    assert "unsupported" in rep.summary() and "bits > 12" in rep.summary()


def test_unsupported_does_not_hide_a_bug_in_the_supported_cases():
    def buggy_when_supported(x, s, z, spec):
        if spec.axis is not None:
            raise Unsupported("per-channel")
        return np.asarray(rq.fake_quant(x, s, z, spec)) + 1.0

    with pytest.raises(ConformanceError, match="element"):
        check_fake_quant(buggy_when_supported, max_examples=N, shrink_seconds=1.0)


# ---------------------------------------------------------------- signed zero
def test_strict_signed_zero_is_the_default_and_catches_minus_zero():
    def symmetric_rint(x, s, z, spec):  # rint(-0.4) * s = -0.0 where the contract promises +0.0
        cdt = spec.resolve_compute_dtype(np.asarray(x).dtype)
        with np.errstate(over="ignore"):
            v = np.asarray(x).astype(cdt) / cdt.type(s)
        return np.clip(np.rint(v), spec.qmin, spec.qmax) * cdt.type(s)

    kw = dict(specs=INT8, zero_point=0, per_channel=False, max_examples=N)
    with pytest.raises(ConformanceError, match=r"signed zeros distinguished[\s\S]*candidate = -0.0"):
        check_fake_quant(symmetric_rint, **kw, shrink_seconds=1.0)
    check_fake_quant(symmetric_rint, tolerance=EXACT, **kw)

    def deq_minus_zero(codes, s, z, spec):
        y = np.asarray(rq.dequantize(codes, s, z, spec)).copy()
        y[y == 0] = -0.0
        return y

    with pytest.raises(ConformanceError, match="candidate = -0.0"):
        check_dequantize(deq_minus_zero, specs=INT8, zero_point=0, max_examples=N, shrink_seconds=1.0)
    check_dequantize(deq_minus_zero, specs=INT8, zero_point=0, max_examples=N, tolerance=EXACT)


def test_tolerance_rejects_bad_values_by_name():
    for kw, name in [
        ({"rtol": float("nan")}, "rtol"),
        ({"atol": -1e-9}, "atol"),
        ({"rtol": float("inf")}, "rtol"),
        ({"ulps": -1}, "ulps"),
    ]:
        with pytest.raises(ValueError, match=name):
            Tolerance("rel", **kw)
    with pytest.raises(TypeError, match="ulps"):
        Tolerance("ulp", ulps=1.5)
    with pytest.raises(TypeError, match="signed_zero"):
        Tolerance(signed_zero=1)
    assert STRICT.signed_zero and not EXACT.signed_zero


# ---------------------------------------------------------------- check_calibration
def test_check_calibration_accepts_the_reference_and_catches_one_ulp():
    check_calibration(rq.calibrate_minmax, max_examples=N)

    def one_ulp_up(x, spec):
        s, z = rq.calibrate_minmax(x, spec)
        s2 = np.nextafter(np.asarray(s), np.inf)
        return (s2[()] if s2.ndim == 0 else s2), z

    with pytest.raises(ConformanceError, match="calibration scale"):
        check_calibration(one_ulp_up, max_examples=N, shrink_seconds=1.0)


def test_check_calibration_catches_stepwise_float32_arithmetic():
    """amax / qmax computed in float32 (PyTorch's observer style) is 1 ulp off the correctly rounded scale
    for some ranges."""

    def stepwise(x, spec):
        x = np.asarray(x, np.float32)
        amax = np.float32(max(np.max(np.abs(x)), 0.0))
        s = amax / np.float32(spec.qmax) if amax > 0 else np.float32(1.0)
        return np.maximum(s, np.finfo(np.float32).tiny).astype(np.float32), 0

    spec = [QuantSpec(8, compute_dtype="float32")]
    with pytest.raises(ConformanceError, match="calibration scale"):
        check_calibration(stepwise, spec, per_channel=False, dtype=np.float64, max_examples=200, shrink_seconds=1.0)


def test_check_calibration_with_another_reference_and_zero_point():
    asym = functools.partial(rq.calibrate_minmax, symmetric=False)
    check_calibration(asym, reference=asym, max_examples=N)

    def z_off(x, spec):
        s, z = asym(x, spec)
        return s, np.asarray(z) + 1

    with pytest.raises(ConformanceError, match="zero point"):
        check_calibration(z_off, reference=asym, max_examples=N, shrink_seconds=1.0)


# ---------------------------------------------------------------- small counterexamples, fast
@pytest.mark.parametrize("per_channel", [True, None])
def test_failure_is_reported_with_a_tiny_counterexample_quickly(per_channel):
    def bad_above(x, s, z, spec):
        y = np.asarray(rq.fake_quant(x, s, z, spec)).copy()
        y[np.asarray(x) >= 1000] += 1
        return y

    t0 = time.perf_counter()
    with pytest.raises(ConformanceError) as ei:
        check_fake_quant(bad_above, per_channel=per_channel, max_examples=200, shrink_seconds=5.0)
    elapsed = time.perf_counter() - t0
    msg = str(ei.value)
    shape = msg.split("x dtype/shape: ")[1].splitlines()[0].split(" ", 1)[1]
    size = int(np.prod(ast.literal_eval(shape)))
    assert size <= 4, msg
    # the former behaviour took minutes and stopped at 6x6x6 arrays; generous bound for a loaded machine
    assert elapsed < 120, elapsed


# ---------------------------------------------------------------- public names
def test_testing_all_is_an_explicit_list():
    import refquant.testing as t

    src = pathlib.Path(t.__file__).read_text()
    tree = ast.parse(src)
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(tg, "id", "") == "__all__" for tg in n.targets)
    )
    assert isinstance(node.value, ast.List) and all(isinstance(e, ast.Constant) for e in node.value.elts)
    names = [e.value for e in node.value.elts]
    assert len(names) == len(set(names))
    for required in (
        "golden",
        "run_property",
        "Unsupported",
        "check_calibration",
        "STRICT",
        "CheckReport",
        "check_fake_quant",
        "check_quantize",
        "check_dequantize",
        "check_signed_binarize",
        "check_repetition_matmul",
        "check_imc_matmul",
        "check_kurtosis",
        "check_kure_grad",
        "check_mse_exact",
        "check_optimal_clip",
    ):
        assert required in names, required
    for n in names:
        getattr(t, n)


def test_fixture_exposes_the_new_checker_and_options(refquant_check):
    rep = refquant_check.fake_quant(rq.fake_quant, specs=INT8, zero_point=0, max_examples=10)
    assert rep.compared == 10
    assert refquant_check.calibration(rq.calibrate_minmax, INT8, max_examples=10).compared == 10
    assert "calibration" in dir(refquant_check)


def test_docstring_examples_of_the_checkers_run():
    import doctest

    import refquant.testing._compare as cmp
    import refquant.testing.conformance as conf

    for mod in (conf, cmp):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
        assert res.attempted > 0 and res.failed == 0, mod.__name__


# ---------------------------------------------------------------- quant_specs knobs with cross-field rules
def test_quant_specs_draws_knobs_that_need_other_fields():
    """A knob value that is valid only beside another field ("fused" zero points need the reciprocal, blocks need an
    axis, one-code grids refuse range_reciprocal) is drawn with it; options that allow no valid spec fail at build."""
    from hypothesis import given, settings

    from refquant.testing import quant_specs

    seen = []

    @settings(max_examples=80, database=None, derandomize=True)
    @given(quant_specs(zero_point_ops=["fused", "after_round"]))
    def draw_fused(spec):
        seen.append(spec)

    draw_fused()
    fused = [sp for sp in seen if sp.zero_point_op.value == "fused"]
    assert fused and all(sp.scale_op.value == "reciprocal" for sp in fused)
    assert any(sp.zero_point_op.value == "after_round" and sp.scale_op.value == "divide" for sp in seen)

    seen.clear()

    @settings(max_examples=60, database=None, derandomize=True)
    @given(quant_specs(min_bits=1, max_bits=1, scale_ops=["range_reciprocal"]))
    def draw_one_bit(spec):
        seen.append(spec)

    draw_one_bit()  # bits=1, unsigned, narrow_range has a single code: never drawn, never an error
    assert seen and all(sp.qmax > sp.qmin for sp in seen)

    for kw, words in [
        (dict(zero_point_ops=["fused"], scale_ops=["divide"]), "zero_point_ops"),
        (dict(block_sizes=[4]), "block_sizes"),
        (dict(domains=["float_centered"], zero_point_ops=["before_round"]), "domains"),
    ]:
        with pytest.raises(ValueError, match=words):
            quant_specs(**kw)
    with pytest.raises(ValueError, match=r"zero_point_ops\[1\]"):
        quant_specs(zero_point_ops=["after_round", "bogus"])
    with pytest.raises(TypeError, match="zero_point_ops"):
        quant_specs(zero_point_ops="fused")
    quant_specs(domain=["code"])  # a field named by its own name (no plural "s") is a knob too
    with pytest.raises(ValueError, match="zero_point_op,"):  # the caller's keyword, as given
        quant_specs(zero_point_op=["fused"], scale_ops=["divide"])
