"""Tests for refquant.uniform (the uniform affine quantizer).

Test strategy
-------------
* Known values: tie tables for every rounding mode and both scale
  operations, computed by hand (x/s = ±0.5, ±1.5, ±2.5); the divide vs
  reciprocal split at x = 4.075 (float32, s = 0.05) that PyTorch exhibits
  (measured with torch 2.13.0: torch.fake_quantize_per_tensor_affine
  gives 4.1); code ranges from an
  exhaustive two's-complement enumeration.
* Properties (Hypothesis, strategies from refquant.testing): codes in range,
  idempotence, the ±s/2 error bound, monotonicity, per-channel = per-tensor
  slice by slice, dequantize∘quantize = fake_quant bit for bit, no input
  mutation.
* Oracles: the Numba kernel vs the plain-NumPy twin bit for bit (marked
  ``kernel``; also run with NUMBA_DISABLE_JIT=1 by test_nojit.py); exact
  rational arithmetic (fractions.Fraction) for the rounding of v = x/s.
* Statistics: stochastic rounding is unbiased (z-test, |z| < 5, i.e. a
  two-sided false-alarm rate of 5.7e-7 per check, fixed seeds).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import refquant as rq
from refquant import QuantSpec
from refquant._reference import uniform as twin
from refquant.testing import quant_cases, quant_specs

TIES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
# Hand-computed expected codes for x/s = TIES (s = 1, z = 0).
TIE_TABLE = {
    "half_even": [-2, -2, 0, 0, 2, 2],
    "half_away": [-3, -2, -1, 1, 2, 3],
    "half_up": [-2, -1, 0, 1, 2, 3],
    "floor": [-3, -2, -1, 0, 1, 2],
}
MODES = list(TIE_TABLE)


def bits_of(a: np.ndarray) -> np.ndarray:
    """View floats as unsigned ints so that == compares bit patterns (incl. the sign of zero)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def cdtype_of(case) -> np.dtype:
    return case.spec.resolve_compute_dtype(case.x.dtype)


def x_in_compute_dtype(case) -> np.ndarray:
    """x rounded to the compute dtype (float64 -> float32 may overflow to inf: the contract's step 1)."""
    with np.errstate(over="ignore"):
        return case.x.astype(cdtype_of(case))


def twin_codes(case, u=None):
    xc = x_in_compute_dtype(case)
    axis = None if case.spec.axis is None else case.spec.axis % case.x.ndim
    return twin.quantize_codes(
        xc,
        np.atleast_1d(case.scale),
        np.atleast_1d(case.zero_point),
        case.spec.qmin,
        case.spec.qmax,
        case.spec.rounding.value,
        case.spec.scale_op.value,
        axis,
        u,
    )


# ---------------------------------------------------------------- known values
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scale_op", ["divide", "reciprocal"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tie_table(mode, scale_op, dtype):
    spec = QuantSpec(8, rounding=mode, scale_op=scale_op)
    for s in (1.0, 0.25, 4.0):  # powers of two: x = t*s and x/s are exact
        x = (TIES * s).astype(dtype)
        assert rq.quantize(x, s, 0, spec).tolist() == TIE_TABLE[mode]
        assert rq.fake_quant(x, s, 0, spec).tolist() == [c * s for c in TIE_TABLE[mode]]


@pytest.mark.parametrize("mode", MODES)
def test_tie_table_with_zero_point(mode):
    spec = QuantSpec(8, signed=False, rounding=mode)
    z = 100
    assert rq.quantize(TIES, 1.0, z, spec).tolist() == [c + z for c in TIE_TABLE[mode]]


def test_fake_quant_zero_is_positive_zero():
    # -0.4 rounds to -0.0; the code is the integer 0; its dequantized value is +0.0
    y = rq.fake_quant(np.array([-0.4, -0.0], np.float32), 1.0, 0, QuantSpec(8))
    assert bits_of(y).tolist() == [0, 0]


