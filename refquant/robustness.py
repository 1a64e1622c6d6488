r"""Step-size robustness theory of KURE: the paper's model and the exact one.

Shkolnik et al., "Robust Quantization: One Model to Rule Them All" (NeurIPS
2020), Sec. 3 and its supplement; theory page ``docs/theory/kure.md``. The paper's quantizer (eq. 1)
rounds to multiples of the step :math:`\Delta` and clips at
:math:`\tau = 2^{M-1}\Delta`: **2^M + 1 levels** — refquant.clipping's
``grid="paper"``. Sensitivity (eqs. 2–4):

.. math:: \Gamma(X, \varepsilon) = |\mathrm{MSE}(X, \tilde\Delta \pm \varepsilon) - \mathrm{MSE}(X, \tilde\Delta)|
          \;\approx\; \Big|\frac{\partial^2 \mathrm{MSE}}{\partial\Delta^2}\Big|_{\tilde\Delta}\frac{\varepsilon^2}{2}
          \quad\text{(Lemma 1)}

Two models, selectable everywhere with ``model=``:

* ``"paper"`` — the paper's formulas. Uniform :math:`U(-a, a)`: Lemma 2,
  :math:`\mathrm{MSE} = (a - \tau)^3/(3a) + 2^M\Delta^3/(24a)` for
  :math:`\tau \le a` (beyond, where Lemma 2 does not hold, the exact MSE is
  used), and the optimum :math:`\tilde\Delta \approx 2a/2^M` — Lemma 3's
  approximation, which the theorem's proof uses (``uniform_step="approx"``;
  ``"lemma3"`` gives Lemma 3's exact root :math:`2a/(2^M+1)`). Gaussian,
  Laplace and scipy distributions: the ACIQ-form MSE
  (:func:`refquant.clipping.mse_aciq` at :math:`\tau`) and its optimum.
  :math:`\Gamma` from the curvature (Lemma 1):
  :math:`\partial^2\mathrm{MSE}/\partial\Delta^2 = 2\cdot4^{M-1}P(|X| > \tau) + c`
  with :math:`c = 2^{M-2}\Delta/a` (uniform, Lemma 2) or :math:`1/6` (ACIQ form).
* ``"exact"`` — :func:`refquant.clipping.mse_exact` on the chosen grid (default
  the paper's), the exact optimum, and :math:`\Gamma` as the larger of the two
  one-sided exact MSE increases.

The theorem ("uniform is more robust than Gaussian", Theorem 4; its exact
statement is *reconstructed*, see ``docs/theory/kure.md``, section "Readings that had
to be reconstructed") holds under the paper's
model and reverses under the exact one: :func:`theorem_check` returns both.

In this module ``scale`` is the **standard deviation** for every
distribution (uniform :math:`a = \sqrt3\,\sigma`, Laplace
:math:`b = \sigma/\sqrt2`; a frozen scipy distribution ``D`` is rescaled to
standard deviation ``scale``: :math:`X = (\sigma/\mathrm{std}(D))\,D`), so
distributions are compared at equal variance. A scipy distribution must have
mean 0 (the grids are centred at 0; an off-centre one raises ``ValueError``).
Under ``model="paper"`` a scipy distribution (even a uniform one) uses the
ACIQ form; Lemma 2 belongs to the named ``"uniform"``.
"""

from __future__ import annotations

import math

import numpy as np

from . import clipping as _clip
from ._validate import (
    MAX_BITS,
    as_float_array,
    check_bits,
    check_bool,
    check_choice,
    check_real,
    check_sequence,
    pow2_normalize,
)
from .distributions import STD_PER_SCALE, check_dist

__all__ = [
    "MODELS",
    "step_to_alpha",
    "mse_vs_step",
    "optimal_step",
    "curvature",
    "sensitivity",
    "theorem_check",
    "pow2_penalty",
    "empirical_sensitivity",
    "theorem_table_markdown",
]

#: The ``model`` values: ``"paper"`` (the paper's Lemma 2 / ACIQ-form MSE and Lemma 1 curvature) and
#: ``"exact"`` (the exact MSE of :func:`refquant.clipping.mse_exact` on the chosen grid).
MODELS = ("paper", "exact")
_UNIFORM_STEPS = ("approx", "lemma3")


def _check_model(model):
    return check_choice(model, MODELS, "model")


def _check_grid(grid):
    return check_choice(grid, _clip.GRIDS, "grid")


def _check_std(scale) -> float:
    return check_real(scale, "scale", lo=0.0, lo_open=True)


