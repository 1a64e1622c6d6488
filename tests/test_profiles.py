"""refquant.profiles: specs, calibrations and evidence of the backend profiles (no real runtime needed).

* every profile's ``calibrate`` against the backend's own formula, transcribed here from its source
  (file and function named at each transcription) and written independently of refquant/profiles.py;
* every profile's ``spec`` at the constructed inputs that tell it apart from the other profiles;
* errors: unknown names, unsupported parameters, bad options;
* the backend suite's comparison core (tests/backends/harness.py) catches a wrong candidate (planted bugs);
* docs/CONFORMANCE.md, written by the backend suite, shows every profile conforming.
"""

from __future__ import annotations

import importlib.util
import math
import pathlib
import re
import sys

import numpy as np
import pytest

import refquant
from refquant import profiles
from refquant.specs import QuantSpec

ROOT = pathlib.Path(__file__).resolve().parents[1]
F32 = np.float32
REQUIRED = ("onnx", "torch.fake_quantize", "torch.quantize", "tf.fake_quant", "tflite")


def _harness():
    path = ROOT / "tests" / "backends" / "harness.py"
    spec = importlib.util.spec_from_file_location("refquant_backend_harness", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- names and errors
def test_names_include_the_pinned_profiles():
    assert set(REQUIRED) <= set(profiles.names())
    assert list(profiles.names()) == sorted(profiles.names())
    for n in profiles.names():
        p = profiles.get(n)
        assert p.name == n and p.title and p.equation and p.operations


def test_unknown_name_lists_the_allowed_names():
    with pytest.raises(ValueError, match=r"name='pytorch'.*allowed: .*'onnx'.*'torch.quantize'"):
        profiles.get("pytorch")
    with pytest.raises(TypeError, match="name must be a str"):
        profiles.get(3)


def test_not_expressible_states_xla_division():
    text = " ".join(profiles.NOT_EXPRESSIBLE)
    assert "x / s" in text and "jax" in text
    assert all(len(reason) > 40 for reason in profiles.NOT_EXPRESSIBLE.values())


@pytest.mark.parametrize(
    "name, kwargs, param",
    [
        ("onnx", dict(bits=3, signed=True), "bits=3"),
        ("onnx", dict(bits=8, signed=True, narrow_range=True), "narrow_range"),
        ("torch.fake_quantize", dict(bits=8, signed=True, axis=0, block_size=4), "block_size=4"),
        ("torch.quantize", dict(bits=16, signed=True), "bits=16"),
        ("torch.quantize", dict(bits=4, signed=False, axis=0), "axis=0"),
        ("torch.quantize", dict(bits=8, signed=True, narrow_range=True), "narrow_range"),
        ("tf.fake_quant", dict(bits=8, signed=True), "signed=True"),
        ("tf.fake_quant", dict(bits=8, signed=False, axis=0), "axis=0"),
        ("tf.fake_quant", dict(bits=1, signed=False), "bits=1"),
        ("tflite", dict(bits=8, signed=True, axis=1), "axis=1"),
        ("tflite", dict(bits=4, signed=True), "bits=4"),
        ("onnx", dict(bits=8, signed=True, block_size=4), "block_size=4 needs axis"),
    ],
)
def test_unsupported_parameters_are_named(name, kwargs, param):
    bits = kwargs.pop("bits")
    with pytest.raises(ValueError, match=re.escape(param)):
        profiles.get(name).spec(bits, **kwargs)


@pytest.mark.parametrize(
    "kwargs, exc, param",
    [
        (dict(bits="8", signed=True), TypeError, "bits"),
        (dict(bits=8, signed=1), TypeError, "signed"),
        (dict(bits=8, signed=True, axis=1.0), TypeError, "axis"),
        (dict(bits=8, signed=True, narrow_range="no"), TypeError, "narrow_range"),
        (dict(bits=0, signed=True), ValueError, "bits"),
        (dict(bits=8, signed=True, axis=0, block_size=0), ValueError, "block_size"),
    ],
)
def test_bad_spec_arguments(kwargs, exc, param):
    bits = kwargs.pop("bits")
    with pytest.raises(exc, match=param):
        profiles.get("onnx").spec(bits, **kwargs)


def test_bad_calibrate_arguments():
    p = profiles.get("torch.fake_quantize")
    spec = p.spec(8, signed=True)
    with pytest.raises(TypeError, match="spec must be a refquant.QuantSpec"):
        p.calibrate([1.0], "int8")
    with pytest.raises(TypeError, match=r"unexpected option\(s\) \['symetric'\].*allowed: symmetric"):
        p.calibrate([1.0], spec, symetric=True)
    with pytest.raises(TypeError, match="symmetric must be True or False"):
        p.calibrate([1.0], spec, symmetric="yes")
    with pytest.raises(ValueError, match="x must not be empty"):
        p.calibrate([], spec)
    with pytest.raises(ValueError, match="NaN/inf"):
        p.calibrate([np.nan], spec)
    with pytest.raises(ValueError, match="not finite in float32"):
        p.calibrate([1e300], spec)
    onnx = profiles.get("onnx")
    with pytest.raises(ValueError, match=r"spec.axis=0"):
        onnx.calibrate(np.ones((2, 2)), onnx.spec(8, signed=False, axis=0))
    with pytest.raises(ValueError, match="bits=4"):
        onnx.calibrate([1.0], onnx.spec(4, signed=False))
    with pytest.raises(ValueError, match="no calibration of its own"):
        profiles.get("tflite.reference").calibrate([1.0], profiles.get("tflite.reference").spec(8, signed=True))
    tfl = profiles.get("tflite")
    with pytest.raises(ValueError, match="per tensor"):
        tfl.calibrate(np.ones((2, 2)), QuantSpec(8, axis=0))
    with pytest.raises(ValueError, match="bits=4"):
        tfl.calibrate([1.0], QuantSpec(4))
    # all-zero 16-bit data: the smallest normal float32 over 32767 (measured on the converter)
    assert tfl.calibrate([0.0, 0.0], tfl.spec(16, signed=True))[0].view(np.uint32) == 256
    tf = profiles.get("tf.fake_quant")
    with pytest.raises(ValueError, match="min and max must be given together"):
        tf.calibrate([1.0], tf.spec(8, signed=False), min=-1.0)
    with pytest.raises(ValueError, match="min <= 0 <= max"):
        tf.calibrate([1.0], tf.spec(8, signed=False), min=0.5, max=1.0)


# ---------------------------------------------------------------- specs at distinguishing inputs
def test_torch_quantize_adds_the_zero_point_before_rounding():
    p = profiles.get("torch.quantize")
    for axis in (None, 0):
        spec = p.spec(8, signed=False, axis=axis)
        assert int(refquant.quantize(np.array([0.5], F32), 1.0, 1, spec)[0]) == 2  # rint(0.5 + 1) = 2
        assert int(refquant.quantize(np.array([1.5], F32), 1.0, 1, spec)[0]) == 2  # rint(2.5) = 2
    # the refquant default (zero point after rounding) gives rint(0.5) + 1 = 1
    assert int(refquant.quantize(np.array([0.5], F32), 1.0, 1, QuantSpec(8, signed=False))[0]) == 1
    # sub-byte dtypes round first: quint4x2 gives rint(0.5) + 1 = 1
    assert int(refquant.quantize(np.array([0.5], F32), 1.0, 1, p.spec(4, signed=False))[0]) == 1
    assert p.spec(8, signed=True).zero_point_op == "fused"
    assert p.spec(8, signed=True, axis=1).zero_point_op == "before_round"
    assert p.spec(2, signed=False).zero_point_op == "after_round"


def test_onnx_divides_and_tflite_multiplies_by_the_reciprocal():
    # x = 4.075f, s = 0.05f: fl32(x / s) = 81.5 exactly (a tie, to even: 82 ... computed here independently)
    x = np.array([4.075, -4.575], dtype=F32)
    s = F32(0.05)
    div = np.rint(x / s)
    rec = np.rint(x * (F32(1) / s))
    assert np.any(div != rec)  # the inputs do separate the two orders
    onnx = refquant.quantize(x, s, 0, profiles.get("onnx").spec(8, signed=True))
    tfl = refquant.quantize(x, s, 0, profiles.get("tflite").spec(8, signed=True))
    np.testing.assert_array_equal(onnx, div)
    np.testing.assert_array_equal(tfl, rec)


def test_tflite_reference_kernel_rounds_half_away():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5], F32)
    ref = refquant.quantize(x, 1.0, 0, profiles.get("tflite.reference").spec(8, signed=True))
    opt = refquant.quantize(x, 1.0, 0, profiles.get("tflite").spec(8, signed=True))
    assert ref.tolist() == [1, 2, 3, -1, -3]  # std::round
    assert opt.tolist() == [0, 2, 2, 0, -2]  # round half to even