def test_divide_vs_reciprocal_split_like_pytorch():
    # float32 x = 4.075, s = 0.05: x/s = 81.49999 -> 81, x*(1/s) = 81.5 -> 82 (half-even).
    # Measured with torch 2.13.0: torch.fake_quantize_per_tensor_affine gives 4.1 (the reciprocal's 82 * 0.05).
    x = np.array([4.075, -4.575], dtype=np.float32)
    s = np.float32(0.05)
    div = rq.quantize(x, s, 0, QuantSpec(8, scale_op="divide"))
    rec = rq.quantize(x, s, 0, QuantSpec(8, scale_op="reciprocal"))
    assert div.tolist() == [81, -91]
    assert rec.tolist() == [82, -92]
    assert rq.fake_quant(x, s, 0, QuantSpec(8, scale_op="reciprocal"))[0] == np.float32(82) * s


def test_floor_of_almost_half_is_not_rounded_up():
    # 0.5 - 2**-54 (= 0.49999999999999994) is below the tie; floor(v + 0.5) would give 1.
    v = 0.5 - 2.0**-54
    for mode in ("half_away", "half_up", "half_even"):
        assert rq.quantize([v, -v], 1.0, 0, QuantSpec(8, rounding=mode)).tolist() == [0, 0]


def _twos_complement_range(bits: int) -> tuple[int, int]:
    vals = [(p - (1 << bits)) if p >> (bits - 1) else p for p in range(1 << bits)]
    return min(vals), max(vals)


@pytest.mark.parametrize("bits", range(1, 17))
def test_code_ranges_exhaustive(bits):
    lo, hi = _twos_complement_range(bits)
    assert (QuantSpec(bits).qmin, QuantSpec(bits).qmax) == (lo, hi)
    assert (QuantSpec(bits, signed=False).qmin, QuantSpec(bits, signed=False).qmax) == (0, (1 << bits) - 1)
    assert QuantSpec(bits, signed=False, narrow_range=True).qmax == (1 << bits) - 2
    if bits >= 2:
        assert QuantSpec(bits, narrow_range=True).qmin == lo + 1 == -hi
    for signed in (True, False):
        spec = QuantSpec(bits, signed=signed)
        info = np.iinfo(spec.code_dtype)
        assert info.min <= spec.qmin and spec.qmax <= info.max
        assert info.bits == (8 if bits <= 8 else 16)


@pytest.mark.parametrize("bits", [2, 3, 8])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_every_code_round_trips_exactly(bits, signed, mode):
    """All codes of small grids: dequantize then quantize returns the code (power-of-two scale)."""
    spec = QuantSpec(bits, signed=signed, rounding=mode)
    codes = np.arange(spec.qmin, spec.qmax + 1).astype(spec.code_dtype)
    z = (spec.qmin + spec.qmax) // 2
    y = rq.dequantize(codes, 0.125, z, spec)
    assert np.array_equal(rq.quantize(y, 0.125, z, spec), codes)


@pytest.mark.parametrize("scale_op", ["divide", "reciprocal"])
@pytest.mark.parametrize("mode", MODES)
def test_rounding_matches_exact_rational_arithmetic(mode, scale_op):
    """Codes equal rounding of the correctly rounded v computed with Fractions."""
    rng = np.random.default_rng(7)
    s = np.float64(0.1)  # not a power of two: v = x/s is inexact
    x = np.concatenate([rng.uniform(-12, 12, 400), (np.arange(-10, 10) + 0.5) * s])
    spec = QuantSpec(16, rounding=mode, scale_op=scale_op, compute_dtype="float64")
    got = rq.quantize(x, s, 0, spec)
    r = np.float64(1.0) / s  # the reciprocal, rounded once, as the contract says
    for xi, gi in zip(x, got):
        v = float(xi / s) if scale_op == "divide" else float(xi * r)
        fv = Fraction(v)
        fl = math.floor(fv)
        frac = fv - fl
        if mode == "floor":
            want = fl
        elif frac != Fraction(1, 2):
            want = fl + (1 if frac > Fraction(1, 2) else 0)
        elif mode == "half_even":
            want = fl + (fl % 2)
        elif mode == "half_up":
            want = fl + 1
        else:  # half_away
            want = fl + 1 if fv > 0 else fl
        assert gi == want, (xi, v, gi, want)


