r"""Distribution models of weight and activation tensors: Gaussian, Laplace, uniform.

ACIQ (Banner, Nahshan & Soudry, NeurIPS 2019; theory page ``docs/theory/aciq.md``) models a tensor as
zero-mean (or shifted) Gaussian :math:`N(\mu, \sigma^2)` or Laplace :math:`L(\mu, b)`; KURE (Shkolnik et al.,
NeurIPS 2020) adds the uniform :math:`U(\mu - a, \mu + a)`. This module names them, fits
their parameters to data with stated estimators, and converts them to frozen
``scipy.stats`` distributions.

Scale conventions (the ``scale`` argument everywhere in refquant.clipping):

=========== ======================= ================== =====================
name        scale parameter         standard deviation Pearson kurtosis
=========== ======================= ================== =====================
gaussian    :math:`\sigma`          :math:`\sigma`      3
laplace     :math:`b`               :math:`\sqrt2\,b`   6
uniform     half-width :math:`a`    :math:`a/\sqrt3`    1.8
=========== ======================= ================== =====================

Estimators (:func:`fit`), per tensor or per channel along any axis,
accumulated in float64:

* gaussian: ``estimator="aciq"`` (default) :math:`\hat\mu` = mean, :math:`\hat\sigma` = standard deviation
  with ``ddof=1`` (as the ACIQ code); ``estimator="range"``: :math:`\hat\mu` = mean, :math:`\hat\sigma` from the
  range by the extreme-value rule of the first ACIQ code (:func:`range_sigma`);
* laplace: ``estimator="aciq"`` (default) :math:`\hat\mu` = mean,
  :math:`\hat b` = mean :math:`|x - \hat\mu|` (the ACIQ code's estimator;
  not the MLE); ``estimator="mle"``: :math:`\hat\mu` = median,
  :math:`\hat b` = mean :math:`|x - \hat\mu|` (the maximum-likelihood estimate);
* uniform: ``estimator="moments"`` (default) :math:`\hat\mu` = mean,
  :math:`\hat a = \sqrt3\,\hat\sigma`; ``estimator="range"``:
  :math:`\hat\mu = (\max+\min)/2`, :math:`\hat a = (\max-\min)/2`.
"""

from __future__ import annotations

import numpy as np

from ._validate import (
    as_bits_array,
    as_float_array,
    as_real_array,
    channel_rows,
    check_bool,
    check_choice,
    check_frozen_dist,
    check_real,
    pow2_normalize,
    short_repr,
)

__all__ = [
    "DISTRIBUTIONS",
    "STD_PER_SCALE",
    "KURTOSIS",
    "RANGE_SIGMA_CONSTANT",
    "fit",
    "frozen",
    "check_dist",
    "range_sigma",
]

#: Named distributions understood by refquant.clipping and refquant.robustness.
DISTRIBUTIONS = ("gaussian", "laplace", "uniform")

#: Standard deviation of the unit-scale distribution (scale = 1).
STD_PER_SCALE = {"gaussian": 1.0, "laplace": float(np.sqrt(2.0)), "uniform": float(1.0 / np.sqrt(3.0))}

#: Pearson (non-excess) kurtosis E[((X - mu)/sigma)^4].
KURTOSIS = {"gaussian": 3.0, "laplace": 6.0, "uniform": 1.8}

#: The constant :math:`c = 0.175\,(1 + \sqrt{\pi \ln 4})` of the first ACIQ code's range rule
#: :math:`\hat\sigma = c\,(\max - \min)/\sqrt{2 \ln N}` (:func:`range_sigma`), written in that code as
#: ``(0.5 * 0.35) * (1 + (math.pi * math.log(4)) ** 0.5)``; about 0.5402.
RANGE_SIGMA_CONSTANT = (0.5 * 0.35) * (1.0 + float(np.sqrt(np.pi * np.log(4.0))))

_ESTIMATORS = {"gaussian": ("aciq", "range"), "laplace": ("aciq", "mle"), "uniform": ("moments", "range")}


