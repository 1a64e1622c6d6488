r"""Per-channel bit allocation (ACIQ, Banner et al. NeurIPS 2019, Sec. 4 of the paper).

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
"""
from __future__ import annotations

import heapq

import numpy as np

from ._validate import as_real_array, check_int

__all__ = ["allocate_bits", "allocation_mse", "continuous_allocation", "paper_allocation"]


def _alphas(alphas) -> np.ndarray:
    a = as_real_array(alphas, "alphas").astype(np.float64)
    if a.ndim != 1:
        raise ValueError(f"alphas must be 1-D (one clip per channel), got shape {a.shape}")
    if np.any(a <= 0):
        raise ValueError(f"alphas must be > 0, got alphas={a[a <= 0][0]!r} (channel {int(np.flatnonzero(a <= 0)[0])})")
    return a


def allocation_mse(alphas, bits) -> float:
    r"""Model MSE summed over channels: :math:`\sum_i \alpha_i^2/(3\cdot4^{M_i})`."""
    a = _alphas(alphas)
    m = as_real_array(bits, "bits").astype(np.float64)
    if m.shape != a.shape:
        raise ValueError(f"bits has shape {m.shape}, alphas has shape {a.shape}; they must match")
    return float(np.sum(a**2 / (3.0 * 4.0**m)))


def continuous_allocation(alphas, total_bits: float, *, min_bits: float = 0.0, max_bits: float = 16.0) -> np.ndarray:
    r"""Real-valued optimum of the bit budget, :math:`M_i = T/C + \log_2\alpha_i - \overline{\log_2\alpha}`,
    with water-filling at the bounds (channels that hit a bound are fixed and the rest re-solved)."""
    a = _alphas(alphas)
    t = float(total_bits)
    c = a.size
    if not (c * min_bits <= t <= c * max_bits):
        raise ValueError(f"total_bits={t} is out of range; allowed: {c * min_bits} <= total_bits <= {c * max_bits} for {c} channels")
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


def paper_allocation(alphas, total_bins: int, *, max_bits: int = 16) -> np.ndarray:
    r"""Paper eq. 10–11: :math:`M_i = \mathrm{round}(\log_2(B\,\alpha_i^{2/3}/\sum_j\alpha_j^{2/3}))`, clamped to ``[0, max_bits]``.

    Half-way cases round half to even (``np.rint``). The bin budget ``B`` is
    generally *not* met exactly; see :func:`allocate_bits`.
    """
    a = _alphas(alphas)
    total_bins = check_int(total_bins, "total_bins", a.size)
    w = a ** (2.0 / 3.0)
    return np.clip(np.rint(np.log2(total_bins * w / w.sum())), 0, max_bits).astype(np.int64)


def allocate_bits(alphas, total_bits: int, *, budget: str = "bits", min_bits: int = 0, max_bits: int = 8) -> np.ndarray:
    r"""Integer bit widths per channel that meet the budget exactly and minimise the model MSE.

    Parameters
    ----------
    alphas : 1-D array_like > 0, the per-channel clipping values (or any
        per-channel scale proportional to them: only ratios matter — the ACIQ
        code uses the per-channel standard deviation).
    total_bits : int
        ``budget="bits"``: :math:`\sum_i M_i` (e.g. ``4 * C`` for a 4-bit mean).
        ``budget="bins"``: the number of bins :math:`B = \sum_i 2^{M_i}`
        (e.g. ``C * 2**4``); must be reachable by doubling.
    budget : "bits" (default, exact integer optimum) or "bins" (paper eq. 10, greedy).
    min_bits, max_bits : int bounds per channel, ``0 <= min_bits <= max_bits <= 16``
        (the ACIQ code clamps to [0, 8]).

    Returns
    -------
    int64 array of bit widths, shape ``(C,)``; ties are broken toward the
    lower channel index, so the result is deterministic.

    Examples
    --------
    >>> allocate_bits([1.0, 1.0, 4.0, 4.0], 16).tolist()   # 4-bit mean; x4 larger clips get 2 bits more
    [3, 3, 5, 5]
    """
    a = _alphas(alphas)
    c = a.size
    min_bits = check_int(min_bits, "min_bits", 0, 16)
    max_bits = check_int(max_bits, "max_bits", min_bits, 16)
    if budget not in ("bits", "bins"):
        raise ValueError(f"budget={budget!r}; allowed: 'bits', 'bins'")
    m = np.full(c, min_bits, dtype=np.int64)
    if budget == "bits":
        total_bits = check_int(total_bits, "total_bits", c * min_bits, c * max_bits)
        left = total_bits - c * min_bits
        cost = lambda i: 1  # noqa: E731
    else:
        total_bits = check_int(total_bits, "total_bits", c * 2**min_bits, c * 2**max_bits)
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
        raise ValueError(f"total_bits={total_bits} cannot be met exactly with budget={budget!r} "
                         f"and bits in [{min_bits}, {max_bits}] ({left} left over)")
    return m