def test_torch_float64_input_multiplies_by_a_float32_reciprocal():
    s = F32(0.1)
    assert F32(1) / s == F32(10.0)  # fl32(1/fl32(0.1)) = 10 exactly
    x = np.array([0.250000001])  # float64: x * 10 = 2.50000001 -> 3; x * (1/s in float64) = 2.49999997 -> 2
    spec = profiles.get("torch.fake_quantize").spec(8, signed=True)
    assert int(refquant.quantize(x, s, 0, spec)[0]) == 3
    assert int(refquant.quantize(x, s, 0, QuantSpec(8, scale_op="reciprocal"))[0]) == 2


def test_tf_fake_quant_rounds_floor_of_v_plus_half_in_float32():
    p = profiles.get("tf.fake_quant")
    spec = p.spec(8, signed=False)
    s, z = p.calibrate(np.zeros(1, F32), spec, min=0.0, max=255.0)  # scale 1, zero point 0
    assert (s, z) == (1.0, 0)
    y = refquant.fake_quant(np.array([0.49999997, 0.5, 1.5, 2.5], F32), s, z, spec)
    # fl32(0.49999997 + 0.5) = 1.0: floor gives 1 (exact half-up would give 0); ties go up
    assert y.tolist() == [1.0, 1.0, 2.0, 3.0]


