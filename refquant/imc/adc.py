"""The ADC of a crossbar: offset and step from the range policy, and the conversion (see :mod:`refquant.imc`)."""
from __future__ import annotations

import numpy as np

from .._validate import as_real_array
from ..specs import CrossbarSpec


def _check_spec(spec) -> CrossbarSpec:
    if not isinstance(spec, CrossbarSpec):
        raise TypeError(f"spec must be a CrossbarSpec, got type={type(spec).__name__}")
    return spec


def adc_params(spec: CrossbarSpec) -> tuple[float, float, int]:
    r"""Offset, step and number of codes of the crossbar's ADC.

    Range policies (``spec.adc.range_policy``): "full" (multi-bit: :math:`o = -r`, :math:`\Delta = 2r/n`,
    :math:`r = N x_{max} w_{max} / k`, RAOQ eq. 3; BPBS: :math:`o = 0`, :math:`\Delta = N(2^\beta - 1)/(k n)`),
    "granular" (:math:`\Delta = 1`, :math:`o = -n/2` multi-bit, 0 BPBS), "calibrated"
    (:math:`o = lo`, :math:`\Delta = (hi - lo)/n`), "gaussian" (:math:`lo, hi = \mu \mp c_B\sigma`, with
    :math:`c_B` = ``refquant.clipping.optimal_clip(min(B, 16), "gaussian")``).

    Parameters
    ----------
    spec : CrossbarSpec
        The crossbar (its ``adc`` and, for "full", its size and operand widths).

    Returns
    -------
    (o, step, n_codes) : (float, float, int)
        Offset and step in pre-ADC units (float64, finite, step > 0) and ``2^bits``.

    Raises
    ------
    TypeError
        ``spec`` is not a :class:`CrossbarSpec`.

    Examples
    --------
    >>> from refquant.imc import ADCSpec, CrossbarSpec
    >>> adc_params(CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=ADCSpec(3)))
    (-36.0, 9.0, 8)
    """
    spec = _check_spec(spec)
    a = spec.adc
    n = 2**a.bits
    if a.range_policy == "granular":
        return (-float(n // 2) if spec.mode == "multibit" else 0.0), 1.0, n
    if a.range_policy == "full":
        if spec.mode == "multibit":
            r = spec.rows * spec.x_max * spec.w_max / a.k
            return -r, 2 * r / n, n
        return 0.0, spec.max_plane_sum / a.k / n, n
    if a.range_policy == "calibrated":
        lo, hi = a.lo, a.hi
    else:
        from ..clipping import optimal_clip

        c = optimal_clip(min(a.bits, 16), "gaussian")
        lo, hi = a.mu - c * a.sigma, a.mu + c * a.sigma
    return lo, (hi - lo) / n, n


def _adc_levels(t: np.ndarray, transfer: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ADC on ``t = (a - o) / step``: ``(q, level)`` with codes ``q`` (float) and the reconstruction
    ``o + level * step`` (``level = q + 1/2`` floor, ``q`` round). The one statement of the formula in the
    NumPy code of refquant.imc."""
    if transfer == "floor":
        q = np.clip(np.floor(t), 0, n - 1)
        return q, q + 0.5
    q = np.clip(np.rint(t), 0, n - 1)
    return q, q


def adc_convert(a, spec: CrossbarSpec) -> tuple[np.ndarray, np.ndarray]:
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

    Returns
    -------
    (codes, reconstruction) : (int64 ndarray, float64 ndarray)
        Both of ``a``'s shape; codes in ``[0, 2^bits - 1]``.

    Raises
    ------
    TypeError
        ``spec`` is not a :class:`CrossbarSpec`; ``a`` is not real numeric.
    ValueError
        ``a`` holds NaN or inf.

    Examples
    --------
    >>> from refquant.imc import ADCSpec, CrossbarSpec
    >>> spec = CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=ADCSpec(3))
    >>> codes, rec = adc_convert([-40.0, 0.0, 4.4, 100.0], spec)
    >>> codes.tolist(), rec.tolist()
    ([0, 4, 4, 7], [-36.0, 0.0, 0.0, 27.0])
    """
    spec = _check_spec(spec)
    o, d, n = adc_params(spec)
    t = (as_real_array(a, "a", allow_empty=True).astype(np.float64) - o) / d
    q, level = _adc_levels(t, spec.adc.transfer, n)
    return q.astype(np.int64), o + level * d
