r"""RAOQ's training-side mechanisms as framework-free reference pieces: the ADC quantizer's straight-through
backward, BitAug's sampling and weighting schedule, ADC-LoRA (eqs. 11-12 of Zhang, Chen & Verma, "Reshape
and Adapt for Output Quantization", ICML 2024) and W-reshape as a training-time regulariser.

These are the golden values a PyTorch/JAX training loop must reproduce (as :func:`refquant.kurtosis.kure_grad`
is for KURE); no training loop lives here. The paper's equations could not be read from a primary source:
every detail reconstructed from secondary descriptions (the straight-through rule at the ADC, the learned
range's gradient, BitAug's candidate set and schedule, the eq. 12 solver) is a *parameter* and says so.

The chain (float units; ``spec`` a :class:`refquant.specs.CrossbarSpec`):

.. math:: Y = s_x s_w \sum_t Q_{ADC}\big(Q_x(X)_t\, Q_w(W)_t\big), \qquad
          Q_x(X) = \mathrm{clip}(\mathrm{rint}(X / s_x), x_{lo}, x_{hi}),\quad
          Q_w(W) = \mathrm{clip}(\mathrm{rint}(W / s_w), -w_{max}, w_{max})

(``rint``: ties to even), the integer part computed by :func:`refquant.imc.imc_matmul` (so the forward is
the simulator's, bit for bit). Straight-through backward (the usual clipped STE, applied at all three
quantizers): the derivative of a rounding is taken as 1 inside the quantizer's range and 0 outside; the
ADC's range is ``t = (a - o)/Delta`` in ``[-1/2, n - 1/2]`` ("round") or ``[0, n)`` ("floor"), the operand
quantizers' ``[lo, hi]`` in code units.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import as_real_array, as_rng, check_int, check_real
from ..specs import CrossbarSpec
from .adc import _adc_levels, _check_spec

__all__ = [
    "adc_fake_quant",
    "adc_ste_grad",
    "crossbar_forward",
    "crossbar_ste_grad",
    "bitaug_weight",
    "bitaug_sample",
    "adc_lora_merge",
    "adc_lora_forward",
    "adc_lora_objective",
    "adc_lora_grad",
    "adc_lora_init",
    "w_reshape_penalty",
    "w_reshape_penalty_grad",
]


def _adc_args(offset, step, n_codes, transfer):
    offset = check_real(offset, "offset")
    step = check_real(step, "step", lo=0.0, lo_open=True)
    n_codes = check_int(n_codes, "n_codes", 2, 2**24)
    if not isinstance(transfer, str) or transfer not in ("round", "floor"):
        raise ValueError(f"transfer must be 'round' or 'floor', got transfer={transfer!r}")
    return offset, step, n_codes, transfer


def adc_fake_quant(a, *, offset: float, step: float, n_codes: int, transfer: str = "round") -> np.ndarray:
    r"""The ADC's forward on float pre-ADC values: :math:`\hat a = o + \ell(t)\Delta`, :math:`t = (a - o)/\Delta`,
    :math:`\ell = \mathrm{clip}(\mathrm{rint}(t), 0, n-1)` ("round") or
    :math:`\mathrm{clip}(\lfloor t\rfloor, 0, n-1) + \frac12` ("floor"), float64 (the formula of
    :func:`refquant.imc.adc_convert`).

    Parameters
    ----------
    a : array_like of real, finite
        Pre-ADC values (any shape).
    offset, step : float
        :math:`o` (finite) and :math:`\Delta` (> 0).
    n_codes : int
        Number of codes, 2 <= n_codes <= 2^24.
    transfer : {"round", "floor"}
        The ADC's transfer: round to the nearest level (ties to even), or floor with mid-step reconstruction.

    Returns
    -------
    float64 ndarray of ``a``'s shape.

    Raises
    ------
    TypeError, ValueError
        Bad array or parameter (named).

    Examples
    --------
    >>> adc_fake_quant([0.4, 3.0, 99.0], offset=0.0, step=1.0, n_codes=4).tolist()
    [0.0, 3.0, 3.0]
    """
    o, d, n, tr = _adc_args(offset, step, n_codes, transfer)
    t = (as_real_array(a, "a", allow_empty=True).astype(np.float64) - o) / d
    return o + _adc_levels(t, tr, n)[1] * d


def _adc_inside(t: np.ndarray, n: int, transfer: str) -> np.ndarray:
    return (t >= 0) & (t < n) if transfer == "floor" else (t >= -0.5) & (t <= n - 0.5)


def adc_ste_grad(a, grad_out, *, offset: float, step: float, n_codes: int, transfer: str = "round"):
    r"""Straight-through backward of :func:`adc_fake_quant`: gradients w.r.t. the pre-ADC values and the range.

    With :math:`\ell'(t)` taken as 1 inside the ADC's range and 0 outside (``m`` = in-range mask):

    .. math:: \frac{\partial\hat a}{\partial a} = m, \qquad
              \frac{\partial\hat a}{\partial o} = 1 - m, \qquad
              \frac{\partial\hat a}{\partial\Delta} = \ell(t) - m\,t

    (the last is LSQ's step gradient; for a learned range). Whether RAOQ learns the ADC range is not known
    from the sources available; use ``grad_offset``/``grad_step`` only if your training does. These are the
    exact derivatives of the surrogate :math:`o + \Delta\,\mathrm{clip}(t + \delta_0, 0, n-1)` (+1/2 for
    floor) with the rounding residual :math:`\delta_0` frozen at the evaluation point (how the tests check
    them by central differences).

    Parameters
    ----------
    a : array_like of real, finite
        Pre-ADC values.
    grad_out : array_like of real, finite, ``a``'s shape
        :math:`\partial L/\partial\hat a`.
    offset, step, n_codes, transfer
        As :func:`adc_fake_quant`.

    Returns
    -------
    (grad_a, grad_offset, grad_step) : (float64 ndarray, float, float)

    Raises
    ------
    TypeError, ValueError
        Bad arrays or parameters (named), or shapes that differ.
    """
    o, d, n, tr = _adc_args(offset, step, n_codes, transfer)
    av = as_real_array(a, "a", allow_empty=True).astype(np.float64)
    g = as_real_array(grad_out, "grad_out", allow_empty=True).astype(np.float64)
    if g.shape != av.shape:
        raise ValueError(f"grad_out must have a's shape {av.shape}, got {g.shape}")
    t = (av - o) / d
    m = _adc_inside(t, n, tr)
    level = _adc_levels(t, tr, n)[1]
    return g * m, float(np.sum(g * ~m)), float(np.sum(g * (level - np.where(m, t, 0.0))))


def _scale(v, name):
    return check_real(v, name, lo=0.0, lo_open=True)


def _quantize_operands(x, w, spec, x_scale, w_scale, xname="x", wname="w"):
    xv = as_real_array(x, xname).astype(np.float64)
    wv = as_real_array(w, wname).astype(np.float64)
    if xv.ndim != 2 or wv.ndim != 2 or xv.shape[1] != wv.shape[0]:
        raise ValueError(
            f"{xname} (batch, K) and {wname} (K, out) must be 2-D with matching K, got {xv.shape} and {wv.shape}"
        )
    sx, sw = _scale(x_scale, "x_scale"), _scale(w_scale, "w_scale")
    lo, hi = spec.x_range
    tx, tw = xv / sx, wv / sw
    xc = np.clip(np.rint(tx), lo, hi).astype(np.int64)
    wc = np.clip(np.rint(tw), -spec.w_max, spec.w_max).astype(np.int64)
    return xv, wv, sx, sw, xc, wc, (tx >= lo) & (tx <= hi), (tw >= -spec.w_max) & (tw <= spec.w_max)


def crossbar_forward(x, w, spec: CrossbarSpec, *, x_scale: float, w_scale: float) -> np.ndarray:
    r"""``Y = s_x s_w imc_matmul(Q_x(X), Q_w(W), spec)``: float activations and weights through the crossbar.

    Parameters
    ----------
    x : array_like (batch, K) of real, finite
        Float activations (quantized with ``x_scale`` to ``spec.x_range``, ties to even).
    w : array_like (K, out) of real, finite
        Float weights (quantized with ``w_scale`` to ``[-w_max, w_max]``).
    spec : CrossbarSpec
        The crossbar (either mode).
    x_scale, w_scale : float > 0
        Quantizer steps.

    Returns
    -------
    float64 ndarray (batch, out)

    Raises
    ------
    TypeError, ValueError
        Bad arrays, shapes or parameters (named).
    """
    from .crossbar import imc_matmul

    spec = _check_spec(spec)
    _, _, sx, sw, xc, wc, _, _ = _quantize_operands(x, w, spec, x_scale, w_scale)
    return (sx * sw) * imc_matmul(xc, wc, spec)


def crossbar_ste_grad(x, w, grad_y, spec: CrossbarSpec, *, x_scale: float, w_scale: float):
    r"""Straight-through gradients of :func:`crossbar_forward` w.r.t. the float activations and weights.

    **Multi-bit mode**: with :math:`P_t = x_{c,t} w_{c,t}` the tile sums and :math:`m_t` their ADC in-range
    masks, :math:`G_t = s_x s_w\,(\partial L/\partial Y) \odot m_t`, then
    :math:`\partial L/\partial X_{:,t} = (G_t w_{c,t}^\top / s_x) \odot m_x` and
    :math:`\partial L/\partial W_t = (x_{c,t}^\top G_t / s_w) \odot m_w` (:math:`m_x, m_w`: the operand quantizers'
    in-range masks). The exact derivative of the chain with every rounding residual frozen (the tests' finite
    differences).

    **BPBS mode** (bit-serial inputs, sliced weights): the output is
    :math:`y_j = \sum_{t,b,p,c} \kappa_{pbc}\,\mathrm{ADC}(a_{tbpcj}) - o_w \sum_k x_k + C \sum_k w_{kj}` with plane
    sums :math:`a_{tbpcj} = \sum_{k \in t} x_{bk}\, \gamma_{pckj}` (input planes :math:`x_b`, cells
    :math:`\gamma`, shift-and-add weights :math:`\kappa_{pbc} = \pi_p s_b s_c 2^{b + c\beta}`, the offset
    encoding's constant :math:`o_w`, the A-shift constant :math:`C`). The straight-through rule: each ADC passes
    its plane sum's gradient inside its range (mask :math:`m_{tbpcj}`, as :func:`adc_ste_grad`) and blocks it
    outside; the digit decompositions :math:`x = \sum_b s_b 2^b x_b` and
    :math:`w + o_w = \sum_{p,c} \pi_p s_c 2^{c\beta}\gamma_{pc}` are passed through their *minimum-norm* right
    inverse: a change :math:`\delta` of a code moves plane :math:`b` by :math:`\nu_b\delta`,
    :math:`\nu_b = s_b 2^b / \sum_{b'} 4^{b'}`, and cell :math:`(p, c)` by :math:`\lambda_{pc}\delta`,
    :math:`\lambda_{pc} = \pi_p s_c 2^{c\beta} / (n_{pol} \sum_{c'} 4^{c'\beta})`. Hence, with
    :math:`G = s_x s_w\,\partial L/\partial Y` and :math:`t` the tile of row :math:`k`,

    .. math:: \frac{\partial L}{\partial X_{ik}} = \frac{m_{x,ik}}{s_x}\sum_j G_{ij} \Big[\sum_{b,p,c} \nu_b
              \kappa_{pbc}\, m_{itbpcj}\,\gamma_{pckj} - o_w\Big],\qquad
              \frac{\partial L}{\partial W_{kj}} = \frac{m_{w,kj}}{s_w}\Big[\sum_i G_{ij} \sum_{b,p,c}
              \lambda_{pc} \kappa_{pbc}\, m_{itbpcj}\, x_{ibk} + C \sum_i G_{ij}\Big].

    With every mask 1 both reduce to the lossless gradients :math:`G w^\top / s_x` and :math:`x^\top G / s_w`
    (:math:`\sum_b \nu_b s_b 2^b = 1`, :math:`\sum_{p,c} \lambda_{pc}\pi_p s_c 2^{c\beta} = 1`). It is the exact
    derivative of the surrogate in which every rounding and ADC residual is frozen and the planes and cells move
    as stated (the tests' finite differences). The weighting of planes and cells is a choice (no bit-serial
    backward is given in the sources available for the paper); the minimum-norm one is the unique linear
    inverse of the recombination with the smallest plane and cell perturbation.

    Parameters
    ----------
    x : array_like (batch, K) of real, finite
        Float activations (as :func:`crossbar_forward`).
    w : array_like (K, out) of real, finite
        Float weights (as :func:`crossbar_forward`).
    grad_y : array_like (batch, out) of real, finite
        :math:`\partial L/\partial Y`.
    spec : CrossbarSpec
        The crossbar (either mode; any weight and input encoding, slice ranges and tiling).
    x_scale, w_scale : float > 0
        Quantizer steps.

    Returns
    -------
    (grad_x, grad_w) : float64 ndarrays of ``x``'s and ``w``'s shapes.

    Raises
    ------
    TypeError
        ``spec`` not a :class:`~refquant.specs.CrossbarSpec`, non-numeric arrays or scales.
    ValueError
        Arrays not 2-D or of mismatched shapes, NaN/inf, scales not positive.
    """
    from ._packing import _tiles
    from .crossbar import imc_matmul

    spec = _check_spec(spec)
    xv, wv, sx, sw, xc, wc, mx, mw = _quantize_operands(x, w, spec, x_scale, w_scale)
    g = as_real_array(grad_y, "grad_y").astype(np.float64)
    if g.shape != (xv.shape[0], wv.shape[1]):
        raise ValueError(f"grad_y must have shape {(xv.shape[0], wv.shape[1])}, got {g.shape}")
    _, det = imc_matmul(xc, wc, spec, return_details=True)
    c_shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
    xs = xc - c_shift  # the array's inputs (A-shift: compensation is constant in x)
    gs = (sx * sw) * g
    tiles = _tiles(xv.shape[1], spec.rows, spec.tiling)
    if spec.mode == "multibit":
        inside = _adc_inside((det.pre_adc - det.offset) / det.step, det.n_codes, spec.adc.transfer)  # (batch, T, out)
        gx = np.zeros_like(xv)
        gw = np.zeros_like(wv)
        for t, (t0, t1) in enumerate(tiles):
            gt = gs * inside[:, t, :]
            gx[:, t0:t1] = gt @ wc[t0:t1].T.astype(np.float64) / sx
            gw[t0:t1] = xs[:, t0:t1].T.astype(np.float64) @ gt / sw
    else:
        gx, gw = _bpbs_ste(xs, wc, gs, spec, det, tiles, sx, sw)
    if spec.a_shift:  # + C * sum_i w_ij added digitally: d/dW of s_x s_w C sum_i w_c,ij
        gw += c_shift * gs.sum(axis=0)[None, :] / sw
    return gx * mx, gw * mw


def _bpbs_ste(xs, wc, gs, spec: CrossbarSpec, det, tiles, sx, sw):
    """The BPBS part of :func:`crossbar_ste_grad` (all but the A-shift term and the operand masks)."""
    from ._packing import _cell_values, _input_planes, _weight_magnitudes

    o = np.asarray(det.offset, dtype=np.float64).reshape(-1)[:, None]  # per slice (S, 1), or one shared ADC
    d = np.asarray(det.step, dtype=np.float64).reshape(-1)[:, None]
    inside = _adc_inside((det.pre_adc - o) / d, det.n_codes, spec.adc.transfer)  # (batch, T, b, p, c, out)
    planes, plane_sign = _input_planes(xs, spec)  # (batch, nb, K)
    cells = _cell_values(wc, spec).astype(np.float64)  # (out, pol, S, K)
    _, slice_sign, pol, offset = _weight_magnitudes(wc, spec)
    nb, n_sl, beta = spec.n_planes, spec.n_slices, spec.slice_bits
    nu = plane_sign * 2.0 ** np.arange(nb) / np.sum(4.0 ** np.arange(nb))
    lam = (pol[:, None] * slice_sign[None, :] * 2.0 ** (beta * np.arange(n_sl))[None, :]) / (
        pol.size * np.sum(4.0 ** (beta * np.arange(n_sl)))
    )  # (pol, S)
    coef = det.coef  # (pol, nb, S)
    gx = np.zeros(xs.shape)
    gw = np.zeros(wc.shape)
    for t, (t0, t1) in enumerate(tiles):
        for b in range(nb):
            xb = planes[:, b, t0:t1].astype(np.float64)
            for p in range(pol.size):
                for c in range(n_sl):
                    gm = gs * inside[:, t, b, p, c, :]  # (batch, out)
                    gx[:, t0:t1] += (nu[b] * coef[p, b, c]) * (gm @ cells[:, p, c, t0:t1])
                    gw[t0:t1] += (lam[p, c] * coef[p, b, c]) * (xb.T @ gm)
    if offset:
        gx -= offset * gs.sum(axis=1)[:, None]
    return gx / sx, gw / sw


def bitaug_weight(epoch: int, n_epochs: int, *, hold_epochs: int = 10) -> float:
    r"""BitAug's weight of the augmented-precision loss at ``epoch``: a cosine from 1 to 0 over the first
    ``n_epochs - hold_epochs`` epochs, 0 for the last ``hold_epochs``.

    .. math:: \lambda(e) = \tfrac12\big(1 + \cos(\pi e / E')\big),\ e < E' = E - h; \qquad \lambda(e) = 0,\ e \ge E'

    Reconstructed from a public copy of apparently the authors' training code (loss = CE at the target ADC
    bits + :math:`\lambda` CE at a random ADC precision); ``hold_epochs`` is that code's 10. With
    ``n_epochs <= hold_epochs`` the weight is 0 throughout.

    Parameters
    ----------
    epoch : int, 0 <= epoch < n_epochs
        The current epoch (counted from 0).
    n_epochs : int >= 1
        Epochs of the whole run.
    hold_epochs : int >= 0
        Final epochs with weight 0 (the target precision alone).

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    TypeError, ValueError
        Non-integers or values out of range (named).

    Examples
    --------
    >>> [round(bitaug_weight(e, 14, hold_epochs=10), 3) for e in range(6)]
    [1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """
    n_epochs = check_int(n_epochs, "n_epochs", 1)
    epoch = check_int(epoch, "epoch", 0, n_epochs - 1)
    hold = check_int(hold_epochs, "hold_epochs", 0)
    span = n_epochs - hold
    if epoch >= span:
        return 0.0
    return 0.5 * (1.0 + math.cos(math.pi * epoch / span))


def bitaug_sample(rng, candidates=(7, 9, 10)) -> int:
    """BitAug's augmented ADC precision for one step: one of ``candidates``, uniformly, drawn with ``rng``.

    The candidate set {7, 9, 10} is that of a public copy of apparently the authors' training code (chosen
    on MobileNetV2 and reused for every network, per the paper's reviews); a parameter here.

    Parameters
    ----------
    rng : numpy.random.Generator or int seed
        The generator (explicit, so runs are reproducible).
    candidates : sequence of int
        Non-empty, each 1 <= bits <= 24.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        ``rng`` not a Generator/seed; ``candidates`` empty, not integers or out of range.

    Examples
    --------
    >>> import numpy as np
    >>> bitaug_sample(np.random.default_rng(0)) in (7, 9, 10)
    True
    """
    gen = as_rng(rng)
    if isinstance(candidates, (str, bytes)) or not hasattr(candidates, "__len__") or len(candidates) == 0:
        raise ValueError(f"candidates must be a non-empty sequence of ADC bit widths, got {candidates!r}")
    cands = [check_int(c, f"candidates[{i}]", 1, 24) for i, c in enumerate(candidates)]
    return int(cands[int(gen.integers(len(cands)))])


def _lora_factors(w, a, b):
    wv = as_real_array(w, "w").astype(np.float64)
    av = as_real_array(a, "a").astype(np.float64)
    bv = as_real_array(b, "b").astype(np.float64)
    if (
        wv.ndim != 2
        or av.ndim != 2
        or bv.ndim != 2
        or av.shape[0] != wv.shape[0]
        or bv.shape[1] != wv.shape[1]
        or av.shape[1] != bv.shape[0]
    ):
        raise ValueError(f"need w (K, out), a (K, r), b (r, out); got w {wv.shape}, a {av.shape}, b {bv.shape}")
    return wv, av, bv


def adc_lora_merge(w, a, b) -> np.ndarray:
    """ADC-LoRA's merge before programming: ``W + A @ B`` (float64), after which inference costs nothing extra.

    Parameters
    ----------
    w : array_like (K, out) of real, finite
        The frozen weights.
    a : array_like (K, r) of real, finite
        The left low-rank factor.
    b : array_like (r, out) of real, finite
        The right low-rank factor.

    Returns
    -------
    float64 ndarray (K, out)

    Raises
    ------
    TypeError, ValueError
        Bad arrays or shapes (named).
    """
    wv, av, bv = _lora_factors(w, a, b)
    return wv + av @ bv


def adc_lora_forward(x, w, a, b, spec: CrossbarSpec, *, x_scale: float, w_scale: float) -> np.ndarray:
    r"""ADC-LoRA's forward (eq. 11 of RAOQ): :math:`Y = Q_{ADC}(Q_x(X)\,Q_w(W + AB))` through the crossbar,
    i.e. :func:`crossbar_forward` of the merged weights (so the merged and unmerged chains agree bit for bit).

    Parameters
    ----------
    x : array_like (batch, K) of real, finite
        Float activations.
    w : array_like (K, out) of real, finite
        The frozen weights ``W``.
    a : array_like (K, r) of real, finite
        The trained left factor ``A``.
    b : array_like (r, out) of real, finite
        The trained right factor ``B``.
    spec : CrossbarSpec
        The crossbar (either mode).
    x_scale, w_scale : float > 0
        Quantizer steps (``w_scale`` is that of the frozen ``W``).

    Returns
    -------
    float64 ndarray (batch, out)

    Raises
    ------
    TypeError, ValueError
        Bad arrays, shapes or parameters (named).
    """
    return crossbar_forward(x, adc_lora_merge(w, a, b), spec, x_scale=x_scale, w_scale=w_scale)


def _ideal(x, w, spec, x_scale, w_scale):
    _, _, sx, sw, xc, wc, _, _ = _quantize_operands(x, w, spec, x_scale, w_scale)
    return (sx * sw) * (xc @ wc).astype(np.float64)


def adc_lora_objective(x, w, a, b, spec: CrossbarSpec, *, x_scale: float, w_scale: float) -> float:
    r"""Eq. 12 of RAOQ: :math:`\lVert Q_x(X)Q_w(W) - Q_{ADC}(Q_x(X)Q_w(W + AB))\rVert_F^2` (float units,
    :math:`s_x s_w` included; the first term is the exact integer product, no ADC).

    Parameters
    ----------
    x, w, a, b, spec, x_scale, w_scale
        As :func:`adc_lora_forward`.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        Bad arrays, shapes or parameters (named).
    """
    spec = _check_spec(spec)
    r = _ideal(x, w, spec, x_scale, w_scale) - adc_lora_forward(x, w, a, b, spec, x_scale=x_scale, w_scale=w_scale)
    return float(np.sum(r * r))


def adc_lora_grad(x, w, a, b, spec: CrossbarSpec, *, x_scale: float, w_scale: float):
    r"""Straight-through gradients of :func:`adc_lora_objective` w.r.t. ``A`` and ``B``.

    With :math:`W' = W + AB`, :math:`G = \partial J/\partial Y = 2(Y - R)` and
    :math:`G_{W'}` = :func:`crossbar_ste_grad` ``(X, W', G)[1]``: :math:`\partial J/\partial A = G_{W'}B^\top`,
    :math:`\partial J/\partial B = A^\top G_{W'}` (either mode: the bit-serial rule of :func:`crossbar_ste_grad`
    in BPBS mode).

    Parameters
    ----------
    x : array_like (batch, K) of real, finite
        Calibration activations.
    w : array_like (K, out) of real, finite
        The frozen weights ``W``.
    a : array_like (K, r) of real, finite
        The left factor ``A``.
    b : array_like (r, out) of real, finite
        The right factor ``B``.
    spec : CrossbarSpec
        The crossbar.
    x_scale, w_scale : float > 0
        Quantizer steps (``w_scale`` is that of the frozen ``W``).

    Returns
    -------
    (grad_a, grad_b) : float64 ndarrays of ``a``'s and ``b``'s shapes.

    Raises
    ------
    TypeError, ValueError
        As :func:`crossbar_ste_grad`.
    """
    spec = _check_spec(spec)
    wv, av, bv = _lora_factors(w, a, b)
    wm = wv + av @ bv
    y = crossbar_forward(x, wm, spec, x_scale=x_scale, w_scale=w_scale)
    g = 2.0 * (y - _ideal(x, w, spec, x_scale, w_scale))
    gw = crossbar_ste_grad(x, wm, g, spec, x_scale=x_scale, w_scale=w_scale)[1]
    return gw @ bv.T, av.T @ gw


def adc_lora_init(
    x,
    w,
    rank: int,
    spec: CrossbarSpec,
    *,
    x_scale: float,
    w_scale: float,
    rng,
    steps: int = 100,
    lr: float | None = None,
    init_scale: float = 0.01,
):
    r"""ADC-LoRA's MSE-based initialisation: ``A, B`` that lower eq. 12 on calibration activations ``X``.

    The paper's solver is not known from the sources available; this one is a reconstruction: ``A`` drawn
    :math:`\mathcal N(0, (\text{init\_scale}\cdot s_w)^2)`, ``B = 0`` (so :math:`AB = 0` at the start, the
    LoRA convention), then ``steps`` steps of gradient descent on the straight-through gradient
    (:func:`adc_lora_grad`) with step ``lr`` (default: :math:`s_w^2` over the objective's gradient scale,
    :math:`1/(\lVert X/s_x\rVert_F^2 s_x^2 \cdot 2)`). The objective is piecewise constant, so each
    iterate's *true* eq. 12 value is evaluated and the best one returned (never worse than the zero product
    ``AB = 0``, i.e. never worse than the ADC error of the frozen ``W``).

    Parameters
    ----------
    x : array_like (batch, K) of real, finite
        Calibration activations.
    w : array_like (K, out) of real, finite
        The frozen weights.
    rank : int, 1 <= rank <= min(K, out)
        Rank ``r`` of ``A`` (K, r) and ``B`` (r, out).
    spec : CrossbarSpec
        The crossbar (either mode).
    x_scale, w_scale : float > 0
        Quantizer steps, as :func:`crossbar_forward`.
    rng : numpy.random.Generator or int seed
        Draws the initial ``A`` (explicit, so runs are reproducible).
    steps : int, 0 <= steps <= 10**6
        Gradient steps.
    lr : float > 0 or None
        Step size (``None``: the default above).
    init_scale : float > 0
        Standard deviation of the initial ``A`` in units of ``w_scale``.

    Returns
    -------
    (a, b, history) : (ndarray (K, rank), ndarray (rank, out), list of float)
        The best factors and the eq. 12 value of every iterate (``history[0]`` at ``AB = 0``).

    Raises
    ------
    TypeError, ValueError
        Bad arrays, shapes or parameters (named).
    """
    spec = _check_spec(spec)
    wv = as_real_array(w, "w").astype(np.float64)
    xv = as_real_array(x, "x").astype(np.float64)
    if wv.ndim != 2:
        raise ValueError(f"w must be 2-D (K, out), got shape {wv.shape}")
    rank = check_int(rank, "rank", 1, min(wv.shape))
    steps = check_int(steps, "steps", 0, 10**6)  # bounded: each step is a full forward and backward pass
    sx, sw = _scale(x_scale, "x_scale"), _scale(w_scale, "w_scale")
    init_scale = check_real(init_scale, "init_scale", lo=0.0, lo_open=True)
    gen = as_rng(rng)
    if lr is None:
        lr = 1.0 / (2.0 * max(float(np.sum(xv * xv)), 1e-300) / max(xv.shape[0], 1))
    else:
        lr = check_real(lr, "lr", lo=0.0, lo_open=True)
    a = gen.normal(0.0, init_scale * sw, (wv.shape[0], rank))
    b = np.zeros((rank, wv.shape[1]))
    kw = dict(x_scale=sx, w_scale=sw)
    best = (adc_lora_objective(xv, wv, a, b, spec, **kw), a.copy(), b.copy())
    hist = [best[0]]
    for _ in range(steps):
        ga, gb = adc_lora_grad(xv, wv, a, b, spec, **kw)
        a, b = a - lr * ga / xv.shape[0], b - lr * gb / xv.shape[0]
        f = adc_lora_objective(xv, wv, a, b, spec, **kw)
        hist.append(f)
        if f < best[0]:
            best = (f, a.copy(), b.copy())
    return best[1], best[2], hist


def w_reshape_penalty(weights, *, target: float = 1.8, lam: float = 6e-4) -> float:
    r"""W-reshape as a training-time regulariser (RAOQ eqs. 6-7):
    :math:`\lambda \sum_l (\kappa(W_l) - \kappa_T)^2`, :math:`\kappa` the Pearson (non-excess) kurtosis.

    RAOQ's reimplementation uses :math:`\kappa_T = 1.8` (the uniform's) and :math:`\lambda \approx 6\cdot10^{-4}`;
    the sum over layers (not KURE's mean) is as described. Whether the paper applies it to the float or the
    quantized weights is not known from the sources; pass whichever your training uses.

    Parameters
    ----------
    weights : list or tuple of array_like
        One weight tensor per layer (>= 2 elements each, not constant).
    target : float >= 1
        Target kurtosis :math:`\kappa_T` (1.8: the uniform's).
    lam : float >= 0
        Weight :math:`\lambda` of the term.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        As :func:`refquant.kurtosis.kure_loss`, or a bad ``lam``.
    """
    from ..kurtosis import kure_loss

    lam = check_real(lam, "lam", lo=0.0)
    n = len(weights) if isinstance(weights, (list, tuple)) else 0
    return lam * n * kure_loss(weights, target)


def w_reshape_penalty_grad(weights, *, target: float = 1.8, lam: float = 6e-4) -> list[np.ndarray]:
    r"""Gradient of :func:`w_reshape_penalty` w.r.t. every weight: :math:`\lambda L` times
    :func:`refquant.kurtosis.kure_grad` (which is the gradient of the layer *mean*).

    Parameters
    ----------
    weights, target, lam
        As :func:`w_reshape_penalty`.

    Returns
    -------
    list of float64 ndarrays (the layers' shapes)

    Raises
    ------
    TypeError, ValueError
        As :func:`w_reshape_penalty`.
    """
    from ..kurtosis import kure_grad

    lam = check_real(lam, "lam", lo=0.0)
    n = len(weights) if isinstance(weights, (list, tuple)) else 0
    return [lam * n * g for g in kure_grad(weights, target)]
