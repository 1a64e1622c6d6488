r"""Analytic MSE-optimal clipping (ACIQ): the paper's model, the exact expectation, and solvers.

Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional
networks for rapid-deployment" (NeurIPS 2019), and the quantizer its released
code ran (``docs/authors_code.md``).

Two models of the expected squared error of clipping a random variable ``X``
at :math:`\pm\alpha` and quantizing with ``M`` bits:

* ``mse_aciq`` — **the paper's model** (eq. 5 and its Gaussian analogue):
  exact clipping-tail integral plus the rounding noise
  :math:`\Delta^2/12` with :math:`\Delta = 2\alpha/2^M`, i.e.
  :math:`\alpha^2/(3\cdot4^M)`, as if all probability mass were inside
  :math:`[-\alpha, \alpha]` and the density flat within each bin.
* ``mse_exact`` — **the exact expectation** :math:`E[(Q(X) - X)^2]` for a real
  quantizer grid ``Q``: a sum over every quantization cell, no within-bin
  approximation. Grids, each the exact image of
  :mod:`refquant.uniform` (see :func:`quantize_on_grid`):

  * ``paper``: levels :math:`k\Delta`, :math:`|k| \le 2^{M-1}`,
    :math:`\Delta = 2\alpha/2^M` (2^M+1 levels: one more than M bits hold;
    the paper's simulation); image
    ``fake_quant(clip(x, -a, a), D, 0, QuantSpec(M+1))``.
  * ``midrise``: :math:`(k+\frac12)\Delta`, :math:`-2^{M-1} \le k < 2^{M-1}`,
    :math:`\Delta = 2\alpha/2^M`; image
    ``fake_quant(x, D, 0, QuantSpec(M, rounding="floor")) + D/2``.
  * ``endpoint``: :math:`-\alpha + i\Delta`, :math:`0 \le i < 2^M`,
    :math:`\Delta = 2\alpha/(2^M-1)`; image
    ``fake_quant(x, D, 0, QuantSpec(M, rounding="floor")) + D/2``.
  * ``symmetric``: :math:`k\Delta`, :math:`|k| \le 2^{M-1}-1`,
    :math:`\Delta = \alpha/(2^{M-1}-1)`; image
    ``fake_quant(x, D, 0, QuantSpec(M, narrow_range=True))``.
  * ``aciq_runtime``: :math:`k\Delta`, :math:`-2^{M-1} \le k < 2^{M-1}`,
    :math:`\Delta = 2\alpha/(2^M-1)` (what the ACIQ code and Distiller's
    SYMMETRIC mode ran); image ``fake_quant(x, D, 0, QuantSpec(M))``.

  ``endpoint`` is the symmetric endpoint-inclusive grid (levels
  :math:`(k+\frac12)\Delta`: one fake-quant of ``x`` with floor rounding,
  then half a step up). ``aciq_runtime`` is the grid the ACIQ code's
  quantizer ran for a zero-mean tensor clipped to :math:`[-\alpha, \alpha]`
  (range :math:`2\alpha` over :math:`2^M-1` steps, zero point
  :math:`\mathrm{round}(\alpha/\Delta) = 2^{M-1}`): its lowest level lies
  :math:`\Delta/2` beyond :math:`-\alpha`, its highest :math:`\Delta/2`
  inside :math:`\alpha`. Its image rounds half to even like the ACIQ
  clip path's ``torch.round`` (``docs/authors_code.md`` gives the exact
  arithmetic, the CUDA kernel's half-up ties and the float32 zero point).
  refquant's own asymmetric calibration (:func:`refquant.calibrate_minmax`
  with ``symmetric=False``) rounds the zero point to an integer, which shifts
  that grid by up to half a step; use :func:`optimal_clip_empirical` for it.

``signed=False`` is the one-sided (post-ReLU) variant: ``X =
max(Y, 0)`` with ``Y`` the given symmetric distribution, clipped to
:math:`[0, \alpha]`; the grids are the unsigned versions (``paper``: levels
:math:`k\alpha/2^M`, :math:`0\le k\le 2^M`; ``midrise``: :math:`(k+\frac12)\alpha/2^M`;
``endpoint`` and ``aciq_runtime``: :math:`k\alpha/(2^M-1)`, refquant's unsigned full range and
the ACIQ code's one-sided (half-range) quantizer, range :math:`[0, \alpha]` with zero point 0;
``symmetric``: :math:`k\alpha/(2^M-2)`, refquant's unsigned narrow range). The
paper's model for it is :math:`\frac12\,\mathrm{tail}(\alpha) + \alpha^2/(24\cdot4^M)`,
exactly half the signed model at ``M+1`` bits.

Numerics of ``mse_exact``: the cells are cut at every decision threshold and
at the density's kinks (0 for Laplace, the support ends for uniform). The two
unbounded end cells use closed-form partial moments (Gaussian:
:math:`\int_t^\infty (x-q)^2\varphi = (1+q^2)Q(t) + (t-2q)\varphi(t)`;
Laplace: :math:`\frac12 e^{-t}[(t-q)^2 + 2(t-q) + 2]`); every bounded cell is
integrated with a 16-point Gauss–Legendre rule of the *centred* integrand
:math:`(x-q)^2 f(x)` (exact for polynomials of degree 31; the densities are
analytic on each cell). We do not use the closed-form partial moments
:math:`M_2 - 2qM_1 + q^2M_0` for bounded cells: at high bit widths they cancel
catastrophically (relative error ≈ :math:`12\,\varepsilon\,(1+q^2)/\Delta^2`,
≈1e-6 at M = 16), while the centred quadrature stays at rounding level. For a
scipy distribution the unbounded cells use ``scipy.integrate.quad``, and an
error estimate (``return_error=True``) adds quad's estimates to the
difference between the 16- and 8-point rules.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from ._validate import as_real_array, channel_rows, check_bool, check_int, check_real
from .distributions import check_dist
from .specs import QuantSpec

__all__ = [
    "GRIDS",
    "MODELS",
    "grid_levels",
    "quantize_on_grid",
    "mse_aciq",
    "mse_exact",
    "optimal_clip",
    "optimal_clip_table",
    "optimal_clip_empirical",
    "PUBLISHED_ALPHA",
    "clip_range",
]

GRIDS = ("paper", "midrise", "endpoint", "symmetric", "aciq_runtime")
MODELS = ("aciq", "exact")

#: alpha* / scale as published in the ACIQ code's and Distiller's runtime tables (2 decimals,
#: sometimes truncated rather than rounded). Laplace in units of b, Gaussian in units of sigma; signed.
PUBLISHED_ALPHA = {
    "laplace": {0: 1.05, 1: 1.86, 2: 2.83, 3: 3.89, 4: 5.03, 5: 6.2, 6: 7.41, 7: 8.64, 8: 9.89},
    "gaussian": {1: 1.24, 2: 1.71, 3: 2.15, 4: 2.55, 5: 2.93, 6: 3.28, 7: 3.61, 8: 3.92},
}

_GL_X16, _GL_W16 = np.polynomial.legendre.leggauss(16)
_GL_X8, _GL_W8 = np.polynomial.legendre.leggauss(8)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------- validation
def _check_grid(grid) -> str:
    if grid not in GRIDS:
        raise ValueError(f"grid={grid!r}; allowed: {', '.join(map(repr, GRIDS))}")
    return grid


def _min_bits(grid: str, signed: bool) -> int:
    return 2 if grid == "symmetric" else 1


def _check_bits(bits, grid: str = "midrise", signed: bool = True, hi: int = 16) -> int:
    lo = _min_bits(grid, signed)
    b = check_int(bits, "bits", 0 if grid is None else 1, hi)
    if b < lo:
        raise ValueError(f"bits={b} is out of range for grid={grid!r}; allowed: {lo} <= bits <= {hi} "
                         "(the symmetric grid has no non-zero level at 1 bit)")
    return b


def _positive_array(v, name: str) -> np.ndarray:
    a = as_real_array(v, name).astype(np.float64)
    if np.any(a <= 0):
        bad = a[a <= 0].flat[0]
        raise ValueError(f"{name} must be > 0, got {name}={bad!r}")
    return a


def _bits_array(bits, lo: int, hi: int = 16) -> np.ndarray:
    b = np.asarray(bits)
    if b.dtype.kind not in "iu":
        raise TypeError(f"bits must be an integer or an integer array, got dtype={b.dtype}")
    if b.size == 0:
        raise ValueError("bits must not be empty")
    if np.any(b < lo) or np.any(b > hi):
        bad = b[(b < lo) | (b > hi)].flat[0]
        raise ValueError(f"bits={int(bad)} is out of range; allowed: {lo} <= bits <= {hi}")
    return b.astype(np.int64)


# ---------------------------------------------------------------------------------------------- grids
def grid_levels(alpha: float, bits: int, grid: str = "midrise", *, signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Reconstruction levels and decision thresholds of a clipping grid (module table), float64.

    Returns ``(levels, thresholds)``: ``levels`` ascending, ``thresholds[i]``
    the midpoint between ``levels[i]`` and ``levels[i+1]``. A value strictly
    between two thresholds maps to the level between them; values beyond the
    outer thresholds map to the outer levels (clipping).

    >>> grid_levels(1.0, 2, "paper")[0].tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    >>> grid_levels(1.0, 2, "midrise")[0].tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    bits = _check_bits(bits, grid, signed)
    alpha = check_real(alpha, "alpha", lo=0.0, lo_open=True)
    n = 2**bits
    if signed:
        if grid == "paper":
            k = np.arange(-(n // 2), n // 2 + 1)
            lv = k * (2 * alpha / n)
        elif grid == "midrise":
            k = np.arange(-(n // 2), n // 2)
            lv = (k + 0.5) * (2 * alpha / n)
        elif grid == "endpoint":
            i = np.arange(n)
            lv = (i - (n - 1) / 2) * (2 * alpha / (n - 1))
        elif grid == "aciq_runtime":
            k = np.arange(-(n // 2), n // 2)
            lv = k * (2 * alpha / (n - 1))
        else:
            k = np.arange(-(n // 2 - 1), n // 2)
            lv = k * (alpha / (n // 2 - 1))
    else:
        if grid == "paper":
            lv = np.arange(n + 1) * (alpha / n)
        elif grid == "midrise":
            lv = (np.arange(n) + 0.5) * (alpha / n)
        elif grid in ("endpoint", "aciq_runtime"):  # the ACIQ code's one-sided range [0, alpha] is endpoint's
            lv = np.arange(n) * (alpha / (n - 1))
        else:
            lv = np.arange(n - 1) * (alpha / (n - 2))
    lv = lv.astype(np.float64)
    return lv, (lv[:-1] + lv[1:]) / 2


def quantize_on_grid(x, alpha: float, bits: int, grid: str = "midrise", *, signed: bool = True) -> np.ndarray:
    """Quantize ``x`` on a clipping grid *through refquant.uniform* (the module table's image), float64.

    This is the operational definition each grid of :func:`mse_exact` is the
    exact image of (half-to-even ties, ``x / s``). ``grid="paper"`` needs
    ``bits + 1`` bits of refquant's grid, so ``bits <= 15`` here.
    """
    from .uniform import fake_quant

    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    bits = _check_bits(bits, grid, signed, hi=15 if grid == "paper" else 16)
    a = check_real(alpha, "alpha", lo=0.0, lo_open=True)
    xa = as_real_array(x, "x").astype(np.float64)
    n = 2**bits
    if signed:
        if grid == "paper":
            s = 2 * a / n
            return fake_quant(np.clip(xa, -a, a), s, 0, QuantSpec(bits + 1))
        if grid == "midrise":
            s = 2 * a / n
            return fake_quant(xa, s, 0, QuantSpec(bits, rounding="floor")) + s / 2
        if grid == "endpoint":  # levels (k + 1/2) s, -2^(M-1) <= k < 2^(M-1): floor, then half a step up
            s = 2 * a / (n - 1)
            return fake_quant(xa, s, 0, QuantSpec(bits, rounding="floor")) + s / 2
        if grid == "aciq_runtime":
            return fake_quant(xa, 2 * a / (n - 1), 0, QuantSpec(bits))
        s = a / (n // 2 - 1)
        return fake_quant(xa, s, 0, QuantSpec(bits, narrow_range=True))
    if grid == "paper":
        s = a / n
        return fake_quant(np.clip(xa, 0.0, a), s, 0, QuantSpec(bits + 1, signed=False))
    if grid == "midrise":
        s = a / n
        return fake_quant(xa, s, 0, QuantSpec(bits, signed=False, rounding="floor")) + s / 2
    if grid in ("endpoint", "aciq_runtime"):
        return fake_quant(xa, a / (n - 1), 0, QuantSpec(bits, signed=False))
    return fake_quant(xa, a / (n - 2), 0, QuantSpec(bits, signed=False, narrow_range=True))


# ---------------------------------------------------------------------------------------------- the paper's model
def _tail2_unit(u: np.ndarray, dist) -> np.ndarray:
    """Two-sided clipping term E[(|X| - u)_+^2] for a unit-scale named distribution."""
    if dist == "gaussian":
        return (u**2 + 1.0) * special.erfc(u / _SQRT2) - math.sqrt(2.0 / math.pi) * u * np.exp(-(u**2) / 2)
    if dist == "laplace":
        return 2.0 * np.exp(-u)
    # uniform on [-1, 1]: 2 * int_u^1 (x - u)^2 / 2 dx
    return np.where(u < 1.0, (1.0 - np.minimum(u, 1.0)) ** 3 / 3.0, 0.0)


def _tail2_scipy(alpha: float, d) -> float:
    from scipy import integrate

    lo, hi = d.support()
    right = integrate.quad(lambda x: (x - alpha) ** 2 * d.pdf(x), max(alpha, lo), hi, limit=200)[0] if hi > alpha else 0.0
    left = integrate.quad(lambda x: (x + alpha) ** 2 * d.pdf(x), lo, min(-alpha, hi), limit=200)[0] if lo < -alpha else 0.0
    return right + left


def _bins_array(bits, bins):
    """Bin counts omega (float64 array): 2**bits, or the real ``bins`` (then bits must be None)."""
    if bins is None:
        return 2.0 ** _bits_array(bits, 0, 32).astype(np.float64)
    if bits is not None:
        raise ValueError(f"pass either bits or bins, not both (got bits={bits!r} and bins); bins replaces 2**bits")
    w = _positive_array(bins, "bins")
    if np.any(w > 2.0**32):
        raise ValueError(f"bins={float(w[w > 2.0**32].flat[0])!r} is out of range; allowed: 0 < bins <= 2**32")
    return w


def mse_aciq(alpha, bits, dist, scale=1.0, *, signed: bool = True, bins=None):
    r"""The paper's MSE model of clipping at :math:`\pm\alpha` with ``bits`` bits (eq. 5 of Banner et al.).

    .. math::
        \mathrm{MSE}(\alpha) = \underbrace{E[(|X| - \alpha)_+^2]}_{\text{clipping, exact}}
                              + \frac{\alpha^2}{3\cdot 4^M}

    Laplace (paper eq. 5): :math:`2b^2e^{-\alpha/b} + \alpha^2/(3\cdot4^M)`;
    Gaussian: :math:`(\alpha^2+\sigma^2)\,\mathrm{erfc}(\alpha/\sqrt2\sigma)
    - \sqrt{2/\pi}\,\alpha\sigma e^{-\alpha^2/2\sigma^2} + \alpha^2/(3\cdot4^M)`
    (``erfc``, not the ACIQ code's ``1 - erf``, whose cancellation moves the
    optimum above ~20 bits). ``signed=False`` (post-ReLU): half the clipping term
    plus :math:`\alpha^2/(24\cdot4^M)`.

    With a real bin count :math:`\omega` (``bins=``, the ACIQ code's mid-tread
    path with its variable-length coding) the rounding term is
    :math:`\alpha^2/(3\omega^2)` (:math:`\alpha^2/(24\omega^2)` one-sided):
    eq. 5 with :math:`2^M` replaced by :math:`\omega`.

    Parameters
    ----------
    alpha : array_like > 0, clipping value in the units of the data.
    bits : int or int array, 0..32 (0 bits = one bin, as the code's tables
        allow), or None when ``bins`` is given.
    dist : "gaussian", "laplace", "uniform" (scale = half-width) or a frozen
        scipy.stats continuous distribution (clipping term by quadrature; then
        ``X = scale * D``).
    scale : array_like > 0: sigma, b or the half-width.
    signed : bool.
    bins : array_like of reals in (0, 2**32], optional
        The number of bins :math:`\omega` (need not be an integer or a power
        of two); replaces :math:`2^M`, so ``bits`` must be None.

    Returns
    -------
    float64 ndarray (the broadcast shape of ``alpha, bits or bins, scale``); squared units of the data.

    Raises
    ------
    TypeError
        Non-real arrays, non-integer ``bits``, an unknown ``dist`` type, non-bool ``signed``.
    ValueError
        Non-positive or non-finite ``alpha``/``scale``/``bins``, ``bits`` out
        of range, both or neither of ``bits`` and ``bins``.

    References
    ----------
    Banner, Nahshan & Soudry, NeurIPS 2019, eqs. 5–6.

    >>> round(float(mse_aciq(2.83068, 2, "laplace")), 6)  # eq. 5 at the 2-bit optimum: 2e^-a + a^2/48
    0.284878
    >>> bool(mse_aciq(2.83068, None, "laplace", bins=4.0) == mse_aciq(2.83068, 2, "laplace"))
    True
    """
    d = check_dist(dist)
    signed = check_bool(signed, "signed")
    a = _positive_array(alpha, "alpha")
    w = _bins_array(bits, bins)
    s = _positive_array(scale, "scale")
    a, w, s = np.broadcast_arrays(a, w, s)
    u = a / s
    if isinstance(d, str):
        tail = _tail2_unit(u, d)
    else:
        tail = np.vectorize(lambda uu: _tail2_scipy(float(uu), d), otypes=[float])(u)
    rounding = u**2 / (3.0 * w**2)
    unit = tail + rounding if signed else 0.5 * tail + rounding / 8.0
    return (s**2 * unit).astype(np.float64)


# ---------------------------------------------------------------------------------------------- exact model
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
    alpha : array_like > 0 (units of the data).
    bits : int or int array, 1..16 (2..16 for ``grid="symmetric"``).
    dist : "gaussian", "laplace", "uniform" or a frozen scipy.stats continuous
        distribution (then ``X = scale * D``).
    scale : array_like > 0.
    grid : "paper", "midrise" (default), "endpoint" or "symmetric".
    signed : bool; ``False`` = one-sided post-ReLU variant.
    return_error : also return an absolute error estimate (0 for the named
        distributions, whose error is at rounding level).

    Returns
    -------
    float64 ndarray of the broadcast shape (and the error estimate if requested).

    >>> round(float(mse_exact(1.0, 1, "gaussian", grid="midrise")), 6)  # E[(X - sign(X)/2)^2] = 1.25 - sqrt(2/pi)
    0.452115
    """
    d = check_dist(dist)
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    check_bool(return_error, "return_error")
    a = _positive_array(alpha, "alpha")
    m = _bits_array(bits, _min_bits(grid, signed), 16)
    s = _positive_array(scale, "scale")
    a, m, s = np.broadcast_arrays(a, m, s)
    out = np.empty(a.shape, dtype=np.float64)
    err = np.empty(a.shape, dtype=np.float64)
    for idx in np.ndindex(a.shape):
        v, e = _mse_exact_unit(float(a[idx] / s[idx]), int(m[idx]), grid, signed, d)
        out[idx] = v * s[idx] ** 2
        err[idx] = e * s[idx] ** 2
    return (out, err) if return_error else out


# ---------------------------------------------------------------------------------------------- solvers
def _aciq_optimum_unit(bits: int, d, signed: bool) -> float:
    """alpha* / scale of the paper's model at M bits."""
    return _aciq_optimum_bins(2.0**bits, d, signed)


def _aciq_optimum_bins(omega: float, d, signed: bool) -> float:
    """alpha* / scale of the paper's model with omega bins (closed form for Laplace, root of the stationarity
    condition otherwise); one-sided with omega bins == signed with 2 * omega."""
    from scipy import optimize

    w = omega if signed else 2.0 * omega
    c = 3.0 * w * w
    if d == "laplace":
        return float(special.lambertw(c).real)  # u e^u = 3 omega^2 (eq. 6 of Banner et al.)
    if d == "gaussian":

        def g(u):  # E[(|X|-u)_+] - u / (3 omega^2): the derivative of the Gaussian model, halved
            return math.sqrt(2.0 / math.pi) * math.exp(-u * u / 2) - u * special.erfc(u / _SQRT2) - u / c

        return float(optimize.brentq(g, 1e-12, 60.0, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    if d == "uniform":
        return float(optimize.brentq(lambda u: -((1 - u) ** 2) + 2 * u / c, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))
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


def optimal_clip(bits, dist, scale=1.0, *, model: str = "aciq", grid: str = "midrise", signed: bool = True,
                 bins=None) -> float:
    r"""MSE-optimal clipping value :math:`\alpha^*` (in the units of ``scale``).

    ``model="aciq"``: minimiser of :func:`mse_aciq` — Laplace in closed form,
    :math:`\alpha^*/b = W_0(3\cdot4^M)` (Lambert W, from eq. 6); Gaussian and
    uniform by ``brentq`` on the stationarity condition; a scipy
    distribution by 1-D minimisation. ``grid`` is ignored by this model.
    ``model="exact"``: minimiser of :func:`mse_exact` on ``grid``, by a
    121-point log-spaced scan around the paper's optimum followed by bounded
    Brent (relative accuracy better than 1e-6).

    ``bins=omega`` (``model="aciq"`` only, ``bits=None``): the optimum for a
    real number of bins :math:`\omega`, :math:`\alpha^*/b = W_0(3\omega^2)`
    for Laplace (:math:`W_0(12\omega^2)` one-sided) -- the exact values the
    ACIQ code's mid-tread path interpolates from a table.

    Parameters
    ----------
    bits : int, 1..16 (0..16 for ``model="aciq"``; 2..16 for the symmetric
        grid), or None with ``bins``.
    dist, scale, grid, signed : as :func:`mse_exact` (scale > 0 scalar).
    model : "aciq" or "exact".
    bins : real in (0, 2**32], optional: the bin count :math:`\omega` of the paper's model.

    Returns
    -------
    float, :math:`\alpha^*` in the units of ``scale``.

    Raises
    ------
    TypeError, ValueError
        Bad ``bits``/``bins`` (both or neither, out of range), unknown
        ``model``/``grid``/``dist``, non-positive ``scale``, ``bins`` with
        ``model="exact"``.

    References
    ----------
    Banner, Nahshan & Soudry, NeurIPS 2019, eq. 6.

    >>> round(optimal_clip(4, "laplace"), 4)  # W0(3 * 4^4); the code's table: 5.03
    5.0286
    """
    if model not in MODELS:
        raise ValueError(f"model={model!r}; allowed: {', '.join(map(repr, MODELS))}")
    d = check_dist(dist)
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    scale = check_real(scale, "scale", lo=0.0, lo_open=True)
    if bins is not None:
        if model != "aciq":
            raise ValueError(f"bins={bins!r} applies to model='aciq' only (the exact model needs a real grid of 2**bits levels)")
        if bits is not None:
            raise ValueError(f"pass either bits or bins, not both (got bits={bits!r} and bins={bins!r})")
        omega = check_real(bins, "bins", lo=0.0, hi=2.0**32, lo_open=True)
        return _aciq_optimum_bins(omega, d, signed) * scale
    if model == "aciq":
        bits = check_int(bits, "bits", 0, 16)
        return _aciq_optimum_unit(bits, d, signed) * scale
    bits = _check_bits(bits, grid, signed)
    guess = _aciq_optimum_unit(bits, d, signed) if isinstance(d, str) else 2.0 * float(np.sqrt(d.var()))
    f = lambda u: _mse_exact_unit(u, bits, grid, signed, d)[0]  # noqa: E731
    return _minimize_1d(f, guess) * scale


def optimal_clip_table(dist, bits=range(1, 9), *, grids=GRIDS, signed: bool = True):
    """alpha* / scale for each bit width: the paper's model, the exact optimum on each grid, the published value,
    and the relative MSE penalty of using the paper's alpha* on each exact grid. Returns a pandas DataFrame."""
    import pandas as pd

    d = check_dist(dist)
    name = d if isinstance(d, str) else d.dist.name
    rows = []
    for m in bits:
        m = check_int(m, "bits", 1, 16)
        a_paper = optimal_clip(m, d, model="aciq", signed=signed)
        row = {"bits": m, "dist": name, "aciq": a_paper, "published": PUBLISHED_ALPHA.get(name, {}).get(m, np.nan) if signed else np.nan}
        for g in grids:
            if m < _min_bits(g, signed):
                row[f"exact_{g}"] = np.nan
                row[f"penalty_{g}"] = np.nan
                continue
            a_ex = optimal_clip(m, d, model="exact", grid=g, signed=signed)
            best = float(mse_exact(a_ex, m, d, grid=g, signed=signed))
            row[f"exact_{g}"] = a_ex
            row[f"penalty_{g}"] = float(mse_exact(a_paper, m, d, grid=g, signed=signed)) / best - 1.0
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- data-driven solver
_EMPIRICAL_GRIDS = GRIDS


def optimal_clip_empirical(x, bits, *, axis=None, grid: str = "symmetric", n_candidates: int = 100, return_mse: bool = False):
    r"""MSE-optimal clip of an actual tensor with the actual quantizer, per tensor or per channel.

    For each channel ``c`` the candidates are :math:`\alpha_k = (k/n)\max|x_c|`,
    ``k = 1..n``; each is scored by the exact squared error of
    :func:`quantize_on_grid` (refquant's quantizer, computed in the input's
    float dtype with scale ``s_k`` rounded once to that dtype) summed in
    float64, and the smallest minimiser is returned. Every named signed grid
    is supported: ``"symmetric"`` (refquant's narrow signed grid, the usual
    weight grid), ``"paper"``, ``"midrise"``, ``"endpoint"`` and
    ``"aciq_runtime"`` (the grid the ACIQ code ran). The candidate scale is
    :math:`\alpha_k/2^{M-1}` (paper, midrise), :math:`2\alpha_k/(2^M-1)`
    (endpoint, aciq_runtime) or :math:`\alpha_k/(2^{M-1}-1)` (symmetric).

    A Numba kernel evaluates all candidates in one pass over each channel
    (parallel over channels); its NumPy twin
    (``refquant._reference.clipping``) gives bit-identical sums.

    Parameters
    ----------
    x : array_like, float32 or float64 (other real dtypes are cast to float64), finite, non-empty.
    bits : int, 2..16 for "symmetric", 1..15 ("paper") or 1..16 (the other grids).
    axis : channel axis, or None for one clip for the whole tensor.
    grid : see above.
    n_candidates : int, 1..100000.
    return_mse : also return the (C, n) table of mean squared errors.

    Returns
    -------
    alpha : float64 array, shape ``()`` or ``(C,)``; 0.0 for an all-zero
        channel (every clip is optimal there). With ``return_mse``, ``(alpha, mse)``.
    """
    from ._kernels.clipping import clip_search_kernel

    if grid not in _EMPIRICAL_GRIDS:
        raise ValueError(f"grid={grid!r}; allowed for the empirical solver: {', '.join(map(repr, _EMPIRICAL_GRIDS))}")
    bits = _check_bits(bits, grid, True, hi=15 if grid == "paper" else 16)
    n_candidates = check_int(n_candidates, "n_candidates", 1, 100000)
    check_bool(return_mse, "return_mse")
    xa = as_real_array(x, "x")
    if xa.dtype not in (np.float32, np.float64):
        xa = xa.astype(np.float64)
    v = np.ascontiguousarray(channel_rows(xa, axis, "x"))
    scales, mode, lo, hi, offset = _candidate_scales(v, bits, grid, n_candidates)
    sse = np.zeros(scales.shape, dtype=np.float64)
    clip_search_kernel(v, scales, mode, lo, hi, offset, sse)
    best = np.argmin(sse, axis=1)
    alpha = scales[np.arange(v.shape[0]), best].astype(np.float64) * _alpha_per_step(bits, grid)
    alpha[np.abs(v).max(axis=1) == 0] = 0.0
    alpha = alpha.reshape(()) if axis is None else alpha
    if return_mse:
        return alpha, sse / v.shape[1]
    return alpha


def _alpha_per_step(bits: int, grid: str) -> float:
    """alpha / step of a signed grid."""
    half = 2 ** (bits - 1)
    return {"symmetric": half - 1, "paper": half, "midrise": half, "endpoint": half - 0.5, "aciq_runtime": half - 0.5}[grid]


def _candidate_scales(v: np.ndarray, bits: int, grid: str, n: int):
    """Per-channel candidate scales in v's dtype, and the grid's integer semantics for the kernel."""
    amax = np.abs(v).max(axis=1).astype(np.float64)
    amax = np.where(amax > 0, amax, 1.0)  # all-zero channel: any positive scale (result reported as 0)
    frac = np.arange(1, n + 1, dtype=np.float64) / n
    alphas = amax[:, None] * frac[None, :]
    half = 2 ** (bits - 1)
    s = alphas / _alpha_per_step(bits, grid)
    if grid == "symmetric":
        mode, lo, hi, offset = 0, -(half - 1), half - 1, 0
    elif grid == "paper":
        mode, lo, hi, offset = 0, -half, half, 0
    elif grid == "aciq_runtime":
        mode, lo, hi, offset = 0, -half, half - 1, 0
    else:  # midrise, endpoint: floor, then half a step up
        mode, lo, hi, offset = 1, -half, half - 1, 1
    s = s.astype(v.dtype)
    tiny = np.finfo(v.dtype).tiny
    s = np.maximum(s, tiny)  # never a zero scale after the cast
    return np.ascontiguousarray(s), mode, lo, hi, offset


# ---------------------------------------------------------------------------------------------- clip placement
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
    for name, v in (("convention", convention), ("mode", mode)):
        if not isinstance(v, str):
            raise TypeError(f"{name} must be a str, got {name}={v!r} (type={type(v).__name__})")
    if convention not in _CLIP_MODES:
        raise ValueError(f"convention={convention!r}; allowed: 'aciq', 'distiller'")
    if mode not in _CLIP_MODES[convention]:
        raise ValueError(f"mode={mode!r} is not allowed with convention={convention!r}; allowed: "
                         f"{', '.join(map(repr, _CLIP_MODES[convention]))}")
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
