"""Data-driven optimal clipping: the exact squared error of the actual quantizer on an actual tensor, over a
grid of candidate clips (Numba kernel ``refquant._kernels.clipping``, twin ``refquant._reference.clipping``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_real_array, channel_rows, check_bool, check_choice, check_int
from .grids import GRIDS, _check_bits

_EMPIRICAL_GRIDS = GRIDS

#: Element x candidate evaluations below which the search kernel runs on one Numba thread
#: (``threads_for``): one thread does ~2^21 of them in ~2 ms, so below that a second thread saves at most
#: ~1 ms while waking it costs 20-50 ms per call on a loaded 2-core machine.
PARALLEL_MIN_EVALUATIONS = 1 << 21

#: The clip reported for an all-zero channel: every clip is optimal there (the error is 0); a positive
#: value keeps the scale derived from it valid for refquant.uniform.
DEAD_CHANNEL_CLIP = 1.0


def optimal_clip_empirical(
    x,
    bits,
    *,
    axis=None,
    grid: str = "symmetric",
    n_candidates: int = 100,
    return_mse: bool = False,
    signed: bool = True,
):
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

    ``signed=False`` is the one-sided (post-ReLU) search: ``x >= 0`` and the
    unsigned grids of :func:`quantize_on_grid` with ``signed=False`` on
    :math:`[0, \alpha]` -- ``"symmetric"`` (unsigned narrow range, step
    :math:`\alpha/(2^M-2)`), ``"endpoint"`` (unsigned full range, step
    :math:`\alpha/(2^M-1)`, refquant's usual activation grid), ``"aciq_runtime"``
    (the ACIQ code's one-sided quantizer: the same levels as ``"endpoint"``), ``"midrise"``
    and ``"paper"`` (step :math:`\alpha/2^M`).

    A Numba kernel evaluates all candidates in one pass over each channel
    (parallel over channels); its NumPy twin
    (``refquant._reference.clipping``) gives bit-identical sums.

    Parameters
    ----------
    x : array_like
        float32 or float64 (other real dtypes are cast to float64), finite, non-empty.
    bits : int
        2..16 for "symmetric", 1..15 ("paper") or 1..16 (the other grids).
    axis : int or None
        Channel axis, or None for one clip for the whole tensor.
    grid : {"symmetric", "paper", "midrise", "endpoint", "aciq_runtime"}
        The grid searched (above).
    n_candidates : int
        Candidate clips per channel, 1..100000.
    return_mse : bool
        Also return the (C, n) table of mean squared errors.
    signed : bool
        Default True; False = one-sided data and grid (above).

    Returns
    -------
    alpha : float64 array, shape ``()`` or ``(C,)``, every entry > 0. For an
        all-zero ("dead") channel every clip is optimal; it gets
        ``DEAD_CHANNEL_CLIP`` = 1.0, so that a scale derived from it is valid
        (the channel then quantizes to zeros exactly). With ``return_mse``,
        ``(alpha, mse)``.

    Raises
    ------
    TypeError
        Non-real ``x``, non-integer ``bits``/``n_candidates``, a non-bool flag.
    ValueError
        Empty or non-finite ``x``, a bad ``axis``, ``bits``/``n_candidates`` out of range, an unknown
        ``grid``, negative ``x`` with ``signed=False``;
        with ``return_mse``, mean squared errors outside the float64 range.

    Notes
    -----
    Scale-equivariant for every finite input: a channel whose ``max|x|`` lies outside the range where
    its squared errors are representable (float64 beyond 2**400 or below 2**-400, float32 below
    2**-100) is searched on the channel times an exact power of two, and its clip multiplied back.

    Inputs below ``PARALLEL_MIN_EVALUATIONS`` element-candidate evaluations run
    on one Numba thread (the result does not depend on the thread count).

    Examples
    --------
    >>> float(optimal_clip_empirical([1.0, -1.0, 0.5], 8))   # the max-abs clip loses nothing here
    1.0
    """
    from .._kernels._threads import threads_for
    from .._kernels.clipping import clip_search_kernel

    signed = check_bool(signed, "signed")
    check_choice(grid, _EMPIRICAL_GRIDS, "grid")
    bits = _check_bits(bits, grid, signed, hi=15 if grid == "paper" else 16)
    n_candidates = check_int(n_candidates, "n_candidates", 1, 100000)
    return_mse = check_bool(return_mse, "return_mse")
    xa = as_real_array(x, "x")
    if xa.dtype not in (np.float32, np.float64):
        xa = xa.astype(np.float64)
    if not signed and xa.size and xa.min() < 0:
        raise ValueError(
            f"x has negative values (min {float(xa.min())!r}) but signed=False (one-sided data); use signed=True"
        )
    args, e = _prepare_clip_search(xa, bits, grid, n_candidates, axis, signed=signed)
    with threads_for(args.v.size * n_candidates, PARALLEL_MIN_EVALUATIONS):
        clip_search_kernel(*args)
    v, scales, sse = args.v, args.scales, args.sse
    best = np.argmin(sse, axis=1)
    alpha = scales[np.arange(v.shape[0]), best].astype(np.float64) * _steps_per_clip(bits, grid, signed)
    alpha[np.abs(v).max(axis=1) == 0] = DEAD_CHANNEL_CLIP  # e = 0 there: the ldexp below keeps it
    alpha = np.ldexp(alpha, e)  # exact: e = 0 unless the channel was rescaled
    alpha = alpha.reshape(()) if axis is None else alpha
    if return_mse:
        with np.errstate(over="ignore", under="ignore"):
            mse = np.ldexp(sse / v.shape[1], 2 * e[:, None])
        if not np.all(np.isfinite(mse)) or np.any((mse == 0) & (sse > 0)):
            raise ValueError(
                "x: the mean squared errors (|x|**2 scale) are outside the float64 range; use "
                "return_mse=False (the clip itself is exact) or rescale x"
            )
        return alpha, mse
    return alpha