def _scaled(value, factor: float, what: str):
    """``value * factor`` (float or array) with a clear error when it leaves the float64 range.

    Every quantity here is computed at unit standard deviation and rescaled: MSE and Gamma by
    ``scale**2``, steps by ``scale``. A result that over- or underflows is an error naming
    ``scale``, never a silent 0, inf or NaN.
    """
    with np.errstate(over="ignore", under="ignore"):
        out = np.asarray(value, dtype=np.float64) * factor
    unit = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(out)) or np.any((out == 0) & (unit != 0)):
        raise ValueError(
            f"scale: the {what} ({factor:.3g} times its unit-scale value) is outside the float64 range; "
            "rescale the problem (the unit-scale result is scale-free)"
        )
    return out if out.ndim else float(out)


def _ldexp_checked(v: float, k: int, name: str, what: str) -> float:
    with np.errstate(over="ignore", under="ignore"):
        out = float(np.ldexp(v, k))
    if not np.isfinite(out) or (out == 0 and v != 0):
        raise ValueError(
            f"{name}: the {what} (2**{k} times its value on the normalised data) is outside the float64 range"
        )
    return out


def _clip_scale(d, std: float) -> float:
    """refquant.clipping's scale parameter for a distribution with standard deviation ``std``."""
    if isinstance(d, str):
        return std / STD_PER_SCALE[d]
    sd = float(d.std())
    if not np.isfinite(sd) or sd <= 0:
        raise ValueError(
            f"dist {d.dist.name!r} has no finite positive standard deviation; it cannot be compared at equal variance"
        )
    mean = float(d.mean())
    if abs(mean) > 1e-9 * sd:
        raise ValueError(
            f"dist {d.dist.name!r} has mean {mean:.6g} != 0; this module compares distributions by shape at "
            "equal variance on a grid centred at 0, so pass a zero-mean distribution (set loc), or use "
            "refquant.clipping.mse_exact for an off-centre tensor"
        )
    return std / sd


def _dist(dist, name: str = "dist"):
    return check_dist(dist, name, finite_variance=True)


def _grid_factor(bits: int, grid: str) -> float:
    half = 2 ** (bits - 1)
    f = {
        "paper": half,
        "midrise": half,
        "endpoint": (2**bits - 1) / 2,
        "aciq_runtime": (2**bits - 1) / 2,
        "symmetric": half - 1,
    }[grid]
    if f <= 0:
        raise ValueError(f"bits={bits} is out of range for grid={grid!r}; allowed: 2 <= bits <= {MAX_BITS}")
    return f


def step_to_alpha(step, bits: int, grid: str = "paper"):
    r"""Clipping value :math:`\alpha` of a grid with step :math:`\Delta` (inverse of refquant.clipping's grid table).

    paper, midrise: :math:`2^{M-1}\Delta`; endpoint, aciq_runtime: :math:`(2^M-1)\Delta/2`; symmetric:
    :math:`(2^{M-1}-1)\Delta`.

    Parameters
    ----------
    step : array_like of float
        The step :math:`\Delta` (> 0, finite; units of the data).
    bits : int
        Bit width :math:`M`, 1..16 (2..16 for the symmetric grid).
    grid : str
        A grid name of :data:`refquant.clipping.GRIDS` (default ``"paper"``: :math:`2^M + 1` levels).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``step``: :math:`\alpha` in units of the data (``alpha = factor * step``,
        one rounding of the product).

    Raises
    ------
    TypeError
        ``step`` not a real array; ``bits`` not an int; ``grid`` not a str.
    ValueError
        ``step`` empty, non-finite or not > 0; ``bits`` out of range for ``grid``; unknown
        ``grid``; a result beyond float64.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, eq. 1 (the paper's grid:
    :math:`\tau = 2^{M-1}\Delta`).

    Examples
    --------
    >>> float(step_to_alpha(0.25, 3, "paper"))
    1.0
    """
    g = _check_grid(grid)
    m = check_bits(bits)
    st = as_float_array(step, "step", positive=True)
    with np.errstate(over="ignore"):
        out = st * _grid_factor(m, g)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"step: alpha = step * {_grid_factor(m, g)} overflows float64")
    return out


def _lemma2(step: np.ndarray, bits: int, a: float) -> np.ndarray:
    tau = 2 ** (bits - 1) * step
    return (a - tau) ** 3 / (3 * a) + 2**bits * step**3 / (24 * a)


