r"""Analytic MSE-optimal clipping (ACIQ): the paper's model, the exact expectation, and solvers.

Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional
networks for rapid-deployment" (NeurIPS 2019). Theory page, with the derivations and
the numbers: ``docs/theory/aciq.md``.

Two models of the expected squared error of clipping a random variable ``X``
at :math:`\pm\alpha` and quantizing with ``M`` bits:

* ``mse_aciq`` — **the paper's model** (eq. 5 of the paper and its Gaussian
  analogue): exact clipping-tail integral plus the rounding noise
  :math:`\Delta^2/12` with :math:`\Delta = 2\alpha/2^M`, i.e.
  :math:`\alpha^2/(3\cdot4^M)`, as if all probability mass were inside
  :math:`[-\alpha, \alpha]` and the density flat within each bin.
* ``mse_exact`` — **the exact expectation** :math:`E[(Q(X) - X)^2]` for a real
  quantizer grid ``Q``: a sum over every quantization cell, no within-bin
  approximation. Grids, each the exact image of
  :mod:`refquant.uniform` (see :func:`quantize_on_grid`):

  ============= ===================================================== ====================================================
  grid          levels (signed)                                       refquant.uniform image
  ============= ===================================================== ====================================================
  ``paper``     :math:`k\Delta`, :math:`|k| \le 2^{M-1}`,             ``fake_quant(clip(x, -a, a), D, 0, QuantSpec(M+1))``
                :math:`\Delta = 2\alpha/2^M` (2^M+1 levels: one
                more than M bits hold; the paper's simulation)
  ``midrise``   :math:`(k+\frac12)\Delta`,                            ``fake_quant(x, D, 0, QuantSpec(M, rounding="floor"))``
                :math:`-2^{M-1} \le k < 2^{M-1}`,                     ``+ D/2``
                :math:`\Delta = 2\alpha/2^M`
  ``endpoint``  :math:`-\alpha + i\Delta`, :math:`0 \le i < 2^M`,     ``fake_quant(x + a, D, 0, QuantSpec(M, signed=False))``
                :math:`\Delta = 2\alpha/(2^M-1)`                      ``- a``
  ``symmetric`` :math:`k\Delta`, :math:`|k| \le 2^{M-1}-1`,           ``fake_quant(x, D, 0, QuantSpec(M, narrow_range=True))``
                :math:`\Delta = \alpha/(2^{M-1}-1)`
  ============= ===================================================== ====================================================

  ``endpoint`` is the symmetric endpoint-inclusive grid (gemmlowp-like). refquant's own asymmetric calibration (:func:`refquant.calibrate_minmax`
  with ``symmetric=False``) rounds the zero point to an integer, which shifts
  that grid by up to half a step; use :func:`optimal_clip_empirical` for it.

``signed=False`` is the one-sided (post-ReLU) variant: ``X =
max(Y, 0)`` with ``Y`` the given symmetric distribution, clipped to
:math:`[0, \alpha]`; the grids are the unsigned versions (``paper``: levels
:math:`k\alpha/2^M`, :math:`0\le k\le 2^M`; ``midrise``: :math:`(k+\frac12)\alpha/2^M`;
``endpoint``: :math:`k\alpha/(2^M-1)`, refquant's unsigned full range;
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
]

GRIDS = ("paper", "midrise", "endpoint", "symmetric")
MODELS = ("aciq", "exact")

#: alpha* / scale as published in the ACIQ code's runtime tables ([code]/[dist]; 2 decimals,
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
        else:
            k = np.arange(-(n // 2 - 1), n // 2)
            lv = k * (alpha / (n // 2 - 1))
    else:
        if grid == "paper":
            lv = np.arange(n + 1) * (alpha / n)
        elif grid == "midrise":
            lv = (np.arange(n) + 0.5) * (alpha / n)
        elif grid == "endpoint":
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
        if grid == "endpoint":
            s = 2 * a / (n - 1)
            return fake_quant(xa + a, s, 0, QuantSpec(bits, signed=False)) - a
        s = a / (n // 2 - 1)
        return fake_quant(xa, s, 0, QuantSpec(bits, narrow_range=True))
    if grid == "paper":
        s = a / n
        return fake_quant(np.clip(xa, 0.0, a), s, 0, QuantSpec(bits + 1, signed=False))
    if grid == "midrise":
        s = a / n
        return fake_quant(xa, s, 0, QuantSpec(bits, signed=False, rounding="floor")) + s / 2
    if grid == "endpoint":
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


def mse_aciq(alpha, bits, dist, scale=1.0, *, signed: bool = True):
    r"""The paper's MSE model of clipping at :math:`\pm\alpha` with ``bits`` bits (eq. 5 of the paper).

    .. math::
        \mathrm{MSE}(\alpha) = \underbrace{E[(|X| - \alpha)_+^2]}_{\text{clipping, exact}}
                              + \frac{\alpha^2}{3\cdot 4^M}

    Laplace (paper eq. 5): :math:`2b^2e^{-\alpha/b} + \alpha^2/(3\cdot4^M)`;
    Gaussian: :math:`(\alpha^2+\sigma^2)\,\mathrm{erfc}(\alpha/\sqrt2\sigma)
    - \sqrt{2/\pi}\,\alpha\sigma e^{-\alpha^2/2\sigma^2} + \alpha^2/(3\cdot4^M)`
    (``erfc``, not ``1 - erf``: the code's form loses the optimum above ~20 bits).
    ``signed=False`` (post-ReLU): half the clipping term
    plus :math:`\alpha^2/(24\cdot4^M)`.

    Parameters
    ----------
    alpha : array_like > 0, clipping value in the units of the data.
    bits : int or int array, 0..32 (0 bits = one bin, as the code's tables allow).
    dist : "gaussian", "laplace", "uniform" (scale = half-width) or a frozen
        scipy.stats continuous distribution (clipping term by quadrature; then
        ``X = scale * D``).
    scale : array_like > 0: sigma, b or the half-width.
    signed : bool.

    Returns
    -------
    float64 ndarray (the broadcast shape of ``alpha, bits, scale``); squared units of the data.

    >>> round(float(mse_aciq(2.83068, 2, "laplace")), 6)  # eq. 5 at the 2-bit optimum: 2e^-a + a^2/48
    0.284878
    """
    d = check_dist(dist)
    signed = check_bool(signed, "signed")
    a = _positive_array(alpha, "alpha")
    m = _bits_array(bits, 0, 32)
    s = _positive_array(scale, "scale")
    a, m, s = np.broadcast_arrays(a, m, s)
    u = a / s
    if isinstance(d, str):
        tail = _tail2_unit(u, d)
    else:
        tail = np.vectorize(lambda uu: _tail2_scipy(float(uu), d), otypes=[float])(u)
    rounding = u**2 / (3.0 * 4.0 ** m.astype(np.float64))
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
    """alpha* / scale of the paper's model (closed form for Laplace, root of the stationarity condition otherwise)."""
    from scipy import optimize

    m = bits if signed else bits + 1  # one-sided M bits == signed M+1 bits (half the tail, a quarter of the noise)
    if d == "laplace":
        return float(special.lambertw(3.0 * 4.0**m).real)  # u e^u = 3 * 4^M (docs/theory/aciq.md, "The Lambert-W optimum")
    if d == "gaussian":
        c = 3.0 * 4.0**m

        def g(u):  # E[(|X|-u)_+] - u / (3 * 4^M): the stationarity condition
            return math.sqrt(2.0 / math.pi) * math.exp(-u * u / 2) - u * special.erfc(u / _SQRT2) - u / c

        return float(optimize.brentq(g, 1e-12, 60.0, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    if d == "uniform":
        c = 3.0 * 4.0**m
        return float(optimize.brentq(lambda u: -((1 - u) ** 2) + 2 * u / c, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))
    f = lambda u: float(mse_aciq(u, bits, d, 1.0, signed=signed))  # noqa: E731
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


def optimal_clip(bits, dist, scale=1.0, *, model: str = "aciq", grid: str = "midrise", signed: bool = True) -> float:
    r"""MSE-optimal clipping value :math:`\alpha^*` (in the units of ``scale``).

    ``model="aciq"``: minimiser of :func:`mse_aciq` — Laplace in closed form,
    :math:`\alpha^*/b = W_0(3\cdot4^M)` (Lambert W, derived in ``docs/theory/aciq.md``); Gaussian and
    uniform by ``brentq`` on the stationarity condition :math:`E[(|X|-\alpha)_+] = \alpha/(3\cdot4^M)`; a scipy
    distribution by 1-D minimisation. ``grid`` is ignored by this model.
    ``model="exact"``: minimiser of :func:`mse_exact` on ``grid``, by a
    121-point log-spaced scan around the paper's optimum followed by bounded
    Brent (relative accuracy better than 1e-6).

    Parameters
    ----------
    bits : int, 1..16 (0..16 for ``model="aciq"``; 2..16 for the symmetric grid).
    dist, scale, grid, signed : as :func:`mse_exact` (scale > 0 scalar).
    model : "aciq" or "exact".

    >>> round(optimal_clip(4, "laplace"), 4)  # W0(3 * 4^4)
    5.0286
    """
    if model not in MODELS:
        raise ValueError(f"model={model!r}; allowed: {', '.join(map(repr, MODELS))}")
    d = check_dist(dist)
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    scale = check_real(scale, "scale", lo=0.0, lo_open=True)
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
_EMPIRICAL_GRIDS = ("symmetric", "paper", "midrise")


def optimal_clip_empirical(x, bits, *, axis=None, grid: str = "symmetric", n_candidates: int = 100, return_mse: bool = False):
    r"""MSE-optimal clip of an actual tensor with the actual quantizer, per tensor or per channel.

    For each channel ``c`` the candidates are :math:`\alpha_k = (k/n)\max|x_c|`,
    ``k = 1..n``; each is scored by the exact squared error of
    :func:`quantize_on_grid` (refquant's quantizer, computed in the input's
    float dtype with scale ``s_k`` rounded once to that dtype) summed in
    float64, and the smallest minimiser is returned. Signed grids
    ``"symmetric"`` (refquant's narrow signed grid, the usual weight grid),
    ``"paper"`` and ``"midrise"`` are supported (``"endpoint"`` shifts ``x``
    before quantizing, which is not one fake-quant of ``x``).

    A Numba kernel evaluates all candidates in one pass over each channel
    (parallel over channels); its NumPy twin
    (``refquant._reference.clipping``) gives bit-identical sums.

    Parameters
    ----------
    x : array_like, float32 or float64 (other real dtypes are cast to float64), finite, non-empty.
    bits : int, 2..16 for "symmetric", 1..15 ("paper") or 1..16 ("midrise").
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
    qmax_like = {"symmetric": 2 ** (bits - 1) - 1, "paper": 2 ** (bits - 1), "midrise": 2 ** (bits - 1)}[grid]
    alpha = scales[np.arange(v.shape[0]), best].astype(np.float64) * qmax_like
    alpha[np.abs(v).max(axis=1) == 0] = 0.0
    alpha = alpha.reshape(()) if axis is None else alpha
    if return_mse:
        return alpha, sse / v.shape[1]
    return alpha


def _candidate_scales(v: np.ndarray, bits: int, grid: str, n: int):
    """Per-channel candidate scales in v's dtype, and the grid's integer semantics for the kernel."""
    amax = np.abs(v).max(axis=1).astype(np.float64)
    amax = np.where(amax > 0, amax, 1.0)  # all-zero channel: any positive scale (result reported as 0)
    frac = np.arange(1, n + 1, dtype=np.float64) / n
    alphas = amax[:, None] * frac[None, :]
    half = 2 ** (bits - 1)
    if grid == "symmetric":
        s, mode, lo, hi, offset = alphas / (half - 1), 0, -(half - 1), half - 1, 0
    elif grid == "paper":
        s, mode, lo, hi, offset = alphas / half, 0, -half, half, 0
    else:
        s, mode, lo, hi, offset = alphas / half, 1, -half, half - 1, 1
    s = s.astype(v.dtype)
    tiny = np.finfo(v.dtype).tiny
    s = np.maximum(s, tiny)  # never a zero scale after the cast
    return np.ascontiguousarray(s), mode, lo, hi, offset
