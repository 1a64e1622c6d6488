"""Where the ACIQ code and Distiller place the clip range of a tensor with a non-zero mean."""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_choice

_CLIP_MODES = {
    "aciq": ("two_sided", "one_sided"),
    "aciq_v1": ("two_sided",),
    "distiller": ("two_sided", "one_sided", "symmetric"),
}


def clip_range(alpha, *, mean=0.0, min_value=None, max_value=None, convention: str = "aciq", mode: str = "two_sided"):
    r"""Where the ACIQ code and Distiller place the clip range of a tensor with mean :math:`\mu`.

    With :math:`\alpha` the clipping value (e.g. ``PUBLISHED_ALPHA[dist][M] * b``)
    :math:`m` the tensor's minimum (``min_value``; ``None``: no bound) and :math:`m'` its maximum
    (``max_value``):

    =============== ========= =======================================================================
    convention      mode      range :math:`[lo, hi]`
    =============== ========= =======================================================================
    ``"aciq"``      two_sided :math:`lo = \max(m, \mu - \alpha)`, :math:`hi = lo + 2\alpha`
    ``"aciq"``      one_sided :math:`[0, \max(\mu, 0) + \alpha]` (:math:`\mu` of the pre-ReLU tensor)
    ``"aciq_v1"``   two_sided :math:`[m, m']` if :math:`\alpha \ge (m' - m)/2`, else as ``"aciq"``
    ``"distiller"`` two_sided :math:`lo = \max(m, \mu - \alpha)`, :math:`hi = lo + 2\alpha`
    ``"distiller"`` one_sided :math:`lo = \max(m, \mu - \alpha)`, :math:`hi = lo + \alpha`
    ``"distiller"`` symmetric :math:`[-(|\mu| + \alpha), |\mu| + \alpha]`
    =============== ========= =======================================================================

    ``"aciq"`` is ``IntQuantizer.alpha2DeltaOffset`` of the ACIQ code
    (``submission2019/cnn-quantization``; the range is quantized with
    :math:`2^M` levels, step :math:`(hi - lo)/(2^M-1)`, zero point rounded
    to an integer: the ``"aciq_runtime"`` grid when :math:`lo = -\alpha`).
    ``"distiller"`` is Distiller's ``AciqAsymmetricClipper`` (two_sided,
    one_sided = its ``half_range``) and ``AciqSymmetricClipper``
    (``LinearQuantMode.SYMMETRIC``). The one-sided ranges differ: at
    :math:`\mu = 0.4b`, :math:`\alpha = 3.89b`, the ACIQ code's ends at
    :math:`4.29b` and Distiller's at :math:`3.89b`. Distiller afterwards widens
    an asymmetric range to contain 0; that step is not applied here.
    ``"aciq_v1"`` is ``alpha2DeltaOffset`` of the first ACIQ code
    (``submission2019/AnalyticalScaleForIntegerQuantization``): a clipping
    value of at least half the range means no clipping, and the range is then
    the tensor's own :math:`[m, m']` (not centred on the mean); it has no
    one-sided mode (its clip path treats every tensor as two-sided).

    Parameters
    ----------
    alpha : array_like
        The clipping value, > 0.
    mean : array_like
        The tensor's mean :math:`\mu`, finite.
    min_value : array_like, optional
        The tensor's minimum :math:`m`, finite (ignored by the ACIQ one-sided and Distiller symmetric
        modes; required by ``"aciq_v1"``).
    max_value : array_like, optional
        The tensor's maximum :math:`m'`, finite, ``>= min_value`` (used by ``"aciq_v1"`` only, which
        requires it; ignored otherwise).
    convention : {"aciq", "aciq_v1", "distiller"}
        Whose placement rule.
    mode : {"two_sided", "one_sided", "symmetric"}
        The range around the mean ("symmetric": Distiller only).

    Returns
    -------
    (lo, hi) : float64 ndarrays of the broadcast shape of ``alpha, mean, min_value`` (and ``max_value``
        for ``"aciq_v1"``).

    Raises
    ------
    TypeError
        ``alpha``/``mean``/``min_value``/``max_value`` not real numeric arrays (bool, complex, object, str);
        non-string ``convention``/``mode``.
    ValueError
        Non-positive ``alpha``, NaN/inf or empty arrays, shapes that do not broadcast, unknown
        ``convention``/``mode``, ``mode="symmetric"`` with ``convention="aciq"``, a range end
        beyond the float64 range; ``convention="aciq_v1"`` without ``min_value``/``max_value`` or with
        ``max_value < min_value``.

    References
    ----------
    Banner, Nahshan & Soudry, NeurIPS 2019 (the paper clips at :math:`\pm\alpha`
    around 0; the placement around the mean is the code's).

    Examples
    --------
    >>> [float(v) for v in clip_range(3.89, mean=0.4, convention="aciq", mode="one_sided")]
    [0.0, 4.29]
    >>> [float(v) for v in clip_range(3.89, mean=0.4, min_value=0.0, convention="distiller", mode="one_sided")]
    [0.0, 3.89]
    >>> [float(v) for v in clip_range(3.0, mean=0.5, min_value=-2.0, max_value=3.0, convention="aciq_v1")]
    [-2.0, 3.0]
    """
    convention = check_choice(convention, tuple(_CLIP_MODES), "convention")
    mode = check_choice(mode, _CLIP_MODES[convention], "mode")
    a = as_float_array(alpha, "alpha", positive=True)
    mu = as_float_array(mean, "mean")
    m = np.float64(-np.inf) if min_value is None else as_float_array(min_value, "min_value")
    v1 = convention == "aciq_v1"
    if v1:
        if min_value is None or max_value is None:
            raise ValueError(
                "convention='aciq_v1' needs min_value and max_value (its clip range falls back to [min, max])"
            )
        mx = as_float_array(max_value, "max_value")
    else:
        mx = np.float64(np.inf)
    try:
        a, mu, m, mx = np.broadcast_arrays(a, mu, m, mx)
    except ValueError:
        raise ValueError(
            f"alpha, mean, min_value and max_value must broadcast to one shape; got shapes {np.shape(a)}, "
            f"{np.shape(mu)}, {np.shape(m)}, {np.shape(mx)}"
        ) from None
    if v1 and np.any(mx < m):
        raise ValueError("max_value must be >= min_value everywhere")
    with np.errstate(over="ignore"):
        if mode == "symmetric":
            hi = np.abs(mu) + a
            lo = -hi
        elif convention == "aciq" and mode == "one_sided":
            lo, hi = np.zeros(a.shape), np.maximum(mu, 0.0) + a
        else:
            lo = np.maximum(m, mu - a)
            hi = lo + (2.0 * a if mode == "two_sided" else a)
            if v1:
                whole = a >= (mx - m) / 2  # the first ACIQ code: no clipping, the tensor's own range
                lo, hi = np.where(whole, m, lo)[()], np.where(whole, mx, hi)[()]
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("alpha/mean: the clip range leaves the float64 range (|mean| + 2 * alpha > 1.8e308)")
    return lo, hi