def _mse_unit(u: np.ndarray, bits: int, d, model: str, grid: str) -> np.ndarray:
    """MSE at unit standard deviation for unit-scale steps ``u`` (float64 array)."""
    s = _clip_scale(d, 1.0)
    if model == "exact":
        return np.asarray(_clip.mse_exact(u * _grid_factor(bits, grid), bits, d, s, grid=grid), dtype=np.float64)
    tau = 2 ** (bits - 1) * u
    if d == "uniform":
        out = _lemma2(u, bits, s)
        beyond = tau > s
        if np.any(beyond):
            out = np.where(beyond, _clip.mse_exact(np.where(beyond, tau, s), bits, d, s, grid="paper"), out)
        return np.asarray(out, dtype=np.float64)
    return np.asarray(_clip.mse_aciq(tau, bits, d, s), dtype=np.float64)


def mse_vs_step(step, bits, dist, scale=1.0, *, model: str = "exact", grid: str = "paper"):
    r"""MSE as a function of the step :math:`\Delta` (float64 array, shape of ``step``).

    ``model="paper"``: Lemma 2 (uniform, :math:`\tau \le a`; exact beyond) or the
    ACIQ form at :math:`\tau = 2^{M-1}\Delta` (``grid`` is ignored, but validated: the paper
    has one grid). ``model="exact"``: :func:`refquant.clipping.mse_exact` on ``grid``.
    Computed at unit standard deviation (steps ``step / scale``) and multiplied by ``scale**2``.

    Parameters
    ----------
    step : array_like of float
        The step :math:`\Delta` (> 0, finite; units of the data).
    bits : int
        Bit width :math:`M`, 1..16.
    dist : str or frozen scipy.stats distribution
        ``"uniform"``, ``"gaussian"``, ``"laplace"`` or a frozen continuous scipy distribution with mean 0
        and finite variance.
    scale : float
        The standard deviation :math:`\sigma` (> 0) of ``dist``, in units of the data.
    model : {"exact", "paper"}
        ``"paper"``: the paper's formulas (Lemma 2 for the uniform, the ACIQ form otherwise);
        ``"exact"``: :func:`refquant.clipping.mse_exact` (see the module docstring).
    grid : str
        A grid of :data:`refquant.clipping.GRIDS`, used by the exact model (the paper model has one grid,
        ``"paper"``; the value is still validated).

    Returns
    -------
    numpy.ndarray or float
        float64, the shape of ``step`` (a float for a scalar ``step``): the MSE in squared units of the data.

    Raises
    ------
    TypeError
        ``step`` not a real array; ``bits`` not an int; ``scale`` not a real number; ``dist`` not
        a name or a frozen continuous scipy distribution; ``model``/``grid`` not str.
    ValueError
        ``step`` empty, non-finite or not > 0; ``bits`` out of range; ``scale <= 0``; unknown
        name/model/grid; a non-zero-mean scipy distribution, invalid scipy parameters or infinite
        variance; a result outside float64.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, eq. 1 and Lemma 2; Banner,
    Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for rapid-deployment", NeurIPS
    2019, eq. 5 (the ACIQ form).

    Examples
    --------
    >>> a = 3 ** 0.5                        # U(-a, a) has unit variance
    >>> round(float(mse_vs_step(2 * a / 5, 2, "uniform", model="paper")), 12) == round((2 * a / 5) ** 2 / 12, 12)
    True
    """
    _check_model(model)
    g = _check_grid(grid)
    d = _dist(dist)
    bits = check_bits(bits)
    std = _check_std(scale)
    st = as_float_array(step, "step", positive=True)
    with np.errstate(over="ignore", under="ignore"):
        u = st / std
    if not np.all(np.isfinite(u)) or np.any(u == 0):
        raise ValueError("step: step / scale is outside the float64 range")
    m = _mse_unit(u, bits, d, model, g if model == "exact" else "paper")
    return _scaled(_scaled(m, std, "MSE"), std, "MSE")


def _optimal_step_unit(bits: int, d, model: str, grid: str, uniform_step: str) -> float:
    s = _clip_scale(d, 1.0)
    if model == "exact":
        alpha = _clip.optimal_clip(bits, d, s, model="exact", grid=grid)
        return float(alpha / _grid_factor(bits, grid))
    if d == "uniform":
        return 2 * s / (2**bits if uniform_step == "approx" else 2**bits + 1)
    return _clip.optimal_clip(bits, d, s, model="aciq") / 2 ** (bits - 1)


