"""Closed-form statistics of a crossbar: SQNR of simulated outputs, ADC utilisation, operand moments and the
predicted SQNR (derivations in the docstrings of :func:`predicted_sqnr` and :func:`plane_sum_pmf`)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._validate import as_real_array, check_bool, check_int, check_real, pow2_normalize
from ..specs import CrossbarSpec
from ._packing import _cell_values, _input_planes, _n_tiles, _plane_signs, _tiles, _weight_magnitudes
from .adc import _check_spec, adc_convert, adc_params
from .crossbar import CrossbarDetails, _codes, _KeyAccess


def sqnr(y_ideal, y_adc, *, per_column: bool = False) -> float:
    r"""Signal-to-quantization-noise ratio in dB of ADC outputs against the exact result.

    ``per_column=False`` (pooled): :math:`10\log_{10}(\mathrm{Var}[Y] / \mathrm{mean}[(\hat Y - Y)^2])`
    over all outputs (the signal includes per-column constants such as A-shift's :math:`C\sum w`, which
    digital compensation removes, so this credits A-shift with signal it does not keep).
    ``per_column=True``: the input-dependent part only,
    :math:`10\log_{10}(\sum_j \mathrm{Var}_{batch}[Y_j] / \sum_j \mathrm{mean}_{batch}[(\hat Y_j - Y_j)^2])`.

    Parameters
    ----------
    y_ideal, y_adc : array_like (batch, out) of real, finite
        The exact result and the converted one, same shape.
    per_column : bool
        See above.

    Returns
    -------
    float
        SQNR in dB; ``inf`` for a zero error.

    Raises
    ------
    TypeError
        Non-real arrays or a non-bool flag.
    ValueError
        NaN/inf, empty arrays, or shapes not equal and 2-D.

    Notes
    -----
    Scale-invariant: computed on both arrays divided by one exact power of two.

    Examples
    --------
    >>> import numpy as np
    >>> from refquant.imc import ADCSpec, CrossbarSpec, imc_matmul
    >>> round(sqnr([[0.0], [2.0]], [[0.0], [2.1]]), 3)   # Var = 1, MSE = 0.005
    23.01
    """
    per_column = check_bool(per_column, "per_column")
    yi = as_real_array(y_ideal, "y_ideal").astype(np.float64)
    ya = as_real_array(y_adc, "y_adc").astype(np.float64)
    if yi.shape != ya.shape or yi.ndim != 2:
        raise ValueError(f"y_ideal and y_adc must be 2-D arrays of the same shape, got {yi.shape} and {ya.shape}")
    # a ratio of squares: signal and error are each divided by their own exact power of two (after one common
    # power of two that keeps ya - yi finite), and the exponents are added back in the log domain, so values
    # near the float limit or far below 1e-154 neither overflow nor underflow
    e = pow2_normalize(np.concatenate([yi.ravel(), ya.ravel()]))[1]
    yi, ya = np.ldexp(yi, -e), np.ldexp(ya, -e)
    yi, ei = pow2_normalize(yi)
    dn, ed = pow2_normalize(ya - np.ldexp(yi, ei))
    err = (dn**2).mean(axis=0)
    sig = yi.var(axis=0).sum() if per_column else yi.var() * yi.shape[1]
    noise = err.sum()
    if noise == 0:
        return math.inf
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(sig / noise) + 20 * math.log10(2.0) * (ei - ed))


@dataclasses.dataclass(frozen=True)
class ADCStats(_KeyAccess):
    """Utilisation of the ADC over one :func:`refquant.imc.imc_matmul` call (from :func:`adc_stats`).

    Dict-style access ``stats["clip_rate"]`` is kept for compatibility with the former dict result.

    Attributes
    ----------
    sigma_over_step : float
        Standard deviation of the pre-ADC values divided by the step.
    codes_used : int
        Number of distinct codes hit.
    clip_rate : float
        Fraction of conversions outside the ADC's input range (``[o, o + n*step)`` for floor,
        ``[o - step/2, o + (n - 1/2)*step]`` for round), in [0, 1].
    max_abs_error_in_range : float
        Largest in-range conversion error, in steps (at most 1/2 by construction; 0 if none in range).
    """

    sigma_over_step: float
    codes_used: int
    clip_rate: float
    max_abs_error_in_range: float


def adc_stats(details: CrossbarDetails) -> ADCStats:
    """Utilisation of the ADC from ``imc_matmul(..., return_details=True)``'s details.

    Parameters
    ----------
    details : CrossbarDetails
        The second result of :func:`refquant.imc.imc_matmul` with ``return_details=True``.

    Returns
    -------
    ADCStats

    Raises
    ------
    TypeError
        ``details`` is not a :class:`~refquant.imc.CrossbarDetails`.

    Examples
    --------
    >>> import numpy as np
    >>> from refquant.imc import ADCSpec, CrossbarSpec, imc_matmul
    >>> spec = CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=ADCSpec(3))
    >>> _, det = imc_matmul(np.array([[3, 3, 3, 3]]), np.array([[3], [3], [3], [3]]), spec, return_details=True)
    >>> adc_stats(det).clip_rate   # 36 is beyond the last level's half step (27 + 4.5)
    1.0
    """
    if not isinstance(details, CrossbarDetails):
        raise TypeError(f"details must be the CrossbarDetails returned by imc_matmul(..., return_details=True), "
                        f"got type={type(details).__name__}")
    pre, codes, err = details.pre_adc, details.codes, details.error
    d, o, n = details.step, details.offset, details.n_codes
    t = (pre - o) / d
    if details.transfer == "floor":
        inside = (t >= 0) & (t < n)
    else:
        inside = (t >= -0.5) & (t <= n - 0.5)
    return ADCStats(sigma_over_step=float(pre.std() / d), codes_used=int(np.unique(codes).size),
                    clip_rate=float(1.0 - inside.mean()),
                    max_abs_error_in_range=float(np.abs(err[inside]).max() / d) if inside.any() else 0.0)


@dataclasses.dataclass(frozen=True)
class OperandMoments(_KeyAccess):
    """Moments of the operands as the array sees them (after A-shift), from :func:`operand_moments`.

    Dict-style access ``m["var_x"]`` is kept for compatibility with the former dict result.

    Attributes
    ----------
    mode : str
        The crossbar mode the moments were computed for ("multibit" or "bpbs").
    n_tiles : int
        Tiles of the weights' dot-product length (``ceil(K / rows)``).
    ex2, var_x, mean_x : float
        :math:`E[X^2]`, :math:`\\mathrm{Var}[X]`, :math:`E[X]` of the (shifted) inputs.
    ew, ew2, var_w : float
        :math:`E[W]`, :math:`E[W^2]`, :math:`\\mathrm{Var}[W]` of the weights.
    colsum_var : float
        Variance over columns of the column sums :math:`\\sum_i w_{ij}`.
    p_x : float64 ndarray (n_planes,) or None
        BPBS: probability of a 1 in each input bit-plane.
    coef : float64 ndarray (n_pol, n_planes, n_slices) or None
        BPBS: shift-and-add coefficients.
    cell_counts : int64 ndarray (n_tiles, out, n_pol, n_slices, 2^slice_bits) or None
        BPBS: per tile and column, how many cells of each value each (polarity, slice) holds.
    cell_overlap : int64 ndarray (n_tiles, out, n_pol*n_slices, n_pol*n_slices) or None
        BPBS with 1-bit cells: rows of tile ``t`` whose cells are 1 in both conversions ``u`` and ``v``
        (flattened (polarity, slice)) of column ``j``.
    """

    mode: str
    n_tiles: int
    ex2: float
    var_x: float
    mean_x: float
    ew: float
    ew2: float
    var_w: float
    colsum_var: float
    p_x: np.ndarray | None = None
    coef: np.ndarray | None = None
    cell_counts: np.ndarray | None = None
    cell_overlap: np.ndarray | None = None


def operand_moments(x_codes, w_codes, spec: CrossbarSpec) -> OperandMoments:
    """Moments of the operands as the array sees them (after A-shift), for :func:`predicted_sqnr`.

    For BPBS also the input-plane bit probabilities, the shift-and-add coefficients, the per-tile,
    per-column cell counts and, for 1-bit cells, the row overlaps of each pair of conversions (what
    couples their errors, see :func:`predicted_sqnr`).

    Parameters
    ----------
    x_codes : int array (batch, K)
        Input codes in ``spec.x_range``.
    w_codes : int array (K, out)
        Weight codes in ``spec.w_range``; ``K`` must equal ``x_codes``'s columns.
    spec : CrossbarSpec
        The crossbar.

    Returns
    -------
    OperandMoments

    Raises
    ------
    TypeError
        Non-integer codes or ``spec`` not a :class:`CrossbarSpec`.
    ValueError
        Codes outside their ranges, not 2-D, or mismatched inner dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from refquant.imc import ADCSpec, CrossbarSpec, imc_matmul
    >>> spec = CrossbarSpec(rows=4, input_bits=2, weight_bits=3)
    >>> m = operand_moments(np.array([[0, 3], [3, 0]]), np.array([[1], [-1]]), spec)
    >>> m.mean_x, m.var_x, m.ew2
    (1.5, 2.25, 1.0)
    """
    spec = _check_spec(spec)
    x = _codes(x_codes, "x_codes", *spec.x_range)
    w = _codes(w_codes, "w_codes", *spec.w_range)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x_codes has {x.shape[1]} columns but w_codes has {w.shape[0]} rows "
                         f"(shapes {x.shape} @ {w.shape})")
    xe = (x - (2 ** (spec.input_bits - 1) if spec.a_shift else 0)).astype(np.float64)
    wf = w.astype(np.float64)
    tl = _tiles(w.shape[0], spec.rows)
    out = dict(mode=spec.mode, n_tiles=len(tl), ex2=float((xe**2).mean()), var_x=float(xe.var()),
               mean_x=float(xe.mean()), ew=float(wf.mean()), ew2=float((wf**2).mean()), var_w=float(wf.var()),
               colsum_var=float(wf.sum(axis=0).var()))
    if spec.mode == "bpbs":
        planes, _ = _input_planes(xe.astype(np.int64), spec.input_bits, spec.array_input_signed)
        cell_val = _cell_values(w, spec)  # (out, pol, S, K)
        out["p_x"] = planes.mean(axis=(0, 2))
        vals = np.arange(2**spec.slice_bits)
        _, slice_sign, pol, _ = _weight_magnitudes(w, spec)
        out["coef"] = (pol[:, None, None] * _plane_signs(spec.input_bits, spec.array_input_signed)[None, :, None]
                       * slice_sign[None, None, :] * 2.0 ** (np.arange(spec.input_bits)[None, :, None]
                                                             + spec.slice_bits * np.arange(spec.n_slices)[None, None, :]))
        out["cell_counts"] = np.stack([np.stack([(cell_val[..., t0:t1] == v).sum(axis=3) for v in vals], axis=-1)
                                       for t0, t1 in tl])  # (n_tiles, out, pol, S, 2^beta)
        if spec.slice_bits == 1:  # rows whose cells are 1 in both of two (polarity, slice) conversions
            flat = cell_val.reshape(cell_val.shape[0], -1, cell_val.shape[-1])  # (out, pol*S, K)
            out["cell_overlap"] = np.stack([np.einsum("juk,jvk->juv", flat[..., t0:t1], flat[..., t0:t1])
                                            for t0, t1 in tl])  # (n_tiles, out, pol*S, pol*S)
    return OperandMoments(**out)


def plane_sum_pmf(p_x: float, cell_counts) -> np.ndarray:
    r"""Exact pmf of a BPBS plane sum over one tile and column.

    For i.i.d. input bits :math:`x_i \sim \mathrm{Bernoulli}(p_x)` and the column's *fixed* cells
    (``cell_counts[v]`` cells hold value ``v``, ``v = 0 .. 2^beta - 1``), the plane sum
    :math:`a = \sum_i x_i c_i = \sum_v v \cdot \mathrm{Binomial}(n_v, p_x)` (1-bit cells: one binomial),
    by convolution.

    Parameters
    ----------
    p_x : float in [0, 1]
        Probability of an input bit being 1.
    cell_counts : 1-D array_like of non-negative integers, non-empty
        Cells per value (index = cell value; ``cell_counts[0]`` cells add nothing).

    Returns
    -------
    float64 ndarray
        ``pmf[a]`` for ``a = 0 .. sum_v v * n_v``.

    Raises
    ------
    TypeError
        ``p_x`` not real; ``cell_counts`` not an integer array.
    ValueError
        ``p_x`` outside [0, 1]; ``cell_counts`` not 1-D, empty or negative.

    Examples
    --------
    >>> import numpy as np
    >>> from refquant.imc import ADCSpec, CrossbarSpec, imc_matmul
    >>> plane_sum_pmf(0.5, [0, 2]).round(12).tolist()   # Binomial(2, 1/2)
    [0.25, 0.5, 0.25]
    """
    from scipy import stats

    p_x = check_real(p_x, "p_x", lo=0.0, hi=1.0)
    counts = as_real_array(cell_counts, "cell_counts")
    if counts.dtype.kind not in "iu":
        raise TypeError(f"cell_counts must be an integer array, got dtype={counts.dtype}")
    if counts.ndim != 1 or np.any(counts < 0):
        raise ValueError(f"cell_counts must be a 1-D array of counts >= 0, got shape={counts.shape}, "
                         f"min={int(counts.min())}")
    counts = counts.astype(np.int64)
    pmf = np.array([1.0])
    for v in range(1, counts.size):
        nv = int(counts[v])
        if nv == 0:
            continue
        part = np.zeros(v * nv + 1)
        part[::v] = stats.binom.pmf(np.arange(nv + 1), nv, p_x)
        pmf = np.convolve(pmf, part)
    return pmf


def predicted_sqnr(spec: CrossbarSpec, k_total: int, moments: OperandMoments, *, per_column: bool = False,
                   given_weights: bool = True, slice_covariance: bool = True) -> float:
    r"""Closed-form SQNR (dB) of ``imc_matmul`` for i.i.d. operands with the given moments.

    Signal: pooled, for i.i.d. weights (``given_weights=False``)
    :math:`\mathrm{Var}[Y] = K(\mathrm{Var}[W]E[X^2] + E[W]^2\mathrm{Var}[X])`; for the given weight
    matrix (default) :math:`K\,\mathrm{Var}[X]E[W^2] + E[X]^2\,\mathrm{Var}_j[\sum_i w_{ij}]` (equal in
    expectation, without the sampling error of a finite number of columns); per column
    :math:`K\,\mathrm{Var}[X]\,E[W^2]`. Noise: the sum of independent conversion
    errors. Multi-bit: :math:`\Delta^2/12` per tile (uniform error, no clipping; valid when
    :math:`\sigma_Y/\Delta \gtrsim 1`). BPBS: per (tile, plane b, slice c, polarity) the *exact*
    mean squared ADC error of the plane sum under its binomial-type distribution
    (:func:`plane_sum_pmf`: input bit probability ``p_x[b]`` and each column's actual cells in each
    tile, averaged over columns; input bits independent across rows), combined as
    :math:`\mathrm{mean}_j[\sum c_{bc}^2\,\mathrm{Var}[e_{bc}] + 2\sum_{c<c'} c_{bc}c_{bc'}\,
    \mathrm{Cov}[e_{bc}, e_{bc'}] + (\sum c_{bc}\,E[e_{bc}])^2]` with :math:`c_{bc} = \pm 2^{b + c\beta}`
    (polarities count as further slices). The covariance term (``slice_covariance=True``, exact for 1-bit
    cells) couples the conversions of one input plane, which read the *same* input bits: with
    :math:`n_{11}` rows whose cells are 1 in both and :math:`n_{10}, n_{01}` in one only,
    :math:`a = S + B_{10}`, :math:`a' = S + B_{01}` with independent binomials, so
    :math:`E[e\,e'] = \sum_k P(S{=}k)\,g(k)\,g'(k)`, :math:`g(k) = E[e(k + B_{10})]`. Errors of different
    planes or tiles are taken as independent (different bits or rows). Without it (or for multi-bit cells,
    where it is omitted) this is the independent-errors model, which is pessimistic by up to ~3 dB when the
    step is close to a whole number of units (``figures/imc_bpbs.csv``: the errors of one plane's slices are
    then negatively correlated).

    The pooled signal is that of the *array's* analog sums (after A-shift, before compensation):
    compare it with ``sqnr(x_eff @ w, y - compensation)``; see :func:`sqnr`.

    Parameters
    ----------
    spec : CrossbarSpec
        The crossbar.
    k_total : int >= 1
        Dot-product length. In BPBS mode it must give the tile count the moments were computed for.
    moments : OperandMoments
        From :func:`operand_moments` for the same ``spec`` (mode and, in BPBS, cell layout).
    per_column, given_weights, slice_covariance : bool
        See above.

    Returns
    -------
    float
        Predicted SQNR in dB (``inf`` for zero noise).

    Raises
    ------
    TypeError
        ``spec`` or ``moments`` of the wrong type, non-integer ``k_total`` or a non-bool flag.
    ValueError
        ``k_total < 1``, or moments computed for another mode, cell layout or tile count.
    """
    spec = _check_spec(spec)
    k_total = check_int(k_total, "k_total", 1)
    check_bool(per_column, "per_column")
    check_bool(given_weights, "given_weights")
    check_bool(slice_covariance, "slice_covariance")
    if not isinstance(moments, OperandMoments):
        raise TypeError(f"moments must be the OperandMoments returned by operand_moments, got "
                        f"type={type(moments).__name__}")
    if moments.mode != spec.mode:
        raise ValueError(f"moments were computed for mode={moments.mode!r}, but spec.mode={spec.mode!r}")
    if per_column:
        sig = k_total * moments.var_x * moments.ew2
    elif given_weights:
        sig = k_total * moments.var_x * moments.ew2 + moments.mean_x ** 2 * moments.colsum_var
    else:
        sig = k_total * (moments.var_w * moments.ex2 + moments.ew ** 2 * moments.var_x)
    n_tiles = _n_tiles(k_total, spec.rows)
    o, d, n = adc_params(spec)
    if spec.mode == "multibit":
        noise = n_tiles * d * d / 12.0
    else:
        noise = 0.0
        s_beta = spec.slice_bits
        cc = moments.cell_counts  # (n_tiles, out, pol, S, 2^beta)
        want = (spec.input_bits, spec.n_slices, 2**s_beta)
        if (moments.p_x.shape[0], cc.shape[3], cc.shape[4]) != want or cc.shape[2] != moments.coef.shape[0]:
            raise ValueError(f"moments were computed for another cell layout (planes, slices, cell values) = "
                             f"{(moments.p_x.shape[0], cc.shape[3], cc.shape[4])}; spec has {want}")
        if cc.shape[0] != n_tiles:
            raise ValueError(f"moments were computed for {cc.shape[0]} tiles, but k_total={k_total} with rows={spec.rows} "
                             f"gives {n_tiles}")
        n_out = cc.shape[1]
        bias = np.zeros(n_out)
        var = np.zeros(n_out)
        for t in range(n_tiles):
            for b, pxb in enumerate(moments.p_x):
                for p in range(cc.shape[2]):
                    for c in range(cc.shape[3]):
                        cf = moments.coef[p, b, c]
                        for j in range(n_out):
                            pmf = plane_sum_pmf(float(pxb), cc[t, j, p, c])
                            a = np.arange(pmf.size, dtype=np.float64)
                            _, rec = adc_convert(a, spec)
                            m1 = float(np.sum(pmf * (rec - a)))
                            m2 = float(np.sum(pmf * (rec - a) ** 2))
                            bias[j] += cf * m1
                            var[j] += cf * cf * (m2 - m1 * m1)
                if slice_covariance and s_beta == 1:
                    var += _slice_covariances(spec, float(pxb), cc[t, :, :, :, 1].reshape(n_out, -1),
                                              moments.cell_overlap[t], moments.coef[:, b, :].reshape(-1))
        noise = float(np.mean(var + bias**2))
    if noise == 0:
        return math.inf
    return float(10 * np.log10(sig / noise))


def _slice_covariances(spec: CrossbarSpec, p_x: float, ones, overlap, coef) -> np.ndarray:
    r"""Per column, :math:`2\sum_{u<v} c_u c_v \mathrm{Cov}[e_u, e_v]` over the 1-bit-cell conversions ``u, v`` of
    one input plane and tile (see :func:`predicted_sqnr`). ``ones[j, u]``: rows with cell 1 in conversion
    ``u``; ``overlap[j, u, v]``: rows with cell 1 in both; ``coef[u]``: shift-and-add weights."""
    from scipy import stats

    n_max = int(ones.max(initial=0))
    a = np.arange(n_max + 1, dtype=np.float64)
    _, rec = adc_convert(a, spec)
    err = rec - a  # conversion error of every possible plane sum
    out = np.zeros(ones.shape[0])
    for j in range(ones.shape[0]):
        for u in range(ones.shape[1]):
            for v in range(u + 1, ones.shape[1]):
                n11 = int(overlap[j, u, v])
                if n11 == 0:
                    continue  # no shared rows: independent
                p11 = stats.binom.pmf(np.arange(n11 + 1), n11, p_x)
                g = []
                for n1 in (int(ones[j, u]), int(ones[j, v])):
                    p_own = stats.binom.pmf(np.arange(n1 - n11 + 1), n1 - n11, p_x)
                    g.append(np.convolve(err[:n1 + 1], p_own[::-1], mode="valid"))  # g(k) = E[err(k + B_own)]
                cov = float(p11 @ (g[0] * g[1]) - (p11 @ g[0]) * (p11 @ g[1]))
                out[j] += 2.0 * coef[u] * coef[v] * cov
    return out