# ---------------------------------------------------------------- calibrations against the backends' formulas
def _torch_observer_formula(x, qmin, qmax, symmetric, signed, axis=None):
    """torch/ao/quantization/observer.py, UniformQuantizationObserverBase._calculate_qparams
    (MinMaxObserver / PerChannelMinMaxObserver, quant_min/quant_max given so has_customized_qrange=True),
    transcribed statement by statement with float32 tensors:

        min_val_neg = torch.min(min_val, torch.zeros_like(min_val))
        max_val_pos = torch.max(max_val, torch.zeros_like(max_val))
        symmetric:  max_val_pos = torch.max(-min_val_neg, max_val_pos)
                    scale = max_val_pos / (float(quant_max - quant_min) / 2)
                    scale = torch.max(scale, self.eps)               # eps = torch.finfo(torch.float32).eps
                    zero_point = 0, or (quant_min + quant_max) // 2 for quint8 / uint8
        affine:     scale = (max_val_pos - min_val_neg) / float(quant_max - quant_min)
                    scale = torch.max(scale, self.eps)
                    zero_point = quant_min - torch.round(min_val_neg / scale).to(torch.int)
                    zero_point = torch.clamp(zero_point, quant_min, quant_max)
    """
    t = np.asarray(x, dtype=np.float64).astype(F32)  # x.to(self.min_val.dtype)
    if axis is None:
        mins, maxs = [t.min()], [t.max()]
    else:
        moved = np.moveaxis(t, axis, 0).reshape(t.shape[axis], -1)
        mins, maxs = list(moved.min(axis=1)), list(moved.max(axis=1))
    eps = F32(np.finfo(F32).eps)
    scales, zps = [], []
    for lo, hi in zip(mins, maxs):
        lo, hi = min(F32(lo), F32(0)), max(F32(hi), F32(0))
        if symmetric:
            amax = max(-lo, hi)
            scale = max(F32(amax / F32((qmax - qmin) / 2)), eps)
            zp = 0 if signed else (qmin + qmax) // 2
        else:
            scale = max(F32(F32(hi - lo) / F32(qmax - qmin)), eps)
            zp = min(max(qmin - int(np.rint(F32(lo / scale))), qmin), qmax)
        scales.append(F32(scale))
        zps.append(zp)
    return scales, zps


def _calibration_arrays(seed=0, n=400):
    rng = np.random.default_rng(seed)
    out = [
        np.zeros(3, F32),
        np.array([1e-30, 0], F32),
        np.array([-1e-30], F32),
        np.array([2.0**-20, -3.0], F32),
        np.array([0.0, 1.0], F32),
        np.array([-1.0, 0.0], F32),
        np.array([5.0, 7.0], F32),
        np.array([-7.0, -5.0], F32),
    ]
    for _ in range(n):
        m = 2.0 ** rng.integers(-20, 20)
        out.append((rng.normal(rng.normal(0, m), m, rng.integers(1, 12))).astype(F32))
    return out


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize(
    "bits, signed, narrow", [(8, True, False), (8, False, False), (4, True, True), (16, True, False), (3, False, False)]
)
def test_torch_calibrate_matches_the_observer_formula(symmetric, bits, signed, narrow):
    p = profiles.get("torch.fake_quantize")
    spec = p.spec(bits, signed=signed, narrow_range=narrow)
    for x in _calibration_arrays():
        s, z = p.calibrate(x, spec, symmetric=symmetric)
        (ws,), (wz,) = _torch_observer_formula(x, spec.qmin, spec.qmax, symmetric, signed)
        assert s.dtype == F32 and s.tobytes() == ws.tobytes(), (x, s, ws)
        assert z == wz, (x, z, wz)


def test_torch_per_channel_calibrate_matches_the_observer_formula():
    p = profiles.get("torch.quantize")
    rng = np.random.default_rng(1)
    for axis in (0, 1, -1):
        spec = p.spec(8, signed=False, axis=axis)
        for _ in range(50):
            x = (rng.normal(0, 3, (3, 4, 2)) * 2.0 ** rng.integers(-8, 8, (1, 4, 1))).astype(F32)
            for sym in (False, True):
                s, z = p.calibrate(x, spec, symmetric=sym)
                ws, wz = _torch_observer_formula(x, 0, 255, sym, False, axis=axis)
                assert s.tobytes() == np.array(ws, F32).tobytes() and z.tolist() == wz


def test_torch_calibration_differs_from_the_correctly_rounded_scale():
    # The observer's float32 arithmetic (and its division by 127.5 when symmetric) is not refquant's
    # calibrate_minmax; the profile exists to reproduce the backend, so the two must part somewhere.
    p = profiles.get("torch.fake_quantize")
    spec = p.spec(8, signed=True)
    differ = sum(
        p.calibrate(x, spec)[0] != refquant.calibrate_minmax(x, spec, symmetric=False)[0]
        for x in _calibration_arrays(seed=2, n=200)
    )
    assert differ > 10
    x = np.array([-1.0, 1.0], F32)
    assert p.calibrate(x, spec, symmetric=True)[0] == F32(1 / 127.5)  # (qmax - qmin)/2, not qmax


def _ort_dynamic_formula(x, qmin, qmax):
    """onnxruntime/core/util/qmath.h, GetQuantizationParameter (the kernel of DynamicQuantizeLinear,
    onnxruntime/core/providers/cpu/quantization/dynamicquantizelinear.cc), in float32:

        min = std::min(min, 0.0f); max = std::max(max, 0.0f);
        scale = max == min ? 1.0f : (max - min) / float(qmax - qmin);
        float initial_zero_point = qmin - min / scale;
        zp = RoundHalfToEven(std::max(float(qmin), std::min(float(qmax), initial_zero_point)));

    (ONNX's DynamicQuantizeLinear specification, docs/Operators.md: y_scale = (maximum(0, max(x)) -
    minimum(0, min(x))) / (qmax - qmin); zero point = saturate(round(qmin - min(x) / y_scale)).)
    """
    t = np.asarray(x, F32)
    lo, hi = min(t.min(), F32(0)), max(t.max(), F32(0))
    with np.errstate(all="ignore"):
        scale = F32(1) if hi == lo else F32(F32(hi - lo) / F32(qmax - qmin))
        initial = F32(F32(qmin) - F32(lo / scale))
    inner = initial if initial < F32(qmax) else F32(qmax)  # std::min(a, b) = (b < a) ? b : a, b = initial
    outer = inner if F32(qmin) < inner else F32(qmin)  # std::max(a, b) = (a < b) ? b : a, a = qmin
    return scale, int(np.rint(outer))