# ---------------------------------------------------------------- properties
@given(quant_cases())
def test_codes_in_range_and_dtype(case):
    q = rq.quantize(case.x, case.scale, case.zero_point, case.spec, nonfinite="saturate")
    assert q.dtype == case.spec.code_dtype and q.shape == case.x.shape
    assert q.min() >= case.spec.qmin and q.max() <= case.spec.qmax


RTN = ["half_even", "half_away", "half_up"]


@given(quant_cases(specs=quant_specs(roundings=RTN)))
def test_idempotent_round_to_nearest(case):
    y = rq.fake_quant(case.x, case.scale, case.zero_point, case.spec, nonfinite="saturate")
    y2 = rq.fake_quant(y, case.scale, case.zero_point, case.spec)
    assert np.array_equal(bits_of(y), bits_of(y2))


@given(quant_cases(specs=quant_specs(roundings=["floor"]), power_of_two_scales=True))
def test_idempotent_floor_with_power_of_two_scales(case):
    # With arbitrary scales (q - z)*s/s can land 1 ulp below an integer and floor drops a code:
    # idempotence of floor holds exactly only when the scale is a power of two (docs/SEMANTICS.md).
    y = rq.fake_quant(case.x, case.scale, case.zero_point, case.spec, nonfinite="saturate")
    y2 = rq.fake_quant(y, case.scale, case.zero_point, case.spec)
    assert np.array_equal(bits_of(y), bits_of(y2))


def _in_range_error_check(case, bound_factor):
    cdt = cdtype_of(case)
    spec = case.spec
    y = rq.fake_quant(case.x, case.scale, case.zero_point, spec, nonfinite="saturate").astype(np.float64)
    with np.errstate(over="ignore"):
        xc = case.x.astype(cdt).astype(np.float64)
    axis = None if spec.axis is None else spec.axis % case.x.ndim
    shape = [1] * case.x.ndim
    if axis is not None:
        shape[axis] = -1
    s = np.asarray(case.scale, dtype=cdt).astype(np.float64).reshape(shape if axis is not None else ())
    z = np.asarray(case.zero_point, dtype=np.float64).reshape(shape if axis is not None else ())
    lo, hi = (spec.qmin - z) * s, (spec.qmax - z) * s
    inside = np.isfinite(xc) & (xc >= lo) & (xc <= hi)
    eps = float(np.finfo(cdt).eps)
    # Tolerance: v = x/s (or x*r) carries <= 2 roundings (relative eps each) and the product (q-z)*s one more,
    # so the computed error may exceed the exact bound by a few ulps of max(|x|, s).
    slack = 4 * eps * (np.abs(xc) + s)
    err = np.abs(xc - y)
    assert np.all(
        err[np.broadcast_to(inside, err.shape)] <= (bound_factor * np.broadcast_to(s, err.shape) + slack)[inside]
    )


@given(quant_cases(specs=quant_specs(roundings=RTN)))
def test_error_at_most_half_step_inside_range(case):
    _in_range_error_check(case, 0.5)


@given(quant_cases(specs=quant_specs(roundings=["floor"])))
def test_error_below_one_step_for_floor(case):
    _in_range_error_check(case, 1.0)