def optimal_step(
    bits, dist, scale=1.0, *, model: str = "exact", grid: str = "paper", uniform_step: str = "approx"
) -> float:
    r"""The MSE-optimal step :math:`\tilde\Delta` under ``model`` (see the module docstring).

    Parameters
    ----------
    bits : int
        Bit width :math:`M`, 1..16.
    dist, scale, grid
        As in :func:`mse_vs_step`.
    model : {"exact", "paper"}
        ``"paper"``: the paper's formulas (Lemma 2 for the uniform, the ACIQ form otherwise);
        ``"exact"``: :func:`refquant.clipping.mse_exact` (see the module docstring).
    uniform_step : {"approx", "lemma3"}
        The paper model's uniform optimum: :math:`2a/2^M` (Lemma 3's approximation) or :math:`2a/(2^M+1)`.

    Returns
    -------
    float
        :math:`\tilde\Delta`, in units of the data.

    Notes
    -----
    Computed at unit standard deviation and multiplied by ``scale`` (the optimum is scale-equivariant).

    Raises
    ------
    TypeError, ValueError
        As :func:`mse_vs_step`; ``uniform_step`` not one of ``"approx"``, ``"lemma3"``.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, Lemma 3.

    Examples
    --------
    >>> round(optimal_step(4, "uniform", model="paper") / 3 ** 0.5, 12)          # 2a/2^M with a = sqrt(3)
    0.125
    >>> round(optimal_step(4, "uniform", model="exact") / 3 ** 0.5, 9)           # 2a/(2^M+1): the levels tile [-a, a]
    0.117647059
    """
    _check_model(model)
    g = _check_grid(grid)
    d = _dist(dist)
    bits = check_bits(bits)
    std = _check_std(scale)
    check_choice(uniform_step, _UNIFORM_STEPS, "uniform_step")
    return _scaled(_optimal_step_unit(bits, d, model, g, uniform_step), std, "optimal step")


def _tail_prob(d, tau: float, s: float) -> float:
    if d == "gaussian":
        return math.erfc(tau / (math.sqrt(2) * s))
    if d == "laplace":
        return math.exp(-tau / s)
    if d == "uniform":
        return max(0.0, 1.0 - tau / s)
    return float(d.sf(tau / s) + d.cdf(-tau / s))


def _curvature_unit(bits: int, d, u: float, model: str, grid: str) -> float:
    s = _clip_scale(d, 1.0)
    tau = 2 ** (bits - 1) * u
    if model == "paper" and not (d == "uniform" and tau > s):
        c = 2 ** (bits - 2) * u / s if d == "uniform" else 1.0 / 6.0
        return 2 * 4.0 ** (bits - 1) * _tail_prob(d, tau, s) + c
    # the exact model, and the paper model of a uniform beyond Lemma 2's range (tau > a: nothing is clipped and the
    # paper has no formula, so mse_vs_step(model="paper") is the exact MSE there): a central second difference
    h = 1e-4 * u
    g = "paper" if model == "paper" else grid
    f = lambda v: float(_mse_unit(np.asarray(v), bits, d, model, g))  # noqa: E731
    return (f(u + h) - 2 * f(u) + f(u - h)) / (h * h)


def curvature(
    bits, dist, scale=1.0, step=None, *, model: str = "paper", grid: str = "paper", uniform_step: str = "approx"
) -> float:
    r"""Second derivative :math:`\partial^2\mathrm{MSE}/\partial\Delta^2` at ``step`` (default: the model's optimum).

    ``model="paper"``: the closed form of the module docstring (for a uniform
    beyond Lemma 2's range, :math:`\tau > a`, where the paper's model falls back
    to the exact MSE, the exact curvature). ``model="exact"``: a central second
    difference of the exact MSE with :math:`h = 10^{-4}\Delta` (relative accuracy
    ~1e-5 where the MSE is smooth; at a kink of the MSE it is a one-sided blend).

    Parameters
    ----------
    bits, dist, scale, model, grid, uniform_step
        As in :func:`optimal_step`.
    step : float, optional
        The step :math:`\Delta` (> 0, units of the data) at which to evaluate; default the model's optimal step.

    Returns
    -------
    float
        :math:`\partial^2\mathrm{MSE}/\partial\Delta^2` (squared units of the data per squared step: dimensionless).

    Notes
    -----
    Dimensionless (MSE in squared units over a squared step), so it is computed at
    unit standard deviation with ``step / scale``: scale-invariant for every ``scale``.

    Raises
    ------
    TypeError, ValueError
        As :func:`optimal_step`; ``step`` (when given) not a finite real > 0.

    References
    ----------
    Shkolnik et al., NeurIPS 2020, Lemma 1 and Lemma 2.

    Examples
    --------
    >>> curvature(4, "uniform")     # at 2a/2^M nothing is clipped: 2^(M-2) * Delta / a = 1/2
    0.5
    """
    _check_model(model)
    g = _check_grid(grid)
    d = _dist(dist)
    bits = check_bits(bits)
    std = _check_std(scale)
    check_choice(uniform_step, _UNIFORM_STEPS, "uniform_step")
    if step is None:
        u = _optimal_step_unit(bits, d, model, g, uniform_step)
    else:
        u = check_real(step, "step", lo=0.0, lo_open=True) / std
        if not (np.isfinite(u) and u > 0):
            raise ValueError(f"step={step!r}: step / scale = {u!r} is outside the float64 range")
    return float(_curvature_unit(bits, d, u, model, g))