@pytest.mark.parametrize("signed", [False, True])
def test_onnx_calibrate_matches_dynamic_quantize_linear(signed):
    p = profiles.get("onnx")
    spec = p.spec(8, signed=signed)
    xs = _calibration_arrays(seed=3) + [np.array([1.4e-45], F32), np.array([-3e38, 3e38], F32)]
    for x in xs:
        s, z = p.calibrate(x, spec)
        ws, wz = _ort_dynamic_formula(x, spec.qmin, spec.qmax)
        assert s.tobytes() == ws.tobytes() and z == wz, (x, s, z, ws, wz)
    assert p.calibrate(np.zeros(4, F32), spec)[0] == F32(1)  # an all-zero range: scale 1


def _tf_nudge_formula(lo, hi, num_bits, narrow_range):
    """tensorflow/core/kernels/fake_quant_ops_functor.h, Nudge(min, max, quant_min, quant_max, ...), float32,
    with quant_min = narrow_range ? 1 : 0 and quant_max = (1 << num_bits) - 1 (fake_quant_ops.cc):

        *scale = (max - min) / (quant_max_float - quant_min_float);
        const float zero_point_from_min = quant_min_float - min / *scale;
        nudged_zero_point = zero_point_from_min < quant_min_float ? quant_min
                          : zero_point_from_min > quant_max_float ? quant_max
                          : StdRound(zero_point_from_min);            // std::round: half away from zero
    """
    qmin, qmax = (1 if narrow_range else 0), (1 << num_bits) - 1
    lo, hi = F32(lo), F32(hi)
    scale = F32(F32(hi - lo) / F32(qmax - qmin))
    zfm = F32(F32(qmin) - F32(lo / scale))
    if zfm < qmin:
        zp = qmin
    elif zfm > qmax:
        zp = qmax
    else:
        zp = int(np.floor(abs(float(zfm)) + 0.5)) * (1 if zfm >= 0 else -1)
    return scale, zp


@pytest.mark.parametrize("bits, narrow", [(8, False), (8, True), (4, False), (2, True), (16, False)])
def test_tf_calibrate_matches_nudge(bits, narrow):
    p = profiles.get("tf.fake_quant")
    spec = p.spec(bits, signed=False, narrow_range=narrow)
    rng = np.random.default_rng(4)
    for _ in range(400):
        lo = -F32(rng.integers(0, 300)) * F32(2.0 ** rng.integers(-10, 3) * rng.choice([1.0, rng.uniform(0.5, 1)]))
        hi = F32(rng.integers(1, 300)) * F32(2.0 ** rng.integers(-10, 3) * rng.choice([1.0, rng.uniform(0.5, 1)]))
        s, z = p.calibrate(np.zeros(1, F32), spec, min=lo, max=hi)
        ws, wz = _tf_nudge_formula(lo, hi, bits, narrow)
        # refquant's unsigned narrow grid is [0, 2^b - 2]: the same codes as TF's [1, 2^b - 1] shifted by one
        assert F32(s).tobytes() == ws.tobytes() and z == wz - (1 if narrow else 0), (lo, hi)
        # the float64 scale carries TF's float32 range max - min exactly (inv = (qmax - qmin)/(max - min))
        span = (1 << bits) - 1 - (1 if narrow else 0)
        assert s.dtype == np.float64 and F32(s * span) == F32(hi - lo), (lo, hi)


def test_tf_calibrate_nudges_zero_onto_the_grid():
    p = profiles.get("tf.fake_quant")
    spec = p.spec(8, signed=False)
    s, z = p.calibrate(np.zeros(1, F32), spec, min=-0.1, max=1.0)
    # zero is representable: fake_quant(0) == 0 exactly
    assert refquant.fake_quant(np.zeros(1, F32), s, z, spec)[0] == 0.0
    # per channel: one (min, max) per channel of the last axis, default range = the data's
    pc = p.spec(8, signed=False, axis=-1)
    x = np.array([[-1.0, 0.0, 2.0], [0.5, 3.0, -2.0]], F32)
    s, z = p.calibrate(x, pc)
    assert s.shape == (3,) and z.shape == (3,)
    for c in range(3):
        ws, wz = _tf_nudge_formula(x[:, c].min(), x[:, c].max(), 8, False)
        assert F32(s[c]) == ws and z[c] == wz


# ------------------------------------------------------------ the backend suite's comparison catches wrong candidates
def _rint_f32(v):
    return np.rint(np.asarray(v, F32))


def test_harness_catches_a_wrong_profile_planted_bug():
    H = _harness()
    spec_choices = [{"bits": 8, "signed": False}]

    def after_round(x, s, z, spec):  # the wrong candidate: zero point after rounding (refquant's default)
        v = np.asarray(x, F32) * (F32(1) / F32(s))
        return np.clip(np.rint(v) + z, spec.qmin, spec.qmax)

    row = H.Row(
        "numpy (planted bug)", "after-round", "torch.quantize", "quantize", "per tensor", spec_choices, after_round
    )
    res = H.run_row(row, max_examples=60, shrink=False)
    assert res.diverged and not res.ok and res.status == "DIVERGES"
    assert "refquant" in res.counterexample and "candidate" in res.counterexample

    def divide(x, s, z, spec):  # the wrong candidate for tflite: division instead of the reciprocal
        return np.clip(np.rint(np.asarray(x, F32) / F32(s)) + z, spec.qmin, spec.qmax)

    row = H.Row(
        "numpy (planted bug)",
        "divide",
        "tflite",
        "quantize",
        "per tensor",
        [{"bits": 8, "signed": True}],
        divide,
        max_ratio=2.0**30,
    )
    assert H.run_row(row, max_examples=150, shrink=False).diverged


