"""The paper's MSE model of clipping (ACIQ, Banner et al. 2019, eq. 5 and its Gaussian analogue) and its
minimiser."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._validate import as_bits_array, as_float_array, check_bool
from ..distributions import check_dist

_SQRT2 = math.sqrt(2.0)

#: alpha* / scale as published in the ACIQ code's runtime tables (2 decimals, sometimes truncated rather
#: than rounded). Laplace in units of b, Gaussian in units of sigma; signed.
PUBLISHED_ALPHA = {
    "laplace": {0: 1.05, 1: 1.86, 2: 2.83, 3: 3.89, 4: 5.03, 5: 6.2, 6: 7.41, 7: 8.64, 8: 9.89},
    "gaussian": {1: 1.24, 2: 1.71, 3: 2.15, 4: 2.55, 5: 2.93, 6: 3.28, 7: 3.61, 8: 3.92},
}


def _tail2_unit(u: np.ndarray, dist) -> np.ndarray:
    """Two-sided clipping term E[(|X| - u)_+^2] for a unit-scale named distribution."""
    if dist == "gaussian":
        # beyond u = 40 the term is below 1e-340 (0 in float64); the guard avoids inf * 0 for u near the float limit
        uu = np.minimum(u, 40.0)
        return np.where(
            u < 40.0,
            (uu**2 + 1.0) * special.erfc(uu / _SQRT2) - math.sqrt(2.0 / math.pi) * uu * np.exp(-(uu**2) / 2),
            0.0,
        )
    if dist == "laplace":
        return 2.0 * np.exp(-u)
    # uniform on [-1, 1]: 2 * int_u^1 (x - u)^2 / 2 dx
    return np.where(u < 1.0, (1.0 - np.minimum(u, 1.0)) ** 3 / 3.0, 0.0)


def _tail2_scipy(alpha: float, d) -> float:
    from scipy import integrate

    lo, hi = d.support()
    right = (
        integrate.quad(lambda x: (x - alpha) ** 2 * d.pdf(x), max(alpha, lo), hi, limit=200)[0] if hi > alpha else 0.0
    )
    left = (
        integrate.quad(lambda x: (x + alpha) ** 2 * d.pdf(x), lo, min(-alpha, hi), limit=200)[0] if lo < -alpha else 0.0
    )
    return right + left


def _bins_array(bits, bins):
    """Bin counts omega (float64 array): 2**bits, or the real ``bins`` (then bits must be None)."""
    if bins is None:
        if bits is None:
            raise TypeError("bits must be an int (or pass bins, a real bin count > 0); got bits=None and bins=None")
        return 2.0 ** as_bits_array(bits, "bits", 0, 32).astype(np.float64)
    if bits is not None:
        raise ValueError(f"pass either bits or bins, not both (got bits={bits!r} and bins); bins replaces 2**bits")
    w = as_float_array(bins, "bins", positive=True)
    if np.any(w > 2.0**32):
        raise ValueError(f"bins={float(w[w > 2.0**32].flat[0])!r} is out of range; allowed: 0 < bins <= 2**32")
    return w


def mse_aciq(alpha, bits, dist, scale=1.0, *, signed: bool = True, bins=None):
    r"""The paper's MSE model of clipping at :math:`\pm\alpha` with ``bits`` bits (ACIQ eq. 5).

    .. math::
        \mathrm{MSE}(\alpha) = \underbrace{E[(|X| - \alpha)_+^2]}_{\text{clipping, exact}}
                              + \frac{\alpha^2}{3\cdot 4^M}

    Laplace (paper eq. 5): :math:`2b^2e^{-\alpha/b} + \alpha^2/(3\cdot4^M)`;
    Gaussian: :math:`(\alpha^2+\sigma^2)\,\mathrm{erfc}(\alpha/\sqrt2\sigma)
    - \sqrt{2/\pi}\,\alpha\sigma e^{-\alpha^2/2\sigma^2} + \alpha^2/(3\cdot4^M)`
    (``erfc``, not ``1 - erf``: the code's ``1 - erf`` form cancels catastrophically and loses
    the optimum above ~20 bits). ``signed=False`` (post-ReLU, as the ACIQ code): half the clipping term
    plus :math:`\alpha^2/(24\cdot4^M)`.

    With a real bin count :math:`\omega` (``bins=``, the ACIQ code's mid-tread
    path with variable-length coding) the rounding term is
    :math:`\alpha^2/(3\omega^2)` (:math:`\alpha^2/(24\omega^2)` one-sided):
    eq. 5 with :math:`2^M` replaced by :math:`\omega`.

    Parameters
    ----------
    alpha : array_like
        Clipping value, > 0, in the units of the data.
    bits : int or int array
        0..32 (0 bits = one bin, as the code's tables allow), or None when ``bins`` is given.
    dist : str or scipy.stats frozen distribution
        "gaussian", "laplace", "uniform" (scale = half-width) or a frozen
        scipy.stats continuous distribution (clipping term by quadrature; then
        ``X = scale * D``).
    scale : array_like
        Sigma, b or the half-width, > 0.
    signed : bool
        Two-sided (True) or the one-sided post-ReLU model (False).
    bins : array_like of reals in (0, 2**32], optional
        The number of bins :math:`\omega` (need not be an integer or a power
        of two); replaces :math:`2^M`, so ``bits`` must be None.

    Returns
    -------
    float64 ndarray (the broadcast shape of ``alpha, bits or bins, scale``); squared units of the data.

    Raises
    ------
    TypeError
        Non-real ``alpha``/``scale``/``bins``, non-integer ``bits`` (``bits=None`` without ``bins``),
        non-bool ``signed``, or a ``dist`` that is neither a known name nor a frozen scipy distribution.
    ValueError
        ``alpha``, ``scale`` or ``bins`` not > 0 or not finite, ``bits`` outside 0..32, both ``bits`` and
        ``bins`` given, ``bins > 2**32``, an unknown distribution name; a scipy distribution with
        invalid parameters (``scipy.stats.norm(0, -1)``) or infinite variance (``scipy.stats.cauchy()``,
        ``scipy.stats.t(1.5)``: the MSE is infinite, the model would return a negative number); an MSE
        outside the float64 range.

    Examples
    --------

    >>> round(float(mse_aciq(2.83068, 2, "laplace")), 6)  # eq. 5 at the 2-bit optimum: 2e^-a + a^2/48
    0.284878
    >>> bool(mse_aciq(2.83068, None, "laplace", bins=4.0) == mse_aciq(2.83068, 2, "laplace"))
    True
    """
    d = check_dist(dist, finite_variance=True)
    signed = check_bool(signed, "signed")
    a = as_float_array(alpha, "alpha", positive=True)
    w = _bins_array(bits, bins)
    s = as_float_array(scale, "scale", positive=True)
    a, w, s = np.broadcast_arrays(a, w, s)
    with np.errstate(over="ignore", under="ignore"):
        u = a / s
        if isinstance(d, str):
            tail = _tail2_unit(u, d)
        else:
            tail = np.vectorize(lambda uu: _tail2_scipy(float(uu), d), otypes=[float])(u)
        # each term in the units of the data, never through scale**2 or u**2 alone (1e-300 and 1e300 stay finite)
        clip_term = (s * tail) * s
        rounding = (a / (3.0 * w**2)) * a
        out = clip_term + rounding if signed else 0.5 * clip_term + rounding / 8.0
    _check_mse_range(out, "alpha/scale")
    return np.asarray(out, dtype=np.float64)


def _check_mse_range(out: np.ndarray, names: str) -> None:
    """An MSE (a positive quantity) that over- or underflows float64 is an error, never inf or 0."""
    if not np.all(np.isfinite(out)) or np.any(np.asarray(out) <= 0):
        raise ValueError(
            f"{names}: the MSE is outside the float64 range (it scales as scale**2 and alpha**2); "
            "rescale the data (the MSE of X/c is the MSE of X divided by c**2)"
        )


def _aciq_optimum_unit(bits: int, d, signed: bool) -> float:
    """alpha* / scale of the paper's model at M bits."""
    return _aciq_optimum_bins(2.0**bits, d, signed)


def _aciq_optimum_bins(omega: float, d, signed: bool) -> float:
    """alpha* / scale of the paper's model with omega bins (closed form for Laplace, root of the stationarity
    condition otherwise); one-sided with omega bins == signed with 2 * omega (same rounding term)."""
    from scipy import optimize

    w = omega if signed else 2.0 * omega
    c = 3.0 * w * w
    if d == "laplace":
        return float(special.lambertw(c).real)  # d/du [2e^-u + u^2/(3 w^2)] = 0  <=>  u e^u = 3 w^2
    if d == "gaussian":

        def g(u):  # E[(|X|-u)_+] - u / (3 w^2) = 0: the stationarity condition of the Gaussian model
            return math.sqrt(2.0 / math.pi) * math.exp(-u * u / 2) - u * special.erfc(u / _SQRT2) - u / c

        return float(optimize.brentq(g, 1e-12, 60.0, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    if d == "uniform":
        return float(
            optimize.brentq(lambda u: -((1 - u) ** 2) + 2 * u / c, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
        )
    f = lambda u: float(mse_aciq(u, None, d, 1.0, signed=signed, bins=omega))  # noqa: E731
    return _minimize_1d(f, float(np.sqrt(d.var())) * 2.0)


def _minimize_1d(f, guess: float) -> float:
    """Global-then-local minimisation of a 1-D function of u > 0: log grid scan, then bounded Brent."""
    from scipy import optimize

    us = guess * np.geomspace(0.05, 8.0, 121)
    vals = np.array([f(float(u)) for u in us])
    i = int(np.argmin(vals))
    lo = us[max(i - 1, 0)]
    hi = us[min(i + 1, len(us) - 1)]
    r = optimize.minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13 * guess, "maxiter": 500})
    best = float(r.x)
    return best if f(best) <= vals[i] else float(us[i])
