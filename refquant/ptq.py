r"""Post-training quantization (PTQ) building blocks: from a clipping value to quantizer parameters.

The theory modules answer *where to clip* (:mod:`refquant.clipping`: ACIQ's
:math:`\alpha^*`, the exact optimum, the empirical optimum) and *how many bits
per channel* (:mod:`refquant.allocation`). This module turns those answers into
the parameters of the one uniform quantizer (:mod:`refquant.uniform`) and
applies them, per tensor or per channel, in one call:

* :func:`grid_spec` and :func:`scale_from_clip` — the :class:`~refquant.QuantSpec`,
  scale and zero point that realise a clipping grid of
  :data:`refquant.clipping.GRIDS` (or the asymmetric min/max grid) at clip
  :math:`\alpha`; every formula below, for every grid.
* :func:`fit_scale` and :func:`channel_clips` — per-channel distribution fits and
  per-channel clipping values by any method (min/max, ACIQ Laplace/Gaussian,
  exact optimum, empirical optimum), vectorised over channels and bit widths.
* :func:`fake_quant_bits` — per-channel *bit widths* in one call (a ``bits``
  array from :func:`refquant.allocation.allocate_bits`; 0 = channel pruned to
  zero), bit-exact with a loop of single-width calls.
* :class:`ActivationObserver` — accumulates activation statistics over batches
  and returns ``(scale, zero_point)`` by min/max, by ACIQ (fitted Laplace or
  Gaussian, one- or two-sided) or by the MSE-optimal clip of an exactly merged
  histogram.

Grids and their refquant.uniform image
--------------------------------------
With :math:`n = 2^M` (``M`` bits), clip :math:`\alpha`, and ``fq = refquant.fake_quant``
(see ``docs/ptq.md`` for the same table with pictures):

============== ========= ================================ ===================================== ==========================================
grid           sides     carrier spec (``grid_spec``)     scale ``s`` (``scale_from_clip``)     levels = image of refquant.uniform
============== ========= ================================ ===================================== ==========================================
``symmetric``  two-sided ``QuantSpec(M, narrow_range)``   :math:`\alpha/(n/2-1)`                ``fq(x, s, 0, spec)``
``symmetric``  one-sided ``QuantSpec(M, False, True)``    :math:`\alpha/(n-2)`                  ``fq(x, s, 0, spec)``
``endpoint``   two-sided ``QuantSpec(M, rounding=floor)`` :math:`2\alpha/(n-1)`                 ``fq(x, s, 0, spec) + s/2``
``endpoint``   one-sided ``QuantSpec(M, signed=False)``   :math:`\alpha/(n-1)`                  ``fq(x, s, 0, spec)``
``midrise``    two-sided ``QuantSpec(M, rounding=floor)`` :math:`2\alpha/n`                     ``fq(x, s, 0, spec) + s/2``
``midrise``    one-sided ``QuantSpec(M, False, floor)``   :math:`\alpha/n`                      ``fq(x, s, 0, spec) + s/2``
``paper``      two-sided ``QuantSpec(M + 1)``             :math:`2\alpha/n`                     ``fq(clip(x, -alpha, alpha), s, 0, spec)``
``paper``      one-sided ``QuantSpec(M + 1, False)``      :math:`\alpha/n`                      ``fq(clip(x, 0, alpha), s, 0, spec)``
``asymmetric`` [lo, hi]  any spec                         :math:`(hi - lo)/(q_{max} - q_{min})` ``fq(x, s, z, spec)``,
                                                                                                :math:`z = q_{min} - \mathrm{rint}(lo/s)`
============== ========= ================================ ===================================== ==========================================

Only ``symmetric`` (both sides), one-sided ``endpoint`` and ``asymmetric`` are a
plain affine quantizer ``fq(x, s, z, spec)`` — deployable as one ONNX
``QuantizeLinear``/``DequantizeLinear`` pair. The others need the extra step in
the last column: ``midrise`` and two-sided
``endpoint`` (floor, then half a step up: levels :math:`(k + \tfrac12)s`) have a zero point
of :math:`-\tfrac12`, and ``paper`` has :math:`n+1`
levels, one more than ``M`` bits hold (the ACIQ paper's simulation grid).
:func:`refquant.clipping.quantize_on_grid` is the same operational definition
written independently; the tests check the two agree bit for bit.

References
----------
Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for
rapid-deployment", NeurIPS 2019 (ACIQ): eq. 5 (Laplace clipping MSE), Sec. 4 (per-channel bit
allocation, eqs. 10-11), Sec. 5 (bias correction, eqs. 12-13).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validate import as_real_array, check_axis, check_bool, check_choice, check_int, short_repr
from .specs import QuantSpec

__all__ = [
    "PTQ_GRIDS",
    "CLIP_METHODS",
    "OBSERVER_METHODS",
    "grid_spec",
    "scale_from_clip",
    "fit_scale",
    "channel_clips",
    "fake_quant_bits",
    "ActivationObserver",
]

#: Grid names accepted by :func:`scale_from_clip` (refquant.clipping.GRIDS plus the asymmetric min/max grid).
PTQ_GRIDS = ("symmetric", "endpoint", "midrise", "paper", "asymmetric")
#: Methods of :func:`channel_clips`.
CLIP_METHODS = ("minmax", "aciq_laplace", "aciq_gaussian", "exact_laplace", "exact_gaussian", "empirical")
#: Methods of :meth:`ActivationObserver.params`.
OBSERVER_METHODS = ("minmax", "aciq_laplace", "aciq_gaussian", "exact_laplace", "exact_gaussian", "mse")

_CLIP_GRIDS = ("symmetric", "endpoint", "midrise", "paper")


# ---------------------------------------------------------------------------------------------- grids
def _check_grid(grid: Any, allowed=_CLIP_GRIDS) -> str:
    return check_choice(grid, allowed, "grid")


def _grid_min_bits(grid: str, signed: bool) -> int:
    return 2 if grid == "symmetric" else 1


def _check_grid_bits(bits: Any, grid: str, signed: bool, name: str = "bits") -> int:
    hi = 15 if grid == "paper" else 16
    b = check_int(bits, name, 1, hi)
    lo = _grid_min_bits(grid, signed)
    if b < lo:
        raise ValueError(
            f"{name}={b} is out of range for grid={grid!r}; allowed: {lo} <= {name} <= {hi} "
            "(the symmetric grid has no non-zero level at 1 bit; the midrise, endpoint and paper grids do)"
        )
    return b


def grid_spec(bits: int, grid: str = "symmetric", *, signed: bool = True, axis: int | None = None) -> QuantSpec:
    """The :class:`~refquant.QuantSpec` that carries a clipping grid of ``bits`` bits (module table).

    Parameters
    ----------
    bits : int
        Bit width ``M`` of the grid: 2..16 for ``"symmetric"``, 1..16 for
        ``"endpoint"``/``"midrise"``, 1..15 for ``"paper"`` (its ``2^M + 1``
        levels need an ``M + 1``-bit spec).
    grid : {"symmetric", "endpoint", "midrise", "paper"}
        A grid of :data:`refquant.clipping.GRIDS`.
    signed : bool
        Two-sided grid on :math:`[-\\alpha, \\alpha]` (True) or one-sided
        (post-ReLU) grid on :math:`[0, \\alpha]` (False).
    axis : int or None
        Channel axis of the returned spec (``None``: per tensor).

    Returns
    -------
    QuantSpec
        Half-to-even rounding except ``"midrise"`` (floor), ``scale_op="divide"``,
        default compute dtype.

    Raises
    ------
    TypeError, ValueError
        For a bad ``grid``, ``bits`` out of the grid's range, a non-bool ``signed`` or a non-int ``axis``.

    Examples
    --------
    >>> s = grid_spec(4, "symmetric")
    >>> s.bits, s.signed, s.narrow_range, s.rounding.value
    (4, True, True, 'half_even')
    >>> grid_spec(3, "paper", signed=False).bits
    4
    """
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    bits = _check_grid_bits(bits, grid, signed)
    if axis is not None:
        axis = check_int(axis, "axis")
    if grid == "symmetric":
        return QuantSpec(bits, signed=signed, narrow_range=True, axis=axis)
    if grid == "endpoint":  # two-sided: floor, then half a step up (as midrise); one-sided: unsigned full range
        return QuantSpec(bits, rounding="floor", axis=axis) if signed else QuantSpec(bits, signed=False, axis=axis)
    if grid == "midrise":
        return QuantSpec(bits, signed=signed, rounding="floor", axis=axis)
    return QuantSpec(bits + 1, signed=signed, axis=axis)


def _carrier_bits(spec: QuantSpec, grid: str) -> int:
    """The grid's M for a carrier spec (``paper`` carries M + 1 bits)."""
    return spec.bits - 1 if grid == "paper" else spec.bits


