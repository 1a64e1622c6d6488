"""MSE-optimal clipping values: the paper's model or the exact MSE on a grid, and the comparison table."""

from __future__ import annotations

import numpy as np

from .._validate import check_bool, check_choice, check_int, check_real, check_sequence
from ..distributions import check_dist
from .exact import _mse_exact_unit, mse_exact
from .grids import GRIDS, _check_bits, _check_grid, _min_bits
from .paper import PUBLISHED_ALPHA, _aciq_optimum_bins, _aciq_optimum_unit, _minimize_1d

#: Models of :func:`optimal_clip`: the paper's MSE model and the exact expectation on a real grid.
MODELS = ("aciq", "exact")


def optimal_clip(
    bits, dist, scale=1.0, *, model: str = "aciq", grid: str = "midrise", signed: bool = True, bins=None
) -> float:
    r"""MSE-optimal clipping value :math:`\alpha^*` (in the units of ``scale``).

    ``model="aciq"``: minimiser of :func:`mse_aciq` — Laplace in closed form,
    :math:`\alpha^*/b = W_0(3\cdot4^M)` (Lambert W); Gaussian and
    uniform by ``brentq`` on the stationarity condition :math:`E[(|X|-u)_+] = u/(3\cdot4^M)`; a scipy
    distribution by 1-D minimisation. ``grid`` is ignored by this model.
    ``model="exact"``: minimiser of :func:`mse_exact` on ``grid``, by a
    121-point log-spaced scan around the paper's optimum followed by bounded
    Brent (relative accuracy better than 1e-6).

    ``bins=omega`` (``model="aciq"`` only, ``bits=None``): the optimum for a
    real number of bins :math:`\omega`, :math:`\alpha^*/b = W_0(3\omega^2)`
    for Laplace (:math:`W_0(12\omega^2)` one-sided) -- the exact values the
    ACIQ code's mid-tread path interpolates from a table (``docs/authors_code.md``).

    Parameters
    ----------
    bits : int, 1..16 (0..16 for ``model="aciq"``; 2..16 for the symmetric
        grid), or None with ``bins``.
    dist : str or scipy.stats frozen distribution
        As :func:`mse_exact`.
    scale : float
        Scale of the distribution, > 0 (the optimum is linear in it).
    grid : {"paper", "midrise", "endpoint", "symmetric", "aciq_runtime"}
        Grid of ``model="exact"`` (as :func:`mse_exact`).
    signed : bool
        Two-sided or one-sided (post-ReLU) model.
    model : {"aciq", "exact"}
        The paper's model or the exact expectation.
    bins : float, optional
        The bin count :math:`\omega` of the paper's model, in (0, 2**32].

    Returns
    -------
    float
        :math:`\alpha^*` in the units of ``scale``.

    Raises
    ------
    TypeError
        Non-integer ``bits`` (``bits=None`` without ``bins``), non-real ``scale``/``bins``, non-string
        ``model``/``grid``, non-bool ``signed``, an unusable ``dist``.
    ValueError
        ``bits``, ``bins`` or ``scale`` out of range, both ``bits`` and ``bins`` given,
        ``bins`` with ``model="exact"``, an unknown ``model``, ``grid`` or distribution name; a scipy
        distribution with invalid parameters or infinite variance (no finite MSE to minimise; this used
        to surface as an error about ``alpha``).

    Examples
    --------

    >>> round(optimal_clip(4, "laplace"), 4)  # W0(3 * 4^4); the ACIQ code's table prints 5.03
    5.0286
    """
    check_choice(model, MODELS, "model")
    d = check_dist(dist, finite_variance=True)
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    scale = check_real(scale, "scale", lo=0.0, lo_open=True)
    if bins is not None:
        if model != "aciq":
            raise ValueError(
                f"bins={bins!r} applies to model='aciq' only (the exact model needs a real grid of 2**bits levels)"
            )
        if bits is not None:
            raise ValueError(f"pass either bits or bins, not both (got bits={bits!r} and bins={bins!r})")
        omega = check_real(bins, "bins", lo=0.0, hi=2.0**32, lo_open=True)
        return _aciq_optimum_bins(omega, d, signed) * scale
    if bits is None:
        raise TypeError(
            "bits must be an int (or pass bins, a real bin count > 0, with model='aciq'); got bits=None and bins=None"
        )
    if model == "aciq":
        bits = check_int(bits, "bits", 0, 16)
        return _aciq_optimum_unit(bits, d, signed) * scale
    bits = _check_bits(bits, grid, signed)
    guess = _aciq_optimum_unit(bits, d, signed) if isinstance(d, str) else 2.0 * float(np.sqrt(d.var()))
    f = lambda u: _mse_exact_unit(u, bits, grid, signed, d)[0]  # noqa: E731
    return _minimize_1d(f, guess) * scale


def optimal_clip_table(dist, bits=range(1, 9), *, grids=GRIDS, signed: bool = True):
    """alpha* / scale for each bit width: the paper's model, the exact optimum on each grid, the published value,
    and the relative MSE penalty of using the paper's alpha* on each exact grid.

    Parameters
    ----------
    dist : "gaussian", "laplace", "uniform" or a frozen scipy.stats continuous distribution
        As :func:`mse_exact`.
    bits : list, tuple, range or 1-D array of int
        Bit widths, each 1..16 (default 1..8).
    grids : list or tuple of str
        Grids to solve exactly on (default all of ``GRIDS``); NaN where a grid has no such bit width.
    signed : bool
        ``False``: the one-sided variant (no published column).

    Returns
    -------
    pandas.DataFrame
        One row per bit width: ``bits``, ``dist``, ``aciq``, ``published`` and ``exact_<grid>``,
        ``penalty_<grid>`` per grid.

    Raises
    ------
    TypeError
        ``bits``/``grids`` not a list, tuple or range (a set has no order, a string is not a list of
        grids); an entry of the wrong type; as :func:`optimal_clip`.
    ValueError
        An empty ``bits``/``grids``; an entry out of range or unknown (named ``bits[i]``/``grids[i]``);
        as :func:`optimal_clip`.
    """
    import pandas as pd

    d = check_dist(dist, finite_variance=True)
    signed = check_bool(signed, "signed")
    name = d if isinstance(d, str) else d.dist.name
    bit_list = [
        check_int(m, f"bits[{i}]", 1, 16)
        for i, m in enumerate(check_sequence(bits, "bits", min_len=1, allow_array=True))
    ]
    grids = [_check_grid(g, f"grids[{i}]") for i, g in enumerate(check_sequence(grids, "grids", min_len=1))]
    rows = []
    for m in bit_list:
        a_paper = optimal_clip(m, d, model="aciq", signed=signed)
        row = {
            "bits": m,
            "dist": name,
            "aciq": a_paper,
            "published": PUBLISHED_ALPHA.get(name, {}).get(m, np.nan) if signed else np.nan,
        }
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
