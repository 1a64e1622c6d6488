"""The QuantSpec knobs that reproduce real runtimes: zero_point_op, floor_plus_half, reciprocal_dtype,
scale_op="range_reciprocal", domain="float_shifted" / "float_centered" and block_size.

Test strategy
-------------
* Hand-computed tables at exact ties (power-of-two scales, so every float
  step is exact and the expected codes follow from the definitions by hand).
* Constructed splits: x = 0.5, s = 1, z = 1 (before/after round), float32
  0.49999997 (floor_plus_half vs half_up), hard fused-multiply-add cases found
  by a seeded search where the unfused sum crosses a tie.
* An exact oracle written here with fractions.Fraction and its own
  round-to-nearest-even onto the float grid (neighbour search, independent of
  the twin's rounding helper) for every knob.
* Kernel vs plain-NumPy twin bit for bit over Hypothesis inputs (marked
  ``kernel``; tests/test_nojit.py re-runs them with NUMBA_DISABLE_JIT=1).
* Blocked quantization against a plain Python loop over elements and blocks,
  including the last partial block and per-block zero points.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import refquant as rq
from refquant import QuantSpec
from refquant._reference import uniform as twin
from refquant.testing import quant_cases

TIES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])


def bits_of(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


# ------------------------------------------------------------ exact oracle
def rn(q: Fraction, dt) -> float:
    """Round the rational q to the nearest float of dtype dt, ties to even, by comparing neighbours exactly."""
    dt = np.dtype(dt)
    if q == 0:
        return 0.0
    try:
        c = dt.type(float(q))  # within one ulp of the answer (at most a double rounding away)
    except OverflowError:
        c = dt.type(np.inf if q > 0 else -np.inf)
    if not np.isfinite(c):
        big = Fraction(float(np.finfo(dt).max))
        if abs(q) <= big:  # rounds down to the largest finite value
            c = np.finfo(dt).max * (1 if q > 0 else -1)
        else:
            return float(c)
    best = None
    for cand in (np.nextafter(c, dt.type(-np.inf)), c, np.nextafter(c, dt.type(np.inf))):
        if not np.isfinite(cand):
            continue
        d = abs(Fraction(float(cand)) - q)
        if best is None or d < best[0]:
            best = (d, cand)
        elif d == best[0]:
            even = int(np.asarray(cand).view(np.uint32 if dt == np.float32 else np.uint64)) % 2 == 0
            if even:
                best = (d, cand)
    return float(best[1])


def round_exact(v, mode: str, dt) -> int:
    if isinstance(v, float) or not isinstance(v, Fraction):
        if not math.isfinite(v):
            return 10**9 if v > 0 else -(10**9)  # clamps
        v = Fraction(v)
    f = math.floor(v)
    frac = v - f
    if mode == "half_even":
        return f + (frac > Fraction(1, 2) or (frac == Fraction(1, 2) and f % 2 == 1))
    if mode == "half_away":
        if v >= 0:
            return f + (frac >= Fraction(1, 2))
        return -round_exact(-v, "half_away", dt)
    if mode == "half_up":
        return f + (frac >= Fraction(1, 2))
    if mode == "floor":
        return f
    if mode == "floor_plus_half":
        return math.floor(Fraction(rn(v + Fraction(1, 2), dt)))
    raise AssertionError(mode)


def oracle_code(x: float, s: float, z: int, spec: QuantSpec, dt) -> int:
    """The code of one element by the equation of docs/SEMANTICS.md, every rounding done explicitly."""
    F = Fraction
    xs, ss = F(float(x)), F(float(s))
    if spec.scale_op.value == "reciprocal":
        rdt = dt if spec.reciprocal_dtype is None else np.dtype(spec.reciprocal_dtype)
        r = F(rn(F(1) / F(rn(ss, rdt)), rdt))
        r = F(rn(r, dt))
    elif spec.scale_op.value == "range_reciprocal":
        span = spec.qmax - spec.qmin  # the range from the scale as passed: fl(fl64(s*L)), then fl(L / range)
        rng_ = F(rn(F(rn(ss * span, np.float64)), dt))
        r = F(rn(F(span) / rng_, dt))
    ss = F(rn(ss, dt))  # every other use of the scale is its value in the compute dtype
    mode = spec.rounding.value
    if spec.domain.value in ("float_shifted", "float_centered"):
        lo = F(rn((spec.qmin - z) * ss, dt))
        hi = F(rn((spec.qmax - z) * ss, dt))
        w = F(rn(min(max(xs, lo), hi) - lo, dt))
        v = F(rn(w / ss if spec.scale_op.value == "divide" else w * r, dt))
        if spec.domain.value == "float_shifted":
            q = round_exact(v, mode, dt) + spec.qmin
        else:  # re-centred: v - (z - qmin), one rounding, then the zero point added back exactly
            q = round_exact(F(rn(v - (z - spec.qmin), dt)), mode, dt) + z
    elif spec.zero_point_op.value == "fused":
        q = round_exact(rn(xs * r + z, dt), mode, dt)
    else:
        v = rn(xs / ss if spec.scale_op.value == "divide" else xs * r, dt)
        if not math.isfinite(v):
            q = round_exact(v, mode, dt)
        elif spec.zero_point_op.value == "before_round":
            q = round_exact(rn(F(v) + z, dt), mode, dt)
        else:
            q = round_exact(v, mode, dt) + z
    return min(max(q, spec.qmin), spec.qmax)


def oracle_fake(x, s, z, spec, dt) -> float:
    q = oracle_code(x, s, z, spec, dt)
    F = Fraction
    sc = F(rn(F(float(s)), dt))
    if spec.domain.value == "float_shifted":
        lo = F(rn((spec.qmin - z) * sc, dt))
        return rn(F(rn((q - spec.qmin) * sc, dt)) + lo, dt)
    return rn((q - z) * sc, dt)


# ------------------------------------------------------------ hand tables
def test_zero_point_before_vs_after_round_constructed():
    # x = 0.5, s = 1, z = 1: after_round rint(0.5) + 1 = 0 + 1 = 1; before_round rint(1.5) = 2; fused rint(1.5) = 2
    assert rq.quantize([0.5], 1.0, 1, QuantSpec(8)).tolist() == [1]
    assert rq.quantize([0.5], 1.0, 1, QuantSpec(8, zero_point_op="before_round")).tolist() == [2]
    fused = QuantSpec(8, scale_op="reciprocal", zero_point_op="fused")
    assert rq.quantize([0.5], 1.0, 1, fused).tolist() == [2]
    assert rq.fake_quant([0.5], 1.0, 1, fused).tolist() == [1.0]


@pytest.mark.parametrize("zp_op", ["before_round", "fused"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tie_table_zero_point_inside_rounding(zp_op, dtype):
    # v + z = TIES + 1 = [-1.5, -0.5, 0.5, 1.5, 2.5, 3.5] -> half-even by hand:
    expected = {
        "half_even": [-2, 0, 0, 2, 2, 4],
        "half_away": [-2, -1, 1, 2, 3, 4],
        "half_up": [-1, 0, 1, 2, 3, 4],
        "floor": [-2, -1, 0, 1, 2, 3],
        "floor_plus_half": [-1, 0, 1, 2, 3, 4],
    }
    # after_round: round(TIES) + 1 (the existing table shifted by z), for contrast
    after = {"half_even": [-1, -1, 1, 1, 3, 3], "floor_plus_half": [-1, 0, 1, 2, 3, 4]}
    for mode, codes in expected.items():
        spec = QuantSpec(8, rounding=mode, scale_op="reciprocal", zero_point_op=zp_op)
        for s in (1.0, 0.5, 4.0):
            assert rq.quantize((TIES * s).astype(dtype), s, 1, spec).tolist() == codes, (mode, s)
        if mode in after:
            assert (
                rq.quantize(TIES.astype(dtype), 1.0, 1, spec.replace(zero_point_op="after_round")).tolist()
                == after[mode]
            )


def test_floor_plus_half_tie_table_and_near_ties():
    spec = QuantSpec(8, rounding="floor_plus_half")
    # exact ties: floor(t + 0.5) = [-2, -1, 0, 1, 2, 3] (as half_up)
    for dt in (np.float32, np.float64):
        assert rq.quantize(TIES.astype(dt), 1.0, 0, spec).tolist() == [-2, -1, 0, 1, 2, 3]
    # float32 0.49999997 = 0.5 - 2**-25: fl32(v + 0.5) = 1 - 2**-25 is a tie between 1 - 2**-24 and 1 -> 1
    x32 = np.array([0.5 - 2.0**-25], dtype=np.float32)
    assert x32[0] == np.float32(0.49999997)
    assert rq.quantize(x32, 1.0, 0, spec).tolist() == [1]
    assert rq.quantize(x32, 1.0, 0, spec.replace(rounding="half_up")).tolist() == [0]
    # the same value in a float64 compute dtype: the sum is exact -> 0
    assert rq.quantize(x32, 1.0, 0, spec.replace(compute_dtype="float64")).tolist() == [0]
    # float64: 0.49999999999999994 = 0.5 - 2**-54 -> 1
    assert rq.quantize([0.5 - 2.0**-54], 1.0, 0, spec).tolist() == [1]
    # -0.5 - 2**-25 (float32 -0.50000003): fl32(-2**-25) is exact, floor gives -1 (half_up also -1)
    assert rq.quantize(np.float32([-0.5 - 2.0**-24]), 1.0, 0, spec).tolist() == [-1]


def test_before_round_sum_is_rounded_in_compute_dtype():
    # float32 v = 0.5 - 2**-25, z = 1: fl32(1.5 - 2**-25) = 1.5 (ulp 2**-23) -> half-even 2;
    # float64 keeps 1.49999997 -> 1
    spec = QuantSpec(8, zero_point_op="before_round")
    x = np.float32([0.5 - 2.0**-25])
    assert rq.quantize(x, 1.0, 1, spec).tolist() == [2]
    assert rq.quantize(x, 1.0, 1, spec.replace(compute_dtype="float64")).tolist() == [1]
    assert rq.quantize(x, 1.0, 1, spec.replace(zero_point_op="after_round")).tolist() == [1]


def test_float_shifted_hand_table():
    # s = 0.25, z = 4, unsigned 8-bit: lo = (0 - 4)*0.25 = -1, hi = (255 - 4)*0.25 = 62.75, all exact.
    # x = t*s: w = x + 1, v = t + 4, floor(v + 0.5) = [2, 3, 4, 5, 6, 7]; y = k*s + lo
    spec = QuantSpec(8, signed=False, rounding="floor_plus_half", domain="float_shifted")
    x = TIES * 0.25
    assert rq.quantize(x, 0.25, 4, spec).tolist() == [2, 3, 4, 5, 6, 7]
    assert rq.fake_quant(x, 0.25, 4, spec).tolist() == [k * 0.25 - 1 for k in [2, 3, 4, 5, 6, 7]]
    # clamps act in the float domain: below lo -> code 0 (y = lo), above hi -> 255 (y = hi)
    assert rq.quantize([-7.0, 1000.0], 0.25, 4, spec).tolist() == [0, 255]
    assert rq.fake_quant([-7.0, 1000.0], 0.25, 4, spec).tolist() == [-1.0, 62.75]
    # per channel, divide and reciprocal agree at power-of-two scales
    rec = spec.replace(scale_op="reciprocal")
    assert rq.quantize(x, 0.25, 4, rec).tolist() == [2, 3, 4, 5, 6, 7]


def test_float_shifted_differs_from_code_domain_like_tensorflow():
    """TF's nudged arithmetic is not (q - z)*s: found by search, checked against the exact oracle."""
    rng = np.random.default_rng(1)
    spec = QuantSpec(8, signed=False, rounding="floor_plus_half", domain="float_shifted", scale_op="reciprocal")
    code_spec = QuantSpec(8, signed=False, rounding="half_up", scale_op="reciprocal")
    x = rng.uniform(-1, 2, 400).astype(np.float32)
    s = np.float32(3.0 / 255)
    z = 85
    y = rq.fake_quant(x, s, z, spec)
    yc = rq.fake_quant(x, s, z, code_spec)
    assert np.any(y != yc)  # the two shapes of the equation do part
    for xi, yi in zip(x, y):
        assert yi == np.float32(oracle_fake(xi, s, z, spec, np.float32))


