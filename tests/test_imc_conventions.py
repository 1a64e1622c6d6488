"""ADC and array conventions of other simulators as CrossbarSpec/ADCSpec fields.

For each convention: the kernels against the plain-NumPy twin (bit-exact; the test derives the twin's
tiles with ``numpy.array_split``, the half-unit threshold shift and the per-slice ranges itself), and a
constructed case whose result is worked out by hand, showing the convention changes the output as
documented. Defaults reproduce the former behaviour (old dicts load with the defaults).
"""

from __future__ import annotations

import numpy as np
import pytest

from refquant import imc as I
from refquant._reference.imc import imc_matmul_ref


def _ref(x, w, spec, *, o, d, tiles=None, planes=None, sign_magnitude=False, offset_constant=None):
    return imc_matmul_ref(
        x,
        w,
        rows=spec.rows,
        mode=spec.mode,
        input_bits=planes or spec.input_bits,
        input_signed_array=spec.input_signed or spec.a_shift,
        weight_bits=spec.weight_bits,
        encoding=spec.weight_encoding,
        slice_bits=spec.slice_bits,
        o=o,
        d=d,
        n=2**spec.adc.bits,
        floor_mode=spec.adc.transfer == "floor",
        shift=2 ** (spec.input_bits - 1) if spec.a_shift else 0,
        sign_magnitude=sign_magnitude,
        offset_constant=offset_constant,
        tiles=tiles,
    )


def _codes(rng, spec, batch, k, out):
    lo, hi = spec.x_range
    wl, wh = spec.w_range
    return rng.integers(lo, hi + 1, (batch, k)), rng.integers(wl, wh + 1, (k, out))


def _same(a, b):
    return np.array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))


# ------------------------------------------------------------------------------------------ defaults unchanged
def test_defaults_and_old_dicts():
    s = I.CrossbarSpec(rows=8, input_bits=3, weight_bits=4, mode="bpbs", weight_encoding="offset")
    assert (s.input_encoding, s.weight_offset, s.tiling, s.slice_ranges, s.adc.floor_threshold) == (
        "twos_complement",
        "w_max",
        "full_first",
        None,
        "step",
    )
    old = {
        k: v for k, v in s.to_dict().items() if k not in ("input_encoding", "weight_offset", "tiling", "slice_ranges")
    }
    old["adc"] = {k: v for k, v in old["adc"].items() if k != "floor_threshold"}
    assert I.CrossbarSpec.from_dict(old) == s
    t = I.CrossbarSpec(
        rows=8,
        input_bits=3,
        weight_bits=4,
        mode="bpbs",
        weight_encoding="offset",
        slice_bits=2,
        weight_offset="half_range",
        tiling="even",
        slice_ranges=[(0, 20), (-1.5, 40)],
        adc=I.ADCSpec(5, transfer="floor", floor_threshold="half_unit"),
    )
    assert I.CrossbarSpec.from_json(t.to_json()) == t and t.slice_ranges == ((0.0, 20.0), (-1.5, 40.0))


# ------------------------------------------------------------------------------------------ offset constant
@pytest.mark.kernel
@pytest.mark.parametrize("beta, transfer", [(1, "round"), (2, "floor"), (3, "round")])
def test_offset_constant_kernel_vs_twin(beta, transfer):
    rng = np.random.default_rng(beta)
    spec = I.CrossbarSpec(
        rows=37,
        input_bits=3,
        weight_bits=5,
        mode="bpbs",
        weight_encoding="offset",
        slice_bits=beta,
        weight_offset="half_range",
        adc=I.ADCSpec(4, transfer=transfer, k=2.0),
    )
    x, w = _codes(rng, spec, 5, 90, 7)
    o, d, _ = I.adc_params(spec)
    assert _same(I.imc_matmul(x, w, spec), _ref(x, w, spec, o=o, d=d, offset_constant=16))


def test_offset_constant_constructed_case():
    """Four rows, x = 1, w = 0, 1-bit cells, 4-bit weights, 2-bit granular ADC (codes 0..3).
    refquant's offset 7 = 0111: slices 0..2 each sum to 4, clipped to 3 -> 3*(1+2+4) - 7*4 = -7.
    CrossSim's offset 8 = 1000: slice 3 sums to 4, clipped to 3 -> 3*8 - 8*4 = -8. Lossless: both 0."""
    x, w = np.ones((1, 4), np.int64), np.zeros((4, 1), np.int64)
    kw = dict(rows=4, input_bits=1, weight_bits=4, mode="bpbs", weight_encoding="offset")
    lossy = I.ADCSpec(2, range_policy="granular")
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw, adc=lossy))[0, 0] == -7.0
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw, adc=lossy, weight_offset="half_range"))[0, 0] == -8.0
    for off in ("w_max", "half_range"):
        assert (
            I.imc_matmul(x, w, I.CrossbarSpec(**kw, weight_offset=off, adc=I.ADCSpec(3, range_policy="granular")))[0, 0]
            == 0
        )


