r"""Per-channel bit allocation (ACIQ, Banner et al. NeurIPS 2019, Sec. 4, eqs. 10–11, and its released code).

Theory page: ``docs/theory/aciq.md``, section "Per-channel bit allocation".

Model: channel ``i`` clipped at :math:`\alpha_i` with :math:`M_i` bits has
rounding noise :math:`\alpha_i^2 / (3\cdot 4^{M_i})` (the paper's model; the
clipping term is ignored, as in the paper). Two budgets:

* **bins** (the paper's eq. 10): :math:`\sum_i 2^{M_i} = B`. Lagrange gives
  :math:`2^{M_i^*} = B\,\alpha_i^{2/3} / \sum_j \alpha_j^{2/3}` and eq. 11 rounds
  :math:`M_i = \lfloor\log_2(\cdot)\rceil`, which does not meet the budget exactly.
* **bits** (what the ACIQ code enforces: a mean bit width):
  :math:`\sum_i M_i = T`. The continuous optimum is
  :math:`M_i^* = T/C + \log_2\alpha_i - \overline{\log_2\alpha}` (reverse
  water-filling, clamped to ``[min_bits, max_bits]``).

:func:`allocate_bits` returns integer widths that meet the budget *exactly*:
greedy marginal allocation — start every channel at ``min_bits`` and give one
bit (or, for the bin budget, double one channel's bins) at a time to the
channel whose noise drops most per unit of budget. The noise is separable
and convex in :math:`M_i`, so for the bit budget the greedy result is the
integer optimum (Fox 1966); for the bin budget it is a documented heuristic
(a knapsack in general), compared with eq. 11 in the tests and analysis.

Which function is which:

* :func:`allocate_bits` -- **the true optimum** of the model under an exact
  budget (for ``budget="bits"`` it matches a brute-force search).
* :func:`paper_allocation` -- eq. 10–11 **as printed**: one pass, rounded
  (or ceiled) :math:`\log_2` of the bin share, clamped; the budget is not met
  exactly.
* :func:`code_allocation` -- **what the released ACIQ code runs**
  (``get_bits_alloc_fixed_target``): eq. 10–11 with round or ceil and a
  ``[0, 8]`` clamp, re-run with an adjusted target
  :math:`T \leftarrow T + (\bar M^* - \bar M)/2` until the mean bit width
  is within 0.01 of the goal or 10 passes have run. Its result can miss the
  goal and is not the optimum of the model (see ``figures/allocation_compare.md``,
  written by ``python -m analysis allocation_compare``).
* :func:`continuous_allocation` -- the real-valued optimum of the bit budget.
"""

from __future__ import annotations

import heapq

import numpy as np

from ._validate import (
    MAX_BITS,
    as_float_array,
    check_bits,
    check_bool,
    check_choice,
    check_int,
    check_real,
    pow2_normalize,
)

__all__ = [
    "allocate_bits",
    "allocation_mse",
    "continuous_allocation",
    "paper_allocation",
    "code_allocation",
    "ROUNDINGS",
]

#: Rounding of :math:`\log_2` of the bin share in :func:`paper_allocation` / :func:`code_allocation`.
ROUNDINGS = ("round", "ceil")

_BUDGETS = ("bits", "bins")


def _alphas(alphas) -> tuple[np.ndarray, int]:
    """The clips divided by an exact power of two ``2**e`` (max in [0.5, 1)), and ``e``.

    Every allocation depends only on ratios of the clips, so working on the
    normalised clips removes the overflow of ``alpha**2`` (1e300) and the
    underflow of tiny clips without changing any result.
    """
    a = as_float_array(alphas, "alphas", ndim=1)
    if np.any(a <= 0):
        raise ValueError(f"alphas must be > 0, got alphas={a[a <= 0][0]!r} (channel {int(np.flatnonzero(a <= 0)[0])})")
    a, e = pow2_normalize(a)
    if np.any(a == 0):  # ratio below 2**-1074: the tiny channel cannot be compared with the largest one
        raise ValueError("alphas spans more than 2**1074 in ratio (max/min); the allocation is undefined in float64")
    return a, e


