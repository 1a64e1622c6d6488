"""Bad-input registry: every public callable of refquant, fed every applicable class of bad input.

What is enumerated
------------------
Every callable in ``__all__`` of every public module (``refquant`` and each ``refquant.<name>`` whose
path has no component starting with ``_`` and that defines ``__all__``), plus every public method
(defined in the class body, not inherited) of every public class. ``test_every_public_callable_has_an_entry``
fails for a public callable without an entry in ``REGISTRY`` below.

What is asserted, per case (one pytest item per parameter x bad-input class)
-------------------------------------------------------------------------
* ``"raise"`` (the default): a ``ValueError`` or ``TypeError`` whose message names the parameter
  (as a word: ``x``, ``spec``, ``weights[0]`` ...). Any other exception type fails.
* ``"same"`` (the default for non-contiguous, read-only, Fortran-order and list inputs, which hold
  the same values): the result equals the valid call's result exactly.
* ``"f16"`` (the default for float16 arrays): a clear error naming the parameter, or the result of
  the same values promoted to float64 (float16 is never computed in half precision).
* ``("pow", k)``: the input was multiplied by ``2**F`` (``F = 996`` for "huge", ``-996`` for "tiny",
  ``-1040`` for "subnormal", an exact rescaling) and the result must be ``2**(k*F)`` times the
  valid result (relative 1e-9): the statistic is scale-equivariant of degree ``k`` (0: invariant).
  A clear error naming the parameter is accepted instead only where the case says ``("pow", k, "or_raise")``.
* ``"finite"``: either a clear error naming the parameter or a result with no NaN/inf where the
  valid result has none.
* a callable ``check(result, valid_result)``: a documented correct result stated by the entry.
For every case, every argument is compared with a deep copy taken before the call (no mutation),
and any exception other than ``ValueError``/``TypeError`` fails the case.

How to add an entry
-------------------
Add ``"module.path.name": E(call, valid, bad, expect=..., known=...)`` to ``REGISTRY``:

* ``call``: the callable, called as ``call(**kwargs)``; for a method, a lambda building a valid
  instance and calling the method, e.g. ``lambda **kw: QuantSpec(8).replace(**kw)``.
* ``valid``: keyword arguments of one cheap valid call (small arrays: the whole file must run in ~60 s).
* ``bad``: ``{parameter: classes}``, ``classes`` a tuple of class names from ``GENERATORS`` (or the
  groups ``ARR``, ``ARR2``, ``INT``, ``REAL``, ``POS``, ``FLAG``, ``CHOICE``, ``DIST``, ...). A class that
  does not apply to the valid value (e.g. "fortran" of a scalar) is skipped.
* ``expect``: ``{(parameter, class): expectation}`` overriding the defaults above.
* ``known``: ``{(parameter, class): "reason"}`` for a defect not fixed yet: the case is marked
  ``xfail`` with the reason (never use it to hide a case that passes).

The key is any public import path of the object (``refquant.imc.ADCSpec`` and ``refquant.specs.ADCSpec``
name the same class: an entry is found by object identity). A further entry for the same callable, with a valid
call that selects another option (``method="std"``, ``grid="aciq_runtime"``, a parameter whose default is
``None``), is keyed ``path#variant`` (``"refquant.bias_correction.bias_correct#std"``). The per-name case counts
are printed in the pytest terminal summary (``tests/conftest.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import math
import pkgutil
import re
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

import refquant as rq

# ------------------------------------------------------------------------------------------ generators
F_HUGE, F_TINY, F_SUB = 996, -996, -1040


def _is_arr(v) -> bool:
    return isinstance(v, np.ndarray)


def _float_arr(v) -> bool:
    return _is_arr(v) and v.dtype.kind == "f" and v.size > 0


def _real_scalar(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _int_scalar(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _set_first(v: np.ndarray, value) -> np.ndarray:
    out = v.astype(np.float64 if v.dtype.kind != "f" else v.dtype, copy=True)
    out.flat[0] = value
    return out


def _noncontig(v: np.ndarray) -> np.ndarray:
    big = np.zeros(v.shape[:-1] + (2 * v.shape[-1],), dtype=v.dtype)
    big[..., ::2] = v
    return big[..., ::2]


def _readonly(v: np.ndarray) -> np.ndarray:
    out = v.copy()
    out.flags.writeable = False
    return out


def _scale2(v, f):
    if _is_arr(v):
        return np.ldexp(v.astype(np.float64), f)
    return math.ldexp(float(v), f)


NA = object()  # "class does not apply to this valid value"

GENERATORS: dict[str, Callable[[Any], Any]] = {
    # values inside arrays / real scalars
    "nan": lambda v: _set_first(v, np.nan) if _is_arr(v) and v.size else (float("nan") if _real_scalar(v) else NA),
    "inf": lambda v: _set_first(v, np.inf) if _is_arr(v) and v.size else (float("inf") if _real_scalar(v) else NA),
    "-inf": lambda v: _set_first(v, -np.inf) if _is_arr(v) and v.size else (float("-inf") if _real_scalar(v) else NA),
    "zero": lambda v: np.zeros_like(v) if _is_arr(v) else (type(v)(0) if _real_scalar(v) else NA),
    "neg": lambda v: (
        _set_first(v, -abs(float(np.max(np.abs(v)))) - 1.0)
        if _is_arr(v) and v.size
        else (-abs(v) - 1 if _real_scalar(v) else NA)
    ),
    "huge": lambda v: _scale2(v, F_HUGE) if (_float_arr(v) or isinstance(v, float)) else NA,
    "tiny": lambda v: _scale2(v, F_TINY) if (_float_arr(v) or isinstance(v, float)) else NA,
    "subnormal": lambda v: _scale2(v, F_SUB) if (_float_arr(v) or isinstance(v, float)) else NA,
    "bigint": lambda v: 10**30 if _int_scalar(v) else NA,
    # dtypes
    "complex": lambda v: v.astype(np.complex128) if _is_arr(v) else (complex(v) if _real_scalar(v) else NA),
    "object": lambda v: v.astype(object) if _is_arr(v) else NA,
    "str": lambda v: v.astype(str) if _is_arr(v) else "abc",
    "bool": lambda v: v.astype(bool) if _is_arr(v) else True,
    "float16": lambda v: v.astype(np.float16) if _float_arr(v) else NA,
    "float": lambda v: v + 0.7 if _int_scalar(v) else NA,  # 2 -> 2.7: must not be truncated
    "intfloat": lambda v: float(v) if _int_scalar(v) else NA,  # 2 -> 2.0: an int is required
    "none": lambda v: None if v is not None else NA,
    "obj": lambda v: object(),
    # shapes / layouts
    "empty": lambda v: np.empty((0,) + v.shape[1:], dtype=v.dtype) if _is_arr(v) and v.ndim else NA,
    "ndim+": lambda v: v[None] if _is_arr(v) else NA,
    "ndim0": lambda v: v.ravel()[0].copy() if _is_arr(v) and v.ndim and v.size else NA,
    "noncontig": lambda v: _noncontig(v) if _is_arr(v) and v.ndim and v.size else NA,
    "readonly": lambda v: _readonly(v) if _is_arr(v) else NA,
    "fortran": lambda v: np.asfortranarray(v) if _is_arr(v) and v.ndim >= 2 and min(v.shape) > 1 else NA,
    "list": lambda v: v.tolist() if _is_arr(v) and v.ndim else NA,
    # ranges
    "axis_hi": lambda v: 7,
    "axis_lo": lambda v: -7,
    "bits_lo": lambda v: 0,
    "bits_hi": lambda v: 33,
    "bits_neg": lambda v: -1,
    # choices / flags / containers
    "enum": lambda v: "no_such_choice",
    "int": lambda v: 3,
    "flag": lambda v: "no",
    "flag1": lambda v: 1,
    "dist_invalid": lambda v: stats.norm(0, -1),
    "dist_heavy": lambda v: stats.cauchy(),
    "dist_t15": lambda v: stats.t(1.5),
    "dist_discrete": lambda v: stats.poisson(3.0),
    "dict": lambda v: {"no_such_key": 1},
    "set": lambda v: {1, 2},
    "gen": lambda v: (i for i in range(2)),
    "ndarray": lambda v: np.zeros(3),
}

ARR = (
    "nan",
    "inf",
    "-inf",
    "complex",
    "object",
    "str",
    "bool",
    "empty",
    "none",
    "noncontig",
    "readonly",
    "float16",
    "list",
)
ARR2 = ARR + ("fortran",)
INT = ("float", "intfloat", "bool", "str", "none", "bigint")
REAL = ("nan", "inf", "-inf", "str", "bool", "complex", "none")
POS = REAL + ("zero", "neg")
FLAG = ("flag", "flag1", "none")
CHOICE = ("enum", "int", "none")
DIST = ("enum", "int", "dist_invalid", "dist_heavy", "dist_t15", "dist_discrete", "none")
BITS = ("bits_lo", "bits_hi", "bits_neg", "float", "intfloat", "bool", "none", "bigint")
BITS_NO0 = tuple(c for c in BITS if c != "bits_lo")  # 0 bits is valid (allocation bounds, the ACIQ model)
INT_NN = tuple(c for c in ("float", "intfloat", "bool", "str", "bigint"))  # ints where None is a valid choice
AXIS = ("axis_hi", "axis_lo", "float", "bool", "str")
SPEC = ("none", "int", "dict", "str")

#: Defaults per class; "bigint" (10**30 for an int) is either a clear error or a correct result.
DEFAULT_EXPECT = {
    "noncontig": "same",
    "readonly": "same",
    "fortran": "same",
    "list": "same",
    "float16": "f16",
    "bigint": "finite",
}


@dataclasses.dataclass
class E:
    call: Callable
    valid: dict
    bad: dict = dataclasses.field(default_factory=dict)
    expect: dict = dataclasses.field(default_factory=dict)
    known: dict = dataclasses.field(default_factory=dict)
    alias: dict = dataclasses.field(default_factory=dict)  # parameter -> another word its errors may use


# ------------------------------------------------------------------------------------------ fixtures of valid values
RNG = np.random.default_rng(20261127)
X2 = RNG.standard_normal((3, 8))
X1 = RNG.standard_normal(16)
ALPHAS = np.array([1.0, 2.0, 3.0, 5.0])


def _imc():
    return importlib.import_module("refquant.imc")


def _clip():
    return importlib.import_module("refquant.clipping")


def _spec_imc(mode="multibit", **adc):
    m = _imc()
    return m.CrossbarSpec(rows=8, input_bits=3, weight_bits=3, mode=mode, adc=m.ADCSpec(**({"bits": 6} | adc)))


XC = np.array(
    [[1, 2, 3, 0, 1, 2, 3, 1, 0, 2], [3, 3, 0, 1, 2, 0, 1, 1, 2, 3]], dtype=np.int64
)  # (2, 10) codes in [0, 7]
WC = np.array([[1, -2], [3, 0], [-3, 1], [2, 2], [0, -1], [1, 3], [-2, 0], [3, -3], [1, 1], [-1, 2]], dtype=np.int64)


def _details():
    return _imc().imc_matmul(XC, WC, _spec_imc(), return_details=True)[1]


def _moments():
    return _imc().operand_moments(XC, WC, _spec_imc())


def _golden():
    return importlib.import_module("refquant.testing.golden")


def _pow(k, or_raise=False):
    return ("pow", k, "or_raise") if or_raise else ("pow", k)


def _on_scale(k, *params):
    """The same scale law for every extreme-magnitude class of the given parameters."""
    return {(p, c): _pow(k) for p in params for c in ("huge", "tiny", "subnormal")}


def _finite(*params, classes=("huge", "tiny", "subnormal")):
    return {(p, c): "finite" for p in params for c in classes}


T = None  # refquant.testing, imported lazily (it imports Hypothesis)


def _t():
    return importlib.import_module("refquant.testing")


U = rq.uniform if hasattr(rq, "uniform") else importlib.import_module("refquant.uniform")
S8 = rq.QuantSpec(8)
S8C = rq.QuantSpec(8, axis=0)

# ------------------------------------------------------------------------------------------ the registry
_UNIFORM_X = dict(nan="raise", inf="raise")
_Q_EXPECT = {
    ("x", "float16"): "finite",
    ("x", "huge"): "finite",
    ("x", "tiny"): "finite",
    ("x", "subnormal"): "finite",
    ("x", "list"): "same",
    ("scale", "huge"): "finite",
    ("scale", "tiny"): "finite",
    ("scale", "subnormal"): "finite",
}

REGISTRY: dict[str, E] = {
    # ---------------------------------------------------------------- core quantizer
    "refquant.quantize": E(
        rq.quantize,
        dict(x=X2, scale=0.05, zero_point=0, spec=S8),
        dict(
            x=ARR2 + ("huge", "tiny", "subnormal"),
            scale=POS + ("huge", "tiny", "subnormal"),
            zero_point=("nan", "float", "str", "none", "bigint", "complex"),
            spec=SPEC,
            rng=("str", "neg", "float"),
            nonfinite=CHOICE,
        ),
        expect=_Q_EXPECT,
    ),
    "refquant.fake_quant": E(
        rq.fake_quant,
        dict(x=X2, scale=0.05, zero_point=0, spec=S8),
        dict(
            x=ARR2 + ("huge", "tiny", "subnormal"),
            scale=POS + ("huge", "tiny"),
            zero_point=("nan", "float", "str", "none", "bigint"),
            spec=SPEC,
            rng=("str", "neg"),
            nonfinite=CHOICE,
            out=("str", "ndarray", "list"),
        ),
        expect=_Q_EXPECT,
    ),
    "refquant.dequantize": E(
        rq.dequantize,
        dict(codes=np.array([[1, -3], [4, 0]], dtype=np.int8), scale=0.5, zero_point=0, spec=S8),
        dict(
            codes=("complex", "object", "str", "bool", "empty", "none", "noncontig", "readonly", "list", "nan"),
            scale=POS + ("huge", "tiny"),
            zero_point=("nan", "float", "str", "none"),
            spec=SPEC,
        ),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite", ("codes", "nan"): "raise"},
    ),
    "refquant.calibrate_minmax": E(
        rq.calibrate_minmax,
        dict(x=X2, spec=S8C),
        dict(x=ARR2 + ("huge", "tiny"), spec=SPEC, symmetric=FLAG, power_of_two=FLAG),
        expect=_finite("x"),
    ),
    "refquant.QuantSpec": E(
        rq.QuantSpec,
        dict(bits=8),
        dict(
            bits=BITS,
            signed=FLAG,
            narrow_range=FLAG,
            axis=("float", "str", "bool"),
            rounding=CHOICE,
            scale_op=CHOICE,
            compute_dtype=("enum", "int"),
        ),
    ),
    "refquant.QuantSpec.replace": E(lambda **kw: S8.replace(**kw), dict(bits=4), dict(bits=BITS)),
    "refquant.QuantSpec.to_dict": E(lambda: S8.to_dict(), {}),
    "refquant.QuantSpec.from_dict": E(
        rq.QuantSpec.from_dict, dict(d={"bits": 8}), dict(d=("dict", "str", "none", "int")), alias=dict(d="field")
    ),
    "refquant.QuantSpec.resolve_compute_dtype": E(
        lambda **kw: S8.resolve_compute_dtype(**kw),
        dict(input_dtype=np.float32),
        dict(input_dtype=("enum", "int", "none", "dict")),
    ),
    "refquant.Rounding": E(
        rq.Rounding, dict(value="half_even"), dict(value=("enum", "int", "none")), alias=dict(value="Rounding")
    ),
    "refquant.ScaleOp": E(
        rq.ScaleOp, dict(value="divide"), dict(value=("enum", "int", "none")), alias=dict(value="ScaleOp")
    ),
    "refquant.uniform.NonFinite": E(
        lambda **kw: U.NonFinite(**kw),
        dict(value="raise"),
        dict(value=("enum", "int", "none")),
        alias=dict(value="NonFinite"),
    ),
    "refquant.uniform.channel_layout": E(
        lambda **kw: U.channel_layout(**kw),
        dict(shape=(2, 3, 4), axis=1),
        dict(shape=("str", "none", "int", "dict", "set"), axis=AXIS),
    ),
}


def _reg(name: str, entry: E) -> None:
    assert name not in REGISTRY, name
    REGISTRY[name] = entry


# ---------------------------------------------------------------- distributions
import refquant.distributions as D  # noqa: E402

_reg(
    "refquant.distributions.fit",
    E(
        D.fit,
        dict(x=X2, dist="laplace", axis=0),
        dict(x=ARR2 + ("huge", "tiny", "subnormal"), dist=CHOICE, axis=AXIS, estimator=("enum", "int")),
        expect={
            ("x", c): (
                lambda r, v, c=c: all(
                    np.allclose(np.ldexp(a, -{"huge": F_HUGE, "tiny": F_TINY, "subnormal": F_SUB}[c]), b, rtol=1e-9)
                    for a, b in zip(r, v)
                )
            )
            for c in ("huge", "tiny", "subnormal")
        },
    ),
)
_reg(
    "refquant.distributions.range_sigma",
    E(
        D.range_sigma,
        dict(min_value=np.array([-1.0, -2.0]), max_value=np.array([1.5, 0.5]), n=1000),
        dict(
            min_value=ARR + ("huge",),
            max_value=ARR + ("huge",),
            n=("float", "intfloat", "bool", "str", "none", "bigint", "zero", "neg"),
        ),
        expect=_finite("min_value", "max_value", classes=("huge",)),
    ),
)
_reg(
    "refquant.distributions.frozen",
    E(D.frozen, dict(dist="gaussian", scale=2.0, loc=0.5), dict(dist=CHOICE, scale=POS, loc=REAL)),
)
_reg(
    "refquant.distributions.check_dist",
    E(
        D.check_dist,
        dict(dist="gaussian"),
        dict(dist=DIST[:-1] + ("none",), name=("int", "none"), allow_scipy=FLAG, finite_variance=FLAG),
        expect={("dist", "dist_heavy"): "finite", ("dist", "dist_t15"): "finite"},
    ),
)

# ---------------------------------------------------------------- allocation
import refquant.allocation as A  # noqa: E402

_ALPHA_BAD = (
    "nan",
    "inf",
    "complex",
    "object",
    "str",
    "bool",
    "empty",
    "none",
    "noncontig",
    "readonly",
    "float16",
    "list",
    "zero",
    "neg",
    "ndim+",
    "ndim0",
    "huge",
    "tiny",
    "subnormal",
)
_reg(
    "refquant.allocation.allocate_bits",
    E(
        A.allocate_bits,
        dict(alphas=ALPHAS, total_bits=16),
        dict(alphas=_ALPHA_BAD, total_bits=INT + ("neg",), budget=CHOICE, min_bits=BITS_NO0, max_bits=BITS),
        expect=_on_scale(0, "alphas"),
        alias=dict(max_bits="max_bits"),
    ),
)
_reg(
    "refquant.allocation.allocation_mse",
    E(
        A.allocation_mse,
        dict(alphas=ALPHAS, bits=np.array([3, 4, 4, 5])),
        dict(alphas=_ALPHA_BAD, bits=("nan", "complex", "str", "bool", "empty", "none", "neg", "ndim+", "list")),
        expect={
            ("alphas", "huge"): ("pow", 2, "or_raise"),
            ("alphas", "tiny"): ("pow", 2, "or_raise"),
            ("alphas", "subnormal"): ("pow", 2, "or_raise"),
            ("bits", "list"): "same",
        },
    ),
)
_reg(
    "refquant.allocation.continuous_allocation",
    E(
        A.continuous_allocation,
        dict(alphas=ALPHAS, total_bits=16),
        dict(alphas=_ALPHA_BAD, total_bits=REAL + ("neg",), min_bits=REAL + ("neg",), max_bits=REAL + ("neg",)),
        expect=_on_scale(0, "alphas"),
    ),
)
_reg(
    "refquant.allocation.paper_allocation",
    E(
        A.paper_allocation,
        dict(alphas=ALPHAS, total_bins=64),
        dict(alphas=_ALPHA_BAD, total_bins=INT + ("neg", "zero"), max_bits=BITS_NO0, rounding=CHOICE),
        expect=_on_scale(0, "alphas"),
    ),
)
_reg(
    "refquant.allocation.paper_allocation#ceil",
    E(
        A.paper_allocation,
        dict(alphas=ALPHAS, total_bins=64, rounding="ceil"),
        dict(alphas=_ALPHA_BAD, total_bins=INT + ("neg", "zero"), max_bits=BITS_NO0),
        expect=_on_scale(0, "alphas"),
    ),
)
_reg(
    "refquant.allocation.code_allocation",
    E(
        A.code_allocation,
        dict(alphas=ALPHAS, target_bits=4),
        dict(
            alphas=_ALPHA_BAD,
            target_bits=REAL + ("neg",),
            rounding=CHOICE,
            min_bits=BITS_NO0,
            max_bits=BITS_NO0,
            tol=POS,
            max_iter=INT + ("neg", "zero"),
            return_info=FLAG,
        ),
        expect=_on_scale(0, "alphas"),
    ),
)

# ---------------------------------------------------------------- bias correction
import refquant.bias_correction as BC  # noqa: E402

_WQ = np.round(X2 * 4) / 4
_reg(
    "refquant.bias_correction.bias_correct",
    E(
        BC.bias_correct,
        dict(w=X2, w_q=_WQ, axis=0),
        dict(w=ARR2 + ("ndim0", "ndim+"), w_q=ARR2 + ("ndim+",), axis=AXIS, method=CHOICE, return_stats=FLAG),
    ),
)
_reg(
    "refquant.bias_correction.bias_correct#std",
    E(
        BC.bias_correct,
        dict(w=X2, w_q=_WQ, axis=0, method="std"),
        dict(
            w=ARR2 + ("ndim0", "ndim+", "huge", "tiny"),
            w_q=ARR2 + ("ndim+", "huge", "tiny"),
            axis=AXIS,
            return_stats=FLAG,
        ),
        expect=_finite("w", "w_q", classes=("huge", "tiny")),
    ),
)
_YB = np.maximum(X2, 0.0)  # post-ReLU float outputs (N=3, C=8)
_YQB = np.round(_YB * 4) / 4
_reg(
    "refquant.bias_correction.activation_bias_correction",
    E(
        BC.activation_bias_correction,
        dict(y=X2, y_q=_WQ, axis=1),
        dict(
            y=ARR2 + ("ndim0", "ndim+", "huge", "tiny", "subnormal"),
            y_q=ARR2 + ("ndim+", "huge", "tiny"),
            axis=AXIS + ("none",),
            method=CHOICE,
        ),
        expect=_finite("y", "y_q"),
    ),
)
_reg(
    "refquant.bias_correction.activation_bias_correction#positive",
    E(
        BC.activation_bias_correction,
        dict(y=_YB, y_q=_YQB, axis=1, method="positive"),
        dict(y=ARR2 + ("ndim0", "ndim+", "huge", "tiny"), y_q=ARR2 + ("ndim+", "huge"), axis=AXIS + ("none",)),
        expect=_finite("y", "y_q"),
    ),
)
_reg(
    "refquant.bias_correction.apply_activation_bias_correction",
    E(
        BC.apply_activation_bias_correction,
        dict(y_q=_WQ, correction=X1[:8].copy(), axis=1),
        dict(
            y_q=ARR2 + ("ndim0", "ndim+", "huge", "tiny"), correction=ARR + ("ndim+", "huge"), axis=AXIS, method=CHOICE
        ),
        expect=_finite("y_q", "correction"),
    ),
)
_reg(
    "refquant.bias_correction.apply_activation_bias_correction#positive",
    E(
        BC.apply_activation_bias_correction,
        dict(y_q=_YQB, correction=X1[:8].copy(), axis=1, method="positive"),
        dict(y_q=ARR2 + ("ndim0", "ndim+", "huge"), correction=ARR + ("ndim+", "huge"), axis=AXIS),
        expect=_finite("y_q", "correction"),
    ),
)

# ---------------------------------------------------------------- kurtosis
import refquant.kurtosis as K  # noqa: E402

_reg(
    "refquant.kurtosis.kurtosis",
    E(
        K.kurtosis,
        dict(x=X2, axis=0),
        dict(x=ARR2 + ("huge", "tiny", "subnormal", "zero"), axis=AXIS, bias=FLAG, ddof=INT + ("neg",)),
        expect={("x", "huge"): _pow(0), ("x", "tiny"): _pow(0), ("x", "subnormal"): "finite"},
    ),
)
_reg(
    "refquant.kurtosis.kurtosis#ddof1",
    E(
        K.kurtosis,
        dict(x=X2, axis=0, ddof=1),
        dict(x=ARR2 + ("huge", "tiny", "zero"), axis=AXIS, bias=("flag", "flag1", "none")),
        expect={("x", "huge"): _pow(0), ("x", "tiny"): _pow(0)},
    ),
)
_reg(
    "refquant.kurtosis.skewness_kurtosis",
    E(
        K.skewness_kurtosis,
        dict(x=X2, axis=0),
        dict(x=ARR2 + ("huge", "tiny", "zero"), axis=AXIS),
        expect={("x", "huge"): _pow(0), ("x", "tiny"): _pow(0)},
    ),
)
_reg(
    "refquant.kurtosis.kurtosis_grad",
    E(
        K.kurtosis_grad,
        dict(w=X2),
        dict(w=ARR2 + ("huge", "tiny", "zero"), ddof=INT + ("neg",)),
        expect={("w", "huge"): _pow(-1), ("w", "tiny"): _pow(-1)},
    ),
)
_reg(
    "refquant.kurtosis.kure_loss",
    E(
        K.kure_loss,
        dict(weights=[X2, X1]),
        dict(
            weights=("ndarray", "str", "none", "dict", "set", "gen", "int"),
            target=REAL + ("zero",),
            ddof=INT + ("neg",),
            reduction=CHOICE,
        ),
    ),
)
_reg(
    "refquant.kurtosis.kure_loss#n_layers",
    E(
        K.kure_loss,
        dict(weights=[X2, X1], n_layers=19),
        dict(n_layers=INT_NN + ("neg", "zero"), reduction=("enum", "int", "none")),
    ),
)
_reg(
    "refquant.kurtosis.kure_loss#max",
    E(
        K.kure_loss,
        dict(weights=[X2, X1], reduction="max", ddof=1),
        dict(
            weights=("ndarray", "str", "none", "dict", "set", "gen", "int"),
            target=REAL + ("zero",),
            ddof=INT + ("neg",),
        ),
    ),
)
_reg(
    "refquant.kurtosis.kure_grad",
    E(
        K.kure_grad,
        dict(weights=[X2, X1]),
        dict(
            weights=("ndarray", "str", "none", "dict", "set", "gen", "int"),
            target=REAL + ("zero",),
            ddof=INT + ("neg",),
            reduction=CHOICE,
        ),
    ),
)
_reg(
    "refquant.kurtosis.kure_grad#n_layers",
    E(
        K.kure_grad,
        dict(weights=[X2, X1], n_layers=19),
        dict(n_layers=INT_NN + ("neg", "zero"), reduction=("enum", "int", "none")),
    ),
)
_reg(
    "refquant.kurtosis.kure_grad#max",
    E(
        K.kure_grad,
        dict(weights=[X2, X1], reduction="max", ddof=1),
        dict(
            weights=("ndarray", "str", "none", "dict", "set", "gen", "int"),
            target=REAL + ("zero",),
            ddof=INT + ("neg",),
        ),
    ),
)
_reg(
    "refquant.kurtosis.kurtosis_shaping",
    E(
        K.kurtosis_shaping,
        dict(w0=X1, steps=3),
        dict(
            w0=ARR + ("huge", "tiny", "zero"),
            target=REAL + ("zero",),
            lam=REAL + ("neg",),
            mu=REAL + ("neg",),
            lr=POS + ("huge",),
            steps=INT + ("neg",),
            record_every=INT + ("neg", "zero"),
        ),
        expect={
            ("w0", "huge"): lambda r, v: all(
                np.allclose(np.ldexp(a[2], -F_HUGE), b[2], rtol=1e-9) for a, b in zip(r, v)
            ),
            ("w0", "tiny"): lambda r, v: all(
                np.allclose(np.ldexp(a[2], -F_TINY), b[2], rtol=1e-9) for a, b in zip(r, v)
            ),
            ("lr", "huge"): "raise",
        },
    ),
)

# ---------------------------------------------------------------- binarize
import refquant.binarize as B  # noqa: E402

_reg(
    "refquant.binarize.binarize",
    E(
        B.binarize,
        dict(w=X2, axis=0),
        dict(w=ARR2 + ("huge", "tiny", "subnormal"), axis=AXIS, alpha=POS, return_scale=FLAG),
        expect=_on_scale(1, "w"),
    ),
)
_reg(
    "refquant.binarize.ternarize",
    E(
        B.ternarize,
        dict(w=X2, axis=0),
        dict(
            w=ARR2 + ("huge", "tiny", "subnormal"),
            threshold=REAL + ("neg",),
            axis=AXIS,
            relative_to=CHOICE,
            return_scale=FLAG,
        ),
        expect=_on_scale(1, "w"),
    ),
)
_reg(
    "refquant.binarize.signed_binarize",
    E(
        B.signed_binarize,
        dict(w=X2, axis=0, scale="mean"),
        dict(
            w=ARR2 + ("huge", "tiny", "subnormal"),
            signs=("nan", "str", "bool", "empty", "complex", "ndim+"),
            threshold=REAL + ("neg",),
            axis=AXIS,
            region=INT_NN + ("neg", "zero"),
            scale=("enum", "nan", "neg", "zero", "none", "complex"),
            return_scale=FLAG,
            zero_rule=CHOICE,
        ),
        expect=_on_scale(1, "w"),
    ),
)
_reg(
    "refquant.binarize.signed_binarize#plum",
    E(
        B.signed_binarize,
        dict(w=X2, axis=0, scale="mean", zero_rule="plum"),
        dict(
            w=ARR2 + ("huge", "tiny", "subnormal", "zero"),
            threshold=REAL + ("neg",),
            axis=AXIS,
            region=INT_NN + ("neg", "zero"),
        ),
        # all-zero filters: every weight kept by ">= 0" / "<= 0", alpha = mean |w| = 0
        expect=_on_scale(1, "w") | {("w", "zero"): lambda r, v: r.shape == v.shape and not np.any(r)},
    ),
)
_reg(
    "refquant.binarize.ste_tern",
    E(
        B.ste_tern,
        dict(w=X2),
        dict(w=ARR2 + ("huge", "tiny", "subnormal"), threshold=REAL + ("neg", "huge"), ternary_weight_networks=FLAG),
        expect=_finite("w") | {("threshold", "huge"): "finite"},
    ),
)
_reg(
    "refquant.binarize.ste_tern#twn",
    E(
        B.ste_tern,
        dict(w=X2, ternary_weight_networks=True),
        dict(w=ARR2 + ("huge", "tiny", "subnormal")),
        expect={("w", "huge"): _pow(0), ("w", "tiny"): _pow(0), ("w", "subnormal"): "finite"},
    ),
)
_reg(
    "refquant.binarize.ste_grad",
    E(
        B.ste_grad,
        dict(w=X2, grad_q=X2[::-1].copy()),
        dict(w=ARR2, grad_q=ARR2 + ("huge", "tiny"), clip_value=POS),
        expect=_finite("grad_q", classes=("huge", "tiny")),
    ),
)
_reg(
    "refquant.binarize.ste_grad#grad_clip",
    E(
        B.ste_grad,
        dict(w=X2, grad_q=X2[::-1].copy(), grad_clip=1.0),
        dict(grad_q=ARR2 + ("huge",), grad_clip=("nan", "inf", "-inf", "str", "bool", "complex", "zero", "neg")),
        expect=_finite("grad_q", classes=("huge",)),
    ),
)
_reg(
    "refquant.binarize.default_signs",
    E(
        B.default_signs,
        dict(n_filters=4, n_tiles=2),
        dict(n_filters=INT + ("neg", "zero"), n_tiles=INT + ("neg", "zero")),
    ),
)
_reg(
    "refquant.binarize.region_layout",
    E(
        B.region_layout,
        dict(shape=(4, 6, 3), axis=0, region=2),
        dict(shape=("str", "none", "int", "dict", "set"), axis=AXIS, region=INT_NN + ("neg", "zero")),
    ),
)
_LAY = B.region_layout((4, 6, 3), axis=0, region=2)
_reg(
    "refquant.binarize.RegionLayout",
    E(
        B.RegionLayout,
        dict(shape=(4, 6, 3), axis=0, n_filters=4, n_tiles=3, tile=2, rest=3),
        dict(
            shape=("str", "none", "int"),
            axis=AXIS,
            n_filters=INT + ("neg",),
            n_tiles=INT + ("neg",),
            tile=INT + ("neg",),
            rest=INT + ("neg",),
        ),
    ),
)
_reg(
    "refquant.binarize.RegionLayout.view",
    E(
        lambda **kw: _LAY.view(**kw),
        dict(w=RNG.standard_normal((4, 6, 3))),
        dict(w=("none", "ndim+", "list", "empty", "int")),
        expect={("w", "list"): "raise"},
    ),
)
_reg(
    "refquant.binarize.RegionLayout.restore",
    E(
        lambda **kw: _LAY.restore(**kw),
        dict(v=RNG.standard_normal((4, 3, 2, 3))),
        dict(v=("none", "ndim+", "list", "empty", "int")),
        expect={("v", "list"): "raise"},
    ),
)
_reg(
    "refquant.binarize.ede_schedule",
    E(
        B.ede_schedule,
        dict(epoch=3, total_epochs=10),
        dict(epoch=REAL + ("neg",), total_epochs=INT + ("neg", "zero"), t_min=POS, t_max=POS),
    ),
)
_reg(
    "refquant.binarize.ede_grad",
    E(
        B.ede_grad,
        dict(w=X2, grad_q=X2[::-1].copy(), epoch=3, total_epochs=10),
        dict(
            w=ARR2,
            grad_q=ARR2 + ("huge",),
            epoch=REAL + ("neg",),
            total_epochs=INT + ("neg", "zero"),
            t_min=POS,
            t_max=POS,
            threshold=REAL + ("neg",),
            signs=("nan", "str", "ndim+"),
            axis=AXIS,
            region=INT_NN + ("neg", "zero"),
            delta=CHOICE,
        ),
        expect={("grad_q", "huge"): "finite"},
    ),
)
_reg(
    "refquant.binarize.ede_grad#position",
    E(
        B.ede_grad,
        dict(w=X2, grad_q=X2[::-1].copy(), epoch=3, total_epochs=10, delta="position"),
        dict(w=ARR2, grad_q=ARR2 + ("huge",), threshold=REAL + ("neg",), signs=("nan", "str", "ndim+"), axis=AXIS),
        expect={("grad_q", "huge"): "finite"},
    ),
)

# ---------------------------------------------------------------- robustness
import refquant.robustness as R  # noqa: E402

_RB_DIST = dict(dist=DIST, scale=POS + ("huge", "tiny"), model=CHOICE, grid=CHOICE, bits=BITS)
_reg(
    "refquant.robustness.step_to_alpha",
    E(
        R.step_to_alpha,
        dict(step=np.array([0.1, 0.2]), bits=4),
        dict(step=ARR + ("neg", "zero", "huge", "tiny"), bits=BITS, grid=CHOICE),
        expect={("step", "huge"): ("pow", 1, "or_raise"), ("step", "tiny"): _pow(1)},
    ),
)
_reg(
    "refquant.robustness.step_to_alpha#aciq_runtime",
    E(
        R.step_to_alpha,
        dict(step=np.array([0.1, 0.2]), bits=4, grid="aciq_runtime"),
        dict(step=ARR + ("neg", "zero", "huge", "tiny"), bits=BITS),
        expect={("step", "huge"): ("pow", 1, "or_raise"), ("step", "tiny"): _pow(1)},
    ),
)
_reg(
    "refquant.robustness.mse_vs_step",
    E(
        R.mse_vs_step,
        dict(step=np.array([0.1, 0.2]), bits=4, dist="gaussian"),
        dict(step=ARR + ("neg", "zero"), **_RB_DIST),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.robustness.optimal_step",
    E(
        R.optimal_step,
        dict(bits=4, dist="laplace"),
        dict(uniform_step=CHOICE, **_RB_DIST),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.robustness.curvature",
    E(
        R.curvature,
        dict(bits=4, dist="gaussian"),
        dict(step=POS, uniform_step=CHOICE, **_RB_DIST),
        expect={("scale", "huge"): "same_or_close", ("scale", "tiny"): "same_or_close"},
    ),
)
_reg(
    "refquant.robustness.sensitivity",
    E(
        R.sensitivity,
        dict(bits=4, dist="gaussian", eps=0.05),
        dict(eps=POS, relative=FLAG, uniform_step=CHOICE, **_RB_DIST),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.robustness.theorem_check",
    E(
        R.theorem_check,
        dict(bits=[3], eps=0.05),
        dict(
            bits=("str", "none", "dict", "set", "float", "bits_lo", "bool"),
            eps=POS,
            dists=("str", "none", "int", "dict", "set"),
            scale=POS,
            relative=FLAG,
            grid=CHOICE,
            uniform_step=CHOICE,
        ),
    ),
)
_reg(
    "refquant.robustness.pow2_penalty",
    E(
        R.pow2_penalty,
        dict(bits=4, dist="gaussian"),
        dict(bits=BITS, dist=DIST, scale=POS + ("huge", "tiny"), grid=CHOICE),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.robustness.empirical_sensitivity",
    E(
        R.empirical_sensitivity,
        dict(x=X1, bits=4, eps=0.05, n_candidates=50),
        dict(x=ARR2 + ("huge", "tiny", "zero"), bits=BITS, eps=POS, grid=CHOICE, n_candidates=INT + ("neg", "zero")),
        expect={("x", "huge"): "finite", ("x", "tiny"): "finite", ("x", "ndim+"): "same"},
    ),
)
_reg(
    "refquant.robustness.theorem_table_markdown",
    E(
        R.theorem_table_markdown,
        dict(bits=[3], eps=0.05),
        dict(bits=("str", "none", "dict", "set", "bits_lo"), eps=POS),
    ),
)

# ---------------------------------------------------------------- repetition
import refquant.repetition as RP  # noqa: E402

_TW = np.array([[1, 0, -1], [1, 1, 0], [0, -1, -1], [1, 0, 1]], dtype=np.int64)  # (K=4, out=3) ternary
_TX = np.array([[1, 2, 3, 4], [0, -1, 2, 5]], dtype=np.int64)
_MM = dict(
    x=("nan", "complex", "object", "str", "bool", "empty", "none", "noncontig", "readonly", "list", "ndim+", "ndim0"),
    w_q=("nan", "complex", "object", "str", "bool", "empty", "none", "noncontig", "readonly", "list", "ndim+", "ndim0"),
)
_reg(
    "refquant.repetition.OpCounts",
    E(
        RP.OpCounts,
        dict(adds=3, muls=2, dense_macs=12),
        dict(adds=INT + ("neg",), muls=INT + ("neg",), dense_macs=INT + ("neg",)),
    ),
)
_reg(
    "refquant.repetition.RepetitionStats",
    E(
        RP.RepetitionStats,
        dict(n_blocks=4, n_unique=2, repetition=np.array([3, 1]), block_size=3, sparsity=0.5, density=0.5, effectual=6),
    ),
)
_reg(
    "refquant.repetition.pigeonhole_bound",
    E(RP.pigeonhole_bound, dict(k=9, scheme="binary"), dict(k=INT + ("neg", "zero"), scheme=CHOICE, shared_zero=FLAG)),
)
_reg(
    "refquant.repetition.unique_filters",
    E(
        RP.unique_filters,
        dict(w_q=np.sign(X2), axis=0),
        dict(
            w_q=("nan", "complex", "object", "str", "bool", "empty", "none", "noncontig", "readonly", "list"),
            block=INT_NN + ("neg", "zero"),
            axis=AXIS,
        ),
    ),
)
_reg(
    "refquant.repetition.paper_repetition_table",
    E(RP.paper_repetition_table, dict(shape=(3, 3, 4, 4)), dict(shape=("str", "none", "int", "dict", "set"))),
)
_reg(
    "refquant.repetition.empirical_repetition_table",
    E(
        RP.empirical_repetition_table,
        dict(shape=(3, 3, 4, 4), rng=0),
        dict(
            shape=("str", "none", "int", "dict", "set"),
            rng=("str", "neg", "float", "none"),
            weights=("str", "int", "dict", "set"),
        ),
    ),
)
_reg("refquant.repetition.factorize", E(RP.factorize, dict(w_q=_TW), dict(w_q=_MM["w_q"])))
_reg("refquant.repetition.factorized_matmul", E(RP.factorized_matmul, dict(x=_TX, w_q=_TW), dict(_MM)))
_reg(
    "refquant.repetition.plan_shared_sums",
    E(RP.plan_shared_sums, dict(w_q=_TW), dict(w_q=_MM["w_q"], tile=INT + ("neg", "zero"))),
)
_reg(
    "refquant.repetition.shared_sum_matmul",
    E(RP.shared_sum_matmul, dict(x=_TX, w_q=_TW), dict(_MM, tile=INT + ("neg", "zero"))),
)
_reg(
    "refquant.repetition.count_ops",
    E(
        RP.count_ops,
        dict(w_q=_TW, method="factorized"),
        dict(w_q=_MM["w_q"], method=CHOICE, tile=INT + ("neg", "zero"), batch=INT + ("neg", "zero")),
    ),
)
_reg(
    "refquant.repetition.FactorizedWeights.op_counts",
    E(lambda **kw: RP.factorize(_TW).op_counts(**kw), dict(batch=2), dict(batch=INT + ("neg", "zero"))),
)
_reg(
    "refquant.repetition.FactorizedWeights.matmul",
    E(lambda **kw: RP.factorize(_TW).matmul(**kw), dict(x=_TX), dict(x=_MM["x"])),
)
_reg(
    "refquant.repetition.SharedSumProgram.op_counts",
    E(lambda **kw: RP.plan_shared_sums(_TW).op_counts(**kw), dict(batch=2), dict(batch=INT + ("neg", "zero"))),
)
_reg(
    "refquant.repetition.SharedSumProgram.matmul",
    E(lambda **kw: RP.plan_shared_sums(_TW).matmul(**kw), dict(x=_TX), dict(x=_MM["x"])),
)


def _fw_fields():
    f = RP.factorize(_TW)
    return {k.name: getattr(f, k.name) for k in dataclasses.fields(f)}


def _ss_fields():
    f = RP.plan_shared_sums(_TW)
    return {k.name: getattr(f, k.name) for k in dataclasses.fields(f)}


_reg(
    "refquant.repetition.FactorizedWeights",
    E(
        RP.FactorizedWeights,
        _fw_fields(),
        dict(
            shape=("str", "none"),
            integer=FLAG,
            idx=("neg", "str", "none", "nan"),
            col_ptr=("neg", "str", "none"),
            max_col_abs_sum=("neg", "str", "nan"),
        ),
    ),
)
_reg(
    "refquant.repetition.SharedSumProgram",
    E(
        RP.SharedSumProgram,
        _ss_fields(),
        dict(shape=("str", "none"), tile=INT + ("neg",), integer=FLAG, nodes=("neg", "str", "none", "nan")),
    ),
)

# ---------------------------------------------------------------- clipping
C = _clip()
_CLIP_DIST = ("enum", "int", "dist_invalid", "dist_heavy", "dist_t15", "dist_discrete", "none")
_reg(
    "refquant.clipping.grid_levels",
    E(
        C.grid_levels,
        dict(alpha=2.0, bits=3),
        dict(alpha=POS + ("huge", "tiny"), bits=BITS, grid=CHOICE, signed=FLAG),
        expect={("alpha", "huge"): ("pow", 1, "or_raise"), ("alpha", "tiny"): ("pow", 1, "or_raise")},
    ),
)
_reg(
    "refquant.clipping.quantize_on_grid",
    E(
        C.quantize_on_grid,
        dict(x=X2, alpha=2.0, bits=3),
        dict(x=ARR2 + ("huge", "tiny"), alpha=POS + ("huge", "tiny"), bits=BITS, grid=CHOICE, signed=FLAG),
        expect={
            ("x", "huge"): "finite",
            ("x", "tiny"): "finite",
            ("alpha", "huge"): "finite",
            ("alpha", "tiny"): "finite",
        },
    ),
)
_reg(
    "refquant.clipping.mse_aciq",
    E(
        C.mse_aciq,
        dict(alpha=1.5, bits=4, dist="gaussian"),
        dict(alpha=POS, bits=BITS_NO0, dist=_CLIP_DIST, scale=POS + ("huge", "tiny"), signed=FLAG),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.clipping.mse_aciq#bins",
    E(
        C.mse_aciq,
        dict(alpha=1.5, bits=None, dist="gaussian", bins=12.0),
        dict(
            bins=POS + ("huge", "ndim+", "empty"), alpha=POS, dist=_CLIP_DIST, scale=POS + ("huge", "tiny"), signed=FLAG
        ),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.clipping.mse_exact",
    E(
        C.mse_exact,
        dict(alpha=1.5, bits=4, dist="gaussian"),
        dict(
            alpha=POS,
            bits=BITS,
            dist=_CLIP_DIST,
            scale=POS + ("huge", "tiny"),
            grid=CHOICE,
            signed=FLAG,
            return_error=FLAG,
        ),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.clipping.optimal_clip",
    E(
        C.optimal_clip,
        dict(bits=4, dist="laplace"),
        dict(bits=BITS_NO0, dist=_CLIP_DIST, scale=POS + ("huge", "tiny"), model=CHOICE, grid=CHOICE, signed=FLAG),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.clipping.optimal_clip#bins",
    E(
        C.optimal_clip,
        dict(bits=None, dist="laplace", bins=12.0),
        dict(
            bins=POS + ("huge",),
            dist=_CLIP_DIST,
            scale=POS + ("huge", "tiny"),
            model=("enum", "int", "none"),
            signed=FLAG,
        ),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.clipping.optimal_clip#aciq_runtime",
    E(
        C.optimal_clip,
        dict(bits=4, dist="laplace", model="exact", grid="aciq_runtime"),
        dict(bits=BITS, scale=POS + ("huge", "tiny"), signed=FLAG),
        expect={("scale", "huge"): "finite", ("scale", "tiny"): "finite"},
    ),
)
_reg(
    "refquant.clipping.optimal_clip_table",
    E(
        C.optimal_clip_table,
        dict(dist="gaussian", bits=[2, 3]),
        dict(
            dist=_CLIP_DIST,
            bits=("str", "none", "dict", "set", "bits_lo", "float"),
            grids=("str", "none", "int", "dict", "set"),
            signed=FLAG,
        ),
    ),
)
_reg(
    "refquant.clipping.optimal_clip_empirical",
    E(
        C.optimal_clip_empirical,
        dict(x=X2, bits=4, axis=0, n_candidates=20),
        dict(
            x=ARR2 + ("huge", "tiny", "subnormal"),
            bits=BITS,
            axis=AXIS,
            grid=CHOICE,
            n_candidates=INT + ("neg", "zero"),
            return_mse=FLAG,
            signed=FLAG,
        ),
        expect={("x", "huge"): _pow(1), ("x", "tiny"): _pow(1), ("x", "subnormal"): _pow(1)},
    ),
)
_reg(
    "refquant.clipping.optimal_clip_empirical#aciq_runtime",
    E(
        C.optimal_clip_empirical,
        dict(x=X2, bits=4, axis=0, n_candidates=20, grid="aciq_runtime"),
        dict(
            x=ARR2 + ("huge", "tiny", "subnormal"),
            bits=BITS,
            axis=AXIS,
            n_candidates=INT + ("neg", "zero"),
            return_mse=FLAG,
        ),
        expect={("x", "huge"): _pow(1), ("x", "tiny"): _pow(1), ("x", "subnormal"): _pow(1)},
    ),
)
_reg(
    "refquant.clipping.clip_range",
    E(
        C.clip_range,
        dict(alpha=np.array([1.0, 2.0]), mean=0.3, min_value=-1.0),
        dict(
            alpha=ARR + ("neg", "zero", "huge"),
            mean=REAL + ("huge",),
            min_value=("nan", "inf", "str", "bool", "complex"),
            convention=CHOICE,
            mode=CHOICE,
        ),
        expect=_finite("alpha", "mean", classes=("huge",)),
    ),
)
_reg(
    "refquant.clipping.quantize_mid_tread",
    E(
        C.quantize_mid_tread,
        dict(x=X2, bins=np.array([3.0, 0.0, 5.0]), axis=0),
        dict(
            x=ARR2 + ("huge", "tiny", "subnormal"),
            bins=ARR + ("neg", "huge"),
            axis=AXIS,
            signed=("flag", "flag1", "none"),
            mean=("str", "bool", "complex"),
        ),
        expect={("x", c): ("pow", 1) for c in ("huge", "tiny", "subnormal")} | {("bins", "huge"): "finite"},
    ),
)
_reg(
    "refquant.clipping.quantize_mid_tread#clip",
    E(
        C.quantize_mid_tread,
        dict(x=X2, bins=4.0, axis=1, alpha=np.linspace(0.5, 2.0, 8), signed=False),
        dict(
            x=ARR2 + ("huge", "tiny"),
            bins=REAL + ("neg", "huge"),
            alpha=ARR + ("neg", "zero", "huge"),
            mean=REAL + ("huge",),
            signed=("flag", "flag1", "none"),
        ),
        expect=_finite("x", "bins", "alpha", "mean", classes=("huge", "tiny")),
    ),
)
_reg(
    "refquant.clipping.clip_range#aciq_v1",
    E(
        C.clip_range,
        dict(
            alpha=np.array([1.0, 2.0]), mean=0.3, min_value=-1.0, max_value=np.array([4.0, 2.0]), convention="aciq_v1"
        ),
        dict(
            alpha=ARR + ("neg", "zero", "huge"),
            mean=REAL + ("huge",),
            min_value=("nan", "inf", "str", "bool", "complex", "none"),
            max_value=("nan", "inf", "str", "bool", "complex", "none", "neg", "huge"),
            mode=CHOICE,
        ),
        expect=_finite("alpha", "mean", "max_value", classes=("huge",)),
    ),
)
_reg(
    "refquant.clipping.clip_range#distiller",
    E(
        C.clip_range,
        dict(alpha=np.array([1.0, 2.0]), mean=-0.3, convention="distiller", mode="symmetric"),
        dict(alpha=ARR + ("neg", "zero", "huge"), mean=REAL + ("huge",), min_value=("nan", "str", "bool"), mode=CHOICE),
        expect=_finite("alpha", "mean", classes=("huge",)),
    ),
)

# ---------------------------------------------------------------- imc
M = _imc()
_reg(
    "refquant.imc.ADCSpec",
    E(
        M.ADCSpec,
        dict(bits=6),
        dict(
            bits=BITS,
            transfer=CHOICE,
            range_policy=CHOICE,
            k=POS,
            lo=("nan", "str", "inf"),
            hi=("nan", "str", "inf"),
            mu=("nan", "str"),
            sigma=("nan", "str", "neg"),
        ),
    ),
)
_reg("refquant.imc.ADCSpec.to_dict", E(lambda: M.ADCSpec(bits=6).to_dict(), {}))
_reg(
    "refquant.imc.ADCSpec.from_dict",
    E(M.ADCSpec.from_dict, dict(d={"bits": 6}), dict(d=("dict", "str", "none", "int")), alias=dict(d="field")),
)
_reg(
    "refquant.imc.CrossbarSpec",
    E(
        M.CrossbarSpec,
        dict(rows=8, input_bits=3, weight_bits=3),
        dict(
            rows=INT + ("neg", "zero"),
            input_bits=BITS,
            weight_bits=BITS,
            mode=CHOICE,
            input_signed=FLAG,
            weight_encoding=("enum", "int"),
            slice_bits=BITS,
            adc=SPEC,
            a_shift=FLAG,
        ),
        alias=dict(adc="ADCSpec"),
    ),
)
_reg("refquant.imc.CrossbarSpec.to_dict", E(lambda: _spec_imc().to_dict(), {}))
_reg(
    "refquant.imc.CrossbarSpec.from_dict",
    E(
        M.CrossbarSpec.from_dict,
        dict(d=_spec_imc().to_dict()),
        dict(d=("dict", "str", "none", "int")),
        alias=dict(d="field"),
    ),
)
_reg("refquant.imc.CrossbarSpec.to_json", E(lambda: _spec_imc().to_json(), {}))
_reg(
    "refquant.imc.CrossbarSpec.from_json",
    E(M.CrossbarSpec.from_json, dict(s=_spec_imc().to_json()), dict(s=("enum", "none", "int", "dict"))),
)
_CODES = (
    "nan",
    "complex",
    "object",
    "str",
    "bool",
    "empty",
    "none",
    "noncontig",
    "readonly",
    "list",
    "ndim+",
    "ndim0",
    "neg",
)
_reg(
    "refquant.imc.imc_matmul",
    E(
        M.imc_matmul,
        dict(x_codes=XC, w_codes=WC, spec=_spec_imc()),
        dict(x_codes=_CODES, w_codes=_CODES, spec=SPEC, return_details=FLAG),
    ),
)
_SAME_MATMUL = lambda r, v: np.array_equal(r.matmul(XC), v.matmul(XC))  # noqa: E731  (no value equality on the program)
_reg(
    "refquant.imc.program_crossbar",
    E(
        M.program_crossbar,
        dict(w_codes=WC, spec=_spec_imc()),
        dict(w_codes=_CODES, spec=SPEC),
        expect={("w_codes", c): _SAME_MATMUL for c in ("noncontig", "readonly", "list")},
    ),
)
_reg(
    "refquant.imc.ProgrammedCrossbar.matmul",
    E(
        lambda **kw: M.program_crossbar(WC, _spec_imc()).matmul(**kw),
        dict(x_codes=XC),
        dict(x_codes=_CODES, return_details=FLAG),
    ),
)


def _not_constructible(cls):
    """Built only by a factory: direct construction must be a TypeError naming the factory."""
    with pytest.raises(TypeError, match="program_crossbar"):
        cls()
    return True


_reg("refquant.imc.ProgrammedCrossbar", E(lambda: _not_constructible(M.ProgrammedCrossbar), {}))
_reg("refquant.imc.adc_params", E(M.adc_params, dict(spec=_spec_imc()), dict(spec=SPEC)))
_reg(
    "refquant.imc.adc_convert",
    E(
        M.adc_convert,
        dict(a=np.array([0.0, 3.5, -2.0]), spec=_spec_imc()),
        dict(a=ARR + ("huge",), spec=SPEC),
        expect={("a", "huge"): "finite", ("a", "empty"): "finite"},
    ),
)
_reg(
    "refquant.imc.sqnr",
    E(
        M.sqnr,
        dict(y_ideal=X2, y_adc=X2 + 0.01),
        dict(y_ideal=ARR2 + ("huge", "tiny"), y_adc=ARR2, per_column=FLAG),
        expect={("y_ideal", "huge"): "finite", ("y_ideal", "tiny"): "finite"},
    ),
)


def _result_type(obj):
    """A frozen result dataclass: rebuilding it from its own fields works; reading an unknown key is a KeyError
    naming the key (dict-style access for backward compatibility)."""
    cls = type(obj)
    return lambda **kw: cls(**{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)} | kw)


_reg("refquant.imc.ADCStats", E(_result_type(M.adc_stats(_details())), {}))
_reg("refquant.imc.CrossbarDetails", E(_result_type(_details()), {}))
_reg("refquant.imc.OperandMoments", E(_result_type(_moments()), {}))
_reg(
    "refquant.imc.adc_stats",
    E(lambda **kw: M.adc_stats(**kw), dict(details=_details()), dict(details=("dict", "str", "none", "int"))),
)
_reg(
    "refquant.imc.operand_moments",
    E(
        M.operand_moments,
        dict(x_codes=XC, w_codes=WC, spec=_spec_imc()),
        dict(x_codes=_CODES, w_codes=_CODES + ("noncontig",), spec=SPEC),
    ),
)
_reg(
    "refquant.imc.predicted_sqnr",
    E(
        M.predicted_sqnr,
        dict(spec=_spec_imc(), k_total=10, moments=_moments()),
        dict(
            spec=SPEC,
            k_total=INT + ("neg", "zero"),
            moments=("dict", "str", "none", "int"),
            per_column=FLAG,
            given_weights=FLAG,
            slice_covariance=FLAG,
            tail=FLAG,
            plane_covariance=FLAG,
        ),
    ),
)
_reg(
    "refquant.imc.plane_sum_pmf",
    E(
        M.plane_sum_pmf,
        dict(p_x=0.3, cell_counts=np.array([3, 2, 1])),
        dict(
            p_x=REAL + ("neg",), cell_counts=("nan", "complex", "str", "bool", "empty", "none", "neg", "list", "ndim+")
        ),
    ),
)
_reg(
    "refquant.imc.w_reshape",
    E(
        M.w_reshape,
        dict(w=X1, bits=4, steps=3),
        dict(
            w=ARR + ("huge", "tiny"),
            bits=BITS,
            target=REAL + ("zero",),
            steps=INT + ("neg",),
            lr=POS + ("huge",),
            mu=REAL + ("neg",),
        ),
        expect={("w", "huge"): "finite", ("w", "tiny"): "finite", ("lr", "huge"): "finite"},
    ),
)

# RAOQ training pieces (refquant.imc.training)
_ARRT = ("nan", "inf", "complex", "object", "str", "bool", "none", "noncontig", "readonly", "list")
_XF = np.abs(X2[:, :6]) * 2  # (3, 6) float activations
_WF = X2[:, :6].T[:, :2] * 0.3  # (6, 2) float weights
_AF, _BF = X2[:, :6].T[:, :1] * 0.05, X2[:1, :2] * 0.05  # (6, 1), (1, 2)
_SPT = lambda: _imc().CrossbarSpec(rows=4, input_bits=3, weight_bits=3, adc=_imc().ADCSpec(4))  # noqa: E731
_ADCKW = dict(offset=-2.0, step=0.5, n_codes=8)
_reg(
    "refquant.imc.adc_fake_quant",
    E(
        M.adc_fake_quant,
        dict(a=np.array([0.1, 3.3, -9.0]), **_ADCKW),
        dict(a=_ARRT, offset=REAL, step=POS, n_codes=INT + ("neg", "zero"), transfer=CHOICE),
    ),
)
_reg(
    "refquant.imc.adc_ste_grad",
    E(
        M.adc_ste_grad,
        dict(a=np.array([0.1, 3.3, -9.0]), grad_out=np.ones(3), **_ADCKW),
        dict(a=_ARRT, grad_out=_ARRT, offset=REAL, step=POS, n_codes=INT + ("neg", "zero"), transfer=CHOICE),
    ),
)
_reg(
    "refquant.imc.crossbar_forward",
    E(
        M.crossbar_forward,
        dict(x=_XF, w=_WF, spec=_SPT(), x_scale=0.5, w_scale=0.1),
        dict(x=_ARRT, w=_ARRT, spec=SPEC, x_scale=POS, w_scale=POS),
    ),
)
_reg(
    "refquant.imc.crossbar_ste_grad",
    E(
        M.crossbar_ste_grad,
        dict(x=_XF, w=_WF, grad_y=np.ones((3, 2)), spec=_SPT(), x_scale=0.5, w_scale=0.1),
        dict(x=_ARRT, w=_ARRT, grad_y=_ARRT, spec=SPEC, x_scale=POS, w_scale=POS),
    ),
)
_reg(
    "refquant.imc.bitaug_weight",
    E(
        M.bitaug_weight,
        dict(epoch=2, n_epochs=20, hold_epochs=5),
        dict(epoch=INT + ("neg",), n_epochs=INT + ("neg", "zero"), hold_epochs=INT + ("neg",)),
    ),
)
_reg(
    "refquant.imc.bitaug_sample",
    E(
        M.bitaug_sample,
        dict(rng=np.random.default_rng(0), candidates=(7, 9, 10)),
        dict(rng=("str", "float"), candidates=("none", "int", "str", "empty")),
    ),
)
_reg("refquant.imc.adc_lora_merge", E(M.adc_lora_merge, dict(w=_WF, a=_AF, b=_BF), dict(w=_ARRT, a=_ARRT, b=_ARRT)))
_reg(
    "refquant.imc.adc_lora_forward",
    E(
        M.adc_lora_forward,
        dict(x=_XF, w=_WF, a=_AF, b=_BF, spec=_SPT(), x_scale=0.5, w_scale=0.1),
        dict(x=_ARRT, w=_ARRT, a=_ARRT, b=_ARRT, spec=SPEC, x_scale=POS, w_scale=POS),
    ),
)
_reg(
    "refquant.imc.adc_lora_objective",
    E(
        M.adc_lora_objective,
        dict(x=_XF, w=_WF, a=_AF, b=_BF, spec=_SPT(), x_scale=0.5, w_scale=0.1),
        dict(x=_ARRT, w=_ARRT, a=_ARRT, b=_ARRT, spec=SPEC, x_scale=POS, w_scale=POS),
    ),
)
_reg(
    "refquant.imc.adc_lora_grad",
    E(
        M.adc_lora_grad,
        dict(x=_XF, w=_WF, a=_AF, b=_BF, spec=_SPT(), x_scale=0.5, w_scale=0.1),
        dict(x=_ARRT, w=_ARRT, a=_ARRT, b=_ARRT, spec=SPEC, x_scale=POS, w_scale=POS),
    ),
)
_reg(
    "refquant.imc.adc_lora_init",
    E(
        M.adc_lora_init,
        dict(x=_XF, w=_WF, rank=1, spec=_SPT(), x_scale=0.5, w_scale=0.1, rng=0, steps=2),
        dict(
            x=_ARRT,
            w=_ARRT,
            rank=INT + ("neg", "zero"),
            spec=SPEC,
            x_scale=POS,
            w_scale=POS,
            rng=("str", "float"),
            steps=INT + ("neg",),
            lr=POS,
            init_scale=POS,
        ),
    ),
)
_reg(
    "refquant.imc.w_reshape_penalty",
    E(M.w_reshape_penalty, dict(weights=[X1, X2]), dict(target=REAL + ("zero",), lam=REAL + ("neg",))),
)
_reg(
    "refquant.imc.w_reshape_penalty_grad",
    E(M.w_reshape_penalty_grad, dict(weights=[X1, X2]), dict(target=REAL + ("zero",), lam=REAL + ("neg",))),
)

# ---------------------------------------------------------------- sweep
import refquant.sweep as SW  # noqa: E402


def _sweep_fn(rng, a):
    return {"y": a + 1}


_reg(
    "refquant.sweep.run_sweep",
    E(
        SW.run_sweep,
        dict(func=_sweep_fn, tasks=[{"a": 1}, {"a": 2}], seed=0, executor=SW.SerialExecutor()),
        dict(
            func=("none", "int", "str"),
            tasks=("none", "int", "str", "dict", "set", "gen", "ndarray"),
            seed=INT + ("neg",),
            executor=("int", "str"),
            progress=FLAG,
            desc=("int", "none"),
        ),
    ),
)
_reg("refquant.sweep.SerialExecutor", E(SW.SerialExecutor, {}))
_reg(
    "refquant.sweep.SerialExecutor.submit",
    E(lambda fn: SW.SerialExecutor().submit(fn, -1).result(), dict(fn=abs), dict(fn=("none", "int", "str"))),
)
_reg(
    "refquant.sweep.using_executor",
    E(
        lambda **kw: SW.using_executor(**kw).__enter__(),
        dict(executor=SW.SerialExecutor()),
        dict(executor=("none", "int", "str")),
    ),
)
_reg(
    "refquant.sweep.dask_executor",
    E(
        lambda **kw: SW.dask_executor(**kw),
        dict(address="tcp://127.0.0.1:1"),
        dict(address=("none", "int", "enum", "obj"), check=FLAG),
    ),
)


class _FakeClient:
    """Stands in for a ``distributed.Client``: runs the worker probe in this process (one worker, same refquant)."""

    def run(self, fn):
        return {"tcp://127.0.0.1:1": fn()}


_reg(
    "refquant.sweep.check_cluster",
    E(SW.check_cluster, dict(client=_FakeClient()), dict(client=("none", "int", "str", "obj"))),
)
_reg("refquant.sweep.source_digest", E(SW.source_digest, {}))
_reg("refquant.sweep.ClusterMismatch", E(SW.ClusterMismatch, {}))

# ---------------------------------------------------------------- ptq
import refquant.ptq as P  # noqa: E402


def _observer(**kw):
    obs = P.ActivationObserver(**kw)
    obs.update(X2)
    return obs


def _observer_summary(**kw):
    """update(x) returns None: the entry returns the statistics it merged (all of degree 1 in x)."""
    obs = P.ActivationObserver()
    obs.update(**kw)
    return np.array([obs.min, obs.max, obs.mean])


_BITS_ARR = ("nan", "complex", "str", "bool", "none", "neg", "list", "ndim+")
_reg(
    "refquant.ptq.grid_spec",
    E(P.grid_spec, dict(bits=4), dict(bits=BITS, grid=CHOICE, signed=FLAG, axis=("float", "str", "bool"))),
)
_reg(
    "refquant.ptq.scale_from_clip",
    E(
        P.scale_from_clip,
        dict(alpha=1.4, spec=P.grid_spec(4)),
        dict(
            alpha=POS + ("huge", "tiny"), spec=SPEC, grid=CHOICE, signed=("flag", "flag1"), lower=("nan", "str", "obj")
        ),
        expect=_on_scale(1, "alpha"),
    ),
)
_reg(
    "refquant.ptq.fit_scale",
    E(
        P.fit_scale,
        dict(x=X2, dist="laplace", axis=0),
        dict(x=ARR2 + ("huge", "tiny", "subnormal"), dist=CHOICE, axis=AXIS, signed=FLAG),
        expect=_on_scale(1, "x"),
    ),
)
_reg(
    "refquant.ptq.channel_clips",
    E(
        P.channel_clips,
        dict(x=X2, bits=4),
        dict(
            x=ARR2 + ("huge", "tiny", "subnormal"),
            bits=("float", "intfloat", "bool", "str", "none", "bits_hi", "bits_neg"),
            axis=AXIS,
            method=CHOICE,
            grid=CHOICE,
            signed=FLAG,
            n_candidates=INT + ("neg", "zero"),
        ),
        expect=_on_scale(1, "x"),
    ),
)
_reg(
    "refquant.ptq.fake_quant_bits",
    E(
        P.fake_quant_bits,
        dict(x=X2, alpha=np.array([1.0, 2.0, 3.0]), bits=np.array([0, 2, 4])),
        dict(
            x=ARR2 + ("huge", "tiny"),
            alpha=("nan", "inf", "zero", "neg", "complex", "str", "bool", "none", "list", "ndim+"),
            bits=_BITS_ARR,
            axis=AXIS,
            grid=CHOICE,
            signed=FLAG,
        ),
        expect=_finite("x", classes=("huge", "tiny")) | {("bits", "list"): "same"},
    ),
)
_reg(
    "refquant.ptq.ActivationObserver",
    E(
        P.ActivationObserver,
        {},
        dict(signed=FLAG, bins=INT + ("neg", "zero"), axis=("float", "intfloat", "bool", "str")),
    ),
)

_reg(
    "refquant.ptq.ActivationObserver#per_channel",
    E(P.ActivationObserver, dict(axis=0), dict(axis=("float", "intfloat", "bool", "str"))),
)


def _channel_observer_summary(x, axis):
    """A per-channel observer (channel ``axis``) after one batch: its per-channel statistics of degree 1 in x."""
    obs = P.ActivationObserver(axis=axis)
    obs.update(x)
    return np.concatenate([obs.min, obs.max, obs.mean])


_reg(
    "refquant.ptq.ActivationObserver.update#per_channel",
    E(
        _channel_observer_summary,
        dict(x=X2, axis=1),
        dict(x=ARR2 + ("huge", "tiny", "subnormal"), axis=AXIS),
        expect={("x", "tiny"): _pow(1), ("x", "subnormal"): _pow(1)},
    ),
)
_reg(
    "refquant.ptq.ActivationObserver.clip#per_channel",
    E(
        lambda **kw: _observer(axis=0).clip(**kw),
        dict(bits=4, method="mse", grid="aciq_runtime", n_candidates=64),
        dict(bits=BITS, method=CHOICE, grid=("enum", "int"), signed=("flag", "flag1"), n_candidates=INT_NN),
    ),
)
_reg(
    "refquant.ptq.ActivationObserver.params#per_channel",
    E(
        lambda **kw: _observer(axis=0).params(**kw),
        dict(spec=rq.QuantSpec(4, axis=0), method="aciq_laplace"),
        dict(spec=SPEC, method=CHOICE),
    ),
)
_reg(
    "refquant.ptq.ActivationObserver.update",
    E(
        _observer_summary,
        dict(x=X2),
        dict(x=ARR2 + ("huge", "tiny", "subnormal")),
        expect={("x", "tiny"): _pow(1), ("x", "subnormal"): _pow(1)},
    ),
)
_reg(
    "refquant.ptq.ActivationObserver.clip",
    E(
        lambda **kw: _observer().clip(**kw),
        dict(bits=4, method="mse", n_candidates=64),
        dict(
            bits=BITS,
            method=CHOICE,
            grid=("enum", "int"),
            signed=("flag", "flag1"),
            n_candidates=INT_NN + ("neg", "zero"),
        ),
    ),
)
_reg("refquant.ptq.ActivationObserver.edges", E(lambda: _observer().edges(), {}))
_reg(
    "refquant.ptq.ActivationObserver.fitted_scale",
    E(lambda **kw: _observer().fitted_scale(**kw), dict(dist="laplace"), dict(dist=CHOICE)),
)
_reg(
    "refquant.ptq.ActivationObserver.params",
    E(lambda **kw: _observer().params(**kw), dict(spec=S8, method="minmax"), dict(spec=SPEC, method=CHOICE)),
)


# ---------------------------------------------------------------- testing
def _t_conf():
    return importlib.import_module("refquant.testing.conformance")


def _hyp_st():
    return importlib.import_module("hypothesis.strategies")


def _tentry(fn_name: str, valid: dict, bad: dict, **kw) -> E:
    """An entry for ``refquant.testing.<fn_name>`` (imported lazily); the call carries the real signature
    (``__wrapped__``), so a bad-input class of a parameter not in *valid* starts from its default value."""
    target = getattr(_t(), fn_name)

    def call(**a):
        return target(**a)

    call.__wrapped__ = target
    return E(call, valid, bad, **kw)


_reg("refquant.testing.ConformanceError", E(lambda **kw: _t().ConformanceError(**kw), {}))
_reg("refquant.testing.IMCCase", E(lambda **kw: _t().IMCCase(**kw), dict(x_codes=XC, w_codes=WC, spec=None)))
_reg("refquant.testing.MatmulCase", E(lambda **kw: _t().MatmulCase(**kw), dict(x=_TX, w_q=_TW)))
_reg("refquant.testing.QuantCase", E(lambda **kw: _t().QuantCase(**kw), dict(x=X2, scale=0.1, zero_point=0, spec=S8)))
_reg("refquant.testing.SignedBinaryCase", E(lambda **kw: _t().SignedBinaryCase(**kw), dict(w=X2, kwargs={})))
_reg(
    "refquant.testing.Tolerance",
    _tentry(
        "Tolerance",
        dict(kind="rel", rtol=1e-6),
        dict(kind=CHOICE, ulps=INT + ("neg",), rtol=REAL + ("neg",), atol=REAL + ("neg",), signed_zero=FLAG),
    ),
)
_reg("refquant.testing.Tolerance.describe", E(lambda: _t().Tolerance("rel", rtol=1e-6).describe(), {}))
_reg(
    "refquant.testing.compare_arrays",
    _tentry(
        "compare_arrays",
        dict(expected=X1, got=X1.copy(), op="x"),
        dict(
            tol=("str", "int", "none"),
            op=("int", "none"),
            context=("int", "str", "set"),
            inputs=("int", "str", "set"),
            check_dtype=FLAG,
        ),
    ),
)
_reg(
    "refquant.testing.golden.GoldenOp",
    E(
        lambda **kw: _golden().GoldenOp(**kw),
        dict(name="x", make_cases=lambda rng: [], compute=lambda *a: {}),
        dict(
            name=("int", "none"), make_cases=("int", "none"), compute=("int", "none"), tolerance=("str", "int", "none")
        ),
    ),
)


def _register_and_remove(**kw):
    g = _golden()
    out = g.register(**kw)
    g.REGISTRY.pop(out.name)
    return out


_TMP = tempfile.mkdtemp(prefix="refquant-bad-inputs-")


def _export(directory=_TMP, **kw):
    return _golden().export(directory, **kw)


def _verify(directory=None, **kw):
    if directory is None:
        directory = tempfile.mkdtemp(prefix="refquant-bad-inputs-")
        _golden().export(directory, ops=["dequantize"])
    return _golden().verify(directory, **kw)


_reg(
    "refquant.testing.golden.register",
    E(
        _register_and_remove,
        dict(op=_golden().GoldenOp("bad-inputs-probe", lambda rng: [], lambda *a: {})),
        dict(op=("none", "int", "str", "dict")),
    ),
)
_reg("refquant.testing.golden.VerifyReport", E(lambda **kw: _golden().VerifyReport(**kw), {}))
_reg("refquant.testing.golden.VerifyReport.summary", E(lambda: _golden().VerifyReport().summary(), {}))
_PR = importlib.import_module("refquant.profiles")
_reg("refquant.profiles.names", E(lambda: _PR.names(), {}))
_reg("refquant.profiles.get", E(lambda **kw: _PR.get(**kw), dict(name="onnx"), dict(name=("int", "none", "enum"))))
_reg("refquant.profiles.Profile", E(lambda: _PR.get("onnx"), {}))
_reg("refquant.profiles.Profile.specs", E(lambda: _PR.get("onnx").specs(), {}))
_reg(
    "refquant.profiles.Profile.spec",
    E(
        lambda **kw: _PR.get("torch.fake_quantize").spec(**kw),
        dict(bits=8, signed=True, axis=0, narrow_range=False),
        dict(bits=BITS, signed=FLAG, narrow_range=FLAG, axis=("float", "bool", "str")),
    ),
)
_reg(
    "refquant.profiles.Profile.calibrate",
    E(
        lambda **kw: _PR.get("torch.fake_quantize").calibrate(**kw),
        dict(x=X2.astype(np.float32), spec=_PR.get("torch.fake_quantize").spec(8, signed=True)),
        dict(x=ARR, spec=SPEC),
    ),
)
_reg(
    "refquant.profiles.tf_fake_quant_model",
    E(
        lambda **kw: _PR.tf_fake_quant_model(**kw),
        dict(x=X1.astype(np.float32), min=-1.0, max=2.0, num_bits=8, narrow_range=False, variant="args"),
        dict(x=ARR, min=REAL, max=REAL, num_bits=BITS, narrow_range=FLAG, variant=CHOICE),
    ),
)
_reg(
    "refquant.testing.golden.profile_specs",
    E(
        lambda **kw: importlib.import_module("refquant.testing.golden").profile_specs(**kw),
        dict(name="onnx"),
        dict(name=("int", "enum")),
    ),
)
_reg(
    "refquant.testing.golden.export",
    E(
        _export,
        dict(ops=["dequantize"]),
        dict(
            ops=("str", "int", "dict", "set", "gen"),
            seed=INT + ("neg",),
            directory=("int", "none"),
            profile=("int", "enum"),
        ),
    ),
)
_reg(
    "refquant.testing.golden.verify",
    E(_verify, dict(), dict(ops=("str", "int", "dict", "set", "gen", "enum"), directory=("int", "obj"))),
)

for _name, _valid, _bad in [
    ("adc_specs", dict(lossless=False), dict(lossless=("flag", "flag1"))),
    (
        "crossbar_specs",
        dict(max_rows=40),
        dict(max_rows=INT + ("neg", "zero"), modes=("str", "int", "enum", "dict"), adcs=("int", "str")),
    ),
    (
        "float_arrays",
        dict(shape=(3,)),
        dict(
            shape=("str", "none"),
            scale=POS,
            zero_point=INT,
            qmin=INT,
            qmax=INT,
            allow_subnormal=FLAG,
            max_magnitude=POS,
            dtype=("enum", "int"),
        ),
    ),
    (
        "imc_cases",
        dict(max_k=20),
        dict(
            max_k=INT + ("neg", "zero"),
            max_out=INT + ("neg", "zero"),
            max_batch=INT + ("neg", "zero"),
            specs=("int", "str"),
        ),
    ),
    (
        "order_sensitive_values",
        dict(dtype=np.float32, scale=0.1, k_lo=-3, k_hi=3),
        dict(
            dtype=("enum", "int", "none"),
            scale=POS + ("tiny",),
            k_lo=INT,
            k_hi=INT + ("neg",),
            max_ulps=INT + ("neg",),
        ),
    ),
    (
        "quant_cases",
        dict(max_dims=2),
        dict(
            dtype=("enum", "int"),
            specs=("int", "str"),
            per_channel=("flag", "flag1"),
            max_dims=INT + ("neg", "zero"),
            max_side=INT + ("neg", "zero"),
            power_of_two_scales=("flag", "flag1"),
            allow_subnormal=FLAG,
            max_magnitude=("str", "bool", "nan", "inf", "zero", "neg"),
            scale=("str", "bool", "nan", "inf", "zero", "neg", "complex"),
            zero_point=("float", "str", "bool", "bigint"),
            calibrate=("int", "str"),
        ),
    ),
    (
        "quant_specs",
        dict(min_bits=2, max_bits=8),
        dict(
            min_bits=BITS,
            max_bits=BITS,
            signed=("flag", "flag1"),
            narrow_range=("flag", "flag1"),
            axis=("str", "float"),
            roundings=("enum", "int", "none", "dict"),
            scale_ops=("enum", "int", "none", "dict"),
            compute_dtypes=("enum", "int", "none", "dict"),
        ),
    ),
    (
        "region_layouts",
        dict(max_filters=3),
        dict(max_filters=INT + ("neg", "zero"), max_channels=INT + ("neg", "zero"), max_spatial=INT + ("neg", "zero")),
    ),
    ("scales", dict(dtype=np.float32), dict(dtype=("enum", "int", "none"), power_of_two=("flag", "flag1"))),
    ("signed_binary_cases", dict(explicit_signs=None), dict(explicit_signs=("flag", "flag1"))),
    (
        "ternary_matmul_cases",
        dict(max_k=10),
        dict(
            max_k=INT + ("neg", "zero"),
            max_out=INT + ("neg", "zero"),
            max_batch=INT + ("neg", "zero"),
            signed_binary=("flag", "flag1"),
        ),
    ),
    ("weight_layers", dict(max_layers=2), dict(max_layers=INT + ("neg", "zero"), max_size=INT + ("neg", "zero"))),
]:
    _reg(f"refquant.testing.{_name}", _tentry(_name, _valid, _bad))
# a further QuantSpec field passed as a plural keyword (**knobs): its errors name the caller's keyword
_reg(
    "refquant.testing.quant_specs#knobs",
    _tentry(
        "quant_specs",
        dict(zero_point_ops=["after_round", "fused"], domains=["code"]),
        dict(zero_point_ops=("enum", "int", "none", "dict", "str"), domains=("enum", "int", "none", "dict")),
    ),
)

#: The options shared by check_fake_quant, check_quantize and check_dequantize (the case-drawing options of
#: quant_cases, the backend profile, and run_property's budget).
_UNIFORM_CHECK = dict(
    profile=("int", "enum"),
    specs=("int", "str", "dict"),
    per_channel=("flag", "flag1"),
    dtype=("enum", "int"),
    zero_point=("float", "str", "bool", "bigint"),
    scale=("str", "bool", "nan", "inf", "zero", "neg", "complex"),
    calibrate=("int", "str"),
    power_of_two_scales=("flag", "flag1"),
    max_dims=INT + ("neg", "zero"),
    max_side=INT + ("neg", "zero"),
    allow_subnormal=FLAG,
    max_magnitude=("str", "bool", "nan", "inf", "zero", "neg"),
    max_unsupported=REAL + ("neg",),
    shrink_seconds=POS,
)

_reg(
    "refquant.testing.conformance.run_property",
    E(
        lambda **kw: _t_conf().run_property(**kw),
        dict(strategy=_hyp_st().integers(0, 3), body=lambda c: None, max_examples=2, seed=0),
        dict(
            strategy=("none", "int", "str"),
            body=("none", "int", "str"),
            max_examples=INT + ("neg", "zero"),
            seed=("float", "str", "neg"),
            op=("int", "none"),
            max_unsupported=REAL + ("neg",),
            shrink_seconds=POS,
        ),
    ),
)
for _name, _valid, _bad in [
    ("check_fake_quant", dict(candidate=rq.fake_quant, max_examples=2), _UNIFORM_CHECK | dict(check_dtype=FLAG)),
    ("check_quantize", dict(candidate=rq.quantize, max_examples=2), _UNIFORM_CHECK | dict(check_dtype=FLAG)),
    ("check_dequantize", dict(candidate=rq.dequantize, max_examples=2), _UNIFORM_CHECK),
    (
        "check_signed_binarize",
        dict(candidate=B.signed_binarize, max_examples=2),
        dict(explicit_signs=("flag", "flag1")),
    ),
    (
        "check_repetition_matmul",
        dict(candidate=RP.factorized_matmul, max_examples=2),
        dict(method=("enum", "int"), tile=INT + ("neg", "zero")),
    ),
    ("check_imc_matmul", dict(candidate=M.imc_matmul, max_examples=2), dict(specs=("int", "str"))),
    ("check_kurtosis", dict(candidate=K.kurtosis, ddof=0, max_examples=2), dict(ddof=INT + ("neg",))),
    (
        "check_kure_grad",
        dict(candidate=K.kure_grad, ddof=0, max_examples=2),
        dict(target=REAL + ("zero",), ddof=INT + ("neg",)),
    ),
    ("check_mse_exact", dict(candidate=C.mse_exact, max_examples=2), {}),
    ("check_optimal_clip", dict(candidate=C.optimal_clip, model="aciq", max_examples=2), dict(model=CHOICE)),
    # RAOQ training checkers (refquant/testing/conformance_imc.py): candidates written as their docstrings state
    (
        "check_adc_ste_grad",
        dict(
            candidate=lambda a, g, o, d, n, tr: M.adc_ste_grad(a, g, offset=o, step=d, n_codes=n, transfer=tr),
            max_examples=2,
        ),
        {},
    ),
    (
        "check_crossbar_ste_grad",
        dict(
            candidate=lambda x, w, g, sp, sx, sw: M.crossbar_ste_grad(x, w, g, sp, x_scale=sx, w_scale=sw),
            max_examples=2,
        ),
        {},
    ),
    (
        "check_crossbar_ste_grad_bpbs",
        dict(
            candidate=lambda x, w, g, sp, sx, sw: M.crossbar_ste_grad(x, w, g, sp, x_scale=sx, w_scale=sw),
            max_examples=2,
        ),
        {},
    ),
    ("check_bitaug_weight", dict(candidate=lambda e, n, h: M.bitaug_weight(e, n, hold_epochs=h), max_examples=2), {}),
    (
        "check_adc_lora_forward",
        dict(
            candidate=lambda x, w, a, b, sp, sx, sw: M.adc_lora_forward(x, w, a, b, sp, x_scale=sx, w_scale=sw),
            max_examples=2,
        ),
        {},
    ),
    (
        "check_w_reshape_grad",
        dict(candidate=lambda ws, t, lam: M.w_reshape_penalty_grad(ws, target=t, lam=lam), max_examples=2),
        dict(target=REAL, lam=REAL),
    ),
]:
    _bad = dict(
        _bad, candidate=("none", "int", "str"), max_examples=INT + ("neg", "zero"), seed=("float", "str", "neg")
    )
    if "tolerance" in inspect.signature(getattr(_t(), _name)).parameters:
        _bad["tolerance"] = ("str", "int", "none")
    _reg(f"refquant.testing.{_name}", _tentry(_name, _valid, _bad))

# ---------------------------------------------------------------- names added on main by other branches
_reg(
    "refquant.specs.Domain",
    E(
        lambda **kw: rq.specs.Domain(**kw),
        dict(value="code"),
        dict(value=("enum", "int", "none")),
        alias=dict(value="Domain"),
    ),
)
_reg(
    "refquant.specs.ZeroPointOp",
    E(
        lambda **kw: rq.specs.ZeroPointOp(**kw),
        dict(value="fused"),
        dict(value=("enum", "int", "none")),
        alias=dict(value="ZeroPointOp"),
    ),
)
# variants with a fixed scale and zero point, so that the real-number classes of those options apply
_FIXED = dict(
    scale=("str", "bool", "nan", "inf", "-inf", "zero", "neg", "complex"),
    zero_point=INT_NN + ("neg",),
    max_magnitude=tuple(c for c in POS if c != "none"),  # None is valid: the compute dtype's range
)
_reg(
    "refquant.testing.quant_cases#fixed_scale",
    _tentry(
        "quant_cases",
        dict(specs=[S8], scale=0.25, zero_point=0, max_magnitude=100.0),
        _FIXED,
        expect={("zero_point", "neg"): "finite"},  # -1 is a code of int8: a valid pinned zero point
    ),
)
_reg(
    "refquant.testing.check_fake_quant#fixed_scale",
    _tentry(
        "check_fake_quant",
        dict(candidate=rq.fake_quant, specs=[S8], scale=0.25, zero_point=0, max_magnitude=100.0, max_examples=2),
        _FIXED,
        expect={("zero_point", "neg"): "finite"},
    ),
)
_reg(
    "refquant.testing.CheckReport",
    _tentry(
        "CheckReport",
        dict(op="fake_quant", cases=3),
        dict(
            op=("int", "none"),
            cases=INT + ("neg",),
            unsupported=INT + ("neg",),
            reasons=("int", "str", "dict", "none"),
            max_unsupported=REAL + ("neg",),
        ),
    ),
)
_reg("refquant.testing.CheckReport.summary", E(lambda: _t().CheckReport("fake_quant", cases=3).summary(), {}))
_reg("refquant.testing.Unsupported", E(lambda **kw: _t().Unsupported(**kw), {}))
_reg(
    "refquant.testing.check_calibration",
    _tentry(
        "check_calibration",
        dict(candidate=rq.calibrate_minmax, max_examples=2),
        dict(
            candidate=("none", "int", "str"),
            max_examples=INT + ("neg", "zero"),
            symmetric=FLAG,
            seed=("float", "str", "neg"),
            profile=("int", "enum"),
            specs=("int", "str", "dict"),
            reference=("int", "str"),
            per_channel=("flag", "flag1"),
            dtype=("enum", "int"),
            max_dims=INT + ("neg", "zero"),
            max_side=INT + ("neg", "zero"),
            tolerance=("str", "int", "none"),
            max_unsupported=REAL + ("neg",),
            shrink_seconds=POS,
        ),
    ),
)
_reg(
    "refquant.testing.spec_strategy",
    _tentry("spec_strategy", dict(specs=S8), dict(specs=("int", "str", "dict", "set"), name=("int", "none"))),
)
_reg(
    "refquant.testing.golden.canonical_json",
    E(lambda **kw: _golden().canonical_json(**kw), dict(value={"a": [1, 2]}), dict(value=("obj", "set"))),
)
_GOLD_DIR = tempfile.mkdtemp(prefix="refquant-bad-inputs-")
_GOLD_ENTRY = _golden().export(_GOLD_DIR, ops=["dequantize"])["cases"][0]
_reg(
    "refquant.testing.golden.case_bytes",
    E(
        lambda **kw: _golden().case_bytes(**kw),
        dict(entry={"inputs": {}, "outputs": {}}, arrays={"inputs": {}, "outputs": {}}),
        dict(entry=("int", "none", "str"), arrays=("int", "none", "str")),
    ),
)
_reg(
    "refquant.testing.golden.case_sha256",
    E(
        lambda **kw: _golden().case_sha256(**kw),
        dict(entry=_GOLD_ENTRY, directory=_GOLD_DIR),
        dict(entry=("int", "none", "str"), directory=("int",)),
    ),
)

# ------------------------------------------------------------------------------------------ enumeration
LISTED = [
    "refquant",
    "refquant.specs",
    "refquant.uniform",
    "refquant.distributions",
    "refquant.clipping",
    "refquant.allocation",
    "refquant.bias_correction",
    "refquant.kurtosis",
    "refquant.robustness",
    "refquant.imc",
    "refquant.binarize",
    "refquant.repetition",
    "refquant.sweep",
    "refquant.testing",
]


def public_modules() -> list:
    """The listed modules, then every other importable refquant module with ``__all__`` and no private path part."""
    names = list(LISTED)
    for info in pkgutil.walk_packages(rq.__path__, "refquant."):
        if any(part.startswith("_") for part in info.name.split(".")) or info.name in names:
            continue
        names.append(info.name)
    mods = []
    for n in names:
        mod = importlib.import_module(n)
        if hasattr(mod, "__all__"):
            mods.append(mod)
    return mods


def public_callables() -> dict:
    """``{id(obj): (first public path, obj)}`` for every public callable and public method."""
    out: dict = {}
    for mod in public_modules():
        for n in mod.__all__:
            obj = getattr(mod, n)
            if not callable(obj) or id(obj) in out:
                continue
            out[id(obj)] = (f"{mod.__name__}.{n}", obj)
            if inspect.isclass(obj):
                for k, v in vars(obj).items():
                    if k.startswith("_"):
                        continue
                    if isinstance(v, (classmethod, staticmethod)):
                        v = v.__func__
                    if inspect.isfunction(v) and id(v) not in out:
                        out[id(v)] = (f"{mod.__name__}.{n}.{k}", v)
    return out


def _resolve(path: str):
    parts = path.split("#", 1)[0].split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = vars(obj)[p] if inspect.isclass(obj) and p in vars(obj) else getattr(obj, p)
        if isinstance(obj, (classmethod, staticmethod)):
            obj = obj.__func__
        return obj
    raise LookupError(path)


def test_every_public_callable_has_an_entry():
    have = {}
    for key in REGISTRY:
        have.setdefault(id(_resolve(key)), key)
    missing = sorted(path for oid, (path, _) in public_callables().items() if oid not in have)
    assert not missing, (
        f"public callables without a bad-input registry entry: {missing}. Add an entry to REGISTRY in "
        "tests/test_bad_inputs.py (see 'How to add an entry' at the top of that file): a valid call and the "
        "bad-input classes of each parameter."
    )


def test_registry_has_no_stale_entries():
    public = public_callables()
    stale = [k for k in REGISTRY if id(_resolve(k)) not in public]
    assert not stale, f"registry entries for names that are no longer public: {stale}"


# ------------------------------------------------------------------------------------------ cases
def _cases():
    out = []
    for name, e in REGISTRY.items():
        for param, classes in e.bad.items():
            for cls in dict.fromkeys(classes):
                marks = []
                if (param, cls) in e.known:
                    marks.append(pytest.mark.xfail(reason=e.known[(param, cls)], strict=False))
                out.append(pytest.param(name, param, cls, id=f"{name}|{param}|{cls}", marks=marks))
    return out


def _snapshot(v):
    if type(v).__eq__ is object.__eq__ and not dataclasses.is_dataclass(v):
        return v  # no value semantics (executors, functions): compared by identity
    try:
        return copy.deepcopy(v)
    except Exception:  # generators, modules: compared by identity only
        return v


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b) and not isinstance(a, type):
        return type(a) is type(b) and all(_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if hasattr(a, "equals") and hasattr(b, "equals"):  # pandas
        try:
            return bool(a.equals(b))
        except Exception:
            return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _numbers(r):
    """Every numeric leaf of a result (arrays, floats, containers, dataclasses, DataFrames)."""
    if isinstance(r, (bool, np.bool_, str, bytes)) or r is None:
        return
    if isinstance(r, np.ndarray):
        if r.dtype.kind in "fc":
            yield r
        return
    if isinstance(r, (float, np.floating)):
        yield np.asarray(r)
        return
    if isinstance(r, (list, tuple)):
        for v in r:
            yield from _numbers(v)
        return
    if isinstance(r, dict):
        for v in r.values():
            yield from _numbers(v)
        return
    if dataclasses.is_dataclass(r) and not isinstance(r, type):
        for f in dataclasses.fields(r):
            yield from _numbers(getattr(r, f.name))
        return
    if hasattr(r, "select_dtypes"):  # DataFrame
        yield r.select_dtypes("number").to_numpy(dtype=np.float64)


def _nonfinite_count(r) -> int:
    return sum(int(np.count_nonzero(~np.isfinite(a))) for a in _numbers(r))


def _names(msg: str, param: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(param)}(?![A-Za-z0-9_])", msg) is not None


_VALID_CACHE: dict = {}


def _valid_result(name: str):
    if name not in _VALID_CACHE:
        e = REGISTRY[name]
        _VALID_CACHE[name] = e.call(**e.valid)
    return _VALID_CACHE[name]


def _scaled_equal(r, v, f: int, k: int) -> bool:
    rs, vs = list(_numbers(r)), list(_numbers(v))
    if len(rs) != len(vs):
        return False
    for a, b in zip(rs, vs):
        if a.shape != b.shape:
            return False
        with np.errstate(all="ignore"):
            back = np.ldexp(a.astype(np.float64), -k * f) if k else a.astype(np.float64)
        if not np.allclose(back, b, rtol=1e-9, atol=0):
            return False
    return True


#: Counted per public name, printed by tests/conftest.py's terminal summary.
CASE_COUNTS: dict = {}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_valid_call(name):
    e = REGISTRY[name]
    before = {k: _snapshot(v) for k, v in e.valid.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = _valid_result(name)
    assert _nonfinite_count(r) == 0, f"{name}: the registry's valid call returns NaN/inf"
    for k, v in before.items():
        assert _equal(v, e.valid[k]), f"{name} mutated its argument {k}"


@pytest.mark.parametrize("name, param, cls", _cases())
def test_case(name, param, cls):
    e = REGISTRY[name]
    base = e.valid.get(
        param, inspect.signature(_resolve_callable(e)).parameters[param].default if param in _params(e) else None
    )
    bad = GENERATORS[cls](base)
    if bad is NA:
        pytest.skip(f"class {cls!r} does not apply to {param}={base!r}")
    kwargs = dict(e.valid)
    kwargs[param] = bad
    before = {k: _snapshot(v) for k, v in kwargs.items()}
    exp = e.expect.get((param, cls), DEFAULT_EXPECT.get(cls, "raise"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = e.call(**kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert _names(msg, param) or (param in e.alias and _names(msg, e.alias[param])), (
            f"{name}({param}=<{cls}>) raised {type(exc).__name__} without naming {param!r}: {msg}"
        )
        if exp in ("same", "same_values") or (isinstance(exp, tuple) and exp[0] == "pow" and "or_raise" not in exp):
            pytest.fail(f"{name}({param}=<{cls}>): an in-domain input ({exp}) raised {type(exc).__name__}: {msg}")
        result = exc
    else:
        valid = _valid_result(name)
        if exp == "raise":
            pytest.fail(
                f"{name}({param}=<{cls}>) returned {_short(result)} instead of a ValueError/TypeError naming {param!r}"
            )
        elif exp == "same":
            assert _equal(result, valid) or _close(result, valid), (
                f"{name}({param}=<{cls}>) gave {_short(result)}, valid call {_short(valid)}"
            )
        elif exp == "same_values":
            assert [a.ravel().tolist() for a in _numbers(result)] == [a.ravel().tolist() for a in _numbers(valid)]
        elif exp == "same_or_close":
            assert _close(result, valid, rtol=1e-6), (
                f"{name}({param}=<{cls}>) gave {_short(result)}, valid call {_short(valid)}"
            )
        elif exp == "f16":
            promoted = dict(kwargs, **{param: bad.astype(np.float64)})
            want = e.call(**promoted)
            assert _equal(result, want) or _close(result, want, rtol=1e-12), (
                f"{name}({param}=<float16>) gave {_short(result)}; the float64-promoted values give {_short(want)}"
            )
        elif exp == "finite":
            assert _nonfinite_count(result) <= _nonfinite_count(valid), (
                f"{name}({param}=<{cls}>) returned NaN/inf: {_short(result)}"
            )
        elif isinstance(exp, tuple) and exp[0] == "pow":
            f = {"huge": F_HUGE, "tiny": F_TINY, "subnormal": F_SUB}[cls]
            assert _scaled_equal(result, valid, f, exp[1]), (
                f"{name}({param}=<{cls}: x 2**{f}>) gave {_short(result)}; scale law of degree {exp[1]} "
                f"wants 2**({exp[1]}*{f}) times {_short(valid)}"
            )
        elif callable(exp):
            assert exp(result, valid), f"{name}({param}=<{cls}>) gave {_short(result)} (documented result check failed)"
        else:
            raise AssertionError(f"unknown expectation {exp!r}")
    for k, v in before.items():
        assert _equal(v, kwargs[k]) or v is kwargs[k], f"{name}({param}=<{cls}>) mutated its argument {k}"
    CASE_COUNTS[name] = CASE_COUNTS.get(name, 0) + 1


def _close(a, b, rtol=1e-12) -> bool:
    xs, ys = list(_numbers(a)), list(_numbers(b))
    return (
        len(xs) == len(ys)
        and len(xs) > 0
        and all(x.shape == y.shape and np.allclose(x, y, rtol=rtol, atol=0, equal_nan=True) for x, y in zip(xs, ys))
    )


def _short(v) -> str:
    t = repr(v)
    return t if len(t) < 200 else t[:197] + "..."


def _resolve_callable(e: E):
    return e.call


def _params(e: E):
    try:
        return inspect.signature(e.call).parameters
    except (TypeError, ValueError):
        return {}
