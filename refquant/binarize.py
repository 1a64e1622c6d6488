r"""Binary, ternary and signed-binary weight quantizers, and the signed-binary EDE gradient.

Implements the quantization function of Kuhar et al., "Signed-Binarization:
Unlocking Efficiency Through Repetition-Sparsity Trade-Off" (ICLR 2024
submission; arXiv 2312.01581; TMLR 2024 as "PLUM") as released in the
authors' code (``sachitkuhar/PLUM``), plus the binary (XNOR-Net) and ternary
(TWN) baselines it is compared with, and Larq's ``ste_tern`` ternarizer
(:func:`ste_tern`). Theory page: ``docs/theory/signed_binary.md``. The paper's
own equations could not be read (only its abstract and public reviews); the
forward pass below follows the released code (``quant/binary/ste.py``,
``STESign``), which the reviews corroborate; the backward rules are the
released code's straight-through estimator (:func:`ste_grad`, what its
training loop runs) and its ``ede`` function (:func:`ede_grad`, defined but
not called by that loop).

Layout conventions
------------------
``axis`` is the output-filter axis (0 for a PyTorch OIHW conv weight, 1 for a
``(K, out)`` linear weight as used by :mod:`refquant.repetition`); ``axis=None``
treats the whole tensor as one filter. After moving ``axis`` to the front, the
next axis is the *input-channel* axis that ``region`` tiles.

Regions (signed-binary): ``region=None`` means one region per output filter
(the released code); ``region=c`` cuts each filter into tiles of ``c``
consecutive input channels (the paper's "tiles" wording; **unverified**, the
note marks it as such) — ``c`` must divide the input-channel count.

All functions return new float arrays (the input's float dtype, float64 for
integer input) and never modify ``w``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._validate import (
    as_real_array,
    check_axis,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_sequence,
    short_repr,
)

__all__ = [
    "binarize",
    "ternarize",
    "ste_tern",
    "ste_grad",
    "signed_binarize",
    "default_signs",
    "region_layout",
    "RegionLayout",
    "ede_schedule",
    "ede_grad",
]


def _float_weights(w, name: str = "w") -> np.ndarray:
    arr = as_real_array(w, name)
    return arr.astype(arr.dtype if arr.dtype.kind == "f" and arr.dtype.itemsize >= 4 else np.float64)


def _exponent(arr: np.ndarray) -> int:
    """``e`` with ``max|arr| * 2**-e`` in [0.5, 1) (0 for an all-zero array): statistics (means of
    |w|) are taken on ``|w| * 2**-e`` and multiplied back by ``2**e``, exactly, so a sum of values
    near the float limit (1e308 in float64, 3e38 in float32) cannot overflow."""
    m = float(np.max(np.abs(arr))) if arr.size else 0.0
    return int(np.frexp(m)[1]) if m > 0 else 0


def _scaled_abs(v: np.ndarray, e: int) -> np.ndarray:
    return np.ldexp(np.abs(v), -e).astype(v.dtype, copy=False)


def _exponents(m: np.ndarray) -> np.ndarray:
    """Per entry of ``m`` (maxima of ``|w|``, >= 0) the ``e`` with ``m * 2**-e`` in [0.5, 1), 0 where ``m == 0``.

    Each filter (or region) is scaled by its *own* power of two before its mean of ``|w|`` is taken: with one
    exponent for the whole tensor, a filter of subnormal weights beside a filter near 1 would underflow to 0
    and get the scale 0 instead of its mean (a binary code has no zero). The scaling is exact, so on every
    other input the result is the same bits as the unscaled mean.
    """
    return np.where(m > 0, np.frexp(m)[1], 0).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class RegionLayout:
    """How a weight tensor is cut into regions: ``(n_filters, n_tiles, tile, rest)``.

    ``view(w)`` has shape ``(n_filters, n_tiles, tile, rest)``: region ``(f, t)`` is ``view[f, t]``, its
    ``tile * rest`` weights are ``tile`` consecutive input channels times the ``rest`` positions (kernel
    offsets) of filter ``f``. ``restore(v)`` inverts it exactly (a reshape and a move of ``axis``; no
    arithmetic). Built by :func:`region_layout`; the signed-binary quantizer takes one sign and one
    threshold per region.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape (every dimension >= 0).
    axis : int or None
        The output-filter axis, ``0 <= axis < len(shape)``; ``None``: the whole tensor is one filter.
    n_filters : int
        Number of output filters: ``shape[axis]`` (1 when ``axis`` is ``None``).
    n_tiles : int
        Tiles per filter (1 for whole-filter regions).
    tile : int
        Input channels per tile.
    rest : int
        Product of the remaining dimensions (kernel positions), 1 for a 2-D weight.

    Raises
    ------
    TypeError
        A field that is not an int (``axis`` may be ``None``); ``shape`` not a list/tuple.
    ValueError
        A negative size; ``axis`` out of range; ``n_filters * n_tiles * tile * rest`` differs from the
        number of elements of ``shape``; ``n_filters`` differs from ``shape[axis]`` (1 for ``axis=None``).

    Examples
    --------
    >>> lay = region_layout((4, 6, 3), axis=0, region=2)
    >>> (lay.n_filters, lay.n_tiles, lay.tile, lay.rest)
    (4, 3, 2, 3)
    """

    shape: tuple[int, ...]
    axis: int | None
    n_filters: int
    n_tiles: int
    tile: int
    rest: int

    def __post_init__(self) -> None:
        """Validate the fields (built by :func:`region_layout`; direct construction is checked the same way).

        Raises ``TypeError`` for non-integer fields and ``ValueError`` when the sizes do not
        factor the shape (``n_filters * n_tiles * tile * rest`` must equal the element count and
        ``n_filters`` the size of ``axis``).
        """
        dims = tuple(check_int(v, f"shape[{i}]", 0) for i, v in enumerate(check_sequence(self.shape, "shape")))
        object.__setattr__(self, "shape", dims)
        if self.axis is not None:
            object.__setattr__(self, "axis", check_int(self.axis, "axis", 0, max(len(dims) - 1, 0)))
        sizes = [check_int(getattr(self, f), f, 0) for f in ("n_filters", "n_tiles", "tile", "rest")]
        if math.prod(sizes) != math.prod(dims):
            raise ValueError(
                f"n_filters * n_tiles * tile * rest = {math.prod(sizes)} != {math.prod(dims)} elements of shape {dims}"
            )
        if sizes[0] != (1 if self.axis is None else dims[self.axis]):
            raise ValueError(f"n_filters={sizes[0]} does not match shape {dims} along axis={self.axis}")

    def view(self, w: np.ndarray) -> np.ndarray:
        """``w`` (an ndarray of exactly ``self.shape``) as ``(n_filters, n_tiles, tile, rest)``; a copy.

        Parameters
        ----------
        w : numpy.ndarray
            An array of exactly ``self.shape``, any dtype (the values are not read, only moved).

        Returns
        -------
        numpy.ndarray
            A new C-contiguous array of ``w``'s dtype, shape ``(n_filters, n_tiles, tile, rest)``.

        Raises
        ------
        TypeError
            ``w`` is not a numpy.ndarray.
        ValueError
            ``w.shape`` differs from ``self.shape``.
        """
        if not isinstance(w, np.ndarray):
            raise TypeError(f"w must be a numpy.ndarray, got type={type(w).__name__}")
        if w.shape != self.shape:
            raise ValueError(f"w has shape {w.shape}; this layout is for shape {self.shape}")
        m = w.reshape(1, *w.shape) if self.axis is None else np.moveaxis(w, self.axis, 0)
        return np.ascontiguousarray(m).reshape(self.n_filters, self.n_tiles, self.tile, self.rest)

    def restore(self, v: np.ndarray) -> np.ndarray:
        """Invert :meth:`view`: ``v`` of shape ``(n_filters, n_tiles, tile, rest)`` back to ``self.shape``.

        Parameters
        ----------
        v : numpy.ndarray
            An array of shape ``(n_filters, n_tiles, tile, rest)``, any dtype.

        Returns
        -------
        numpy.ndarray
            ``v``'s values in the weight's layout, shape ``self.shape``, dtype of ``v``
            (``restore(view(w))`` equals ``w``).

        Raises
        ------
        TypeError
            ``v`` is not a numpy.ndarray.
        ValueError
            ``v.shape`` is not ``(n_filters, n_tiles, tile, rest)``.
        """
        want = (self.n_filters, self.n_tiles, self.tile, self.rest)
        if not isinstance(v, np.ndarray):
            raise TypeError(f"v must be a numpy.ndarray, got type={type(v).__name__}")
        if v.shape != want:
            raise ValueError(f"v has shape {v.shape}; expected {want} (n_filters, n_tiles, tile, rest)")
        if self.axis is None:
            return v.reshape(self.shape)
        moved = list(self.shape)
        moved.insert(0, moved.pop(self.axis))
        return np.moveaxis(v.reshape(moved), 0, self.axis)


def region_layout(shape: tuple[int, ...], *, axis: int | None = 0, region: int | None = None) -> RegionLayout:
    """Region layout of a weight of *shape* (see the module docstring).

    Parameters
    ----------
    shape : list or tuple of int
        The weight's shape (every dimension >= 0).
    axis : int or None
        The output-filter axis (``None``: the whole tensor is one filter).
    region : int or None
        Input channels per tile (>= 1, must divide the input-channel count; ``None``: whole filters).

    Returns
    -------
    RegionLayout
        The layout; ``n_tiles = 1`` and ``tile`` = the input-channel count when ``region`` is ``None``.

    Raises
    ------
    TypeError
        ``shape`` not a list/tuple of ints; ``axis``/``region`` not ints (or None).
    ValueError
        A negative dimension; ``axis`` out of range; ``region < 1``; ``region`` does not divide
        the input-channel count or the tensor has no input-channel axis to tile.

    References
    ----------
    Kuhar et al., "PLUM: Improving Inference Efficiency By Leveraging Repetition-Sparsity Trade-Off", TMLR 2024
    (arXiv 2312.01581; the ICLR 2024 submission "Signed-Binarization"); code ``sachitkuhar/PLUM``: one sign per
    region; the tile reading (``region=c``) is unverified.

    Examples
    --------
    >>> region_layout((8, 4, 3, 3), axis=0, region=2)      # OIHW conv weight, tiles of 2 input channels
    RegionLayout(shape=(8, 4, 3, 3), axis=0, n_filters=8, n_tiles=2, tile=2, rest=9)
    """
    shape = tuple(check_int(v, f"shape[{i}]", 0) for i, v in enumerate(check_sequence(shape, "shape")))
    if axis is None:
        n_f, inner = 1, shape
    else:
        ax = check_axis(axis, len(shape), "axis")
        n_f = shape[ax]
        inner = shape[:ax] + shape[ax + 1 :]
        axis = ax
    n_in = inner[0] if inner else 1
    rest = math.prod(inner[1:]) if len(inner) > 1 else 1
    if region is None:
        return RegionLayout(shape, axis, n_f, 1, n_in, rest)
    c = check_int(region, "region", 1)
    if not inner:
        raise ValueError(f"region={c}: the weight has no input-channel axis to tile (shape {shape}, axis={axis})")
    if n_in % c:
        raise ValueError(f"region={c} does not divide the input-channel count {n_in} (shape {shape}, axis={axis})")
    return RegionLayout(shape, axis, n_f, n_in // c, c, rest)


def _per_region_abs_mean(v: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    a = np.abs(v)
    if mask is None:
        return a.mean(axis=(2, 3))
    cnt = mask.sum(axis=(2, 3))
    tot = np.where(mask, a, 0).sum(axis=(2, 3))
    return np.divide(tot, cnt, out=np.zeros_like(tot), where=cnt > 0)


def binarize(w, *, axis: int | None = 0, alpha=None, return_scale: bool = False):
    r"""Binary weights ``alpha * sign(w)`` per output filter (or per tensor).

    .. math:: q(w) = \alpha_f \cdot \mathrm{sign}(w), \qquad \mathrm{sign}(0) = +1,
              \qquad \alpha_f = \frac{1}{K}\sum_{i \in f} |w_i|

    ``alpha_f`` (XNOR-Net, Rastegari et al. 2016) is the MSE-optimal scale for
    a fixed sign pattern. Pass ``alpha`` (a positive float) to fix it instead.
    ``sign(0) = +1`` so every weight is ±alpha (a binary code has no zero).

    Parameters
    ----------
    w : array_like
        The weights: real, finite, non-empty (float32 and float64 kept; other dtypes computed in float64).
    axis : int or None
        Output-filter axis; ``None``: one scale for the whole tensor.
    alpha : float, optional
        A fixed scale (> 0, finite) for every filter instead of the XNOR-Net mean.
    return_scale : bool
        Also return the per-filter scales (shape ``(n_filters,)``).

    Returns
    -------
    q : numpy.ndarray
        The binary weights :math:`\pm\alpha_f`, shape of ``w``, in ``w``'s float dtype (float32 or float64;
        float64 for any other input dtype).
    alpha : numpy.ndarray
        Only with ``return_scale``: the per-filter scales, shape ``(n_filters,)``, same dtype.

    Raises
    ------
    TypeError
        ``w`` not a real numeric array (complex, bool, object, str); ``axis`` not an int or None;
        ``alpha`` not a real number; ``return_scale`` not a bool.
    ValueError
        Empty ``w`` or NaN/inf in it; ``axis`` out of range; ``alpha <= 0`` or non-finite.

    Notes
    -----
    The mean of ``|w|`` is taken on ``|w|`` divided by an exact power of two and
    multiplied back, so weights near the float limit do not overflow it.

    References
    ----------
    Rastegari et al., "XNOR-Net: ImageNet Classification Using Binary Convolutional Neural Networks", ECCV 2016, eq. 4.

    Examples
    --------
    >>> binarize([[1.0, -3.0], [0.0, 2.0]], axis=0).tolist()
    [[2.0, -2.0], [1.0, 1.0]]
    """
    arr = _float_weights(w)
    return_scale = check_bool(return_scale, "return_scale")
    lay = region_layout(arr.shape, axis=axis)
    v = lay.view(arr)
    if alpha is None:
        flat = np.abs(v.reshape(lay.n_filters, -1))
        e = _exponents(flat.max(axis=1))  # per filter: |w| * 2**-e cannot overflow its sum nor underflow to 0
        a = np.ldexp(np.ldexp(flat, -e[:, None]).astype(arr.dtype, copy=False).mean(axis=1), e).astype(arr.dtype)
    else:
        a = np.full(lay.n_filters, check_real(alpha, "alpha", lo=0.0, lo_open=True), dtype=arr.dtype)
    q = np.where(v >= 0, 1, -1).astype(arr.dtype) * a[:, None, None, None]
    out = lay.restore(q)
    return (out, a) if return_scale else out


def ternarize(
    w, *, threshold: float = 0.7, axis: int | None = 0, relative_to: str = "mean", return_scale: bool = False
):
    r"""Ternary weights in ``{-alpha, 0, +alpha}`` per output filter (TWN rule by default).

    .. math:: \Delta_f = \theta \cdot \overline{|w|}_f \ (\text{relative\_to="mean"}) \ \text{or} \
              \theta \cdot \max_f |w| \ (\text{"max"}), \qquad
              q(w) = \alpha_f\,\mathrm{sign}(w)\,[\,|w| > \Delta_f\,],
              \qquad \alpha_f = \mathrm{mean}\{|w| : |w| > \Delta_f\}

    Defaults follow TWN (Li & Liu, "Ternary Weight Networks", 2016, eqs. 6
    and 7 with the approximation :math:`\Delta^* \approx 0.7\,E|w|`):
    ``threshold=0.7`` relative to each filter's mean absolute weight.
    ``relative_to="max"`` (a fraction of each filter's ``max|w|``, e.g. 0.05 as
    the signed-binary threshold) is refquant's own option: no released code
    base we know of ships that ternarizer. Larq's ``ste_tern`` is a different
    rule -- an *absolute* threshold (0.05 by default) or TWN's over the whole
    tensor, outputs ±1 unscaled, ties at :math:`\pm\Delta` kept -- see
    :func:`ste_tern`. A filter with no weight above its threshold becomes all
    zeros (``alpha = 0``). Means of ``|w|`` are taken on ``|w|`` divided by an
    exact power of two (no overflow near the float limit).

    Parameters
    ----------
    w : array_like
        The weights: real, finite, non-empty.
    threshold : float
        :math:`\theta` >= 0 (<= 1 with ``relative_to="max"``); default 0.7, TWN's factor.
    axis : int or None
        Output-filter axis; ``None``: one filter for the whole tensor.
    relative_to : {"mean", "max"}
        What ``threshold`` multiplies: each filter's mean ``|w|`` (TWN) or its ``max|w|``.
    return_scale : bool
        Also return the per-filter ``alpha`` (shape ``(n_filters,)``).

    Returns
    -------
    q : numpy.ndarray
        The ternary weights in :math:`\{-\alpha_f, 0, \alpha_f\}`, shape of ``w``, in ``w``'s float dtype
        (float32 or float64; float64 for any other input dtype).
    alpha : numpy.ndarray
        Only with ``return_scale``: the per-filter :math:`\alpha_f` (0 for a filter with nothing above its
        threshold), shape ``(n_filters,)``, same dtype.

    Raises
    ------
    TypeError
        ``w`` not a real numeric array; ``threshold`` not a real number; ``axis`` not an int or
        None; ``relative_to`` not a str; ``return_scale`` not a bool.
    ValueError
        Empty/non-finite ``w``; ``threshold < 0`` (or ``> 1`` with ``relative_to="max"``);
        unknown ``relative_to``; ``axis`` out of range.

    References
    ----------
    Li & Liu, "Ternary Weight Networks", 2016, eqs. 6–7 (threshold :math:`0.7\,E|w|` and the
    scale :math:`\alpha` as the mean of the kept magnitudes).

    Examples
    --------
    >>> ternarize([[1.0, -3.0, 0.1, 0.2]], axis=0).tolist()   # mean|w| = 1.075, Delta = 0.7525
    [[2.0, -2.0, 0.0, 0.0]]
    """
    arr = _float_weights(w)
    return_scale = check_bool(return_scale, "return_scale")
    check_choice(relative_to, ("mean", "max"), "relative_to")
    theta = check_real(threshold, "threshold", lo=0.0, hi=1.0 if relative_to == "max" else None)
    lay = region_layout(arr.shape, axis=axis)
    v = lay.view(arr)
    flat = np.abs(v.reshape(lay.n_filters, -1))
    e = _exponents(flat.max(axis=1))
    flat = np.ldexp(flat, -e[:, None]).astype(arr.dtype, copy=False)  # per filter |w| * 2**-e: sums cannot overflow
    base = flat.mean(axis=1) if relative_to == "mean" else flat.max(axis=1)
    with np.errstate(over="ignore"):  # a threshold beyond the float range keeps nothing, as documented
        delta = np.ldexp(theta * base, e)[:, None, None, None]  # back in the units of w (exact)
    keep = np.abs(v) > delta
    a = _per_region_abs_mean(flat.reshape(lay.n_filters, 1, -1, 1), keep.reshape(lay.n_filters, 1, -1, 1))[:, 0]
    a = np.ldexp(a, e).astype(arr.dtype)
    q = np.where(keep, np.sign(v), 0).astype(arr.dtype) * a[:, None, None, None]
    out = lay.restore(q)
    return (out, a) if return_scale else out


def ste_tern(w, *, threshold: float = 0.05, ternary_weight_networks: bool = False):
    r"""Larq's ``ste_tern`` forward rule: unscaled ternary values with an absolute threshold.

    .. math:: q(w) = \mathrm{sign}\big(\mathrm{sign}(w + \Delta) + \mathrm{sign}(w - \Delta)\big)
              = \begin{cases} +1 & w \ge \Delta \\ 0 & |w| < \Delta \\ -1 & w \le -\Delta \end{cases}
              \quad (\Delta > 0)

    with :math:`\Delta` = ``threshold`` (an absolute value in the units of
    ``w``, not a fraction), or, with ``ternary_weight_networks=True``,
    :math:`\Delta = 0.7\,\mathrm{mean}|w|` over the **whole tensor** (TWN's
    rule, not per filter). Weights exactly at :math:`\pm\Delta` map to
    :math:`\pm1` (the nested sign gives :math:`\mathrm{sign}(1 + 0)`); with
    :math:`\Delta = 0` the rule is :math:`\mathrm{sign}(w)` with
    :math:`\mathrm{sign}(0) = 0`. There is no scale: outputs are -1, 0, +1.
    The backward pass of Larq's quantizer is the clipped identity,
    :func:`ste_grad` with ``clip_value=1``.

    This is not :func:`ternarize` (per-filter relative threshold, scaled
    outputs): on N(0, 0.05²) weights of 576 per filter, ``ternarize(w,
    threshold=0.05, relative_to="max")`` and ``ste_tern(w)`` give different
    values for most weights (measured in ``docs/authors_code.md``).

    Parameters
    ----------
    w : array_like
        The weights: real, finite, non-empty.
    threshold : float >= 0
        Absolute threshold :math:`\Delta` (Larq's ``threshold_value``);
        ignored with ``ternary_weight_networks=True``.
    ternary_weight_networks : bool
        Use :math:`\Delta = 0.7\,\mathrm{mean}|w|` over the whole tensor.

    Returns
    -------
    numpy.ndarray
        Values in {-1, 0, +1}, shape of ``w``, in ``w``'s float dtype (float32 or float64; float64 for any
        other input dtype).

    Raises
    ------
    TypeError
        ``w`` not a real numeric array (complex, bool, object, str); ``threshold`` not a real
        number; ``ternary_weight_networks`` not a bool.
    ValueError
        Empty ``w``, NaN/inf in it; ``threshold < 0`` or non-finite.

    References
    ----------
    Larq (``larq/larq``), ``larq.quantizers.ste_tern``; Li & Liu, "Ternary Weight Networks" (2016).

    Examples
    --------
    >>> ste_tern([-0.2, -0.05, -0.01, 0.0, 0.03, 0.05, 0.3]).tolist()
    [-1.0, -1.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """
    arr = _float_weights(w)
    twn = check_bool(ternary_weight_networks, "ternary_weight_networks")
    theta = check_real(threshold, "threshold", lo=0.0)
    if twn:
        e = _exponent(arr)  # mean |w| on |w| * 2**-e: no overflow near the float limit
        delta = float(np.ldexp(0.7 * _scaled_abs(arr, e).astype(np.float64).mean(), e))
    else:
        delta = theta
    with np.errstate(over="ignore"):  # a threshold beyond the dtype's range is inf: every weight maps to 0
        d = arr.dtype.type(delta)
        return (np.sign(np.sign(arr + d) + np.sign(arr - d))).astype(arr.dtype)


def ste_grad(w, grad_q, *, clip_value: float = 1.0, grad_clip: float | None = None):
    r"""Straight-through estimator backward pass: ``dL/dw`` from ``dL/dq``.

    .. math:: \frac{\partial L}{\partial w} = \mathrm{clip}\Big(\frac{\partial L}{\partial q}, -g_c, g_c\Big)
              \cdot \mathbf 1\{|w| \le c\}

    with :math:`c` = ``clip_value`` and :math:`g_c` = ``grad_clip`` (no
    clipping of the gradient value when ``None``). Two released rules:

    * the signed-binary code (``STESign.backward``, the rule its training loop
      actually uses; its ``ede`` is commented out): ``clip_value=1,
      grad_clip=1`` -- the incoming gradient is clamped to [-1, 1], then
      zeroed where ``|w| > 1``;
    * Larq's ``ste_tern`` / ``ste_sign``: ``clip_value=1, grad_clip=None``.

    Weights with ``|w| = c`` pass the gradient (``<=``, as both codes).

    Parameters
    ----------
    w : array_like
        The latent (float) weights: real, finite, non-empty.
    grad_q : array_like
        The gradient with respect to the quantized weights, same shape as ``w``.
    clip_value : float
        :math:`c` > 0: the gradient passes where ``|w| <= c`` (1 in both released codes).
    grad_clip : float or None
        :math:`g_c` > 0: the incoming gradient is clamped to :math:`[-g_c, g_c]` first; ``None``: no clamp.

    Returns
    -------
    numpy.ndarray
        :math:`\partial L/\partial w`, shape of ``w``, dtype the promotion of ``w``'s and ``grad_q``'s float
        dtypes.

    Raises
    ------
    TypeError
        ``w``/``grad_q`` not real numeric arrays; ``clip_value``/``grad_clip`` not real numbers.
    ValueError
        Empty or non-finite arrays; ``grad_q`` of another shape than ``w``; ``clip_value`` or
        ``grad_clip`` not > 0 or non-finite.

    References
    ----------
    Hubara, Courbariaux, Soudry, El-Yaniv & Bengio, "Binarized Neural Networks", NeurIPS 2016 (the straight-through
    estimator cancelled where :math:`|w| > 1`); Kuhar et al., "PLUM: Improving Inference Efficiency By Leveraging
    Repetition-Sparsity Trade-Off", TMLR 2024 (arXiv 2312.01581; the ICLR 2024 submission "Signed-Binarization");
    code ``sachitkuhar/PLUM``, ``STESign.backward``; Larq, ``larq.quantizers.ste_sign``.

    Examples
    --------
    >>> ste_grad([0.5, -1.0, 1.5], [3.0, -0.25, 2.0], grad_clip=1.0).tolist()   # signed-binary code
    [1.0, -0.25, 0.0]
    """
    arr = _float_weights(w)
    g = _float_weights(grad_q, "grad_q")
    if g.shape != arr.shape:
        raise ValueError(f"grad_q has shape {g.shape}; it must match w's shape {arr.shape}")
    c = check_real(clip_value, "clip_value", lo=0.0, lo_open=True)
    if grad_clip is not None:
        gc = check_real(grad_clip, "grad_clip", lo=0.0, lo_open=True)
        g = np.clip(g, -gc, gc)
    return np.where(np.abs(arr) <= c, g, 0).astype(np.result_type(arr.dtype, g.dtype))


def default_signs(n_filters: int, n_tiles: int = 1) -> np.ndarray:
    """The deterministic sign map: first ``floor(R/2)`` regions (row-major over (filter, tile)) +1, the rest -1.

    With one region per filter this is the released code's rule (filters
    ``o < floor(C_out/2)`` positive). Its extension to tiles is refquant's
    choice (the paper's tile rule is unverified); pass ``signs=`` to override.

    Parameters
    ----------
    n_filters, n_tiles : int
        Filters and tiles per filter, each >= 1, at most 2**40 regions in all.

    Returns
    -------
    numpy.ndarray
        int8, shape ``(n_filters, n_tiles)``, values +1 and -1.

    Raises
    ------
    TypeError
        ``n_filters``/``n_tiles`` not ints.
    ValueError
        Either < 1, or more than 2**40 regions.

    References
    ----------
    Kuhar et al., "PLUM: Improving Inference Efficiency By Leveraging Repetition-Sparsity Trade-Off", TMLR 2024
    (arXiv 2312.01581; the ICLR 2024 submission "Signed-Binarization"); code ``sachitkuhar/PLUM``: the released
    code's sign assignment (filters ``o < floor(C_out/2)`` positive).

    Examples
    --------
    >>> default_signs(3, 2).tolist()         # 6 regions, row-major: the first 3 positive
    [[1, 1], [1, -1], [-1, -1]]
    """
    n_f = check_int(n_filters, "n_filters", 1, 2**40)
    n_t = check_int(n_tiles, "n_tiles", 1, 2**40)
    if n_f * n_t > 2**40:
        raise ValueError(
            f"n_filters * n_tiles = {n_f * n_t} regions exceeds 2**40 (the sign map would not fit in memory)"
        )
    r = np.arange(n_f * n_t)
    return np.where(r < (n_f * n_t) // 2, 1, -1).astype(np.int8).reshape(n_f, n_t)


def _check_signs(signs, lay: RegionLayout) -> np.ndarray:
    if signs is None:
        return default_signs(lay.n_filters, lay.n_tiles)
    s = as_real_array(signs, "signs")
    want = (lay.n_filters, lay.n_tiles)
    if s.shape != want and not (lay.n_tiles == 1 and s.shape == (lay.n_filters,)):
        raise ValueError(f"signs has shape {s.shape}; expected {want} (n_filters, n_tiles) for this weight and region")
    if not np.all((s == 1) | (s == -1)):
        raise ValueError(f"signs={short_repr(s)} must contain only +1 and -1")
    return s.reshape(want).astype(np.int8)


def _check_zero_rule(zero_rule) -> bool:
    return check_choice(zero_rule, ("zero", "plum"), "zero_rule") == "plum"


def signed_binarize(
    w,
    *,
    signs=None,
    threshold: float = 0.05,
    axis: int | None = 0,
    region: int | None = None,
    scale="none",
    return_scale: bool = False,
    zero_rule: str = "zero",
):
    r"""Signed-binary weights: each region is {0, +alpha} or {0, -alpha}.

    As released (``STESign.forward`` of the signed-binary code): for region ``r`` with sign ``s_r`` and
    ``Delta_r = threshold * max_{i in r} |w_i|``,

    .. math:: q(w) = \begin{cases} \alpha_r\,[\,w \ge \Delta_r \wedge w > 0\,] & s_r = +1 \\
                                   -\alpha_r\,[\,w \le -\Delta_r \wedge w < 0\,] & s_r = -1 \end{cases}

    Weights of the "wrong" sign become 0, so the layer is locally binary and
    globally ternary. A zero weight always maps to 0: this differs from the
    released code (``w >= Delta`` alone) only when ``Delta_r = 0`` — with
    ``threshold=0`` or an all-zero region — where the code would turn zero
    weights into ``±alpha`` (a dead filter into a dense one). So a region
    whose weights are all zero stays all zero. ``zero_rule="plum"`` selects
    the released code's comparison instead, :math:`[\,w \ge \Delta_r\,]` /
    :math:`[\,w \le -\Delta_r\,]`: identical whenever
    :math:`\Delta_r > 0`; with :math:`\Delta_r = 0` every zero weight of the
    region becomes :math:`s_r\alpha_r` (an all-zero filter becomes all
    :math:`\pm1`).

    Parameters
    ----------
    w : array_like
        The weights: real, finite, non-empty (float32 and float64 kept; other dtypes computed in float64).
    signs : array_like, optional
        Explicit sign map of +1/-1, shape ``(n_filters, n_tiles)`` (or ``(n_filters,)``); default
        :func:`default_signs` (first half positive).
    threshold : float in [0, 1)
        Fraction of each region's ``max|w|`` (the code's 0.05).
    axis : int or None
        Output-filter axis.
    region : int or None
        ``None``: whole filters; ``c``: tiles of ``c`` input channels (unverified reading of the paper).
    scale : "none", "mean" or a positive float
        ``"none"``: alpha = 1, as the released code (BatchNorm absorbs the
        scale). ``"mean"``: alpha = ``mean|w|`` over the region's non-zero
        support, the MSE-optimal value for that support (refquant's choice;
        neither paper nor code states one). A float: that alpha everywhere.
    return_scale : bool
        Also return the per-region alphas, shape ``(n_filters, n_tiles)``.
    zero_rule : {"zero", "plum"}
        ``"zero"`` (default): a zero weight always maps to 0. ``"plum"``: the
        released code's ``>=`` / ``<=`` comparison alone (see above).

    Returns
    -------
    q : numpy.ndarray
        The signed-binary weights (each region in :math:`\{0, s_r\alpha_r\}`), shape of ``w``, in ``w``'s float
        dtype (float32 or float64; float64 for any other input dtype).
    alphas : numpy.ndarray
        Only with ``return_scale``: the per-region :math:`\alpha_r`, shape ``(n_filters, n_tiles)``, same dtype.

    Raises
    ------
    TypeError
        ``w``/``signs`` not real numeric arrays; ``threshold`` or a float ``scale`` not a real
        number; ``axis``/``region`` not ints (or None); ``return_scale`` not a bool;
        ``zero_rule`` not a str.
    ValueError
        Empty/non-finite ``w``; ``threshold`` outside ``[0, 1)``; ``signs`` of the wrong shape
        or not all ±1; an unknown ``scale`` string or ``scale <= 0``; ``region`` not dividing
        the input channels; ``axis`` out of range; unknown ``zero_rule``.

    References
    ----------
    Kuhar et al., "PLUM: Improving Inference Efficiency By Leveraging
    Repetition-Sparsity Trade-Off", TMLR 2024 (arXiv 2312.01581); code ``sachitkuhar/PLUM``.

    Examples
    --------
    >>> signed_binarize([[0.5, -1.0, 0.02], [0.3, -0.2, -0.01]], axis=0).tolist()
    [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]
    >>> signed_binarize([[0.0, 0.0], [0.0, 0.0]], axis=0, zero_rule="plum").tolist()   # all-zero filters
    [[1.0, 1.0], [-1.0, -1.0]]
    """
    arr = _float_weights(w)
    return_scale = check_bool(return_scale, "return_scale")
    theta = check_real(threshold, "threshold", lo=0.0, hi=1.0, hi_open=True)
    plum = _check_zero_rule(zero_rule)
    lay = region_layout(arr.shape, axis=axis, region=region)
    s = _check_signs(signs, lay)
    v = lay.view(arr)
    delta = theta * np.abs(v).max(axis=(2, 3))
    sb = s[:, :, None, None]
    d = delta[:, :, None, None]
    if plum:
        keep = np.where(sb > 0, v >= d, v <= -d)
    else:
        keep = np.where(sb > 0, (v >= d) & (v > 0), (v <= -d) & (v < 0))
    if isinstance(scale, str):
        check_choice(scale, ("none", "mean"), "scale")
        if scale == "none":
            a = np.ones((lay.n_filters, lay.n_tiles), dtype=arr.dtype)
        else:
            kept = np.where(keep, np.abs(v), 0).astype(arr.dtype, copy=False)
            e = _exponents(kept.max(axis=(2, 3)))  # per region, from the kept weights only
            scaled = np.ldexp(kept, -e[:, :, None, None]).astype(arr.dtype, copy=False)
            a = np.ldexp(_per_region_abs_mean(scaled, keep), e).astype(arr.dtype)
    else:
        a = np.full((lay.n_filters, lay.n_tiles), check_real(scale, "scale", lo=0.0, lo_open=True), dtype=arr.dtype)
    q = np.where(keep, sb * a[:, :, None, None], 0).astype(arr.dtype)
    out = lay.restore(q)
    return (out, a) if return_scale else out


def ede_schedule(epoch, total_epochs, *, t_min: float = 0.1, t_max: float = 10.0) -> tuple[float, float]:
    r"""IR-Net's Error Decay Estimator schedule (Qin et al., "Forward and Backward Information Retention
    for Accurate Binary Neural Networks", CVPR 2020, eq. 10), as the signed-binary code's ``ede`` uses it.

    .. math:: t = T_{min}\cdot 10^{(e/E)\log_{10}(T_{max}/T_{min})}, \qquad k = \max(1/t, 1)

    Parameters
    ----------
    epoch : float
        The current epoch :math:`e`, ``0 <= epoch <= total_epochs`` (real: fractions of an epoch allowed).
    total_epochs : int
        :math:`E` >= 1 (the signed-binary code passes 320).
    t_min, t_max : float
        :math:`T_{min}, T_{max}` with ``0 < t_min <= t_max`` (0.1 and 10 in both codes).

    Returns
    -------
    t : float
        The temperature :math:`t`, from :math:`T_{min}` at epoch 0 to :math:`T_{max}` at the last epoch.
    k : float
        The amplitude :math:`k = \max(1/t, 1)`.

    Raises
    ------
    TypeError
        ``total_epochs`` not an int; ``epoch``/``t_min``/``t_max`` not real numbers.
    ValueError
        ``total_epochs < 1``; ``epoch`` outside ``[0, total_epochs]``; ``t_min <= 0``;
        ``t_max < t_min``; non-finite values.

    References
    ----------
    Qin et al., "Forward and Backward Information Retention for Accurate Binary Neural Networks",
    CVPR 2020, eq. 10; the signed-binary code's ``ede`` function.

    Examples
    --------
    >>> ede_schedule(0, 320), ede_schedule(320, 320)
    ((0.1, 10.0), (10.0, 1.0))
    """
    E = check_int(total_epochs, "total_epochs", 1)
    e = check_real(epoch, "epoch", lo=0.0, hi=float(E))
    lo = check_real(t_min, "t_min", lo=0.0, lo_open=True)
    hi = check_real(t_max, "t_max", lo=lo)
    t = lo * 10 ** ((e / E) * math.log10(hi / lo))
    return t, max(1.0 / t, 1.0)


def ede_grad(
    w,
    grad_q,
    *,
    epoch,
    total_epochs,
    t_min: float = 0.1,
    t_max: float = 10.0,
    threshold: float = 0.05,
    signs=None,
    axis: int | None = 0,
    region: int | None = None,
    delta: str = "region",
) -> np.ndarray:
    r"""The signed-binary EDE backward rule: ``dL/dw`` from ``dL/dq``.

    .. math:: \frac{\partial L}{\partial w} = k\,t\,\bigl(1 - \tanh^2(t\,(w - s_r \Delta))\bigr)\,
              \frac{\partial L}{\partial q}

    with ``(t, k) = ede_schedule(epoch, total_epochs)`` and ``s_r`` the
    region's sign: the derivative of the surrogate ``k * tanh(t * (w - s_r * Delta))``.

    ``delta="region"`` (default): :math:`\Delta_r = \theta\max_{i\in r}|w_i|`,
    one per region, the threshold the forward pass (:func:`signed_binarize`)
    uses. ``delta="position"``: the released ``ede`` function's
    :math:`\Delta_p = \theta\max_f |w_{f,p}|`, the max over the
    *output-filter* axis, one per input position ``p`` (input channel and
    kernel offset) shared by all filters. The released training loop calls
    neither (its ``ede`` call is commented out; it trains with
    :func:`ste_grad`).

    Parameters
    ----------
    w : array_like
        The latent weights: real, finite, non-empty.
    grad_q : array_like
        The gradient with respect to the quantized weights, same shape as ``w``.
    epoch, total_epochs, t_min, t_max
        The schedule, as in :func:`ede_schedule`.
    threshold : float
        :math:`\theta` in [0, 1), the fraction of ``max|w|`` that gives :math:`\Delta`.
    signs, axis, region
        As in :func:`signed_binarize`.
    delta : {"region", "position"}
        Where :math:`\Delta` is taken: per region (the forward pass's) or per input position (the released
        ``ede``'s), see above.

    Returns
    -------
    numpy.ndarray
        :math:`\partial L/\partial w`, shape of ``w``, dtype the promotion of ``w``'s and ``grad_q``'s float
        dtypes.

    Raises
    ------
    TypeError, ValueError
        As :func:`signed_binarize` and :func:`ede_schedule` for the shared parameters;
        ``grad_q`` not a real array, of another shape than ``w``, or so large that the
        product overflows float (``ValueError`` naming ``grad_q``); ``delta`` not a str
        (``TypeError``) or unknown (``ValueError``).

    References
    ----------
    Qin et al., "Forward and Backward Information Retention for Accurate Binary Neural Networks", CVPR 2020 (the EDE
    surrogate :math:`k\tanh(tx)` and its schedule, eq. 10); Kuhar et al., "PLUM: Improving Inference Efficiency By
    Leveraging Repetition-Sparsity Trade-Off", TMLR 2024 (arXiv 2312.01581; the ICLR 2024 submission
    "Signed-Binarization"); code ``sachitkuhar/PLUM``, its ``ede`` function.
    """
    arr = _float_weights(w)
    g = _float_weights(grad_q, "grad_q")
    if g.shape != arr.shape:
        raise ValueError(f"grad_q has shape {g.shape}; it must match w's shape {arr.shape}")
    delta = check_choice(delta, ("region", "position"), "delta")
    t, k = ede_schedule(epoch, total_epochs, t_min=t_min, t_max=t_max)
    theta = check_real(threshold, "threshold", lo=0.0, hi=1.0, hi_open=True)
    lay = region_layout(arr.shape, axis=axis, region=region)
    s = _check_signs(signs, lay)
    v = lay.view(arr)
    if delta == "region":
        center = (s * (theta * np.abs(v).max(axis=(2, 3))))[:, :, None, None]
    else:  # one Delta per input position, max over the filters
        center = s[:, :, None, None] * (theta * np.abs(v).max(axis=0))[None]
    with np.errstate(over="ignore"):
        slope = k * t * (1.0 - np.tanh(t * (v - center)) ** 2)
        out = lay.restore(slope) * g
    if not np.all(np.isfinite(out)):
        raise ValueError("grad_q: dL/dw = slope * grad_q overflows the float range (|grad_q| too large)")
    return out