def allocation_mse(alphas, bits) -> float:
    r"""Model MSE summed over channels: :math:`\sum_i \alpha_i^2/(3\cdot4^{M_i})` (the rounding-noise term of
    the paper's model, eq. 10's objective; the clipping term is ignored as in the paper).

    Parameters
    ----------
    alphas : array_like
        The per-channel clips :math:`\alpha_i`: 1-D, > 0, finite.
    bits : array_like
        The bit widths :math:`M_i`: 1-D, the shape of ``alphas``, real, within ``[0, 16]`` (non-integer values
        are evaluated as the formula gives).

    Returns
    -------
    float
        :math:`\sum_i \alpha_i^2/(3\cdot4^{M_i})`, in squared units of the clips.

    Raises
    ------
    TypeError
        Non-real or bool arrays.
    ValueError
        Wrong ndim/shape, empty, NaN/inf, ``alphas <= 0``, ``bits`` outside ``[0, 16]``, or a
        result beyond float64 (the MSE scales as alpha**2: computed on normalised clips and
        rescaled exactly).

    References
    ----------
    Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for
    rapid-deployment", NeurIPS 2019: the rounding term :math:`\alpha^2/(3\cdot4^M)` of eq. 5, summed over
    channels as the objective of the bit allocation (eq. 10).

    Examples
    --------
    >>> allocation_mse([3.0], [1])   # 9 / 12
    0.75
    """
    a, e = _alphas(alphas)
    m = as_float_array(bits, "bits")
    if m.shape != a.shape:
        raise ValueError(f"bits has shape {m.shape}, alphas has shape {a.shape}; they must match")
    if np.any(m < 0) or np.any(m > MAX_BITS):
        raise ValueError(f"bits must lie in [0, {MAX_BITS}], got min {m.min()!r}, max {m.max()!r}")
    unit = float(np.sum(a**2 / (3.0 * 4.0**m)))
    with np.errstate(over="ignore", under="ignore"):
        r = float(np.ldexp(unit, 2 * e))
    if not np.isfinite(r) or (r == 0 and unit > 0):
        raise ValueError("alphas: the model MSE (alpha**2 scale) is outside the float64 range; rescale the clips")
    return r


def continuous_allocation(alphas, total_bits: float, *, min_bits: float = 0.0, max_bits: float = 16.0) -> np.ndarray:
    r"""Real-valued optimum of the bit budget, :math:`M_i = T/C + \log_2\alpha_i - \overline{\log_2\alpha}`,
    with water-filling at the bounds (channels that hit a bound are fixed and the rest re-solved).

    Parameters
    ----------
    alphas : array_like
        The per-channel clips :math:`\alpha_i`: 1-D, > 0, finite (only ratios matter).
    total_bits : float
        The budget :math:`T = \sum_i M_i`, ``C * min_bits <= total_bits <= C * max_bits``.
    min_bits, max_bits : float
        Bounds per channel, ``0 <= min_bits <= max_bits <= 16``.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(C,)``: the real-valued :math:`M_i`, summing to ``total_bits``.

    Raises
    ------
    TypeError
        ``alphas`` not a real array; a bound or ``total_bits`` not a real number.
    ValueError
        ``alphas`` not 1-D, empty, non-finite or not positive; a bound or the budget out of range.

    Notes
    -----
    Minimising :math:`\sum_i \alpha_i^2 4^{-M_i}/3` under :math:`\sum_i M_i = T` (Lagrange): the derivative
    :math:`-(\ln 4/3)\,\alpha_i^2 4^{-M_i}` is equal across channels, so :math:`4^{M_i} \propto \alpha_i^2`,
    :math:`M_i = \log_2\alpha_i + \mathrm{const}`, the constant fixed by the budget (reverse water-filling).

    References
    ----------
    Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for rapid-deployment",
    NeurIPS 2019, eqs. 10–11 (the bin-budget form; this is the bit-budget form the released code enforces).

    Examples
    --------
    >>> continuous_allocation([1.0, 4.0], 8).tolist()   # 2 bits apart: log2(4)
    [3.0, 5.0]
    """
    a, _ = _alphas(alphas)
    min_bits = check_real(min_bits, "min_bits", lo=0.0, hi=float(MAX_BITS))
    max_bits = check_real(max_bits, "max_bits", lo=min_bits, hi=float(MAX_BITS))
    t = check_real(total_bits, "total_bits")
    c = a.size
    if not (c * min_bits <= t <= c * max_bits):
        raise ValueError(
            f"total_bits={t} is out of range; allowed: {c * min_bits} <= total_bits <= {c * max_bits} for {c} channels"
        )
    m = np.empty(c)
    free = np.ones(c, dtype=bool)
    la = np.log2(a)
    for _ in range(c + 1):
        budget = t - m[~free].sum()
        m[free] = budget / free.sum() + la[free] - la[free].mean()
        low, high = free & (m < min_bits), free & (m > max_bits)
        if not low.any() and not high.any():
            break
        m[low], m[high] = min_bits, max_bits
        free &= ~(low | high)
    return m


