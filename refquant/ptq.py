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

================ ========= ============================== ================================= ============================
grid             sides     carrier spec (``grid_spec``)   scale ``s`` (``scale_from_clip``) levels (image of ``fq``)
================ ========= ============================== ================================= ============================
``symmetric``    two-sided ``QuantSpec(M, narrow)``       :math:`\alpha/(n/2-1)`            ``fq(x, s, 0, spec)``
``symmetric``    one-sided ``QuantSpec(M, False, True)``  :math:`\alpha/(n-2)`              ``fq(x, s, 0, spec)``
``aciq_runtime`` two-sided ``QuantSpec(M)``               :math:`2\alpha/(n-1)`             ``fq(x, s, 0, spec)``
``aciq_runtime`` one-sided ``QuantSpec(M, signed=False)`` :math:`\alpha/(n-1)`              ``fq(x, s, 0, spec)``
``endpoint``     two-sided ``QuantSpec(M, floor)``        :math:`2\alpha/(n-1)`             ``fq(x, s, 0, spec) + s/2``
``endpoint``     one-sided ``QuantSpec(M, signed=False)`` :math:`\alpha/(n-1)`              ``fq(x, s, 0, spec)``
``midrise``      two-sided ``QuantSpec(M, floor)``        :math:`2\alpha/n`                 ``fq(x, s, 0, spec) + s/2``
``midrise``      one-sided ``QuantSpec(M, False, floor)`` :math:`\alpha/n`                  ``fq(x, s, 0, spec) + s/2``
``paper``        two-sided ``QuantSpec(M + 1)``           :math:`2\alpha/n`                 ``fq(clip(x,-a,a),s,0,sp)``
``paper``        one-sided ``QuantSpec(M + 1, False)``    :math:`\alpha/n`                  ``fq(clip(x,0,a),s,0,sp)``
``asymmetric``   [lo, hi]  any spec                       :math:`(hi-lo)/(q_{max}-q_{min})` ``fq(x, s, z, spec)``
================ ========= ============================== ================================= ============================

(``narrow`` = ``narrow_range=True``, ``floor`` = ``rounding="floor"``, ``sp`` = ``spec``,
``a`` = alpha; for ``asymmetric`` :math:`z = q_{min} - \mathrm{rint}(lo/s)`.)

``aciq_runtime`` is the grid the ACIQ authors' code ran: the full signed range
with step :math:`2\alpha/(2^M-1)`, codes :math:`-2^{M-1}` to :math:`2^{M-1}-1`,
so its lowest level lies half a step beyond :math:`-\alpha`; one-sided it has
the levels of ``endpoint``.

Only ``symmetric``, ``aciq_runtime`` (both sides), one-sided ``endpoint`` and ``asymmetric`` are a
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
PTQ_GRIDS = ("symmetric", "endpoint", "midrise", "paper", "aciq_runtime", "asymmetric")
#: Methods of :func:`channel_clips`.
CLIP_METHODS = ("minmax", "aciq_laplace", "aciq_gaussian", "exact_laplace", "exact_gaussian", "empirical")
#: Methods of :meth:`ActivationObserver.params`.
OBSERVER_METHODS = ("minmax", "aciq_laplace", "aciq_gaussian", "exact_laplace", "exact_gaussian", "mse")