def sensitivity(
    bits,
    dist,
    eps,
    scale=1.0,
    *,
    model: str = "paper",
    relative: bool = True,
    grid: str = "paper",
    uniform_step: str = "approx",
) -> float:
    r"""Quantization sensitivity :math:`\Gamma(X, \varepsilon)` (paper eqs. 2–4), squared units of the data.

    Parameters
    ----------
    bits : int
        Bit width :math:`M`, 1..16 (2..16 for the symmetric grid).
    dist : str or frozen scipy.stats distribution
        ``"uniform"``, ``"gaussian"``, ``"laplace"`` or a frozen continuous scipy distribution with mean 0
        and finite variance.
    eps : float
        The step perturbation :math:`\varepsilon` > 0: a fraction of :math:`\tilde\Delta` (``relative=True``,
        must be < 1) or an absolute step change (< :math:`\tilde\Delta`, units of the data).
    scale : float
        The standard deviation (> 0), in units of the data.
    model : {"paper", "exact"}
        ``"paper"``: :math:`|\mathrm{MSE}''(\tilde\Delta)|\,\varepsilon^2/2` (Lemma 1);
        ``"exact"``: :math:`\max_\pm [\mathrm{MSE}(\tilde\Delta\pm\varepsilon) - \mathrm{MSE}(\tilde\Delta)]`
        with the exact MSE on ``grid`` at the exact optimum.
    relative : bool
        Whether ``eps`` is a fraction of :math:`\tilde\Delta` (default) or an absolute step change.
    grid : str
        Clipping grid of the exact model (default ``"paper"``, :math:`2^M + 1` levels; see
        :data:`refquant.clipping.GRIDS`).
    uniform_step : {"approx", "lemma3"}
        The paper model's uniform optimum, ``"approx"`` :math:`2a/2^M` (the theorem's proof route; a
        reconstruction, see ``docs/theory/kure.md``) or ``"lemma3"`` :math:`2a/(2^M+1)`.

    Returns
    -------
    float
        :math:`\Gamma` in squared data units (absolute, not normalised by the MSE, as the
        paper defines it; :func:`theorem_check` also reports :math:`\Gamma/\mathrm{MSE}`).
        Computed at unit standard deviation and multiplied by ``scale**2``.

    Raises
    ------
    TypeError
        A parameter of the wrong type (``relative`` must be a bool).
    ValueError
        As :func:`optimal_step`; ``eps <= 0`` or a perturbation >= the optimal step; a result
        outside float64.

    References
    ----------
    Shkolnik et al., NeurIPS 2020, eqs. 2–4 (Γ, Lemma 1), Lemmas 2–3 and Theorem 4.

    Examples
    --------
    >>> step = 2 * 3 ** 0.5 / 16                    # 2a/2^M, a = sqrt(3); the curvature there is 1/2
    >>> round(sensitivity(4, "uniform", 0.05), 12) == round(0.5 * (0.05 * step) ** 2 / 2, 12)
    True
    >>> sensitivity(4, "uniform", 0.05, model="exact") > sensitivity(4, "gaussian", 0.05, model="exact")  # the reversal
    True
    """
    _check_model(model)
    g = _check_grid(grid)
    d = _dist(dist)
    bits = check_bits(bits)
    std = _check_std(scale)
    relative = check_bool(relative, "relative")
    check_choice(uniform_step, _UNIFORM_STEPS, "uniform_step")
    e = check_real(eps, "eps", lo=0.0, lo_open=True)
    u = _optimal_step_unit(bits, d, model, g, uniform_step)
    ea = e * u if relative else e / std
    if not ea < u:
        raise ValueError(
            f"eps={e!r} perturbs the step by {ea * std:.6g} >= the optimal step {u * std:.6g}; allowed: eps < "
            + ("1 (relative)" if relative else f"{u * std:.6g}")
        )
    if model == "paper":
        gam = abs(_curvature_unit(bits, d, u, "paper", "paper")) * ea * ea / 2
    else:
        m = _mse_unit(np.array([u - ea, u, u + ea]), bits, d, "exact", g)
        gam = float(max(m[0] - m[1], m[2] - m[1]))
    return _scaled(_scaled(gam, std, "sensitivity"), std, "sensitivity")


