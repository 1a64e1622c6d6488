"""The ADC of a crossbar: offset and step from the range policy, and the conversion (see :mod:`refquant.imc`)."""

from __future__ import annotations

import numpy as np

from .._validate import as_real_array, check_int
from ..specs import CrossbarSpec


def _check_spec(spec) -> CrossbarSpec:
    if not isinstance(spec, CrossbarSpec):
        raise TypeError(f"spec must be a CrossbarSpec, got type={type(spec).__name__}")
    return spec


def adc_params(spec: CrossbarSpec, *, slice_index: int | None = None) -> tuple[float, float, int]:
    r"""Offset, step and number of codes of the crossbar's ADC.

    Range policies (``spec.adc.range_policy``): "full" (multi-bit: :math:`o = -r`, :math:`\Delta = 2r/n`,
    :math:`r = N x_{max} w_{max} / k`, RAOQ eq. 3; BPBS: :math:`o = 0`, :math:`\Delta = N(2^\beta - 1)/(k n)`;
    BPBS with sign-magnitude inputs, a bipolar ADC: :math:`o = -M/k`, :math:`\Delta = 2M/(kn)` with
    :math:`M = N(2^\beta - 1)`), "granular" (:math:`\Delta = 1`, :math:`o = -n/2` multi-bit and bipolar BPBS,
    0 unipolar BPBS), "calibrated" (:math:`o = lo`, :math:`\Delta = (hi - lo)/n`), "gaussian"
    (:math:`lo, hi = \mu \mp c_B\sigma`, with :math:`c_B` = ``refquant.clipping.optimal_clip(min(B, 16), "gaussian")``).
    With ``spec.slice_ranges`` the pair of slice ``slice_index`` replaces the policy (a calibrated range
    per weight slice). A floor ADC with ``floor_threshold="half_unit"`` has its offset lowered by
    :math:`\frac12` (thresholds between integer sums, see :class:`refquant.specs.ADCSpec`).

    Parameters
    ----------
    spec : CrossbarSpec
        The crossbar (its ``adc`` and, for "full", its size and operand widths).
    slice_index : int or None
        The weight slice whose ADC is wanted, ``0 <= slice_index < spec.n_slices``; required when
        ``spec.slice_ranges`` is set, ignored (any valid index gives the one shared ADC) otherwise.

    Returns
    -------
    (o, step, n_codes) : (float, float, int)
        Offset and step in pre-ADC units (float64, finite, step > 0) and ``2^bits``.

    Raises
    ------
    TypeError
        ``spec`` is not a :class:`CrossbarSpec`; ``slice_index`` not an int.
    ValueError
        ``slice_index`` out of range, or missing while ``spec.slice_ranges`` is set.

    Examples
    --------
    >>> from refquant.imc import ADCSpec, CrossbarSpec
    >>> adc_params(CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=ADCSpec(3)))
    (-36.0, 9.0, 8)
    """
    spec = _check_spec(spec)
    if slice_index is not None:
        slice_index = check_int(slice_index, "slice_index", 0, (spec.n_slices if spec.mode == "bpbs" else 1) - 1)
    elif spec.slice_ranges is not None:
        raise ValueError(
            f"spec has one ADC range per weight slice (slice_ranges); pass slice_index in [0, {spec.n_slices - 1}]"
        )
    o, d, n = _policy_params(spec, slice_index)
    if spec.adc.transfer == "floor" and spec.adc.floor_threshold == "half_unit":
        o -= 0.5
    return o, d, n


