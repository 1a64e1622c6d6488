r"""Weight repetition and sparsity statistics, and repetition-aware matmul with operation counts.

Concepts from Kuhar et al., "Signed-Binarization" (ICLR 2024 submission; its
definitions of repetition and its worked example from the public review discussion)
and the kernels it relies on:
UCNN (Hegde et al., ISCA 2018) factorised dot products. The paper's counting
rules are *reconstructed* (its text was not accessible); every count below
states its rule.

Layout: ``w_q`` for :func:`factorized_matmul` has shape ``(K, out)`` so that the
result equals ``x @ w_q`` with ``x`` of shape ``(batch, K)``. For statistics,
``axis`` is the output-filter axis (0 for OIHW conv weights) as in
:mod:`refquant.binarize`, and ``block`` cuts filters into blocks of ``block``
input channels (``block=1`` on an OIHW 3×3 weight gives the R×S kernels the
paper counts).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import NamedTuple

import numpy as np

from ._validate import as_real_array, check_bool, check_choice, check_int, check_mapping, check_real, check_sequence
from .binarize import region_layout

__all__ = [
    "OpCounts",
    "RepetitionStats",
    "pigeonhole_bound",
    "unique_filters",
    "paper_repetition_table",
    "empirical_repetition_table",
    "FactorizedWeights",
    "factorize",
    "factorized_matmul",
    "SharedSumProgram",
    "plan_shared_sums",
    "shared_sum_matmul",
    "count_ops",
    "METHODS",
]

_SCHEMES = ("binary", "ternary", "signed_binary")


@dataclasses.dataclass(frozen=True)
class OpCounts:
    """Arithmetic operations of a matmul, summed over all outputs (batch × out).

    Attributes
    ----------
    adds : int
        Additions and subtractions.
    muls : int
        Multiplications.
    dense_macs : int
        The dense baseline: ``K`` multiply-accumulates per output.

    Raises
    ------
    TypeError
        A field that is not an integer (``bool`` and integer-valued floats are refused).
    ValueError
        A negative field.
    """

    adds: int
    muls: int
    dense_macs: int

    def __post_init__(self):
        for name in ("adds", "muls", "dense_macs"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, 0))


@dataclasses.dataclass(frozen=True)
class RepetitionStats:
    """Repetition and sparsity of a quantized weight (returned by :func:`unique_filters`).

    Attributes
    ----------
    n_blocks : int
        Number of filter blocks.
    n_unique : int
        Number of distinct blocks.
    repetition : int64 ndarray
        Occurrences of each distinct block, sorted descending (sums to ``n_blocks``).
    block_size : int
        Weights per block (``K`` of the pigeonhole bound).
    sparsity, density : float
        Fraction of zero / non-zero weights.
    effectual : int
        Number of non-zero weights.
    mean_repetition : float
        ``n_blocks / n_unique`` (a property).
    """

    n_blocks: int
    n_unique: int
    repetition: np.ndarray
    block_size: int
    sparsity: float
    density: float
    effectual: int

    @property
    def mean_repetition(self) -> float:
        """Mean occurrences per distinct block, ``n_blocks / n_unique``."""
        return self.n_blocks / self.n_unique


def pigeonhole_bound(k: int, scheme: str, *, shared_zero: bool = False) -> int:
    r"""Largest possible number of distinct blocks of *k* weights (exact Python int).

    binary ``2^k``; ternary ``3^k``; signed-binary ``2·2^k`` (a block is
    ``{0,+a}^k`` or ``{0,-a}^k``), the count the paper quotes. With
    ``shared_zero=True`` the all-zero block, common to both signs, is counted
    once: ``2^(k+1) - 1``.

    Parameters
    ----------
    k : int
        Weights per block, 1..4096.
    scheme : {"binary", "ternary", "signed_binary"}
        Weight alphabet.
    shared_zero : bool
        Count the all-zero block of signed-binary once (default False, the paper's count).

    Returns
    -------
    int
        The bound (an exact Python int).

    Examples
    --------
    >>> pigeonhole_bound(9, "binary"), pigeonhole_bound(9, "ternary"), pigeonhole_bound(9, "signed_binary")
    (512, 19683, 1024)

    Raises
    ------
    TypeError
        ``k`` not an int; ``scheme`` not a str; ``shared_zero`` not a bool.
    ValueError
        ``k`` outside ``1..4096``; unknown ``scheme``.
    """
    k = check_int(k, "k", 1, 4096)
    check_choice(scheme, _SCHEMES, "scheme")
    shared_zero = check_bool(shared_zero, "shared_zero")
    if scheme == "binary":
        return 2**k
    if scheme == "ternary":
        return 3**k
    return 2 ** (k + 1) - (1 if shared_zero else 0)


def unique_filters(w_q, *, block: int | None = None, axis: int | None = 0) -> RepetitionStats:
    """Count distinct filters (or blocks of ``block`` input channels) of a quantized weight.

    Blocks are compared by exact value equality of all their weights (after
    ``-0.0 -> +0.0``).

    Parameters
    ----------
    w_q : array_like
        Quantized weight, real, finite, non-empty, filters along ``axis``.
    block : int or None
        Input channels per block (>= 1), or None (default) for whole filters.
    axis : int or None
        Filter (output-channel) axis of ``w_q`` (default 0), or None for one filter.

    Returns
    -------
    RepetitionStats
        Block counts, repetition and sparsity.

    Raises
    ------
    TypeError
        ``w_q`` not a real numeric array; ``block``/``axis`` not an int (or None).
    ValueError
        ``w_q`` empty or non-finite; ``block < 1`` or not compatible with the layout; ``axis`` out of range.
    """
    w = as_real_array(w_q, "w_q")
    if block is not None:
        check_int(block, "block", 1)
    lay = region_layout(w.shape, axis=axis, region=block)
    v = lay.view(w).reshape(lay.n_filters * lay.n_tiles, lay.tile * lay.rest) + 0.0
    _, counts = np.unique(v, axis=0, return_counts=True)
    nnz = int(np.count_nonzero(w))
    return RepetitionStats(
        n_blocks=v.shape[0],
        n_unique=int(counts.size),
        repetition=np.sort(counts)[::-1],
        block_size=int(v.shape[1]),
        sparsity=1.0 - nnz / w.size,
        density=nnz / w.size,
        effectual=nnz,
    )


def _layer_shape(shape) -> tuple[int, int, int, int]:
    dims = check_sequence(shape, "shape")
    if len(dims) != 4:
        raise ValueError(f"shape={shape!r}: expected [R, S, C_in, C_out] (4 entries)")
    return tuple(check_int(v, f"shape[{i}]", 1) for i, v in enumerate(dims))


def paper_repetition_table(shape=(3, 3, 256, 256)):
    """The paper's table for an ``[R, S, C_in, C_out]`` layer, from the pigeonhole bounds.

    One row per scheme: block size ``K = R·S``, number of kernels
    ``C_in·C_out``, the bound, and the average repetition per possible pattern
    (kernels / bound). For [3,3,256,256]: 512 / 1024 / 19683 patterns and
    128× / 64× / 3.33× (the paper's quoted repetition figures).

    Parameters
    ----------
    shape : sequence of 4 ints
        ``[R, S, C_in, C_out]``, every entry >= 1 (default ``(3, 3, 256, 256)``).

    Returns
    -------
    pandas.DataFrame
        Columns ``scheme, K, kernels, bound, avg_repetition``, one row per scheme.

    Raises
    ------
    TypeError
        ``shape`` not a list/tuple, or an entry not an int.
    ValueError
        ``shape`` without exactly 4 entries, or an entry < 1.
    """
    import pandas as pd

    r, s, cin, cout = _layer_shape(shape)
    k = r * s
    n = cin * cout
    rows = [
        {
            "scheme": sc,
            "K": k,
            "kernels": n,
            "bound": pigeonhole_bound(k, sc),
            "avg_repetition": n / pigeonhole_bound(k, sc),
        }
        for sc in _SCHEMES
    ]
    return pd.DataFrame(rows)


def empirical_repetition_table(shape=(3, 3, 256, 256), *, rng=None, weights=None):
    """Measured counterpart of :func:`paper_repetition_table`: distinct R×S kernels actually present.

    Either quantizes Gaussian latent weights of ``shape`` (``[R, S, C_in,
    C_out]``; needs ``rng``) with each scheme's refquant quantizer at its
    defaults — :func:`refquant.binarize.binarize`, ``ternarize``,
    ``signed_binarize`` per output filter — or measures given quantized
    ``weights``: a dict ``{scheme: array [R, S, C_in, C_out]}``. Kernels are
    compared as value patterns ``sign(w)`` (a per-filter scale would make
    every filter distinct).

    Parameters
    ----------
    shape : sequence of 4 ints
        ``[R, S, C_in, C_out]`` of the generated layer (ignored with ``weights``).
    rng : int, numpy.random.Generator or None
        Seed or generator of the latent weights (required without ``weights``).
    weights : dict or None
        ``{scheme: array [R, S, C_in, C_out]}`` of already quantized weights.

    Returns
    -------
    pandas.DataFrame
        Per scheme: ``K``, ``kernels``, ``bound``, ``unique``, ``mean_repetition``, ``max_repetition``,
        ``sparsity``.

    Raises
    ------
    TypeError
        ``shape`` not a list/tuple of ints; ``rng`` not a seed or Generator; ``weights`` not a dict, or a
        weight not a real numeric array.
    ValueError
        ``shape`` not 4 positive entries; ``rng=None`` without ``weights``; an unknown scheme key; a
        weight that is not 4-D, empty or non-finite.
    """
    import pandas as pd

    from . import binarize as _b
    from ._validate import as_rng

    if weights is None:
        r, s_, cin, cout = _layer_shape(shape)
        gen = as_rng(rng, "rng")
        latent = gen.standard_normal((cout, cin, r, s_))  # OIHW: filters on axis 0
        weights = {
            "binary": _b.binarize(latent),
            "ternary": _b.ternarize(latent),
            "signed_binary": _b.signed_binarize(latent),
        }
        weights = {k: np.transpose(v, (2, 3, 1, 0)) for k, v in weights.items()}
    else:
        weights = check_mapping(weights, "weights", optional=_SCHEMES)
        if not weights:
            raise ValueError("weights must be a non-empty dict {scheme: array [R, S, C_in, C_out]}")
    rows = []
    for scheme, w in weights.items():
        wa = as_real_array(w, f"weights[{scheme!r}]")
        if wa.ndim != 4:
            raise ValueError(f"weights[{scheme!r}] must be [R, S, C_in, C_out], got shape {wa.shape}")
        kernels = np.sign(np.transpose(wa, (2, 3, 0, 1)).reshape(-1, wa.shape[0] * wa.shape[1])) + 0.0
        _, counts = np.unique(kernels, axis=0, return_counts=True)
        k = wa.shape[0] * wa.shape[1]
        rows.append(
            {
                "scheme": scheme,
                "K": k,
                "kernels": kernels.shape[0],
                "bound": pigeonhole_bound(k, scheme),
                "unique": int(counts.size),
                "mean_repetition": kernels.shape[0] / counts.size,
                "max_repetition": int(counts.max()),
                "sparsity": 1.0 - np.count_nonzero(wa) / wa.size,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Repetition-aware matmul: "programming" (once per weight) and execution.
# ---------------------------------------------------------------------------

#: Additions + multiplications (batch x program size) below which the matmul kernels run on one Numba
#: thread (``threads_for``): one thread does ~2^21 of them in ~2 ms here, so below that a second thread
#: saves at most ~1 ms while waking it costs 20-50 ms on a loaded 2-core machine (see benchmarks/results.md).
PARALLEL_MIN_OPS = 1 << 21

#: Batch rows per kernel task (keeps a K x _CHUNK block of activations in cache; no effect on results).
_CHUNK = 64

#: Largest |x| * max_j sum_i |w_ij| for which int64 execution is exact.
_INT64_BOUND = 2**62


def _weights_2d(w_q) -> np.ndarray:
    w = as_real_array(w_q, "w_q")
    if w.ndim != 2:
        raise ValueError(f"w_q must be 2-D with shape (K, out), got w_q.shape={w.shape}")
    return w


def _max_col_abs_sum(w: np.ndarray) -> int:
    """max_j sum_i |w_ij| as an exact Python int (integer weights) or a float bound."""
    if w.dtype.kind in "iu":
        return int(np.abs(w.astype(object)).sum(axis=0).max())
    return float(np.abs(w).sum(axis=0).max())


def _activations(x, shape: tuple[int, int], integer_w: bool, colsum) -> tuple[np.ndarray, type]:
    """Validate ``x`` against a ``(K, out)`` weight and pick the exact compute dtype (int64 or float64)."""
    xa = as_real_array(x, "x")
    if xa.ndim != 2:
        raise ValueError(f"x must be 2-D with shape (batch, K), got x.shape={xa.shape}")
    if xa.shape[1] != shape[0]:
        raise ValueError(f"x has {xa.shape[1]} columns but w_q has {shape[0]} rows (shapes {xa.shape} @ {shape})")
    if xa.dtype.kind in "iu" and integer_w:
        xmax = int(np.abs(xa.astype(object)).max())
        if xmax * colsum > _INT64_BOUND:
            raise ValueError(
                f"integer operands too large for exact int64 accumulation: max|x|={xmax} times the largest column "
                f"sum of |w_q| ({colsum}) exceeds 2**62; pass float arrays to accept rounding"
            )
        return xa.astype(np.int64, copy=False), np.int64
    return xa.astype(np.float64, copy=False), np.float64


def _index_array(v, name: str, length: int | None = None) -> np.ndarray:
    """A private, read-only 1-D int64 copy of an integer index array (optionally of a given length)."""
    a = as_real_array(v, name, allow_empty=True)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype={a.dtype}")
    if a.ndim != 1 or (length is not None and a.size != length):
        want = "1-D" if length is None else f"1-D of length {length}"
        raise ValueError(f"{name} must be {want}, got shape={a.shape}")
    out = np.array(a, dtype=np.int64)
    out.flags.writeable = False
    return out


def _check_ptr(ptr: np.ndarray, name: str, end: int, what: str) -> None:
    """``ptr`` starts at 0, never decreases and ends at ``end`` (the CSR pointer invariant)."""
    if ptr[0] != 0 or ptr[-1] != end or np.any(np.diff(ptr) < 0):
        raise ValueError(
            f"{name} must start at 0, be non-decreasing and end at {end} ({what}), "
            f"got {name}[0]={int(ptr[0])}, {name}[-1]={int(ptr[-1])}"
        )


def _check_in_range(a: np.ndarray, name: str, lo: int, hi: int) -> None:
    """Every entry of ``a`` in ``[lo, hi)``."""
    if a.size and (a.min() < lo or a.max() >= hi):
        bad = int(a.min()) if a.min() < lo else int(a.max())
        raise ValueError(f"{name} has entry {bad} outside its allowed range [{lo}, {hi - 1}]")


def _check_program_header(obj, n_groups_name: str = "grp_mag") -> tuple[int, int]:
    """Validate ``shape``, ``integer``, ``grp_mag`` and ``max_col_abs_sum`` of a programmed weight (in place)."""
    set_ = object.__setattr__
    shape = obj.shape
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise TypeError(f"shape must be a tuple (K, out), got shape={shape!r}")
    k, out = check_int(shape[0], "shape[0]", 1), check_int(shape[1], "shape[1]", 1)
    set_(obj, "shape", (k, out))
    integer = check_bool(obj.integer, "integer")
    set_(obj, "integer", integer)
    mag = as_real_array(obj.grp_mag, "grp_mag", allow_empty=True)
    if mag.ndim != 1:
        raise ValueError(f"grp_mag must be 1-D, got shape={mag.shape}")
    if integer and mag.dtype.kind not in "iu":
        raise TypeError(f"grp_mag must be an integer array when integer=True, got dtype={mag.dtype}")
    mag = np.array(mag, dtype=np.int64 if integer else np.float64)
    if mag.size and not mag.min() > 0:
        raise ValueError(f"grp_mag must hold magnitudes > 0, got {mag.min()!r}")
    if integer and mag.size and int(mag.max()) > _INT64_BOUND:
        raise ValueError(f"grp_mag has a magnitude beyond 2**62: {int(mag.max())}")
    mag.flags.writeable = False
    set_(obj, "grp_mag", mag)
    colsum = obj.max_col_abs_sum
    if integer:
        colsum = check_int(colsum, "max_col_abs_sum", 0)
    else:
        colsum = check_real(colsum, "max_col_abs_sum", lo=0.0)
    set_(obj, "max_col_abs_sum", colsum)
    return k, out


def _check_colsum(obj, col_bound: np.ndarray) -> None:
    """``max_col_abs_sum`` must bound every column's sum of |weights| (it guards exact int64 accumulation)."""
    if obj.integer and col_bound.size and obj.max_col_abs_sum < float(col_bound.max()) * (1 - 2.0**-40):
        raise ValueError(
            f"max_col_abs_sum={obj.max_col_abs_sum} is smaller than the programmed weights' largest "
            f"column sum of |w| ({float(col_bound.max()):.17g}); it must bound it"
        )


def _column_groups(w: np.ndarray):
    """Per column: ascending distinct non-zero magnitudes with their plus / minus row indices."""
    wz = w + 0  # -0.0 -> 0.0 (no effect on integers)
    for j in range(w.shape[1]):
        col = wz[:, j]
        nz = np.flatnonzero(col)
        groups = []
        for u in np.unique(np.abs(col[nz])):
            groups.append((u, np.flatnonzero(col == u), np.flatnonzero(col == -u)))
        yield j, groups


@dataclasses.dataclass(frozen=True, eq=False)
class FactorizedWeights:
    r"""Weights programmed for the factorised (UCNN-style) kernel.

    Layout (compressed, per output column): the column's distinct non-zero
    magnitudes ``u`` in ascending order; for each, the rows with weight
    ``+u`` then the rows with weight ``-u``, both ascending. Built once by
    :func:`factorize`; :meth:`matmul` runs the Numba kernel.

    Every field is validated in ``__post_init__`` (and the index arrays stored as private read-only
    int64 copies), so :meth:`matmul` can never index out of bounds or overflow int64 silently.

    Attributes
    ----------
    shape : tuple[int, int]
        ``(K, out)`` of the weight, both >= 1.
    integer : bool
        Integer weights (exact int64 execution) or float64.
    max_col_abs_sum : int or float
        An upper bound (>= 0) on ``max_j sum_i |w_ij|``; for integer weights it must bound the
        programmed groups' column sums (it guards exact int64 accumulation).
    col_ptr : int64 ndarray (out + 1,)
        Groups of column ``j`` are ``col_ptr[j]:col_ptr[j+1]``; starts at 0, non-decreasing, ends at
        the number of groups.
    grp_mag : ndarray (n_groups,)
        Magnitude ``u > 0`` of each group (int64 when ``integer``, else float64).
    grp_ptr : int64 ndarray (n_groups + 1,)
        Rows of group ``g`` are ``idx[grp_ptr[g]:grp_ptr[g+1]]``; starts at 0, ends at ``idx.size``.
    grp_split : int64 ndarray (n_groups,)
        Plus rows before ``grp_split[g]``, minus rows after; in ``[grp_ptr[g], grp_ptr[g+1]]``.
    idx : int64 ndarray (nnz,)
        Row indices, each in ``[0, K)``.

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type, shape or range (named in the message).
    """

    shape: tuple[int, int]
    integer: bool
    max_col_abs_sum: int | float
    col_ptr: np.ndarray
    grp_mag: np.ndarray
    grp_ptr: np.ndarray
    grp_split: np.ndarray
    idx: np.ndarray

    def __post_init__(self) -> None:
        k, out = _check_program_header(self)
        set_ = object.__setattr__
        n_groups = self.grp_mag.size
        col_ptr = _index_array(self.col_ptr, "col_ptr", out + 1)
        _check_ptr(col_ptr, "col_ptr", n_groups, "the number of groups, grp_mag.size")
        idx = _index_array(self.idx, "idx")
        _check_in_range(idx, "idx", 0, k)
        grp_ptr = _index_array(self.grp_ptr, "grp_ptr", n_groups + 1)
        _check_ptr(grp_ptr, "grp_ptr", idx.size, "the number of rows, idx.size")
        split = _index_array(self.grp_split, "grp_split", n_groups)
        if np.any(split < grp_ptr[:-1]) or np.any(split > grp_ptr[1:]):
            raise ValueError("grp_split[g] must lie in [grp_ptr[g], grp_ptr[g+1]] for every group g")
        for name, v in (("col_ptr", col_ptr), ("idx", idx), ("grp_ptr", grp_ptr), ("grp_split", split)):
            set_(self, name, v)
        per_group = self.grp_mag.astype(np.float64) * np.diff(grp_ptr)
        _check_colsum(self, np.bincount(np.repeat(np.arange(out), np.diff(col_ptr)), weights=per_group, minlength=out))

    @property
    def nnz(self) -> int:
        """Number of non-zero weights programmed."""
        return int(self.idx.size)

    def op_counts(self, batch: int = 1) -> OpCounts:
        """Operation count of one :meth:`matmul` on ``batch`` rows (counting rule of :func:`factorized_matmul`).

        Parameters
        ----------
        batch : int
            Input rows, >= 1.

        Returns
        -------
        OpCounts
            Totals over ``batch * out`` outputs.

        Raises
        ------
        TypeError, ValueError
            ``batch`` not an int >= 1.
        """
        batch = check_int(batch, "batch", 1)
        k, out = self.shape
        col_of_group = np.repeat(np.arange(out), np.diff(self.col_ptr))
        nnz_col = np.bincount(col_of_group, weights=np.diff(self.grp_ptr), minlength=out).astype(np.int64)
        adds = int(np.maximum(nnz_col - 1, 0).sum())
        muls = int(self.grp_mag.size)
        return OpCounts(adds=adds * batch, muls=muls * batch, dense_macs=batch * k * out)

    def matmul(self, x) -> tuple[np.ndarray, OpCounts]:
        """``x @ w_q`` with the factorised kernel; see :func:`factorized_matmul`.

        Parameters
        ----------
        x : array_like
            Activations ``(batch, K)``, real, finite (integer for exact int64 arithmetic).

        Returns
        -------
        (y, OpCounts)
            ``y`` of shape ``(batch, out)`` (int64 or float64) and the operation count.

        Raises
        ------
        TypeError, ValueError
            ``x`` not a real 2-D array with ``K`` columns, non-finite, or integer products that
            could exceed 2**62 (named ``x``).
        """
        from ._kernels._threads import threads_for
        from ._kernels.repetition import factorized_kernel

        args = _prepare_factorized(self, x)
        with threads_for(args.xT.shape[1] * (self.idx.size + self.grp_mag.size), PARALLEL_MIN_OPS):
            factorized_kernel(*args)
        return np.ascontiguousarray(args.yT.T), self.op_counts(args.xT.shape[1])


def factorize(w_q) -> FactorizedWeights:
    """Program ``w_q`` (shape ``(K, out)``) for :meth:`FactorizedWeights.matmul` (done once per weight).

    Integer weights keep exact int64 magnitudes; float weights use float64.

    Parameters
    ----------
    w_q : array_like
        Quantized weight ``(K, out)``, real, finite, non-empty.

    Returns
    -------
    FactorizedWeights
        The programmed layout.

    Raises
    ------
    TypeError, ValueError
        ``w_q`` not a real 2-D array, empty, non-finite, or integer entries beyond 2**62.
    """
    w = _weights_2d(w_q)
    integer = w.dtype.kind in "iu"
    if integer and int(np.abs(w.astype(object)).max()) > _INT64_BOUND:
        raise ValueError("w_q has integer entries beyond 2**62 in magnitude")
    wd = w.astype(np.int64 if integer else np.float64)
    col_ptr = [0]
    mags, ptr, split, idx = [], [0], [], []
    for _, groups in _column_groups(wd):
        for u, plus, minus in groups:
            mags.append(u)
            split.append(ptr[-1] + plus.size)
            idx.append(plus)
            idx.append(minus)
            ptr.append(ptr[-1] + plus.size + minus.size)
        col_ptr.append(len(mags))
    return FactorizedWeights(
        shape=(int(w.shape[0]), int(w.shape[1])),
        integer=integer,
        max_col_abs_sum=_max_col_abs_sum(wd),
        col_ptr=np.asarray(col_ptr, dtype=np.int64),
        grp_mag=np.asarray(mags, dtype=wd.dtype),
        grp_ptr=np.asarray(ptr, dtype=np.int64),
        grp_split=np.asarray(split, dtype=np.int64),
        idx=np.concatenate(idx).astype(np.int64) if idx else np.zeros(0, np.int64),
    )


def factorized_matmul(x, w_q):
    r"""``x @ w_q`` computed UCNN-style (factorised dot products), with its operation count.

    Per output column ``j``, the non-zero weights are grouped by magnitude
    ``u``; each group's activations are added with their signs, multiplied
    once by ``u``, and the group products added (the factorised dot product of
    UCNN, Hegde et al., ISCA 2018):

    .. math:: y_{bj} = \sum_{u \in U_j} u \sum_{i:\,|w_{ij}| = u} \mathrm{sign}(w_{ij})\,x_{bi}

    Counting rule per output: ``nnz_j - 1`` ADD/SUB — ``n_g - 1`` inside each
    magnitude group ``g`` plus ``|U_j| - 1`` to add the group products (all
    effectual terms accumulated once; 0 for an all-zero column) — and
    ``|U_j|`` MUL, one per distinct non-zero *magnitude* (``+u`` and ``-u``
    share the multiply: the sign is folded into ADD/SUB), even when ``u = 1``.
    Dense baseline: ``K`` MACs per output. Binary, signed-binary and ternary
    weights with one scale per filter therefore cost exactly 1 MUL per output.

    Arithmetic: int64, exact, when ``x`` and ``w_q`` are both integer arrays
    (``ValueError`` if ``max|x| · max_j Σ_i |w_ij| > 2^62`` rather than wrap);
    float64 otherwise, in the fixed order of ``refquant._kernels.repetition``
    (plus rows ascending, minus rows ascending, groups by ascending ``u``),
    so ``|y - x @ w_q| <= (K+1)·eps·(|x| @ |w_q|)`` (standard summation bound).

    Parameters
    ----------
    x : array_like
        Activations ``(batch, K)``, real, finite.
    w_q : array_like
        Weight ``(K, out)``, real, finite (a quantized weight; any values work).

    Returns
    -------
    (y, OpCounts) with ``y`` of shape ``(batch, out)`` (int64 or float64) and
    counts summed over all ``batch * out`` outputs.

    Raises
    ------
    TypeError, ValueError
        ``x`` or ``w_q`` not real 2-D arrays of matching inner size, empty or non-finite; integer
        operands whose products could exceed 2**62.

    Examples
    --------
    The authors' example from the public review discussion, without partial-sum sharing:

    >>> w = np.array([[1, 0, 1, 0, 1, 0], [2, 2, 2, 0, 0, 0]]).T
    >>> y, ops = factorized_matmul(np.array([[1, 2, 3, 4, 5, 6]]), w)
    >>> y.tolist(), ops.adds, ops.muls, ops.dense_macs
    ([[9, 12]], 4, 2, 12)
    """
    w = _weights_2d(w_q)
    _activations(x, w.shape, w.dtype.kind in "iu", _max_col_abs_sum(w))
    return factorize(w).matmul(x)


@dataclasses.dataclass(frozen=True, eq=False)
class SharedSumProgram:
    r"""Weights programmed for partial-sum sharing (SumMerge-style), built by :func:`plan_shared_sums`.

    ``nodes[n] = (a, s_a, b, s_b)`` defines partial sum ``K + n`` as
    ``s_a·v[a] + s_b·v[b]`` (operands ``< K`` are activations, ``>= K``
    earlier partial sums). Group ``g`` (column ``j``, magnitude ``u``) sums
    its terms ``term_sign[p]·v[term[p]]`` for ``p`` in
    ``grp_ptr[g]:grp_ptr[g+1]``, is multiplied by ``u`` and added into ``y[j]``.

    Every field is validated in ``__post_init__`` (index arrays stored as private read-only int64
    copies), so :meth:`matmul` can never index out of bounds or overflow int64 silently.

    Attributes
    ----------
    shape : tuple[int, int]
        ``(K, out)``, both >= 1.
    tile : int
        Rows per reduction tile the plan was made with (>= 1).
    integer : bool
        Integer weights (exact int64 execution) or float64.
    max_col_abs_sum : int or float
        Upper bound (>= 0) on ``max_j sum_i |w_ij|``; for integer weights it must bound the program's
        column sums and every partial sum (it guards exact int64 accumulation).
    nodes : int64 ndarray (n_nodes, 4)
        ``(a, s_a, b, s_b)`` per partial sum: operands in ``[0, K + n)`` for node ``n``, signs +-1.
    col_ptr : int64 ndarray (out + 1,)
        Groups of column ``j`` are ``col_ptr[j]:col_ptr[j+1]`` (starts at 0, ends at the group count).
    grp_mag : ndarray (n_groups,)
        Magnitude ``u > 0`` per group (int64 when ``integer``, else float64).
    grp_ptr : int64 ndarray (n_groups + 1,)
        Terms of group ``g`` are ``grp_ptr[g]:grp_ptr[g+1]`` (starts at 0, ends at ``term.size``).
    term : int64 ndarray (n_terms,)
        Operand of each term, in ``[0, K + n_nodes)``.
    term_sign : int64 ndarray (n_terms,)
        Sign of each term, +-1.

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type, shape or range (named in the message).
    """

    shape: tuple[int, int]
    tile: int
    integer: bool
    max_col_abs_sum: int | float
    nodes: np.ndarray  # (n_nodes, 4) int64
    col_ptr: np.ndarray
    grp_mag: np.ndarray
    grp_ptr: np.ndarray
    term: np.ndarray
    term_sign: np.ndarray

    def __post_init__(self) -> None:
        k, out = _check_program_header(self)
        set_ = object.__setattr__
        set_(self, "tile", check_int(self.tile, "tile", 1))
        nodes = as_real_array(self.nodes, "nodes", allow_empty=True)
        if nodes.dtype.kind not in "iu":
            raise TypeError(f"nodes must be an integer array, got dtype={nodes.dtype}")
        if nodes.ndim != 2 or nodes.shape[1] != 4:
            raise ValueError(f"nodes must have shape (n_nodes, 4), got shape={nodes.shape}")
        nodes = np.array(nodes, dtype=np.int64)
        n_nodes = nodes.shape[0]
        limit = k + np.arange(n_nodes)  # node n may read activations and earlier nodes only
        for col, name in ((0, "nodes[:, 0]"), (2, "nodes[:, 2]")):
            if n_nodes and (np.any(nodes[:, col] < 0) or np.any(nodes[:, col] >= limit)):
                raise ValueError(
                    f"{name} (operands) must index an activation (< K={k}) or an earlier node (< K + n for node n)"
                )
        for col, name in ((1, "nodes[:, 1]"), (3, "nodes[:, 3]")):
            if n_nodes and not np.all(np.abs(nodes[:, col]) == 1):
                raise ValueError(f"{name} (signs) must be +1 or -1")
        nodes.flags.writeable = False
        set_(self, "nodes", nodes)
        n_groups = self.grp_mag.size
        col_ptr = _index_array(self.col_ptr, "col_ptr", out + 1)
        _check_ptr(col_ptr, "col_ptr", n_groups, "the number of groups, grp_mag.size")
        term = _index_array(self.term, "term")
        _check_in_range(term, "term", 0, k + n_nodes)
        sign = _index_array(self.term_sign, "term_sign", term.size)
        if not np.all(np.abs(sign) == 1):
            raise ValueError("term_sign must hold +1 or -1 only")
        grp_ptr = _index_array(self.grp_ptr, "grp_ptr", n_groups + 1)
        _check_ptr(grp_ptr, "grp_ptr", term.size, "the number of terms, term.size")
        for name, v in (("col_ptr", col_ptr), ("term", term), ("term_sign", sign), ("grp_ptr", grp_ptr)):
            set_(self, name, v)
        # |value| of every operand in units of max|x|: 1 for an activation, the sum of its operands' for a node
        weight = np.ones(k + n_nodes)
        for n in range(n_nodes):
            weight[k + n] = weight[nodes[n, 0]] + weight[nodes[n, 2]]
        per_group = (
            self.grp_mag.astype(np.float64) * np.add.reduceat(np.append(weight[term], 0.0), grp_ptr[:-1])
            if n_groups
            else np.zeros(0)
        )
        per_group[np.diff(grp_ptr) == 0] = 0.0  # reduceat of an empty range returns the next element
        col_bound = np.bincount(np.repeat(np.arange(out), np.diff(col_ptr)), weights=per_group, minlength=out)
        _check_colsum(self, np.append(col_bound, weight[k:].max(initial=0.0)))

    def op_counts(self, batch: int = 1) -> OpCounts:
        """Operation count of one :meth:`matmul` on ``batch`` rows.

        ADDs = partial sums + Σ_groups (terms − 1) + Σ_columns (groups − 1); MULs = groups; both × batch.

        Parameters
        ----------
        batch : int
            Input rows, >= 1.

        Returns
        -------
        OpCounts
            Totals over ``batch * out`` outputs.

        Raises
        ------
        TypeError, ValueError
            ``batch`` not an int >= 1.
        """
        batch = check_int(batch, "batch", 1)
        k, out = self.shape
        n_groups_col = np.diff(self.col_ptr)
        adds = self.nodes.shape[0] + int((np.diff(self.grp_ptr) - 1).sum()) + int(np.maximum(n_groups_col - 1, 0).sum())
        muls = int(self.grp_mag.size)
        return OpCounts(adds=adds * batch, muls=muls * batch, dense_macs=batch * k * out)

    def matmul(self, x) -> tuple[np.ndarray, OpCounts]:
        """``x @ w_q`` by executing the program; see :func:`shared_sum_matmul`.

        Parameters
        ----------
        x : array_like
            Activations ``(batch, K)``, real, finite (integer for exact int64 arithmetic).

        Returns
        -------
        (y, OpCounts)
            ``y`` of shape ``(batch, out)`` (int64 or float64) and the operation count.

        Raises
        ------
        TypeError, ValueError
            ``x`` not a real 2-D array with ``K`` columns, non-finite, or integer sums that could
            exceed 2**62 (named ``x``).
        """
        from ._kernels._threads import threads_for
        from ._kernels.repetition import shared_groups_kernel, shared_nodes_kernel

        nargs = _prepare_shared_nodes(self, x)
        with threads_for(
            nargs.xT.shape[1] * (self.nodes.shape[0] + self.term.size + self.grp_mag.size), PARALLEL_MIN_OPS
        ):
            shared_nodes_kernel(*nargs)
            gargs = _prepare_shared_groups(self, nargs.vals)
            shared_groups_kernel(*gargs)
        return np.ascontiguousarray(gargs.yT.T), self.op_counts(nargs.xT.shape[1])


class _FactorizedArgs(NamedTuple):
    """The exact arguments of ``factorized_kernel`` (same names, same order); ``yT`` allocated (zeros)."""

    xT: np.ndarray
    col_ptr: np.ndarray
    grp_mag: np.ndarray
    grp_ptr: np.ndarray
    grp_split: np.ndarray
    idx: np.ndarray
    yT: np.ndarray
    chunk: int


def _prepare_factorized(fw: FactorizedWeights, x) -> _FactorizedArgs:
    """Activations ``x`` (validated and typed against the programmed weights) -> the factorised kernel's arguments."""
    xd, dt = _activations(x, fw.shape, fw.integer, fw.max_col_abs_sum)
    yT = np.zeros((fw.shape[1], xd.shape[0]), dtype=dt)
    return _FactorizedArgs(
        np.ascontiguousarray(xd.T), fw.col_ptr, fw.grp_mag.astype(dt), fw.grp_ptr, fw.grp_split, fw.idx, yT, _CHUNK
    )


class _SharedNodesArgs(NamedTuple):
    """The exact arguments of ``shared_nodes_kernel`` (same names, same order); ``vals`` allocated."""

    xT: np.ndarray
    node_a: np.ndarray
    node_sa: np.ndarray
    node_b: np.ndarray
    node_sb: np.ndarray
    vals: np.ndarray


class _SharedGroupsArgs(NamedTuple):
    """The exact arguments of ``shared_groups_kernel`` (same names, same order); ``yT`` allocated (zeros)."""

    vals: np.ndarray
    col_ptr: np.ndarray
    grp_mag: np.ndarray
    grp_ptr: np.ndarray
    term: np.ndarray
    term_sign: np.ndarray
    yT: np.ndarray


def _prepare_shared_nodes(prog: SharedSumProgram, x) -> _SharedNodesArgs:
    """Activations ``x`` -> the node kernel's arguments (node columns as contiguous int64 arrays)."""
    xd, dt = _activations(x, prog.shape, prog.integer, prog.max_col_abs_sum)
    vals = np.empty((prog.shape[0] + prog.nodes.shape[0], xd.shape[0]), dtype=dt)
    nd = prog.nodes
    return _SharedNodesArgs(
        np.ascontiguousarray(xd.T), nd[:, 0].copy(), nd[:, 1].copy(), nd[:, 2].copy(), nd[:, 3].copy(), vals
    )


def _prepare_shared_groups(prog: SharedSumProgram, vals: np.ndarray) -> _SharedGroupsArgs:
    """The node values (output of the node kernel) -> the group kernel's arguments."""
    yT = np.zeros((prog.shape[1], vals.shape[1]), dtype=vals.dtype)
    return _SharedGroupsArgs(
        vals, prog.col_ptr, prog.grp_mag.astype(vals.dtype), prog.grp_ptr, prog.term, prog.term_sign, yT
    )


def _merge_tile(sets: list[dict], next_id: int, nodes: list) -> int:
    """Greedy pairwise common-subexpression extraction on signed term sets (in place).

    Each set maps operand -> sign (±1). A pair key is ``(p, q, s)`` with
    ``p < q`` and ``s = sign_p·sign_q``; it occurs in every set holding both
    ``p`` and ``q`` with that relative sign, where ``sign_p·p + sign_q·q =
    sign_p·(p + s·q)``. Repeatedly take the key occurring in the most sets
    (ties: smallest key), create node ``p + s·q`` (one ADD), and substitute
    it in every set where the key occurs. Stop when no key occurs twice.
    Returns the next free operand id.
    """
    counts: collections.Counter = collections.Counter()

    def pairs(st):
        items = sorted(st.items())
        for a in range(len(items)):
            p, sp = items[a]
            for b in range(a + 1, len(items)):
                q, sq = items[b]
                yield (p, q, sp * sq)

    for st in sets:
        counts.update(pairs(st))
    while counts:
        best_n = max(counts.values())
        if best_n < 2:
            break
        key = min(k for k, c in counts.items() if c == best_n)
        p, q, s = key
        node = next_id
        next_id += 1
        nodes.append((p, 1, q, s))
        for st in sets:
            if p in st and q in st and st[p] * st[q] == s:
                counts.subtract(pairs(st))
                sp = st.pop(p)
                del st[q]
                st[node] = sp
                counts.update(pairs(st))
        counts = +counts  # drop zero counts
    return next_id


def plan_shared_sums(w_q, *, tile: int = 8) -> SharedSumProgram:
    r"""Program ``w_q`` (shape ``(K, out)``) for partial-sum sharing across filters (done once per weight).

    SumMerge-style (Prabhakar et al., ICS 2021; the algorithm is *our
    documented reconstruction* from the SumMerge abstract and the paper's op counts: the
    paper's own merger is not public):

    1. Group each column's non-zero weights by magnitude ``u`` (as in
       :func:`factorized_matmul`); a group is a set of signed activation terms.
    2. Cut the reduction axis into tiles of ``tile`` consecutive rows. Inside
       each tile, run greedy pairwise common-subexpression extraction over all
       groups of all columns (``_merge_tile``): the pair of terms (with
       relative sign) shared by the most groups becomes a partial sum, computed
       once and reused; repeat while some pair is shared by two or more groups.
       Identical sub-patterns (cross-filter repetition, also up to sign)
       collapse to a single partial sum.
    3. Each group adds its remaining terms over all tiles, is multiplied once
       by ``u``, and the column adds its group products.

    Cost: one ADD per partial sum, ``terms − 1`` per group, ``groups − 1`` per
    column; one MUL per group. Every merge saves at least one ADD, so the
    count never exceeds :func:`factorized_matmul`'s and the MULs are equal.
    The greedy is deterministic (ties broken by the smallest operand pair).

    Parameters
    ----------
    w_q : array_like
        Weight ``(K, out)``, real, finite.
    tile : int
        Rows per reduction tile, >= 1 (default 8; ``tile >= K`` is one
        tile). Larger tiles find more sharing and plan more slowly.

    Returns
    -------
    SharedSumProgram
        The validated program.

    Raises
    ------
    TypeError, ValueError
        ``w_q`` not a real 2-D array, empty, non-finite, or integer entries beyond 2**62; ``tile`` not
        an int >= 1.
    """
    w = _weights_2d(w_q)
    k = w.shape[0]
    tile = check_int(tile, "tile", 1)
    integer = w.dtype.kind in "iu"
    if integer and int(np.abs(w.astype(object)).max()) > _INT64_BOUND:
        raise ValueError("w_q has integer entries beyond 2**62 in magnitude")
    wd = w.astype(np.int64 if integer else np.float64)
    group_mag: list = []
    group_col: list[int] = []
    group_rows: list[dict] = []  # row -> sign
    for j, groups in _column_groups(wd):
        for u, plus, minus in groups:
            group_mag.append(u)
            group_col.append(j)
            d = {int(i): 1 for i in plus}
            d.update({int(i): -1 for i in minus})
            group_rows.append(d)
    terms: list[list[tuple[int, int]]] = [[] for _ in group_mag]
    nodes: list[tuple[int, int, int, int]] = []
    next_id = k
    for t0 in range(0, k, tile):
        t1 = min(t0 + tile, k)
        gids = [g for g, d in enumerate(group_rows) if any(t0 <= i < t1 for i in d)]
        sets = [{i: s for i, s in group_rows[g].items() if t0 <= i < t1} for g in gids]
        next_id = _merge_tile(sets, next_id, nodes)
        for g, st in zip(gids, sets):
            terms[g].extend(sorted(st.items()))
    col_ptr = np.zeros(w.shape[1] + 1, dtype=np.int64)
    np.add.at(col_ptr, np.asarray(group_col, dtype=np.int64) + 1, 1)
    grp_ptr = np.concatenate([[0], np.cumsum([len(t) for t in terms], dtype=np.int64)]).astype(np.int64)
    flat = [op for t in terms for op in t]
    return SharedSumProgram(
        shape=(int(w.shape[0]), int(w.shape[1])),
        tile=tile,
        integer=integer,
        max_col_abs_sum=_max_col_abs_sum(wd),
        nodes=np.asarray(nodes, dtype=np.int64).reshape(-1, 4),
        col_ptr=np.cumsum(col_ptr),
        grp_mag=np.asarray(group_mag, dtype=wd.dtype),
        grp_ptr=grp_ptr,
        term=np.asarray([op for op, _ in flat], dtype=np.int64),
        term_sign=np.asarray([s for _, s in flat], dtype=np.int64),
    )


def shared_sum_matmul(x, w_q, *, tile: int = 8):
    r"""``x @ w_q`` with partial sums shared across filters (SumMerge-style), with its operation count.

    Plans with :func:`plan_shared_sums` (see there for the greedy and the
    counting rule) and executes the program. Exactness as in
    :func:`factorized_matmul`: int64 and exact for integer operands; float64
    otherwise, a reassociation of the dense sum with
    ``|y - x @ w_q| <= (K+1)·eps·(|x| @ |w_q|)``.

    Parameters
    ----------
    x : array_like
        Activations ``(batch, K)``, real, finite.
    w_q : array_like
        Weight ``(K, out)``, real, finite.
    tile : int
        Rows per reduction tile of the plan, >= 1 (default 8).

    Returns
    -------
    (y, OpCounts) with ``y`` of shape ``(batch, out)`` (int64 or float64).

    Raises
    ------
    TypeError, ValueError
        As :func:`factorized_matmul`, and ``tile`` not an int >= 1.

    Examples
    --------
    The authors' worked example from the public review discussion: ``PS0 = a + c``, ``out1 = (PS0 + e)·x``,
    ``out2 = (PS0 + b)·y`` — 3 ADDs and 2 MULs:

    >>> w = np.array([[1, 0, 1, 0, 1, 0], [2, 2, 2, 0, 0, 0]]).T
    >>> y, ops = shared_sum_matmul(np.array([[1, 2, 3, 4, 5, 6]]), w)
    >>> y.tolist(), ops.adds, ops.muls
    ([[9, 12]], 3, 2)
    """
    w = _weights_2d(w_q)
    _activations(x, w.shape, w.dtype.kind in "iu", _max_col_abs_sum(w))
    return plan_shared_sums(w, tile=tile).matmul(x)


#: Counting rules of :func:`count_ops`.
METHODS = ("dense", "zero_skip", "factorized", "shared_sum")


def count_ops(w_q, method: str, *, tile: int = 8, batch: int = 1) -> OpCounts:
    """Operation count of ``x @ w_q`` for ``batch`` input rows, without computing it.

    ``method``: ``"dense"`` (``K`` MACs per output, reported as ``K−1`` ADDs and
    ``K`` MULs), ``"zero_skip"`` (one MAC per non-zero weight: ``nnz−1`` ADDs,
    ``nnz`` MULs per output), ``"factorized"`` (:func:`factorized_matmul`) or
    ``"shared_sum"`` (:func:`shared_sum_matmul` with ``tile``). The paper's
    "op reduction" is reconstructed as ``dense_macs / (adds + muls)`` (the paper does not state its rule).

    Parameters
    ----------
    w_q : array_like
        Quantized weight ``(K, out)``, real, finite, non-empty.
    method : {"dense", "zero_skip", "factorized", "shared_sum"}
        Counting rule (above).
    tile : int
        Rows per reduction tile of ``"shared_sum"`` (>= 1, default 8).
    batch : int
        Input rows (>= 1, default 1).

    Returns
    -------
    OpCounts
        Totals over ``batch * out`` outputs.

    Raises
    ------
    TypeError
        ``w_q`` not a real numeric array; ``method`` not a str; ``tile``/``batch`` not ints.
    ValueError
        ``w_q`` not 2-D, empty or non-finite; unknown ``method``; ``tile``/``batch`` < 1 (``tile`` is
        validated for every method, though only ``"shared_sum"`` uses it).
    """
    w = _weights_2d(w_q)
    batch = check_int(batch, "batch", 1)
    check_choice(method, METHODS, "method")
    tile = check_int(tile, "tile", 1)  # validated in every mode, though only "shared_sum" uses it
    k, out = w.shape
    if method == "dense":
        return OpCounts(adds=(k - 1) * out * batch, muls=k * out * batch, dense_macs=k * out * batch)
    if method == "zero_skip":
        nnz = np.count_nonzero(w, axis=0)
        return OpCounts(
            adds=int(np.maximum(nnz - 1, 0).sum()) * batch, muls=int(nnz.sum()) * batch, dense_macs=k * out * batch
        )
    if method == "factorized":
        return factorize(w).op_counts(batch)
    return plan_shared_sums(w, tile=tile).op_counts(batch)