# ------------------------------------------------------------------------------------------ sign-magnitude inputs
@pytest.mark.kernel
@pytest.mark.parametrize(
    "signed, enc, beta, transfer",
    [
        (True, "twos_complement", 1, "round"),
        (True, "differential", 2, "floor"),
        (False, "offset", 2, "round"),
        (False, "twos_complement", 1, "floor"),
    ],
)
def test_sign_magnitude_kernel_vs_twin(signed, enc, beta, transfer):
    rng = np.random.default_rng(7)
    spec = I.CrossbarSpec(
        rows=70,
        input_bits=4,
        weight_bits=4,
        mode="bpbs",
        input_signed=signed,
        a_shift=not signed,
        weight_encoding=enc,
        slice_bits=beta,
        input_encoding="sign_magnitude",
        adc=I.ADCSpec(5, transfer=transfer, k=4.0),
    )
    x, w = _codes(rng, spec, 6, 150, 9)
    o, d, _ = I.adc_params(spec)
    m = spec.max_plane_sum
    assert (o, d) == (-m / 4.0, 2 * m / 4.0 / 32)  # bipolar "full" range
    ref = _ref(x, w, spec, o=o, d=d, planes=3 if signed else 4, sign_magnitude=True)
    assert _same(I.imc_matmul(x, w, spec), ref)
    assert np.array_equal(
        I.imc_matmul(x, w, spec.__class__(**{**spec.__dict__, "adc": I.ADCSpec(24, range_policy="granular")})), x @ w
    )


def test_sign_magnitude_constructed_case():
    """x' = [1, -1, 1, -1] (signed 4-bit), w = 1 (two's-complement cells), 2-bit granular ADC.
    Two's complement planes: -1 = 1111, so plane 0 sums to 4 (clipped to 3) and planes 1..3 to 2:
    y = 3 + 2*(2 + 4 - 8) = -1 (ideal 0). Sign-magnitude planes cancel: plane 0 sums to 0, the others
    to 0: y = 0 exactly."""
    x, w = np.array([[1, -1, 1, -1]]), np.ones((4, 1), np.int64)
    kw = dict(
        rows=4, input_bits=4, weight_bits=2, mode="bpbs", input_signed=True, adc=I.ADCSpec(2, range_policy="granular")
    )
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw))[0, 0] == -1.0
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw, input_encoding="sign_magnitude"))[0, 0] == 0.0
    # and the other way round: 3 rows of -1, a sum the unipolar ADC holds (3) but the bipolar one clips (-2)
    x3, w3 = -np.ones((1, 3), np.int64), np.ones((3, 1), np.int64)
    kw["rows"] = 3
    assert I.imc_matmul(x3, w3, I.CrossbarSpec(**kw))[0, 0] == -3.0
    assert I.imc_matmul(x3, w3, I.CrossbarSpec(**kw, input_encoding="sign_magnitude"))[0, 0] == -2.0


def test_sign_magnitude_input_range_is_symmetric():
    spec = I.CrossbarSpec(
        rows=4, input_bits=3, weight_bits=3, mode="bpbs", input_signed=True, input_encoding="sign_magnitude"
    )
    assert spec.x_range == (-3, 3) and spec.n_planes == 2
    with pytest.raises(ValueError, match=r"x_codes has code -4 outside its declared range \[-3, 3\]"):
        I.imc_matmul(np.array([[-4]]), np.array([[1]]), spec)


# ------------------------------------------------------------------------------------------ tiling rule
@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["multibit", "bpbs"])
def test_even_tiling_kernel_vs_twin(mode):
    rng = np.random.default_rng(3)
    spec = I.CrossbarSpec(rows=128, input_bits=3, weight_bits=4, mode=mode, tiling="even", adc=I.ADCSpec(5, k=2.0))
    x, w = _codes(rng, spec, 4, 300, 6)
    tiles = [(0, 100), (100, 200), (200, 300)]  # numpy.array_split(range(300), 3)
    o, d, _ = I.adc_params(spec)
    assert _same(I.imc_matmul(x, w, spec), _ref(x, w, spec, o=o, d=d, tiles=tiles))
    k = 301  # uneven: 101 + 100 + 100
    x, w = _codes(rng, spec, 4, k, 6)
    assert _same(I.imc_matmul(x, w, spec), _ref(x, w, spec, o=o, d=d, tiles=[(0, 101), (101, 201), (201, 301)]))