def _policy_params(spec: CrossbarSpec, slice_index) -> tuple[float, float, int]:
    """``(o, step, n)`` of the range policy (or of the slice's own range), before any threshold placement."""
    a = spec.adc
    n = 2**a.bits
    bipolar = spec.mode == "bpbs" and spec.sign_magnitude
    if spec.slice_ranges is not None:
        lo, hi = spec.slice_ranges[slice_index]
        return lo, (hi - lo) / n, n
    if a.range_policy == "granular":
        return (-float(n // 2) if (spec.mode == "multibit" or bipolar) else 0.0), 1.0, n
    if a.range_policy == "full":
        if spec.mode == "multibit":
            r = spec.rows * spec.x_max * spec.w_max / a.k
            return -r, 2 * r / n, n
        if bipolar:
            r = spec.max_plane_sum / a.k
            return -r, 2 * r / n, n
        return 0.0, spec.max_plane_sum / a.k / n, n
    if a.range_policy == "calibrated":
        lo, hi = a.lo, a.hi
    else:
        from ..clipping import optimal_clip

        c = optimal_clip(min(a.bits, 16), "gaussian")
        lo, hi = a.mu - c * a.sigma, a.mu + c * a.sigma
    return lo, (hi - lo) / n, n


def _slice_params(spec: CrossbarSpec) -> tuple[np.ndarray, np.ndarray, int]:
    """Per weight slice ``(o[c], step[c])`` (float64 arrays of length ``n_slices``, BPBS) and ``n``."""
    ps = [adc_params(spec, slice_index=c) for c in range(spec.n_slices)]
    return np.array([p[0] for p in ps]), np.array([p[1] for p in ps]), ps[0][2]


def _adc_levels(t: np.ndarray, transfer: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ADC on ``t = (a - o) / step``: ``(q, level)`` with codes ``q`` (float) and the reconstruction
    ``o + level * step`` (``level = q + 1/2`` floor, ``q`` round). The one statement of the formula in the
    NumPy code of refquant.imc."""
    if transfer == "floor":
        q = np.clip(np.floor(t), 0, n - 1)
        return q, q + 0.5
    q = np.clip(np.rint(t), 0, n - 1)
    return q, q


def adc_convert(a, spec: CrossbarSpec, *, slice_index: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Codes and reconstructions of pre-ADC values under the crossbar's ADC.

    ``transfer="round"``: :math:`q = \mathrm{clip}(\mathrm{rint}((a - o)/\Delta), 0, n-1)`,
    :math:`\hat a = o + q\Delta`; ``"floor"``: :math:`q = \mathrm{clip}(\lfloor (a - o)/\Delta \rfloor, 0, n-1)`,
    :math:`\hat a = o + (q + \frac12)\Delta` (RAOQ eq. 2, reconstructed mid-step). Float64 throughout.

    Parameters
    ----------
    a : array_like of real, finite
        Pre-ADC values (any shape, may be empty).
    spec : CrossbarSpec
        The crossbar whose ADC converts (``o, step, n`` from :func:`adc_params`).
    slice_index : int or None
        The weight slice whose ADC converts (required when ``spec.slice_ranges`` is set; see
        :func:`adc_params`).

    Returns
    -------
    (codes, reconstruction) : (int64 ndarray, float64 ndarray)
        Both of ``a``'s shape; codes in ``[0, 2^bits - 1]``.

    Raises
    ------
    TypeError
        ``spec`` is not a :class:`CrossbarSpec`; ``a`` is not real numeric; ``slice_index`` not an int.
    ValueError
        ``a`` holds NaN or inf; ``slice_index`` out of range or missing (see :func:`adc_params`).

    Examples
    --------
    >>> from refquant.imc import ADCSpec, CrossbarSpec
    >>> spec = CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=ADCSpec(3))
    >>> codes, rec = adc_convert([-40.0, 0.0, 4.4, 100.0], spec)
    >>> codes.tolist(), rec.tolist()
    ([0, 4, 4, 7], [-36.0, 0.0, 0.0, 27.0])
    """
    spec = _check_spec(spec)
    o, d, n = adc_params(spec, slice_index=slice_index)
    return _convert(as_real_array(a, "a", allow_empty=True).astype(np.float64), o, d, n, spec.adc.transfer)


def _convert(a: np.ndarray, o, d, n: int, transfer: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes and reconstructions of float64 ``a`` for ADC ``(o, d, n)`` (``o, d`` scalars or broadcastable)."""
    q, level = _adc_levels((a - o) / d, transfer, n)
    return q.astype(np.int64), o + level * d
