"""Bad input to QuantSpec and the uniform quantizer: every class raises a clear error naming the parameter."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given

import refquant as rq
from refquant import QuantSpec
from refquant.testing import quant_specs

X = np.linspace(-1, 1, 12).reshape(3, 4)


# ---------------------------------------------------------------- QuantSpec
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(bits=0), ValueError, r"bits=0 .*1 <= bits <= 16"),
        (dict(bits=17), ValueError, r"bits=17"),
        (dict(bits=8.0), TypeError, r"bits must be an integer"),
        (dict(bits=True), TypeError, r"bits must be an integer"),
        (dict(bits=8, signed="yes"), TypeError, r"signed must be True or False"),
        (dict(bits=8, narrow_range=1), TypeError, r"narrow_range"),
        (dict(bits=8, axis=1.5), TypeError, r"axis must be an integer"),
        (dict(bits=8, rounding="nearest"), ValueError, r"rounding='nearest'.*half_even"),
        (dict(bits=8, rounding=3), TypeError, r"rounding must be one of"),
        (dict(bits=8, scale_op="mul"), ValueError, r"scale_op='mul'"),
        (dict(bits=8, compute_dtype="float16"), ValueError, r"compute_dtype='float16'"),
        (dict(bits=8, compute_dtype=np.int32), ValueError, r"compute_dtype"),
        (dict(bits=1, signed=True, narrow_range=True), ValueError, r"bits=1 with signed=True, narrow_range=True"),
    ],
)
def test_quantspec_rejects(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        QuantSpec(**kwargs)


@given(quant_specs(roundings=["half_even", "half_away", "half_up", "floor", "stochastic"]))
def test_quantspec_json_round_trip_and_hash(spec):
    d = json.loads(json.dumps(spec.to_dict()))
    back = QuantSpec.from_dict(d)
    assert back == spec and hash(back) == hash(spec)


def test_quantspec_is_frozen_and_accepts_dtypes():
    spec = QuantSpec(8, compute_dtype=np.float32)
    assert spec.compute_dtype == "float32"
    assert QuantSpec(8, compute_dtype=np.dtype("float64")).compute_dtype == "float64"
    assert QuantSpec(8, rounding=rq.Rounding.FLOOR).rounding == "floor"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.bits = 4  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown QuantSpec field"):
        QuantSpec.from_dict({"bits": 8, "colour": "red"})
    with pytest.raises(ValueError, match="type='ADCSpec'"):
        QuantSpec.from_dict({"type": "ADCSpec", "bits": 8})


# ---------------------------------------------------------------- quantize / fake_quant / dequantize
S8 = QuantSpec(8)
PC = QuantSpec(8, axis=1)

BAD_CALLS = [
    # (callable, args, kwargs, exception, message regex)
    ("nan scale", rq.quantize, (X, np.nan, 0, S8), {}, ValueError, r"scale=.*NaN or inf"),
    ("inf scale", rq.fake_quant, (X, np.inf, 0, S8), {}, ValueError, r"scale=.*NaN or inf"),
    ("zero scale", rq.quantize, (X, 0.0, 0, S8), {}, ValueError, r"scale=.*> 0"),
    ("negative scale", rq.fake_quant, (X, -0.1, 0, S8), {}, ValueError, r"scale=.*> 0"),
    ("underflowing scale", rq.fake_quant, (X.astype(np.float32), 1e-50, 0, S8), {}, ValueError, r"scale=.*float32"),
    (
        "reciprocal overflow",
        rq.fake_quant,
        (X.astype(np.float32), 1e-39, 0, QuantSpec(8, scale_op="reciprocal")),
        {},
        ValueError,
        r"1/scale overflows",
    ),
    ("nan zero point", rq.quantize, (X, 0.1, np.nan, S8), {}, ValueError, r"zero_point.*NaN/inf"),
    ("fractional zero point", rq.quantize, (X, 0.1, 0.5, S8), {}, ValueError, r"zero_point=.*integers"),
    (
        "zero point above range",
        rq.quantize,
        (X, 0.1, 128, S8),
        {},
        ValueError,
        r"zero_point=.*-128 <= zero_point <= 127",
    ),
    (
        "zero point below range",
        rq.quantize,
        (X, 0.1, -1, QuantSpec(8, signed=False)),
        {},
        ValueError,
        r"zero_point=.*0 <= zero_point <= 255",
    ),
    (
        "per-channel scale length",
        rq.quantize,
        (X, [0.1, 0.2], 0, PC),
        {},
        ValueError,
        r"scale has shape \(2,\).*length 4",
    ),
    (
        "per-channel zero point length",
        rq.fake_quant,
        (X, 0.1, [0, 0, 0], PC),
        {},
        ValueError,
        r"zero_point has shape \(3,\).*length 4",
    ),
    (
        "per-tensor with vector scale",
        rq.quantize,
        (X, [0.1, 0.2], 0, S8),
        {},
        ValueError,
        r"per-tensor .*needs a scalar",
    ),
    (
        "axis out of range",
        rq.quantize,
        (X, 0.1, 0, QuantSpec(8, axis=2)),
        {},
        ValueError,
        r"spec.axis=2 is out of range",
    ),
    (
        "axis on 0-d",
        rq.quantize,
        (1.0, 0.1, 0, QuantSpec(8, axis=0)),
        {},
        ValueError,
        r"spec.axis=0 needs x with ndim >= 1",
    ),
    ("complex x", rq.quantize, (X + 1j, 0.1, 0, S8), {}, TypeError, r"x must be real"),
    ("string x", rq.fake_quant, (["a", "b"], 0.1, 0, S8), {}, TypeError, r"x must be a real numeric array"),
    ("object x", rq.fake_quant, (np.array([1.0, None]), 0.1, 0, S8), {}, TypeError, r"x must be a real numeric array"),
    (
        "bool x",
        rq.quantize,
        (np.array([True]), 0.1, 0, S8),
        {},
        TypeError,
        r"x must be a real numeric array, got dtype=bool",
    ),
    ("empty x", rq.quantize, (np.array([]), 0.1, 0, S8), {}, ValueError, r"x must not be empty"),
    ("nan x", rq.quantize, (np.array([0.0, np.nan]), 0.1, 0, S8), {}, ValueError, r"x contains 1 NaN"),
    ("inf x", rq.fake_quant, (np.array([0.0, np.inf]), 0.1, 0, S8), {}, ValueError, r"x contains 0 NaN and 1 inf"),
    (
        "nan x saturate",
        rq.fake_quant,
        (np.array([np.nan]), 0.1, 0, S8),
        {"nonfinite": "saturate"},
        ValueError,
        r"NaN always raises",
    ),
    ("bad nonfinite", rq.fake_quant, (X, 0.1, 0, S8), {"nonfinite": "zero"}, ValueError, r"nonfinite='zero'"),
    (
        "f64 overflow in f32",
        rq.quantize,
        (np.array([1e300]), 0.1, 0, QuantSpec(8, compute_dtype="float32")),
        {},
        ValueError,
        r"x contains 0 NaN and 1 inf.*after conversion to the compute dtype",
    ),
    (
        "spec not a QuantSpec",
        rq.quantize,
        (X, 0.1, 0, {"bits": 8}),
        {},
        TypeError,
        r"spec must be a refquant.QuantSpec",
    ),
    (
        "stochastic without rng",
        rq.quantize,
        (X, 0.1, 0, QuantSpec(8, rounding="stochastic")),
        {},
        ValueError,
        r"rng=None.*stochastic",
    ),
    (
        "rng of wrong type",
        rq.quantize,
        (X, 0.1, 0, QuantSpec(8, rounding="stochastic")),
        {"rng": "seed"},
        TypeError,
        r"rng must be an int seed",
    ),
    (
        "negative seed",
        rq.fake_quant,
        (X, 0.1, 0, QuantSpec(8, rounding="stochastic")),
        {"rng": -1},
        ValueError,
        r"rng=-1",
    ),
    (
        "float codes",
        rq.dequantize,
        (np.array([1.0, 2.0]), 0.1, 0, S8),
        {},
        TypeError,
        r"codes must have an integer dtype",
    ),
    (
        "codes out of range",
        rq.dequantize,
        (np.array([0, 200]), 0.1, 0, S8),
        {},
        ValueError,
        r"codes hold values in \[0, 200\]",
    ),
    ("dequantize zero scale", rq.dequantize, (np.array([0, 1]), 0.0, 0, S8), {}, ValueError, r"scale=.*> 0"),
    (
        "dequantize empty",
        rq.dequantize,
        (np.array([], dtype=np.int8), 0.1, 0, S8),
        {},
        ValueError,
        r"codes must not be empty",
    ),
    ("calibrate nan", rq.calibrate_minmax, (np.array([np.nan, 1.0]), S8), {}, ValueError, r"x contains 1 NaN/inf"),
    ("calibrate empty", rq.calibrate_minmax, (np.zeros((0, 3)), S8), {}, ValueError, r"x must not be empty"),
    (
        "calibrate symmetric not bool",
        rq.calibrate_minmax,
        (X, S8),
        {"symmetric": "no"},
        TypeError,
        r"symmetric must be True or False",
    ),
    ("calibrate axis", rq.calibrate_minmax, (X, QuantSpec(8, axis=-3)), {}, ValueError, r"spec.axis=-3"),
]


@pytest.mark.parametrize("name, fn, args, kwargs, exc, match", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises(name, fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_saturate_policy_maps_infinities_to_clamp_limits():
    spec = QuantSpec(4)
    q = rq.quantize(np.array([np.inf, -np.inf, 0.3]), 0.1, 0, spec, nonfinite="saturate")
    assert q.tolist() == [spec.qmax, spec.qmin, 3]


def test_every_public_name_is_exported_and_documented():
    for name in rq.__all__:
        obj = getattr(rq, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 40, name
