"""The conformance checkers accept refquant itself and reject planted bugs.

Each planted bug is a plausible mistake a backend makes: rounding ties away
from zero, dividing where PyTorch multiplies by the reciprocal, forgetting
the clamp, per-channel along the wrong axis, ignoring the zero point in
dequantize, returning -0.0 where the contract says +0.0 (only when signed
zeros are requested).
"""

from __future__ import annotations

import numpy as np
import pytest

import refquant as rq
from refquant.testing import quant_specs
from refquant.testing.conformance import (
    ConformanceError,
    Tolerance,
    check_dequantize,
    check_fake_quant,
    check_quantize,
    compare_arrays,
)

EXAMPLES = 150


def _layout(x, spec, s, z):
    cdt = spec.resolve_compute_dtype(np.asarray(x).dtype)
    with np.errstate(over="ignore"):
        x = np.asarray(x).astype(cdt)
    ax = None if spec.axis is None else spec.axis % x.ndim
    shape = [1] * x.ndim
    if ax is not None:
        shape[ax] = -1
    s = np.asarray(s, cdt).reshape(shape if ax is not None else ())
    z = np.asarray(z, cdt).reshape(shape if ax is not None else ())
    return x, s, z, cdt


def naive_codes(x, s, z, spec, *, rnd=np.rint, divide=None, clamp=True, wrong_axis=False):
    """An independent NumPy implementation of the contract, with switchable bugs."""
    if wrong_axis and spec.axis is not None and np.ndim(x) > 1 and np.size(s) > 1:
        other = (spec.axis + 1) % np.ndim(x)
        if np.shape(x)[other] == np.size(s):
            spec = spec.replace(axis=other)
    x, s, z, cdt = _layout(x, spec, s, z)
    div = (spec.scale_op == "divide") if divide is None else divide
    with np.errstate(all="ignore"):
        v = x / s if div else x * (cdt.type(1) / s)
        q = rnd(v) + z
    if clamp:
        q = np.clip(q, spec.qmin, spec.qmax)
    return q.astype(cdt), s, z


def naive_fq(x, s, z, spec, **bugs):
    q, s, z = naive_codes(x, s, z, spec, **bugs)
    return (q - z) * s


HALF_EVEN = quant_specs(roundings=["half_even"])
half_away = lambda v: np.trunc(v + np.copysign(0.5, v))  # noqa: E731


def test_refquant_and_independent_naive_conform():
    check_fake_quant(rq.fake_quant, max_examples=EXAMPLES)
    check_quantize(rq.quantize, max_examples=EXAMPLES)
    check_dequantize(rq.dequantize, max_examples=EXAMPLES)
    check_fake_quant(naive_fq, specs=HALF_EVEN, max_examples=EXAMPLES)
    check_quantize(lambda *a: naive_codes(*a)[0], specs=HALF_EVEN, max_examples=EXAMPLES)


PLANTED = {
    "ties away from zero": (lambda x, s, z, sp: naive_fq(x, s, z, sp, rnd=half_away), HALF_EVEN),
    "divides instead of reciprocal": (
        lambda x, s, z, sp: naive_fq(x, s, z, sp, divide=True),
        quant_specs(roundings=["half_even"], scale_ops=["reciprocal"]),
    ),
    "reciprocal instead of divide": (
        lambda x, s, z, sp: naive_fq(x, s, z, sp, divide=False),
        quant_specs(roundings=["half_even"], scale_ops=["divide"]),
    ),
    "no clamp": (lambda x, s, z, sp: naive_fq(x, s, z, sp, clamp=False), HALF_EVEN),
    "per-channel on the wrong axis": (lambda x, s, z, sp: naive_fq(x, s, z, sp, wrong_axis=True), HALF_EVEN),
}


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_planted_fake_quant_bug_is_caught(bug):
    cand, specs = PLANTED[bug]
    per_channel = True if "axis" in bug else None
    with pytest.raises(ConformanceError, match="first mismatch at index"):
        check_fake_quant(cand, specs=specs, per_channel=per_channel, max_examples=EXAMPLES, shrink_seconds=2.0)


def test_planted_quantize_bug_is_caught():
    with pytest.raises(ConformanceError, match="quantize: candidate does not conform"):
        check_quantize(
            lambda *a: naive_codes(*a, rnd=np.floor)[0], specs=HALF_EVEN, max_examples=EXAMPLES, shrink_seconds=2.0
        )


def test_planted_dequantize_bug_is_caught():
    def no_zero_point(codes, s, z, spec):
        q, s_, _ = _layout(codes, spec, s, z)[0], *_layout(codes, spec, s, z)[1:3]
        return q * s_

    with pytest.raises(ConformanceError, match="dequantize"):
        check_dequantize(no_zero_point, specs=quant_specs(signed=False), max_examples=EXAMPLES, shrink_seconds=2.0)


def test_signed_zero_only_when_requested():
    ref = np.array([0.0, 1.0], np.float32)
    compare_arrays(ref, np.array([-0.0, 1.0], np.float32), op="t")
    with pytest.raises(ConformanceError):
        compare_arrays(ref, np.array([-0.0, 1.0], np.float32), Tolerance(signed_zero=True), op="t")


def test_diff_message_is_readable():
    with pytest.raises(ConformanceError) as ei:
        compare_arrays(
            np.float32([1, 2, 3]),
            np.float32([1, 2.5, 3]),
            op="fake_quant",
            context={"spec": "S"},
            inputs={"x": np.float32([9, 8, 7])},
        )
    msg = str(ei.value)
    assert "1 of 3 element(s) differ" in msg and "index (1,)" in msg
    assert "refquant  = 2.0" in msg and "candidate = 2.5" in msg and "x         = 8.0" in msg


def test_shape_and_tolerance_kinds():
    with pytest.raises(ConformanceError, match="shape"):
        compare_arrays(np.zeros(3), np.zeros(4), op="t")
    compare_arrays(np.float32([1.0]), np.nextafter(np.float32([1.0]), np.float32(2)), Tolerance("ulp", ulps=1), op="t")
    with pytest.raises(ConformanceError):
        compare_arrays(np.float32([1.0]), np.float32([1.001]), Tolerance("rel", rtol=1e-4), op="t")
    with pytest.raises(ValueError, match="kind="):
        Tolerance("close")


def test_pytest_fixture_is_one_line(refquant_check):
    refquant_check.fake_quant(rq.fake_quant, max_examples=20)
    with pytest.raises(AttributeError, match="available"):
        _ = refquant_check.no_such_op
