"""Frozen specification objects.

A *spec* says what grid a quantizer uses and how it rounds; it never holds
data-dependent values such as a scale (those are arguments, chosen by
calibration or by clipping theory). Specs are frozen, hashable dataclasses,
validated in ``__post_init__`` and round-trippable through JSON with
:meth:`QuantSpec.to_dict` / :meth:`QuantSpec.from_dict`, so golden vectors
can carry them.

Other concept modules add their own specs to this module (``CrossbarSpec``,
``ADCSpec`` ...), following the same pattern.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import MAX_BITS, MIN_BITS, check_bool, check_enum, check_int, short_repr

__all__ = ["Rounding", "ScaleOp", "QuantSpec", "MIN_BITS", "MAX_BITS"]

# MIN_BITS / MAX_BITS (1, 16): the shared bit-width range, declared once in refquant._validate.


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
        d = dict(d)
        kind = d.pop("type", "QuantSpec")
        if kind != "QuantSpec":
            raise ValueError(f"type={kind!r}: expected 'QuantSpec'")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown QuantSpec field(s) {sorted(unknown)}; allowed: {sorted(fields)}")
        return cls(**d)
