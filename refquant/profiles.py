r"""Backend profiles: the exact quantize arithmetic of real runtimes, as refquant specs.

A *profile* names one backend operation family and states, as data and code,

* which :class:`~refquant.specs.QuantSpec` reproduces that operation bit for bit
  (:meth:`Profile.spec`) — or a ``ValueError`` naming the parameter the backend
  does not support (e.g. ``block_size`` for PyTorch);
* how that backend computes its own scale and zero point
  (:meth:`Profile.calibrate`): its observer or nudging, transcribed into NumPy in
  the backend's dtypes and order of operations;
* the evidence: the backend versions it was checked against, how many generated
  cases per conformance row, which operations and layouts were covered, and the
  backend's known divergences (where the backend, not the profile, misbehaves).

The evidence is produced by the backend suite (``bash tests/backends/run.sh``),
which runs each profile's checkers against the real operations in a virtual
environment of its own and writes ``docs/CONFORMANCE.md``; docs/PROFILES.md
describes every profile.

>>> from refquant import profiles, quantize
>>> "torch.fake_quantize" in profiles.names()
True
>>> spec = profiles.get("torch.quantize").spec(8, signed=False)
>>> int(quantize([0.5], 1.0, 1, spec)[0])     # zero point added before rounding
2

What no profile can express
---------------------------
``jnp.round(x / s)`` under ``jax.jit``: XLA rewrites ``x / broadcast(s)`` into
``x * broadcast(1 / s)`` or keeps the division depending on the shapes and the
surrounding graph, so the same source line computes ``divide`` on one shape and
``reciprocal`` on another. No single spec states that; write the reciprocal form
``jnp.round(x * (1 / s))`` (stable under jit, covered by the ``"jax"`` profile)
or check each compiled shape separately. :data:`NOT_EXPRESSIBLE` lists these cases.

The profiles are plain data plus NumPy: nothing here imports a backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._validate import as_real_array, check_bool, check_int, short_repr
from .specs import MAX_BITS, MIN_BITS, QuantSpec

__all__ = ["Profile", "get", "names", "NOT_EXPRESSIBLE", "tf_fake_quant_model"]

#: Backend computations that no profile (no single QuantSpec) reproduces, with the reason.
NOT_EXPRESSIBLE: Mapping[str, str] = {
    "jax: jnp.round(x / s) under jax.jit": (
        "XLA's algebraic simplifier turns x / broadcast(s) into x * broadcast(1/s) for some shapes and graphs "
        "and keeps the division for others, so the rounding of x/s near ties depends on the compiled shape; "
        "use jnp.round(x * (1 / s)) (profile 'jax') or check every compiled shape"
    ),
    "tf.quantization.quantize_and_dequantize_v2 / v3": (
        "the multiplier and the step are derived separately from (min, max) and are not reciprocals of one "
        "rounded scale; conforms to a spec only for power-of-two scales"
    ),
}


@dataclasses.dataclass(frozen=True)
class Profile:
    """Named semantics of one backend's quantize operations.

    Attributes
    ----------
    name : str
        The profile's name, as passed to :func:`get`.
    title : str
        One line: which backend operations it covers.
    operations : tuple of str
        The backend calls whose arithmetic the profile states.
    equation : str
        The computation, in the backend's order of operations.
    layouts : tuple of str
        Subset of ``("per_tensor", "per_channel", "blocked")`` the backend has.
    code_ranges : str
        Which ``(bits, signed, narrow_range)`` the backend supports.
    calibration : str
        What :meth:`calibrate` reproduces (the backend's source file and function).
    needs_calibration : bool
        True when the backend derives the scale itself (from a range), so a test
        must draw scale and zero point through :meth:`calibrate`.
    versions : tuple of (str, str)
        Evidence: backend packages and the versions checked (``docs/CONFORMANCE.md``).
    cases : int
        Evidence: generated cases per conformance row in that run (at least).
    divergences : tuple of str
        Known backend divergences (backend bugs or documented limits), each with
        its minimal input; outside them the profile conformed bit for bit.
    """

    name: str
    title: str
    operations: tuple[str, ...]
    equation: str
    layouts: tuple[str, ...]
    code_ranges: str
    calibration: str
    needs_calibration: bool
    versions: tuple[tuple[str, str], ...]
    cases: int
    divergences: tuple[str, ...]
    _spec: Callable[..., dict] = dataclasses.field(repr=False, compare=False)
    _calibrate: Callable[..., tuple] = dataclasses.field(repr=False, compare=False)
    _calibrate_options: tuple[str, ...] = dataclasses.field(repr=False, compare=False, default=())

    def spec(
        self,
        bits: int,
        *,
        signed: bool,
        axis: int | None = None,
        block_size: int | None = None,
        narrow_range: bool = False,
    ) -> QuantSpec:
        """The :class:`~refquant.specs.QuantSpec` that reproduces this backend's operation.

        Parameters
        ----------
        bits : int
            Code width; the backend's supported widths are in :attr:`code_ranges`.
        signed : bool
            Signed (two's complement) or unsigned codes.
        axis : int or None
            ``None`` per tensor; an int for per-channel (or, with *block_size*,
            blocked) quantization along that axis.
        block_size : int or None
            Blocked quantization (ONNX QuantizeLinear opset 21): consecutive
            blocks of ``block_size`` elements along *axis* share a scale.
        narrow_range : bool
            Drop the most negative signed code (or the largest unsigned one).

        Returns
        -------
        QuantSpec

        Raises
        ------
        TypeError
            A parameter of the wrong type.
        ValueError
            Naming the parameter whose value the backend does not support
            (e.g. ``block_size`` for PyTorch, ``narrow_range`` for ONNX), and what it supports.
        """
        bits = check_int(bits, "bits", MIN_BITS, MAX_BITS)
        signed = check_bool(signed, "signed")
        narrow_range = check_bool(narrow_range, "narrow_range")
        if axis is not None:
            axis = check_int(axis, "axis")
        if block_size is not None:
            block_size = check_int(block_size, "block_size", 1)
            if axis is None:
                raise ValueError(f"block_size={block_size} needs axis (the axis the blocks run along); got axis=None")
        if block_size is not None and "blocked" not in self.layouts:
            raise ValueError(
                f"block_size={block_size}: profile {self.name!r} has no blocked quantization "
                f"(layouts: {', '.join(self.layouts)}); use block_size=None"
            )
        if axis is not None and block_size is None and "per_channel" not in self.layouts:
            raise ValueError(
                f"axis={axis}: profile {self.name!r} has no per-channel quantization "
                f"(layouts: {', '.join(self.layouts)}); use axis=None"
            )
        fields = self._spec(self.name, bits, signed, axis, block_size, narrow_range)
        return _make_spec(
            bits=bits, signed=signed, narrow_range=narrow_range, axis=axis, block_size=block_size, **fields
        )

    def specs(self) -> list[QuantSpec]:
        """Every per-tensor :class:`~refquant.specs.QuantSpec` this profile supports.

        The ``(bits, signed, narrow_range)`` combinations, 1 <= bits <= 16, that :meth:`spec` accepts with
        ``axis=None``, in that order. Conformance checkers with ``profile=`` draw from this list (and derive
        the per-channel spec of a case with :meth:`spec` for its axis).

        Returns
        -------
        list of QuantSpec

        Raises
        ------
        None
            Combinations the backend does not take are left out, not raised.
        """
        out = []
        for bits in range(MIN_BITS, MAX_BITS + 1):
            for signed in (True, False):
                for narrow in (False, True):
                    try:
                        out.append(self.spec(bits, signed=signed, narrow_range=narrow))
                    except ValueError:
                        pass
        return out

    def calibrate(self, x, spec: QuantSpec, **options: Any):
        """Scale and zero point as this backend computes them from data.

        Parameters
        ----------
        x : array_like of real numbers
            The data observed (not modified). Finite, non-empty.
        spec : QuantSpec
            The spec (from :meth:`spec`) whose code range and axis are calibrated for.
        **options
            Profile-specific keywords, listed in docs/PROFILES.md: ``symmetric`` (bool)
            for the PyTorch observers; ``min`` / ``max`` (the op's range inputs) for
            ``"tf.fake_quant"`` and ``"tf.fake_quant.args"``. Unknown keywords raise ``TypeError``.

        Returns
        -------
        (scale, zero_point)
            Per tensor: a float32 NumPy scalar and a Python ``int``. Per channel:
            a float32 array and an int64 array, one entry per channel. The
            TensorFlow profiles return float64 scales instead: the quotient
            ``fl64(R / L)`` of the op's float32 range ``R = max - min`` and
            ``L = qmax - qmin``, which rounds to TensorFlow's float32 step and
            carries ``R`` for ``scale_op="range_reciprocal"``.

        Raises
        ------
        TypeError, ValueError
            Naming the parameter (``x``, ``spec``, or the option) and what is allowed.
        """
        if not isinstance(spec, QuantSpec):
            raise TypeError(f"spec must be a refquant.QuantSpec, got type={type(spec).__name__}")
        unknown = sorted(set(options) - set(self._calibrate_options))
        if unknown:
            allowed = ", ".join(self._calibrate_options) or "none"
            raise TypeError(
                f"calibrate() got unexpected option(s) {unknown} for profile {self.name!r}; allowed: {allowed}"
            )
        arr = as_real_array(x, "x")
        return self._calibrate(arr, spec, **options)


# ---------------------------------------------------------------- helpers
def _make_spec(**fields) -> QuantSpec:
    # Knob fields at their default are left out, so a spec equals the one a user writes by hand.
    defaults = {"zero_point_op": "after_round", "reciprocal_dtype": None, "block_size": None, "domain": "code"}
    kwargs = {k: v for k, v in fields.items() if not (k in defaults and v == defaults[k])}
    return QuantSpec(**kwargs)


def _f32(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


def _reduce_minmax(a32: np.ndarray, spec: QuantSpec):
    """Per-tensor or per-channel (along spec.axis) min and max of a float32 array."""
    if getattr(spec, "block_size", None) is not None:
        raise ValueError("spec.block_size is set: this profile's calibration is per tensor or per channel only")
    if spec.axis is None:
        return a32.min(), a32.max()
    if a32.ndim == 0:
        raise ValueError(f"spec.axis={spec.axis} needs x with ndim >= 1, got a 0-d x")
    if not -a32.ndim <= spec.axis < a32.ndim:
        raise ValueError(f"spec.axis={spec.axis} is out of range for x with ndim={a32.ndim}")
    ax = spec.axis % a32.ndim
    red = tuple(i for i in range(a32.ndim) if i != ax)
    return a32.min(axis=red), a32.max(axis=red)


def _finite32(arr: np.ndarray, what: str) -> np.ndarray:
    with np.errstate(over="ignore"):
        a32 = arr.astype(np.float32)
    if not np.all(np.isfinite(a32)):
        raise ValueError(f"x has values that are not finite in float32 ({what} observes float32 data)")
    return a32


def _round_half_away(v):
    """C's ``std::round`` of float32 values: half away from zero, exact (the sum with 0.5 is formed in float64,
    where it is exact; in float32, 0.49999997 + 0.5 would round to 1)."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))


def _out(scale, zp, per_tensor: bool):
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.asarray(zp, dtype=np.int64)
    if per_tensor:
        return scale.reshape(())[()], int(zp.reshape(()))
    return scale, zp


# ---------------------------------------------------------------- ONNX
def _onnx_spec(name, bits, signed, axis, block_size, narrow_range):
    if bits not in (2, 4, 8, 16):
        raise ValueError(
            f"bits={bits}: ONNX QuantizeLinear has int/uint 2 (opset 25), 4 (opset 21), 8 and 16 "
            "(opset 21) outputs; allowed bits: 2, 4, 8, 16"
        )
    if narrow_range:
        raise ValueError(
            "narrow_range=True: ONNX QuantizeLinear saturates to the full range of its output type; "
            "use narrow_range=False"
        )
    return dict(rounding="half_even", scale_op="divide", compute_dtype="float32")


def _onnx_calibrate(arr, spec):
    # onnxruntime/core/util/qmath.h GetQuantizationParameter (the kernel of DynamicQuantizeLinear,
    # onnxruntime/core/providers/cpu/quantization/dynamicquantizelinear.cc), every step in float32:
    #   min = min(min(x), 0); max = max(max(x), 0)
    #   scale = max == min ? 1 : (max - min) / float(qmax - qmin)
    #   zp = RoundHalfToEven(clamp(qmin - min / scale, qmin, qmax))
    if spec.axis is not None or getattr(spec, "block_size", None) is not None:
        raise ValueError(f"spec.axis={spec.axis}: DynamicQuantizeLinear calibrates per tensor only; use axis=None")
    if spec.bits != 8 or spec.narrow_range:
        raise ValueError(
            f"spec has bits={spec.bits}, narrow_range={spec.narrow_range}: DynamicQuantizeLinear "
            "calibrates uint8 (ONNX) or int8 (onnxruntime's kernel) full range only; use QuantSpec(8, ...)"
        )
    a32 = _finite32(arr, "DynamicQuantizeLinear")
    lo = np.minimum(a32.min(), np.float32(0))
    hi = np.maximum(a32.max(), np.float32(0))
    qmin, qmax = np.float32(spec.qmin), np.float32(spec.qmax)
    with np.errstate(
        invalid="ignore", divide="ignore", over="ignore"
    ):  # a range beyond float32 gives scale inf, as in C++
        scale = np.float32(1) if hi == lo else np.float32(np.float32(hi - lo) / np.float32(qmax - qmin))
        initial = np.float32(qmin - np.float32(lo / scale))
    # std::max(qmin, std::min(qmax, initial)) with C++'s comparisons: a NaN (0/0, when the range is so small
    # that the float32 scale underflows to 0) selects qmax, then stays.
    clamped = initial if initial < qmax else qmax
    clamped = clamped if qmin < clamped else qmin
    return _out(scale, np.rint(clamped), True)


# ---------------------------------------------------------------- PyTorch
def _torch_fq_spec(name, bits, signed, axis, block_size, narrow_range):
    return dict(rounding="half_even", scale_op="reciprocal", compute_dtype=None, reciprocal_dtype="float32")


def _torch_q_spec(name, bits, signed, axis, block_size, narrow_range):
    allowed = {
        (8, True): "torch.qint8",
        (8, False): "torch.quint8",
        (4, False): "torch.quint4x2",
        (2, False): "torch.quint2x4",
    }
    if (bits, signed) not in allowed:
        raise ValueError(
            f"bits={bits}, signed={signed}: torch.quantize_per_tensor has qint8 (8, signed), quint8 "
            "(8, unsigned), quint4x2 (4, unsigned), quint2x4 (2, unsigned)"
        )
    if narrow_range:
        raise ValueError(
            "narrow_range=True: torch quantized dtypes saturate to their full range; use narrow_range=False"
        )
    if bits < 8 and axis is not None:
        raise ValueError(
            f"axis={axis}: torch.quantize_per_channel is not implemented for {allowed[(bits, signed)]}; "
            "use axis=None or bits=8"
        )
    if bits < 8:
        zp_op = "after_round"  # the sub-byte kernels round first, then add the zero point
    elif axis is None:
        zp_op = "fused"  # rint(fma(x, 1/s, z)), one rounding of the fused multiply-add
    else:
        zp_op = "before_round"  # rint(fl(x * (1/s)) + z)
    return dict(rounding="half_even", scale_op="reciprocal", compute_dtype="float32", zero_point_op=zp_op)


def _torch_calibrate(arr, spec, symmetric=False):
    # torch/ao/quantization/observer.py, UniformQuantizationObserverBase._calculate_qparams, as used by
    # MinMaxObserver (per tensor) and PerChannelMinMaxObserver (per channel, ch_axis=spec.axis) with
    # quant_min/quant_max passed explicitly (has_customized_qrange=True, as FakeQuantize passes them).
    # Data are converted to float32 (the observer's buffers); every step is a float32 tensor operation.
    symmetric = check_bool(symmetric, "symmetric")
    if spec.qmax <= spec.qmin:
        raise ValueError(
            f"spec has the single code {spec.qmin} (bits={spec.bits}, signed={spec.signed}, "
            f"narrow_range={spec.narrow_range}): the PyTorch observers need quant_min < quant_max"
        )
    a32 = _finite32(arr, "the PyTorch observer")
    lo, hi = _reduce_minmax(a32, spec)
    lo = np.minimum(_f32(lo), np.float32(0))
    hi = np.maximum(_f32(hi), np.float32(0))
    eps = np.finfo(np.float32).eps
    qmin, qmax = spec.qmin, spec.qmax
    if symmetric:
        amax = np.maximum(-lo, hi)
        scale = np.maximum(_f32(amax / np.float32((qmax - qmin) / 2)), eps)
        zp = np.full(np.shape(scale), 0 if spec.signed else (qmin + qmax) // 2, dtype=np.int64)
    else:
        scale = np.maximum(_f32((hi - lo) / np.float32(qmax - qmin)), eps)
        zp = qmin - np.rint(_f32(lo / scale)).astype(np.int64)
        zp = np.clip(zp, qmin, qmax)
    return _out(scale, zp, spec.axis is None)


# ---------------------------------------------------------------- TensorFlow fake_quant
def _tf_spec(name, bits, signed, axis, block_size, narrow_range):
    if bits < 2:
        raise ValueError(f"bits={bits}: tf.quantization.fake_quant_* takes num_bits in [2, 16]")
    if signed:
        raise ValueError(
            "signed=True: TensorFlow's fake_quant works on unsigned codes [0, 2^bits - 1] "
            "([1, 2^bits - 1] with narrow_range); use signed=False"
        )
    if axis is not None and axis != -1:
        raise ValueError(
            f"axis={axis}: fake_quant_with_min_max_vars_per_channel quantizes along the last axis only; "
            "use axis=-1 or None"
        )
    # _vars divides by the nudged scale; _args and _vars_per_channel multiply by inv = (qmax - qmin)/(max - min)
    op = "divide" if (name == "tf.fake_quant" and axis is None) else "range_reciprocal"
    return dict(rounding="floor_plus_half", scale_op=op, compute_dtype="float32", domain="float_centered")


def tf_nudge(lo, hi, qmin: int, qmax: int):
    """TensorFlow's ``Nudge`` (tensorflow/core/kernels/fake_quant_ops_functor.h), in float32.

    Returns ``(nudged_min, nudged_max, scale, inv_scale, nudged_zero_point)`` for
    range inputs ``lo = min``, ``hi = max`` and the op's code range ``[qmin, qmax]``
    (``[0, 2^b - 1]``, or ``[1, 2^b - 1]`` with ``narrow_range``)::

        scale      = (max - min) / (qmax - qmin)
        inv_scale  = (qmax - qmin) / (max - min)        (recomputed, not 1/scale)
        zp_from_min = qmin - min / scale
        nudged_zp  = qmin if zp_from_min < qmin, qmax if > qmax, else round_half_away(zp_from_min)
        nudged_min = (qmin - nudged_zp) * scale;  nudged_max = (qmax - nudged_zp) * scale

    Parameters
    ----------
    lo, hi : float or array_like
        The op's ``min`` and ``max`` inputs (converted to float32).
    qmin, qmax : int
        The op's code range.

    Returns
    -------
    tuple of float32 arrays (and an int64 array for the zero point)
    """
    lo, hi = _f32(lo), _f32(hi)
    qmin_f, qmax_f = np.float32(qmin), np.float32(qmax)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rng = _f32(hi - lo)
        scale = _f32(rng / _f32(qmax_f - qmin_f))
        inv = _f32(_f32(qmax_f - qmin_f) / rng)
        zp_from_min = _f32(qmin_f - _f32(lo / scale))
    away = _round_half_away(zp_from_min)
    zp = np.where(zp_from_min < qmin_f, qmin_f, np.where(zp_from_min > qmax_f, qmax_f, away))
    zp = zp.astype(np.int64)
    nmin = _f32(_f32(qmin_f - zp.astype(np.float32)) * scale)
    nmax = _f32(_f32(qmax_f - zp.astype(np.float32)) * scale)
    return nmin, nmax, scale, inv, zp


_TF_VARIANTS = {
    "args": ("tf.fake_quant.args", None),
    "vars": ("tf.fake_quant", None),
    "per_channel": ("tf.fake_quant", -1),
}


def tf_fake_quant_model(x, min, max, num_bits: int = 8, narrow_range: bool = False, variant: str = "vars"):  # noqa: A002
    """TensorFlow's fake_quant_with_min_max_{args, vars, vars_per_channel} (TensorFlow 2.21), by the profiles.

    A thin composition kept for its callers (golden vectors): the profile's spec and calibration,
    ``refquant.fake_quant(x, *get(p).calibrate(x, spec, min=min, max=max), spec)`` with
    ``p = "tf.fake_quant.args"`` (``variant="args"``) or ``"tf.fake_quant"`` (``"vars"``, per tensor;
    ``"per_channel"``, along the last axis), and TensorFlow's rule that a channel (or tensor) with
    ``min == max == 0`` gives zeros. Values beyond the float32 range saturate to the nudged range.

    Parameters
    ----------
    x : array_like of float
        The input, as float32 values (TensorFlow's op takes float32).
    min, max : float or 1-D array
        The range ``[min, max]`` (``min <= 0 <= max``), or 1-D arrays over the last axis for
        ``variant="per_channel"``; nudged as TensorFlow does.
    num_bits : int
        In ``[2, 16]``.
    narrow_range : bool
        Codes ``[1, 2^b - 1]`` instead of ``[0, 2^b - 1]``.
    variant : {"args", "vars", "per_channel"}
        ``fake_quant_with_min_max_args``, ``_vars`` (per tensor) or ``_vars_per_channel``.

    Returns
    -------
    numpy.ndarray of float32, shape of ``x``

    Raises
    ------
    TypeError, ValueError
        A bad *num_bits*, *narrow_range*, *variant*, range (the op needs ``min <= 0 <= max``, ``min < max``
        outside all-zero channels) or *x* (NaN or inf).
    """
    from .uniform import fake_quant

    num_bits = check_int(num_bits, "num_bits", 2, 16)
    narrow_range = check_bool(narrow_range, "narrow_range")
    if variant not in _TF_VARIANTS:
        raise ValueError(f"variant={variant!r}; allowed: 'args', 'vars', 'per_channel'")
    with np.errstate(over="ignore"):
        a = as_real_array(x, "x").astype(np.float32)
    lo, hi = _f32(as_real_array(min, "min")), _f32(as_real_array(max, "max"))
    name, axis = _TF_VARIANTS[variant]
    prof = get(name)
    spec = prof.spec(num_bits, signed=False, narrow_range=narrow_range, axis=axis)
    zero = (lo == 0) & (hi == 0)
    if variant == "args" and np.any(zero):
        raise ValueError("min=max=0: fake_quant_with_min_max_args requires min < max")
    lo1, hi1 = np.where(zero, np.float32(0), lo), np.where(zero, np.float32(1), hi)
    s, z = _tf_range_params(lo1, hi1, spec)
    y = fake_quant(a, s, z, spec, nonfinite="saturate")
    return np.where(zero, np.float32(0), y).astype(np.float32)


def _tf_range_params(lo, hi, spec):
    """(scale, zero point) of TensorFlow's Nudge for the op's range inputs, in refquant's conventions.

    The scale is the float64 quotient ``fl64(R / L)`` of the float32 range ``R = fl32(max - min)`` and
    ``L = qmax - qmin``: it rounds to TensorFlow's float32 step ``fl32(R / L)`` (a double rounding of a quotient
    of float32 numbers is innocuous) and carries ``R`` exactly for ``scale_op="range_reciprocal"``.
    """
    # The op's code range: [0, 2^b - 1], or [1, 2^b - 1] with narrow_range. refquant's unsigned narrow
    # range is [0, 2^b - 2], the same grid shifted by one code, so the zero point is shifted back by one.
    qmin = 1 if spec.narrow_range else 0
    qmax = (1 << spec.bits) - 1
    lo, hi = _f32(lo), _f32(hi)
    if not np.all(lo < hi) or not np.all(lo <= 0) or not np.all(hi >= 0):
        raise ValueError(f"min={short_repr(lo)}, max={short_repr(hi)}: the op requires min <= 0 <= max and min < max")
    _, _, step32, _, zp = tf_nudge(lo, hi, qmin, qmax)
    with np.errstate(over="ignore"):
        rng = _f32(hi - lo)
    if not (np.all(np.isfinite(rng)) and np.all(step32 >= np.finfo(np.float32).tiny)):
        raise ValueError(
            f"min={short_repr(lo)}, max={short_repr(hi)}: max - min must be finite in float32 and give a step "
            f"(max - min)/{qmax - qmin} of at least {np.finfo(np.float32).tiny} (the smallest normal float32)"
        )
    scale = rng.astype(np.float64) / float(qmax - qmin)
    if spec.narrow_range:
        zp = zp - 1
    return scale, zp


def _tf_calibrate(arr, spec, min=None, max=None):  # noqa: A002 - the op's own argument names
    a32 = _finite32(arr, "fake_quant")
    if (min is None) != (max is None):
        raise ValueError("min and max must be given together (the op's range inputs) or both left None")
    if min is None:
        lo, hi = _reduce_minmax(a32, spec)
    else:
        lo = as_real_array(min, "min")
        hi = as_real_array(max, "max")
        shape = () if spec.axis is None else (a32.shape[-1] if a32.ndim else 0,)
        for name, v in (("min", lo), ("max", hi)):
            if v.shape not in ((), (1,)) if spec.axis is None else v.shape != shape:
                raise ValueError(
                    f"{name} has shape {v.shape}; expected a scalar (per tensor) or one value per "
                    f"channel of the last axis {shape} (per channel)"
                )
        lo, hi = (
            _f32(lo).reshape(np.shape(lo) if spec.axis is not None else ()),
            _f32(hi).reshape(np.shape(hi) if spec.axis is not None else ()),
        )
    scale, zp = _tf_range_params(lo, hi, spec)
    if spec.axis is None:
        return np.float64(scale.reshape(())[()]), int(zp.reshape(()))
    return scale.astype(np.float64), zp.astype(np.int64)


# ---------------------------------------------------------------- TFLite
def _tflite_spec(name, bits, signed, axis, block_size, narrow_range):
    if (bits, signed) not in ((8, True), (8, False), (16, True)):
        raise ValueError(f"bits={bits}, signed={signed}: TFLite QUANTIZE outputs int8, uint8 or int16")
    if narrow_range:
        raise ValueError("narrow_range=True: TFLite QUANTIZE saturates to the full range of its output type")
    if name == "tflite.reference":
        return dict(rounding="half_away", scale_op="divide", compute_dtype="float32")
    return dict(rounding="half_even", scale_op="reciprocal", compute_dtype="float32")


_TFLITE_NEAR_ZERO = 1.0e-6  # kNearZeroTolerance of the converter's quantization_utils.cc
_FLT_MIN = float(np.finfo(np.float32).tiny)


def _tflite_calibrate(arr, spec):
    # The TFLite converter (MLIR quantizer, legacy_float_scale=True) from the calibrator's statistics:
    #   tensorflow/lite/tools/optimize/calibration/calibration_logger.h MinMax::Update: min, max of the data (float32);
    #   tensorflow/compiler/mlir/lite/quantization (ConvertStatsToQDQs): rmin = min(min, 0), rmax = max(max, 0);
    #     16-bit activations are symmetric: rmax = max(|rmin|, |rmax|), rmin = -rmax, codes [-32767, 32767];
    #     rmax is at least the smallest normal float32 (measured on the TensorFlow 2.21 converter: all-zero data
    #     gives the scale FLT_MIN / 32767);
    #   a range of at most 1e-6 (kNearZeroTolerance, compared in double) is widened by 1e-6 on both sides
    #     (8-bit codes; measured against the TensorFlow 2.21 converter, which does not widen 16-bit ranges);
    #   quantization_utils.cc DownCastScale (float32 steps): scale = (float(rmax) - float(rmin)) / (qmax - qmin)
    #     in float32; asymmetric codes: zero_point_from_min = float(qmin - rmin / scale) (the quotient in double),
    #     qmin / qmax if below / above, else std::round (half away from zero); symmetric codes: zero point 0.
    # int8 codes [-128, 127]; uint8 output is the int8 tensor requantized by QUANTIZE at an equal scale (z + 128).
    if spec.axis is not None:
        raise ValueError(f"spec.axis={spec.axis}: the converter calibrates activations per tensor; use axis=None")
    _tflite_spec("tflite", spec.bits, spec.signed, None, None, spec.narrow_range)
    a32 = _finite32(arr, "the TFLite calibrator")
    rmin = min(float(a32.min()), 0.0)
    rmax = max(float(a32.max()), 0.0)
    if spec.bits == 16:
        rmax = max(abs(rmin), abs(rmax), _FLT_MIN)  # (measured: never below the smallest normal float32)
        rmin = -rmax
        qmin, qmax = -32767, 32767
    else:
        qmin, qmax = -128, 127
    if spec.bits == 8 and not rmax - rmin > _TFLITE_NEAR_ZERO:
        rmin, rmax = rmin - _TFLITE_NEAR_ZERO, rmax + _TFLITE_NEAR_ZERO
    with np.errstate(over="ignore", under="ignore"):
        scale = np.float32(np.float32(np.float32(rmax) - np.float32(rmin)) / np.float32(qmax - qmin))
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"x spans [{rmin!r}, {rmax!r}]: the float32 scale (max - min)/{qmax - qmin} is not finite")
    if qmax == -qmin:
        zp = 0
    else:
        zfm = np.float32(qmin - rmin / float(scale))
        if zfm < qmin:
            zp = qmin
        elif zfm > qmax:
            zp = qmax
        else:
            zp = int(_round_half_away(zfm))
    if spec.bits == 8 and not spec.signed:
        zp += 128
    return scale, zp


def _no_calibrate(name):
    def calibrate(arr, spec):
        raise ValueError(
            f"profile {name!r} has no calibration of its own (the operation takes scale and zero point "
            "as inputs); use refquant.calibrate_minmax or another profile's calibrate"
        )

    return calibrate


# ---------------------------------------------------------------- JAX
def _jax_spec(name, bits, signed, axis, block_size, narrow_range):
    return dict(rounding="half_even", scale_op="reciprocal", compute_dtype="float32")


# ---------------------------------------------------------------- the registry
_PROFILES: dict[str, Profile] = {}


def _register(p: Profile) -> None:
    _PROFILES[p.name] = p


def names() -> tuple[str, ...]:
    """Names of every profile, sorted. Computations no profile expresses are in :data:`NOT_EXPRESSIBLE`.

    Returns
    -------
    tuple of str

    Raises
    ------
    None
    """
    return tuple(sorted(_PROFILES))


def get(name: str) -> Profile:
    """The profile called *name*.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    Profile

    Raises
    ------
    TypeError
        *name* is not a string.
    ValueError
        Unknown *name* (the message lists the allowed names).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got name={short_repr(name)} (type={type(name).__name__})")
    if name not in _PROFILES:
        raise ValueError(f"name={name!r} is not a known profile; allowed: {', '.join(repr(n) for n in names())}")
    return _PROFILES[name]


def _evidence() -> dict:
    """Versions and case counts of the last backend-suite run (refquant/_profile_evidence.py, written by the suite)."""
    try:
        from ._profile_evidence import EVIDENCE
    except ImportError:  # never run yet
        return {}
    return EVIDENCE


_EVIDENCE = _evidence()


def _ev(name: str) -> dict:
    e = _EVIDENCE.get(name, {})
    return dict(versions=tuple(sorted(e.get("versions", {}).items())), cases=int(e.get("cases", 0)))


_register(
    Profile(
        name="onnx",
        title=(
            "ONNX QuantizeLinear / DequantizeLinear (onnxruntime CPU and onnx.reference), "
            "DynamicQuantizeLinear's calibration"
        ),
        operations=(
            "QuantizeLinear (opsets 13, 21, 25)",
            "DequantizeLinear",
            "QuantizeLinear -> DequantizeLinear",
            "DynamicQuantizeLinear (calibration)",
        ),
        equation="q = saturate(round_half_even(fl32(x / s)) + z); y = fl32((q - z) * s)",
        layouts=("per_tensor", "per_channel", "blocked"),
        code_ranges="int/uint 2 (opset 25), 4, 8, 16 (opset 21); full range only (no narrow range)",
        calibration=(
            "DynamicQuantizeLinear: onnxruntime/core/util/qmath.h GetQuantizationParameter, float32: range "
            "widened to include 0, scale = (max - min)/(qmax - qmin) (1 for an all-zero range), "
            "zp = round_half_even(clamp(qmin - min/scale))"
        ),
        needs_calibration=False,
        divergences=(),
        _spec=_onnx_spec,
        _calibrate=_onnx_calibrate,
        **_ev("onnx"),
    )
)

_register(
    Profile(
        name="torch.fake_quantize",
        title="torch.fake_quantize_per_tensor_affine / _per_channel_affine, torch.ao.quantization.FakeQuantize with "
        "MinMaxObserver / PerChannelMinMaxObserver",
        operations=(
            "torch.fake_quantize_per_tensor_affine",
            "torch.fake_quantize_per_channel_affine",
            "torch.ao.quantization.FakeQuantize (MinMaxObserver, PerChannelMinMaxObserver)",
            "MinMaxObserver / PerChannelMinMaxObserver.calculate_qparams (calibration)",
        ),
        equation=(
            "q = clamp(round_half_even(x * fl32(1/s)) + z); y = (q - z) * s; the product in the input's dtype "
            "(float32, or float64 for double tensors), the reciprocal always rounded to float32"
        ),
        layouts=("per_tensor", "per_channel"),
        code_ranges=(
            "any [quant_min, quant_max] containing the zero point: bits 1..16, signed or unsigned, narrow or full"
        ),
        calibration=(
            "torch/ao/quantization/observer.py UniformQuantizationObserverBase._calculate_qparams in float32: "
            "range widened to include 0; affine: scale = max((max - min)/(qmax - qmin), eps32), "
            "zp = clamp(qmin - round_half_even(min/scale)); symmetric: scale = max(amax/((qmax - qmin)/2), "
            "eps32), zp = 0 (signed) or (qmin + qmax)//2 (unsigned)"
        ),
        needs_calibration=False,
        divergences=(
            "fake_quantize_per_channel_affine wraps (a 64-bit integer cast) instead of saturating when |x/s| >= 2^63",
        ),
        _spec=_torch_fq_spec,
        _calibrate=_torch_calibrate,
        _calibrate_options=("symmetric",),
        **_ev("torch.fake_quantize"),
    )
)

_register(
    Profile(
        name="torch.quantize",
        title="torch.quantize_per_tensor / quantize_per_channel + int_repr (and dequantize)",
        operations=(
            "torch.quantize_per_tensor(...).int_repr()",
            "torch.quantize_per_channel(...).int_repr()",
            "Tensor.dequantize()",
            "MinMaxObserver / PerChannelMinMaxObserver.calculate_qparams (calibration)",
        ),
        equation=(
            "qint8/quint8 per tensor: q = clamp(round_half_even(fma(x, fl32(1/s), z))) (one rounding of the fused "
            "multiply-add); per channel: q = clamp(round_half_even(fl32(fl32(x * fl32(1/s)) + z))); quint4x2 / "
            "quint2x4: q = clamp(round_half_even(fl32(x * fl32(1/s))) + z); float32 input only"
        ),
        layouts=("per_tensor", "per_channel"),
        code_ranges=(
            "qint8 (8, signed), quint8 (8, unsigned), quint4x2 (4, unsigned), quint2x4 (2, unsigned); full range"
        ),
        calibration="as torch.fake_quantize (the same observers)",
        needs_calibration=False,
        divergences=("quint4x2 / quint2x4 wrap instead of saturating when |x/s| >= 2^63",),
        _spec=_torch_q_spec,
        _calibrate=_torch_calibrate,
        _calibrate_options=("symmetric",),
        **_ev("torch.quantize"),
    )
)

_TF_CALIBRATION = (
    "tensorflow/core/kernels/fake_quant_ops_functor.h Nudge in float32: scale = (max - min)/(qmax - qmin), "
    "zp = round_half_away(qmin - min/scale) clamped, nudged_min/max = (qmin/qmax - zp) * scale; returned as the "
    "float64 scale (max - min)/(qmax - qmin) of the float32 range (it rounds to the float32 step and carries the "
    "range that inv = (qmax - qmin)/(max - min) is computed from) and the zero point in refquant's grid "
    "(narrow range: TensorFlow's code minus 1)"
)

# what the two TensorFlow profiles share: Nudge as the calibration (min/max are the op's inputs), no divergence
_TF_COMMON = dict(
    calibration=_TF_CALIBRATION,
    needs_calibration=True,
    divergences=(),
    _spec=_tf_spec,
    _calibrate=_tf_calibrate,
    _calibrate_options=("min", "max"),
)

_register(
    Profile(
        name="tf.fake_quant",
        title="tf.quantization.fake_quant_with_min_max_vars (per tensor) / _vars_per_channel (nudged range)",
        operations=(
            "tf.quantization.fake_quant_with_min_max_vars",
            "tf.quantization.fake_quant_with_min_max_vars_per_channel",
            "Nudge (calibration)",
        ),
        equation=(
            "(nudged_min, nudged_max, s, inv) = Nudge(min, max); quant_zero = floor(-nudged_min * inv + 0.5) "
            "(= z - qmin exactly); w = clamp(x, nudged_min, nudged_max) - nudged_min; v = w / s (vars) or w * inv "
            "(vars_per_channel); y = floor((v - quant_zero) + 0.5) * s, every operation in float32. The spec: "
            "domain='float_centered', rounding='floor_plus_half', scale_op='divide' (per tensor) or "
            "'range_reciprocal' (per channel), with scale and zero point from calibrate(x, spec, min=, max=)"
        ),
        layouts=("per_tensor", "per_channel"),
        code_ranges=(
            "num_bits 2..16 on unsigned codes [0, 2^b - 1]; narrow_range [1, 2^b - 1]; per channel on the last axis"
        ),
        **_TF_COMMON,
        **_ev("tf.fake_quant"),
    )
)

_register(
    Profile(
        name="tf.fake_quant.args",
        title="tf.quantization.fake_quant_with_min_max_args (range as attributes; multiplies by inv)",
        operations=("tf.quantization.fake_quant_with_min_max_args", "Nudge (calibration)"),
        equation=(
            "as tf.fake_quant per channel, per tensor: v = (clamp(x, nudged_min, nudged_max) - nudged_min) * inv, "
            "inv = (qmax - qmin)/(max - min) from the un-nudged range; y = floor((v - quant_zero) + 0.5) * s. The "
            "spec: domain='float_centered', rounding='floor_plus_half', scale_op='range_reciprocal'"
        ),
        layouts=("per_tensor",),
        code_ranges="num_bits 2..16 on unsigned codes [0, 2^b - 1]; narrow_range [1, 2^b - 1]",
        **_TF_COMMON,
        **_ev("tf.fake_quant.args"),
    )
)

_register(
    Profile(
        name="tflite",
        title=(
            "TFLite QUANTIZE float32 -> int8/uint8/int16 as the default interpreter runs it (XNNPACK, builtin "
            "optimized kernels), and the converter's activation calibration"
        ),
        operations=("QUANTIZE (XNNPACK delegate)", "QUANTIZE (builtin kernels without delegates)"),
        equation="q = clamp(round_half_even(fl32(x * fl32(1/s))) + z)",
        layouts=("per_tensor",),
        code_ranges="int8, uint8, int16 (full range)",
        calibration=(
            "the TFLite converter's activation qparams from the calibrator's min/max (MLIR quantizer, "
            "tensorflow/compiler/mlir/lite/quantization quantization_utils.cc DownCastScale): "
            "range widened to include 0 (8 bits: a range <= 1e-6 widened by 1e-6 on both sides; 16 bits: symmetric, "
            "max(|min|, |max|, FLT_MIN), codes [-32767, 32767], zero point 0), "
            "scale = fl32(fl32(max) - fl32(min)) / (qmax - qmin) in float32, "
            "zp = round_half_away(fl32(qmin - min/scale)) clamped; uint8: the int8 zero point + 128"
        ),
        needs_calibration=False,
        divergences=(),
        _spec=_tflite_spec,
        _calibrate=_tflite_calibrate,
        **_ev("tflite"),
    )
)

_register(
    Profile(
        name="tflite.reference",
        title="TFLite QUANTIZE as the reference kernels compute it (OpResolverType.BUILTIN_REF)",
        operations=("QUANTIZE (reference kernels)",),
        equation="q = clamp(round_half_away(fl32(x / s)) + z)  (TfLiteRound = std::round)",
        layouts=("per_tensor",),
        code_ranges="int8, uint8, int16 (full range)",
        calibration="none: the converter's calibration fixes the scale; QUANTIZE takes it as a tensor parameter",
        needs_calibration=False,
        divergences=(),
        _spec=_tflite_spec,
        _calibrate=_no_calibrate("tflite.reference"),
        **_ev("tflite.reference"),
    )
)

_register(
    Profile(
        name="jax",
        title=(
            "JAX under jax.jit: jnp.clip(jnp.round(x * (1 / s)) + z, qmin, qmax) (the reciprocal form; see "
            "NOT_EXPRESSIBLE for x / s)"
        ),
        operations=("jnp.round(x * (1 / s)) under jax.jit",),
        equation="q = clamp(round_half_even(fl32(x * fl32(1/s))) + z)",
        layouts=("per_tensor", "per_channel"),
        code_ranges="any (the code range is the clip bounds)",
        calibration="none: JAX has no quantization op of its own",
        needs_calibration=False,
        divergences=(),
        _spec=_jax_spec,
        _calibrate=_no_calibrate("jax"),
        **_ev("jax"),
    )
)