def test_harness_passes_an_independent_correct_candidate_and_counts_unsupported():
    H = _harness()

    def tflite_like(x, s, z, spec):
        x = np.asarray(x)
        if x.ndim > 2:
            raise H.Unsupported("only up to 2-D here")
        with np.errstate(over="ignore"):
            v = x.astype(F32) * (F32(1) / F32(s))  # fl32(x * fl32(1/s))
        return np.clip(np.rint(v) + z, spec.qmin, spec.qmax)

    row = H.Row("numpy", "reciprocal", "tflite", "quantize", "per tensor", [{"bits": 8, "signed": True}], tflite_like)
    res = H.run_row(row, max_examples=60)
    assert res.ok and res.status == "conforms" and not res.diverged
    assert res.cases > 0 and res.unsupported > 0 and res.cases + res.unsupported >= 60

    def never(x, s, z, spec):
        raise H.Unsupported("nothing")

    row = H.Row(
        "numpy", "declines everything", "tflite", "quantize", "per tensor", [{"bits": 8, "signed": True}], never
    )
    res = H.run_row(row, max_examples=20)
    assert not res.ok and res.status == "no case ran"  # an Unsupported storm is reported, never passed


def test_harness_catches_a_wrong_calibration_planted_bug():
    H = _harness()

    def correctly_rounded(x, spec):  # scale computed in float64 and rounded once: not PyTorch's float32 steps
        lo, hi = min(float(np.min(x)), 0.0), max(float(np.max(x)), 0.0)
        s = F32(max((hi - lo) / (spec.qmax - spec.qmin), float(np.finfo(F32).eps)))
        return s, int(np.clip(spec.qmin - np.rint(lo / float(s)), spec.qmin, spec.qmax))

    row = H.Row(
        "numpy (planted bug)",
        "float64 observer",
        "torch.fake_quantize",
        "calibrate",
        "per tensor",
        [{"bits": 8, "signed": True}],
        correctly_rounded,
    )
    res = H.run_row(row, max_examples=150, shrink=False)
    assert res.diverged and "calibrate " in res.counterexample


def test_probe_rows_must_reproduce():
    H = _harness()

    def saturating(x, s, z, spec):
        with np.errstate(over="ignore"):
            return np.clip(np.rint(np.asarray(x, F32) * (F32(1) / F32(s))) + z, spec.qmin, spec.qmax)

    row = H.Row(
        "numpy",
        "claims a wrap",
        "tflite",
        "quantize",
        "per tensor",
        [{"bits": 8, "signed": True}],
        saturating,
        expect="diverges",
    )
    res = H.run_row(row, max_examples=25)
    assert not res.ok and res.status == "DID NOT REPRODUCE"
    text = H.render([res], {"numpy": np.__version__}, 1.0, "test")
    assert "DID NOT REPRODUCE" in text and "| tflite" not in text.split("`tflite`")[0][-5:]