def theorem_check(
    bits,
    eps,
    *,
    dists=("uniform", "gaussian"),
    scale=1.0,
    relative: bool = True,
    grid: str = "paper",
    uniform_step: str = "approx",
):
    r"""Evaluate the theorem's inequality :math:`\Gamma(X_1, \varepsilon) < \Gamma(X_2, \varepsilon)` under both models.

    ``dists = (X_1, X_2)`` at equal variance ``scale`` (default: uniform vs
    Gaussian, the paper's claim). Returns a pandas DataFrame with one row per
    model and bit width: both optimal steps, both MSEs at the optimum, both
    :math:`\Gamma`, :math:`\Gamma` relative to the optimal MSE, and ``holds``.
    ``bits`` may be an int or a list/tuple/range/1-D array of ints.

    Parameters
    ----------
    bits : int or sequence of int
        Bit width(s) :math:`M`, each 1..16: an int, or a list/tuple/range/1-D array of ints.
    eps : float
        The step perturbation (> 0), as in :func:`sensitivity`.
    dists : list or tuple of two distributions
        :math:`(X_1, X_2)`: names or frozen zero-mean scipy.stats distributions, compared at equal variance.
    scale, relative, grid, uniform_step
        As in :func:`sensitivity`.

    Returns
    -------
    pandas.DataFrame
        One row per (bits, model): ``bits``, ``model``, ``eps``, ``relative``, and per distribution
        ``dist1``/``dist2``, ``step1``/``step2`` (optimal steps), ``mse1``/``mse2`` (MSE at the optimum),
        ``gamma1``/``gamma2`` and ``gamma_rel1``/``gamma_rel2`` (:math:`\Gamma/\mathrm{MSE}`); ``holds`` is
        ``gamma1 < gamma2``.

    Raises
    ------
    TypeError
        ``bits`` not an int or a sequence of ints; ``dists`` not a list/tuple; other parameters
        as :func:`sensitivity`.
    ValueError
        ``dists`` not of length 2; empty ``bits``; otherwise as :func:`sensitivity`.

    References
    ----------
    Shkolnik et al., NeurIPS 2020, Theorem 4.

    Examples
    --------
    >>> t = theorem_check(4, 0.05)
    >>> t[["model", "holds"]].to_dict("records")     # holds under the paper's model, reverses exactly
    [{'model': 'paper', 'holds': True}, {'model': 'exact', 'holds': False}]
    """
    import pandas as pd

    pair = check_sequence(dists, "dists")
    if len(pair) != 2:
        raise ValueError(f"dists must name exactly two distributions, got {len(pair)}: {dists!r}")
    d1, d2 = _dist(pair[0], "dists[0]"), _dist(pair[1], "dists[1]")
    if isinstance(bits, (int, np.integer)) and not isinstance(bits, (bool, np.bool_)):
        bit_list = [check_bits(bits)]
    else:
        bit_list = [
            check_bits(m, f"bits[{i}]") for i, m in enumerate(check_sequence(bits, "bits", min_len=1, allow_array=True))
        ]
    relative = check_bool(relative, "relative")
    e = check_real(eps, "eps", lo=0.0, lo_open=True)
    std = _check_std(scale)
    _check_grid(grid)
    check_choice(uniform_step, _UNIFORM_STEPS, "uniform_step")
    names = [d if isinstance(d, str) else d.dist.name for d in (d1, d2)]
    rows = []
    for m in bit_list:
        for model in MODELS:
            row = {"bits": m, "model": model, "eps": e, "relative": relative}
            for tag, d, nm in (("1", d1, names[0]), ("2", d2, names[1])):
                st = optimal_step(m, d, std, model=model, grid=grid, uniform_step=uniform_step)
                mse0 = float(mse_vs_step(st, m, d, std, model=model, grid=grid))
                gam = sensitivity(m, d, e, std, model=model, relative=relative, grid=grid, uniform_step=uniform_step)
                row.update(
                    {
                        f"dist{tag}": nm,
                        f"step{tag}": st,
                        f"mse{tag}": mse0,
                        f"gamma{tag}": gam,
                        f"gamma_rel{tag}": gam / mse0,
                    }
                )
            row["holds"] = bool(row["gamma1"] < row["gamma2"])
            rows.append(row)
    return pd.DataFrame(rows)