def _check_rounding(rounding) -> str:
    return check_choice(rounding, ROUNDINGS, "rounding")


def _eq11(a: np.ndarray, total_bins: float, rounding: str, min_bits: int, max_bits: int) -> np.ndarray:
    w = a ** (2.0 / 3.0)
    share = np.log2(total_bins * w / w.sum())
    m = np.rint(share) if rounding == "round" else np.ceil(share)
    return np.clip(m, min_bits, max_bits).astype(np.int64)


def paper_allocation(alphas, total_bins: int, *, max_bits: int = 16, rounding: str = "round") -> np.ndarray:
    r"""Paper eq. 10–11 as printed: :math:`M_i = \mathrm{round}(\log_2(B\,\alpha_i^{2/3}/\sum_j\alpha_j^{2/3}))`,
    clamped to ``[0, max_bits]``.

    One pass, no budget matching: the bin budget ``B`` is generally *not* met
    exactly (see :func:`allocate_bits` for the optimum and
    :func:`code_allocation` for what the released code iterates).

    Parameters
    ----------
    alphas : array_like
        The per-channel clips :math:`\alpha_i` (1-D, > 0, finite), or any per-channel scale proportional to
        them: only ratios matter.
    total_bins : int
        The bin budget :math:`B` >= C (e.g. ``C * 2**M``).
    max_bits : int
        The upper clamp, in [0, 16].
    rounding : {"round", "ceil"}
        ``"round"``: nearest integer, half to even (``np.rint``, as ``torch.round``);
        ``"ceil"``: the released code's default for its helper (``-bam ceil``).

    Returns
    -------
    numpy.ndarray
        int64, shape ``(C,)``: the bit widths :math:`M_i` of eq. 11.

    Raises
    ------
    TypeError
        ``total_bins``/``max_bits`` not an int (``max_bits=2.7`` or NaN is refused, never truncated);
        ``rounding`` not a str.
    ValueError
        ``alphas`` invalid (as :func:`allocate_bits`); ``total_bins < C``; ``max_bits`` out of range;
        unknown ``rounding``.

    References
    ----------
    Banner, Nahshan & Soudry, NeurIPS 2019, eqs. 10–11.

    Examples
    --------
    >>> paper_allocation([1.0, 8.0], 32).tolist()    # bins split 1 : 4, i.e. 6.4 : 25.6
    [3, 5]
    """
    a, _ = _alphas(alphas)
    total_bins = check_int(total_bins, "total_bins", a.size)
    max_bits = check_bits(max_bits, "max_bits", 0, MAX_BITS)
    rounding = _check_rounding(rounding)
    return _eq11(a, float(total_bins), rounding, 0, max_bits)