def _alpha_per_step(bits: int, grid: str) -> float:
    """alpha / step of a signed grid."""
    half = 2 ** (bits - 1)
    return {"symmetric": half - 1, "paper": half, "midrise": half, "endpoint": half - 0.5, "aciq_runtime": half - 0.5}[
        grid
    ]


def _steps_per_clip(bits: int, grid: str, signed: bool) -> float:
    """alpha / scale of the grid (the clip in steps); one-sided grids as quantize_on_grid(signed=False)."""
    if signed:
        return _alpha_per_step(bits, grid)
    n = 2**bits
    return {"symmetric": n - 2, "endpoint": n - 1, "aciq_runtime": n - 1, "paper": n, "midrise": n}[grid]


#: Channel maxima outside these bounds are rescaled by a power of two before the search: squared
#: errors of float64 data beyond 2**400 overflow, below 2**-400 underflow; float32 data below 2**-100
#: reaches the subnormal range in its scales (float32 squares are summed in float64 and cannot overflow).
_SAFE = {np.dtype(np.float64): (2.0**-400, 2.0**400), np.dtype(np.float32): (2.0**-100, np.inf)}


def _normalise_rows(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of *v* times ``2**-e_c`` where a row's max |x| is outside the safe range (``e_c = 0`` elsewhere).

    A power of two commutes with every rounding of the search (candidate scales ``(k/n) max|x| / qmax``
    and the quantizer), so the chosen candidate index is the same as on exact arithmetic of the
    unscaled row, and ``alpha * 2**e_c`` is exact. Ordinary data is not copied.
    """
    m = np.abs(v).max(axis=1)
    lo, hi = _SAFE[v.dtype]
    out = (m > 0) & ((m < lo) | (m > hi))
    e = np.zeros(v.shape[0], dtype=np.int64)
    if not np.any(out):
        return v, e
    e[out] = np.frexp(m[out].astype(np.float64))[1]
    scaled = np.ldexp(v.astype(np.float64), -e[:, None]).astype(v.dtype)
    return np.ascontiguousarray(scaled), e


def _candidate_scales(v: np.ndarray, bits: int, grid: str, n: int, *, signed: bool = True):
    """Per-channel candidate scales in v's dtype, and the grid's integer semantics for the kernel."""
    amax = np.abs(v).max(axis=1).astype(np.float64)
    amax = np.where(amax > 0, amax, 1.0)  # all-zero channel: any positive scale (result reported as DEAD_CHANNEL_CLIP)
    frac = np.arange(1, n + 1, dtype=np.float64) / n
    alphas = amax[:, None] * frac[None, :]
    steps = _steps_per_clip(bits, grid, signed)
    s = alphas / steps
    if signed:
        half = 2 ** (bits - 1)
        if grid == "symmetric":
            mode, lo, hi, offset = 0, -(half - 1), half - 1, 0
        elif grid == "paper":
            mode, lo, hi, offset = 0, -half, half, 0
        elif grid == "aciq_runtime":
            mode, lo, hi, offset = 0, -half, half - 1, 0
        else:  # midrise, endpoint: floor, then half a step up
            mode, lo, hi, offset = 1, -half, half - 1, 1
    else:  # one-sided: codes 0..steps (midrise: 0..2^M - 1 with floor rounding and the half-step offset)
        if grid == "midrise":
            mode, lo, hi, offset = 1, 0, steps - 1, 1
        else:
            mode, lo, hi, offset = 0, 0, steps, 0
    s = s.astype(v.dtype)
    tiny = np.finfo(v.dtype).tiny
    s = np.maximum(s, tiny)  # never a zero scale after the cast
    return np.ascontiguousarray(s), mode, lo, hi, offset


class _ClipSearchArgs(NamedTuple):
    """The exact arguments of ``clip_search_kernel`` (same names, same order); ``sse`` allocated (zeros)."""

    v: np.ndarray
    scales: np.ndarray
    mode: int
    lo: int
    hi: int
    offset: int
    sse: np.ndarray


def _prepare_clip_search(xa: np.ndarray, bits: int, grid: str, n_candidates: int, axis, *, signed: bool = True):
    """Validated float32/float64 ``xa`` -> (the clip-search kernel's arguments, the rows' exponents ``e``).

    The arguments (its twin, ``refquant._reference.clipping.clip_search_prepared``, takes the same): channel
    rows (C-contiguous, rescaled by ``2**-e`` where :func:`_normalise_rows` says so), candidate scales and the
    grid's integer semantics (:func:`_candidate_scales`; one-sided grids with ``signed=False``), the output table.
    """
    v = np.ascontiguousarray(channel_rows(xa, axis, "x"))
    if not v.flags.writeable:  # a read-only array is another Numba type (one more compiled signature)
        v = v.copy()
    v, e = _normalise_rows(v)
    scales, mode, lo, hi, offset = _candidate_scales(v, bits, grid, n_candidates, signed=signed)
    return _ClipSearchArgs(v, scales, mode, lo, hi, offset, np.zeros(scales.shape, dtype=np.float64)), e
