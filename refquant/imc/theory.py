"""Closed-form statistics of a crossbar: SQNR of simulated outputs, ADC utilisation, operand moments and the
predicted SQNR (derivations in the docstrings of :func:`predicted_sqnr` and :func:`plane_sum_pmf`)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._validate import as_real_array, check_bool, check_int, check_real, pow2_normalize
from ..specs import CrossbarSpec
from ._packing import _cell_values, _input_planes, _n_tiles, _spec_plane_signs, _tiles, _weight_magnitudes
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
        raise TypeError(
            f"details must be the CrossbarDetails returned by imc_matmul(..., return_details=True), "
            f"got type={type(details).__name__}"
        )
    pre, codes, err = details.pre_adc, details.codes, details.error
    d, o, n = details.step, details.offset, details.n_codes
    if np.ndim(d):  # one ADC per weight slice: the slice axis is the second to last of the BPBS details
        d, o = np.asarray(d)[:, None], np.asarray(o)[:, None]
    t = (pre - o) / d
    if details.transfer == "floor":
        inside = (t >= 0) & (t < n)
    else:
        inside = (t >= -0.5) & (t <= n - 0.5)
    return ADCStats(
        sigma_over_step=float(pre.std() / d),
        codes_used=int(np.unique(codes).size),
        clip_rate=float(1.0 - inside.mean()),
        max_abs_error_in_range=float(np.abs(err[inside]).max() / d) if inside.any() else 0.0,
    )


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
        BPBS: probability of a 1 in each input bit-plane (sign-magnitude planes: of a +1).
    p_x_neg : float64 ndarray (n_planes,) or None
        BPBS with sign-magnitude planes: probability of a -1 in each plane (``None`` otherwise).
    p_xx : float64 ndarray (n_planes, n_planes) or None
        BPBS with 0/1 planes: ``p_xx[b, b']`` = probability that one input has bit ``b`` and bit ``b'`` set (the
        diagonal is ``p_x``); what couples the errors of different planes (see :func:`predicted_sqnr`).
    coef : float64 ndarray (n_pol, n_planes, n_slices) or None
        BPBS: shift-and-add coefficients.
    cell_counts : int64 ndarray (n_tiles, out, n_pol, n_slices, 2^slice_bits) or None
        BPBS: per tile and column, how many cells of each value each (polarity, slice) holds.
    cell_overlap : int64 ndarray (n_tiles, out, n_pol*n_slices, n_pol*n_slices) or None
        BPBS with 1-bit cells: rows of tile ``t`` whose cells are 1 in both conversions ``u`` and ``v``
        (flattened (polarity, slice)) of column ``j``.
    tile_colsum, tile_colsq : float64 ndarray (n_tiles, out) or None
        Per tile and column, :math:`\\sum_{i \\in t} w_{ij}` and :math:`\\sum_{i \\in t} w_{ij}^2` (the mean and
        variance of a multi-bit tile sum are :math:`E[X]\\,\\cdot` the first and :math:`\\mathrm{Var}[X]\\,\\cdot`
        the second).
    x_pmf : float64 ndarray or None
        Multi-bit: the empirical pmf of the array's input codes, ``x_pmf[i]`` = P(x = ``x_lo`` + i).
    x_lo : int
        The code of ``x_pmf[0]``.
    w_counts : int64 ndarray (n_tiles, out, 2 w_max + 1) or None
        Multi-bit: per tile and column, how many weights hold each code (index ``w + w_max``).
    cell_pairs : int64 ndarray (n_tiles, out, U, U, V, V) or None
        BPBS with 2- or 3-bit cells (:math:`U` = n_pol*n_slices conversions, :math:`V = 2^\\beta` cell
        values): rows of tile ``t`` whose cell is ``a`` in conversion ``u`` and ``b`` in conversion ``v``
        (the joint law of two conversions of one input plane; see :func:`predicted_sqnr`).
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
    tile_colsum: np.ndarray | None = None
    tile_colsq: np.ndarray | None = None
    cell_pairs: np.ndarray | None = None
    x_pmf: np.ndarray | None = None
    x_lo: int = 0
    w_counts: np.ndarray | None = None
    p_x_neg: np.ndarray | None = None
    p_xx: np.ndarray | None = None


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
        raise ValueError(
            f"x_codes has {x.shape[1]} columns but w_codes has {w.shape[0]} rows (shapes {x.shape} @ {w.shape})"
        )
    xe = (x - (2 ** (spec.input_bits - 1) if spec.a_shift else 0)).astype(np.float64)
    wf = w.astype(np.float64)
    tl = _tiles(w.shape[0], spec.rows, spec.tiling)
    out = dict(
        mode=spec.mode,
        n_tiles=len(tl),
        ex2=float((xe**2).mean()),
        var_x=float(xe.var()),
        mean_x=float(xe.mean()),
        ew=float(wf.mean()),
        ew2=float((wf**2).mean()),
        var_w=float(wf.var()),
        colsum_var=float(wf.sum(axis=0).var()),
        tile_colsum=np.stack([wf[t0:t1].sum(axis=0) for t0, t1 in tl]),
        tile_colsq=np.stack([(wf[t0:t1] ** 2).sum(axis=0) for t0, t1 in tl]),
    )
    if spec.mode == "multibit":
        xi = xe.astype(np.int64)
        lo_x = int(xi.min())
        out["x_pmf"] = np.bincount((xi - lo_x).ravel()) / xi.size
        out["x_lo"] = lo_x
        wm = spec.w_max
        out["w_counts"] = np.stack(
            [
                np.stack([np.bincount(w[t0:t1, j] + wm, minlength=2 * wm + 1) for j in range(w.shape[1])])
                for t0, t1 in tl
            ]
        )
    if spec.mode == "bpbs":
        planes, _ = _input_planes(xe.astype(np.int64), spec)
        cell_val = _cell_values(w, spec)  # (out, pol, S, K)
        out["p_x"] = (planes == 1).mean(axis=(0, 2))
        if spec.sign_magnitude:
            out["p_x_neg"] = (planes == -1).mean(axis=(0, 2))
        else:
            pf = planes.reshape(planes.shape[0], planes.shape[1], -1).transpose(1, 0, 2).reshape(planes.shape[1], -1)
            pf = pf.astype(np.float64)
            out["p_xx"] = (pf @ pf.T) / pf.shape[1]
        vals = np.arange(2**spec.slice_bits)
        _, slice_sign, pol, _ = _weight_magnitudes(w, spec)
        out["coef"] = (
            pol[:, None, None]
            * _spec_plane_signs(spec)[None, :, None]
            * slice_sign[None, None, :]
            * 2.0
            ** (np.arange(spec.n_planes)[None, :, None] + spec.slice_bits * np.arange(spec.n_slices)[None, None, :])
        )
        out["cell_counts"] = np.stack(
            [np.stack([(cell_val[..., t0:t1] == v).sum(axis=3) for v in vals], axis=-1) for t0, t1 in tl]
        )  # (n_tiles, out, pol, S, 2^beta)
        if spec.slice_bits == 1:  # rows whose cells are 1 in both of two (polarity, slice) conversions
            flat = cell_val.reshape(cell_val.shape[0], -1, cell_val.shape[-1])  # (out, pol*S, K)
            out["cell_overlap"] = np.stack(
                [np.einsum("juk,jvk->juv", flat[..., t0:t1], flat[..., t0:t1]) for t0, t1 in tl]
            )  # (n_tiles, out, pol*S, pol*S)
        elif spec.slice_bits <= 3:  # joint cell values of two conversions, per row pair type
            flat = cell_val.reshape(cell_val.shape[0], -1, cell_val.shape[-1])  # (out, U, K)
            onehot = (flat[..., None] == vals).astype(np.int64)  # (out, U, K, V)
            out["cell_pairs"] = np.stack(
                [np.einsum("juka,jvkb->juvab", onehot[:, :, t0:t1], onehot[:, :, t0:t1]) for t0, t1 in tl]
            )
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
        raise ValueError(
            f"cell_counts must be a 1-D array of counts >= 0, got shape={counts.shape}, min={int(counts.min())}"
        )
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


def predicted_sqnr(
    spec: CrossbarSpec,
    k_total: int,
    moments: OperandMoments,
    *,
    per_column: bool = False,
    given_weights: bool = True,
    slice_covariance: bool = True,
    tail: bool = True,
    plane_covariance: bool = True,
) -> float:
    r"""Closed-form SQNR (dB) of ``imc_matmul`` for i.i.d. inputs with the given moments, clipping included.

    Signal: pooled, for i.i.d. weights (``given_weights=False``)
    :math:`\mathrm{Var}[Y] = K(\mathrm{Var}[W]E[X^2] + E[W]^2\mathrm{Var}[X])`; for the given weight
    matrix (default) :math:`K\,\mathrm{Var}[X]E[W^2] + E[X]^2\,\mathrm{Var}_j[\sum_i w_{ij}]` (equal in
    expectation, without the sampling error of a finite number of columns); per column
    :math:`K\,\mathrm{Var}[X]\,E[W^2]`. Noise: per column, the mean square of the sum of the conversion
    errors, :math:`\mathrm{mean}_j[\sum \mathrm{Var}[e] + 2\sum\mathrm{Cov}[e, e'] + (\sum E[e])^2]`, errors of
    different tiles independent (different rows).

    **Multi-bit** (``tail=True``, default): each tile sum :math:`y_{tj}` is modelled as an integer-valued
    Gaussian (central limit over the tile's rows) with mean :math:`E[X]\sum_{i\in t} w_{ij}` and variance
    :math:`\mathrm{Var}[X]\sum_{i\in t} w_{ij}^2` (the given weights; i.i.d. moments when
    ``given_weights=False``), discretised with continuity correction,
    :math:`P(y) = \Phi((y + \frac12 - \mu)/\sigma) - \Phi((y - \frac12 - \mu)/\sigma)`, and the ADC error
    :math:`E[e]`, :math:`E[e^2]` is summed *exactly* over that lattice pmf, so the granular error (its
    :math:`\Delta^2/12` and the integer-lattice effects of small steps) and the clipping error of the tails
    (saturation at the end codes) are both included. Where the lattice window (:math:`\mu \pm 9\sigma`)
    would exceed 200 000 integers the same expectation is taken over the continuous Gaussian, bin by bin
    in closed form (relative error :math:`\lesssim 1/\Delta^2`, the lattice being then much finer than
    the step). ``tail=False`` is the former, clipping-blind model: :math:`\Delta^2/12` per tile (RAOQ's
    uniform-noise assumption); it is off by 20-40 dB once 10-25 % of conversions clip.

    **BPBS**: per (tile, plane b, slice c, polarity) the *exact* mean and mean square of the ADC error of
    the plane sum under its exact pmf (:func:`plane_sum_pmf`: input bit probability ``p_x[b]`` and each
    column's actual cells in each tile; input bits independent across rows), which include every clipped
    value exactly; combined with :math:`c_{bc} = \pm 2^{b + c\beta}` (polarities count as further slices).
    The covariance term (``slice_covariance=True``) couples the conversions of one input plane, which
    read the *same* input bits. 1-bit cells: with :math:`n_{11}` rows whose cells are 1 in both and
    :math:`n_{10}, n_{01}` in one only, :math:`a = S + B_{10}`, :math:`a' = S + B_{01}` with independent
    binomials, so :math:`E[e\,e'] = \sum_k P(S{=}k)\,g(k)\,g'(k)`, :math:`g(k) = E[e(k + B_{10})]`.
    Multi-bit cells (2 or 3 bits; from ``moments.cell_pairs``): the shared rows' joint sum
    :math:`(S, S') = \sum_{(v, v')} (v, v')\,\mathrm{Binomial}(n_{vv'}, p)` over the row types with both
    cells non-zero (a 2-D pmf by convolution), the others' independent parts as above,
    :math:`E[e\,e'] = \sum_{s,s'} P(s, s')\,g(s)\,g'(s')`; skipped (independent errors) where the 2-D
    pmf would exceed 4 million cells, and for cells of more than 3 bits. Errors of different tiles are
    independent (different rows).

    **Different input planes** (``plane_covariance=True``, 1-bit cells, 0/1 planes): planes :math:`b \ne b'`
    read the same rows, and one input's bits are dependent (``moments.p_xx``; for ReLU-like inputs a zero input
    clears every plane at once), so under clipping a row vector with many non-zero inputs pushes every plane's
    sum past the range together and the clipped errors are positively correlated. With :math:`n_{11}` rows
    whose cells are 1 in both conversions, :math:`S \sim \mathrm{Bin}(n_{11}, p_b)` and, given :math:`S = s`,
    :math:`S' \sim \mathrm{Bin}(s, r_1) + \mathrm{Bin}(n_{11} - s, r_0)` (:math:`r_1, r_0` the conditional bit
    probabilities), :math:`E[e\,e'] = \sum_s P(s)\,g(s)\,E[g'(S') | s]`, exact. Pairs in which a conversion
    clips with probability below :math:`10^{-6}` are skipped (granular errors: at the unclipped points of
    ``figures/imc_bpbs.csv`` the whole term moved the prediction by at most 0.02 dB, at 100-700 times the cost).
    With every term the BPBS closed form is exact for i.i.d. inputs (tests/test_imc_theory.py checks it against
    exhaustive enumeration to 1e-9 dB); without this one it is optimistic by up to ~0.75 dB where 10-15 % of
    conversions clip.

    **Sign-magnitude input planes** (``input_encoding="sign_magnitude"``, bipolar ADC): row :math:`i` of plane
    :math:`b` drives :math:`r_i = \mathrm{sign}(x_i)\,\mathrm{bit}_b(|x_i|) \in \{-1, 0, +1\}` with probabilities
    ``p_x_neg[b]``, rest, ``p_x[b]`` (:func:`operand_moments`), so a plane sum over :math:`n` cells of value 1 is
    the sum of :math:`n` i.i.d. such values (its pmf over :math:`-n .. n` is the :math:`n`-th power of the
    one-row generating function, by FFT) and multi-bit cells add :math:`v` times such sums; the errors over
    the signed plane sums follow as above, the covariance of the slices of one plane too (1-bit cells; with
    multi-bit cells the slices' errors are taken as independent).

    Without the covariance this is the independent-errors model, which is pessimistic by up to ~3 dB when the
    step is close to a whole number of units (``figures/imc_bpbs.csv``). One ADC range per slice
    (``spec.slice_ranges``) is honoured.

    The pooled signal is that of the *array's* analog sums (after A-shift, before compensation):
    compare it with ``sqnr(x_eff @ w, y - compensation)``; see :func:`sqnr`.

    Parameters
    ----------
    spec : CrossbarSpec
        The crossbar (either mode, every encoding, including sign-magnitude input planes).
    k_total : int >= 1
        Dot-product length. In BPBS mode it must give the tile count the moments were computed for; in
        multi-bit mode, when it does not, the tiles' moments come from the i.i.d. model.
    moments : OperandMoments
        From :func:`operand_moments` for the same ``spec`` (mode and, in BPBS, cell layout).
    per_column, given_weights, slice_covariance : bool
        See above.
    tail : bool
        Multi-bit mode: include the clipping (tail) error and the lattice (default) or use
        :math:`\Delta^2/12` per tile (RAOQ's uniform-noise model, blind to clipping).
    plane_covariance : bool
        BPBS: include the covariance of the errors of different input planes (default; see above), or take
        them as independent.

    Returns
    -------
    float
        Predicted SQNR in dB (``inf`` for zero noise).

    Raises
    ------
    TypeError
        ``spec`` or ``moments`` of the wrong type, non-integer ``k_total`` or a non-bool flag.
    ValueError
        ``k_total < 1``, or moments computed for another mode, cell layout, tile count or input-plane encoding.
    """
    spec = _check_spec(spec)
    k_total = check_int(k_total, "k_total", 1)
    check_bool(per_column, "per_column")
    check_bool(given_weights, "given_weights")
    check_bool(slice_covariance, "slice_covariance")
    check_bool(tail, "tail")
    check_bool(plane_covariance, "plane_covariance")
    if not isinstance(moments, OperandMoments):
        raise TypeError(
            f"moments must be the OperandMoments returned by operand_moments, got type={type(moments).__name__}"
        )
    if moments.mode != spec.mode:
        raise ValueError(f"moments were computed for mode={moments.mode!r}, but spec.mode={spec.mode!r}")
    if spec.mode == "bpbs" and spec.sign_magnitude != (moments.p_x_neg is not None):
        got = "sign-magnitude" if moments.p_x_neg is not None else "two's-complement"
        raise ValueError(
            f"moments were computed for {got} input planes, but spec has input_encoding={spec.input_encoding!r}"
        )
    if per_column:
        sig = k_total * moments.var_x * moments.ew2
    elif given_weights:
        sig = k_total * moments.var_x * moments.ew2 + moments.mean_x**2 * moments.colsum_var
    else:
        sig = k_total * (moments.var_w * moments.ex2 + moments.ew**2 * moments.var_x)
    n_tiles = _n_tiles(k_total, spec.rows)
    if spec.mode == "multibit":
        noise = _multibit_noise(spec, k_total, moments, given_weights, tail)
    else:
        noise = _bpbs_noise(spec, n_tiles, moments, slice_covariance, plane_covariance)
    if noise == 0:
        return math.inf
    return float(10 * np.log10(sig / noise))


def _multibit_noise(spec: CrossbarSpec, k_total: int, m: OperandMoments, given_weights: bool, tail: bool) -> float:
    """Mean over columns of E[(sum of the tiles' ADC errors)^2] in multi-bit mode (see :func:`predicted_sqnr`)."""
    o, d, n = adc_params(spec)
    tiles = _tiles(k_total, spec.rows, spec.tiling) if k_total <= 64 * spec.rows else None
    n_tiles = _n_tiles(k_total, spec.rows)
    if not tail:
        return n_tiles * d * d / 12.0
    if given_weights and m.tile_colsum is not None and m.tile_colsum.shape[0] == n_tiles:
        mu = m.mean_x * m.tile_colsum
        var = m.var_x * m.tile_colsq
    else:  # i.i.d. model: a tile of L rows has mean L E[X]E[W] and variance L (E[X^2]E[W^2] - E[X]^2 E[W]^2)
        if tiles is not None:
            lens, mult = np.array([t1 - t0 for t0, t1 in tiles], dtype=np.float64), None
        else:  # many tiles: at most two distinct lengths; tiles of equal length have equal error moments
            lens, mult = _tile_length_groups(k_total, spec.rows, spec.tiling)
        mu = (lens * m.mean_x * m.ew)[:, None]
        var = (lens * max(m.ex2 * m.ew2 - m.mean_x**2 * m.ew**2, 0.0))[:, None]
        if mult is not None:
            e1, e2 = _gauss_lattice_error(mu.ravel(), np.sqrt(var.ravel()), o, d, n, spec.adc.transfer)
            return float(np.sum(mult * (e2 - e1**2)) + np.sum(mult * e1) ** 2)
    if given_weights and m.w_counts is not None and m.w_counts.shape[0] == n_tiles:
        ex = _multibit_exact_error(m, spec, o, d, n)
        if ex is not None:
            e1, e2 = ex
            return float(np.mean((e2 - e1**2).sum(axis=0) + e1.sum(axis=0) ** 2))
    e1, e2 = _gauss_lattice_error(mu.ravel(), np.sqrt(var.ravel()), o, d, n, spec.adc.transfer)
    e1, e2 = e1.reshape(mu.shape), e2.reshape(mu.shape)
    return float(np.mean((e2 - e1**2).sum(axis=0) + e1.sum(axis=0) ** 2))


def _tile_length_groups(k_total: int, rows: int, tiling: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct tile lengths of ``_tiles(k_total, rows, tiling)`` and how many tiles have each (float64)."""
    if tiling == "full_first":
        q, r = divmod(k_total, rows)
        groups = [(rows, q)] + ([(r, 1)] if r else [])
    else:
        n_t = -(-k_total // rows)
        base, extra = divmod(k_total, n_t)
        groups = [(base + 1, extra), (base, n_t - extra)]
    groups = [(length, count) for length, count in groups if count > 0]
    return (np.array([g[0] for g in groups], dtype=np.float64), np.array([g[1] for g in groups], dtype=np.float64))


def _multibit_exact_error(m: OperandMoments, spec: CrossbarSpec, o, d, n, max_support: int = 1 << 22):
    r"""E[e], E[e^2] per (tile, column) from the exact pmf of the tile sum :math:`\sum_i x_i w_{ij}` for i.i.d.
    inputs with the empirical pmf ``m.x_pmf`` and the column's fixed weights (``m.w_counts``): the product of
    the characteristic functions of the terms, one FFT per distinct weight multiset. ``None`` where a
    support would exceed ``max_support`` values (then the Gaussian lattice is used)."""
    from .adc import _convert

    px = m.x_pmf
    span = px.size - 1
    wm = (m.w_counts.shape[2] - 1) // 2
    n_t, n_out = m.w_counts.shape[:2]
    e1 = np.empty((n_t, n_out))
    e2 = np.empty((n_t, n_out))
    cache = {}
    for t in range(n_t):
        for j in range(n_out):
            cnt = m.w_counts[t, j]
            key = cnt.tobytes()
            if key not in cache:
                vals = np.nonzero(cnt)[0] - wm
                length = int(sum(cnt[v + wm] * abs(v) * span for v in vals)) + 1
                if length > max_support:
                    return None
                offset = int(sum(cnt[v + wm] * v * (m.x_lo if v > 0 else m.x_lo + span) for v in vals))
                nfft = 1 << int(np.ceil(np.log2(max(length, 2))))
                spec_f = np.ones(nfft // 2 + 1, dtype=np.complex128)
                for v in vals:
                    if v == 0:
                        continue
                    base = np.zeros(abs(int(v)) * span + 1)
                    base[:: abs(int(v))] = px if v > 0 else px[::-1]
                    spec_f *= np.fft.rfft(base, nfft) ** int(cnt[v + wm])
                pmf = np.clip(np.fft.irfft(spec_f, nfft)[:length], 0.0, None)
                pmf /= pmf.sum()
                y = offset + np.arange(length, dtype=np.float64)
                err = _convert(y, o, d, n, spec.adc.transfer)[1] - y
                cache[key] = (float(pmf @ err), float(pmf @ (err * err)))
            e1[t, j], e2[t, j] = cache[key]
    return e1, e2


def _gauss_lattice_error(mu, sd, o, d, n, transfer, max_points=200_000):
    """E[e] and E[e^2] of the ADC error for integer-valued Y ~ N(mu, sd^2) discretised with continuity
    correction (exact sum over the lattice window mu +- 9 sd), or over the continuous Gaussian, bin by bin
    in closed form, where the window is wider than ``max_points`` integers."""
    from scipy import special

    from .adc import _convert

    e1 = np.empty(mu.size)
    e2 = np.empty(mu.size)
    cache = {}
    for i, (m, s) in enumerate(zip(mu, sd)):
        key = (float(m), float(s))
        if key in cache:
            e1[i], e2[i] = cache[key]
            continue
        if s == 0:
            y = np.array([float(np.rint(m))])
            p = np.ones(1)
        elif 18 * s + 2 <= max_points:
            y = np.arange(np.floor(m - 9 * s), np.ceil(m + 9 * s) + 1)
            cdf = special.ndtr((np.r_[y - 0.5, y[-1] + 0.5] - m) / s)
            p = np.diff(cdf)
            p /= p.sum()
        else:
            cache[key] = _gauss_continuous_error(m, s, o, d, n, transfer)
            e1[i], e2[i] = cache[key]
            continue
        err = _convert(y, o, d, n, transfer)[1] - y
        cache[key] = (float(p @ err), float(p @ (err * err)))
        e1[i], e2[i] = cache[key]
    return e1, e2


def _gauss_continuous_error(m, s, o, d, n, transfer):
    """E[e], E[e^2] for continuous Y ~ N(m, s^2): per code bin [lo, hi) with reconstruction r,
    the truncated-normal moments of (r - Y) in closed form; bins outside m +- 10 s merged into the end ones."""
    from scipy import special

    if transfer == "floor":
        edges = o + d * np.arange(1, n)  # thresholds between codes q-1 and q
        rec = o + (np.arange(n) + 0.5) * d
    else:
        edges = o + d * (np.arange(1, n) - 0.5)
        rec = o + np.arange(n) * d
    q0 = int(np.clip(np.searchsorted(edges, m - 10 * s), 0, n - 1))
    q1 = int(np.clip(np.searchsorted(edges, m + 10 * s), 0, n - 1))
    lo = np.r_[-np.inf, edges[q0:q1]]
    hi = np.r_[edges[q0:q1], np.inf]
    r = rec[q0 : q1 + 1]
    za, zb = (lo - m) / s, (hi - m) / s

    def phi(z):
        return np.where(
            np.isfinite(z), np.exp(-0.5 * np.where(np.isfinite(z), z, 0.0) ** 2) / math.sqrt(2 * math.pi), 0.0
        )

    def zphi(z):
        return np.where(np.isfinite(z), np.where(np.isfinite(z), z, 0.0) * phi(z), 0.0)

    p0 = special.ndtr(zb) - special.ndtr(za)
    p1 = phi(za) - phi(zb)  # int z phi
    p2 = p0 + zphi(za) - zphi(zb)  # int z^2 phi
    c = r - m
    return float(np.sum(c * p0 - s * p1)), float(np.sum(c * c * p0 - 2 * c * s * p1 + s * s * p2))


def _bpbs_noise(
    spec: CrossbarSpec, n_tiles: int, moments: OperandMoments, slice_covariance: bool, plane_covariance: bool = False
) -> float:
    """Mean over columns of the BPBS output's mean squared error (see :func:`predicted_sqnr`)."""
    s_beta = spec.slice_bits
    cc = moments.cell_counts  # (n_tiles, out, pol, S, 2^beta)
    want = (spec.n_planes, spec.n_slices, 2**s_beta)
    if (moments.p_x.shape[0], cc.shape[3], cc.shape[4]) != want or cc.shape[2] != moments.coef.shape[0]:
        raise ValueError(
            f"moments were computed for another cell layout (planes, slices, cell values) = "
            f"{(moments.p_x.shape[0], cc.shape[3], cc.shape[4])}; spec has {want}"
        )
    if cc.shape[0] != n_tiles:
        raise ValueError(
            f"moments were computed for {cc.shape[0]} tiles, but k_total={n_tiles * spec.rows} and "
            f"rows={spec.rows} give {n_tiles}"
        )
    n_t, n_out, n_pol, n_sl, _ = cc.shape
    lo_a = -spec.max_plane_sum if spec.sign_magnitude else 0  # sign-magnitude planes: signed plane sums
    a_all = np.arange(lo_a, spec.max_plane_sum + 1, dtype=np.float64)
    err = np.stack([adc_convert(a_all, spec, slice_index=c)[1] - a_all for c in range(n_sl)])  # (S, values)
    clipped = np.stack([_clipped(a_all, spec, c) for c in range(n_sl)]).astype(np.float64)  # (S, values)
    clip_p = np.zeros((moments.p_x.shape[0], n_t, n_out, n_pol * n_sl))  # P(conversion clips)
    lf = _log_factorials(spec.max_plane_sum)
    p_neg = moments.p_x_neg
    bias = np.zeros(n_out)
    var = np.zeros(n_out)
    for b, pxb in enumerate(moments.p_x):
        pxb = float(pxb)
        pnb = None if p_neg is None else float(p_neg[b])
        cache = {}
        win = _plane_windows(cc[..., 1], pxb, pnb, lf) if s_beta == 1 else {}
        for t in range(n_t):
            for p in range(n_pol):
                for c in range(n_sl):
                    cf = moments.coef[p, b, c]
                    for j in range(n_out):
                        key = (c, cc[t, j, p, c].tobytes())
                        if key not in cache:
                            if s_beta == 1:
                                k0, pmf = win[int(cc[t, j, p, c, 1])]
                            elif pnb is None:
                                k0, pmf = 0, plane_sum_pmf(pxb, cc[t, j, p, c])
                            else:
                                k0, pmf = _signed_plane_sum_pmf(pxb, pnb, cc[t, j, p, c])
                            e = err[c, k0 - lo_a : k0 - lo_a + pmf.size]
                            m1 = float(pmf @ e)
                            pc = float(pmf @ clipped[c, k0 - lo_a : k0 - lo_a + pmf.size])
                            cache[key] = (m1, float(pmf @ (e * e)) - m1 * m1, pc)
                        m1, v, clip_p[b, t, j, p * n_sl + c] = cache[key]
                        bias[j] += cf * m1
                        var[j] += cf * cf * v
            if slice_covariance:
                coef_u = moments.coef[:, b, :].reshape(-1)
                if s_beta == 1:
                    var += _slice_covariances(
                        spec,
                        pxb,
                        cc[t, :, :, :, 1].reshape(n_out, -1),
                        moments.cell_overlap[t],
                        coef_u,
                        err=err,
                        lf=lf,
                        p_neg=pnb,
                        lo_a=lo_a,
                    )
                elif moments.cell_pairs is not None and pnb is None:
                    var += _slice_covariances_cells(pxb, moments.cell_pairs[t], coef_u, err, n_sl)
    if plane_covariance and s_beta == 1 and moments.p_xx is not None and moments.cell_overlap is not None:
        for t in range(n_t):
            var += _plane_covariances(
                moments.p_xx,
                cc[t, :, :, :, 1].reshape(n_out, -1),
                moments.cell_overlap[t],
                moments.coef.transpose(1, 0, 2).reshape(moments.p_x.shape[0], -1),
                err,
                lf,
                n_sl,
                clip_p[:, t],
            )
    return float(np.mean(var + bias**2))


def _clipped(a: np.ndarray, spec: CrossbarSpec, c: int) -> np.ndarray:
    """Whether each pre-ADC value ``a`` lies outside the range of slice ``c``'s ADC (saturates at an end code)."""
    o, d, n = adc_params(spec, slice_index=c)
    t = (a - o) / d
    if spec.adc.transfer == "floor":
        return (t < 0) | (t >= n)
    return (t < -0.5) | (t > n - 0.5)


#: Conversions clipping with a smaller probability count as unclipped for the covariance of different planes.
_PLANE_COV_CLIP = 1e-6


def _plane_covariances(p_xx, ones, overlap, coef, err, lf, n_sl: int, clip_p=None, width: float = 10.0) -> np.ndarray:
    r"""Per column, :math:`2\sum_{b<b'}\sum_{u,v} c_{bu} c_{b'v}\,\mathrm{Cov}[e_{bu}, e_{b'v}]`: the covariance of
    the conversion errors of *different* input planes :math:`b \ne b'` of one tile (1-bit cells, 0/1 planes).

    The two planes read the same rows, and one input's bits are dependent (``p_xx``), so with
    :math:`n_{11}` rows whose cells are 1 in both conversions ``u`` and ``v`` and :math:`n_{10}, n_{01}` in one
    only: :math:`a = S + A`, :math:`a' = S' + A'` with :math:`A \sim \mathrm{Bin}(n_{10}, p_b)`,
    :math:`A' \sim \mathrm{Bin}(n_{01}, p_{b'})` independent, :math:`S \sim \mathrm{Bin}(n_{11}, p_b)` and, given
    :math:`S = s`, :math:`S' \sim \mathrm{Bin}(s, r_1) + \mathrm{Bin}(n_{11} - s, r_0)`,
    :math:`r_1 = P(x_{b'} = 1 | x_b = 1)`, :math:`r_0 = P(x_{b'} = 1 | x_b = 0)`. Then
    :math:`E[e\,e'] = \sum_s P(s)\,g(s)\,E[h(S') | s]` with :math:`g(s) = E[\mathrm{err}(s + A)]`,
    :math:`h(s') = E[\mathrm{err}'(s' + A')]`; every binomial is summed over its mass (mean +- ``width`` sd).
    ``ones[j, u]``, ``overlap[j, u, v]``: as :func:`_slice_covariances`; ``coef[b, u]``: shift-and-add weights;
    ``err[c]``: the error of every plane sum ``0 .. M`` for slice ``c`` (conversion ``u`` uses ``u mod S``).
    ``clip_p[b, j, u]``: the probability that conversion ``(b, u)`` of column ``j`` clips; pairs of which one
    conversion clips with probability below ``_PLANE_COV_CLIP`` are skipped (both errors must be clipping errors
    for the term to matter: over the unclipped points of ``figures/imc_bpbs.csv``, N = 1152 and 2304 at 5, 7 and
    10 bits, the whole term moved the prediction by at most 0.02 dB, at 100-700 times the cost)."""
    n_b = p_xx.shape[0]
    n_out, n_u = ones.shape
    out = np.zeros(n_out)
    p = np.diag(p_xx).astype(np.float64)
    for b in range(n_b):
        for b2 in range(b + 1, n_b):
            pb, pb2, q = float(p[b]), float(p[b2]), float(p_xx[b, b2])
            if pb <= 0 or pb >= 1 or pb2 <= 0 or pb2 >= 1:
                continue  # a constant plane: its errors are not random
            r1 = min(max(q / pb, 0.0), 1.0)
            r0 = min(max((pb2 - q) / (1.0 - pb), 0.0), 1.0)
            shared = overlap > 0  # pairs with shared rows (the others are independent)
            if clip_p is not None:
                shared &= (clip_p[b][:, :, None] >= _PLANE_COV_CLIP) & (clip_p[b2][:, None, :] >= _PLANE_COV_CLIP)
            jj, uu, vv = np.nonzero(shared)
            if jj.size == 0:
                continue
            n11s = overlap[jj, uu, vv].astype(np.int64)
            n10s = ones[jj, uu].astype(np.int64) - n11s
            n01s = ones[jj, vv].astype(np.int64) - n11s
            sm_cache: dict = {}
            wb = _binom_windows(np.concatenate([n11s, n10s]), pb, lf, width)  # all windows at once, per p
            wb2 = _binom_windows(n01s, pb2, lf, width)
            n_max = int(n11s.max())
            nfft = 1 << int(np.ceil(np.log2(2 * n_max + 1)))
            f1, f0 = _binom_rows_fft(n_max, r1, lf, nfft), _binom_rows_fft(n_max, r0, lf, nfft)
            for n11 in np.unique(n11s):
                n11 = int(n11)
                sel = np.nonzero(n11s == n11)[0]
                s0, ps, t0, cond = _conditional_joint(n11, wb[n11], f1, f0, nfft)
                gm = np.empty((sel.size, ps.size))
                hm = np.empty((sel.size, cond.shape[1]))
                for row, i in enumerate(sel):
                    cu, cv = int(uu[i]) % n_sl, int(vv[i]) % n_sl
                    kg = (int(n10s[i]), cu, s0, ps.size, 0)
                    if kg not in sm_cache:
                        sm_cache[kg] = _smoothed_error(err[cu], wb[kg[0]], s0, ps.size)
                    kh = (int(n01s[i]), cv, t0, cond.shape[1], 1)
                    if kh not in sm_cache:
                        sm_cache[kh] = _smoothed_error(err[cv], wb2[kh[0]], t0, cond.shape[1])
                    gm[row] = sm_cache[kg]
                    hm[row] = sm_cache[kh]
                mh = hm @ cond.T  # E[h(S') | S = s] per pair
                cov = (gm * mh) @ ps - (gm @ ps) * (mh @ ps)
                np.add.at(out, jj[sel], 2.0 * coef[b, uu[sel]] * coef[b2, vv[sel]] * cov)
    return out


def _smoothed_error(err_c: np.ndarray, own, first: int, size: int) -> np.ndarray:
    """``g(s) = E[err(s + A)]`` for ``s = first .. first + size - 1``, ``A`` the own rows' binomial given as its
    window ``own = (first value, pmf)`` (``err_c[a]``: the error at plane sum ``a``)."""
    r0, q = own
    need = first + r0 + size + q.size - 1
    if need > err_c.size:  # values past the largest plane sum have probability 0: any error will do
        err_c = np.concatenate([err_c, np.zeros(need - err_c.size)])
    seg = err_c[first + r0 : need]
    return np.correlate(seg, q, mode="valid")


def _binom_rows_fft(n_max: int, r: float, lf: np.ndarray, nfft: int) -> np.ndarray:
    """Real FFTs (length ``nfft``) of the Binomial(m, r) pmfs for every ``m = 0 .. n_max`` (rows), over their
    whole support, from the log-factorial table ``lf``."""
    from scipy import special

    m = np.arange(n_max + 1)[:, None]
    k = np.arange(n_max + 1)[None, :]
    ok = k <= m
    kc = np.where(ok, k, 0)
    rest = np.where(ok, m - kc, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = lf[m] - lf[kc] - lf[rest] + special.xlogy(kc, r) + special.xlogy(rest, 1.0 - r)
    return np.fft.rfft(np.exp(np.where(ok, lg, -np.inf)), nfft, axis=1)


def _conditional_joint(n: int, win_s, f1: np.ndarray, f0: np.ndarray, nfft: int):
    """``(s0, P(S = s0 + i), 0, C[i, k] = P(S' = k | S = s0 + i))`` for ``S ~ Bin(n, p)`` given as its window
    ``win_s`` and ``S' | s ~ Bin(s, r1) + Bin(n - s, r0)``, ``k = 0 .. n``: the product of the two binomials'
    FFTs (``f1[s]``, ``f0[n - s]``: :func:`_binom_rows_fft`), inverted in one batch (rounding leaves absolute
    errors ~1e-16; negatives clipped)."""
    s0, ps = win_s
    ss = s0 + np.arange(ps.size)
    conv = np.fft.irfft(f1[ss] * f0[n - ss], nfft, axis=1)
    return s0, ps, 0, np.clip(conv[:, : n + 1], 0.0, None)


def _trinomial_sum_pmf(n: int, p_pos: float, p_neg: float) -> np.ndarray:
    """pmf of the sum of ``n`` i.i.d. values in {-1, 0, +1} (probabilities ``p_neg``, rest, ``p_pos``) over
    ``-n .. n``: the ``n``-th power of the one-row pmf's generating function, evaluated by a real FFT of length
    at least ``2n + 1`` (no wrap-around; rounding leaves absolute errors ~1e-16 per value, negatives clipped)."""
    if n == 0:
        return np.ones(1)
    size = 2 * n + 1
    nfft = 1 << int(np.ceil(np.log2(size)))
    row = np.zeros(nfft)
    row[:3] = (p_neg, max(1.0 - p_pos - p_neg, 0.0), p_pos)  # values -1, 0, +1 at offsets 0, 1, 2
    pmf = np.clip(np.fft.irfft(np.fft.rfft(row) ** n, nfft)[:size], 0.0, None)
    return pmf / pmf.sum()


def _plane_windows(ns, p_pos: float, p_neg, lf: np.ndarray) -> dict:
    """``{n: (first value, pmf)}`` of a 1-bit-cell plane sum over ``n`` rows with cell 1: Binomial(n, p_pos)
    (``p_neg`` None: 0/1 planes, :func:`_binom_windows`) or the signed sum of sign-magnitude planes
    (:func:`_trinomial_sum_pmf`, first value ``-n``)."""
    if p_neg is None:
        return _binom_windows(ns, p_pos, lf)
    return {int(n): (-int(n), _trinomial_sum_pmf(int(n), p_pos, p_neg)) for n in np.unique(np.asarray(ns).ravel())}


def _signed_plane_sum_pmf(p_pos: float, p_neg: float, counts) -> tuple[int, np.ndarray]:
    """``(first value, pmf)`` of a sign-magnitude plane sum over a column's cells (``counts[v]`` cells of value
    ``v``): the sum over ``v`` of ``v`` times a trinomial sum (:func:`_trinomial_sum_pmf`), by convolution."""
    pmf, first = np.array([1.0]), 0
    for v in range(1, len(counts)):
        nv = int(counts[v])
        if nv == 0:
            continue
        part = np.zeros(2 * v * nv + 1)
        part[::v] = _trinomial_sum_pmf(nv, p_pos, p_neg)
        pmf = np.convolve(pmf, part)
        first -= v * nv
    return first, pmf


def _log_factorials(n_max: int) -> np.ndarray:
    """``log m!`` for ``m = 0 .. n_max`` (float64, from ``scipy.special.gammaln``)."""
    from scipy import special

    return special.gammaln(np.arange(n_max + 1, dtype=np.float64) + 1.0)


def _binom_windows(ns, p: float, lf: np.ndarray, width: float = 10.0) -> dict:
    """Binomial(n, p) pmfs for every distinct count ``n`` in ``ns`` at once (one vectorised evaluation from the
    log-factorial table ``lf``), each restricted to its mass, mean +- ``width`` sd clipped to [0, n] (the
    mass left out is below 1e-20): ``{n: (start, pmf)}``."""
    ns = np.unique(np.asarray(ns, dtype=np.int64).ravel())
    if ns.size == 0:
        return {}
    if p <= 0.0 or p >= 1.0:
        return {int(n): ((int(n) if p >= 1.0 else 0), np.ones(1)) for n in ns}
    sd = np.sqrt(ns * p * (1 - p))
    lo = np.maximum(0, (ns * p - width * sd - 1).astype(np.int64))
    hi = np.minimum(ns, (ns * p + width * sd + 2).astype(np.int64))
    k = lo[:, None] + np.arange(int((hi - lo).max()) + 1)[None, :]
    valid = k <= hi[:, None]
    kc = np.where(valid, k, lo[:, None])
    logp = lf[ns][:, None] - lf[kc] - lf[ns[:, None] - kc] + kc * math.log(p) + (ns[:, None] - kc) * math.log1p(-p)
    pmf = np.where(valid, np.exp(logp), 0.0)
    return {int(n): (int(a), pmf[i, : int(h - a) + 1]) for i, (n, a, h) in enumerate(zip(ns, lo, hi))}


def _slice_covariances(
    spec: CrossbarSpec, p_x: float, ones, overlap, coef, err=None, lf=None, p_neg=None, lo_a: int = 0
) -> np.ndarray:
    r"""Per column, :math:`2\sum_{u<v} c_u c_v \mathrm{Cov}[e_u, e_v]` over the 1-bit-cell conversions ``u, v`` of
    one input plane and tile (see :func:`predicted_sqnr`). ``ones[j, u]``: rows with cell 1 in conversion
    ``u``; ``overlap[j, u, v]``: rows with cell 1 in both; ``coef[u]``: shift-and-add weights; ``err``: the
    conversion error of every plane sum per slice (S, M+1) (default: from ``spec``; conversion ``u`` uses
    slice ``u mod S``; ``err[c, i]`` is the error at plane sum ``lo_a + i``). Binomials are summed over their mass
    (mean +- 10 sd); with ``p_neg`` (sign-magnitude planes) the row counts give trinomial sums instead."""
    n_sl = spec.n_slices
    if err is None:
        n_max = spec.max_plane_sum
        a = np.arange(n_max + 1, dtype=np.float64)
        err = np.stack([adc_convert(a, spec, slice_index=c)[1] - a for c in range(n_sl)])
    if lf is None:
        lf = _log_factorials(err.shape[1])
    out = np.zeros(ones.shape[0])
    cache = {}
    iu, iv = np.triu_indices(ones.shape[1], 1)
    win = _plane_windows(
        np.concatenate(
            [
                overlap[:, iu, iv].ravel(),
                (ones[:, iu] - overlap[:, iu, iv]).ravel(),
                (ones[:, iv] - overlap[:, iu, iv]).ravel(),
            ]
        ),
        p_x,
        p_neg,
        lf,
    )
    for j in range(ones.shape[0]):
        for u in range(ones.shape[1]):
            for v in range(u + 1, ones.shape[1]):
                n11 = int(overlap[j, u, v])
                if n11 == 0:
                    continue  # no shared rows: independent
                key = (n11, int(ones[j, u]), int(ones[j, v]), u % n_sl, v % n_sl)
                if key not in cache:
                    s0, p11 = win[n11]
                    ks = np.arange(s0, s0 + p11.size)
                    g = []
                    for n1, c in ((key[1], key[3]), (key[2], key[4])):
                        r0, q = win[n1 - n11]
                        i0 = s0 + r0 - lo_a
                        seg = err[c, i0 : i0 + ks.size + q.size - 1]  # err[k + r], k in ks, r in window
                        g.append(np.correlate(seg, q, mode="valid"))  # g(k) = E[err(k + B_own)]
                    cache[key] = float(p11 @ (g[0] * g[1]) - (p11 @ g[0]) * (p11 @ g[1]))
                out[j] += 2.0 * coef[u] * coef[v] * cache[key]
    return out


def _slice_covariances_cells(p_x: float, pairs, coef, err, n_sl: int, max_cells: int = 4_000_000) -> np.ndarray:
    r"""As :func:`_slice_covariances` for multi-bit cells: ``pairs[j, u, v, a, b]`` rows of one tile whose cell is
    ``a`` in conversion ``u`` and ``b`` in ``v``. The shared rows (both cells non-zero) give a 2-D pmf of
    ``(S_u, S_v)`` by convolution; each conversion's own rows an independent 1-D pmf (:func:`plane_sum_pmf`)."""
    from scipy import signal, stats

    n_out, n_u, _, n_v, _ = pairs.shape
    out = np.zeros(n_out)
    for j in range(n_out):
        for u in range(n_u):
            for v in range(u + 1, n_u):
                pr = pairs[j, u, v]
                shared = pr[1:, 1:]
                if shared.sum() == 0:
                    continue
                mu_max = int((np.arange(1, n_v)[:, None] * shared).sum())
                mv_max = int((np.arange(1, n_v)[None, :] * shared).sum())
                if (mu_max + 1) * (mv_max + 1) > max_cells:
                    continue
                joint = np.ones((1, 1))
                for a in range(1, n_v):
                    for b in range(1, n_v):
                        nab = int(shared[a - 1, b - 1])
                        if nab == 0:
                            continue
                        part = np.zeros((a * nab + 1, b * nab + 1))
                        kk = np.arange(nab + 1)
                        part[a * kk, b * kk] = stats.binom.pmf(kk, nab, p_x)
                        joint = signal.fftconvolve(joint, part) if joint.size > 1 else part
                joint = np.clip(joint, 0.0, None)
                g = []
                for own_counts, c, size in ((pr[:, 0], u % n_sl, joint.shape[0]), (pr[0, :], v % n_sl, joint.shape[1])):
                    # the conversion's own rows: cells non-zero here and zero in the other conversion
                    counts = np.zeros(n_v, dtype=np.int64)
                    counts[1:] = own_counts[1:]
                    q = plane_sum_pmf(p_x, counts)
                    seg = err[c, : size + q.size - 1]
                    g.append(signal.correlate(seg, q, mode="valid", method="auto"))
                e_uv = float(g[0] @ joint @ g[1])
                e_u = float(joint.sum(axis=1) @ g[0])
                e_v = float(joint.sum(axis=0) @ g[1])
                out[j] += 2.0 * coef[u] * coef[v] * (e_uv - e_u * e_v)
    return out