_CLIP_GRIDS = ("symmetric", "endpoint", "midrise", "paper", "aciq_runtime")


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
        ``"endpoint"``/``"midrise"``/``"aciq_runtime"``, 1..15 for ``"paper"`` (its ``2^M + 1``
        levels need an ``M + 1``-bit spec).
    grid : {"symmetric", "endpoint", "midrise", "paper", "aciq_runtime"}
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
    if grid == "aciq_runtime":  # two-sided: the signed full range; one-sided: endpoint's unsigned full range
        return QuantSpec(bits, signed=signed, axis=axis)
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
        if grid in ("endpoint", "aciq_runtime"):
            return 2 * alpha / (n - 1)
        return alpha / (n // 2 - 1)
    if grid in ("paper", "midrise"):
        return alpha / n
    if grid in ("endpoint", "aciq_runtime"):
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
            f"spec (bits={spec.bits}, signed={spec.signed}, narrow_range={spec.narrow_range}, "
            f"rounding={spec.rounding.value!r}) is not the carrier of grid={grid!r} with signed={signed}; "
            f"it needs bits={want.bits}, signed={want.signed}, narrow_range={want.narrow_range}, "
            f"rounding={want.rounding.value!r}: use grid_spec({m}, {grid!r}, signed={signed})"
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
    grid : {"symmetric", "endpoint", "midrise", "paper", "aciq_runtime", "asymmetric"}
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
            f"alpha has shape {a.shape}; a per-tensor spec (spec.axis=None) needs a scalar, "
            "a per-channel spec a 1-D array"
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
    """Fake-quantize float64 ``xa`` on ``grid`` with clip ``a`` (per channel along ``axis``): the module table."""
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
    x : array_like
        Real, finite, non-empty data (weights or activations).
    dist : {"laplace", "gaussian"}
        The fitted distribution.
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
    x : array_like
        Real, finite, non-empty (weights or calibration activations).
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
    grid : {"symmetric", "midrise", "paper", "endpoint", "aciq_runtime"}
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
    x : array_like
        Real, finite, ``ndim >= 1``.
    alpha : float or 1-D array_like
        Clip per channel, > 0 (a scalar: the same for every channel).
    bits : int or 1-D int array_like, one width per channel: 0 (pruned) or a
        width of the grid (2..16 for ``"symmetric"``, 1..16 for ``"midrise"``
        ``"endpoint"`` and ``"aciq_runtime"``, 1..15 for ``"paper"``). ``allocate_bits`` with
        ``min_bits=0`` can return 1: use a grid with a 1-bit form
        (``"midrise"``: the two levels :math:`\pm\alpha/2`) or ``min_bits=2``.
    axis : int
        Channel axis (default 0).
    grid : {"symmetric", "midrise", "endpoint", "paper", "aciq_runtime"}
        The clipping grid (module table).
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

    Per tensor (``axis=None``, the default) or per channel (``axis=k``: one set
    of statistics for every index along axis ``k`` of each batch, over all
    other axes). Every :meth:`update` merges one batch into running
    statistics that are independent of how the data was split into batches:

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
      after any batching equals the histogram of the concatenated data. Per
      channel, every channel has its own width.

    A per-channel observer computes, channel by channel, exactly what a
    per-tensor observer fed with that channel's data computes (the tests
    check this against a loop of per-tensor observers).

    Parameters
    ----------
    signed : bool
        Two-sided data (default True) or one-sided, non-negative data
        (post-ReLU; a negative value then raises).
    bins : int
        Histogram bins, an even number in 16..65536 (default 2048), per channel.
    axis : int or None
        Channel axis of every batch (negative values count from the last
        axis of each batch), or None (default) for one set of statistics
        over the whole tensor. Every batch must have the same number of
        channels along ``axis``; the other dimensions may differ.

    Attributes
    ----------
    signed : bool
        As given.
    bins : int
        As given.
    axis : int or None
        As given.
    count : int
        Values seen so far (per channel when ``axis`` is given).
    channels : int or None
        Number of channels: 1 per tensor; per channel None until the first batch.
    min, max : float or float64 ndarray
        Smallest and largest value seen (per tensor: ``inf``/``-inf`` before
        any data; per channel: arrays of shape ``(channels,)``, None before
        any data).
    width : float, None or float64 ndarray
        Histogram bin width, a power of two. Per tensor: None while every
        value seen is 0. Per channel: an array, 0.0 for a channel whose values
        are all 0 so far (None before any data).
    hist : int64 ndarray
        Bin counts: shape ``(bins,)`` per tensor, ``(channels, bins)`` per
        channel (None before any data).

    Raises
    ------
    TypeError, ValueError
        A non-bool ``signed``, ``bins`` not an even int in 16..65536, a non-int ``axis``.

    Examples
    --------
    >>> obs = ActivationObserver(signed=False)
    >>> obs.update([0.0, 0.5, 1.0]); obs.update([2.0, 0.25])
    >>> obs.params(QuantSpec(8, signed=False), "minmax")
    (np.float64(0.00784313725490196), 0)
    >>> pc = ActivationObserver(axis=1)
    >>> pc.update([[1.0, -4.0], [0.5, 2.0]]); pc.max.tolist(), pc.min.tolist()
    ([1.0, 2.0], [0.5, -4.0])
    """

    def __init__(self, *, signed: bool = True, bins: int = 2048, axis: int | None = None) -> None:
        self.signed = check_bool(signed, "signed")
        bins = check_int(bins, "bins", 16, 65536)
        if bins % 2:
            raise ValueError(f"bins={bins} must be even (the two-sided histogram is split at 0)")
        self.bins = bins
        self.axis = None if axis is None else check_int(axis, "axis")
        self.count = 0
        self.channels: int | None = None
        self._lo = self._hi = self._mean = self._m2 = self._sumsq = self._w = self._hist = None
        if self.axis is None:
            self._start(1)

    def _start(self, c: int) -> None:
        self.channels = c
        self._lo = np.full(c, np.inf)
        self._hi = np.full(c, -np.inf)
        self._mean = np.zeros(c)
        self._m2 = np.zeros(c)
        self._sumsq = np.zeros(c)
        self._w = np.zeros(c)  # 0.0: every value of the channel so far is 0 (any width holds it in bin 0)
        self._hist = np.zeros((c, self.bins), dtype=np.int64)

    # -- public views of the state (per tensor: scalars, as a single channel) ---------------------
    def _view(self, arr: np.ndarray | None):
        if self.axis is None:
            return float(arr[0])
        return None if arr is None else arr.copy()

    @property
    def min(self):
        """Smallest value seen (float per tensor, ``(channels,)`` float64 array per channel)."""
        return self._view(self._lo)

    @property
    def max(self):
        """Largest value seen (float per tensor, ``(channels,)`` float64 array per channel)."""
        return self._view(self._hi)

    @property
    def width(self):
        """Histogram bin width (per tensor: float, or None while all data is 0; per channel: array, 0.0 there)."""
        if self.axis is None:
            return None if self._w[0] == 0 else float(self._w[0])
        return None if self._w is None else self._w.copy()

    @property
    def hist(self):
        """Histogram counts, int64: ``(bins,)`` per tensor, ``(channels, bins)`` per channel."""
        if self.axis is None:
            return self._hist[0]
        return None if self._hist is None else self._hist.copy()

    # -- accumulation ---------------------------------------------------------------------------
    def _offset(self) -> int:
        return self.bins // 2 if self.signed else 0

    def _needed_width(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per channel, the smallest power of two w with lo >= -off*w and hi < (bins - off)*w (0.0: all data 0)."""
        off = self._offset()
        span = hi / (self.bins - off)
        if off:
            span = np.maximum(span, -lo / off)
        e = np.frexp(span)[1]  # span = m * 2**e, 0.5 <= m < 1
        w = np.ldexp(1.0, e)  # >= span; strict for hi: need hi < (bins-off)*w
        w = np.where(hi >= (self.bins - off) * w, 2.0 * w, w)
        return np.where(span > 0, w, 0.0)

    def _rows(self, x) -> np.ndarray:
        a = as_real_array(x, "x").astype(np.float64)
        if self.axis is None:
            return a.reshape(1, -1)
        if a.ndim == 0:
            raise ValueError(f"x is 0-d; the per-channel observer (axis={self.axis}) needs a channel axis")
        ax = check_axis(self.axis, a.ndim, "axis")
        v = np.moveaxis(a, ax, 0).reshape(a.shape[ax], -1)
        if self.channels is not None and v.shape[0] != self.channels:
            raise ValueError(
                f"x has {v.shape[0]} channels along axis={self.axis} (shape {a.shape}); this observer has "
                f"{self.channels} channels from its earlier batches"
            )
        return v

    def update(self, x) -> None:
        """Merge one batch into the statistics.

        Parameters
        ----------
        x : array_like
            Real, finite, non-empty, magnitudes below 1e150; any shape (per
            channel: at least one dimension, with ``channels`` entries along
            ``axis`` once the first batch has set it). One-sided observers
            need ``x >= 0``.

        Returns
        -------
        None
            The statistics are updated in place.

        Raises
        ------
        TypeError, ValueError
            Naming ``x``: a non-real, empty or non-finite batch, negative values for a one-sided
            observer, values beyond 1e150, a 0-d batch or a different channel count per channel.
        """
        v = self._rows(x)
        lo, hi = v.min(axis=1), v.max(axis=1)
        if not self.signed and lo.min() < 0:
            raise ValueError(f"x has negative values (min {lo.min()!r}) but the observer is one-sided (signed=False)")
        if not (np.all(np.abs(lo) < 1e150) and np.all(np.abs(hi) < 1e150)):
            raise ValueError(
                "x has values beyond 1e150 in magnitude (their squares would overflow the moments); "
                "rescale the activations"
            )
        if self.channels is None:
            self._start(v.shape[0])
        # moments (Chan et al. pairwise merge), channel by channel
        n_b = v.shape[1]
        mean_b = v.mean(axis=1)
        m2_b = ((v - mean_b[:, None]) ** 2).sum(axis=1)
        n = self.count + n_b
        delta = mean_b - self._mean
        self._m2 = self._m2 + (m2_b + delta * delta * self.count * n_b / n)
        self._mean = self._mean + delta * n_b / n
        self._sumsq = self._sumsq + (v * v).sum(axis=1)
        self.count = n
        self._lo, self._hi = np.minimum(self._lo, lo), np.maximum(self._hi, hi)
        # histogram with power-of-two widths, rescaled exactly when a channel's range grows
        w = self._needed_width(np.minimum(self._lo, 0.0), np.maximum(self._hi, 0.0))
        unset = self._w == 0  # zeros seen so far sit in bin floor(0 / w) = 0 for every w
        grow = ~unset & (w > self._w)
        if np.any(grow):
            self._rebin(np.where(grow, w, self._w))
        self._w = np.where(unset, w, self._w)
        self._hist += self._counts(v)

    def _counts(self, v: np.ndarray) -> np.ndarray:
        c = v.shape[0]
        w = self._w[:, None]
        q = np.floor(v / np.where(w > 0, w, 1.0))  # exact unless v / w underflows (|v| < w): then its sign decides
        q[(v < 0) & (q >= 0)] = -1.0  # (a channel of width 0 holds only zeros: q = 0)
        idx = q.astype(np.int64) + (self._offset() + self.bins * np.arange(c, dtype=np.int64))[:, None]
        return np.bincount(idx.ravel(), minlength=c * self.bins).reshape(c, self.bins)

    def _rebin(self, w: np.ndarray) -> None:
        """Widen the channels' widths to ``w`` (powers of two, >= the current ones), merging 2**shift bins each."""
        c = w.size
        shift = np.frexp(w)[1] - np.frexp(self._w)[1]  # w = w_old * 2**shift (both powers of two; 0: unchanged)
        k = np.arange(self.bins, dtype=np.int64) - self._offset()  # bin k covers [k*w_old, (k+1)*w_old)
        # floor(k / 2**shift); from shift 62 on it is the sign of k alone (|k| <= 32768), so 2**62 stands in
        new = np.floor_divide(k[None, :], np.left_shift(np.int64(1), np.minimum(shift, 62))[:, None])
        new += (self._offset() + self.bins * np.arange(c, dtype=np.int64))[:, None]
        self._hist = (
            np.bincount(new.ravel(), weights=self._hist.ravel(), minlength=c * self.bins)
            .reshape(c, self.bins)
            .astype(np.int64)
        )
        self._w = w

    # -- statistics -----------------------------------------------------------------------------
    def _need_data(self) -> None:
        if self.count == 0:
            raise ValueError("the observer has seen no data; call update(x) first")

    def _out(self, arr: np.ndarray):
        return float(arr[0]) if self.axis is None else arr

    @property
    def mean(self):
        """Mean of all values seen (float64; per channel a ``(channels,)`` array)."""
        self._need_data()
        return self._out(self._mean.copy())

    @property
    def var(self):
        """Population variance of all values seen (float64, merged pairwise; per channel an array)."""
        self._need_data()
        return self._out(self._m2 / self.count)

    @property
    def mean_square(self):
        r""":math:`E[X^2]` of all values seen (float64; per channel an array)."""
        self._need_data()
        return self._out(self._sumsq / self.count)

    def edges(self) -> np.ndarray:
        """Histogram bin edges, exact multiples of the power-of-two width.

        Returns
        -------
        float64 ndarray
            ``bins + 1`` edges per tensor; ``(channels, bins + 1)`` per channel (a channel of
            zeros only uses the width 1).

        Raises
        ------
        ValueError
            Before the first :meth:`update`.
        """
        self._need_data()
        k = np.arange(self.bins + 1) - self._offset()
        e = k[None, :] * np.where(self._w > 0, self._w, 1.0)[:, None]
        return e[0] if self.axis is None else e

    def fitted_scale(self, dist: str):
        r"""Laplace ``b`` or Gaussian :math:`\sigma` from the accumulated moments.

        Two-sided: moment match of the variance (:math:`b = \sigma/\sqrt2`, the
        Laplace variance being :math:`2b^2`; :math:`E|X-\mu|`, the ACIQ code's
        Laplace fit, cannot be merged over batches without a second pass).
        One-sided: :math:`b = \sqrt{E[X^2]}`, :math:`\sigma = \sqrt{2E[X^2]}`
        (as :func:`fit_scale`).

        Parameters
        ----------
        dist : {"laplace", "gaussian"}
            The fitted distribution.

        Returns
        -------
        float or float64 ndarray
            The scale (``(channels,)`` per channel), >= 0.

        Raises
        ------
        TypeError, ValueError
            A bad ``dist``; no data yet.
        """
        check_choice(dist, ("laplace", "gaussian"), "dist")
        self._need_data()
        if self.signed:
            sd = np.sqrt(self._m2 / self.count)
            return self._out(sd / np.sqrt(2.0) if dist == "laplace" else sd)
        ms = self._sumsq / self.count
        return self._out(np.sqrt(ms) if dist == "laplace" else np.sqrt(2.0 * ms))

    def clip(
        self,
        bits: int,
        method: str = "mse",
        *,
        grid: str | None = None,
        signed: bool | None = None,
        n_candidates: int | None = None,
    ):
        r"""Clipping value :math:`\alpha` for ``bits`` bits by ``method`` (float64, > 0), per tensor or per channel.

        ``"minmax"``: :math:`\max(|\min|, |\max|)`. ``"aciq_laplace"`` /
        ``"aciq_gaussian"``: the paper's :math:`\alpha^*` for the fitted scale
        (one- or two-sided model), capped at the observed maximum magnitude.
        ``"exact_laplace"`` / ``"exact_gaussian"``: the exact optimum on ``grid``
        for the fitted scale (:func:`refquant.clipping.optimal_clip`,
        ``model="exact"``), capped likewise.
        ``"mse"``: the clip minimising the squared error of the accumulated
        histogram, each bin's count placed at its centre, quantized through
        refquant.uniform on ``grid``. Candidates are the bin edges ``k * w``
        (every ``ceil(bins / n_candidates)``-th, default all), so the optimum is
        exact for the histogram and within one bin width of the data's.
        A channel whose values are all 0 gets 1.0 (any clip represents it).

        Parameters
        ----------
        bits : int
            Bit width ``M`` of the grid (its range as :func:`grid_spec`; 1..16 for the ACIQ model).
            Not used by ``"minmax"``.
        method : {"minmax", "aciq_laplace", "aciq_gaussian", "exact_laplace", "exact_gaussian", "mse"}
            How the clip is chosen (above). Default ``"mse"``.
        grid : {"symmetric", "endpoint", "midrise", "paper", "aciq_runtime"}, optional
            Grid of the exact and MSE methods. Default: ``"symmetric"`` two-sided,
            ``"endpoint"`` one-sided (the carriers of :meth:`params`' default specs).
            Two-sided ``"endpoint"`` is refused (not a zero-point-0 grid).
        signed : bool, optional
            Sidedness of the grid and the model; default the observer's.
        n_candidates : int, optional
            ``"mse"`` only: number of candidate clips, 1..100000 (default ``bins``).

        Returns
        -------
        float or float64 ndarray
            :math:`\alpha > 0` (``(channels,)`` per channel).

        Raises
        ------
        TypeError, ValueError
            Naming the parameter: a bad ``method``, ``grid``, ``signed``, ``n_candidates``, ``bits`` out
            of the grid's range; no data yet.
        """
        check_choice(method, OBSERVER_METHODS, "method")
        self._need_data()
        amax = np.maximum(np.abs(self._lo), np.abs(self._hi))
        alpha = amax.copy()
        sided = self.signed if signed is None else check_bool(signed, "signed")
        if method.startswith("aciq"):
            from . import clipping as C

            bits = check_int(bits, "bits", 0, 16)
            b = self.fitted_scale(method.split("_")[1])
            b = np.atleast_1d(np.asarray(b, dtype=np.float64))
            if np.any(amax > 0):
                u = C.optimal_clip(bits, method.split("_")[1], 1.0, model="aciq", signed=sided)
                alpha = np.where(b == 0, amax, np.minimum(u * b, amax))  # u * b: optimal_clip(bits, dist, b)
        elif method != "minmax":
            grid = ("symmetric" if sided else "endpoint") if grid is None else _check_grid(grid)
            if grid == "endpoint" and sided:
                raise ValueError(
                    "grid='endpoint' two-sided is not a zero-point-0 grid; use grid='symmetric', "
                    "grid='aciq_runtime' or signed=False"
                )
            bits = _check_grid_bits(bits, grid, sided)
            if method.startswith("exact"):
                from . import clipping as C

                b = np.atleast_1d(np.asarray(self.fitted_scale(method.split("_")[1]), dtype=np.float64))
                if np.any((amax > 0) & (b > 0)):
                    u = C.optimal_clip(bits, method.split("_")[1], 1.0, model="exact", grid=grid, signed=sided)
                    alpha = np.where(b == 0, amax, np.minimum(u * b, amax))
            else:
                n_candidates = self.bins if n_candidates is None else check_int(n_candidates, "n_candidates", 1, 100000)
                for c in np.flatnonzero(amax > 0):
                    alpha[c] = self._mse_clip(int(c), bits, grid, sided, n_candidates)
        alpha = np.where(amax > 0, alpha, 1.0)
        return self._out(alpha)

    def _mse_clip(self, c: int, bits: int, grid: str, signed: bool, n_candidates: int) -> float:
        w = float(self._w[c])  # > 0: an all-zero channel is handled by the caller
        off = self._offset()
        centres = (np.arange(self.bins) - off + 0.5) * w
        used = self._hist[c] > 0
        cx, cn = centres[used], self._hist[c][used].astype(np.float64)
        step = max(1, -(-self.bins // n_candidates))
        top = int(math.ceil(max(abs(self._lo[c]), abs(self._hi[c])) / w))
        ks = np.arange(step, top + step, step, dtype=np.float64)
        alphas = ks * w
        # all candidates at once: rows = candidates (per-channel axis 0), columns = used bin centres
        xq = _apply_grid(np.broadcast_to(cx, (alphas.size, cx.size)).copy(), alphas, bits, grid, signed, 0)
        sse = ((xq - cx) ** 2) @ cn
        return float(alphas[int(np.argmin(sse))])

    def params(self, spec: QuantSpec, method: str = "minmax", **kwargs):
        r"""``(scale, zero_point)`` for ``spec`` from the accumulated statistics.

        * ``"minmax"``: exactly :func:`refquant.calibrate_minmax` of the
          concatenated data with ``symmetric=spec.signed`` (signed: ``z = 0``,
          :math:`s = \max|x|/q_{max}`; unsigned: the asymmetric grid over
          :math:`[\min(x, 0), \max(x, 0)]`), rounded to float64.
        * ``"aciq_*"``, ``"exact_*"``, ``"mse"``: :math:`\alpha` from
          :meth:`clip` with ``bits = spec.bits`` on the zero-point-0 grid the
          spec carries, and :func:`scale_from_clip` for it: a signed spec of
          narrow range is the ``"symmetric"`` grid, of full range the
          ``"aciq_runtime"`` grid (step :math:`2\alpha/(2^M-1)`, the ACIQ
          code's quantizer); an unsigned spec of full range is the one-sided
          ``"endpoint"`` grid, of narrow range the one-sided ``"symmetric"`` grid.

        Parameters
        ----------
        spec : QuantSpec
            Half-to-even rounding for the clip methods. Per tensor: ``spec.axis``
            None; per channel: ``spec.axis`` set (the axis of the tensor the
            parameters are used with; the result has one entry per channel).
        method : {"minmax", "aciq_laplace", "aciq_gaussian", "exact_laplace", "exact_gaussian", "mse"}
            Default ``"minmax"``.
        **kwargs : dict
            Passed to :meth:`clip` (``n_candidates``).

        Returns
        -------
        (scale, zero_point)
            Per tensor: a float64 scalar and an int; per channel: a ``(channels,)``
            float64 array and an int64 array.

        Raises
        ------
        TypeError, ValueError
            Naming the parameter: a non-QuantSpec ``spec``, a spec axis that does not match the
            observer (per tensor / per channel), an unsigned spec for two-sided data with a clip
            method, a symmetric grid below 2 bits, a bad ``method``; no data yet.
        """
        if not isinstance(spec, QuantSpec):
            raise TypeError(f"spec must be a refquant.QuantSpec, got type={type(spec).__name__}")
        if self.axis is None and spec.axis is not None:
            raise ValueError(
                f"spec.axis={spec.axis}: the observer is per tensor (axis=None); use a spec with axis=None"
            )
        if self.axis is not None and spec.axis is None:
            raise ValueError(
                f"spec.axis=None: the observer is per channel (axis={self.axis}); use a per-channel spec "
                f"(e.g. spec.replace(axis={self.axis}))"
            )
        check_choice(method, OBSERVER_METHODS, "method")
        self._need_data()
        if method == "minmax":
            from .uniform import calibrate_minmax

            rng = np.stack([np.minimum(self._lo, 0.0), np.maximum(self._hi, 0.0)], axis=1)
            if self.axis is None:
                return calibrate_minmax(rng[0], spec, symmetric=spec.signed)
            return calibrate_minmax(rng, spec.replace(axis=0), symmetric=spec.signed)
        if self.signed and not spec.signed:
            raise ValueError(
                "an unsigned spec cannot hold two-sided data from a clip; use a signed spec or method='minmax'"
            )
        if spec.signed:
            grid = "symmetric" if spec.narrow_range else "aciq_runtime"
        else:
            grid = "symmetric" if spec.narrow_range else "endpoint"
        if grid == "symmetric" and spec.bits < 2:
            raise ValueError(f"spec.bits={spec.bits}: the symmetric grid needs >= 2 bits")
        alpha = self.clip(spec.bits, method, grid=grid, signed=spec.signed, **kwargs)
        return scale_from_clip(alpha, spec, grid=grid, signed=spec.signed)