def _grid_scale(alpha: np.ndarray, bits: int, grid: str, signed: bool) -> np.ndarray:
    """Scale of the module table (float64, same expressions as refquant.clipping.quantize_on_grid's definition)."""
    n = 2**bits
    if signed:
        if grid in ("paper", "midrise"):
            return 2 * alpha / n
        if grid == "endpoint":
            return 2 * alpha / (n - 1)
        return alpha / (n // 2 - 1)
    if grid in ("paper", "midrise"):
        return alpha / n
    if grid == "endpoint":
        return alpha / (n - 1)
    return alpha / (n - 2)


def _check_carrier(spec: QuantSpec, grid: str, signed: bool) -> int:
    """Check that *spec* is the carrier of *grid* (as :func:`grid_spec` builds it); return the grid's M."""
    m = _carrier_bits(spec, grid)
    if m < 1:
        raise ValueError(f"spec.bits={spec.bits} is too small for grid={grid!r}; build the spec with grid_spec()")
    want = grid_spec(m, grid, signed=signed, axis=spec.axis)
    have = (spec.bits, spec.signed, spec.narrow_range, spec.rounding)
    need = (want.bits, want.signed, want.narrow_range, want.rounding)
    if have != need:
        raise ValueError(
            f"spec (bits={spec.bits}, signed={spec.signed}, narrow_range={spec.narrow_range}, rounding={spec.rounding.value!r}) "
            f"is not the carrier of grid={grid!r} with signed={signed}; it needs bits={want.bits}, signed={want.signed}, "
            f"narrow_range={want.narrow_range}, rounding={want.rounding.value!r}: use grid_spec({m}, {grid!r}, signed={signed})"
        )
    return m


def scale_from_clip(alpha, spec: QuantSpec, *, grid: str = "symmetric", signed: bool | None = None, lower=None):
    r"""Scale and zero point of refquant.uniform that realise clipping at ``alpha`` on a named grid.

    Parameters
    ----------
    alpha : float or array_like
        Clipping value :math:`\alpha > 0` (finite; the upper end of the range
        for ``grid="asymmetric"``). A scalar for ``spec.axis=None``; a scalar
        or 1-D array (one clip per channel) for a per-channel spec.
    spec : QuantSpec
        For the four clipping grids: the grid's carrier, as :func:`grid_spec`
        builds it (bits, signedness, narrow range and rounding are checked
        against the module table). For ``"asymmetric"``: any spec.
    grid : {"symmetric", "endpoint", "midrise", "paper", "asymmetric"}
        Grid convention (module table). Default ``"symmetric"``, the usual
        weight grid (narrow signed range, zero point 0).
    signed : bool, optional
        Two-sided (:math:`[-\alpha, \alpha]`) or one-sided (:math:`[0, \alpha]`)
        clipping grid. Default: ``spec.signed`` (the carrier's sidedness). Ignored
        (must be None) for ``"asymmetric"``.
    lower : float or array_like, optional
        ``grid="asymmetric"`` only: the lower end of the range, ``lower <= 0``
        (default 0: the one-sided asymmetric case, e.g. post-ReLU data on a
        signed spec). The range is ``[lower, alpha]``.

    Returns
    -------
    (scale, zero_point)
        ``scale`` float64 (NumPy scalar per tensor, 1-D array per channel),
        computed in float64 and rounded by refquant.uniform to the compute
        dtype when used. ``zero_point``: 0 for the clipping grids (Python int
        or int64 array); for ``"asymmetric"``
        :math:`z = \mathrm{clamp}(q_{min} - \mathrm{rint}(lower/s), q_{min}, q_{max})`
        as :func:`refquant.calibrate_minmax` with ``symmetric=False``.

    Raises
    ------
    TypeError, ValueError
        Naming the parameter: bad ``spec`` type, a spec that is not the grid's
        carrier, ``alpha <= 0`` or non-finite, ``lower > 0``, ``signed`` given
        for ``"asymmetric"``, an alpha array for a per-tensor spec.

    Notes
    -----
    The levels of the grid are the image of refquant.uniform with the
    returned parameters, through the recipe in the last column of the module
    table (an extra clip for ``paper``, a half-step output shift for
    ``midrise``, an input/output shift by :math:`\alpha` for two-sided
    ``endpoint``). A float64 ``scale`` of :math:`\alpha/q` is correctly
    rounded; per-channel values are computed element by element with the
    same expression, so per-channel and per-tensor calls agree bit for bit.

    Examples
    --------
    >>> s, z = scale_from_clip(1.4, grid_spec(4, "symmetric"))   # levels k * 0.2, |k| <= 7
    >>> float(s), z
    (0.19999999999999998, 0)
    >>> s, z = scale_from_clip(6.0, QuantSpec(8), grid="asymmetric", lower=-2.0)
    >>> round(float(s), 6), z
    (0.031373, -64)
    """
    if not isinstance(spec, QuantSpec):
        raise TypeError(f"spec must be a refquant.QuantSpec, got type={type(spec).__name__}")
    grid = _check_grid(grid, PTQ_GRIDS)
    per_channel = spec.axis is not None
    a = as_real_array(alpha, "alpha").astype(np.float64)
    if a.ndim > 1 or (a.ndim == 1 and not per_channel):
        raise ValueError(
            f"alpha has shape {a.shape}; a per-tensor spec (spec.axis=None) needs a scalar, a per-channel spec a 1-D array"
        )
    if np.any(a <= 0):
        raise ValueError(f"alpha must be > 0, got alpha={short_repr(a[a <= 0].flat[0])}")
    if grid == "asymmetric":
        if signed is not None:
            raise ValueError("signed must be None for grid='asymmetric' (the range [lower, alpha] says it)")
        lo = np.zeros_like(a) if lower is None else as_real_array(lower, "lower").astype(np.float64)
        if lo.ndim > 1 or (lo.ndim == 1 and not per_channel):
            raise ValueError(f"lower has shape {lo.shape}; it must have the shape of alpha (scalar or 1-D per channel)")
        if np.any(lo > 0):
            raise ValueError(
                f"lower must be <= 0 (the range must contain 0), got lower={short_repr(lo[lo > 0].flat[0])}"
            )
        a, lo = np.broadcast_arrays(a, lo)
        qmin, qmax = float(spec.qmin), float(spec.qmax)
        with np.errstate(over="ignore"):
            s = (a - lo) / (qmax - qmin)
        if not np.all(np.isfinite(s)):
            raise ValueError("alpha - lower overflows float64; use a smaller range")
        z = np.clip(qmin - np.rint(lo / s), qmin, qmax).astype(np.int64)
    else:
        if lower is not None:
            raise ValueError(
                f"lower is only used by grid='asymmetric', got lower={short_repr(lower)} with grid={grid!r}"
            )
        sd = spec.signed if signed is None else check_bool(signed, "signed")
        m = _check_carrier(spec, grid, sd)
        s = _grid_scale(a, m, grid, sd)
        z = np.zeros(a.shape, dtype=np.int64)
    if not per_channel or a.ndim == 0:
        return np.float64(s[()]) if s.ndim == 0 else s, int(z[()]) if z.ndim == 0 else z
    return s, z


def _apply_grid(xa: np.ndarray, a: np.ndarray, bits: int, grid: str, signed: bool, axis: int | None) -> np.ndarray:
    """fake-quantize float64 ``xa`` on ``grid`` with clip ``a`` (per channel along ``axis``), the module table's recipe."""
    from .uniform import fake_quant

    spec = grid_spec(bits, grid, signed=signed, axis=axis)
    s = _grid_scale(a, bits, grid, signed)
    shape = [1] * xa.ndim
    if axis is not None:
        shape[axis] = -1
    ab = a.reshape(shape)
    if grid == "paper":
        return fake_quant(np.clip(xa, -ab if signed else 0.0, ab), s, 0, spec)
    if grid == "midrise" or (grid == "endpoint" and signed):
        return fake_quant(xa, s, 0, spec) + (s / 2).reshape(shape)
    return fake_quant(xa, s, 0, spec)


# ---------------------------------------------------------------------------------------------- per-channel clips
def _channel_view(x, axis, name: str = "x") -> tuple[np.ndarray, int | None]:
    xa = as_real_array(x, name).astype(np.float64)
    if axis is None:
        return xa.reshape(1, -1), None
    if xa.ndim == 0:
        raise ValueError(f"{name} is 0-d; axis={axis} needs at least one dimension (use axis=None)")
    ax = check_axis(axis, xa.ndim, "axis")
    return np.moveaxis(xa, ax, 0).reshape(xa.shape[ax], -1), ax


def fit_scale(x, dist: str, *, axis: int | None = None, signed: bool = True):
    r"""Per-channel scale of a fitted Laplace or Gaussian (the ACIQ fits), float64.

    Two-sided (``signed=True``): Laplace :math:`b = E|X - \mu|` (the ACIQ
    code's estimate), Gaussian :math:`\sigma` = population standard deviation.
    One-sided (``signed=False``, post-ReLU data :math:`X = \max(Y, 0)` with
    :math:`Y` zero-centred): moment match of :math:`E[X^2]`, which is
    :math:`b^2` for Laplace and :math:`\sigma^2/2` for Gaussian, so
    :math:`b = \sqrt{E[X^2]}` and :math:`\sigma = \sqrt{2E[X^2]}`.

    Parameters
    ----------
    x : array_like, real, finite, non-empty.
    dist : {"laplace", "gaussian"}
    axis : int or None
        Channel axis (statistics over all other axes) or None (one value).
    signed : bool
        Two-sided or one-sided data (above).

    Returns
    -------
    float64 array of shape ``()`` (``axis=None``) or ``(C,)``; 0 for a constant
    (two-sided) or all-zero (one-sided) channel.

    Raises
    ------
    TypeError, ValueError
        Bad ``dist``, ``axis``, ``signed`` or ``x`` (and negative ``x`` with ``signed=False``).

    Examples
    --------
    >>> float(fit_scale([-1.0, 1.0, -3.0, 3.0], "laplace"))
    2.0
    """
    check_choice(dist, ("laplace", "gaussian"), "dist")
    signed = check_bool(signed, "signed")
    v, ax = _channel_view(x, axis)
    if signed:
        mu = v.mean(axis=1, keepdims=True)
        out = np.abs(v - mu).mean(axis=1) if dist == "laplace" else np.sqrt(((v - mu) ** 2).mean(axis=1))
    else:
        if np.any(v < 0):
            raise ValueError("x has negative values but signed=False (one-sided, post-ReLU data); use signed=True")
        m2 = (v * v).mean(axis=1)
        out = np.sqrt(m2) if dist == "laplace" else np.sqrt(2.0 * m2)
    return out.reshape(()) if ax is None else out


def _bits_per_channel(bits, c: int, lo: int, hi: int) -> np.ndarray:
    b = np.asarray(bits)
    if b.dtype.kind not in "iu" or isinstance(bits, (bool, np.bool_)):
        raise TypeError(f"bits must be an int or an integer array, got {short_repr(bits)} (dtype={b.dtype})")
    if b.ndim == 0:
        b = np.full(c, int(b), dtype=np.int64)
    if b.shape != (c,):
        raise ValueError(f"bits has shape {b.shape}; it must be a scalar or have one entry per channel ({c})")
    if np.any(b < lo) or np.any(b > hi):
        bad = int(b[(b < lo) | (b > hi)][0])
        raise ValueError(f"bits={bad} is out of range; allowed: {lo} <= bits <= {hi}")
    return b.astype(np.int64)


def channel_clips(
    x,
    bits,
    *,
    axis: int | None = 0,
    method: str = "aciq_laplace",
    grid: str = "symmetric",
    signed: bool = True,
    n_candidates: int = 100,
):
    r"""Clipping value per channel by a named method, vectorised over channels (and bit widths).

    Parameters
    ----------
    x : array_like, real, finite, non-empty (weights or calibration activations).
    bits : int or 1-D int array (one width per channel); widths of 0 give
        :math:`\alpha = \max|x_c|` (a pruned channel's clip is never used).
    axis : int or None
        Channel axis (default 0, the output channel of an OI.. weight), or None.
    method : str
        ``"minmax"``: :math:`\max|x_c|`. ``"aciq_laplace"`` / ``"aciq_gaussian"``:
        :math:`\alpha^*` of the paper's model (:func:`refquant.clipping.optimal_clip`,
        ``model="aciq"``) for the :func:`fit_scale` fit. ``"exact_laplace"`` /
        ``"exact_gaussian"``: the exact optimum on ``grid`` for that fit
        (``model="exact"``). ``"empirical"``: the MSE-optimal clip of the
        data itself on ``grid`` (:func:`refquant.clipping.optimal_clip_empirical`).
    grid : {"symmetric", "midrise", "paper", "endpoint"}
        Grid of the exact and empirical methods (ignored by the others).
    signed : bool
        Two-sided or one-sided (post-ReLU) data and grid.
    n_candidates : int
        Candidates of the empirical search (1..100000).

    Returns
    -------
    float64 array, shape ``()`` or ``(C,)``, every entry > 0. A channel whose
    data is all zero gets the clip 1.0 (any clip represents it exactly; a
    positive value keeps the scale valid).

    Raises
    ------
    TypeError, ValueError
        Naming the parameter (bad method, grid, bits outside the grid's range, ...).

    Notes
    -----
    The theory optimum is linear in the fitted scale, :math:`\alpha^* = u^*(M)\,b`,
    so it is solved once per distinct bit width and multiplied by every
    channel's scale. Closed-form and exact optima are computed for the
    two-sided or one-sided model as :func:`refquant.clipping.optimal_clip`.

    Examples
    --------
    >>> w = np.array([[0.5, -1.0, 0.25], [2.0, -4.0, 1.0]])
    >>> channel_clips(w, 4, method="minmax").tolist()
    [1.0, 4.0]
    """
    from . import clipping as C

    check_choice(method, CLIP_METHODS, "method")
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    n_candidates = check_int(n_candidates, "n_candidates", 1, 100000)
    v, ax = _channel_view(x, axis)
    if not signed and np.any(v < 0):
        raise ValueError("x has negative values but signed=False (one-sided data); use signed=True")
    c = v.shape[0]
    b = _bits_per_channel(bits, c, 0, 15 if grid == "paper" else 16)
    amax = np.abs(v).max(axis=1)
    out = amax.copy()
    if method != "minmax":
        for m in np.unique(b[b > 0]):
            sel = b == m
            if method.startswith(("aciq", "exact")):
                dist = method.split("_")[1]
                scale = fit_scale(v[sel], dist, axis=0, signed=signed)
                if method.startswith("exact"):
                    _check_grid_bits(int(m), grid, signed)
                    u = C.optimal_clip(int(m), dist, 1.0, model="exact", grid=grid, signed=signed)
                else:
                    u = C.optimal_clip(int(m), dist, 1.0, model="aciq", signed=signed)
                out[sel] = u * scale
            else:
                _check_grid_bits(int(m), grid, signed)
                out[sel] = _empirical(v[sel], int(m), grid, signed, n_candidates)
    out = np.where(out > 0, out, 1.0)
    return out.reshape(()) if ax is None else out


def _empirical(v: np.ndarray, bits: int, grid: str, signed: bool, n: int) -> np.ndarray:
    """Per-row empirical optimum (refquant.clipping's search; one- or two-sided)."""
    from . import clipping as C

    return np.asarray(
        C.optimal_clip_empirical(v, bits, axis=0, grid=grid, signed=signed, n_candidates=n), dtype=np.float64
    )


# ---------------------------------------------------------------------------------------------- per-channel bits
def fake_quant_bits(x, alpha, bits, *, axis: int = 0, grid: str = "symmetric", signed: bool = True) -> np.ndarray:
    r"""Fake-quantize each channel with its own clip and its own bit width, in one call.

    Channel ``c`` (index ``c`` along ``axis``) is quantized on ``grid`` with
    clip ``alpha[c]`` and ``bits[c]`` bits through refquant.uniform (module
    table); ``bits[c] == 0`` prunes the channel to zeros. Channels of equal
    width are quantized together by one per-channel refquant.uniform call.

    Parameters
    ----------
    x : array_like, real, finite, ``ndim >= 1``.
    alpha : float or 1-D array_like, > 0, one clip per channel.
    bits : int or 1-D int array_like, one width per channel: 0 (pruned) or a
        width of the grid (2..16 for ``"symmetric"``, 1..16 for ``"midrise"``
        and ``"endpoint"``, 1..15 for ``"paper"``). ``allocate_bits`` with
        ``min_bits=0`` can return 1: use a grid with a 1-bit form
        (``"midrise"``: the two levels :math:`\pm\alpha/2`) or ``min_bits=2``.
    axis : int
        Channel axis (default 0).
    grid : {"symmetric", "midrise", "endpoint", "paper"}
    signed : bool
        Two-sided or one-sided grid.

    Returns
    -------
    float64 array of the shape of ``x``. Bit for bit equal to the loop
    ``[quantize_on_grid(x[c], alpha[c], bits[c], grid, signed=signed) for c ...]``
    (zeros where ``bits[c] == 0``) moved back to ``axis``.

    Raises
    ------
    TypeError, ValueError
        Naming the parameter: alpha/bits of the wrong shape or range, 1-bit
        channels on the symmetric grid, a 0-d ``x``, a bad axis or grid.

    Examples
    --------
    >>> w = np.array([[0.3, -0.9], [0.3, -0.9], [0.3, -0.9]])
    >>> fake_quant_bits(w, [1.0, 1.0, 1.0], [0, 1, 2], grid="midrise").tolist()
    [[0.0, 0.0], [0.5, -0.5], [0.25, -0.75]]
    """
    grid = _check_grid(grid)
    signed = check_bool(signed, "signed")
    xa = as_real_array(x, "x").astype(np.float64)
    if xa.ndim == 0:
        raise ValueError("x is 0-d; per-channel bit widths need at least one dimension")
    ax = check_axis(axis, xa.ndim, "axis")
    c = xa.shape[ax]
    a = as_real_array(alpha, "alpha").astype(np.float64)
    if a.ndim == 0:
        a = np.full(c, float(a))
    if a.shape != (c,):
        raise ValueError(f"alpha has shape {a.shape}; it must be a scalar or have one entry per channel ({c})")
    if np.any(a <= 0):
        raise ValueError(
            f"alpha must be > 0, got alpha={short_repr(a[a <= 0][0])} (channel {int(np.flatnonzero(a <= 0)[0])})"
        )
    b = _bits_per_channel(bits, c, 0, 15 if grid == "paper" else 16)
    lo = _grid_min_bits(grid, signed)
    if np.any((b > 0) & (b < lo)):
        raise ValueError(
            f"bits has {int(np.sum((b > 0) & (b < lo)))} channel(s) of width 1, out of range for grid={grid!r}; "
            f"allowed: 0 (pruned) or {lo} <= bits <= 16. Use grid='midrise' (1 bit = levels +-alpha/2) "
            "or allocate with min_bits=2"
        )
    out = np.zeros(xa.shape, dtype=np.float64)
    xm = np.moveaxis(xa, ax, 0)
    om = np.moveaxis(out, ax, 0)  # a view: writing it writes out
    for m in np.unique(b[b > 0]):
        sel = np.flatnonzero(b == m)
        om[sel] = _apply_grid(xm[sel], a[sel], int(m), grid, signed, 0)
    return out


# ---------------------------------------------------------------------------------------------- observer
class ActivationObserver:
    r"""Accumulate activation statistics over batches; return ``(scale, zero_point)`` for a spec.

    Every :meth:`update` merges one batch into running statistics that are
    independent of how the data was split into batches:

    * **min / max** — exact.
    * **moments** — count, mean and :math:`\sum(x-\bar x)^2` merged with Chan et
      al.'s pairwise update (float64), and :math:`\sum x^2` (one-sided fits);
      equal to the statistics of the concatenated data up to float64 rounding
      (relative 1e-12 in the tests).
    * **histogram** — exact. Bins have a power-of-two width :math:`w` and edges
      at integer multiples of :math:`w` (anchored at 0): a value ``x`` falls in
      bin :math:`\lfloor x / w\rfloor` (exact: division by a power of two,
      and a quotient that underflows is below 1 in magnitude, so its sign
      alone decides between bins 0 and -1).
      The ``bins`` bins cover :math:`[-B w/2, B w/2)` (two-sided) or
      :math:`[0, B w)` (one-sided). When a batch exceeds the range, :math:`w`
      is doubled as often as needed and adjacent bin pairs are summed; since
      the new edges are a subset of the old ones, the counts are exactly those
      of histogramming all data so far with the final edges. So the histogram
      after any batching equals the histogram of the concatenated data.

    Parameters
    ----------
    signed : bool
        Two-sided data (default True) or one-sided, non-negative data
        (post-ReLU; a negative value then raises).
    bins : int
        Histogram bins, an even number in 16..65536 (default 2048).

    Examples
    --------
    >>> obs = ActivationObserver(signed=False)
    >>> obs.update([0.0, 0.5, 1.0]); obs.update([2.0, 0.25])
    >>> obs.params(QuantSpec(8, signed=False), "minmax")
    (np.float64(0.00784313725490196), 0)
    """

    def __init__(self, *, signed: bool = True, bins: int = 2048) -> None:
        self.signed = check_bool(signed, "signed")
        bins = check_int(bins, "bins", 16, 65536)
        if bins % 2:
            raise ValueError(f"bins={bins} must be even (the two-sided histogram is split at 0)")
        self.bins = bins
        self.count = 0
        self.min = math.inf
        self.max = -math.inf
        self._mean = 0.0
        self._m2 = 0.0
        self._sumsq = 0.0
        self.width: float | None = None
        self.hist = np.zeros(bins, dtype=np.int64)

    # -- accumulation ---------------------------------------------------------------------------
    def _offset(self) -> int:
        return self.bins // 2 if self.signed else 0

    def _needed_width(self, lo: float, hi: float) -> float | None:
        """Smallest power of two w with lo >= -off*w and hi < (bins - off)*w (None: all data is 0, any w)."""
        off = self._offset()
        span = max(hi / (self.bins - off), (-lo / off) if off else 0.0)
        if span == 0.0:
            return None
        m, e = math.frexp(span)  # span = m * 2**e, 0.5 <= m < 1
        w = math.ldexp(1.0, e)  # >= span; strict for hi: need hi < (bins-off)*w
        if hi >= (self.bins - off) * w:
            w *= 2.0
        return w

    def update(self, x) -> None:
        """Merge one batch ``x`` (array_like, real, finite, non-empty; any shape) into the statistics."""
        a = as_real_array(x, "x").astype(np.float64).ravel()
        if not self.signed and a.min() < 0:
            raise ValueError(f"x has negative values (min {a.min()!r}) but the observer is one-sided (signed=False)")
        lo, hi = float(a.min()), float(a.max())
        if not (abs(lo) < 1e150 and abs(hi) < 1e150):
            raise ValueError(
                "x has values beyond 1e150 in magnitude (their squares would overflow the moments); rescale the activations"
            )
        # moments (Chan et al. pairwise merge)
        n_b = a.size
        mean_b = float(a.mean())
        m2_b = float(((a - mean_b) ** 2).sum())
        n = self.count + n_b
        delta = mean_b - self._mean
        self._m2 += m2_b + delta * delta * self.count * n_b / n
        self._mean += delta * n_b / n
        self._sumsq += float((a * a).sum())
        self.count = n
        self.min, self.max = min(self.min, lo), max(self.max, hi)
        # histogram with power-of-two width, rescaled exactly when the range grows
        w = self._needed_width(min(self.min, 0.0), max(self.max, 0.0))
        if self.width is None:
            self.width = w  # zeros seen so far sit in bin floor(0 / w) = 0 for every w
        elif w is not None and w > self.width:
            self._rebin(w)
        self.hist += self._counts(a, self.width)

    def _counts(self, a: np.ndarray, w: float | None) -> np.ndarray:
        if w is None:  # all values so far are 0
            idx = np.full(a.size, self._offset(), dtype=np.int64)
        else:
            q = np.floor(a / w)  # exact unless a / w underflows (|a| < w): then only the sign decides the bin
            q[(a < 0) & (q >= 0)] = -1.0
            idx = q.astype(np.int64) + self._offset()
        return np.bincount(idx, minlength=self.bins).astype(np.int64)

    def _rebin(self, w: float) -> None:
        shift = math.frexp(w)[1] - math.frexp(self.width)[1]  # w = w_old * 2**shift (both powers of two)
        off = self._offset()
        k = np.arange(self.bins, dtype=np.int64) - off  # bin k covers [k*w_old, (k+1)*w_old)
        new = (np.floor_divide(k, 1 << shift) if shift < 62 else np.where(k >= 0, 0, -1)) + off
        self.hist = np.bincount(new, weights=self.hist, minlength=self.bins).astype(np.int64)
        self.width = w

    # -- statistics -----------------------------------------------------------------------------
    def _need_data(self) -> None:
        if self.count == 0:
            raise ValueError("the observer has seen no data; call update(x) first")

    @property
    def mean(self) -> float:
        """Mean of all values seen (float64)."""
        self._need_data()
        return self._mean

    @property
    def var(self) -> float:
        """Population variance of all values seen (float64, merged pairwise)."""
        self._need_data()
        return self._m2 / self.count

    @property
    def mean_square(self) -> float:
        r""":math:`E[X^2]` of all values seen."""
        self._need_data()
        return self._sumsq / self.count

    def edges(self) -> np.ndarray:
        """Histogram bin edges (``bins + 1`` values, float64), exact multiples of the power-of-two width."""
        self._need_data()
        return (np.arange(self.bins + 1) - self._offset()) * (1.0 if self.width is None else self.width)

    def fitted_scale(self, dist: str) -> float:
        r"""Laplace ``b`` or Gaussian :math:`\sigma` from the accumulated moments.

        Two-sided: moment match of the variance (:math:`b = \sigma/\sqrt2`, the
        Laplace variance being :math:`2b^2`; :math:`E|X-\mu|`, the ACIQ code's
        Laplace fit, cannot be merged over batches without a second pass).
        One-sided: :math:`b = \sqrt{E[X^2]}`, :math:`\sigma = \sqrt{2E[X^2]}`
        (as :func:`fit_scale`).
        """
        check_choice(dist, ("laplace", "gaussian"), "dist")
        self._need_data()
        if self.signed:
            sd = math.sqrt(self.var)
            return sd / math.sqrt(2.0) if dist == "laplace" else sd
        ms = self.mean_square
        return math.sqrt(ms) if dist == "laplace" else math.sqrt(2.0 * ms)

    def clip(
        self,
        bits: int,
        method: str = "mse",
        *,
        grid: str | None = None,
        signed: bool | None = None,
        n_candidates: int | None = None,
    ) -> float:
        r"""Clipping value :math:`\alpha` for ``bits`` bits by ``method`` (float64, > 0).

        ``"minmax"``: :math:`\max(|\min|, |\max|)`. ``"aciq_laplace"`` /
        ``"aciq_gaussian"``: the paper's :math:`\alpha^*` for the fitted scale
        (one- or two-sided model), capped at the observed maximum magnitude.
        ``"exact_laplace"`` / ``"exact_gaussian"``: the exact optimum on ``grid``
        for the fitted scale (:func:`refquant.clipping.optimal_clip`,
        ``model="exact"``), capped likewise.
        ``"mse"``: the clip minimising the squared error of the accumulated
        histogram, each bin's count placed at its centre, quantized through
        refquant.uniform on ``grid`` (default: the carrier of
        :meth:`params`' spec: ``"symmetric"`` two-sided, ``"endpoint"``
        one-sided; ``signed`` chooses the grid's sidedness, default the
        observer's). Candidates are the bin edges ``k * w`` (every
        ``ceil(bins / n_candidates)``-th, default all), so the optimum is
        exact for the histogram and within one bin width of the data's.
        An all-zero record gives 1.0.
        """
        check_choice(method, OBSERVER_METHODS, "method")
        self._need_data()
        amax = max(abs(self.min), abs(self.max))
        if amax == 0:
            return 1.0
        if method == "minmax":
            return amax
        sided = self.signed if signed is None else check_bool(signed, "signed")
        if method.startswith("aciq"):
            from . import clipping as C

            bits = check_int(bits, "bits", 0, 16)
            b = self.fitted_scale(method.split("_")[1])
            return (
                amax if b == 0 else min(C.optimal_clip(bits, method.split("_")[1], b, model="aciq", signed=sided), amax)
            )
        grid = ("symmetric" if sided else "endpoint") if grid is None else _check_grid(grid)
        if grid == "endpoint" and sided:
            raise ValueError(
                "grid='endpoint' two-sided is not a zero-point-0 grid; use grid='symmetric' or signed=False"
            )
        bits = _check_grid_bits(bits, grid, sided)
        if method.startswith("exact"):
            from . import clipping as C

            b = self.fitted_scale(method.split("_")[1])
            return (
                amax
                if b == 0
                else min(C.optimal_clip(bits, method.split("_")[1], b, model="exact", grid=grid, signed=sided), amax)
            )
        n_candidates = self.bins if n_candidates is None else check_int(n_candidates, "n_candidates", 1, 100000)
        return self._mse_clip(bits, grid, sided, n_candidates)

    def _mse_clip(self, bits: int, grid: str, signed: bool, n_candidates: int) -> float:
        w = self.width  # not None: an all-zero record returned before
        off = self._offset()
        centres = (np.arange(self.bins) - off + 0.5) * w
        used = self.hist > 0
        cx, cn = centres[used], self.hist[used].astype(np.float64)
        step = max(1, -(-self.bins // n_candidates))
        top = int(math.ceil(max(abs(self.min), abs(self.max)) / w))
        ks = np.arange(step, top + step, step, dtype=np.float64)
        alphas = ks * w
        # all candidates at once: rows = candidates (per-channel axis 0), columns = used bin centres
        xq = _apply_grid(np.broadcast_to(cx, (alphas.size, cx.size)).copy(), alphas, bits, grid, signed, 0)
        sse = ((xq - cx) ** 2) @ cn
        return float(alphas[int(np.argmin(sse))])

    def params(self, spec: QuantSpec, method: str = "minmax", **kwargs):
        r"""``(scale, zero_point)`` for ``spec`` (per tensor) from the accumulated statistics.

        * ``"minmax"``: exactly :func:`refquant.calibrate_minmax` of the
          concatenated data with ``symmetric=spec.signed`` (signed: ``z = 0``,
          :math:`s = \max|x|/q_{max}`; unsigned: the asymmetric grid over
          :math:`[\min(x, 0), \max(x, 0)]`), rounded to float64.
        * ``"aciq_*"``, ``"exact_*"``, ``"mse"``: :math:`\alpha` from
          :meth:`clip` with ``bits = spec.bits`` and
          :func:`scale_from_clip` ``(alpha, spec, grid="symmetric")``. The spec
          must be narrow range (the symmetric grid) when signed; an unsigned
          spec of full range is the one-sided ``"endpoint"`` grid, narrow the
          one-sided ``"symmetric"`` grid.

        ``kwargs`` go to :meth:`clip` (``n_candidates``).
        """
        if not isinstance(spec, QuantSpec):
            raise TypeError(f"spec must be a refquant.QuantSpec, got type={type(spec).__name__}")
        if spec.axis is not None:
            raise ValueError(f"spec.axis={spec.axis}: the observer is per tensor; use a spec with axis=None")
        check_choice(method, OBSERVER_METHODS, "method")
        self._need_data()
        if method == "minmax":
            from .uniform import calibrate_minmax

            return calibrate_minmax(np.array([min(self.min, 0.0), max(self.max, 0.0)]), spec, symmetric=spec.signed)
        if self.signed and not spec.signed:
            raise ValueError(
                "an unsigned spec cannot hold two-sided data from a clip; use a signed spec or method='minmax'"
            )
        grid = "endpoint" if (not spec.signed and not spec.narrow_range) else "symmetric"
        if spec.signed and not spec.narrow_range:
            raise ValueError(
                "a clip-based method on signed data needs the symmetric grid: QuantSpec(bits, narrow_range=True)"
            )
        if grid == "symmetric" and spec.bits < 2:
            raise ValueError(f"spec.bits={spec.bits}: the symmetric grid needs >= 2 bits")
        alpha = self.clip(spec.bits, method, grid=grid, signed=spec.signed, **kwargs)
        return scale_from_clip(alpha, spec, grid=grid, signed=spec.signed)