@given(quant_cases(per_channel=False))
def test_monotone_non_decreasing(case):
    x = np.sort(case.x.reshape(-1))
    x = x[np.isfinite(x)]
    assume(x.size > 1)
    q = rq.quantize(x, case.scale, case.zero_point, case.spec.replace(axis=None), nonfinite="saturate")
    assert np.all(np.diff(q.astype(np.int64)) >= 0)
    y = rq.fake_quant(x, case.scale, case.zero_point, case.spec.replace(axis=None), nonfinite="saturate")
    assert np.all(np.diff(y) >= 0)


@given(quant_cases(per_channel=True))
def test_per_channel_equals_per_tensor_slice_by_slice(case):
    spec = case.spec
    axis = spec.axis % case.x.ndim
    q = rq.quantize(case.x, case.scale, case.zero_point, spec, nonfinite="saturate")
    y = rq.fake_quant(case.x, case.scale, case.zero_point, spec, nonfinite="saturate")
    for c in range(case.x.shape[axis]):
        sl = np.take(case.x, c, axis=axis)
        one = spec.replace(axis=None)
        assert np.array_equal(
            np.take(q, c, axis=axis), rq.quantize(sl, case.scale[c], case.zero_point[c], one, nonfinite="saturate")
        )
        assert np.array_equal(
            bits_of(np.take(y, c, axis=axis)),
            bits_of(rq.fake_quant(sl, case.scale[c], case.zero_point[c], one, nonfinite="saturate")),
        )


@given(quant_cases())
def test_dequantize_of_quantize_is_fake_quant_bitwise(case):
    cdt = cdtype_of(case)
    s = np.asarray(case.scale, dtype=cdt)  # dequantize resolves its compute dtype from the scale's dtype
    q = rq.quantize(case.x, s, case.zero_point, case.spec, nonfinite="saturate")
    y = rq.fake_quant(case.x, s, case.zero_point, case.spec, nonfinite="saturate")
    d = rq.dequantize(q, s, case.zero_point, case.spec)
    assert d.dtype == y.dtype == cdt
    assert np.array_equal(bits_of(d), bits_of(y))


@given(quant_cases(specs=quant_specs(roundings=MODES + ["stochastic"])))
def test_inputs_not_modified(case):
    x0 = case.x.copy()
    s0 = np.array(case.scale, copy=True)
    z0 = np.array(case.zero_point, copy=True)
    rng = 3 if case.spec.rounding.value == "stochastic" else None
    q = rq.quantize(case.x, case.scale, case.zero_point, case.spec, rng=rng, nonfinite="saturate")
    rq.fake_quant(case.x, case.scale, case.zero_point, case.spec, rng=rng, nonfinite="saturate")
    q0 = q.copy()
    rq.dequantize(q, case.scale, case.zero_point, case.spec)
    assert np.array_equal(bits_of(case.x), bits_of(x0))
    assert np.array_equal(np.asarray(case.scale), s0) and np.array_equal(np.asarray(case.zero_point), z0)
    assert np.array_equal(q, q0)


def test_out_argument():
    x = np.linspace(-3, 3, 1001, dtype=np.float32)
    out = np.empty_like(x)
    y = rq.fake_quant(x, 0.1, 0, QuantSpec(8), out=out)
    assert y is out
    assert np.array_equal(out, rq.fake_quant(x, 0.1, 0, QuantSpec(8)))
    with pytest.raises(ValueError, match="out must be"):
        rq.fake_quant(x, 0.1, 0, QuantSpec(8), out=np.empty(1001, np.float64))
    with pytest.raises(TypeError, match="out must be"):
        rq.fake_quant(x, 0.1, 0, QuantSpec(8), out=[0.0] * 1001)


