"""Data-driven optimal clipping: the exact squared error of the actual quantizer on an actual tensor, over a
grid of candidate clips (Numba kernel ``refquant._kernels.clipping``, twin ``refquant._reference.clipping``)."""
from __future__ import annotations

import numpy as np

from .._validate import as_real_array, channel_rows, check_bool, check_int
from .grids import _check_bits

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

    Raises
    ------
    TypeError
        Non-real ``x``, non-integer ``bits``/``n_candidates``, a non-bool flag.
    ValueError
        Empty or non-finite ``x``, a bad ``axis``, ``bits``/``n_candidates`` out of range, an unsupported
        ``grid``.

    Examples
    --------
    >>> float(optimal_clip_empirical([1.0, -1.0, 0.5], 8))   # the max-abs clip loses nothing here
    1.0
    """
    from .._kernels.clipping import clip_search_kernel

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
