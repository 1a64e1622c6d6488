"""Golden test vectors: export refquant's answers, verify them later or elsewhere.

File format (version 2; full description in docs/GOLDEN.md)::

    DIR/manifest.json                 one JSON document describing every case
    DIR/raw/<case-id>/<name>.bin      each array as raw little-endian bytes, C order
    DIR/npz/<case-id>.npz             the same arrays, compressed NumPy archive (inputs and outputs)

A C++/CUDA test needs only ``manifest.json`` and the ``.bin`` files: each
array entry gives ``dtype`` (NumPy type string, always little-endian:
``<f4``, ``<f8``, ``|i1``, ``|u1``, ``<i2``, ``<u2``, ``<i8``), ``shape``,
``file`` and ``sha256``. Each case entry carries its own ``case_sha256`` over a
canonical byte form (a canonical JSON of the entry with every float written as
its IEEE-754 bits, then each array's header line and raw bytes; see
:func:`case_sha256`), which a C++ reader can recompute without Python's float
formatting. Version-1 directories (``case_sha256`` over Python's JSON text) are
still verified.

Operations are registered in :data:`REGISTRY`; each knows how to make its
cases deterministically from a seed, how to recompute its outputs from the
stored inputs, and its tolerance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import SEMANTICS_VERSION, __version__
from .. import uniform as _uniform
from .._validate import (
    as_path,
    check_callable,
    check_int,
    check_mapping,
    check_sequence,
    check_str,
    check_type,
    short_repr,
)
from ..specs import QuantSpec
from ._compare import EXACT, STRICT, ConformanceError, Tolerance, compare_arrays

__all__ = [
    "GoldenOp",
    "REGISTRY",
    "register",
    "export",
    "verify",
    "profile_specs",
    "VerifyReport",
    "FORMAT",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "canonical_json",
    "case_bytes",
    "case_sha256",
]

#: The ``format`` field of every golden manifest.
FORMAT = "refquant-golden"
#: Version written by :func:`export`. 2: ``case_sha256`` over :func:`case_bytes`; reciprocal/half-even,
#: divide/half-away and backend-style (ONNX QuantizeLinear, PyTorch fake-quantize) uniform cases; fake_quant
#: and dequantize compared with signed zeros.
FORMAT_VERSION = 2
#: Versions :func:`verify` reads (1: ``case_sha256`` over Python's ``json.dumps`` text of the entry).
READABLE_VERSIONS = (1, 2)


@dataclasses.dataclass(frozen=True)
class GoldenOp:
    """One reference operation with golden vectors.

    Parameters
    ----------
    name : str
        The operation's name (the key in :data:`REGISTRY` and the ``op`` of its manifest entries).
    make_cases : callable
        ``make_cases(rng) -> list of dicts`` ``{"spec": dict | None, "params": dict, "inputs":
        {name: ndarray}}``, deterministic given the ``numpy.random.Generator``.
    compute : callable
        ``compute(inputs, spec_dict, params) -> {name: ndarray}``: refquant's outputs of one case.
    tolerance : Tolerance
        How :func:`verify` compares recomputed outputs with the stored ones (default ``EXACT``).

    Attributes
    ----------
    name, make_cases, compute, tolerance
        As the parameters (frozen).

    Raises
    ------
    TypeError, ValueError
        A non-str or empty *name*, a non-callable *make_cases*/*compute*, a *tolerance* that is
        not a :class:`~refquant.testing.Tolerance` (the message names the field).
    """

    name: str
    make_cases: Callable[[np.random.Generator], list[dict[str, Any]]]
    compute: Callable[[dict[str, np.ndarray], dict | None, dict], dict[str, np.ndarray]]
    tolerance: Tolerance = EXACT

    def __post_init__(self) -> None:
        check_str(self.name, "name")
        check_callable(self.make_cases, "make_cases", "(rng) -> list of case dicts")
        check_callable(self.compute, "compute", "(inputs, spec_dict, params) -> dict of arrays")
        check_type(self.tolerance, Tolerance, "tolerance", "a refquant.testing.Tolerance")


#: The operations with golden vectors, by name (:func:`register` adds one; :func:`export` writes them).
REGISTRY: dict[str, GoldenOp] = {}


def register(op: GoldenOp) -> GoldenOp:
    """Add *op* to :data:`REGISTRY`.

    Parameters
    ----------
    op : GoldenOp
        Its ``name`` must be new.

    Returns
    -------
    GoldenOp
        *op* itself.

    Raises
    ------
    TypeError
        *op* is not a :class:`GoldenOp`.
    ValueError
        An operation of that name is already registered.
    """
    check_type(op, GoldenOp, "op", "a refquant.testing.golden.GoldenOp")
    if op.name in REGISTRY:
        raise ValueError(f"golden op {op.name!r} is already registered")
    REGISTRY[op.name] = op
    return op


# ---------------------------------------------------------------- uniform quantizer cases
def _uniform_specs() -> list[QuantSpec]:
    """Every (rounding, scale_op) pair twice across bit widths, signedness, narrow range, axis and compute
    dtype; then the configurations of real backends (ONNX QuantizeLinear, PyTorch fake-quantize, C ``round``)."""
    specs = []
    modes = ["half_even", "half_away", "half_up", "floor"]
    for i in range(4 * len(modes)):
        bits = (2, 4, 8, 16)[(i // 4) % 4]
        signed = (i // 8) % 2 == 0
        op = ("divide", "reciprocal")[i % 2]
        mode = modes[(i // 2) % len(modes)]
        narrow = bool(i % 3 == 0) and not (signed and bits < 2)
        axis = None if (i // 2) % 2 == 0 else (i // 4) % 2
        dtype = ("float32", "float64")[(i // 3) % 2]
        specs.append(
            QuantSpec(
                bits, signed=signed, narrow_range=narrow, axis=axis, rounding=mode, scale_op=op, compute_dtype=dtype
            )
        )
    f32 = "float32"
    # ONNX QuantizeLinear / DequantizeLinear: x / y_scale, round half to even, saturate (int8 and uint8)
    for signed, axis in ((True, None), (True, 0), (True, 1), (False, None), (False, 1)):
        specs.append(QuantSpec(8, signed=signed, axis=axis, rounding="half_even", scale_op="divide", compute_dtype=f32))
    # PyTorch fake_quantize_per_tensor/per_channel_affine: x * float32(1/scale), round half to even
    for signed, axis in ((True, None), (False, None), (True, 0), (False, 1)):
        specs.append(
            QuantSpec(8, signed=signed, axis=axis, rounding="half_even", scale_op="reciprocal", compute_dtype=f32)
        )
    # C round() (half away from zero) after a division, symmetric narrow int8 and int4
    for bits in (8, 4):
        specs.append(QuantSpec(bits, narrow_range=True, rounding="half_away", scale_op="divide", compute_dtype=f32))
    # every backend profile (refquant.profiles): its specs per tensor, per channel and blocked
    for s in profile_specs():
        if s not in specs:
            specs.append(s)
    return specs


def profile_specs(name: str | None = None) -> list[QuantSpec]:
    """Representative specs of one backend profile (or of every profile, ``name=None``) for golden vectors.

    For each profile: its 8-bit full-range specs (or, for a backend without 8-bit codes, its first
    two) and its narrowest and widest supported grids, each per tensor, per channel (along axis 1,
    or the last axis for TensorFlow) where the backend has it, and blocked (``block_size=16`` along
    axis 1 of the (3, 40) case arrays, so the last block is partial) where it has that.

    Parameters
    ----------
    name : str or None
        A profile name (:func:`refquant.profiles.names`); ``None`` for all.

    Returns
    -------
    list of QuantSpec
        Without duplicates, in profile order.

    Raises
    ------
    TypeError, ValueError
        *name* not a str, or not a known profile (the message lists the allowed names).
    """
    from .. import profiles

    names = profiles.names() if name is None else [profiles.get(name).name]
    out: list[QuantSpec] = []
    for n in names:
        p = profiles.get(n)
        base = p.specs()
        picks = [s for s in base if s.bits == 8 and not s.narrow_range] or base[:2]
        for s in picks + [base[0], base[-1]]:
            kw = dict(signed=s.signed, narrow_range=s.narrow_range)
            layouts = [{}]
            if "per_channel" in p.layouts:
                layouts.append({"axis": -1 if n == "tf.fake_quant" else 1})
            if "blocked" in p.layouts:
                layouts.append({"axis": 1, "block_size": 16})
            for lay in layouts:
                try:
                    c = p.spec(s.bits, **kw, **lay)
                except ValueError:  # e.g. no per-channel kernel for this code width
                    continue
                if c not in out:
                    out.append(c)
    return out


def _uniform_inputs(spec: QuantSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    cdt = spec.resolve_compute_dtype(np.float32)  # compute_dtype=None (input-dtype profiles): float32 data
    shape = (3, 40)
    pshape = None
    if spec.axis is not None and getattr(spec, "block_size", None):
        pshape = list(shape)
        pshape[spec.axis] = -(-shape[spec.axis] // spec.block_size)
    n_ch = 1 if spec.axis is None else (int(np.prod(pshape)) if pshape else shape[spec.axis])
    scale = np.where(rng.random(n_ch) < 0.5, 2.0 ** rng.integers(-6, 2, n_ch), rng.uniform(0.01, 0.5, n_ch)).astype(cdt)
    zp = rng.integers(spec.qmin, spec.qmax + 1, n_ch).astype(np.int64)
    if spec.signed and rng.random() < 0.5:
        zp[:] = 0  # symmetric (zero point 0) for about half the signed cases
    s0, z0 = float(scale[0]), int(zp[0])
    k = rng.integers(spec.qmin - z0 - 2, spec.qmax - z0 + 3, shape[0] * shape[1])
    kind = rng.integers(0, 4, k.size)
    x = np.where(
        kind == 0, (k + 0.5) * s0, np.where(kind == 1, k * s0, rng.normal(0, (spec.qmax - spec.qmin) * s0 / 4, k.size))
    )
    x = x.astype(cdt)
    x[kind == 3] = np.nextafter(x[kind == 3], np.inf)
    x = x.reshape(shape)
    if spec.axis is None:
        scale, zp = scale[:1], zp[:1]
    elif pshape:
        scale, zp = scale.reshape(pshape), zp.reshape(pshape)
    return {"x": x, "scale": scale, "zero_point": zp}


def _uniform_cases(rng: np.random.Generator, specs: list[QuantSpec] | None = None) -> list[dict[str, Any]]:
    specs = _uniform_specs() if specs is None else specs
    return [{"spec": s.to_dict(), "params": {}, "inputs": _uniform_inputs(s, rng)} for s in specs]


def _sz(inputs, spec: QuantSpec):
    s, z = inputs["scale"], inputs["zero_point"]
    return (s, z) if spec.axis is not None else (s[0], int(z[0]))


def _fq(inputs, spec_d, params):
    spec = QuantSpec.from_dict(spec_d)
    s, z = _sz(inputs, spec)
    return {"y": _uniform.fake_quant(inputs["x"], s, z, spec)}


def _q(inputs, spec_d, params):
    spec = QuantSpec.from_dict(spec_d)
    s, z = _sz(inputs, spec)
    return {"codes": _uniform.quantize(inputs["x"], s, z, spec)}


def _dq_cases(rng, specs: list[QuantSpec] | None = None):
    cases = []
    for c in _uniform_cases(rng, specs):
        spec = QuantSpec.from_dict(c["spec"])
        s, z = _sz(c["inputs"], spec)
        codes = _uniform.quantize(c["inputs"]["x"], s, z, spec)
        cases.append(
            {
                "spec": c["spec"],
                "params": {},
                "inputs": {"codes": codes, "scale": c["inputs"]["scale"], "zero_point": c["inputs"]["zero_point"]},
            }
        )
    return cases


def _dq(inputs, spec_d, params):
    spec = QuantSpec.from_dict(spec_d)
    s, z = _sz(inputs, spec)
    return {"y": _uniform.dequantize(inputs["codes"], s, z, spec)}


register(GoldenOp("fake_quant", _uniform_cases, _fq, STRICT))
register(GoldenOp("quantize", _uniform_cases, _q))
register(GoldenOp("dequantize", _dq_cases, _dq, STRICT))


def _tf_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    """TensorFlow 2.21 fake_quant_with_min_max_{args, vars, vars_per_channel}
    (refquant.profiles.tf_fake_quant_model)."""
    cases = []
    for variant in ("args", "vars", "per_channel"):
        for num_bits, narrow in ((8, False), (8, True), (4, False), (2, False), (16, True)):
            n = 40 if variant == "per_channel" else 1
            lo = (-rng.integers(0, 200, n) * rng.uniform(0.001, 0.05, n)).astype(np.float32)
            hi = (rng.integers(1, 200, n) * rng.uniform(0.001, 0.05, n)).astype(np.float32)
            if variant != "per_channel":
                lo, hi = lo.reshape(()), hi.reshape(())
            span = float(np.max(hi - lo))
            k = rng.integers(-3, (1 << num_bits) + 3, 120)
            x = (float(np.min(lo)) + (k + rng.choice([0.0, 0.5], k.size)) * span / ((1 << num_bits) - 1)).astype(
                np.float32
            )
            cases.append(
                {
                    "spec": None,
                    "params": {"num_bits": num_bits, "narrow_range": narrow, "variant": variant},
                    "inputs": {"x": x.reshape(3, 40), "min": lo, "max": hi},
                }
            )
    return cases


def _tf_fq(inputs, spec_d, params):
    from ..profiles import tf_fake_quant_model

    return {
        "y": tf_fake_quant_model(
            inputs["x"], inputs["min"], inputs["max"], params["num_bits"], params["narrow_range"], params["variant"]
        )
    }


register(GoldenOp("tf_fake_quant", _tf_cases, _tf_fq, STRICT))


# ---------------------------------------------------------------- signed-binary and repetition cases
def _sb_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    from ..binarize import region_layout

    cases = []
    for shape, axis, region in [((4, 6, 3, 3), 0, None), ((4, 6, 3, 3), 0, 2), ((6, 8), 1, None), ((5, 4, 1, 1), 0, 1)]:
        for threshold in (0.05, 0.5):
            w = rng.normal(size=shape)
            lay = region_layout(shape, axis=axis, region=region)
            flat = lay.view(w)  # put one weight of each region exactly on its threshold (the >= boundary)
            for f in range(lay.n_filters):
                for t in range(lay.n_tiles):
                    m = np.abs(flat[f, t]).max()
                    flat[f, t].flat[-1] = threshold * m if (f + t) % 2 else -threshold * m
            w = lay.restore(flat)
            inputs = {"w": w}
            params = {"threshold": threshold, "axis": axis, "region": region}
            if region is not None:
                inputs["signs"] = rng.choice(np.array([-1, 1], dtype=np.int8), size=(lay.n_filters, lay.n_tiles))
            cases.append({"spec": None, "params": params, "inputs": inputs})
    return cases


def _sb(inputs, spec_d, params):
    from ..binarize import signed_binarize

    return {"q": signed_binarize(inputs["w"], signs=inputs.get("signs"), **params)}


def _mm_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for k, out, batch, density in [(6, 2, 1, 1.0), (24, 5, 3, 0.3), (64, 8, 2, 0.5), (9, 4, 2, 0.0)]:
        for kind in ("binary", "ternary", "signed_binary"):
            mask = rng.random((k, out)) < (1.0 if kind == "binary" else density)
            sgn = rng.choice([-1, 1], size=(1, out) if kind == "signed_binary" else (k, out))
            w = (sgn * mask * rng.integers(1, 4, size=(1, out))).astype(np.int64)
            if out > 1:
                w[:, 1] = -w[:, 0]  # cross-filter repetition up to sign
            x = rng.integers(-(2**20), 2**20, size=(batch, k)).astype(np.int64)
            cases.append({"spec": None, "params": {"kind": kind, "tile": 8}, "inputs": {"x": x, "w_q": w}})
    return cases


def _counts(c) -> np.ndarray:
    return np.array([c.adds, c.muls, c.dense_macs], dtype=np.int64)


def _fmm(inputs, spec_d, params):
    from ..repetition import factorized_matmul

    y, c = factorized_matmul(inputs["x"], inputs["w_q"])
    return {"y": y, "counts_adds_muls_dense": _counts(c)}


def _smm(inputs, spec_d, params):
    from ..repetition import shared_sum_matmul

    y, c = shared_sum_matmul(inputs["x"], inputs["w_q"], tile=params["tile"])
    return {"y": y, "counts_adds_muls_dense": _counts(c)}


register(GoldenOp("signed_binarize", _sb_cases, _sb))
register(GoldenOp("factorized_matmul", _mm_cases, _fmm))
register(GoldenOp("shared_sum_matmul", _mm_cases, _smm))


# ---------------------------------------------------------------- clipping, kurtosis / KURE, IMC cases
_DISTS = ("gaussian", "laplace", "uniform")


def _mse_cases(rng):
    from ..clipping import GRIDS

    cases = []
    for dist in _DISTS:
        for grid in GRIDS:
            for signed in (True, False):
                bits = int(rng.integers(2, 9))
                alphas = np.sort(rng.uniform(0.2, 6.0, 7))
                cases.append(
                    {
                        "spec": None,
                        "params": {"dist": dist, "grid": grid, "signed": signed, "bits": bits, "scale": 1.5},
                        "inputs": {"alpha": alphas},
                    }
                )
    return cases


def _mse(inputs, spec_d, p):
    from ..clipping import mse_exact

    return {"mse": mse_exact(inputs["alpha"], p["bits"], p["dist"], p["scale"], grid=p["grid"], signed=p["signed"])}


def _clip_cases(rng):
    from ..clipping import GRIDS

    return [
        {
            "spec": None,
            "params": {"dist": d, "grid": g, "model": m, "signed": True},
            "inputs": {"bits": np.arange(2, 9, dtype=np.int64)},
        }
        for d in _DISTS
        for g in GRIDS
        for m in ("aciq", "exact")
        if not (m == "aciq" and g != "midrise")
    ]


def _clip(inputs, spec_d, p):
    from ..clipping import optimal_clip

    return {
        "alpha": np.array(
            [
                optimal_clip(int(b), p["dist"], model=p["model"], grid=p["grid"], signed=p["signed"])
                for b in inputs["bits"]
            ]
        )
    }


def _kurt_cases(rng):
    out = []
    for kind in ("normal", "laplace", "uniform", "gamma"):
        x = getattr(rng, kind)(size=(6, 50)) if kind != "gamma" else rng.gamma(2.0, size=(6, 50))
        out.append({"spec": None, "params": {"axis": 0, "bias": True}, "inputs": {"x": x}})
        out.append({"spec": None, "params": {"axis": None, "bias": False}, "inputs": {"x": x}})
        out.append(
            {"spec": None, "params": {"axis": 0, "bias": True, "ddof": 1}, "inputs": {"x": x}}
        )  # KURE code's std
    return out


def _kurt(inputs, spec_d, p):
    from ..kurtosis import kurtosis

    return {"kurtosis": np.atleast_1d(kurtosis(inputs["x"], p["axis"], bias=p["bias"], ddof=p.get("ddof", 0)))}


def _kure_cases(rng):
    cases = []
    for n_layers in (1, 2, 3):
        layers = {
            f"w{i}": rng.standard_normal(tuple(int(v) for v in rng.integers(2, 9, size=2))) * (1 + i)
            for i in range(n_layers)
        }
        cases.append({"spec": None, "params": {"target": 1.8}, "inputs": layers})
    # the released KURE code's unbiased std (ddof=1) on the same layers (no new random draws)
    cases.append({"spec": None, "params": {"target": 1.8, "ddof": 1}, "inputs": dict(cases[-1]["inputs"])})
    return cases


def _kure(inputs, spec_d, p):
    from ..kurtosis import kure_grad, kure_loss

    names = sorted(inputs, key=lambda k: int(k[1:]))
    ws = [inputs[k] for k in names]
    ddof = p.get("ddof", 0)
    out = {f"g{k[1:]}": g for k, g in zip(names, kure_grad(ws, p["target"], ddof=ddof))}
    out["loss"] = np.array([kure_loss(ws, p["target"], ddof=ddof)])
    return out


def _imc_cases(rng):
    from ..imc import ADCSpec, CrossbarSpec

    specs = [
        CrossbarSpec(rows=64, input_bits=4, weight_bits=4, adc=ADCSpec(8, transfer="floor", k=4.0)),
        CrossbarSpec(rows=64, input_bits=4, weight_bits=4, adc=ADCSpec(6), a_shift=True),
        CrossbarSpec(rows=50, input_bits=3, weight_bits=5, mode="bpbs", adc=ADCSpec(5)),
        CrossbarSpec(
            rows=50,
            input_bits=3,
            weight_bits=5,
            mode="bpbs",
            weight_encoding="offset",
            slice_bits=2,
            adc=ADCSpec(4, transfer="floor", k=2.0),
            a_shift=True,
        ),
        CrossbarSpec(
            rows=33,
            input_bits=4,
            weight_bits=4,
            mode="bpbs",
            input_signed=True,
            weight_encoding="differential",
            slice_bits=3,
            adc=ADCSpec(6, range_policy="calibrated", lo=0.0, hi=40.0),
        ),
        CrossbarSpec(rows=100, input_bits=4, weight_bits=4, mode="bpbs", adc=ADCSpec(24, range_policy="granular")),
        CrossbarSpec(
            rows=50,
            input_bits=4,
            weight_bits=5,
            mode="bpbs",
            input_signed=True,
            input_encoding="sign_magnitude",
            weight_encoding="offset",
            slice_bits=2,
            weight_offset="half_range",
            tiling="even",
            slice_ranges=[(0.0, 60.0), (0.0, 100.0), (0.0, 40.0)],
            adc=ADCSpec(5, transfer="floor", floor_threshold="half_unit"),
        ),
    ]
    cases = []
    for sp in specs:
        lo, hi = sp.x_range
        wl, wh = sp.w_range
        cases.append(
            {
                "spec": sp.to_dict(),
                "params": {},
                "inputs": {
                    "x_codes": rng.integers(lo, hi + 1, size=(3, 130)).astype(np.int64),
                    "w_codes": rng.integers(wl, wh + 1, size=(130, 5)).astype(np.int64),
                },
            }
        )
    return cases


def _imc(inputs, spec_d, p):
    from ..imc import CrossbarSpec, imc_matmul

    return {"y": imc_matmul(inputs["x_codes"], inputs["w_codes"], CrossbarSpec.from_dict(spec_d))}


register(GoldenOp("mse_exact", _mse_cases, _mse, Tolerance("rel", rtol=1e-12)))
register(GoldenOp("optimal_clip", _clip_cases, _clip, Tolerance("rel", rtol=1e-9)))
register(GoldenOp("kurtosis", _kurt_cases, _kurt, Tolerance("rel", rtol=1e-12)))
register(GoldenOp("kure_grad", _kure_cases, _kure, Tolerance("rel", rtol=1e-12, atol=1e-300)))
register(GoldenOp("imc_matmul", _imc_cases, _imc))


# ---------------------------------------------------------------- file format
def _le(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.astype(a.dtype.newbyteorder("<"), copy=False)


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _canonical_v1(entry: dict) -> bytes:
    """Format version 1: Python's JSON text of the entry without ``case_sha256``."""
    e = {k: v for k, v in entry.items() if k != "case_sha256"}
    return json.dumps(e, sort_keys=True, separators=(",", ":")).encode()


def canonical_json(value: Any) -> str:
    r"""The canonical JSON text of *value* that :func:`case_bytes` hashes (no Python float formatting).

    Objects: keys sorted by their bytes, ``{"k":v,...}`` with no whitespace. Arrays: ``[a,b]``.
    ``null``, ``true``, ``false``. Integers: decimal (``-12``). Floats: the string ``"f64:"``
    followed by the 16 lowercase hex digits of the value's IEEE-754 binary64 bit pattern (``1.5`` ->
    ``"f64:3ff8000000000000"``). Strings: written between double quotes verbatim; they must be
    printable ASCII without ``"`` or ``\`` (so no escaping rule is needed), which holds for every
    key and value refquant writes.

    Parameters
    ----------
    value : None, bool, int, float, str, list, tuple or dict (nested)
        Dict keys must be str.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        A string outside that alphabet, or a non-finite float (the message gives its path, e.g.
        ``value['params']['scale']``).
    TypeError
        A value of another type (a set, an object) or a non-str dict key, with its path.

    Examples
    --------
    >>> canonical_json({"b": [1, 1.5], "a": None})
    '{"a":null,"b":[1,"f64:3ff8000000000000"]}'
    """
    return _canonical(value, "value")


def _canonical(value: Any, path: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not np.isfinite(v):
            raise ValueError(f"{path}={v!r}: golden manifests hold finite floats only")
        return f'"f64:{int(np.array(v, dtype="<f8").view("<u8")):016x}"'
    if isinstance(value, str):
        if not all(32 <= ord(c) < 127 for c in value) or '"' in value or "\\" in value:
            raise ValueError(
                f"{path}={value!r}: canonical JSON allows printable ASCII strings without quotes or backslashes"
            )
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise TypeError(f"{path} has the key {k!r} (type={type(k).__name__}); manifest keys are str")
        keys = sorted(value, key=lambda k: k.encode("ascii", "replace"))
        return (
            "{"
            + ",".join(_canonical(k, f"{path}[{k!r}]") + ":" + _canonical(value[k], f"{path}[{k!r}]") for k in keys)
            + "}"
        )
    raise TypeError(
        f"{path} has type={type(value).__name__}, which cannot appear in a golden manifest; allowed: None, bool, "
        "int, float, str, list, tuple, dict"
    )


_CASE_MAGIC = b"refquant-golden-case-v2\n"


def _check_entry(entry: Any, name: str = "entry") -> dict:
    """A manifest case entry: a dict whose ``inputs`` and ``outputs`` map array names to dicts with
    ``dtype``, ``shape`` and ``file``."""
    d = check_mapping(entry, name)
    for kind in ("inputs", "outputs"):
        if kind not in d:
            raise ValueError(f"{name} has no {kind!r} key; a case entry maps 'inputs' and 'outputs' to arrays")
        arrays = check_mapping(d[kind], f"{name}[{kind!r}]")
        for an, meta in arrays.items():
            check_mapping(meta, f"{name}[{kind!r}][{an!r}]")
            missing = [k for k in ("dtype", "shape", "file") if k not in meta]
            if missing:
                raise ValueError(f"{name}[{kind!r}][{an!r}] lacks the key(s) {missing}")
    return d


def case_bytes(entry: dict, arrays: dict[str, dict[str, bytes]]) -> bytes:
    r"""The canonical byte form of one case (format version 2), whose SHA-256 is ``case_sha256``.

    Concatenation of: the ASCII line ``refquant-golden-case-v2``; the :func:`canonical_json` of the
    entry without its ``case_sha256`` key and a newline; then for ``inputs`` and then ``outputs``,
    for each array name in sorted (byte) order, the ASCII header line ``"<input|output> <name>
    <dtype> <shape>\n"`` (shape as comma-separated decimal sides, empty for a 0-d array) followed by
    the array's raw bytes (its ``.bin`` file: little-endian, C order).

    Parameters
    ----------
    entry : dict
        A case entry of ``manifest.json``: ``inputs`` and ``outputs`` map array names to dicts with
        ``dtype``, ``shape`` and ``file``.
    arrays : {"inputs": {name: bytes}, "outputs": {name: bytes}}
        The raw bytes of every array of *entry*.

    Returns
    -------
    bytes

    Raises
    ------
    TypeError, ValueError
        *entry* or *arrays* not dicts of that form, or an array of *entry* without bytes in
        *arrays* (the message names the parameter and key).
    """
    _check_entry(entry)
    arrays = check_mapping(arrays, "arrays", required=("inputs", "outputs"))
    for kind in ("inputs", "outputs"):
        got = check_mapping(arrays[kind], f"arrays[{kind!r}]")
        for name in entry[kind]:
            if not isinstance(got.get(name), (bytes, bytearray)):
                raise ValueError(
                    f"arrays[{kind!r}] has no bytes for the array {name!r} of entry[{kind!r}] "
                    f"(got {short_repr(got.get(name))})"
                )
    e = {k: v for k, v in entry.items() if k != "case_sha256"}
    parts = [_CASE_MAGIC, canonical_json(e).encode("ascii"), b"\n"]
    for kind in ("inputs", "outputs"):
        for name in sorted(entry[kind], key=lambda k: k.encode("ascii")):
            meta = entry[kind][name]
            shape = ",".join(str(int(d)) for d in meta["shape"])
            parts.append(f"{kind[:-1]} {name} {meta['dtype']} {shape}\n".encode("ascii"))
            parts.append(arrays[kind][name])
    return b"".join(parts)


def case_sha256(entry: dict, directory) -> str:
    """``case_sha256`` of *entry* (format version 2) with its arrays read from *directory*'s ``.bin`` files.

    Parameters
    ----------
    entry : dict
        A case entry of ``manifest.json`` (see :func:`case_bytes`).
    directory : str or os.PathLike
        The golden directory the entry's ``file`` paths are relative to.

    Returns
    -------
    str
        64 lowercase hex digits: SHA-256 of :func:`case_bytes`.

    Raises
    ------
    TypeError, ValueError
        *entry* not a case entry, *directory* not a path (the message names the parameter).
    OSError
        An array file cannot be read.
    """
    _check_entry(entry)
    root = as_path(directory, "directory")
    arrays = {
        kind: {n: (root / m["file"]).read_bytes() for n, m in entry[kind].items()} for kind in ("inputs", "outputs")
    }
    return _sha(case_bytes(entry, arrays))


def _tol_dict(t: Tolerance) -> dict:
    return dataclasses.asdict(t)


_PROFILE_OPS = ("fake_quant", "quantize", "dequantize")


def _check_ops(ops) -> list[str] | None:
    """None or a list/tuple of operation names (str; membership in :data:`REGISTRY` is checked by the caller)."""
    if ops is None:
        return None
    return [check_str(n, f"ops[{i}]") for i, n in enumerate(check_sequence(ops, "ops"))]


def export(directory, *, ops: list[str] | None = None, seed: int = 0, profile: str | None = None) -> dict:
    """Write golden vectors for *ops* (default: all registered) into *directory*; return the manifest.

    Parameters
    ----------
    directory : str or os.PathLike
        Output folder (created if missing).
    ops : list or tuple of str, or None
        Operations (names in :data:`REGISTRY`); default all (with *profile*: the uniform quantizer's
        ``fake_quant``, ``quantize``, ``dequantize``, and ``tf_fake_quant`` for ``"tf.fake_quant"``).
    seed : int >= 0
        Seed of the case generators.
    profile : str or None
        A backend profile (:func:`refquant.profiles.names`): the uniform cases use only that
        profile's specs (:func:`profile_specs`: per tensor, per channel and blocked where the backend
        has them), so the vectors state that backend's semantics. The manifest records
        ``"profile"``.

    Returns
    -------
    dict
        The manifest (also written to ``directory/manifest.json``).

    Raises
    ------
    TypeError
        *directory* not a path; *ops* not a list or tuple of str (a single str, a set); *seed* not
        an int; *profile* not a str.
    ValueError
        Unknown op or profile names (listing the allowed ones), a negative *seed*.
    """
    root = as_path(directory, "directory")
    ops = _check_ops(ops)
    seed = check_int(seed, "seed", 0)
    makers = {n: op.make_cases for n, op in REGISTRY.items()}
    if profile is not None:
        from .. import profiles

        check_str(profile, "profile")
        if profile not in profiles.names():
            raise ValueError(
                f"profile={profile!r} is not a known profile; allowed: {', '.join(repr(n) for n in profiles.names())}"
            )
        pspecs = profile_specs(profile)
        makers["fake_quant"] = makers["quantize"] = lambda rng: _uniform_cases(rng, pspecs)
        makers["dequantize"] = lambda rng: _dq_cases(rng, pspecs)
        default = list(_PROFILE_OPS) + (["tf_fake_quant"] if profile == "tf.fake_quant" else [])
    else:
        default = list(REGISTRY)
    names = default if ops is None else list(ops)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"ops={unknown}: unknown; available: {sorted(REGISTRY)}")
    (root / "raw").mkdir(parents=True, exist_ok=True)
    (root / "npz").mkdir(parents=True, exist_ok=True)
    cases_out = []
    for oi, name in enumerate(names):
        op = REGISTRY[name]
        rng = np.random.default_rng([seed, oi])
        for i, case in enumerate(makers[name](rng)):
            cid = f"{name}-{i:04d}"
            outputs = op.compute(case["inputs"], case["spec"], case["params"])
            entry: dict[str, Any] = {
                "id": cid,
                "op": name,
                "spec": case["spec"],
                "params": case["params"],
                "tolerance": _tol_dict(op.tolerance),
                "inputs": {},
                "outputs": {},
            }
            arrays = {}
            (root / "raw" / cid).mkdir(parents=True, exist_ok=True)
            for kind, group in (("inputs", case["inputs"]), ("outputs", outputs)):
                for an, arr in group.items():
                    a = _le(np.asarray(arr))
                    rel = f"raw/{cid}/{kind[:-1]}_{an}.bin"
                    data = a.tobytes(order="C")
                    (root / rel).write_bytes(data)
                    entry[kind][an] = {"dtype": a.dtype.str, "shape": list(a.shape), "file": rel, "sha256": _sha(data)}
                    arrays[f"{kind[:-1]}_{an}"] = a
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            rel_npz = f"npz/{cid}.npz"
            (root / rel_npz).write_bytes(buf.getvalue())
            entry["npz"] = rel_npz
            entry["npz_sha256"] = _sha(buf.getvalue())
            entry["case_sha256"] = case_sha256(entry, root)
            cases_out.append(entry)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "refquant_version": __version__,
        "semantics_version": SEMANTICS_VERSION,
        "seed": seed,
        "cases": cases_out,
    }
    if profile is not None:
        manifest["profile"] = profile
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


@dataclasses.dataclass
class VerifyReport:
    """Result of :func:`verify`.

    Parameters
    ----------
    checked : int
        Cases checked.
    failures : list of (str, str)
        ``(case id, reason)`` of every failing case.
    notes : list of str
        Remarks that do not fail the verification (an older format version, another semantics
        version).

    Attributes
    ----------
    checked, failures, notes
        As the parameters.
    """

    checked: int = 0
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the verification passed.

        Returns
        -------
        bool
            ``True`` when at least one case was checked and none failed.
        """
        return not self.failures and self.checked > 0

    def summary(self) -> str:
        """A readable account of the verification.

        Returns
        -------
        str
            ``"checked N case(s): F failure(s)"``, then one line per note and per failure.

        Examples
        --------
        >>> print(VerifyReport(checked=3).summary())
        checked 3 case(s): 0 failure(s)
        """
        lines = [f"checked {self.checked} case(s): {len(self.failures)} failure(s)"]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  FAIL {cid}: {why}" for cid, why in self.failures]
        return "\n".join(lines)


def _load_array(root: pathlib.Path, meta: dict) -> np.ndarray:
    data = (root / meta["file"]).read_bytes()
    if _sha(data) != meta["sha256"]:
        raise ValueError(f"{meta['file']}: sha256 mismatch (file corrupted or replaced)")
    dt = np.dtype(meta["dtype"])
    n = int(np.prod(meta["shape"], dtype=np.int64))
    if len(data) != n * dt.itemsize:
        raise ValueError(f"{meta['file']}: {len(data)} bytes, expected {n * dt.itemsize}")
    return np.frombuffer(data, dtype=dt).reshape(meta["shape"])


def verify(directory, *, ops: list[str] | None = None) -> VerifyReport:
    """Check integrity of the vectors in *directory* and recompute every case with this refquant.

    Reads format versions :data:`READABLE_VERSIONS` (each by its own ``case_sha256`` rule; an older
    version adds a note to the report). A newer or unknown version raises ``ValueError`` saying so.

    Parameters
    ----------
    directory : str or os.PathLike
        A directory written by :func:`export`.
    ops : list or tuple of str, or None
        Check only these operations (names in :data:`REGISTRY`); default every case.

    Returns
    -------
    VerifyReport
        ``ok`` when every case's files, hashes and recomputed outputs match.

    Raises
    ------
    FileNotFoundError
        No ``manifest.json`` in *directory*.
    TypeError
        *directory* not a path; *ops* not a list or tuple of str.
    ValueError
        Not a golden manifest, a format version this refquant cannot read, or an unknown op name
        in *ops*.
    """
    root = as_path(directory, "directory")
    ops = _check_ops(ops)
    if ops is not None:
        unknown = [n for n in ops if n not in REGISTRY]
        if unknown:
            raise ValueError(f"ops={unknown}: unknown; available: {sorted(REGISTRY)}")
    report = VerifyReport()
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise FileNotFoundError(f"{mpath} does not exist; export first (refquant golden export DIR)")
    manifest = json.loads(mpath.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{mpath}: not a {FORMAT} manifest (format={manifest.get('format')!r})")
    version = manifest.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"{mpath}: format_version={version!r} cannot be read by this refquant "
            f"(it reads versions {', '.join(map(str, READABLE_VERSIONS))}); "
            "use the refquant version that wrote it, or export again"
        )
    if version != FORMAT_VERSION:
        report.notes.append(
            f"format version {version} (this refquant writes {FORMAT_VERSION}); verified by its own rules"
        )
    if manifest.get("semantics_version") != SEMANTICS_VERSION:
        report.notes.append(
            f"vectors were made under semantics version {manifest.get('semantics_version')}, "
            f"this refquant has {SEMANTICS_VERSION}"
        )
    for entry in manifest["cases"]:
        cid = entry.get("id", "?")
        if ops is not None and entry.get("op") not in ops:
            continue
        report.checked += 1
        try:
            inputs = {k: _load_array(root, m) for k, m in entry["inputs"].items()}
            stored = {k: _load_array(root, m) for k, m in entry["outputs"].items()}
            want = _sha(_canonical_v1(entry)) if version == 1 else case_sha256(entry, root)
            if want != entry.get("case_sha256"):
                raise ValueError("manifest entry was modified (case_sha256 mismatch)")
            op = REGISTRY.get(entry["op"])
            if op is None:
                raise ValueError(f"unknown op {entry['op']!r}")
            npz_bytes = (root / entry["npz"]).read_bytes()
            if _sha(npz_bytes) != entry["npz_sha256"]:
                raise ValueError(f"{entry['npz']}: sha256 mismatch")
            with np.load(io.BytesIO(npz_bytes)) as z:
                for k, a in list(inputs.items()) + list(stored.items()):
                    key = ("input_" if k in inputs else "output_") + k
                    if key not in z or not np.array_equal(z[key], a):
                        raise ValueError(f"{entry['npz']}: array {key} differs from its raw file")
            fresh = op.compute({k: v.copy() for k, v in inputs.items()}, entry["spec"], entry["params"])
            tol = Tolerance(**entry["tolerance"])
            for k, a in stored.items():
                compare_arrays(
                    a, fresh[k], tol, op=f"{entry['op']} output {k!r}", context={"case": cid, "spec": entry["spec"]}
                )
        except (ValueError, TypeError, KeyError, ConformanceError, OSError) as exc:
            report.failures.append((cid, str(exc).splitlines()[0]))
    return report
