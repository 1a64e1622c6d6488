"""The exact expected squared error of a real clipping grid (cell-by-cell quadrature; numerics in
:mod:`refquant.clipping`)."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._validate import MAX_BITS, as_bits_array, as_float_array, check_bool
from ..distributions import check_dist
from .grids import _check_grid, _min_bits, grid_levels
from .paper import _check_mse_range

_GL_X16, _GL_W16 = np.polynomial.legendre.leggauss(16)
_GL_X8, _GL_W8 = np.polynomial.legendre.leggauss(8)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _pdf_unit(x: np.ndarray, d) -> np.ndarray:
    if d == "gaussian":
        return np.exp(-(x**2) / 2) / _SQRT2PI
    if d == "laplace":
        return 0.5 * np.exp(-np.abs(x))
    if d == "uniform":
        return np.where(np.abs(x) <= 1.0, 0.5, 0.0)
    return d.pdf(x)


def _right_tail_unit(t: float, q: float, d) -> tuple[float, float]:
    """(int_t^inf (x - q)^2 f(x) dx, error estimate) for a unit-scale distribution."""
    if d == "gaussian":
        qt = 0.5 * special.erfc(t / _SQRT2)
        phi = math.exp(-t * t / 2) / _SQRT2PI
        return (1 + q * q) * qt + (t - 2 * q) * phi, 0.0
    if d == "laplace":
        if t < 0:  # never happens for the grids here (outer thresholds are >= 0); split at 0 for safety
            inner = _gl(np.array([t]), np.array([0.0]), np.array([q]), d)[0]
            return inner + _right_tail_unit(0.0, q, d)[0], 0.0
        return 0.5 * math.exp(-t) * ((t - q) ** 2 + 2 * (t - q) + 2), 0.0
    if d == "uniform":
        return 0.0, 0.0  # the support end is a breakpoint, so the unbounded cell starts at >= 1
    from scipy import integrate

    lo, hi = d.support()
    if hi <= t:
        return 0.0, 0.0
    val, err = integrate.quad(lambda x: (x - q) ** 2 * d.pdf(x), max(t, lo), hi, limit=200, epsabs=0.0, epsrel=1e-12)
    return val, err


def _left_tail_unit(t: float, q: float, d) -> tuple[float, float]:
    """int_-inf^t (x - q)^2 f(x) dx."""
    if isinstance(d, str):  # symmetric named densities: mirror
        return _right_tail_unit(-t, -q, d)
    from scipy import integrate

    lo, hi = d.support()
    if lo >= t:
        return 0.0, 0.0
    return integrate.quad(lambda x: (x - q) ** 2 * d.pdf(x), lo, min(t, hi), limit=200, epsabs=0.0, epsrel=1e-12)


def _gl(a: np.ndarray, b: np.ndarray, q: np.ndarray, d, nodes=(_GL_X16, _GL_W16)) -> np.ndarray:
    """Gauss-Legendre integral of (x - q)^2 f(x) over each [a_i, b_i]."""
    xg, wg = nodes
    half = (b - a)[:, None] / 2
    mid = (a + b)[:, None] / 2
    x = mid + half * xg[None, :]
    return (half[:, 0]) * (((x - q[:, None]) ** 2 * _pdf_unit(x, d)) @ wg)


def _mse_exact_unit(u: float, bits: int, grid: str, signed: bool, d) -> tuple[float, float]:
    """Exact MSE and an error estimate at clip u for the unit-scale distribution d."""
    levels, thr = grid_levels(u, bits, grid, signed=signed)
    kinks = [0.0]
    if d == "uniform":
        kinks += [-1.0, 1.0]
    elif not isinstance(d, str):
        lo, hi = d.support()
        kinks += [v for v in (lo, hi) if np.isfinite(v)]
    lo_dom = -np.inf if signed else 0.0
    inner_pts = np.unique(np.concatenate([thr, [k for k in kinks if k > lo_dom]]))
    inner_pts = inner_pts[inner_pts > lo_dom]
    # bounded pieces between consecutive points; each piece lies in one cell (its level by the midpoint)
    a = inner_pts[:-1]
    b = inner_pts[1:]
    total, err = 0.0, 0.0
    if a.size:
        mids = (a + b) / 2
        q = levels[np.searchsorted(thr, mids)]
        v16 = _gl(a, b, q, d)
        total += float(np.sum(v16))
        if not isinstance(d, str):
            err += float(np.sum(np.abs(v16 - _gl(a, b, q, d, (_GL_X8, _GL_W8)))))
    # the unbounded right piece
    t_hi = inner_pts[-1]
    val, e = _right_tail_unit(float(t_hi), float(levels[np.searchsorted(thr, t_hi + 1.0)]), d)
    total += val
    err += e
    if signed:
        t_lo = inner_pts[0]
        val, e = _left_tail_unit(float(t_lo), float(levels[np.searchsorted(thr, t_lo - 1.0)]), d)
        total += val
        err += e
    else:
        # atom at 0 of X = max(Y, 0): P(Y <= 0) at the level nearest to 0, plus (0, first point) piece
        p0 = 0.5 if isinstance(d, str) else float(d.cdf(0.0))
        q0 = float(levels[0])
        total += p0 * q0 * q0
        if inner_pts[0] > 0:
            v = _gl(np.array([0.0]), inner_pts[:1], np.array([q0]), d)
            total += float(v[0])
    return total, err


def mse_exact(alpha, bits, dist, scale=1.0, *, grid: str = "midrise", signed: bool = True, return_error: bool = False):
    r"""Exact expected squared error :math:`E[(Q(X) - X)^2]` of a real clipping grid (no approximation).

    .. math:: \mathrm{MSE}(\alpha) = \sum_{\text{cells } i} \int_{t_{i-1}}^{t_i} (x - q_i)^2 f(x)\,dx,
              \qquad t_0 = -\infty,\ t_L = +\infty

    with the levels :math:`q_i` and thresholds :math:`t_i` of :func:`grid_levels`
    (the end cells hold the clipped tails). See the module docstring for the
    grids, the one-sided variant and the numerics.

    Parameters
    ----------
    alpha : array_like
        Clipping value, > 0 (units of the data).
    bits : int or int array
        1..16 (2..16 for ``grid="symmetric"``).
    dist : str or scipy.stats frozen distribution
        "gaussian", "laplace", "uniform" or a frozen scipy.stats continuous
        distribution (then ``X = scale * D``).
    scale : array_like
        Scale of the distribution, > 0.
    grid : {"paper", "midrise", "endpoint", "symmetric", "aciq_runtime"}
        The quantizer grid (default "midrise").
    signed : bool
        ``False`` = one-sided post-ReLU variant.
    return_error : bool
        Also return an absolute error estimate (0 for the named
        distributions, whose error is at rounding level).

    Returns
    -------
    float64 ndarray of the broadcast shape (and the error estimate if requested).

    Raises
    ------
    TypeError
        Non-real ``alpha``/``scale``, non-integer ``bits``, non-bool flags, an unusable ``dist``.
    ValueError
        ``alpha`` or ``scale`` not > 0 or not finite, ``bits`` out of range for ``grid``, an unknown
        ``grid`` or distribution name; a scipy distribution with invalid parameters or infinite
        variance (the MSE is infinite; quadrature would return a meaningless, even negative, number);
        an MSE outside the float64 range.

    Examples
    --------

    >>> round(float(mse_exact(1.0, 1, "gaussian", grid="midrise")), 6)  # E[(X - sign(X)/2)^2] = 1.25 - sqrt(2/pi)
    0.452115
    """
    d = check_dist(dist, finite_variance=True)
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    return_error = check_bool(return_error, "return_error")
    a = as_float_array(alpha, "alpha", positive=True)
    m = as_bits_array(bits, "bits", _min_bits(grid, signed), MAX_BITS)
    s = as_float_array(scale, "scale", positive=True)
    a, m, s = np.broadcast_arrays(a, m, s)
    out = np.empty(a.shape, dtype=np.float64)
    err = np.empty(a.shape, dtype=np.float64)
    for idx in np.ndindex(a.shape):
        with np.errstate(over="ignore", under="ignore"):
            u = float(a[idx] / s[idx])
        if not (np.isfinite(u) and u > 0):
            raise ValueError(f"alpha/scale: alpha / scale = {u!r} is outside the float64 range")
        v, e = _mse_exact_unit(u, int(m[idx]), grid, signed, d)
        with np.errstate(over="ignore", under="ignore"):
            out[idx] = (v * s[idx]) * s[idx]
            err[idx] = (e * s[idx]) * s[idx]
    _check_mse_range(out, "alpha/scale")
    return (out, err) if return_error else out