def code_allocation(
    alphas,
    target_bits: float,
    *,
    rounding: str = "round",
    min_bits: int = 0,
    max_bits: int = 8,
    tol: float = 0.01,
    max_iter: int = 10,
    return_info: bool = False,
):
    r"""Bit allocation as the released ACIQ code runs it (``get_bits_alloc_fixed_target``; not the optimum).

    With goal :math:`\bar M^*` = ``target_bits`` and :math:`T_0 = \bar M^*`,
    pass ``k`` computes eq. 10–11 with bin budget :math:`B_k = C\,2^{T_k}`,

    .. math:: M_i^{(k)} = \mathrm{clamp}\Big(\mathrm{rnd}\big(
              \log_2\frac{B_k\,\alpha_i^{2/3}}{\sum_j \alpha_j^{2/3}}\big), m_{lo}, m_{hi}\Big), \qquad
              T_{k+1} = T_k + \frac{\bar M^* - \mathrm{mean}_i M_i^{(k)}}{2}

    and stops after the first pass with :math:`|\bar M^* - \mathrm{mean}\,M^{(k)}| \le` ``tol``
    or after ``max_iter`` passes, returning that pass's :math:`M^{(k)}`
    (which may miss the goal). ``rnd`` is round-half-to-even (``torch.round``)
    or ceil. The code runs this in float32 on the GPU; here float64 (a
    different result only when a :math:`\log_2` lands within float32
    rounding of a rounding boundary).

    Parameters
    ----------
    alphas : 1-D array_like > 0
        Per-channel scales (the code passes the per-channel std, or ``b``); only ratios matter
        (they are divided by an exact power of two first).
    target_bits : float
        The goal mean bit width :math:`\bar M^*`, in ``[min_bits, max_bits]``.
    rounding : {"round", "ceil"}
        The code's ``-bam`` option (its command-line default is ``round``).
    min_bits, max_bits : int
        The clamp, ``0 <= min_bits <= max_bits <= 16`` (the code clamps to [0, 8]).
    tol : float
        The stopping tolerance on the mean (> 0; 0.01 in the code).
    max_iter : int
        The most passes, in [1, 10**6] (10 in the code).
    return_info : bool
        Also return ``(final_target, passes)``.

    Returns
    -------
    bits : numpy.ndarray
        int64, shape ``(C,)``: the last pass's bit widths.
    target : float
        Only with ``return_info``: the final :math:`T_k` (mean bits of the bin budget).
    passes : int
        Only with ``return_info``: the number of passes made.

    Raises
    ------
    TypeError
        ``alphas`` not a real array; ``min_bits``/``max_bits``/``max_iter`` not ints;
        ``target_bits``/``tol`` not real numbers; ``rounding`` not a str; ``return_info`` not a bool.
    ValueError
        ``alphas`` not 1-D, empty, non-finite or not positive; any other argument out of range;
        unknown ``rounding``.

    References
    ----------
    Banner, Nahshan & Soudry, NeurIPS 2019, eqs. 10–11; ``submission2019/cnn-quantization``,
    ``IntQuantizer.get_bits_alloc_fixed_target``.

    Examples
    --------
    >>> code_allocation([1.0, 1.0, 8.0, 8.0], 4).tolist()
    [3, 3, 5, 5]
    """
    a, _ = _alphas(alphas)
    rounding = _check_rounding(rounding)
    min_bits = check_bits(min_bits, "min_bits", 0, MAX_BITS)
    max_bits = check_bits(max_bits, "max_bits", min_bits, MAX_BITS)
    goal = check_real(target_bits, "target_bits", lo=float(min_bits), hi=float(max_bits))
    tol = check_real(tol, "tol", lo=0.0, lo_open=True)
    max_iter = check_int(max_iter, "max_iter", 1, 10**6)
    check_bool(return_info, "return_info")
    target = goal
    for it in range(1, max_iter + 1):  # noqa: B007  (``it`` is returned after the loop: the passes made)
        m = _eq11(a, a.size * 2.0**target, rounding, min_bits, max_bits)
        miss = goal - m.mean()
        target += miss / 2
        if abs(miss) <= tol:
            break
    return (m, target, it) if return_info else m