def test_even_tiling_constructed_case():
    """K = 300 ones, rows = 128, multi-bit 8-bit granular ADC (codes -128..127): full tiles 128 + 128 + 44
    clip the two full tiles to 127 (y = 298); an even split 3 x 100 is exact (y = 300)."""
    x, w = np.ones((1, 300), np.int64), np.ones((300, 1), np.int64)
    kw = dict(rows=128, input_bits=1, weight_bits=2, adc=I.ADCSpec(8, range_policy="granular"))
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw))[0, 0] == 298.0
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw, tiling="even"))[0, 0] == 300.0


# ------------------------------------------------------------------------------------------ floor threshold placement
@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["multibit", "bpbs"])
def test_half_unit_floor_kernel_vs_twin(mode):
    rng = np.random.default_rng(11)
    spec = I.CrossbarSpec(
        rows=40,
        input_bits=3,
        weight_bits=4,
        mode=mode,
        adc=I.ADCSpec(5, transfer="floor", floor_threshold="half_unit", k=2.0),
    )
    x, w = _codes(rng, spec, 5, 100, 6)
    o, d, _ = I.adc_params(spec.__class__(**{**spec.__dict__, "adc": I.ADCSpec(5, transfer="floor", k=2.0)}))
    assert I.adc_params(spec) == (o - 0.5, d, 32)
    assert _same(I.imc_matmul(x, w, spec), _ref(x, w, spec, o=o - 0.5, d=d))


def test_half_unit_floor_constructed_case():
    """Unit step (granular), integer plane sums: the 'step' floor reconstructs every sum a as a + 1/2 (each
    of the Bx * Bw conversions errs by +1/2, weighted by its shift-and-add coefficient); 'half_unit' is exact.
    With a step of 2 units (calibrated 0..64, 5 bits) and sums uniform on 0..63, 'step' errs by +1/2 on
    average and 'half_unit' by 0."""
    rng = np.random.default_rng(0)
    spec = dict(rows=16, input_bits=2, weight_bits=3, mode="bpbs", weight_encoding="differential")
    x, w = rng.integers(0, 4, (20, 16)), rng.integers(-3, 4, (16, 5))
    gran = dict(bits=6, transfer="floor", range_policy="granular")
    _, det = I.imc_matmul(x, w, I.CrossbarSpec(**spec, adc=I.ADCSpec(**gran)), return_details=True)
    assert np.all(det.error == 0.5)
    assert np.array_equal(
        I.imc_matmul(x, w, I.CrossbarSpec(**spec, adc=I.ADCSpec(**gran, floor_threshold="half_unit"))), x @ w
    )
    a = np.arange(64.0)
    cal = dict(bits=5, transfer="floor", range_policy="calibrated", lo=0.0, hi=64.0)
    c1 = I.CrossbarSpec(rows=64, input_bits=1, weight_bits=2, mode="bpbs", adc=I.ADCSpec(**cal))
    c2 = I.CrossbarSpec(
        rows=64, input_bits=1, weight_bits=2, mode="bpbs", adc=I.ADCSpec(**cal, floor_threshold="half_unit")
    )
    assert (I.adc_convert(a, c1)[1] - a).mean() == 0.5
    assert (I.adc_convert(a, c2)[1] - a).mean() == 0.0


# ------------------------------------------------------------------------------------------ per-slice ranges
@pytest.mark.kernel
@pytest.mark.parametrize("enc, transfer", [("offset", "round"), ("differential", "floor")])
def test_slice_ranges_kernel_vs_twin(enc, transfer):
    rng = np.random.default_rng(5)
    spec = I.CrossbarSpec(
        rows=30,
        input_bits=3,
        weight_bits=5,
        mode="bpbs",
        weight_encoding=enc,
        slice_bits=2,
        slice_ranges=[(0.0, 40.0), (-3.0, 70.0)] + ([(1.0, 9.5)] if enc == "offset" else []),
        adc=I.ADCSpec(4, transfer=transfer),
    )
    x, w = _codes(rng, spec, 5, 70, 8)
    y, det = I.imc_matmul(x, w, spec, return_details=True)
    los = np.array([p[0] for p in spec.slice_ranges])
    steps = np.array([(p[1] - p[0]) / 16 for p in spec.slice_ranges])
    assert _same(y, _ref(x, w, spec, o=los, d=steps))
    assert np.array_equal(det.offset, los) and np.array_equal(det.step, steps)
    with pytest.raises(ValueError, match="pass slice_index"):
        I.adc_params(spec)
    assert I.adc_params(spec, slice_index=1) == (-3.0, 73.0 / 16, 16)