def check_dist(dist, name: str = "dist", *, allow_scipy: bool = True, finite_variance: bool = False):
    """Return the lower-case distribution name, or a frozen scipy.stats continuous distribution unchanged.

    Parameters
    ----------
    dist : str or frozen scipy.stats distribution
        One of :data:`DISTRIBUTIONS` (case-insensitive), or (with ``allow_scipy``) a frozen
        ``rv_continuous`` with valid parameters.
    name : str
        The parameter name used in error messages.
    allow_scipy : bool
        Whether a scipy distribution is accepted.
    finite_variance : bool
        Also require a finite variance (needed by every MSE: with an infinite second moment,
        e.g. ``scipy.stats.cauchy()`` or ``scipy.stats.t(1.5)``, the quantization MSE is infinite).

    Returns
    -------
    str or frozen scipy.stats distribution
        The lower-case name (one of :data:`DISTRIBUTIONS`), or ``dist`` itself (the same object, not a copy).

    Raises
    ------
    TypeError
        ``dist`` is neither a string nor a frozen continuous scipy distribution; a flag is not a bool.
    ValueError
        Unknown name; invalid scipy parameters (``scipy.stats.norm(0, -1)``); infinite variance
        when ``finite_variance`` is set.

    Examples
    --------
    >>> check_dist("Gaussian")
    'gaussian'
    """
    check_bool(allow_scipy, "allow_scipy")
    check_bool(finite_variance, "finite_variance")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if isinstance(dist, str):
        d = dist.lower()
        if d not in DISTRIBUTIONS:
            raise ValueError(
                f"{name}={dist!r} is not a known distribution; allowed: {', '.join(map(repr, DISTRIBUTIONS))}"
                + (" or a frozen scipy.stats continuous distribution" if allow_scipy else "")
            )
        return d
    if allow_scipy and hasattr(dist, "dist"):
        return check_frozen_dist(dist, name, finite_variance=finite_variance)
    raise TypeError(
        f"{name} must be one of {', '.join(map(repr, DISTRIBUTIONS))} (str)"
        + (" or a frozen scipy.stats continuous distribution" if allow_scipy else "")
        + f", got {name}={short_repr(dist)} (type={type(dist).__name__})"
    )


def frozen(dist: str, scale: float = 1.0, loc: float = 0.0):
    r"""The frozen ``scipy.stats`` distribution of a named model with the scale convention above.

    ``gaussian``: ``scipy.stats.norm(loc, scale)``, :math:`N(\mu, \sigma^2)` with :math:`\sigma` = ``scale``;
    ``laplace``: ``scipy.stats.laplace(loc, scale)``, density :math:`e^{-|x-\mu|/b}/(2b)` with :math:`b` = ``scale``;
    ``uniform``: ``scipy.stats.uniform(loc - scale, 2 * scale)``, :math:`U(\mu - a, \mu + a)` with :math:`a` =
    ``scale`` (the half-width, as ACIQ and KURE write it; scipy's own ``scale`` is the full width).

    Parameters
    ----------
    dist : {"gaussian", "laplace", "uniform"}
        The model (case-insensitive).
    scale : float
        The scale parameter of the table above (> 0, finite): :math:`\sigma`, :math:`b` or the half-width :math:`a`.
    loc : float
        The location :math:`\mu` (finite; default 0).

    Returns
    -------
    scipy.stats frozen distribution
        A new frozen continuous distribution.

    Raises
    ------
    TypeError
        ``dist`` not a str; ``scale``/``loc`` not real numbers.
    ValueError
        Unknown ``dist``; ``scale <= 0``; ``scale`` or ``loc`` NaN or infinite.

    Examples
    --------
    >>> d = frozen("uniform", scale=2.0, loc=1.0)
    >>> float(d.ppf(0.0)), float(d.ppf(1.0)), round(float(d.std()), 12) == round(2.0 / 3**0.5, 12)
    (-1.0, 3.0, True)
    """
    from scipy import stats

    d = check_dist(dist, allow_scipy=False)
    scale = check_real(scale, "scale", lo=0.0, lo_open=True)
    loc = check_real(loc, "loc")
    if d == "gaussian":
        return stats.norm(loc=loc, scale=scale)
    if d == "laplace":
        return stats.laplace(loc=loc, scale=scale)
    return stats.uniform(loc=loc - scale, scale=2 * scale)