def pow2_penalty(bits, dist, scale=1.0, *, grid: str = "paper") -> dict:
    r"""Exact MSE penalty of rounding the optimal step :math:`\tilde\Delta` to a power of two.

    Returns a dict: ``step`` (:math:`\tilde\Delta`), ``mse``, and for ``nearest``
    (:math:`2^{\mathrm{round}(\log_2\tilde\Delta)}`, nearest in log scale, as
    supp. Table 5's "nearest 2^N"; the supplement does not say whether nearest
    in log or linear scale: log is our reading), ``below`` (floor), ``above`` (ceil) and
    ``best`` (whichever of below/above has the lower MSE) the step and the
    relative MSE increase ``penalty_<mode>`` (exact MSE on ``grid``; ``scale``
    is the standard deviation, and the penalty depends on it through where
    :math:`\log_2\tilde\Delta` falls between two integers). The MSEs are computed at
    unit standard deviation (steps divided by ``scale``), so tiny and huge scales work.

    Parameters
    ----------
    bits : int
        Bit width :math:`M`, 1..16.
    dist, scale, grid
        As in :func:`mse_vs_step`.

    Returns
    -------
    dict
        ``bits``, ``dist``, ``grid``, ``step``, ``mse``, and ``step_<mode>``, ``penalty_<mode>`` for the modes
        ``nearest``, ``below``, ``above``, ``best`` (floats; penalties are relative MSE increases).

    Raises
    ------
    TypeError, ValueError
        As :func:`mse_vs_step`; also ``ValueError`` when the absolute ``mse`` (scale**2 times the
        unit-scale MSE) is outside the float64 range.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, supplementary material, Table
    5 ("nearest 2^N").

    Examples
    --------
    >>> p = pow2_penalty(4, "gaussian")
    >>> p["step_below"] <= p["step"] <= p["step_above"]
    True
    >>> p["penalty_best"] == min(p["penalty_below"], p["penalty_above"])
    True
    """
    g = _check_grid(grid)
    d = _dist(dist)
    bits = check_bits(bits)
    std = _check_std(scale)
    u = _optimal_step_unit(bits, d, "exact", g, "approx")
    best = float(_mse_unit(np.asarray(u), bits, d, "exact", g))
    st = _scaled(u, std, "optimal step")
    out = {
        "bits": bits,
        "dist": d if isinstance(d, str) else d.dist.name,
        "grid": g,
        "step": st,
        "mse": _scaled(_scaled(best, std, "MSE"), std, "MSE"),
    }
    lg = math.log2(st)
    for mode, e in (("nearest", round(lg)), ("below", math.floor(lg)), ("above", math.ceil(lg))):
        p = 2.0**e
        out[f"step_{mode}"] = p
        out[f"penalty_{mode}"] = float(_mse_unit(np.asarray(p / std), bits, d, "exact", g)) / best - 1.0
    mode = "below" if out["penalty_below"] <= out["penalty_above"] else "above"
    out["step_best"], out["penalty_best"] = out[f"step_{mode}"], out[f"penalty_{mode}"]
    return out


