"""Clipping grids: reconstruction levels and thresholds, and their exact image in refquant.uniform (see
:mod:`refquant.clipping` for the table of grids)."""

from __future__ import annotations

import numpy as np

from .._validate import as_real_array, check_bool, check_choice, check_int, check_real
from ..specs import QuantSpec

#: Names of the clipping grids (levels and refquant.uniform images in the table of :mod:`refquant.clipping`).
GRIDS = ("paper", "midrise", "endpoint", "symmetric", "aciq_runtime")


def _check_grid(grid, name: str = "grid") -> str:
    return check_choice(grid, GRIDS, name)


def _min_bits(grid: str, signed: bool) -> int:
    return 2 if grid == "symmetric" else 1


def _check_bits(bits, grid: str = "midrise", signed: bool = True, hi: int = 16) -> int:
    lo = _min_bits(grid, signed)
    b = check_int(bits, "bits", 0 if grid is None else 1, hi)
    if b < lo:
        raise ValueError(
            f"bits={b} is out of range for grid={grid!r}; allowed: {lo} <= bits <= {hi} "
            "(the symmetric grid has no non-zero level at 1 bit)"
        )
    return b


def grid_levels(
    alpha: float, bits: int, grid: str = "midrise", *, signed: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Reconstruction levels and decision thresholds of a clipping grid (module table), float64.

    Returns ``(levels, thresholds)``: ``levels`` ascending, ``thresholds[i]``
    the midpoint between ``levels[i]`` and ``levels[i+1]``. A value strictly
    between two thresholds maps to the level between them; values beyond the
    outer thresholds map to the outer levels (clipping).

    Parameters
    ----------
    alpha : float > 0
        Clipping value (finite).
    bits : int
        1..16 (2..16 for ``grid="symmetric"``).
    grid : {"paper", "midrise", "endpoint", "symmetric", "aciq_runtime"}
        See the table in :mod:`refquant.clipping`.
    signed : bool
        ``False``: the one-sided grid on ``[0, alpha]``.

    Returns
    -------
    (levels, thresholds) : (float64 ndarray, float64 ndarray)
        ``levels`` ascending; ``thresholds`` one shorter.

    Raises
    ------
    TypeError
        A non-real ``alpha``, non-integer ``bits``, non-bool ``signed`` or non-str ``grid``.
    ValueError
        Out-of-range values or an unknown grid.

    Examples
    --------
    >>> grid_levels(1.0, 2, "paper")[0].tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    >>> grid_levels(1.0, 2, "midrise")[0].tolist()
    [-0.75, -0.25, 0.25, 0.75]
    >>> (grid_levels(1.5, 2, "aciq_runtime")[0]).tolist()   # step 2 * 1.5 / 3 = 1: the ACIQ code's grid
    [-2.0, -1.0, 0.0, 1.0]
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
    exact image of (half-to-even ties for "paper", "symmetric" and
    "aciq_runtime", ties upward for the floor-based "midrise" and "endpoint";
    ``x / s``). ``grid="paper"`` needs ``bits + 1`` bits of refquant's grid,
    so ``bits <= 15`` here. ``"aciq_runtime"`` is
    ``fake_quant(x, 2*alpha/(2**bits - 1), 0, QuantSpec(bits))``: the ACIQ
    code's clip path rounds ``x/s + 2**(bits-1)`` half to even, the same
    codes (``docs/authors_code.md``).

    Parameters
    ----------
    x : array_like of real, finite
        Values to quantize (any shape).
    alpha : float > 0
        Clipping value.
    bits : int
        1..16 (1..15 for "paper", 2..16 for "symmetric").
    grid : {"paper", "midrise", "endpoint", "symmetric", "aciq_runtime"}
        See the table in :mod:`refquant.clipping`.
    signed : bool
        ``False``: the one-sided grid.

    Returns
    -------
    float64 ndarray
        The quantized values, ``x``'s shape.

    Raises
    ------
    TypeError, ValueError
        As :func:`grid_levels`, or a non-real / non-finite ``x``.

    Examples
    --------
    >>> quantize_on_grid([-2.0, 0.1, 0.3], 1.0, 2, "midrise").tolist()
    [-0.75, 0.25, 0.25]
    """
    from ..uniform import fake_quant

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