def test_compute_dtype_selection_and_double_rounding():
    spec = QuantSpec(8)
    assert rq.fake_quant(np.float32([0.3]), 0.1, 0, spec).dtype == np.float32
    assert rq.fake_quant([0.3], 0.1, 0, spec).dtype == np.float64
    assert rq.fake_quant(np.float16([0.3]), 0.1, 0, spec).dtype == np.float64
    assert rq.fake_quant([0.3], 0.1, 0, spec.replace(compute_dtype="float32")).dtype == np.float32
    # float64 input with compute float32 is rounded to float32 first (documented double rounding):
    # 0.15000000000000002 (f64) / 0.1 -> 1.5000000000000002 -> 2 in float64,
    # but float32(0.15000000000000002) / float32(0.1) -> 1.5 exactly -> 2 (half-even): same here, and
    # x = 0.25000000000000006: f64 -> 2.5000000000000004 -> 3 ; f32 -> 2.5 -> 2.
    x = np.array([0.25000000000000006])
    assert rq.quantize(x, 0.1, 0, spec.replace(compute_dtype="float64")).tolist() == [3]
    assert rq.quantize(x, 0.1, 0, spec.replace(compute_dtype="float32")).tolist() == [2]


# ---------------------------------------------------------------- stochastic rounding
def test_stochastic_same_seed_same_bits_and_generator_advances():
    x = np.linspace(-4, 4, 10001)
    spec = QuantSpec(8, rounding="stochastic")
    a = rq.quantize(x, 0.1, 0, spec, rng=42)
    b = rq.quantize(x, 0.1, 0, spec, rng=42)
    assert np.array_equal(a, b)
    g = np.random.default_rng(42)
    c = rq.quantize(x, 0.1, 0, spec, rng=g)
    d = rq.quantize(x, 0.1, 0, spec, rng=g)
    assert np.array_equal(a, c) and not np.array_equal(c, d)
    # stream contract: one uniform per element, C order, rng.random(x.size)
    u = np.random.default_rng(42).random(x.size)
    v = x / 0.1
    assert np.array_equal(a, np.floor(v) + (u < v - np.floor(v)))


