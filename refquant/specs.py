"""Frozen specification objects.

A *spec* says what grid a quantizer uses and how it rounds; it never holds
data-dependent values such as a scale (those are arguments, chosen by
calibration or by clipping theory). Specs are frozen, hashable dataclasses,
validated in ``__post_init__`` and round-trippable through JSON with
:meth:`QuantSpec.to_dict` / :meth:`QuantSpec.from_dict`, so golden vectors
can carry them.

The in-memory-computing specs :class:`ADCSpec` and :class:`CrossbarSpec`
(used by :mod:`refquant.imc`, which re-exports them) follow the same pattern:
frozen, validated field by field, ``to_dict`` with a ``"type"`` tag and
``from_dict`` rejecting unknown keys.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import MAX_BITS, MIN_BITS, check_bool, check_choice, check_enum, check_int, check_real, short_repr

__all__ = [
    "Rounding",
    "ScaleOp",
    "ZeroPointOp",
    "Domain",
    "QuantSpec",
    "ADCSpec",
    "CrossbarSpec",
    "MIN_BITS",
    "MAX_BITS",
]

# MIN_BITS / MAX_BITS (1, 16): the shared bit-width range, declared once in refquant._validate.


class Rounding(str, enum.Enum):
    """Rounding mode applied to ``v = x / s`` (or ``x * (1/s)``) (``QuantSpec.rounding``).

    Attributes
    ----------
    HALF_EVEN, HALF_AWAY, HALF_UP, FLOOR, STOCHASTIC, FLOOR_PLUS_HALF : Rounding
        The modes, with values ``"half_even"``, ``"half_away"``, ``"half_up"``, ``"floor"``,
        ``"stochastic"``, ``"floor_plus_half"`` (each documented below). A ``str`` enum: the value string
        is accepted wherever a member is.

    The modes ``half_even``, ``half_away``, ``half_up`` and ``floor`` are
    exact (no intermediate rounding): ties are detected exactly on the
    computed ``v``. ``floor_plus_half`` is the one mode with an intermediate
    rounding, on purpose: it reproduces runtimes that compute
    ``floor(v + 0.5)`` in floating point (which rounds float32
    0.49999997 and float64 0.49999999999999994 *up*, to 1).
    """

    HALF_EVEN = "half_even"
    """Nearest integer, ties to the even neighbour (IEEE 754 default; NumPy ``rint``, PyTorch, ONNX)."""
    HALF_AWAY = "half_away"
    """Nearest integer, ties away from zero (C ``round``; -2.5 -> -3, 2.5 -> 3)."""
    HALF_UP = "half_up"
    """Nearest integer, ties toward +infinity (-2.5 -> -2, 2.5 -> 3)."""
    FLOOR = "floor"
    """Largest integer <= v (not round-to-nearest: error up to one step)."""
    STOCHASTIC = "stochastic"
    """``floor(v) + 1`` with probability ``v - floor(v)``, else ``floor(v)``; needs an explicit ``rng``."""
    FLOOR_PLUS_HALF = "floor_plus_half"
    """``floor(fl(v + 0.5))``: the addition is rounded to the compute dtype, then floored (TensorFlow's
    ``fake_quant_*`` and ``quantize_and_dequantize``). Equals ``half_up`` except where ``v + 0.5`` is not
    representable and its rounding reaches the next integer: float32 ``v = 0.49999997`` (``0.5 - 2^-25``) gives
    1 where ``half_up`` gives 0 (float64: ``0.49999999999999994``), and float32 odd integers
    ``v >= 2^23`` give ``v + 1`` (the sum ties to even)."""

    def __repr__(self) -> str:  # so that repr(QuantSpec(...)) is valid constructor code
        return repr(self.value)


class ScaleOp(str, enum.Enum):
    """How the scale is applied before rounding (``QuantSpec.scale_op``).

    Attributes
    ----------
    DIVIDE, RECIPROCAL, RANGE_RECIPROCAL : ScaleOp
        Values ``"divide"``, ``"reciprocal"``, ``"range_reciprocal"`` (each documented below).
    """

    DIVIDE = "divide"
    """``v = x / s`` with one correctly rounded division (ONNX QuantizeLinear)."""
    RECIPROCAL = "reciprocal"
    """``v = x * r`` with ``r = 1 / s`` rounded once to the compute dtype (PyTorch fake-quantize)."""
    RANGE_RECIPROCAL = "range_reciprocal"
    """``v = x * r`` with the reciprocal of the *range* the scale came from: ``L = qmax - qmin``,
    ``R = fl(fl64(s_in·L))`` (``s_in`` the scale as passed, before its rounding to the compute dtype),
    ``r = fl(L / R)`` (TensorFlow's ``inv_scale = (quant_max - quant_min) / (max - min)`` in
    ``fake_quant_with_min_max_args`` and ``_vars_per_channel``, which is not ``fl(1/s)`` on about a quarter of
    ranges). A float64 scale ``fl64(R/L)`` carries ``R`` exactly (``fl32(fl64(fl64(R/L)·L)) = R``) and rounds to
    the float32 step ``fl32(R/L)``; ``refquant.profiles.get("tf.fake_quant").calibrate`` returns such scales.
    Needs at least two codes (``qmax > qmin``)."""

    def __repr__(self) -> str:
        return repr(self.value)


class ZeroPointOp(str, enum.Enum):
    """Where the zero point ``z`` enters the quantize equation (``QuantSpec.zero_point_op``).

    Attributes
    ----------
    AFTER_ROUND, BEFORE_ROUND, FUSED : ZeroPointOp
        Values ``"after_round"``, ``"before_round"``, ``"fused"`` (each documented below).
    """

    AFTER_ROUND = "after_round"
    """``q = clamp(round(x ⊘ s) + z)``: ``z`` added to the rounded integer, exactly (ONNX QuantizeLinear,
    PyTorch ``fake_quantize_*``, TFLite). The default."""
    BEFORE_ROUND = "before_round"
    """``q = clamp(round(fl(x ⊘ s + z)))``: ``z`` added to ``v = x ⊘ s`` and the sum rounded once to the
    compute dtype before the rounding mode applies (PyTorch ``quantize_per_channel``). x = 0.5, s = 1, z = 1
    gives 2 with half-even (``after_round`` gives 1)."""
    FUSED = "fused"
    """``q = clamp(round(fma(x, r, z)))`` with ``r = fl(1/s)``: ``x·r + z`` computed exactly and rounded once to
    the compute dtype (a correctly rounded fused multiply-add; PyTorch ``quantize_per_tensor``). Needs
    ``scale_op="reciprocal"``."""

    def __repr__(self) -> str:
        return repr(self.value)


class Domain(str, enum.Enum):
    """Shape of the equation (``QuantSpec.domain``): where the clamp and the zero point act.

    Attributes
    ----------
    CODE, FLOAT_SHIFTED, FLOAT_CENTERED : Domain
        Values ``"code"``, ``"float_shifted"``, ``"float_centered"`` (each documented below).
    """

    CODE = "code"
    """The clamp acts on integer codes and ``z`` is added to them:
    ``q = clamp(round(x ⊘ s) + z, qmin, qmax)``, ``y = (q - z)·s``. The default."""
    FLOAT_SHIFTED = "float_shifted"
    """The clamp acts on ``x`` in the float domain and the grid is shifted by its nudged minimum
    ``lo = fl((qmin - z)·s)``, ``hi = fl((qmax - z)·s)``:
    ``k = round((clamp(x, lo, hi) - lo) ⊘ s)``, ``q = clamp(k + qmin, qmin, qmax)``,
    ``y = fl(fl((q - qmin)·s) + lo)``: the formula often given for TensorFlow's ``fake_quant_with_min_max_*``
    (``floor((clamp(x) - nudged_min)/s + 0.5)·s + nudged_min``); TensorFlow 2.21 computes ``FLOAT_CENTERED``.
    Every subtraction, product and sum is rounded to the compute dtype."""
    FLOAT_CENTERED = "float_centered"
    """The clamp acts on ``x`` in the float domain, the grid is shifted by ``lo = fl((qmin - z)·s)`` and the
    shifted value is re-centred on the zero code before the rounding:
    ``k = round(fl(fl(fl(clamp(x, lo, hi) - lo) ⊘ s) - (z - qmin)))``, ``q = clamp(k + z, qmin, qmax)``,
    ``y = fl((q - z)·s)`` (TensorFlow 2.x ``fake_quant_with_min_max_args/vars/vars_per_channel``:
    ``floor(fl(fl(fl(clamp(x) - nudged_min)·inv) - quant_zero) + 0.5))·s``, whose ``quant_zero`` is exactly
    ``z - qmin``). ``z - qmin`` is an exact integer; every other operation is rounded to the compute dtype."""

    def __repr__(self) -> str:
        return repr(self.value)


_COMPUTE_DTYPES = {"float32": np.float32, "float64": np.float64}


def _normalize_compute_dtype(value: Any, name: str = "compute_dtype") -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in _COMPUTE_DTYPES:
        return value
    try:
        dt = np.dtype(value)
    except TypeError:
        dt = None
    if dt is not None and dt in (np.dtype(np.float32), np.dtype(np.float64)) and not isinstance(value, str):
        return dt.name
    raise ValueError(
        f"{name}={short_repr(value)} is not allowed; use None, 'float32', 'float64', np.float32 or np.float64"
    )


@dataclass(frozen=True)
class QuantSpec:
    r"""The integer grid and rounding rule of a uniform affine quantizer.

    The one equation, for an element ``x`` with scale ``s > 0`` and integer
    zero point ``z`` (docs/SEMANTICS.md is the full contract; every operation
    is an IEEE operation of the compute dtype, ``fl(.)`` marks a rounding to
    it)::

        r      = fl(1 / fl_rd(s))  (reciprocal only; fl_rd = rounding to reciprocal_dtype)
               = fl(L / fl(s·L))   (range_reciprocal; L = qmax - qmin, s·L from the scale as passed)
        x ⊘ s  = fl(x / s)                 scale_op="divide"
               = fl(x · r)                 scale_op="reciprocal" or "range_reciprocal"

        domain="code":
          after_round   q = clamp(round(x ⊘ s) + z)
          before_round  q = clamp(round(fl(x ⊘ s + z)))
          fused         q = clamp(round(fma(x, r, z)))        (one rounding of x·r + z)
          y = fl((q - z) · s)
        domain="float_shifted":
          lo = fl((qmin - z)·s),  hi = fl((qmax - z)·s)
          k  = round(fl(clamp(x, lo, hi) - lo) ⊘ s),  q = clamp(k + qmin)
          y  = fl(fl((q - qmin)·s) + lo)
        domain="float_centered":
          lo, hi as above
          k  = round(fl(fl(fl(clamp(x, lo, hi) - lo) ⊘ s) - (z - qmin))),  q = clamp(k + z)
          y  = fl((q - z)·s)

    ``clamp`` is to ``[qmin, qmax]``; ``round`` is the rounding mode.

    Parameters
    ----------
    bits : int
        Code width, 1 <= bits <= 16.
    signed : bool
        Signed codes (two's-complement range) or unsigned codes.
    narrow_range : bool
        Drop the most negative signed code (``[-2^(b-1)+1, 2^(b-1)-1]``, e.g.
        [-127, 127]) or, for unsigned codes, the largest one
        (``[0, 2^b-2]``, as Brevitas; TensorFlow instead uses ``[1, 2^b-1]``
        for unsigned narrow range, which is the same grid shifted by one code:
        use ``z - 1``). Signed narrow range needs ``bits >= 2``.
    axis : int or None
        ``None``: one scale and zero point for the whole tensor. An int:
        per-channel quantization along that axis of ``x`` (negative values
        count from the end), with 1-D scale / zero-point arrays of length
        ``x.shape[axis]``; or, with *block_size*, blocked quantization along
        that axis.
    rounding : {"half_even", "half_away", "half_up", "floor", "stochastic", "floor_plus_half"}
        See :class:`Rounding`. Default "half_even".
    scale_op : {"divide", "reciprocal", "range_reciprocal"}
        See :class:`ScaleOp`. Default "divide". ``"range_reciprocal"`` needs
        ``qmax > qmin``.
    compute_dtype : None, "float32", "float64", np.float32 or np.float64
        Floating-point type every operation is done in. ``None``: float32
        for float32 input, float64 for anything else. Stored as the string
        name (or ``None``).
    zero_point_op : {"after_round", "before_round", "fused"}
        Where ``z`` enters (:class:`ZeroPointOp`). Default "after_round".
        ``"fused"`` needs ``scale_op="reciprocal"``; the float domains
        (``"float_shifted"``, ``"float_centered"``) need ``"after_round"``
        (their zero point acts through ``lo``).
    reciprocal_dtype : None, "float32", "float64", np.float32 or np.float64
        The dtype the reciprocal is computed and rounded in: the scale (already
        in the compute dtype) is rounded to it and ``1 / s`` is one IEEE
        division there; the result is then converted to the compute dtype for
        the product. ``None`` (default): the compute dtype. Only meaningful with
        ``scale_op="reciprocal"`` (``ValueError`` otherwise). float32 with a
        float64 compute dtype is PyTorch on float64 input (float64 product,
        float32 reciprocal). float64 with a float32 compute dtype gives the
        same bits as ``None``: ``fl32(fl64(1/s)) = fl32(1/s)`` because a
        double rounding of a quotient is innocuous when the wide precision is
        at least ``2p + 2`` bits (53 >= 2·24 + 2; Figueroa, "When is double
        rounding innocuous?", SIGNUM Newsletter 30(3), 1995).
    block_size : int or None
        ``None`` (default): per tensor or per channel as *axis* says. An int
        ``B >= 1``: blocked quantization along *axis* (required), with ONNX
        QuantizeLinear/DequantizeLinear (opset 21) semantics: scale and zero
        point have ``x``'s shape with dimension ``axis`` replaced by
        ``ceil(x.shape[axis] / B)``; element ``i`` along the axis uses block
        ``i // B`` (the last block may be partial), at the same index on every
        other axis.
    domain : {"code", "float_shifted", "float_centered"}
        Shape of the equation (:class:`Domain`). Default "code".

    Raises
    ------
    TypeError
        A field of the wrong type (e.g. ``bits=8.0``, ``signed=1``).
    ValueError
        A field out of range or an unknown string, naming the field:
        ``zero_point_op="fused"`` without ``scale_op="reciprocal"``,
        *reciprocal_dtype* without ``scale_op="reciprocal"``, ``block_size < 1``
        or *block_size* without *axis*, a float domain with a
        *zero_point_op* other than "after_round", signed narrow range with
        ``bits=1``, ``scale_op="range_reciprocal"`` on a single-code grid.

    Notes
    -----
    Code ranges (``qmin``, ``qmax``)::

        signed,   full   : [-2^(b-1),   2^(b-1) - 1]
        signed,   narrow : [-2^(b-1)+1, 2^(b-1) - 1]
        unsigned, full   : [0,          2^b - 1]
        unsigned, narrow : [0,          2^b - 2]

    ``code_dtype`` is the smallest NumPy integer type holding that range:
    int8/uint8 for bits <= 8, int16/uint16 for bits <= 16.

    Examples
    --------
    >>> QuantSpec(8).qmin, QuantSpec(8).qmax
    (-128, 127)
    >>> QuantSpec(8, narrow_range=True).qmin
    -127
    >>> QuantSpec(4, signed=False).qmax, QuantSpec(4, signed=False).code_dtype
    (15, dtype('uint8'))
    >>> QuantSpec(4, axis=1, block_size=32).block_size
    32
    """

    bits: int
    signed: bool = True
    narrow_range: bool = False
    axis: int | None = None
    rounding: Rounding = Rounding.HALF_EVEN
    scale_op: ScaleOp = ScaleOp.DIVIDE
    compute_dtype: str | None = None
    zero_point_op: ZeroPointOp = ZeroPointOp.AFTER_ROUND
    reciprocal_dtype: str | None = None
    block_size: int | None = None
    domain: Domain = Domain.CODE

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "bits", check_int(self.bits, "bits", MIN_BITS, MAX_BITS))
        set_(self, "signed", check_bool(self.signed, "signed"))
        set_(self, "narrow_range", check_bool(self.narrow_range, "narrow_range"))
        if self.axis is not None:
            set_(self, "axis", check_int(self.axis, "axis"))
        set_(self, "rounding", check_enum(self.rounding, Rounding, "rounding"))
        set_(self, "scale_op", check_enum(self.scale_op, ScaleOp, "scale_op"))
        set_(self, "compute_dtype", _normalize_compute_dtype(self.compute_dtype))
        set_(self, "zero_point_op", check_enum(self.zero_point_op, ZeroPointOp, "zero_point_op"))
        set_(self, "reciprocal_dtype", _normalize_compute_dtype(self.reciprocal_dtype, "reciprocal_dtype"))
        if self.block_size is not None:
            set_(self, "block_size", check_int(self.block_size, "block_size", 1))
        set_(self, "domain", check_enum(self.domain, Domain, "domain"))
        if self.signed and self.narrow_range and self.bits < 2:
            raise ValueError(
                "bits=1 with signed=True, narrow_range=True leaves the single code 0; "
                "use bits >= 2 or narrow_range=False"
            )
        if self.zero_point_op is ZeroPointOp.FUSED and self.scale_op is not ScaleOp.RECIPROCAL:
            raise ValueError(
                f"zero_point_op='fused' is a fused multiply-add fma(x, 1/s, z) and needs scale_op='reciprocal', "
                f"got scale_op={self.scale_op.value!r}; use zero_point_op='before_round' with scale_op='divide'"
            )
        if self.reciprocal_dtype is not None and self.scale_op is not ScaleOp.RECIPROCAL:
            raise ValueError(
                f"reciprocal_dtype={self.reciprocal_dtype!r} is only used by scale_op='reciprocal', got "
                f"scale_op={self.scale_op.value!r}; set reciprocal_dtype=None or scale_op='reciprocal'"
            )
        if self.block_size is not None and self.axis is None:
            raise ValueError(
                f"block_size={self.block_size} needs axis (the dimension that is split into blocks), got axis=None"
            )
        if self.domain is not Domain.CODE and self.zero_point_op is not ZeroPointOp.AFTER_ROUND:
            raise ValueError(
                f"domain={self.domain.value!r} applies the zero point through the shifted minimum "
                f"lo = (qmin - z)*s; zero_point_op must be 'after_round' there, got "
                f"zero_point_op={self.zero_point_op.value!r}"
            )
        if self.scale_op is ScaleOp.RANGE_RECIPROCAL and self.qmax <= self.qmin:
            raise ValueError(
                f"scale_op='range_reciprocal' divides qmax - qmin by the range; the grid [{self.qmin}, {self.qmax}] "
                "has a single code (bits=1, signed=False, narrow_range=True); use another grid or scale_op"
            )

    # ---- the grid -----------------------------------------------------
    @property
    def qmin(self) -> int:
        """Smallest code (Python int)."""
        if self.signed:
            return -(1 << (self.bits - 1)) + (1 if self.narrow_range else 0)
        return 0

    @property
    def qmax(self) -> int:
        """Largest code (Python int)."""
        if self.signed:
            return (1 << (self.bits - 1)) - 1
        return (1 << self.bits) - 1 - (1 if self.narrow_range else 0)

    @property
    def levels(self) -> int:
        """Number of codes, ``qmax - qmin + 1``."""
        return self.qmax - self.qmin + 1

    @property
    def code_dtype(self) -> np.dtype:
        """Smallest integer dtype holding ``[qmin, qmax]``."""
        if self.signed:
            return np.dtype(np.int8 if self.bits <= 8 else np.int16)
        return np.dtype(np.uint8 if self.bits <= 8 else np.uint16)

    def resolve_compute_dtype(self, input_dtype: Any) -> np.dtype:
        """The dtype arithmetic is done in for an input of *input_dtype*.

        Parameters
        ----------
        input_dtype : dtype-like
            The dtype of ``x`` (any NumPy dtype).

        Returns
        -------
        numpy.dtype
            ``compute_dtype`` when set; else float32 for float32 input and float64 for any other.

        Raises
        ------
        TypeError
            *input_dtype* is not a ``numpy.dtype``, a NumPy scalar type, a Python number type or a dtype
            name (``None``, ints, dicts and other objects that ``numpy.dtype`` would also take are refused).
        """
        if not isinstance(input_dtype, np.dtype):
            ok = isinstance(input_dtype, str) or (
                isinstance(input_dtype, type) and issubclass(input_dtype, (np.generic, bool, int, float, complex))
            )
            try:
                dt = np.dtype(input_dtype) if ok else None
            except TypeError:
                dt = None
            if dt is None:
                raise TypeError(
                    f"input_dtype must be a numpy dtype, a NumPy scalar type or a dtype name, got "
                    f"input_dtype={short_repr(input_dtype)} (type={type(input_dtype).__name__})"
                )
            input_dtype = dt
        if self.compute_dtype is not None:
            return np.dtype(_COMPUTE_DTYPES[self.compute_dtype])
        return np.dtype(np.float32) if input_dtype == np.float32 else np.dtype(np.float64)

    def replace(self, **changes: Any) -> QuantSpec:
        """A copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Field names and their new values (as for the constructor).

        Returns
        -------
        QuantSpec

        Raises
        ------
        TypeError, ValueError
            An unknown field name (``TypeError``) or an invalid value or combination, as the constructor.
        """
        return dataclasses.replace(self, **changes)

    # ---- JSON round trip ----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; ``QuantSpec.from_dict(s.to_dict()) == s``.

        Returns
        -------
        dict
            ``{"type": "QuantSpec", <every field>: <value>}``, enums as their value strings.

        Raises
        ------
        None
            Every valid spec serialises.
        """
        return {
            "type": "QuantSpec",
            "bits": self.bits,
            "signed": self.signed,
            "narrow_range": self.narrow_range,
            "axis": self.axis,
            "rounding": self.rounding.value,
            "scale_op": self.scale_op.value,
            "compute_dtype": self.compute_dtype,
            "zero_point_op": self.zero_point_op.value,
            "reciprocal_dtype": self.reciprocal_dtype,
            "block_size": self.block_size,
            "domain": self.domain.value,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuantSpec:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``.

        Keys missing from *d* take their defaults, so dicts written before a
        field existed (e.g. without ``zero_point_op``, ``reciprocal_dtype``,
        ``block_size``, ``domain``) still load, with the semantics they had.

        Parameters
        ----------
        d : dict
            A :meth:`to_dict` result (the ``"type"`` tag optional).

        Returns
        -------
        QuantSpec

        Raises
        ------
        TypeError
            *d* is not a dict, or a field of the wrong type.
        ValueError
            Unknown keys, a wrong ``"type"`` tag, or an invalid field.
        """
        if not isinstance(d, dict):
            raise TypeError(f"d must be a dict, got type={type(d).__name__}")
        return cls(**_fields_from_dict(cls, d))


def _fields_from_dict(cls: type, d: Any) -> dict[str, Any]:
    """The constructor keywords in a spec's ``to_dict`` form: the ``"type"`` tag checked (an untagged dict is
    accepted, as older golden-vector manifests carry none) and unknown keys rejected."""
    if not isinstance(d, dict):
        raise TypeError(f"d must be a dict, got type={type(d).__name__}")
    d = dict(d)
    kind = d.pop("type", cls.__name__)
    if kind != cls.__name__:
        raise ValueError(f"type={kind!r}: expected {cls.__name__!r}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - fields
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; allowed: {sorted(fields)}")
    return d


ADC_TRANSFERS = ("round", "floor")
ADC_FLOOR_THRESHOLDS = ("step", "half_unit")
INPUT_ENCODINGS = ("twos_complement", "sign_magnitude")
WEIGHT_OFFSETS = ("w_max", "half_range")
TILINGS = ("full_first", "even")
ADC_RANGE_POLICIES = ("full", "granular", "calibrated", "gaussian")
CROSSBAR_MODES = ("multibit", "bpbs")
WEIGHT_ENCODINGS = ("twos_complement", "offset", "differential")
ADC_MAX_BITS = 24
CROSSBAR_MAX_ROWS = 2**20

# which optional ADCSpec fields each range policy reads
_POLICY_FIELDS = {"full": ("k",), "granular": (), "calibrated": ("lo", "hi"), "gaussian": ("mu", "sigma")}


@dataclass(frozen=True)
class ADCSpec:
    r"""An analog-to-digital converter: resolution, transfer function and input range policy.

    ``n = 2^bits`` codes, offset ``o`` and step :math:`\Delta` (from the range policy, see
    :func:`refquant.imc.adc_params`). ``transfer="round"``:
    :math:`q = \mathrm{clip}(\mathrm{rint}((a - o)/\Delta), 0, n-1)` (ties to even),
    :math:`\hat a = o + q\Delta`; ``transfer="floor"`` (RAOQ eq. 2):
    :math:`q = \mathrm{clip}(\lfloor (a - o)/\Delta \rfloor, 0, n-1)`,
    :math:`\hat a = o + (q + \frac12)\Delta`. All in float64. ``floor_threshold="half_unit"`` moves the
    floor ADC's thresholds down by half an *analog unit* (one LSB of the integer pre-ADC sum): the offset
    becomes :math:`o - \frac12` (see the parameter).

    ``bits`` may be given by position (``ADCSpec(8)``, as ``QuantSpec(8)``); every other field is
    keyword-only. Each range policy reads only its own fields: ``k`` ("full"), ``lo``/``hi``
    ("calibrated"), ``mu``/``sigma`` ("gaussian"); giving a field the policy does not read
    (``k`` other than 1.0, or ``lo``, ``hi``, ``mu``, ``sigma`` not ``None``) raises ``ValueError``
    instead of being silently ignored.

    Parameters
    ----------
    bits : int
        ADC resolution, 1 <= bits <= 24 (``2^bits`` codes).
    transfer : {"round", "floor"}
        Transfer function (above). Default "round".
    floor_threshold : {"step", "half_unit"}
        Where a floor ADC's thresholds sit (read only by ``transfer="floor"``; leave "step" for "round").
        "step" (default; RAOQ eq. 2 and the usual model of a flash/SAR ADC whose first threshold is at the
        range's lower end): thresholds at :math:`o + q\Delta`. On *integer* pre-ADC sums (every
        bit-serial plane sum, every multi-bit tile sum) this floor is biased: with :math:`\Delta = 1` every
        conversion errs by exactly :math:`+\frac12`, and in general each step's integers sit in its lower
        part. "half_unit": thresholds at :math:`o - \frac12 + q\Delta` (the offset is lowered by half a unit
        of the integer sum, as in hardware that places the comparator references between two adjacent
        integer charge levels, e.g. capacitive-DAC SAR readouts built for integer bit-line counts); with an
        integer step every step then holds :math:`\Delta` consecutive integers centred on its mid-step
        reconstruction, so floor is unbiased on uniformly spread integer sums and lossless at
        :math:`\Delta = 1`.
    range_policy : {"full", "granular", "calibrated", "gaussian"}
        How the offset and step are chosen (:func:`refquant.imc.adc_params`): "full" = the largest
        possible pre-ADC range divided by ``k`` (RAOQ eq. 3); "granular" = a step of one unit
        (exact inside, saturating outside); "calibrated" = the given limits ``[lo, hi]``;
        "gaussian" = ``mu +- c_B * sigma`` with the ACIQ-optimal Gaussian clip ``c_B``.
        Default "full".
    k : float
        Range reduction factor of the "full" policy, finite and > 0 (1.0: no clipping possible).
    lo, hi : float or None
        Input limits of the "calibrated" policy (pre-ADC units): finite, ``lo < hi``, with a finite
        step ``(hi - lo) / 2^bits``. Required for "calibrated", ``None`` otherwise.
    mu, sigma : float or None
        Mean and standard deviation (> 0) of the pre-ADC values for the "gaussian" policy, finite,
        with finite limits ``mu +- c_B * sigma``. Required for "gaussian", ``None`` otherwise.

    Raises
    ------
    TypeError
        A field of the wrong type (e.g. ``bits=8.0``, ``transfer=1``).
    ValueError
        A field out of its range, an unknown choice, a missing or unused policy field.

    Examples
    --------
    >>> ADCSpec(8).to_dict()["type"]
    'ADCSpec'
    >>> ADCSpec.from_dict(ADCSpec(6, range_policy="calibrated", lo=0.0, hi=40.0).to_dict()).hi
    40.0
    """

    bits: int
    _: dataclasses.KW_ONLY
    transfer: str = "round"
    range_policy: str = "full"
    k: float = 1.0
    lo: float | None = None
    hi: float | None = None
    mu: float | None = None
    sigma: float | None = None
    floor_threshold: str = "step"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "bits", check_int(self.bits, "bits", 1, ADC_MAX_BITS))
        check_choice(self.transfer, ADC_TRANSFERS, "transfer")
        if (
            check_choice(self.floor_threshold, ADC_FLOOR_THRESHOLDS, "floor_threshold") != "step"
            and self.transfer != "floor"
        ):
            raise ValueError(
                f"floor_threshold={self.floor_threshold!r} is only read by transfer='floor'; leave "
                f"floor_threshold='step' for transfer={self.transfer!r}"
            )
        policy = check_choice(self.range_policy, ADC_RANGE_POLICIES, "range_policy")
        set_(self, "k", check_real(self.k, "k", lo=0.0, lo_open=True))
        used = _POLICY_FIELDS[policy]
        if "k" not in used and self.k != 1.0:
            raise ValueError(
                f"k={self.k!r} is only read by range_policy='full'; leave k=1.0 for range_policy={policy!r}"
            )
        for name in ("lo", "hi", "mu", "sigma"):
            v = getattr(self, name)
            if name in used:
                if v is None:
                    raise ValueError(
                        f"range_policy={policy!r} needs {' and '.join(used)} "
                        f"({'the ADC input limits' if policy == 'calibrated' else 'of the pre-ADC values'}); "
                        f"{name}=None"
                    )
                set_(self, name, check_real(v, name, lo=0.0, lo_open=True) if name == "sigma" else check_real(v, name))
            elif v is not None:
                raise ValueError(
                    f"{name}={short_repr(v)} is not read by range_policy={policy!r}; "
                    f"leave it None (it is read by range_policy="
                    f"{'calibrated' if name in ('lo', 'hi') else 'gaussian'!r})"
                )
        n = 2.0**self.bits
        if policy == "calibrated":
            if not self.hi > self.lo:
                raise ValueError(f"hi={self.hi!r} must be > lo={self.lo!r}")
            if not (math.isfinite(self.hi - self.lo) and (self.hi - self.lo) / n > 0):
                raise ValueError(
                    f"lo={self.lo!r}, hi={self.hi!r}: the step (hi - lo) / 2^bits must be finite and "
                    "> 0; allowed: |hi - lo| < 1.7e308 and hi - lo > 2^bits * 5e-324"
                )
        if policy == "gaussian":
            # largest clip multiple used by adc_params (optimal_clip grows with bits; 16 bits is the table's end)
            reach = 8.0 * self.sigma
            if not (math.isfinite(self.mu - reach) and math.isfinite(self.mu + reach) and (reach / 4.0) / n > 0):
                raise ValueError(
                    f"mu={self.mu!r}, sigma={self.sigma!r}: the ADC limits mu +- c_B*sigma (c_B <= 8) "
                    "must be finite with a step > 0; allowed: |mu| + 8*sigma < 1.7e308"
                )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict with a ``"type": "ADCSpec"`` tag; ``ADCSpec.from_dict(a.to_dict()) == a``.

        Returns
        -------
        dict
            ``{"type": "ADCSpec", <field>: <value>, ...}`` (every field, plain Python values).

        Raises
        ------
        None
            Every valid spec serialises.
        """
        return {"type": "ADCSpec", **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ADCSpec:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            Field values by name (missing fields take their defaults), optionally with ``"type": "ADCSpec"``.

        Returns
        -------
        ADCSpec

        Raises
        ------
        TypeError
            ``d`` is not a dict.
        ValueError
            Unknown keys, a ``"type"`` other than ``"ADCSpec"`` (a dict without the tag is accepted), or
            an invalid field (see the class).
        """
        return cls(**_fields_from_dict(cls, d))


@dataclass(frozen=True, kw_only=True)
class CrossbarSpec:
    r"""A crossbar: tile size, operand bit widths and encodings, compute mode, ADC and A-shift.

    Keyword-only: ``CrossbarSpec(rows=64, input_bits=4, weight_bits=4, mode="bpbs", adc=ADCSpec(6))``.
    Operands are integer codes: inputs unsigned ``[0, 2^Bx - 1]`` or signed two's complement
    ``[-2^(Bx-1), 2^(Bx-1) - 1]``; weights signed symmetric ``[-(2^(Bw-1) - 1), 2^(Bw-1) - 1]``.
    See :mod:`refquant.imc` for the compute modes and the ADC range policies.

    Parameters
    ----------
    rows : int
        Rows per tile (dot-product length converted at once), 1 <= rows <= 2^20.
    input_bits : int
        Input code width ``Bx``, 1 <= input_bits <= 16.
    weight_bits : int
        Weight code width ``Bw``, 2 <= weight_bits <= 16.
    mode : {"multibit", "bpbs"}
        "multibit": one conversion per tile and column of the full integer partial sum (RAOQ's
        abstraction); "bpbs": bit-parallel weights, bit-serial inputs, one conversion per
        (tile, input plane, weight slice, polarity). Default "multibit".
    input_signed : bool
        Signed (two's complement) input codes. Default False.
    weight_encoding : {None, "signed", "twos_complement", "offset", "differential"}
        How weights are held by cells. ``None`` is resolved in ``__post_init__``: "signed" (the
        analog multi-bit weight, the only value allowed in multi-bit mode) or "twos_complement"
        (BPBS). "twos_complement" needs ``slice_bits=1``.
    slice_bits : int
        Bits per weight cell (``beta``) in BPBS mode, 1 <= slice_bits <= 8. Default 1.
    adc : ADCSpec or dict
        The ADC (a dict is read with :meth:`ADCSpec.from_dict`). Default ``ADCSpec(8)``.
    a_shift : bool
        Shift unsigned input codes by ``-2^(Bx-1)`` before the array and add the constant back
        digitally (RAOQ eq. 4); needs ``input_signed=False``. Default False.
    input_encoding : {"twos_complement", "sign_magnitude"}
        How signed array inputs (``input_signed`` or ``a_shift``) are cut into bit-planes in BPBS mode.
        "twos_complement" (default; refquant, CrossSim's default input slicing, NeuroSim): planes of the
        two's-complement code, the MSB plane weighted :math:`-2^{B_x-1}`; every plane sum is
        non-negative and the ADC is unipolar. "sign_magnitude" (aihwkit's bit-wise mode: "7-bit signed
        -> 6 magnitude planes, sign kept per plane"; a bipolar ADC): plane ``b`` drives row ``i`` with
        :math:`\mathrm{sign}(x_i)\cdot\mathrm{bit}_b(|x_i|) \in \{-1, 0, 1\}`, so a plane sum lies in
        :math:`[-M, M]` (:math:`M` = ``max_plane_sum``) and the ADC is bipolar ("full":
        :math:`o = -M/k`, :math:`\Delta = 2M/(kn)`; "granular": :math:`o = -n/2`); all plane coefficients are
        positive. Signed inputs then use ``Bx - 1`` magnitude planes and the symmetric range
        :math:`[-(2^{B_x-1}-1), 2^{B_x-1}-1]` (needs ``input_bits >= 2``); A-shifted inputs
        (:math:`|x - C| \le 2^{B_x-1}`) use ``Bx`` planes. Only in BPBS mode with signed array inputs.
    weight_offset : {"w_max", "half_range"}
        The constant the "offset" weight encoding adds to every weight before slicing (read only by
        ``weight_encoding="offset"``). "w_max" (default, refquant): :math:`w + 2^{B_w-1} - 1 \in
        [0, 2^{B_w} - 2]` (zero weight at mid-range, the top code unused). "half_range" (CrossSim's
        offset cells): :math:`w + 2^{B_w-1} \in [1, 2^{B_w} - 1]`. The digital correction subtracts
        the constant times :math:`\sum_i x_i` exactly in both, so only the converted values (and under a
        clipped ADC the result) differ.
    tiling : {"full_first", "even"}
        How a dot product of length ``K`` is cut into ``T = ceil(K / rows)`` tiles. "full_first"
        (default, refquant and aihwkit): full tiles of ``rows`` rows, the remainder in a last, shorter
        tile (300 rows at ``rows=128``: 128 + 128 + 44). "even" (CrossSim's matrix partitioning): ``T``
        tiles of nearly equal length, the first ``K mod T`` one row longer (``numpy.array_split``;
        300 rows at ``rows=128``: 100 + 100 + 100). The ADC range ("full" policy) is that of a
        ``rows``-row array in both.
    slice_ranges : None or sequence of (lo, hi) pairs
        BPBS only: one calibrated ADC input range per weight slice (slice 0 = least significant),
        replacing the ADC's range policy for that slice's conversions (bits and transfer stay those of
        ``adc``; offset ``lo``, step ``(hi - lo)/2^bits``). CrossSim's bit-sliced core and NeuroSim
        calibrate each slice's ADC separately; a low slice then keeps its fine step while a high one
        gets the wide range it needs. Length ``n_slices``; each pair finite with ``lo < hi``. Stored
        as a tuple of float pairs. Default ``None`` (one range for all slices).

    Raises
    ------
    TypeError
        A field of the wrong type (e.g. ``rows=4.0``, ``a_shift=1``, ``adc="8"``).
    ValueError
        A field out of range, an unknown choice or an inconsistent combination (named in the message).

    Examples
    --------
    >>> s = CrossbarSpec(rows=50, input_bits=3, weight_bits=5, mode="bpbs", weight_encoding="offset", slice_bits=2)
    >>> s.n_slices, s.max_plane_sum, s.to_dict()["type"]
    (3, 150, 'CrossbarSpec')
    >>> CrossbarSpec.from_json(s.to_json()) == s
    True
    """

    rows: int
    input_bits: int
    weight_bits: int
    mode: str = "multibit"
    input_signed: bool = False
    weight_encoding: str | None = None
    slice_bits: int = 1
    adc: ADCSpec = dataclasses.field(default_factory=lambda: ADCSpec(8))
    a_shift: bool = False
    input_encoding: str = "twos_complement"
    weight_offset: str = "w_max"
    tiling: str = "full_first"
    slice_ranges: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "rows", check_int(self.rows, "rows", 1, CROSSBAR_MAX_ROWS))
        set_(self, "input_bits", check_int(self.input_bits, "input_bits", 1, MAX_BITS))
        set_(self, "weight_bits", check_int(self.weight_bits, "weight_bits", 2, MAX_BITS))
        check_choice(self.mode, CROSSBAR_MODES, "mode")
        set_(self, "input_signed", check_bool(self.input_signed, "input_signed"))
        set_(self, "a_shift", check_bool(self.a_shift, "a_shift"))
        set_(self, "slice_bits", check_int(self.slice_bits, "slice_bits", 1, 8))
        if isinstance(self.adc, dict):
            set_(self, "adc", ADCSpec.from_dict(self.adc))
        if not isinstance(self.adc, ADCSpec):
            raise TypeError(
                f"adc must be an ADCSpec (or its to_dict form), got adc={short_repr(self.adc)} "
                f"(type={type(self.adc).__name__})"
            )
        enc = self.weight_encoding
        if self.mode == "multibit":
            if enc not in (None, "signed"):
                raise ValueError(
                    f"weight_encoding={short_repr(enc)} is not allowed with mode='multibit', which stores "
                    "the signed multi-bit weight; allowed: 'signed' or None"
                )
            set_(self, "weight_encoding", "signed")
        else:
            enc = "twos_complement" if enc is None else check_choice(enc, WEIGHT_ENCODINGS, "weight_encoding")
            if enc == "twos_complement" and self.slice_bits != 1:
                raise ValueError(
                    f"weight_encoding='twos_complement' needs slice_bits=1 (a multi-bit cell cannot hold "
                    f"the negative top slice), got slice_bits={self.slice_bits}; use 'offset' or "
                    "'differential'"
                )
            set_(self, "weight_encoding", enc)
        if self.a_shift and self.input_signed:
            raise ValueError("a_shift=True shifts *unsigned* input codes to signed ones; it needs input_signed=False")
        check_choice(self.tiling, TILINGS, "tiling")
        if check_choice(self.input_encoding, INPUT_ENCODINGS, "input_encoding") == "sign_magnitude":
            if self.mode != "bpbs" or not self.array_input_signed:
                raise ValueError(
                    "input_encoding='sign_magnitude' cuts *signed* array inputs into magnitude planes; it "
                    "needs mode='bpbs' and input_signed=True or a_shift=True, got "
                    f"mode={self.mode!r}, input_signed={self.input_signed}, a_shift={self.a_shift}"
                )
            if self.input_signed and self.input_bits < 2:
                raise ValueError(
                    "input_encoding='sign_magnitude' with input_signed=True needs input_bits >= 2 "
                    "(one sign bit and at least one magnitude bit), got input_bits=1"
                )
        if check_choice(self.weight_offset, WEIGHT_OFFSETS, "weight_offset") != "w_max" and enc != "offset":
            raise ValueError(
                f"weight_offset={self.weight_offset!r} is only read by weight_encoding='offset'; leave "
                f"weight_offset='w_max' for weight_encoding={self.weight_encoding!r}"
            )
        if self.slice_ranges is not None:
            set_(self, "slice_ranges", self._check_slice_ranges(self.slice_ranges))

    def _check_slice_ranges(self, value: Any) -> tuple[tuple[float, float], ...]:
        """``slice_ranges`` as a tuple of ``(lo, hi)`` float pairs, one per weight slice (BPBS only)."""
        if self.mode != "bpbs":
            raise ValueError(
                f"slice_ranges is only read by mode='bpbs' (one ADC range per weight slice); leave "
                f"slice_ranges=None for mode={self.mode!r}"
            )
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
            raise TypeError(
                f"slice_ranges must be a sequence of (lo, hi) pairs, got {short_repr(value)} "
                f"(type={type(value).__name__})"
            )
        if len(value) != self.n_slices:
            raise ValueError(
                f"slice_ranges must hold one (lo, hi) pair per weight slice: n_slices={self.n_slices}, "
                f"got {len(value)} pairs"
            )
        out = []
        n = 2.0**self.adc.bits
        for c, pair in enumerate(value):
            name = f"slice_ranges[{c}]"
            if isinstance(pair, (str, bytes, dict)) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise TypeError(f"{name} must be a (lo, hi) pair, got {short_repr(pair)}")
            lo, hi = check_real(pair[0], f"{name}[0] (lo)"), check_real(pair[1], f"{name}[1] (hi)")
            if not hi > lo:
                raise ValueError(f"{name}=({lo!r}, {hi!r}): hi must be > lo")
            if not (math.isfinite(hi - lo) and (hi - lo) / n > 0):
                raise ValueError(f"{name}=({lo!r}, {hi!r}): the step (hi - lo) / 2^bits must be finite and > 0")
            out.append((float(lo), float(hi)))
        return tuple(out)

    # ---- derived quantities ---------------------------------------------
    @property
    def array_input_signed(self) -> bool:
        """Whether the array sees signed inputs (``input_signed`` or ``a_shift``)."""
        return self.input_signed or self.a_shift

    @property
    def sign_magnitude(self) -> bool:
        """Whether BPBS input planes are sign-magnitude (``input_encoding="sign_magnitude"``; bipolar ADC)."""
        return self.input_encoding == "sign_magnitude"

    @property
    def n_planes(self) -> int:
        """Input bit-planes in BPBS mode: ``Bx`` (two's complement or unsigned), ``Bx - 1`` magnitude planes
        (sign-magnitude, signed inputs) or ``Bx`` (sign-magnitude, A-shifted inputs, ``|x'| <= 2^(Bx-1)``)."""
        return self.input_bits - 1 if (self.sign_magnitude and self.input_signed) else self.input_bits

    @property
    def x_range(self) -> tuple[int, int]:
        """Allowed input codes ``(lo, hi)`` (before any A-shift); symmetric for signed sign-magnitude inputs."""
        b = self.input_bits
        if not self.input_signed:
            return (0, 2**b - 1)
        return (-(2 ** (b - 1)) + (1 if self.sign_magnitude else 0), 2 ** (b - 1) - 1)

    @property
    def w_range(self) -> tuple[int, int]:
        """Allowed weight codes ``(-w_max, w_max)`` (symmetric)."""
        m = 2 ** (self.weight_bits - 1) - 1
        return -m, m

    @property
    def x_max(self) -> int:
        """Largest input magnitude the array sees: ``2^(Bx-1)`` signed or A-shifted, ``2^Bx - 1`` unsigned
        (``2^(Bx-1) - 1`` for signed sign-magnitude inputs)."""
        if self.input_signed and self.sign_magnitude:
            return 2 ** (self.input_bits - 1) - 1
        return 2 ** (self.input_bits - 1) if self.array_input_signed else 2**self.input_bits - 1

    @property
    def w_max(self) -> int:
        """Largest weight magnitude, ``2^(Bw-1) - 1``."""
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def n_slices(self) -> int:
        """Weight slices per column in BPBS mode: ``ceil(magnitude bits / slice_bits)`` (``Bw`` bits for
        two's complement and offset, ``Bw - 1`` for differential)."""
        mag_bits = {
            "twos_complement": self.weight_bits,
            "offset": self.weight_bits,
            "differential": self.weight_bits - 1,
        }
        return -(-mag_bits.get(self.weight_encoding, self.weight_bits) // self.slice_bits)

    @property
    def offset_constant(self) -> int:
        """The constant the "offset" encoding adds to each weight: ``2^(Bw-1) - 1`` ("w_max") or ``2^(Bw-1)``
        ("half_range"); 0 for the other encodings."""
        if self.weight_encoding != "offset":
            return 0
        return 2 ** (self.weight_bits - 1) - (1 if self.weight_offset == "w_max" else 0)

    @property
    def max_plane_sum(self) -> int:
        """Largest BPBS plane sum of one tile, ``rows * (2^slice_bits - 1)``."""
        return self.rows * (2**self.slice_bits - 1)

    # ---- JSON round trip -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict with a ``"type": "CrossbarSpec"`` tag and the ADC nested as its own ``to_dict``.

        Returns
        -------
        dict
            ``{"type": "CrossbarSpec", <field>: <value>, ..., "adc": {...}}`` (``slice_ranges`` as lists).

        Raises
        ------
        None
            Every valid spec serialises.
        """
        d = {"type": "CrossbarSpec", **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        d["adc"] = self.adc.to_dict()
        if self.slice_ranges is not None:
            d["slice_ranges"] = [list(p) for p in self.slice_ranges]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CrossbarSpec:
        """Inverse of :meth:`to_dict` (the nested ``adc`` dict is read by :meth:`ADCSpec.from_dict`).

        Parameters
        ----------
        d : dict
            Field values by name (missing fields take their defaults), optionally with
            ``"type": "CrossbarSpec"``; ``adc`` as a dict or an :class:`ADCSpec`.

        Returns
        -------
        CrossbarSpec

        Raises
        ------
        TypeError
            ``d`` is not a dict.
        ValueError
            Unknown keys, a ``"type"`` other than ``"CrossbarSpec"`` (a dict without the tag, as in older
            golden-vector manifests, is accepted), or an invalid field.
        """
        return cls(**_fields_from_dict(cls, d))

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string (sorted keys).

        Returns
        -------
        str

        Raises
        ------
        None
            Every valid spec serialises.
        """
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> CrossbarSpec:
        """Inverse of :meth:`to_json`.

        Parameters
        ----------
        s : str
            JSON text of a :meth:`to_dict` dict.

        Returns
        -------
        CrossbarSpec

        Raises
        ------
        TypeError
            ``s`` is not a str.
        ValueError
            Not valid JSON, or as :meth:`from_dict`.
        """
        if not isinstance(s, str):
            raise TypeError(f"s must be a JSON string, got type={type(s).__name__}")
        try:
            d = json.loads(s)
        except json.JSONDecodeError as exc:
            raise ValueError(f"s is not valid JSON: {exc}") from exc
        return cls.from_dict(d)
