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

from ._validate import check_bool, check_enum, check_int, check_real, short_repr

__all__ = ["Rounding", "ScaleOp", "QuantSpec", "ADCSpec", "CrossbarSpec", "MIN_BITS", "MAX_BITS"]

MIN_BITS = 1
MAX_BITS = 16


class Rounding(str, enum.Enum):
    """Rounding mode applied to ``v = x / s`` (or ``x * (1/s)``).

    All deterministic modes are exact (no intermediate rounding): ties are
    detected exactly, never via ``floor(v + 0.5)``, which rounds
    0.49999999999999994 up.
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

    def __repr__(self) -> str:  # so that repr(QuantSpec(...)) is valid constructor code
        return repr(self.value)


class ScaleOp(str, enum.Enum):
    """How the scale is applied before rounding."""

    DIVIDE = "divide"
    """``v = x / s`` with one correctly rounded division (ONNX QuantizeLinear)."""
    RECIPROCAL = "reciprocal"
    """``v = x * r`` with ``r = 1 / s`` rounded once to the compute dtype (PyTorch fake-quantize)."""

    def __repr__(self) -> str:
        return repr(self.value)


_COMPUTE_DTYPES = {"float32": np.float32, "float64": np.float64}


def _normalize_compute_dtype(value: Any) -> str | None:
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
        f"compute_dtype={short_repr(value)} is not allowed; use None, 'float32', 'float64', "
        "np.float32 or np.float64"
    )


@dataclass(frozen=True)
class QuantSpec:
    """The integer grid and rounding rule of a uniform affine quantizer.

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
        for unsigned narrow range). Signed narrow range needs ``bits >= 2``.
    axis : int or None
        ``None``: one scale and zero point for the whole tensor. An int:
        per-channel quantization along that axis of ``x`` (negative values
        count from the end), with 1-D scale / zero-point arrays of length
        ``x.shape[axis]``.
    rounding : {"half_even", "half_away", "half_up", "floor", "stochastic"}
        See :class:`Rounding`. Default "half_even".
    scale_op : {"divide", "reciprocal"}
        See :class:`ScaleOp`. Default "divide".
    compute_dtype : None, "float32", "float64", np.float32 or np.float64
        Floating-point type every operation is done in. ``None``: float32
        for float32 input, float64 for anything else. Stored as the string
        name (or ``None``).

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
    """

    bits: int
    signed: bool = True
    narrow_range: bool = False
    axis: int | None = None
    rounding: Rounding = Rounding.HALF_EVEN
    scale_op: ScaleOp = ScaleOp.DIVIDE
    compute_dtype: str | None = None

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
        if self.signed and self.narrow_range and self.bits < 2:
            raise ValueError(
                "bits=1 with signed=True, narrow_range=True leaves the single code 0; "
                "use bits >= 2 or narrow_range=False"
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
        """The dtype arithmetic is done in for an input of *input_dtype*."""
        if self.compute_dtype is not None:
            return np.dtype(_COMPUTE_DTYPES[self.compute_dtype])
        return np.dtype(np.float32) if np.dtype(input_dtype) == np.float32 else np.dtype(np.float64)

    def replace(self, **changes: Any) -> "QuantSpec":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ---- JSON round trip ----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; ``QuantSpec.from_dict(s.to_dict()) == s``."""
        return {
            "type": "QuantSpec",
            "bits": self.bits,
            "signed": self.signed,
            "narrow_range": self.narrow_range,
            "axis": self.axis,
            "rounding": self.rounding.value,
            "scale_op": self.scale_op.value,
            "compute_dtype": self.compute_dtype,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QuantSpec":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
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


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    """*value* if it is one of the strings *allowed*, else a ``TypeError``/``ValueError`` naming *name*."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, allowed))} (str), got {name}={short_repr(value)} "
                        f"(type={type(value).__name__})")
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not a valid choice; allowed: {', '.join(map(repr, allowed))}")
    return value


ADC_TRANSFERS = ("round", "floor")
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
    :math:`\hat a = o + (q + \frac12)\Delta`. All in float64.

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

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "bits", check_int(self.bits, "bits", 1, ADC_MAX_BITS))
        _choice(self.transfer, ADC_TRANSFERS, "transfer")
        policy = _choice(self.range_policy, ADC_RANGE_POLICIES, "range_policy")
        set_(self, "k", check_real(self.k, "k", lo=0.0, lo_open=True))
        used = _POLICY_FIELDS[policy]
        if "k" not in used and self.k != 1.0:
            raise ValueError(f"k={self.k!r} is only read by range_policy='full'; leave k=1.0 for "
                             f"range_policy={policy!r}")
        for name in ("lo", "hi", "mu", "sigma"):
            v = getattr(self, name)
            if name in used:
                if v is None:
                    raise ValueError(f"range_policy={policy!r} needs {' and '.join(used)} "
                                     f"({'the ADC input limits' if policy == 'calibrated' else 'of the pre-ADC values'}); "
                                     f"{name}=None")
                set_(self, name, check_real(v, name, lo=0.0, lo_open=True) if name == "sigma" else check_real(v, name))
            elif v is not None:
                raise ValueError(f"{name}={short_repr(v)} is not read by range_policy={policy!r}; "
                                 f"leave it None (it is read by range_policy="
                                 f"{'calibrated' if name in ('lo', 'hi') else 'gaussian'!r})")
        n = 2.0 ** self.bits
        if policy == "calibrated":
            if not self.hi > self.lo:
                raise ValueError(f"hi={self.hi!r} must be > lo={self.lo!r}")
            if not (math.isfinite(self.hi - self.lo) and (self.hi - self.lo) / n > 0):
                raise ValueError(f"lo={self.lo!r}, hi={self.hi!r}: the step (hi - lo) / 2^bits must be finite and "
                                 "> 0; allowed: |hi - lo| < 1.7e308 and hi - lo > 2^bits * 5e-324")
        if policy == "gaussian":
            # largest clip multiple used by adc_params (optimal_clip grows with bits; 16 bits is the table's end)
            reach = 8.0 * self.sigma
            if not (math.isfinite(self.mu - reach) and math.isfinite(self.mu + reach)
                    and (reach / 4.0) / n > 0):
                raise ValueError(f"mu={self.mu!r}, sigma={self.sigma!r}: the ADC limits mu +- c_B*sigma (c_B <= 8) "
                                 "must be finite with a step > 0; allowed: |mu| + 8*sigma < 1.7e308")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict with a ``"type": "ADCSpec"`` tag; ``ADCSpec.from_dict(a.to_dict()) == a``."""
        return {"type": "ADCSpec", **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ADCSpec":
        """Inverse of :meth:`to_dict`.

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

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "rows", check_int(self.rows, "rows", 1, CROSSBAR_MAX_ROWS))
        set_(self, "input_bits", check_int(self.input_bits, "input_bits", 1, MAX_BITS))
        set_(self, "weight_bits", check_int(self.weight_bits, "weight_bits", 2, MAX_BITS))
        _choice(self.mode, CROSSBAR_MODES, "mode")
        set_(self, "input_signed", check_bool(self.input_signed, "input_signed"))
        set_(self, "a_shift", check_bool(self.a_shift, "a_shift"))
        set_(self, "slice_bits", check_int(self.slice_bits, "slice_bits", 1, 8))
        if isinstance(self.adc, dict):
            set_(self, "adc", ADCSpec.from_dict(self.adc))
        if not isinstance(self.adc, ADCSpec):
            raise TypeError(f"adc must be an ADCSpec (or its to_dict form), got adc={short_repr(self.adc)} "
                            f"(type={type(self.adc).__name__})")
        enc = self.weight_encoding
        if self.mode == "multibit":
            if enc not in (None, "signed"):
                raise ValueError(f"weight_encoding={short_repr(enc)} is not allowed with mode='multibit', which stores "
                                 "the signed multi-bit weight; allowed: 'signed' or None")
            set_(self, "weight_encoding", "signed")
        else:
            enc = "twos_complement" if enc is None else _choice(enc, WEIGHT_ENCODINGS, "weight_encoding")
            if enc == "twos_complement" and self.slice_bits != 1:
                raise ValueError(f"weight_encoding='twos_complement' needs slice_bits=1 (a multi-bit cell cannot hold "
                                 f"the negative top slice), got slice_bits={self.slice_bits}; use 'offset' or "
                                 "'differential'")
            set_(self, "weight_encoding", enc)
        if self.a_shift and self.input_signed:
            raise ValueError("a_shift=True shifts *unsigned* input codes to signed ones; it needs input_signed=False")

    # ---- derived quantities ---------------------------------------------
    @property
    def array_input_signed(self) -> bool:
        """Whether the array sees signed inputs (``input_signed`` or ``a_shift``)."""
        return self.input_signed or self.a_shift

    @property
    def x_range(self) -> tuple[int, int]:
        """Allowed input codes ``(lo, hi)`` (before any A-shift)."""
        b = self.input_bits
        return (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if self.input_signed else (0, 2**b - 1)

    @property
    def w_range(self) -> tuple[int, int]:
        """Allowed weight codes ``(-w_max, w_max)`` (symmetric)."""
        m = 2 ** (self.weight_bits - 1) - 1
        return -m, m

    @property
    def x_max(self) -> int:
        """Largest input magnitude the array sees: ``2^(Bx-1)`` signed or A-shifted, ``2^Bx - 1`` unsigned."""
        return 2 ** (self.input_bits - 1) if self.array_input_signed else 2**self.input_bits - 1

    @property
    def w_max(self) -> int:
        """Largest weight magnitude, ``2^(Bw-1) - 1``."""
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def n_slices(self) -> int:
        """Weight slices per column in BPBS mode: ``ceil(magnitude bits / slice_bits)`` (``Bw`` bits for
        two's complement and offset, ``Bw - 1`` for differential)."""
        mag_bits = {"twos_complement": self.weight_bits, "offset": self.weight_bits, "differential": self.weight_bits - 1}
        return -(-mag_bits.get(self.weight_encoding, self.weight_bits) // self.slice_bits)

    @property
    def max_plane_sum(self) -> int:
        """Largest BPBS plane sum of one tile, ``rows * (2^slice_bits - 1)``."""
        return self.rows * (2**self.slice_bits - 1)

    # ---- JSON round trip -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict with a ``"type": "CrossbarSpec"`` tag and the ADC nested as its own ``to_dict``."""
        d = {"type": "CrossbarSpec", **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}}
        d["adc"] = self.adc.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CrossbarSpec":
        """Inverse of :meth:`to_dict` (the nested ``adc`` dict is read by :meth:`ADCSpec.from_dict`).

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
        """:meth:`to_dict` as a JSON string (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "CrossbarSpec":
        """Inverse of :meth:`to_json`.

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