@pytest.mark.parametrize("frac", [0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stochastic_rounding_unbiased(frac, dtype):
    n = 200_000
    k = -3
    s = 0.5
    x = np.full(n, (k + frac) * s, dtype=dtype)
    q = rq.quantize(x, s, 0, QuantSpec(8, rounding="stochastic"), rng=12345).astype(np.float64)
    p = float(dtype((k + frac) * s) / dtype(s)) - k  # exact fraction in the compute dtype
    assert set(np.unique(q)) <= {k, k + 1}
    z = (q.mean() - (k + p)) / math.sqrt(p * (1 - p) / n)
    assert abs(z) < 5.0  # two-sided false-alarm rate 5.7e-7


# ---------------------------------------------------------------- kernel vs twin
@pytest.mark.kernel
@given(quant_cases(max_side=5))
def test_kernel_equals_twin_bitwise(case):
    q = rq.quantize(case.x, case.scale, case.zero_point, case.spec, nonfinite="saturate")
    y = rq.fake_quant(case.x, case.scale, case.zero_point, case.spec, nonfinite="saturate")
    qt = twin_codes(case)
    assert np.array_equal(q.astype(np.float64), qt.astype(np.float64))
    axis = None if case.spec.axis is None else case.spec.axis % case.x.ndim
    yt = twin.fake_quant(
        x_in_compute_dtype(case),
        np.atleast_1d(case.scale),
        np.atleast_1d(case.zero_point),
        case.spec.qmin,
        case.spec.qmax,
        case.spec.rounding.value,
        case.spec.scale_op.value,
        axis,
    )
    assert y.dtype == yt.dtype
    assert np.array_equal(bits_of(y), bits_of(yt))


@pytest.mark.kernel
@given(quant_cases(specs=quant_specs(roundings=["stochastic"]), max_side=5), st.integers(0, 2**32))
def test_kernel_equals_twin_stochastic_same_stream(case, seed):
    q = rq.quantize(case.x, case.scale, case.zero_point, case.spec, rng=seed, nonfinite="saturate")
    u = np.random.default_rng(seed).random(case.x.size)
    qt = twin_codes(case, u)
    assert np.array_equal(q.astype(np.float64), qt.astype(np.float64))


@pytest.mark.kernel
@pytest.mark.parametrize("axis", [None, 0, 1, 2])
def test_kernel_chunking_across_channel_boundaries(axis, monkeypatch):
    """Small kernel chunks cut channels mid-way; results must not change."""
    import refquant.uniform as U

    x = np.random.default_rng(0).normal(0, 2, (3, 7, 5)).astype(np.float32)
    spec = QuantSpec(4, axis=axis)
    n = 1 if axis is None else x.shape[axis]
    s = np.linspace(0.1, 0.7, n).astype(np.float32) if axis is not None else np.float32(0.3)
    z = np.arange(n) % 3 if axis is not None else 1
    ref = U.fake_quant(x, s, z, spec)
    monkeypatch.setattr(U, "KERNEL_CHUNK", 4)
    assert np.array_equal(bits_of(U.fake_quant(x, s, z, spec)), bits_of(ref))


# ---------------------------------------------------------------- calibration
@given(quant_cases(specs=quant_specs(roundings=RTN, min_bits=2)), st.booleans(), st.booleans())
def test_calibrate_minmax_covers_range(case, symmetric, power_of_two):
    x = case.x.astype(np.float64)
    assume(np.all(np.isfinite(x)) and np.abs(x).max() < 1e30 and np.abs(x).max() > 1e-30)
    spec = case.spec
    if symmetric and not spec.signed:
        x = np.abs(x)
    s, z = rq.calibrate_minmax(x, spec, symmetric=symmetric, power_of_two=power_of_two)
    if power_of_two:
        m, _ = np.frexp(np.atleast_1d(s))
        assert np.all(m == 0.5)
    if symmetric:
        assert np.all(np.asarray(z) == 0)
    # zero is exactly representable and every x lies within one step of the grid's range
    assert np.all(rq.fake_quant(np.zeros_like(x), s, z, spec) == 0)
    y = rq.fake_quant(x, s, z, spec)
    axis = None if spec.axis is None else spec.axis % x.ndim
    shape = [1] * x.ndim
    if axis is not None:
        shape[axis] = -1
    sb = np.asarray(s, np.float64).reshape(shape if axis is not None else ())
    assert np.all(np.abs(y - x) <= sb * (0.5 if symmetric else 1.0) * (1 + 1e-6) + 1e-12 * np.abs(x))


def test_calibrate_minmax_known_values():
    s, z = rq.calibrate_minmax(np.array([-1.0, 0.5, 2.54]), QuantSpec(8))
    assert s == 2.54 / 127 and z == 0
    s, z = rq.calibrate_minmax(np.array([-1.0, 3.0]), QuantSpec(8, signed=False), symmetric=False)
    assert s == 4.0 / 255 and z == 64  # 0 - round(-1 / (4/255)) = round(63.75) = 64
    s, z = rq.calibrate_minmax(np.array([-1.0, 3.0]), QuantSpec(8), symmetric=False, power_of_two=True)
    # 4/255 = 0.01569 > 2**-6 = 0.015625, so rounding up gives 2**-5; z = -128 - round(-1 / 2**-5) = -96
    assert s == 2.0**-5 and z == -96
    s, z = rq.calibrate_minmax(np.zeros(4), QuantSpec(8))
    assert s == 1.0 and z == 0
    s, z = rq.calibrate_minmax(np.array([[1.0, -2.0], [4.0, 0.5]], np.float32), QuantSpec(8, axis=0))
    assert s.dtype == np.float32 and s.tolist() == [np.float32(2 / 127), np.float32(4 / 127)]
    assert z.tolist() == [0, 0]


def test_calibrate_unsigned_symmetric_rejects_negative_data():
    with pytest.raises(ValueError, match="negative"):
        rq.calibrate_minmax([-1.0, 2.0], QuantSpec(8, signed=False))
