"""W-reshape (RAOQ eqs. 6-7): flatten weights toward a target kurtosis before quantizing them."""

from __future__ import annotations

import numpy as np

from .._validate import as_real_array, check_int


def w_reshape(w, bits: int, *, target: float = 1.8, steps: int = 300, lr: float = 0.001, mu: float = 0.05):
    r"""W-reshape (RAOQ eqs. 6-7): flatten float weights toward kurtosis ``target``, then quantize them.

    The kurtosis is driven toward ``target`` with the KURE gradient
    (:func:`refquant.kurtosis.kurtosis_shaping`, ``steps`` steps of size ``lr`` with weight-decay-like
    pull ``mu``), then the weights are quantized symmetric max-abs to ``bits``-bit codes (per-tensor
    scale, refquant.uniform's narrow signed grid). A flatter weight distribution has a larger code
    variance :math:`\mathrm{Var}[W_q]/w_{max}^2`, which the ADC's SQNR grows with.

    Parameters
    ----------
    w : array_like of real, finite, non-empty
        Float weights (any shape).
    bits : int
        Code width, 2 <= bits <= 16.
    target, steps, lr, mu
        Passed to :func:`refquant.kurtosis.kurtosis_shaping` (validated there).

    Returns
    -------
    (codes, stats) : (int64 ndarray, dict)
        Codes of ``w``'s shape in ``[-(2^(bits-1)-1), 2^(bits-1)-1]``, and a dict with
        ``kurtosis_before``, ``kurtosis_after``, ``code_var_before``, ``code_var_after`` (floats).

    Raises
    ------
    TypeError, ValueError
        Bad ``w`` or ``bits``, or a parameter rejected by ``kurtosis_shaping``.
    """
    from .. import QuantSpec, calibrate_minmax, quantize
    from ..kurtosis import kurtosis, kurtosis_shaping

    wa = as_real_array(w, "w").astype(np.float64)
    bits = check_int(bits, "bits", 2, 16)
    steps = check_int(steps, "steps", 0, 10**7)  # checked here: record_every=max(steps, 1) below needs an int
    spec = QuantSpec(bits, narrow_range=True)
    wmax = 2 ** (bits - 1) - 1

    def q(v):
        s, z = calibrate_minmax(v, spec)
        return quantize(v, s, z, spec).astype(np.int64)

    shaped = kurtosis_shaping(wa, target=target, steps=steps, lr=lr, mu=mu, record_every=max(steps, 1))[-1][2]
    q0, q1 = q(wa), q(shaped)
    stats = {
        "kurtosis_before": float(kurtosis(wa)),
        "kurtosis_after": float(kurtosis(shaped)),
        "code_var_before": float(q0.var() / wmax**2),
        "code_var_after": float(q1.var() / wmax**2),
    }
    return q1.reshape(wa.shape), stats