def fit(x, dist: str, *, axis: int | None = None, estimator: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Estimate ``(loc, scale)`` of a named model from data, per tensor or per channel.

    Parameters
    ----------
    x : array_like
        The data: real, finite, non-empty (float32 input is accumulated in float64).
    dist : {"gaussian", "laplace", "uniform"}
        The model to fit (case-insensitive).
    axis : int or None
        Channel axis: one estimate per index along ``axis`` (statistics over
        all other axes). ``None``: one estimate for the whole tensor.
    estimator : str, optional
        ``"aciq"`` (gaussian, laplace), ``"range"`` (gaussian: :func:`range_sigma` with :math:`N` the number of
        values per channel; uniform), ``"mle"`` (laplace), ``"moments"`` (uniform), see the module docstring;
        default ``"aciq"`` (gaussian, laplace) or ``"moments"`` (uniform).

    Returns
    -------
    loc : numpy.ndarray
        float64, shape ``()`` (per tensor) or ``(C,)``: :math:`\hat\mu`.
    scale : numpy.ndarray
        float64, same shape: the scale parameter of the table above (0 for a constant channel). The
        estimates are computed on ``x`` rescaled by an exact power of two, so they are scale-equivariant
        (``fit(x * 2**k)`` is ``2**k`` times ``fit(x)``) up to the float64 limits.

    Raises
    ------
    TypeError
        ``x`` is not a real numeric array (complex, bool, object, str); ``dist`` or
        ``estimator`` not a str; ``axis`` not an int or None.
    ValueError
        Unknown ``dist``/``estimator``; empty ``x`` or an empty channel; NaN/inf in ``x``;
        ``axis`` out of range; fewer than 2 values per channel for the gaussian estimators.

    References
    ----------
    Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for
    rapid-deployment", NeurIPS 2019; its released code (``submission2019/cnn-quantization``) fits the Gaussian with
    the ``ddof=1`` standard deviation and the Laplace with :math:`b = \mathrm{mean}|x - \bar x|`.

    Examples
    --------
    >>> loc, b = fit([-2.0, 0.0, 2.0, 4.0], "laplace")
    >>> float(loc), float(b)
    (1.0, 2.0)
    """
    d = check_dist(dist, allow_scipy=False)
    est = _ESTIMATORS[d][0] if estimator is None else check_choice(estimator, _ESTIMATORS[d], "estimator")
    a, e = pow2_normalize(as_real_array(x, "x"))  # exact power-of-two rescaling: no overflow of (x - mean)**2
    v = channel_rows(a, axis, "x")
    if d == "gaussian":
        if v.shape[1] < 2:
            raise ValueError(f"x: the gaussian estimators need >= 2 values per channel, got {v.shape[1]}")
        loc = v.mean(axis=1)
        if est == "aciq":
            scale = v.std(axis=1, ddof=1)
        else:
            scale = _range_sigma(v.min(axis=1), v.max(axis=1), v.shape[1])
    elif d == "laplace":
        loc = v.mean(axis=1) if est == "aciq" else np.median(v, axis=1)
        scale = np.abs(v - loc[:, None]).mean(axis=1)
    elif est == "moments":
        loc = v.mean(axis=1)
        scale = np.sqrt(3.0) * v.std(axis=1)
    else:
        lo, hi = v.min(axis=1), v.max(axis=1)
        loc, scale = (hi + lo) / 2, (hi - lo) / 2
    loc, scale = np.ldexp(loc, e), np.ldexp(scale, e)
    if not (np.all(np.isfinite(loc)) and np.all(np.isfinite(scale))):
        raise ValueError("x: the fitted loc/scale overflow float64 (values near the float64 limit); rescale x first")
    if axis is None:
        return loc.reshape(()), scale.reshape(())
    return loc, scale


def _range_sigma(lo: np.ndarray, hi: np.ndarray, n) -> np.ndarray:
    return (hi - lo) * RANGE_SIGMA_CONSTANT / np.sqrt(2.0 * np.log(n))


def range_sigma(min_value, max_value, n) -> np.ndarray:
    r"""The first ACIQ code's Gaussian scale estimate from a tensor's range.

    .. math::

        \hat\sigma = \frac{c\,(\max - \min)}{\sqrt{2 \ln N}}, \qquad
        c = 0.175\,\big(1 + \sqrt{\pi \ln 4}\big) \approx 0.5402

    (:data:`RANGE_SIGMA_CONSTANT`). The leading term of the extreme-value law of :math:`N` independent
    Gaussian samples is :math:`E[\max - \min] \approx 2\sigma\sqrt{2 \ln N}`, i.e.
    :math:`c = 0.5`; the code multiplies that by 1.0804. For Gaussian data the rule is biased low at
    small :math:`N` and nearly unbiased at :math:`N \approx 10^6`: :math:`E[\hat\sigma]/\sigma` =
    0.775, 0.893, 0.942, 0.970, 0.987, 0.9995, 1.009 at :math:`N = 10, 10^2, \ldots, 10^7` (the
    expectation of the sample range by quadrature of the density of the maximum; checked against
    Monte Carlo in the tests).

    The first ACIQ code (``submission2019/AnalyticalScaleForIntegerQuantization``,
    ``IntQuantizer.get_alpha_gaus``) clips Gaussian-modelled tensors at
    :math:`\alpha = \alpha^*_M \hat\sigma` with this :math:`\hat\sigma`; its :math:`N` is the
    number of elements of one sample (:math:`C \cdot H \cdot W`) for a 4-D activation, and of the whole
    tensor otherwise, while ``min`` and ``max`` are taken over the whole batch (or averaged over
    calibration batches). The later code (``submission2019/cnn-quantization``) still defines the constant, unused, but
    estimates :math:`\sigma` with the standard deviation (:func:`fit`, ``estimator="aciq"``).

    Parameters
    ----------
    min_value : array_like
        The tensor's minimum (finite real).
    max_value : array_like
        The tensor's maximum (finite real, ``>= min_value``; broadcast against ``min_value``).
    n : int or array_like of int
        The sample count :math:`N` of the rule, an integer ``>= 2`` (broadcast against the ranges).

    Returns
    -------
    numpy.ndarray
        float64 :math:`\hat\sigma` of the broadcast shape (0-d for scalar inputs), computed in float64 as
        ``(max - min) * c / sqrt(2 * log(N))``.

    Raises
    ------
    TypeError
        ``min_value``/``max_value`` not real numeric arrays (bool, complex, object, str); ``n`` not integers.
    ValueError
        NaN/inf or empty arrays; ``max_value < min_value``; ``n < 2``; shapes that do not broadcast;
        a range beyond the float64 range.

    References
    ----------
    Banner, Nahshan & Soudry, "ACIQ: Analytical Clipping for Integer Quantization of neural networks",
    arXiv 1810.05723 v1 (2018), and its released code.

    Examples
    --------
    >>> round(float(range_sigma(-4.0, 4.0, 10**6)), 6)   # N(0, 1) data of a million values span about 9.7
    0.822153
    """
    lo = as_float_array(min_value, "min_value")
    hi = as_float_array(max_value, "max_value")
    n = as_bits_array(n, "n", lo=2, hi=2**62)
    try:
        lo, hi, n = np.broadcast_arrays(lo, hi, n)
    except ValueError:
        raise ValueError(
            f"min_value, max_value and n must broadcast to one shape; got shapes {lo.shape}, {hi.shape}, {n.shape}"
        ) from None
    if np.any(hi < lo):
        i = int(np.flatnonzero(hi < lo)[0])
        raise ValueError(
            f"max_value must be >= min_value; got max_value={float(hi.flat[i])!r} < "
            f"min_value={float(lo.flat[i])!r} at flat index {i}"
        )
    with np.errstate(over="ignore"):
        out = _range_sigma(lo, hi, n.astype(np.float64))
    if not np.all(np.isfinite(out)):
        raise ValueError("max_value - min_value overflows float64; rescale the data first")
    return out