def allocate_bits(alphas, total_bits: int, *, budget: str = "bits", min_bits: int = 0, max_bits: int = 8) -> np.ndarray:
    r"""Integer bit widths per channel that meet the budget exactly and minimise the model MSE.

    Parameters
    ----------
    alphas : array_like
        The per-channel clipping values :math:`\alpha_i` (1-D, > 0, finite), or any per-channel scale
        proportional to them: only ratios matter (the ACIQ code uses the per-channel standard deviation).
    total_bits : int
        ``budget="bits"``: :math:`\sum_i M_i` (e.g. ``4 * C`` for a 4-bit mean).
        ``budget="bins"``: the number of bins :math:`B = \sum_i 2^{M_i}`
        (e.g. ``C * 2**4``); must be reachable by doubling.
    budget : {"bits", "bins"}
        ``"bits"`` (default): the exact integer optimum under :math:`\sum_i M_i` = ``total_bits``;
        ``"bins"``: the paper's bin budget (eq. 10), greedy doubling.
    min_bits, max_bits : int
        Bounds per channel, ``0 <= min_bits <= max_bits <= 16`` (the ACIQ code clamps to [0, 8]).

    Returns
    -------
    numpy.ndarray
        int64 bit widths, shape ``(C,)``; ties are broken toward the lower channel index, so the result is
        deterministic.

    Raises
    ------
    TypeError
        ``alphas`` not a real array; ``total_bits``/``min_bits``/``max_bits`` not ints;
        ``budget`` not a str.
    ValueError
        ``alphas`` not 1-D, empty, non-finite or not positive; bounds out of range;
        unknown ``budget``; a budget out of range or not reachable exactly.

    Notes
    -----
    Only ratios of the clips matter: they are divided by an exact power of two
    first, so ``alphas * 2**k`` (even ``* 1e300``) gives the same widths.

    References
    ----------
    Banner, Nahshan & Soudry, NeurIPS 2019, eq. 10 (the bin budget); Fox,
    "Discrete optimization via marginal analysis", Management Science 1966 (greedy optimality).

    Examples
    --------
    >>> allocate_bits([1.0, 1.0, 4.0, 4.0], 16).tolist()   # 4-bit mean; x4 larger clips get 2 bits more
    [3, 3, 5, 5]
    """
    a, _ = _alphas(alphas)
    c = a.size
    min_bits = check_bits(min_bits, "min_bits", 0, MAX_BITS)
    max_bits = check_bits(max_bits, "max_bits", min_bits, MAX_BITS)
    check_choice(budget, _BUDGETS, "budget")
    m = np.full(c, min_bits, dtype=np.int64)
    total_bits = check_int(total_bits, "total_bits")
    lo_t, hi_t = (c * min_bits, c * max_bits) if budget == "bits" else (c * 2**min_bits, c * 2**max_bits)
    if not lo_t <= total_bits <= hi_t:
        raise ValueError(
            f"total_bits={total_bits} is out of range for budget={budget!r} with {c} channels, "
            f"min_bits={min_bits}, max_bits={max_bits}; allowed: {lo_t} <= total_bits <= {hi_t}"
        )
    if budget == "bits":
        left = total_bits - c * min_bits
        cost = lambda i: 1  # noqa: E731
    else:
        left = total_bits - c * 2**min_bits
        cost = lambda i: 2 ** int(m[i])  # doubling channel i's bins costs its current bin count  # noqa: E731
    # max-heap of (gain per unit budget, channel); gain of one more bit = noise * 3/4
    heap = [(-(a[i] ** 2 / (3.0 * 4.0**min_bits)) * 0.75 / cost(i), i) for i in range(c) if min_bits < max_bits]
    heapq.heapify(heap)
    skipped = []
    while left > 0 and heap:
        g, i = heapq.heappop(heap)
        if cost(i) > left:
            skipped.append((g, i))  # does not fit any more (bins budget); keep looking
            continue
        left -= cost(i)
        m[i] += 1
        if m[i] < max_bits:
            heapq.heappush(heap, (-(a[i] ** 2 / (3.0 * 4.0 ** int(m[i]))) * 0.75 / cost(i), i))
    if left != 0:
        raise ValueError(
            f"total_bits={total_bits} cannot be met exactly with budget={budget!r} "
            f"and bits in [{min_bits}, {max_bits}] ({left} left over)"
        )
    return m