# ------------------------------------------------------------ fused multiply-add
def _hard_fma_cases(dt, n_want=6, seed=0):
    """Seeded search for x, s, z where fl(fl(x*r) + z) and the exactly rounded fma round to different codes."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dt)
    out = []
    for _ in range(200000):
        z = int(rng.integers(-100, 100))
        s = dt.type(rng.uniform(0.01, 3.0))
        r = dt.type(1) / s
        t = dt.type(int(rng.integers(-60, 60)) + 0.5 - z)  # a tie of v + z
        x = dt.type(t / r)
        for k in range(-3, 4):
            xx = dt.type(x)
            for _ in range(abs(k)):
                xx = np.nextafter(xx, dt.type(np.sign(k) * np.inf))
            exact = Fraction(float(xx)) * Fraction(float(r)) + z
            fused = Fraction(rn(exact, dt))
            unfused = Fraction(float(dt.type(dt.type(xx * r) + dt.type(z))))
            if round_exact(fused, "half_even", dt) != round_exact(unfused, "half_even", dt):
                out.append((xx, s, z))
        if len(out) >= n_want:
            return out
    raise AssertionError("no hard case found")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_is_exactly_rounded_on_hard_cases(dtype):
    cases = _hard_fma_cases(dtype)
    spec = QuantSpec(16, scale_op="reciprocal", zero_point_op="fused")
    unfused = spec.replace(zero_point_op="before_round")
    n_split = 0
    for x, s, z in cases:
        got = rq.quantize(np.array([x], dtype), s, z, spec)[0]
        assert got == oracle_code(x, s, z, spec, dtype), (x, s, z)
        n_split += got != rq.quantize(np.array([x], dtype), s, z, unfused)[0]
    assert n_split == len(cases)  # on every case, the unfused sum would have given another code


def test_fused_float64_extreme_magnitudes():
    spec = QuantSpec(8, scale_op="reciprocal", zero_point_op="fused", compute_dtype="float64")
    # tiny products (|x*r| < 2**-900), huge x with tiny r (rescaling path), saturation
    xs = np.array([1e-300, -1e-300, 5e-290, 1e300, -1e300, 3e307, 0.0, -0.0])
    for s in (1e-300, 1.0, 1e290, 1e307):
        for z in (0, 3, -5):
            got = rq.quantize(xs, s, z, spec)
            want = [oracle_code(x, s, z, spec, np.float64) for x in xs]
            assert got.tolist() == want, (s, z)


# ------------------------------------------------------------ reciprocal dtype
def test_reciprocal_dtype_float32_on_float64_input():
    """PyTorch on float64 input: float64 product, float32 reciprocal. Differs from the float64 reciprocal."""
    spec32 = QuantSpec(16, scale_op="reciprocal", reciprocal_dtype="float32")
    spec64 = QuantSpec(16, scale_op="reciprocal")
    rng = np.random.default_rng(3)
    s = 0.1  # fl32(1/fl32(0.1)) = 10 exactly? no: 1/0.10000000149 = 9.9999998509 -> fl32 = 10.0
    s = 0.3  # fl32(1/fl32(0.3)) = 3.3333333 (float32) != fl64(1/0.3)
    k = rng.integers(-30000, 30000, 2000)
    x = (k + 0.5) * s  # near ties, where the reciprocal's last bits decide
    q32 = rq.quantize(x, s, 0, spec32)
    q64 = rq.quantize(x, s, 0, spec64)
    assert np.any(q32 != q64)
    idx = np.flatnonzero(q32 != q64)[:20]
    for i in idx:
        assert q32[i] == oracle_code(x[i], s, 0, spec32, np.float64)
        assert q64[i] == oracle_code(x[i], s, 0, spec64, np.float64)


def test_reciprocal_dtype_wider_than_compute_dtype_changes_nothing():
    """fl32(fl64(1/s)) == fl32(1/s) for float32 s (double rounding of a quotient is innocuous at 53 >= 2*24+2)."""
    rng = np.random.default_rng(4)
    s = rng.uniform(1e-3, 1e3, 3000).astype(np.float32)
    r_wide = (np.float64(1) / s.astype(np.float64)).astype(np.float32)
    r_exact = [np.float32(rn(Fraction(1) / Fraction(float(v)), np.float32)) for v in s[:300]]
    assert np.array_equal(r_wide[:300], np.array(r_exact, np.float32))
    x = rng.standard_normal(3000).astype(np.float32)
    for si in s[:50]:
        a = rq.quantize(x, si, 0, QuantSpec(8, scale_op="reciprocal", reciprocal_dtype="float64"))
        b = rq.quantize(x, si, 0, QuantSpec(8, scale_op="reciprocal"))
        assert np.array_equal(a, b)


# ------------------------------------------------------------ exact oracle, all knobs
_KNOB_BITS = st.integers(2, 16)


def knob_specs(bits=_KNOB_BITS):
    @st.composite
    def build(draw):
        zp = draw(st.sampled_from(["after_round", "before_round", "fused"]))
        domain = "code" if zp != "after_round" else draw(st.sampled_from(["code", "float_shifted", "float_centered"]))
        op = "reciprocal" if zp == "fused" else draw(st.sampled_from(["divide", "reciprocal", "range_reciprocal"]))
        rdt = draw(st.sampled_from([None, "float32", "float64"])) if op == "reciprocal" else None
        return QuantSpec(
            draw(bits),
            signed=draw(st.booleans()),
            narrow_range=False,
            rounding=draw(st.sampled_from(["half_even", "half_away", "half_up", "floor", "floor_plus_half"])),
            scale_op=op,
            compute_dtype=draw(st.sampled_from([None, "float32", "float64"])),
            zero_point_op=zp,
            reciprocal_dtype=rdt,
            domain=domain,
        )

    return build()


def _tie_rich(draw, s, dt, n):
    out = []
    for _ in range(n):
        k = draw(st.integers(-300, 300))
        base = dt.type((k + 0.5) * float(s))
        out.append(np.nextafter(base, dt.type(np.inf)) if draw(st.booleans()) and draw(st.booleans()) else base)
    return np.array(out, dtype=dt)


@settings(max_examples=25, deadline=None)
@given(knob_specs(), st.data())
def test_every_knob_matches_the_exact_oracle(spec, data):
    dt = np.dtype(data.draw(st.sampled_from([np.float32, np.float64])))
    cdt = spec.resolve_compute_dtype(dt)
    s = cdt.type(data.draw(st.floats(1e-3, 10.0)))
    z = data.draw(st.integers(spec.qmin, spec.qmax))
    x = _tie_rich(data.draw, s, cdt, 8).astype(dt)
    try:
        q = rq.quantize(x, s, z, spec)
    except ValueError as e:  # a float32 reciprocal of a float64 scale may not exist
        assume("1/scale" not in str(e))
        raise
    y = rq.fake_quant(x, s, z, spec)
    for xi, qi, yi in zip(x.astype(cdt), q, y):
        assert int(qi) == oracle_code(xi, s, z, spec, cdt), (xi, s, z)
        assert float(yi) == oracle_fake(xi, s, z, spec, cdt)


# ------------------------------------------------------------ kernel vs twin
def _twin_args(spec):
    return dict(
        zero_point_op=spec.zero_point_op.value,
        reciprocal_dtype=spec.reciprocal_dtype,
        block_size=spec.block_size,
        domain=spec.domain.value,
    )


@pytest.mark.kernel
@settings(max_examples=80, deadline=None)
@given(quant_cases(specs=knob_specs(), max_side=5), st.data())
def test_kernel_equals_twin_with_knobs(case, data):
    spec = case.spec
    try:
        q = rq.quantize(case.x, case.scale, case.zero_point, spec, nonfinite="saturate")
    except ValueError as e:
        assume("1/scale" not in str(e))
        raise
    y = rq.fake_quant(case.x, case.scale, case.zero_point, spec, nonfinite="saturate")
    cdt = spec.resolve_compute_dtype(case.x.dtype)
    with np.errstate(over="ignore"):
        xc = case.x.astype(cdt)
    axis = None if spec.axis is None else spec.axis % case.x.ndim
    args = (
        xc,
        np.atleast_1d(case.scale),
        np.atleast_1d(case.zero_point),
        spec.qmin,
        spec.qmax,
        spec.rounding.value,
        spec.scale_op.value,
        axis,
    )
    qt = twin.quantize_codes(*args, **_twin_args(spec))
    yt = twin.fake_quant(*args, **_twin_args(spec))
    assert np.array_equal(q.astype(np.float64), qt.astype(np.float64))
    assert y.dtype == yt.dtype and np.array_equal(bits_of(y), bits_of(yt))


@st.composite
def blocked_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    axis = draw(st.integers(-ndim, ndim - 1))
    n = shape[axis]
    bsize = draw(st.integers(1, n + 2))
    spec = draw(knob_specs(bits=st.integers(2, 8))).replace(axis=axis, block_size=bsize)
    dt = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    pshape = list(shape)
    pshape[axis] = -(-n // bsize)
    cdt = spec.resolve_compute_dtype(dt)
    s = np.array(
        draw(st.lists(st.floats(0.01, 4.0), min_size=int(np.prod(pshape)), max_size=int(np.prod(pshape)))), dtype=cdt
    ).reshape(pshape)
    z = np.array(draw(st.lists(st.integers(spec.qmin, spec.qmax), min_size=s.size, max_size=s.size))).reshape(pshape)
    x = (
        (
            np.array(
                draw(
                    st.lists(st.floats(-300, 300, width=32), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
                )
            )
        )
        .astype(dt)
        .reshape(shape)
    )
    return x, s, z, spec


@pytest.mark.kernel
@settings(max_examples=60, deadline=None)
@given(blocked_cases())
def test_blocked_kernel_equals_twin(case):
    x, s, z, spec = case
    try:
        q = rq.quantize(x, s, z, spec)
    except ValueError as e:
        assume("1/scale" not in str(e))
        raise
    y = rq.fake_quant(x, s, z, spec)
    cdt = spec.resolve_compute_dtype(x.dtype)
    args = (x.astype(cdt), s, z, spec.qmin, spec.qmax, spec.rounding.value, spec.scale_op.value, spec.axis % x.ndim)
    assert np.array_equal(q.astype(np.float64), twin.quantize_codes(*args, **_twin_args(spec)))
    assert np.array_equal(bits_of(y), bits_of(twin.fake_quant(*args, **_twin_args(spec))))
    assert np.array_equal(bits_of(rq.dequantize(q, s, z, spec)), bits_of(y))


# ------------------------------------------------------------ blocked vs a plain loop
def _loop_blocked(fn, x, s, z, spec, **kw):
    per_tensor = spec.replace(axis=None, block_size=None)
    out = []
    for idx in np.ndindex(x.shape):
        p = list(idx)
        p[spec.axis] = idx[spec.axis] // spec.block_size
        out.append(fn(x[idx], s[tuple(p)], int(z[tuple(p)]), per_tensor, **kw)[()])
    return np.array(out).reshape(x.shape)


@pytest.mark.parametrize("axis, bsize", [(1, 3), (0, 2), (-1, 4), (1, 7), (1, 1)])
def test_blocked_against_plain_loop(axis, bsize):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 7, 5)).astype(np.float32) * 3
    n = x.shape[axis]
    pshape = list(x.shape)
    pshape[axis] = -(-n // bsize)
    s = rng.uniform(0.01, 0.1, pshape).astype(np.float32)
    spec = QuantSpec(4, signed=False, axis=axis, block_size=bsize)
    z = rng.integers(0, 16, pshape)  # per-block zero points
    assert np.array_equal(rq.quantize(x, s, z, spec), _loop_blocked(rq.quantize, x, s, z, spec))
    assert np.array_equal(rq.fake_quant(x, s, z, spec), _loop_blocked(rq.fake_quant, x, s, z, spec))
    codes = rq.quantize(x, s, z, spec)
    assert np.array_equal(
        rq.dequantize(codes, s, z, spec),
        _loop_blocked(lambda c, *a: rq.dequantize(np.array(c).astype(np.int64), *a), codes, s, z, spec),
    )
    if n % bsize:  # the last block is partial: its own scale, covering n % bsize elements
        last = [slice(None)] * 3
        last[axis] = slice(n - n % bsize, n)
        assert np.take(s, [-1], axis=axis).size == np.prod(pshape) // pshape[axis]
        assert x[tuple(last)].shape[axis] == n % bsize


@pytest.mark.parametrize("symmetric", [True, False])
def test_calibrate_minmax_blocked_against_loop(symmetric):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 10)) * rng.uniform(0.1, 5, (3, 1))
    spec = QuantSpec(8, axis=1, block_size=4)  # blocks [0:4], [4:8], [8:10] (partial)
    s, z = rq.calibrate_minmax(x, spec, symmetric=symmetric)
    assert s.shape == (3, 3) and z.shape == (3, 3)
    for i in range(3):
        for b, sl in enumerate((slice(0, 4), slice(4, 8), slice(8, 10))):
            sb, zb = rq.calibrate_minmax(x[i, sl], QuantSpec(8), symmetric=symmetric)
            assert s[i, b] == sb and z[i, b] == zb


def test_onnx_blocked_example_shapes():
    # ONNX QuantizeLinear opset 21: x (2, 5), axis 1, block_size 2 -> y_scale (2, 3); element j uses scale[:, j // 2]
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    s = np.array([[1.0, 2.0, 4.0], [0.5, 1.0, 8.0]], np.float32)
    q = rq.quantize(x, s, 0, QuantSpec(8, axis=1, block_size=2))
    # by hand: row 0: 0/1, 1/1, 2/2, 3/2=1.5->2, 4/4=1 ; row 1: 5/.5=10, 6/.5=12, 7/1, 8/1, 9/8=1.125->1
    assert q.tolist() == [[0, 1, 1, 2, 1], [10, 12, 7, 8, 1]]


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(block_size=0, axis=0), ValueError, "block_size"),
        (dict(block_size=-2, axis=0), ValueError, "block_size"),
        (dict(block_size=2.0, axis=0), TypeError, "block_size"),
        (dict(block_size=True, axis=0), TypeError, "block_size"),
        (dict(block_size=4), ValueError, "block_size=4 needs axis"),
        (dict(zero_point_op="fused"), ValueError, "zero_point_op='fused'.*scale_op"),
        (dict(zero_point_op="fused", scale_op="divide"), ValueError, "zero_point_op"),
        (dict(zero_point_op="sideways"), ValueError, "zero_point_op"),
        (dict(zero_point_op=1), TypeError, "zero_point_op"),
        (dict(reciprocal_dtype="float32"), ValueError, "reciprocal_dtype"),
        (dict(reciprocal_dtype="float16", scale_op="reciprocal"), ValueError, "reciprocal_dtype"),
        (dict(domain="float"), ValueError, "domain"),
        (dict(domain="float_shifted", zero_point_op="before_round"), ValueError, "zero_point_op"),
        (dict(rounding="floor_half"), ValueError, "rounding"),
    ],
)
def test_bad_spec_fields_raise_naming_the_parameter(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        QuantSpec(8, **kwargs)


@pytest.mark.parametrize("fn", [rq.quantize, rq.fake_quant])
def test_blocked_wrong_parameter_shapes_raise(fn):
    x = np.zeros((2, 5), np.float32)
    spec = QuantSpec(8, axis=1, block_size=2)
    with pytest.raises(ValueError, match=r"scale has shape \(2, 2\).*block_size=2.*\(2, 3\)"):
        fn(x, np.ones((2, 2)), 0, spec)
    with pytest.raises(ValueError, match=r"scale has shape \(3,\).*\(2, 3\)"):
        fn(x, np.ones(3), 0, spec)
    with pytest.raises(ValueError, match=r"zero_point has shape \(2, 5\)"):
        fn(x, np.ones((2, 3)), np.zeros((2, 5), int), spec)
    with pytest.raises(ValueError, match="scale"):
        rq.dequantize(np.zeros((2, 5), np.int8), np.ones((3, 2)), 0, spec)


def test_old_dicts_load_with_defaults_and_new_fields_round_trip():
    old = {
        "type": "QuantSpec",
        "bits": 8,
        "signed": True,
        "narrow_range": False,
        "axis": None,
        "rounding": "half_even",
        "scale_op": "divide",
        "compute_dtype": None,
    }
    spec = QuantSpec.from_dict(old)
    assert (spec.zero_point_op.value, spec.reciprocal_dtype, spec.block_size, spec.domain.value) == (
        "after_round",
        None,
        None,
        "code",
    )
    full = QuantSpec(
        4,
        axis=-1,
        rounding="floor_plus_half",
        scale_op="reciprocal",
        compute_dtype="float64",
        zero_point_op="fused",
        reciprocal_dtype=np.float32,
        block_size=16,
    )
    import json

    back = QuantSpec.from_dict(json.loads(json.dumps(full.to_dict())))
    assert back == full and back.reciprocal_dtype == "float32"
    assert QuantSpec.from_dict(QuantSpec(8, domain="float_shifted").to_dict()).domain.value == "float_shifted"


# ------------------------------------------------------------ TensorFlow 2.x: float_centered and range_reciprocal
def test_float_centered_hand_table():
    # s = 0.25, z = 4, unsigned 8-bit: lo = -1, w = x + 1 = (t + 4)/4, v = t + 4, v - (z - qmin) = t exactly;
    # floor(t + 0.5) = [-2, -1, 0, 1, 2, 3], q = k + z, y = (q - z)*s = k/4
    spec = QuantSpec(8, signed=False, rounding="floor_plus_half", domain="float_centered")
    x = TIES * 0.25
    assert rq.quantize(x, 0.25, 4, spec).tolist() == [2, 3, 4, 5, 6, 7]
    assert rq.fake_quant(x, 0.25, 4, spec).tolist() == [-0.5, -0.25, 0.0, 0.25, 0.5, 0.75]
    # the clamp acts in the float domain: below lo -> qmin (y = (0 - 4)/4), above hi -> qmax (y = 251/4)
    assert rq.quantize([-7.0, 1000.0], 0.25, 4, spec).tolist() == [0, 255]
    assert rq.fake_quant([-7.0, 1000.0], 0.25, 4, spec).tolist() == [-1.0, 62.75]
    # -0.0 and values rounding to the zero code give +0.0
    y = rq.fake_quant(np.array([-0.0, -0.1], np.float32), np.float32(0.25), 4, spec)
    assert bits_of(y).tolist() == [0, 0]


def test_tensorflow_example_args_vs_vars():
    """min 0, max 1, 8 bits, x = 0.5, by hand: TF's Nudge gives s = fl32(1/255) = 0.0039215688593685627, z = 0.

    args (range_reciprocal): R = fl32(fl64(fl64(1/255)*255)) = 1, inv = fl32(255/1) = 255, v = 0.5*255 = 127.5,
    floor(127.5 - 0 + 0.5) = 128.  vars (divide): v = fl32(0.5 / s) = 127.49999237 (0.5/s = 127.4999925, float32
    ulp 2^-17 there), floor(fl32(127.49999237 + 0.5)) = 127.
    """
    x = np.float32([0.5])
    s = np.float64(1.0) / 255  # what calibrate returns: the float64 quotient of the float32 range
    args = QuantSpec(
        8,
        signed=False,
        rounding="floor_plus_half",
        scale_op="range_reciprocal",
        compute_dtype="float32",
        domain="float_centered",
    )
    assert rq.quantize(x, s, 0, args).tolist() == [128]
    assert rq.quantize(x, s, 0, args.replace(scale_op="divide")).tolist() == [127]
    assert float(np.float32(0.5) / np.float32(1.0 / 255)) == 127.49999237060547  # the hand value above
    assert rq.fake_quant(x, s, 0, args).tolist() == [float(np.float32(128 * np.float32(1.0 / 255)))]


def test_range_reciprocal_recovers_the_float32_range_from_a_float64_scale():
    """fl32(fl64(fl64(R/L)*L)) = R for float32 R; fl32(fl64(R/L)) = fl32(R/L): checked exactly with Fraction."""
    rng = np.random.default_rng(7)
    R = (rng.uniform(0.5, 1.0, 400) * 2.0 ** rng.integers(-100, 100, 400)).astype(np.float32)
    L = rng.integers(1, 65535, 400)
    for r32, n in zip(R, L):
        s64 = np.float64(r32) / float(n)
        assert np.float32(s64 * float(n)) == r32
        assert np.float32(s64) == np.float32(rn(Fraction(float(r32)) / int(n), np.float32))


def test_range_reciprocal_differs_from_reciprocal_and_matches_oracle():
    """inv = fl(L / R) is not fl(1 / fl(R / L)) on many ranges; where it changes a code, the oracle agrees."""
    rng = np.random.default_rng(11)
    spec = QuantSpec(8, signed=False, rounding="floor_plus_half", scale_op="range_reciprocal", domain="float_centered")
    rec = spec.replace(scale_op="reciprocal")
    n_diff_r = 0
    n_split = 0
    for _ in range(300):
        R = np.float32(rng.uniform(0.1, 10.0))
        s64 = np.float64(R) / 255
        s32 = np.float32(s64)
        inv = np.float32(np.float32(255) / R)
        n_diff_r += inv != np.float32(1) / s32
        k = rng.integers(-2, 258, 40)
        x = ((k + 0.5) * s64).astype(np.float32)
        z = int(rng.integers(0, 256))
        x = (x + np.float32((0 - z) * s32)).astype(np.float32)
        a = rq.quantize(x, s64, z, spec)
        b = rq.quantize(x, s64, z, rec)
        for i in np.flatnonzero(a != b)[:3]:
            n_split += 1
            assert int(a[i]) == oracle_code(x[i], s64, z, spec, np.float32)
            assert int(b[i]) == oracle_code(x[i], s32, z, rec, np.float32)
    assert n_diff_r > 30 and n_split > 0


def test_float_centered_differs_from_float_shifted_and_matches_oracle():
    rng = np.random.default_rng(12)
    cen = QuantSpec(8, signed=False, rounding="floor_plus_half", domain="float_centered")
    sh = cen.replace(domain="float_shifted")
    n_split = 0
    for _ in range(200):
        s = np.float32(rng.uniform(1e-3, 1.0))
        z = int(rng.integers(0, 256))
        x = ((rng.integers(-130, 130, 50) + 0.5) * s).astype(np.float32)
        x = np.where(rng.random(50) < 0.5, np.nextafter(x, np.float32(-np.inf)), x).astype(np.float32)
        a = rq.quantize(x, s, z, cen)
        b = rq.quantize(x, s, z, sh)
        for i in np.flatnonzero(a != b)[:2]:
            n_split += 1
            assert int(a[i]) == oracle_code(x[i], s, z, cen, np.float32)
            assert int(b[i]) == oracle_code(x[i], s, z, sh, np.float32)
    assert n_split > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bits=1, signed=False, narrow_range=True, scale_op="range_reciprocal"), "range_reciprocal"),
        (dict(bits=8, domain="float_centered", zero_point_op="before_round"), "zero_point_op"),
        (dict(bits=8, scale_op="range_reciprocal", reciprocal_dtype="float32"), "reciprocal_dtype"),
        (dict(bits=8, scale_op="range_reciprocal", zero_point_op="fused"), "fused"),
        (dict(bits=8, domain="float_centred"), "domain"),
    ],
)
def test_bad_tensorflow_knob_combinations_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantSpec(**kwargs)


def test_range_reciprocal_overflowing_range_raises_naming_scale():
    spec = QuantSpec(8, scale_op="range_reciprocal", compute_dtype="float32")
    with pytest.raises(ValueError, match="scale="):
        rq.quantize([1.0], 3e36, 0, spec)
