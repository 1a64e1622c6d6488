r"""Kurtosis statistics, the KURE regulariser and its closed-form gradient.

Shkolnik et al., "Robust Quantization: One Model to Rule Them All" (NeurIPS
2020), eqs. 13–15, and its released training code (``RobustQuantization``,
``KurtosisWeight`` in ``image_classifier.py``). Theory page: ``docs/theory/kure.md``
(the gradient is derived there).

Kurtosis (paper eq. 13, Pearson, non-excess):

.. math:: \mathrm{Kurt}[W] = E\Big[\Big(\frac{W - \mu}{\sigma}\Big)^4\Big] = \frac{m_4}{m_2^2},
          \qquad m_k = \frac1N \sum_j (w_j - \mu)^k

(uniform 1.8, Gaussian 3, Laplace 6; always >= 1). Computed **two-pass**
(mean first, then central sums of ``(x - mean)^k``) with float64
accumulation for any input dtype, by a Numba kernel (``prange`` over channel
segments; NumPy twin ``refquant._reference.kurtosis``). The two-pass form is
stable for large tensors with a large mean; ``bias=False`` gives the usual
bias-corrected estimator (as ``scipy.stats.kurtosis(..., fisher=False, bias=False)``):
:math:`[(N^2-1)K - 3(N-1)^2]/((N-2)(N-3)) + 3`.

``axis`` is the **channel axis**, as everywhere in refquant (``QuantSpec.axis``,
``bias_correct(axis=)``): ``kurtosis(w, axis=0)`` returns one value per
output channel ``w[c]``, over all other axes. (``scipy.stats.kurtosis``'s
``axis`` is the axis *reduced over*; for a 2-D array our ``axis=0`` is
scipy's ``axis=1``.)

KURE (paper eqs. 14–15):

.. math:: L_K = \frac1L \sum_{i=1}^{L} (\mathrm{Kurt}[W_i] - K_T)^2, \qquad
          \frac{\partial \mathrm{Kurt}}{\partial w_j} = \frac{4}{N\sigma}(z_j^3 - K z_j - S),
          \qquad \frac{\partial L_K}{\partial W_i} = \frac2L (K_i - K_T)\frac{\partial K_i}{\partial W_i}

with :math:`z = (w - \mu)/\sigma` (biased :math:`\sigma`), :math:`S =
\mathrm{mean}(z^3)` (derived in ``docs/theory/kure.md``, section "Kurtosis, the KURE
loss and its gradient"; checked against finite differences). Each
:math:`W_i` is a whole layer tensor (not per channel), as in the paper. The
released code uses PyTorch's *unbiased* std, which multiplies K (and its
gradient) by :math:`((N-1)/N)^2`: ``ddof=1`` reproduces that; ``ddof=0``
(default) is the paper's definition. :func:`kurtosis` takes the same ``ddof``.

Layer reduction (``reduction=``, ``n_layers=``) of :func:`kure_loss` /
:func:`kure_grad`, with :math:`\ell_i = (K_i - K_T)^2`:

* ``"mean"`` (default): :math:`\frac1n\sum_i \ell_i` with ``n = n_layers``
  (default ``L``, the paper's eq. 14). The released training script's
  ``--kurtosis-mode avg`` sums the per-layer terms and divides by a
  hard-coded per-architecture count (19 for resnet18, 51 for mobilenet_v2,
  52 for resnet50; any other architecture is not divided at all, i.e. gets
  ``"sum"``): pass that count as ``n_layers``.
* ``"sum"``: :math:`\sum_i \ell_i` (``--kurtosis-mode sum``).
* ``"max"``: :math:`\max_i \ell_i` (``--kurtosis-mode max``, a Python
  ``max`` over the per-layer terms). Its gradient is the gradient of the
  **first** (lowest-index) layer attaining the maximum and zero for every
  other layer -- the subgradient Python's ``max(a, b)`` (which keeps ``a``
  unless ``b > a``) passes to autograd at a tie.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._validate import (
    as_real_array,
    channel_rows,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_sequence,
    pow2_normalize,
)

__all__ = ["kurtosis", "skewness_kurtosis", "kurtosis_grad", "kure_loss", "kure_grad", "kurtosis_shaping", "REDUCTIONS"]

#: Layer reductions of :func:`kure_loss` / :func:`kure_grad` (module docstring).
REDUCTIONS = ("mean", "sum", "max")


def _as_float(x, name: str, allow_nonfinite: bool = False) -> np.ndarray:
    a = as_real_array(x, name, allow_nonfinite=allow_nonfinite)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def _nonfinite_error(a: np.ndarray, name: str) -> ValueError:
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        return ValueError(f"{name} contains {bad} NaN/inf value(s); only finite values are allowed")
    return ValueError(
        f"{name}: its fourth central moment overflows float64 (values too large); rescale the tensor first"
    )


def _split_rows_of(c: int, n: int) -> int:
    """Rows R per channel of :func:`_split_rows` for C channels of n elements (1: no split)."""
    if c >= 16 or n < 8192:  # n < 2 * 4096: no split gives rows of >= 4096 elements
        return 1
    for r in (64, 32, 16, 8, 4, 2):
        if n % r == 0 and n // r >= 4096:
            return r
    return 1


def _split_rows(v: np.ndarray) -> tuple[np.ndarray, int]:
    """Reshape (C, n) into (C*R, n/R) with R | n so that small channel counts still use every core."""
    c, n = v.shape
    r = _split_rows_of(c, n)
    return (v, 1) if r == 1 else (v.reshape(c * r, n // r), r)


_EPS = float(np.finfo(np.float64).eps)

#: Elements below which the moment kernels run on one Numba thread (``threads_for``). Measured with
#: ``python3 -m benchmarks kurtosis`` (threshold table: one channel, one thread vs every thread): one thread
#: takes ~4 ms at 2^20 elements and ~0.2 ms at 2^16, while waking a second thread cost 10-40 ms per call on
#: this 2-core machine under a load average of 11 (where it did not pay even at 2^22) and ~0.05 ms on an
#: idle one. Below 2^20 a second thread can save at most ~2 ms, so the small calls never risk the wake-up.
PARALLEL_MIN_ELEMENTS = 1 << 20


class _RowsArgs(NamedTuple):
    """The exact arguments of ``row_sums`` and ``fused_row_moments`` (``out``: (rows,) resp. (rows, 4), allocated)."""

    v: np.ndarray
    out: np.ndarray


class _CentralSumsArgs(NamedTuple):
    """The exact arguments of ``row_central_sums`` (``mu``: each row's channel mean; ``out`` (rows, 3) allocated)."""

    v: np.ndarray
    mu: np.ndarray
    out: np.ndarray


def _prepare_moment_rows(rows_in: np.ndarray) -> tuple[np.ndarray, int]:
    """Channel rows (C, n) -> ``(rows, r)``: C-contiguous float32/float64 rows (the moment kernels' ``v``), each
    channel split into ``r`` consecutive rows when the channel count is small (:func:`_split_rows`)."""
    rows = np.ascontiguousarray(rows_in)
    if not rows.flags.writeable:  # a read-only array is another Numba type (one more compiled signature)
        rows = rows.copy()
    return _split_rows(rows)


def _prepare_fused_row_moments(rows: np.ndarray) -> _RowsArgs:
    """Arguments of ``fused_row_moments`` (used when every row is a whole channel)."""
    return _RowsArgs(rows, np.empty((rows.shape[0], 4), dtype=np.float64))


def _prepare_row_sums(rows: np.ndarray) -> _RowsArgs:
    """Arguments of ``row_sums`` (pass 1 of split channels)."""
    return _RowsArgs(rows, np.empty(rows.shape[0], dtype=np.float64))


def _prepare_row_central_sums(rows: np.ndarray, r: int, sums: np.ndarray, n: int):
    """Pass 2 of split channels: the channel means ``mu`` from pass 1's row sums (``r`` rows per channel, summed
    in order by NumPy), and ``(mu, the arguments of row_central_sums)`` with ``mu`` repeated per row."""
    mu = sums.reshape(-1, r).sum(axis=1) / n
    return mu, _CentralSumsArgs(rows, np.repeat(mu, r), np.empty((rows.shape[0], 3), dtype=np.float64))


def _central_moments(x, axis, name: str = "x"):
    """Per-channel (n, mu, m2, m3, m4) in float64, by the two-pass Numba kernel (unscaled units).

    For data whose moments over- or underflow float64 the unscaled values may
    be inf or 0; the statistics use :func:`_unit_moments` instead.
    """
    n, mu, m2, m3, m4, e = _unit_moments(x, axis, name)
    return n, np.ldexp(mu, e), np.ldexp(m2, 2 * e), np.ldexp(m3, 3 * e), np.ldexp(m4, 4 * e)


def _kernel_moments(rows_in: np.ndarray):
    """(n, mu, m2, m3, m4) of every row of a 2-D array (kernel call; no checks; one Numba thread below
    ``PARALLEL_MIN_ELEMENTS``)."""
    from ._kernels._threads import threads_for

    with threads_for(rows_in.size, PARALLEL_MIN_ELEMENTS):
        return _kernel_moments_call(rows_in)


_MOMENT_KERNELS = []  # the kernel module, imported on first use (``import refquant`` does not import Numba)


def _moment_kernels():
    if not _MOMENT_KERNELS:
        from ._kernels import kurtosis as kernels

        _MOMENT_KERNELS.append(kernels)
    return _MOMENT_KERNELS[0]


def _kernel_moments_call(rows_in: np.ndarray):
    kernels = _moment_kernels()
    c, n = rows_in.shape
    rows, r = _prepare_moment_rows(rows_in)
    if r == 1:  # every row is a whole channel: both passes per row while it is in cache
        args = _prepare_fused_row_moments(rows)
        kernels.fused_row_moments(*args)
        m = args.out / n  # one division for the four columns (the same quotients element by element)
        return m[:, 0], m[:, 1], m[:, 2], m[:, 3]
    args = _prepare_row_sums(rows)
    kernels.row_sums(*args)
    mu, cargs = _prepare_row_central_sums(rows, r, args.out, n)
    kernels.row_central_sums(*cargs)
    m = cargs.out.reshape(c, r, 3).sum(axis=1) / n
    return mu, m[:, 0], m[:, 1], m[:, 2]


#: Below this second moment (2**-300) the fourth-power sums may have lost precision to
#: underflow: the channel is recomputed on data rescaled by an exact power of two.
_M2_SAFE = 2.0**-300


def _unit_moments(x, axis, name: str = "x"):
    """Per-channel ``(n, mu, m2, m3, m4, e)``: the central moments of ``x_c * 2**-e_c``.

    The kernel runs on the data as given; a channel whose sums overflow (|x|
    near 1e77 and above: ``x**4`` exceeds float64) or underflow (m2 below
    2**-300) is recomputed once on the channel rescaled by the exact power of
    two ``2**-e_c`` that brings its max |x| into [0.5, 1). ``e_c = 0`` for
    every ordinary channel, so ordinary data costs no extra pass. Moment
    ratios (skewness, kurtosis) are invariant under this rescaling.
    """
    a = _as_float(x, name, allow_nonfinite=True)  # NaN/inf are detected from the sums: no extra pass over x
    v = channel_rows(a, axis, name)
    c, n = v.shape
    if n < 2:
        raise ValueError(
            f"{name} needs at least 2 elements per channel for a kurtosis, got {n} (shape {a.shape}, axis={axis})"
        )
    e = np.zeros(c, dtype=np.int64)
    if c == 1 and _split_rows_of(1, n) == 1:
        # one whole channel (small-call path): the fused kernel's four sums divided by n as Python floats
        # (the same IEEE quotients as NumPy's, and Python float division raises no underflow warning)
        from ._kernels._threads import threads_for

        args = _prepare_fused_row_moments(_prepare_moment_rows(v)[0])
        with threads_for(n, PARALLEL_MIN_ELEMENTS):
            _moment_kernels().fused_row_moments(*args)
        s0, s2, s3, s4 = args.out[0].tolist()
        m = np.array((s0 / n, s2 / n, s3 / n, s4 / n))
        mu, m2, m3, m4 = m[0:1], m[1:2], m[2:3], m[3:4]
        u, v2 = m.item(0), m.item(1)
        if math.isfinite(u + v2 + m.item(2) + m.item(3)) and (v2 >= _M2_SAFE or v2 == 0 and u == 0):
            return n, mu, m2, m3, m4, e
    else:
        with np.errstate(all="ignore"):  # the sums / n may underflow (tiny data: recomputed rescaled below)
            mu, m2, m3, m4 = _kernel_moments(v)
    if c == 1:  # one (split) channel: its four moments checked as Python floats (small-call overhead)
        u, v2 = float(mu[0]), float(m2[0])
        if math.isfinite(u + v2 + float(m3[0]) + float(m4[0])) and (v2 >= _M2_SAFE or v2 == 0 and u == 0):
            return n, mu, m2, m3, m4, e
    ok = (
        np.isfinite(mu)
        & np.isfinite(m2)
        & np.isfinite(m3)
        & np.isfinite(m4)
        & ((m2 >= _M2_SAFE) | (m2 == 0) & (mu == 0))
    )
    if not np.all(ok):
        bad = np.flatnonzero(~ok)
        sub = np.asarray(v[bad], dtype=np.float64)
        if not np.all(np.isfinite(sub)):
            raise _nonfinite_error(a, name)
        mx = np.abs(sub).max(axis=1)
        eb = np.where(mx > 0, np.frexp(mx)[1], 0).astype(np.int64)
        with np.errstate(all="ignore"):
            r = _kernel_moments(np.ldexp(sub, -eb[:, None]))
        mu, m2, m3, m4 = (np.array(q, dtype=np.float64) for q in (mu, m2, m3, m4))
        for q, rq_ in zip((mu, m2, m3, m4), r):
            q[bad] = rq_
        e[bad] = eb
    return n, mu, m2, m3, m4, e


def _check_spread(m2: np.ndarray, mu: np.ndarray, name: str) -> None:
    # a channel is constant when its spread is zero, or only rounding noise of its mean
    if m2.size == 1:  # the same test on Python floats (small-call overhead)
        v, u = float(m2[0]), float(mu[0])
        if v == 0 or v <= (8 * _EPS * abs(u)) ** 2:
            raise ValueError(f"{name} has a constant channel (index 0, sigma = 0): kurtosis is undefined")
        return
    tiny = (m2 <= (8 * np.finfo(np.float64).eps * np.abs(mu)) ** 2) | (m2 == 0)
    if np.any(tiny):
        ch = int(np.flatnonzero(tiny)[0])
        raise ValueError(f"{name} has a constant channel (index {ch}, sigma = 0): kurtosis is undefined")


def skewness_kurtosis(x, axis: int | None = None):
    r"""``(skewness, kurtosis)`` (biased, Pearson) per tensor or per channel; see :func:`kurtosis`.

    .. math:: S = m_3 / m_2^{3/2}, \qquad K = m_4 / m_2^2

    Scale-invariant (computed on each channel rescaled by an exact power of two where its
    moments would over- or underflow).

    Parameters
    ----------
    x : array_like
        Real, finite data; float32 is accumulated in float64.
    axis : int or None
        The channel axis (as :func:`kurtosis`), or None for the whole tensor.

    Returns
    -------
    (skewness, kurtosis) : float64 ndarrays, shape ``()`` or ``(C,)``.

    Raises
    ------
    TypeError
        ``x`` is not a real numeric array; ``axis`` not an int or None.
    ValueError
        As :func:`kurtosis` with ``bias=True``: fewer than 2 elements per channel, a constant
        channel, NaN/inf, empty input, ``axis`` out of range.

    Examples
    --------
    >>> [float(v) for v in skewness_kurtosis([0.0, 0.0, 0.0, 4.0])]
    [1.1547005383792515, 2.3333333333333335]
    """
    n, mu, m2, m3, m4, _ = _unit_moments(x, axis)
    _check_spread(m2, mu, "x")
    sk, ku = m3 / m2**1.5, m4 / m2**2
    return (sk.reshape(()), ku.reshape(())) if axis is None else (sk, ku)


def kurtosis(x, axis: int | None = None, *, bias: bool = True, ddof: int = 0):
    r"""Pearson (non-excess) kurtosis :math:`m_4/m_2^2`, per tensor or per channel (module docstring).

    .. math:: K = \frac{\frac1N\sum_j (x_j - \mu)^4}{\big(\frac{1}{N - d}\sum_j (x_j - \mu)^2\big)^2}
              = \frac{m_4}{m_2^2}\Big(\frac{N - d}{N}\Big)^2, \qquad d = \texttt{ddof}

    (paper eq. 13 of Shkolnik et al. for ``ddof=0``).

    Parameters
    ----------
    x : array_like
        Real, finite data; float32 is accumulated in float64.
    axis : int or None
        Channel axis (one value per ``x`` index along it, statistics over all
        other axes), or None for the whole tensor.
    bias : bool
        True: the population-moment estimator (the paper's, KURE's,
        ``scipy.stats.kurtosis(fisher=False, bias=True)``). False: the
        bias-corrected estimator (needs >= 4 elements per channel).
    ddof : {0, 1}
        Delta degrees of freedom of the second moment (the variance in the
        denominator): 0 divides by ``N`` (the paper's definition), 1 by
        ``N - 1`` -- the KURE code's ``torch.mean(((w - w.mean()) / w.std())**4)``,
        whose ``std()`` is PyTorch's unbiased one. The fourth moment always
        divides by ``N``. ``ddof=1`` needs ``bias=True`` (the bias-corrected
        estimator has its own normalisation).

    Returns
    -------
    float64 ndarray, shape ``()`` or ``(C,)``.

    Raises
    ------
    TypeError
        ``x`` not a real numeric array (complex, bool, object, str); ``axis`` not an
        int or None; ``bias`` not a bool; ``ddof`` not an int.
    ValueError
        Fewer than 2 elements per channel (4 with ``bias=False``), a constant
        channel (sigma = 0), NaN/inf, empty input, ``axis`` out of range,
        ``ddof`` not 0 or 1, ``ddof=1`` with ``bias=False``.

    Notes
    -----
    Scale-invariant for every finite input: a channel whose moments would
    over- or underflow float64 (``max|x|`` above about 1e77 or below about 1e-75)
    is computed on the channel multiplied by an exact power of two.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, eq. 13.

    Examples
    --------
    >>> float(kurtosis([-1.0, 1.0, -1.0, 1.0]))   # Rademacher: the minimum possible
    1.0
    >>> float(kurtosis([-1.0, 1.0, -1.0, 1.0], ddof=1))   # the KURE code's value: (3/4)^2
    0.5625
    >>> kurtosis([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 4.0]], axis=0).tolist()
    [1.0, 2.3333333333333335]
    """
    if bias is not True:  # the common call is checked by identity (small-call overhead); the rest fully
        bias = check_bool(bias, "bias")
    if not (ddof.__class__ is int and 0 <= ddof <= 1):
        ddof = check_int(ddof, "ddof", 0, 1)
    if ddof and not bias:
        raise ValueError("ddof=1 with bias=False: ddof applies to the population-moment estimator (bias=True) only")
    n, mu, m2, m3, m4, _ = _unit_moments(x, axis)
    _check_spread(m2, mu, "x")
    if not bias and n < 4:
        raise ValueError(f"bias=False needs at least 4 elements per channel, got {n}")
    if m2.size == 1:  # one channel: the same IEEE operations on Python floats (small-call overhead)
        v2 = float(m2[0])
        k = float(m4[0]) / (v2 * v2)
    else:
        k = m4 / (m2 * m2)
    if ddof:
        k = k * ((n - 1.0) / n) ** 2
    if not bias:
        k = ((n * n - 1.0) * k - 3.0 * (n - 1.0) ** 2) / ((n - 2.0) * (n - 3.0)) + 3.0
    if m2.size == 1:
        return np.array(k) if axis is None else np.array([k])
    return k


def kurtosis_grad(w, *, ddof: int = 0) -> np.ndarray:
    r"""Gradient of the whole-tensor kurtosis with respect to every element (float64, shape of ``w``).

    .. math:: \frac{\partial K}{\partial w_j} = \frac{4}{N\sigma}(z_j^3 - K z_j - S),
              \qquad z = (w - \mu)/\sigma,\ S = \mathrm{mean}(z^3)

    (biased :math:`\sigma`; the derivative of eq. 13 of Shkolnik et al., NeurIPS 2020; the
    derivation is in ``docs/theory/kure.md``). It sums to 0 (shift invariance) and is orthogonal
    to ``w`` (scale invariance). Computed on ``w`` rescaled by an exact power of two, then
    rescaled back exactly.

    Parameters
    ----------
    w : array_like
        Real, finite, >= 2 elements, not constant (one whole tensor).
    ddof : {0, 1}
        1: the gradient of the released code's kurtosis (unbiased std),
        :math:`((N-1)/N)^2` times the ``ddof=0`` gradient.

    Returns
    -------
    float64 ndarray of ``w``'s shape.

    Raises
    ------
    TypeError
        ``w`` not a real numeric array; ``ddof`` not an int.
    ValueError
        ``ddof`` not 0 or 1; fewer than 2 elements; a constant ``w``; NaN/inf; a gradient
        beyond float64 (``w`` of subnormal magnitude).
    """
    ddof = check_int(ddof, "ddof", 0, 1)
    return _kurtosis_and_grad(_as_float(w, "w", allow_nonfinite=True), "w", ddof)[1]  # NaN/inf: checked there


def _times_pow2(a: np.ndarray, k: int) -> np.ndarray:
    """``a * 2**k`` as a new float64 array, rounded once: a multiplication by the float ``2.0**k`` where that is
    a normal number (the correctly rounded product is ``np.ldexp(a, k)`` bit for bit, ~10x faster), else
    ``np.ldexp``."""
    if -1022 <= k <= 1023:
        return np.multiply(a, 2.0**k, dtype=np.float64)
    return np.ldexp(np.asarray(a, dtype=np.float64), k)


def _kurtosis_and_grad(w: np.ndarray, name: str, ddof: int) -> tuple[float, np.ndarray]:
    """(Kurt, dKurt/dw) of a finite float tensor from one moment pass (``ddof=1``: both times ((N-1)/N)^2).

    The moments are taken on ``w`` rescaled by the exact power of two ``2**-e`` that brings ``max|w|`` into
    ``[0.5, 1)`` (the kurtosis is unchanged, the gradient scales as ``2**e`` and is rescaled back exactly).
    The element-wise steps run in place on one new array (the same IEEE operations in the same order as
    ``4 / (N sigma) * (z*z*z - K*z - S)``).
    """
    hi, lo = (float(w.max()), float(w.min())) if w.size else (0.0, 0.0)
    if not (math.isfinite(hi) and math.isfinite(lo)):  # NaN propagates through max/min: the finiteness check
        raise _nonfinite_error(w, name)
    m = max(hi, -lo)  # max|w| without an abs temporary
    e = math.frexp(m)[1] if m > 0 else 0
    a = np.asarray(w, dtype=np.float64) if e == 0 else _times_pow2(w, -e)
    n, mu, m2, m3, m4, _ = _unit_moments(a, None, name)
    _check_spread(m2, mu, name)
    v2 = float(m2[0])
    sigma = float(np.sqrt(m2[0]))
    k = float(m4[0]) / (v2 * v2)
    s = float(m3[0] / m2[0] ** 1.5)
    # z = (a - mu) / sigma: in place when a is this call's own array (not the caller's w)
    z = np.subtract(a, float(mu[0]), out=a) if a is not w else np.subtract(a, float(mu[0]), dtype=np.float64)
    z /= sigma
    g = z * z
    g *= z  # z*z*z
    z *= k
    g -= z  # - K z
    g -= s  # - S
    g *= 4.0 / (n * sigma)
    if ddof:
        f = ((n - 1) / n) ** 2
        k *= f
        g *= f
    if e:  # back to w's units: times 2**-e (exact; only e < 0, data of tiny magnitude, can overflow)
        with np.errstate(over="ignore"):
            if -1022 <= -e <= 1023:
                g *= 2.0**-e
            else:
                g = np.ldexp(g, -e)
    # before the rescaling g is finite: |z| <= sqrt(N), K <= N, |S| <= sqrt(N), and sigma >= min(2**-51, 0.25 / sqrt(N))
    # (max|a| >= 0.5 and the spread check), so |g| <= 12 sqrt(N) / sigma
    if e < 0 and not (math.isfinite(g.max()) and math.isfinite(g.min())):
        raise ValueError(
            f"{name}: the gradient (which scales as 1/|w|) overflows float64 for max|{name}| = "
            f"{float(np.ldexp(1.0, e - 1)):.3g}; rescale {name}"
        )
    return k, g


def _layers(weights) -> list[np.ndarray]:
    if isinstance(weights, np.ndarray):
        raise TypeError(
            "weights must be a list or tuple of arrays (one per layer), got numpy.ndarray; for a single tensor pass [w]"
        )
    items = check_sequence(weights, "weights")
    if len(items) == 0:
        raise ValueError("weights is an empty list of layers; KURE averages over at least one layer")
    # NaN/inf are detected by each layer's moment pass (same message as the up-front check): no extra pass
    return [_as_float(w, f"weights[{i}]", allow_nonfinite=True) for i, w in enumerate(items)]


def _layer_kurtosis(w: np.ndarray, i: int, ddof: int) -> float:
    n, mu, m2, m3, m4, _ = _unit_moments(w, None, f"weights[{i}]")
    _check_spread(m2, mu, f"weights[{i}]")
    k = float(m4[0] / m2[0] ** 2)
    return k * ((n - 1) / n) ** 2 if ddof else k


def _reduction(reduction, n_layers, big_l: int) -> tuple[str, float]:
    """Validated (reduction, divisor) for the layer reduction; divisor is 1 except for "mean"."""
    reduction = check_choice(reduction, REDUCTIONS, "reduction")
    if n_layers is None:
        return reduction, float(big_l) if reduction == "mean" else 1.0
    n = check_int(n_layers, "n_layers", 1)
    if reduction != "mean":
        raise ValueError(f"n_layers={n} applies only to reduction='mean' (got reduction={reduction!r})")
    return reduction, float(n)


def kure_loss(
    weights, target: float = 1.8, *, ddof: int = 0, reduction: str = "mean", n_layers: int | None = None
) -> float:
    r"""KURE regulariser :math:`L_K = \frac1n\sum_{i=1}^L(\mathrm{Kurt}[W_i] - K_T)^2` (paper eqs. 14–15), float64.

    With ``reduction="sum"``: :math:`\sum_i (\mathrm{Kurt}[W_i] - K_T)^2`; with
    ``reduction="max"``: :math:`\max_i (\mathrm{Kurt}[W_i] - K_T)^2` (the
    released training script's ``--kurtosis-mode`` choices; module docstring).

    Parameters
    ----------
    weights : list or tuple of array_like
        One whole weight tensor per layer (any shape, >= 2 elements, not
        constant, finite). ``L = len(weights)``.
    target : float >= 1
        :math:`K_T` (the paper uses 1.8, the uniform's kurtosis).
    ddof : {0, 1}
        0: the paper's biased :math:`\sigma`; 1: the released code's unbiased
        std, which scales every :math:`\mathrm{Kurt}[W_i]` by :math:`((N_i-1)/N_i)^2`.
    reduction : {"mean", "sum", "max"}
        How the per-layer terms are combined (module docstring).
    n_layers : int >= 1, optional
        Divisor ``n`` of ``reduction="mean"``; default ``L`` (the paper's
        eq. 14). The released code's ``avg`` divides by a hard-coded count
        (19 / 51 / 52 for resnet18 / mobilenet_v2 / resnet50). Only allowed
        with ``reduction="mean"``.

    Returns
    -------
    float
        The regulariser; the training loss is ``task + lambda * kure_loss`` (lambda = 1 in the paper).

    Raises
    ------
    TypeError
        ``weights`` not a list/tuple (a bare ndarray is refused: pass ``[w]``); a layer not a
        real numeric array; ``target``, ``ddof`` or ``n_layers`` of the wrong type; ``reduction``
        not a str.
    ValueError
        No layers; a layer with fewer than 2 elements, constant, or holding NaN/inf;
        ``target < 1``; ``ddof`` not 0 or 1; unknown ``reduction``; ``n_layers < 1`` or given
        with another reduction. Scale-invariant: each layer's kurtosis is computed as in
        :func:`kurtosis`, with exact power-of-two rescaling where needed.

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, eqs. 13–15.

    Examples
    --------
    >>> kure_loss([[-1.0, 1.0, -1.0, 1.0], [0.0, 0.0, 0.0, 4.0]])   # ((1 - 1.8)^2 + (7/3 - 1.8)^2) / 2
    0.4622222222222223
    >>> kure_loss([[-1.0, 1.0, -1.0, 1.0], [0.0, 0.0, 0.0, 4.0]], reduction="max")   # (1 - 1.8)^2
    0.6400000000000001
    """
    layers = _layers(weights)
    kt = check_real(target, "target", lo=1.0)
    ddof = check_int(ddof, "ddof", 0, 1)
    reduction, div = _reduction(reduction, n_layers, len(layers))
    terms = np.array([(_layer_kurtosis(w, i, ddof) - kt) ** 2 for i, w in enumerate(layers)])
    return float(terms.max()) if reduction == "max" else float(terms.sum() / div)


def kure_grad(
    weights, target: float = 1.8, *, ddof: int = 0, reduction: str = "mean", n_layers: int | None = None
) -> list[np.ndarray]:
    r"""Closed-form gradient of :func:`kure_loss` with respect to every weight of every layer.

    .. math:: \frac{\partial L_K}{\partial W_i} = \frac2n(K_i - K_T)\,\frac{\partial K_i}{\partial W_i},
              \qquad \frac{\partial K}{\partial w_j} = \frac{4}{N\sigma}(z_j^3 - K z_j - S)

    (:func:`kurtosis_grad`; derived in ``docs/theory/kure.md`` and checked against
    finite differences): the golden values an autograd implementation of the
    loss must reproduce. Each layer's gradient sums to 0 and is orthogonal to
    the layer's weights (shift and scale invariance of the kurtosis).
    ``reduction="sum"`` uses ``n = 1``; ``reduction="max"`` gives
    :math:`2(K_i - K_T)\,\partial K_i/\partial W_i` for the first layer
    ``i`` attaining the largest term and zeros for every other layer (the
    subgradient a Python ``max`` hands to autograd; module docstring).

    Parameters
    ----------
    weights : list or tuple of array_like
        One whole weight tensor per layer (any shape, >= 2 elements, not constant, finite).
    target : float
        :math:`K_T`, >= 1 (the paper uses 1.8).
    ddof : {0, 1}
        0: the paper's biased :math:`\sigma`; 1: the released code's unbiased std.
    reduction : {"mean", "sum", "max"}
        How the per-layer terms are combined (module docstring).
    n_layers : int, optional
        Divisor of ``reduction="mean"`` (>= 1; default the number of layers), as :func:`kure_loss`.

    Returns
    -------
    list of float64 ndarray
        One array per layer, with that layer's shape (float64 whatever the input dtype).

    Raises
    ------
    TypeError, ValueError
        As :func:`kure_loss`; also a ``ValueError`` when a gradient (which scales as
        ``1/|w|``) exceeds float64 (layers of subnormal magnitude).

    References
    ----------
    Shkolnik et al., "Robust Quantization: One Model to Rule Them All", NeurIPS 2020, eqs. 13–15.

    Examples
    --------
    >>> # one outlier: the largest kurtosis N - 2 + 1/(N - 1), a stationary point (zero up to rounding)
    >>> bool(np.abs(kure_grad([[0.0, 0.0, 0.0, 4.0]])[0]).max() < 1e-15)
    True
    >>> w = [0.0, 1.0, 3.0, 7.0]
    >>> g = kure_grad([w])[0]
    >>> abs(float(g.sum())) < 1e-15, abs(float(g @ w)) < 1e-14        # shift and scale invariance
    (True, True)
    """
    layers = _layers(weights)
    kt = check_real(target, "target", lo=1.0)
    ddof = check_int(ddof, "ddof", 0, 1)
    reduction, div = _reduction(reduction, n_layers, len(layers))
    # each layer's moments computed once, for its kurtosis and its gradient
    kg = [_kurtosis_and_grad(w, f"weights[{i}]", ddof) for i, w in enumerate(layers)]
    if reduction == "max":
        terms = [(k - kt) ** 2 for k, _ in kg]
        first = int(np.argmax(terms))  # np.argmax returns the first index of the maximum
        return [
            2.0 * (k - kt) * g if i == first else np.zeros(g.shape, dtype=np.float64) for i, (k, g) in enumerate(kg)
        ]
    for k, g in kg:  # each g is a new array of this call: scaled in place (the same products as c * g)
        g *= 2.0 / div * (k - kt)
    return [g for _, g in kg]


def kurtosis_shaping(
    w0,
    *,
    target: float = 1.8,
    lam: float = 1.0,
    mu: float = 0.05,
    lr: float = 0.001,
    steps: int = 300,
    record_every: int = 10,
):
    r"""Plain gradient descent on the KURE term of one layer plus a proximity term.

    .. math:: J(w) = \lambda(\mathrm{Kurt}[w] - K_T)^2 + \frac{\mu}{2}\,\mathrm{mean}((w - w_0)^2)/\sigma_0^2

    The KURE term (one layer) drives the kurtosis toward ``target``; the
    proximity term keeps the weights near the originals. Steps are
    preconditioned to be scale-free: :math:`w \leftarrow w - \mathrm{lr}\cdot N\sigma_0^2\,\nabla J`
    (``N`` elements, :math:`\sigma_0` the initial standard deviation), so the
    same ``lr`` works for any tensor size and scale. Deterministic (no randomness).

    Parameters
    ----------
    w0 : array_like
        The initial weights: real, finite, not constant.
    target : float
        :math:`K_T`, >= 1.
    lam : float
        :math:`\lambda`, >= 0.
    mu : float
        The proximity weight, >= 0.
    lr : float
        The (preconditioned) step size, > 0.
    steps : int
        Descent steps, 0..10^7.
    record_every : int
        Snapshot period in steps, >= 1.

    Returns
    -------
    list of ``(step, kurtosis, w)`` snapshots (float64 copies), every
    ``record_every`` steps and at the last step.

    Notes
    -----
    The descent is scale-equivariant (the preconditioned step scales with
    ``w0``): it runs on ``w0`` rescaled by an exact power of two and the
    snapshots are rescaled back exactly, so ``w0 * 2**k`` gives ``2**k`` times
    the same trajectory for any finite ``w0``.

    Raises
    ------
    TypeError
        ``w0`` not a real numeric array; a numeric parameter of the wrong type
        (``steps=2.7`` is not truncated).
    ValueError
        ``w0`` constant, empty or holding NaN/inf; ``target < 1``; ``lam``/``mu``
        negative; ``lr <= 0``; ``steps``/``record_every`` out of range; an ``lr`` so
        large that the descent diverges (the error names ``lr`` and the step).
    """
    w, e = pow2_normalize(_as_float(w0, "w0"))
    kt = check_real(target, "target", lo=1.0)
    lam = check_real(lam, "lam", lo=0.0)
    mu = check_real(mu, "mu", lo=0.0)
    lr = check_real(lr, "lr", lo=0.0, lo_open=True)
    steps = check_int(steps, "steps", 0, 10**7)
    record_every = check_int(record_every, "record_every", 1)
    start = w.copy()
    n = w.size
    if n < 2:
        raise ValueError(f"w0 needs at least 2 elements for a kurtosis, got {n}")
    var0 = float(np.var(start))
    if var0 == 0:
        raise ValueError("w0 is constant (sigma = 0): kurtosis is undefined")
    snaps = []
    for t in range(steps + 1):
        try:
            k = float(kurtosis(w))
        except ValueError as exc:
            raise ValueError(f"lr={lr!r} makes the descent diverge (step {t}: {exc}); use a smaller lr") from exc
        if t % record_every == 0 or t == steps:
            snaps.append((t, k, np.ldexp(w, e)))
        if t == steps:
            break
        g = lam * 2.0 * (k - kt) * kurtosis_grad(w) + mu * (w - start) / (n * var0)
        with np.errstate(all="ignore"):
            w = w - lr * n * var0 * g
        if not np.all(np.isfinite(w)) or float(np.max(np.abs(w))) > 2.0**500:
            raise ValueError(
                f"lr={lr!r} makes the descent diverge (weights beyond 2**500 times their initial "
                f"scale at step {t + 1}); use a smaller lr"
            )
    return snaps