# ---------------------------------------------------------------- the evidence
def test_conformance_matrix_shows_every_profile_conforming():
    text = (ROOT / "docs" / "CONFORMANCE.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"\| \d+ \|", line)]
    assert rows
    assert not any("| DIVERGES |" in r or "DID NOT REPRODUCE" in r or "| no case ran |" in r for r in rows)
    for name in profiles.names():
        mine = [r for r in rows if f"| `{name}` |" in r]
        conforming = [r for r in mine if r.rstrip().endswith("| conforms |")]
        assert conforming, f"profile {name!r} has no conforming row in docs/CONFORMANCE.md"
        cases = [int(re.split(r"(?<!\\)\|", r)[-4]) for r in conforming]
        assert min(cases) >= 100, (name, cases)  # compared cases of the committed run (declined ones not counted)
        p = profiles.get(name)
        assert p.cases == min(cases) and p.versions, name


# ---------------------------------------------------------------- profile= on the checkers
def test_profile_specs_are_what_spec_accepts():
    onnx = profiles.get("onnx").specs()
    assert {(s.bits, s.signed, s.narrow_range) for s in onnx} == {
        (b, sg, False) for b in (2, 4, 8, 16) for sg in (True, False)
    }
    tq = profiles.get("torch.quantize").specs()
    assert {(s.bits, s.signed) for s in tq} == {(8, True), (8, False), (4, False), (2, False)}
    assert all(s.axis is None for n in profiles.names() for s in profiles.get(n).specs())
    assert len(profiles.get("torch.fake_quantize").specs()) == 16 * 4 - 1  # every grid but 1-bit signed narrow


def _tflite_numpy(x, s, z, spec):
    with np.errstate(over="ignore"):
        return np.clip(np.rint(np.asarray(x, F32) * (F32(1) / F32(s))) + z, spec.qmin, spec.qmax)


def test_checker_profile_option_draws_the_backends_specs():
    from refquant.testing import check_quantize

    seen = []

    def spy(x, s, z, spec):
        seen.append(spec)
        assert (
            np.asarray(s, np.float32).astype(np.float64).tolist() == np.asarray(s, np.float64).tolist()
        )  # float32 scales
        return _tflite_numpy(x, s, z, spec)

    rep = check_quantize(spy, profile="tflite", dtype=np.float32, max_examples=40)
    assert rep.compared == 40
    assert {(s.bits, s.signed, s.axis, s.scale_op, s.rounding) for s in seen} <= {
        (8, True, None, "reciprocal", "half_even"),
        (8, False, None, "reciprocal", "half_even"),
        (16, True, None, "reciprocal", "half_even"),
    }


def test_checker_profile_option_catches_a_wrong_backend_planted_bug():
    from refquant.testing import ConformanceError, check_quantize

    def after_round(x, s, z, spec):  # PyTorch's quantize adds the zero point before rounding; this does not
        shape = [1] * np.ndim(x)
        if spec.axis is not None:
            shape[spec.axis] = -1
        r = (F32(1) / np.asarray(s, F32)).reshape(shape)
        return np.clip(np.rint(np.asarray(x, F32) * r) + np.asarray(z).reshape(shape), spec.qmin, spec.qmax)

    with pytest.raises(ConformanceError, match="quantize"):
        check_quantize(after_round, profile="torch.quantize", dtype=np.float32, max_examples=200, shrink_seconds=1.0)


def test_checker_profile_option_per_channel_spec_follows_the_axis():
    from refquant.testing import check_quantize

    ops = set()

    def spy(x, s, z, spec):
        ops.add((spec.axis is None, spec.zero_point_op))
        return refquant.quantize(x, s, z, spec)

    check_quantize(spy, profile="torch.quantize", dtype=np.float32, max_examples=60)
    assert (True, "fused") in ops and (False, "before_round") in ops
    assert (False, "fused") not in ops


def test_checker_profile_option_errors():
    from refquant.testing import check_calibration, check_fake_quant

    with pytest.raises(ValueError, match=r"profile='pytorch'.*allowed: .*'torch.fake_quantize'"):
        check_fake_quant(_tflite_numpy, profile="pytorch")
    with pytest.raises(TypeError, match="profile must be None or a profile name"):
        check_fake_quant(_tflite_numpy, profile=3)
    with pytest.raises(ValueError, match="per_channel=True: profile 'tflite' has no per-channel"):
        check_fake_quant(_tflite_numpy, profile="tflite", per_channel=True)
    with pytest.raises(ValueError, match="profile='tflite.reference' has no calibration"):
        check_calibration(lambda x, spec: (1.0, 0), profile="tflite.reference")
    with pytest.raises(ValueError, match="exclusive"):
        check_calibration(lambda x, spec: (1.0, 0), profile="onnx", reference=lambda x, spec: (1.0, 0))


def test_check_calibration_with_a_profile():
    from refquant.testing import ConformanceError, check_calibration

    rep = check_calibration(
        lambda x, spec: _ort_dynamic_formula(x, spec.qmin, spec.qmax), profile="onnx", dtype=np.float32, max_examples=40
    )
    assert rep.compared == 40

    def torch_cal(x, spec):
        return tuple(v[0] for v in _torch_observer_formula(x, spec.qmin, spec.qmax, False, spec.signed))

    check_calibration(
        torch_cal, profile="torch.fake_quantize", symmetric=False, per_channel=False, dtype=np.float32, max_examples=40
    )
    with pytest.raises(ConformanceError):  # refquant's own (correctly rounded, /qmax) calibration is not PyTorch's
        check_calibration(
            lambda x, spec: refquant.calibrate_minmax(x, spec, symmetric=True),
            profile="torch.fake_quantize",
            specs=[profiles.get("torch.fake_quantize").spec(8, signed=True)],
            symmetric=True,
            per_channel=False,
            max_examples=200,
            shrink_seconds=1.0,
        )


# ---------------------------------------------------------------- golden vectors per profile
def test_golden_export_for_one_profile(tmp_path):
    from refquant.testing import golden

    man = golden.export(tmp_path / "tq", profile="torch.quantize")
    assert man["profile"] == "torch.quantize"
    want = {
        QuantSpec.from_dict(d).to_dict().__repr__()
        for d in (s.to_dict() for s in golden.profile_specs("torch.quantize"))
    }
    assert {repr(c["spec"]) for c in man["cases"]} == want
    assert {c["op"] for c in man["cases"]} == {"fake_quant", "quantize", "dequantize"}
    # the torch.quantize vectors hold its zero-point placements: fused per tensor, before rounding per channel
    ops = {(c["spec"]["axis"], c["spec"]["zero_point_op"]) for c in man["cases"] if c["spec"]["bits"] == 8}
    assert ops == {(None, "fused"), (1, "before_round")}
    assert golden.verify(tmp_path / "tq").ok
    man = golden.export(tmp_path / "tf", profile="tf.fake_quant")
    assert "tf_fake_quant" in {c["op"] for c in man["cases"]} and golden.verify(tmp_path / "tf").ok
    onnx = golden.profile_specs("onnx")
    assert any(s.block_size == 16 for s in onnx) and any(s.axis == 1 and s.block_size is None for s in onnx)
    with pytest.raises(ValueError, match=r"profile='nope' is not a known profile; allowed: .*'onnx'"):
        golden.export(tmp_path / "x", profile="nope")


def test_golden_default_set_holds_every_profiles_specs():
    from refquant.testing import golden

    default = golden._uniform_specs()
    for name in profiles.names():
        assert all(s in default for s in golden.profile_specs(name)), name


def test_golden_tf_vectors_follow_the_transcribed_kernel():
    # one hand-checked value: min = -1, max = 2, 8 bits: scale = 3/255, nudged zero point 85 (-min/scale = 85),
    # inv = 255/3 = 85; x = 0.5: v = (0.5 + 1) * 85 = 127.5, minus the zero code 85 -> 42.5, + 0.5 -> floor 43
    y = profiles.tf_fake_quant_model(np.array([0.5], F32), -1.0, 2.0, 8, False, "args")
    assert y[0] == F32(F32(43) * F32(F32(3) / F32(255)))


# ---------------------------------------------------------------- TensorFlow 2.x kernels, transcribed
def _tf_kernel(x, lo, hi, num_bits, narrow, variant):
    """tensorflow/core/kernels/fake_quant_ops_functor.h (FakeQuantWithMinMaxArgsFunctor,
    FakeQuantWithMinMaxVarsFunctor, FakeQuantWithMinMaxVarsPerChannelFunctor), statement by statement in float32:

        Nudge(min, max, quant_min, quant_max, &nudged_min, &nudged_max, &nudged_scale, &inv_nudged_scale);
        const float quant_zero = floor(-nudged_min * inv_nudged_scale + 0.5f);
        clamped = inputs.cwiseMin(nudged_max).cwiseMax(nudged_min);
        clamped_shifted = clamped - nudged_min;
        args, per channel: (clamped_shifted * inv_nudged_scale - quant_zero + 0.5f).floor() * nudged_scale
        vars:              (clamped_shifted / nudged_scale - quant_zero + 0.5f).floor() * nudged_scale
    """
    qmin, qmax = (1 if narrow else 0), (1 << num_bits) - 1
    lo, hi = F32(lo), F32(hi)
    ws, wz = _tf_nudge_formula(lo, hi, num_bits, narrow)  # scale and nudged zero point, float32
    inv = F32(F32(qmax - qmin) / F32(hi - lo))
    nmin = F32(F32(qmin - wz) * ws)
    nmax = F32(F32(qmax - wz) * ws)
    qz = np.floor(F32(F32(-nmin * inv) + F32(0.5)))
    cs = F32(np.maximum(np.minimum(x, nmax), nmin) - nmin)
    v = F32(cs * inv) if variant != "vars" else F32(cs / ws)
    return F32(np.floor(F32(F32(v - qz) + F32(0.5))) * ws)


@pytest.mark.parametrize("variant", ["args", "vars", "per_channel"])
def test_tf_profiles_reproduce_the_transcribed_kernels(variant):
    """calibrate(min=, max=) + fake_quant with the profile's spec equals the kernel transcription bit for bit, on
    values at, one ulp around and between the ties of the nudged grid (and far outside it)."""
    name = "tf.fake_quant.args" if variant == "args" else "tf.fake_quant"
    p = profiles.get(name)
    rng = np.random.default_rng(21)
    n_checked = 0
    for it in range(150):
        bits = int(rng.choice([2, 4, 5, 8, 16]))
        narrow = bool(it % 2)
        e = float(2.0 ** rng.integers(-12, 8))
        lo = -F32(rng.integers(0, 300) * e * rng.uniform(0.5, 1))
        hi = F32(rng.integers(1, 300) * e * rng.uniform(0.5, 1))
        spec = p.spec(bits, signed=False, narrow_range=narrow, axis=-1 if variant == "per_channel" else None)
        if variant == "per_channel":
            s, z = p.calibrate(np.zeros((1, 1), F32), spec, min=np.array([lo]), max=np.array([hi]))
            s0, z0 = s[0], int(z[0])
        else:
            s, z = p.calibrate(np.zeros(1, F32), spec, min=lo, max=hi)
            s0, z0 = s, z
        k = rng.integers(-(1 << bits) - 3, (1 << bits) + 3, 40)
        x = F32((k + 0.5) * F32(s0) + F32((spec.qmin - z0) * F32(s0)))
        x = np.concatenate([x, np.nextafter(x, F32(np.inf)), np.nextafter(x, F32(-np.inf)), F32([-0.0, 1e30])])
        if variant == "per_channel":
            got = refquant.fake_quant(x.reshape(-1, 1), s, z, spec).reshape(-1)
        else:
            got = refquant.fake_quant(x, s, z, spec)
        want = _tf_kernel(x, lo, hi, bits, narrow, variant)
        assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist(), (variant, bits, narrow, lo, hi)
        n_checked += x.size
    assert n_checked > 10000
    # the older float-shifted formula is not what these kernels compute (it would fail the comparison above)
    spec = p.spec(8, signed=False, axis=-1 if variant == "per_channel" else None)
    old = spec.replace(domain="float_shifted", scale_op="divide")
    s, z = p.calibrate(np.zeros((1, 1), F32), spec, min=np.array([-1.0], F32), max=np.array([2.0], F32))
    xs = F32(np.linspace(-1, 2, 2001)).reshape(-1, 1) if variant == "per_channel" else F32(np.linspace(-1, 2, 2001))
    assert np.any(refquant.fake_quant(xs, s, z, spec) != refquant.fake_quant(xs, s, z, old.replace(axis=spec.axis)))


def _tflite_converter_formula(x, bits, signed):
    """The TFLite converter's activation qparams, transcribed from
    tensorflow/compiler/mlir/lite/quantization (quantization_utils.cc, DownCastScale with legacy_float_scale)
    and tensorflow/lite/tools/optimize/calibration/calibration_logger.h (MinMax::Update), with the small-range
    widening measured on the TensorFlow 2.21 converter:

        rmin = min(min(x), 0.0); rmax = max(max(x), 0.0)                  (double)
        16-bit: rmax = max(|rmin|, |rmax|, FLT_MIN) (the floor measured); rmin = -rmax; storage [-32767, 32767]
        8-bit:  storage [-128, 127]; if rmax - rmin <= 1e-6: rmin -= 1e-6, rmax += 1e-6
        scales[i] = (static_cast<float>(maxs[i]) - static_cast<float>(mins[i])) / (storage_max - storage_min)
        if storage_max != -storage_min:
            const float zero_point_from_min = storage_min - mins[i] / scales[i];
            zp = storage_min if below, storage_max if above, else std::round(zero_point_from_min)
        uint8 output: the int8 zero point + 128 (QUANTIZE int8 -> uint8 at an equal scale)
    """
    rmin = min(float(np.min(x)), 0.0)
    rmax = max(float(np.max(x)), 0.0)
    if bits == 16:
        rmax = max(-rmin, rmax, 2.0**-126)
        rmin = -rmax
        smin, smax = -32767, 32767
    else:
        smin, smax = -128, 127
        if rmax - rmin <= 1e-6:
            rmin, rmax = rmin - 1e-6, rmax + 1e-6
    scale = F32(F32(F32(rmax) - F32(rmin)) / F32(smax - smin))
    zp = 0
    if smax != -smin:
        zfm = F32(smin - rmin / float(scale))
        if zfm < smin:
            zp = smin
        elif zfm > smax:
            zp = smax
        else:
            zp = int(math.floor(abs(float(zfm)) + 0.5)) * (1 if zfm >= 0 else -1)
    if bits == 8 and not signed:
        zp += 128
    return scale, zp


def test_tflite_calibrate_matches_the_converter_formula():
    p = profiles.get("tflite")
    rng = np.random.default_rng(8)
    xs = _calibration_arrays(seed=9) + [
        np.array([-1e-7, 1e-7], F32),
        np.array([0.0, 1e-6], F32),
        np.array([0.2, 5.0], F32),
        np.array([-2.0, -0.5], F32),
        np.array([0.0, 0.0], F32),
        F32(rng.uniform(-3, 1, 50)),
    ]
    n = 0
    for x in xs:
        for bits, signed in ((8, True), (8, False), (16, True)):
            s, z = p.calibrate(x, p.spec(bits, signed=signed))
            ws, wz = _tflite_converter_formula(x, bits, signed)
            assert s.tobytes() == ws.tobytes() and z == wz, (x, bits, signed, s, z, ws, wz)
            n += 1
    assert n > 30
    # measured on the TensorFlow 2.21 converter (tests/backends): -1..3 as int8 gives (4/255, -64)
    s, z = p.calibrate(np.linspace(-1, 3, 64, dtype=F32), p.spec(8, signed=True))
    assert (float(s), z) == (float(F32(F32(4) / F32(255))), -64)


# ---------------------------------------------------------------- blocked cases drawn by the strategies
def test_quant_cases_draw_blocked_specs_matching_a_plain_loop():
    from hypothesis import given, settings

    from refquant.testing import quant_cases

    seen = {"partial": 0, "blocks": 0}

    # derandomized: the coverage assertion below needs a partial last block among the draws, which a random
    # run of 60 examples misses about 3 times in 1000
    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(quant_cases(blocked=True, specs=[QuantSpec(8), QuantSpec(4, signed=False)], max_side=7))
    def prop(case):
        spec = case.spec
        assert spec.block_size is not None and spec.axis is not None
        ax = spec.axis % case.x.ndim
        n, b = case.x.shape[ax], spec.block_size
        want_shape = list(case.x.shape)
        want_shape[ax] = -(-n // b)
        assert np.shape(case.scale) == tuple(want_shape) == np.shape(case.zero_point)
        seen["partial"] += n % b != 0
        seen["blocks"] += want_shape[ax] > 1
        q = refquant.quantize(case.x, case.scale, case.zero_point, spec, nonfinite="saturate")
        # a plain loop over elements: element i along the axis uses block i // b at the same other indices
        for idx in np.ndindex(case.x.shape):
            pidx = list(idx)
            pidx[ax] = idx[ax] // b
            pidx = tuple(pidx)
            one = refquant.quantize(
                np.asarray([case.x[idx]]),
                case.scale[pidx],
                int(case.zero_point[pidx]),
                QuantSpec(spec.bits, signed=spec.signed),
                nonfinite="saturate",
            )
            assert q[idx] == one[0]

    prop()
    assert seen["partial"] > 0 and seen["blocks"] > 0


def test_onnx_profile_checker_draws_blocked_cases():
    from refquant.testing import check_quantize

    seen = []

    def onnx_like(x, s, z, spec):  # the ONNX arithmetic, written independently of refquant's kernels
        seen.append(spec.block_size)
        s = np.asarray(s, F32)
        z = np.asarray(z, np.int64)
        if spec.axis is not None:
            ax = spec.axis % x.ndim
            if spec.block_size is not None:
                s = np.repeat(s, spec.block_size, axis=ax).take(np.arange(x.shape[ax]), axis=ax)
                z = np.repeat(z, spec.block_size, axis=ax).take(np.arange(x.shape[ax]), axis=ax)
            else:
                view = [1] * x.ndim
                view[ax] = -1
                s, z = s.reshape(view), z.reshape(view)
        with np.errstate(over="ignore", invalid="ignore"):
            v = np.rint(F32(x.astype(F32) / s))
            q = np.clip(v + z, spec.qmin, spec.qmax)
        return q.astype(spec.code_dtype)

    check_quantize(onnx_like, profile="onnx", dtype=np.float32, max_examples=80)
    assert any(b is not None for b in seen) and any(b is None for b in seen)


def test_onnx_profile_checker_catches_a_candidate_that_ignores_blocks():
    from refquant.testing import ConformanceError, check_quantize

    def first_block_only(x, s, z, spec):  # planted bug: every element uses the first block's scale
        s0 = F32(np.ravel(s)[0])
        z0 = int(np.ravel(z)[0])
        with np.errstate(over="ignore", invalid="ignore"):
            q = np.clip(np.rint(F32(x.astype(F32) / s0)) + z0, spec.qmin, spec.qmax)
        return q.astype(spec.code_dtype)

    with pytest.raises(ConformanceError):
        check_quantize(first_block_only, profile="onnx", dtype=np.float32, max_examples=200)