def test_slice_ranges_constructed_case():
    """Offset cells, 4-bit weights in two 2-bit slices: w = 3 -> cell 3 + 7 = 10 = 0b10_10, so with
    x = [1, 1, 1, 0] both slices sum to 3 * 2 = 6; y = a0 + 4 a1 - 7 * 3 (ideal 9). A 4-bit round ADC on
    [0, 64) (step 4) reads 6 as 8 (6/4 = 1.5, ties to the even code 2): y = 8 + 32 - 21 = 19. Slice 0 on its
    own range [0, 16) (step 1) reads 6: y = 6 + 32 - 21 = 17; both slices on [0, 16): exact, 9."""
    x, w = np.array([[1, 1, 1, 0]]), np.full((4, 1), 3, np.int64)
    kw = dict(
        rows=4,
        input_bits=1,
        weight_bits=4,
        mode="bpbs",
        weight_encoding="offset",
        slice_bits=2,
        adc=I.ADCSpec(4, range_policy="calibrated", lo=0.0, hi=64.0),
    )
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw))[0, 0] == 19.0
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw, slice_ranges=[(0.0, 16.0), (0.0, 64.0)]))[0, 0] == 17.0
    assert I.imc_matmul(x, w, I.CrossbarSpec(**kw, slice_ranges=[(0.0, 16.0), (0.0, 16.0)]))[0, 0] == 9.0


# ------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "make, exc, match",
    [
        (
            lambda: I.ADCSpec(8, floor_threshold="half_unit"),
            ValueError,
            "floor_threshold='half_unit' is only read by transfer='floor'",
        ),
        (
            lambda: I.ADCSpec(8, transfer="floor", floor_threshold="mid"),
            ValueError,
            "floor_threshold='mid' is not one of",
        ),
        (lambda: I.ADCSpec(8, transfer="floor", floor_threshold=1), TypeError, "floor_threshold must be a str"),
        (
            lambda: I.CrossbarSpec(
                rows=4, input_bits=2, weight_bits=3, input_signed=True, input_encoding="sign_magnitude"
            ),
            ValueError,
            "needs mode='bpbs'",
        ),
        (
            lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs", input_encoding="sign_magnitude"),
            ValueError,
            "input_signed=True or a_shift=True",
        ),
        (
            lambda: I.CrossbarSpec(
                rows=4, input_bits=1, weight_bits=3, mode="bpbs", input_signed=True, input_encoding="sign_magnitude"
            ),
            ValueError,
            "needs input_bits >= 2",
        ),
        (
            lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, input_encoding="ones"),
            ValueError,
            "input_encoding='ones' is not one of",
        ),
        (
            lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs", weight_offset="half_range"),
            ValueError,
            "weight_offset='half_range' is only read by weight_encoding='offset'",
        ),
        (lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, tiling=None), TypeError, "tiling must be a str"),
        (
            lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, slice_ranges=[(0, 1)] * 3),
            ValueError,
            "slice_ranges is only read by mode='bpbs'",
        ),
        (
            lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs", slice_ranges=[(0, 1)] * 2),
            ValueError,
            "n_slices=3, got 2 pairs",
        ),
        (
            lambda: I.CrossbarSpec(
                rows=4, input_bits=2, weight_bits=3, mode="bpbs", slice_ranges=[(0, 1), (2, 1), (0, 1)]
            ),
            ValueError,
            r"slice_ranges\[1\]=\(2.0, 1.0\): hi must be > lo",
        ),
        (
            lambda: I.CrossbarSpec(
                rows=4, input_bits=2, weight_bits=3, mode="bpbs", slice_ranges=[(0, 1), (0, np.nan), (0, 1)]
            ),
            ValueError,
            r"slice_ranges\[1\]\[1\] \(hi\)",
        ),
        (
            lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs", slice_ranges="abc"),
            TypeError,
            "slice_ranges must be a sequence",
        ),
        (
            lambda: I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs", slice_ranges=[0, 1, 2]),
            TypeError,
            r"slice_ranges\[0\] must be a \(lo, hi\) pair",
        ),
        (
            lambda: I.adc_params(I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs"), slice_index=3),
            ValueError,
            "slice_index",
        ),
        (
            lambda: I.adc_convert([1.0], I.CrossbarSpec(rows=4, input_bits=2, weight_bits=3), slice_index=1.0),
            TypeError,
            "slice_index",
        ),
    ],
)
def test_convention_fields_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
