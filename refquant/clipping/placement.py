"""Where the ACIQ code and Distiller place the clip range of a tensor with a non-zero mean."""
from __future__ import annotations

import numpy as np

from .._validate import as_real_array
from ..specs import _choice
from .grids import _positive_array

_CLIP_MODES = {"aciq": ("two_sided", "one_sided"), "distiller": ("two_sided", "one_sided", "symmetric")}


def clip_range(alpha, *, mean=0.0, min_value=None, convention: str = "aciq", mode: str = "two_sided"):
    r"""Where the ACIQ code and Distiller place the clip range of a tensor with mean :math:`\mu`.

    With :math:`\alpha` the clipping value (e.g. ``PUBLISHED_ALPHA[dist][M] * b``)
    and :math:`m` the tensor's minimum (``min_value``; ``None``: no bound):

    =============== ========= =======================================================================
    convention      mode      range :math:`[lo, hi]`
    =============== ========= =======================================================================
    ``"aciq"``      two_sided :math:`lo = \max(m, \mu - \alpha)`, :math:`hi = lo + 2\alpha`
    ``"aciq"``      one_sided :math:`[0, \max(\mu, 0) + \alpha]` (:math:`\mu` of the pre-ReLU tensor)
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

    Parameters
    ----------
    alpha : array_like > 0, the clipping value.
    mean : array_like, finite: the tensor's mean :math:`\mu`.
    min_value : array_like, finite, optional: the tensor's minimum :math:`m`
        (ignored by the ACIQ one-sided and Distiller symmetric modes).
    convention : {"aciq", "distiller"}
    mode : {"two_sided", "one_sided", "symmetric"} ("symmetric": Distiller only).

    Returns
    -------
    (lo, hi) : float64 ndarrays of the broadcast shape of ``alpha, mean, min_value``.

    Raises
    ------
    TypeError
        Non-real arrays; non-string ``convention``/``mode``.
    ValueError
        Non-positive ``alpha``, NaN/inf, unknown ``convention``/``mode``,
        ``mode="symmetric"`` with ``convention="aciq"``.

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
    """
    convention = _choice(convention, tuple(_CLIP_MODES), "convention")
    mode = _choice(mode, _CLIP_MODES[convention], "mode")
    a = _positive_array(alpha, "alpha")
    mu = as_real_array(mean, "mean").astype(np.float64)
    m = np.float64(-np.inf) if min_value is None else as_real_array(min_value, "min_value").astype(np.float64)
    a, mu, m = np.broadcast_arrays(a, mu, m)
    if mode == "symmetric":
        hi = np.abs(mu) + a
        return -hi, hi
    if convention == "aciq" and mode == "one_sided":
        return np.zeros(a.shape), np.maximum(mu, 0.0) + a
    lo = np.maximum(m, mu - a)
    return lo, lo + (2.0 * a if mode == "two_sided" else a)