def empirical_sensitivity(x, bits: int, eps: float, *, grid: str = "paper", n_candidates: int = 400) -> dict:
    r"""Step-size sensitivity of an actual tensor with the actual quantizer (relative to its own optimum).

    :math:`\tilde\Delta` is the best of ``n_candidates`` steps
    (:func:`refquant.clipping.optimal_clip_empirical` on ``grid``), and
    ``gamma_rel`` is

    .. math:: \max_\pm\big[\mathrm{MSE}(\tilde\Delta(1\pm\varepsilon)) - \mathrm{MSE}(\tilde\Delta)\big]
              / \mathrm{MSE}(\tilde\Delta),

    the MSEs measured with :func:`refquant.clipping.quantize_on_grid` on ``x``.

    Parameters
    ----------
    x : array_like
        The tensor: real, finite, non-empty, not all zero (flattened; float64 arithmetic).
    bits : int
        Bit width, 1..15 (the grid's own lower bound applies).
    eps : float
        The relative step perturbation :math:`\varepsilon`, in (0, 1).
    grid : str
        A grid of :data:`refquant.clipping.GRIDS`.
    n_candidates : int
        Number of candidate clips of the empirical search, 1..100000.

    Returns
    -------
    dict
        ``step`` (:math:`\tilde\Delta`, units of ``x``), ``mse`` (at the optimum, squared units) and
        ``gamma_rel`` (dimensionless), all floats.

    Notes
    -----
    Computed on ``x`` divided by an exact power of two (the search is scale-equivariant), with
    ``step`` and ``mse`` multiplied back.

    Raises
    ------
    TypeError
        ``x`` not a real array; ``bits``/``n_candidates`` not ints; ``eps`` not a real number;
        ``grid`` not a str.
    ValueError
        ``x`` empty, non-finite or all zeros; ``bits``/``n_candidates`` out of range; ``eps``
        outside (0, 1); unknown ``grid``; ``x`` represented exactly by the grid at its optimal
        step (MSE = 0, e.g. binary or ternary weights: the relative sensitivity divides by
        zero and is undefined); an absolute ``mse`` outside the float64 range.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, eqs. 2–4 (:math:`\Gamma`),
    measured on data instead of a model.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(1000)
    >>> r = empirical_sensitivity(x, 4, 0.05)
    >>> 0 < r["gamma_rel"] < 1
    True
    """
    xa, ex = pow2_normalize(as_float_array(x, "x").ravel())
    bits = check_bits(bits, "bits", 1, MAX_BITS - 1)
    e = check_real(eps, "eps", lo=0.0, lo_open=True, hi=1.0, hi_open=True)
    g = _check_grid(grid)
    if not np.any(xa):  # checked first: the empirical search gives a dead (all-zero) channel the clip 1.0
        raise ValueError("x is all zeros: its step-size sensitivity is undefined")
    alpha = float(_clip.optimal_clip_empirical(xa, bits, grid=g, n_candidates=n_candidates))
    mse = [float(np.mean((_clip.quantize_on_grid(xa, alpha * f, bits, g) - xa) ** 2)) for f in (1 - e, 1.0, 1 + e)]
    if mse[1] == 0:
        raise ValueError(
            "x is represented exactly by the grid at its optimal step (MSE = 0, e.g. binary or ternary "
            "weights): the relative sensitivity gamma_rel = increase / MSE is undefined"
        )
    return {
        "step": float(np.ldexp(alpha / _grid_factor(bits, g), ex)),
        "mse": _ldexp_checked(mse[1], 2 * ex, "x", "MSE"),
        "gamma_rel": max(mse[0] - mse[1], mse[2] - mse[1]) / mse[1],
    }


def theorem_table_markdown(bits=range(2, 9), eps: float = 0.05) -> str:
    r"""The theorem table of ``docs/theory/kure.md`` as markdown: uniform vs Gaussian at equal variance.

    One row per bit width: :math:`\Gamma/\mathrm{MSE}` of both distributions at relative step error ``eps`` and
    whether :math:`\Gamma_U < \Gamma_N`, under the paper's model and under the exact one.

    Generated from :func:`theorem_check`; a test checks that ``docs/theory/kure.md`` contains exactly this text.

    Parameters
    ----------
    bits : int or sequence of int
        Bit widths of the table rows, each 1..16 (default 2..8).
    eps : float
        The relative step perturbation, in (0, 1) (default 0.05).

    Returns
    -------
    str
        A markdown table ending in a newline.

    Raises
    ------
    TypeError, ValueError
        As :func:`theorem_check`.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, Theorem 4.

    Examples
    --------
    >>> print(theorem_table_markdown([4]).splitlines()[-1])
    | 4 | 0.75 % | 1.84 % | yes | 15.0 % | 2.08 % | **no** |
    """
    t = theorem_check(bits, eps)
    p, e = t[t.model == "paper"].set_index("bits"), t[t.model == "exact"].set_index("bits")
    yn = {True: "yes", False: "**no**"}
    lines = [
        "| bits | paper model: Γ/MSE uniform | Γ/MSE Gaussian | Γ_U < Γ_N "
        "| exact: Γ/MSE uniform | Γ/MSE Gaussian | Γ_U < Γ_N |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in p.index:
        lines.append(
            f"| {b} | {100 * p.gamma_rel1[b]:.2f} % | {100 * p.gamma_rel2[b]:.2f} % | {yn[bool(p.holds[b])]} "
            f"| {100 * e.gamma_rel1[b]:.1f} % | {100 * e.gamma_rel2[b]:.2f} % | {yn[bool(e.holds[b])]} |"
        )
    return "\n".join(lines) + "\n"
