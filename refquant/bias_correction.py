r"""Bias correction of quantized weights and activations per output channel (ACIQ, Banner et al. NeurIPS 2019,
eqs. 12–13, and its released code ``submission2019/cnn-quantization``).

Weights (:func:`bias_correct`; theory page ``docs/theory/aciq.md``, section "Bias correction"). For channel
``c`` with float weights :math:`W_c` and quantized weights :math:`W^q_c` (eq. 12):

.. math::
    \mu_c = E[W_c] - E[W^q_c], \qquad
    \xi_c = \frac{\lVert W_c - E[W_c]\rVert_2}{\lVert W^q_c - E[W^q_c]\rVert_2}

Methods:

* ``"mean_std"`` (default; the ACIQ code's ``-vcw`` then ``-bcw``): scale about
  the quantized mean, then shift: :math:`w \leftarrow (w - E[W^q_c])\,\xi_c + E[W_c]`.
  The corrected channel has exactly the float channel's mean and spread.
* ``"mean"`` (the code's ``-bcw``, the one its README headline uses):
  :math:`w \leftarrow w + \mu_c`. Mean restored, spread unchanged.
* ``"std"`` (the code's ``-vcw`` alone): scale about the quantized mean,
  :math:`w \leftarrow (w - E[W^q_c])\,\xi_c + E[W^q_c]`. Spread restored,
  mean unchanged.
* ``"paper"``: eq. 13 as printed, :math:`w \leftarrow \xi_c\,(w + \mu_c)`. Its
  corrected mean is :math:`\xi_c E[W_c]`, not :math:`E[W_c]`, unless
  :math:`\xi_c = 1` (the printed order read literally; provided to
  reproduce it, not recommended).

The code computes :math:`\xi_c` as a ratio of unbiased standard deviations
with :math:`10^{-8}` added to the denominator; the ratio itself does not
depend on the degrees of freedom, and refquant adds no epsilon (an exactly
constant quantized channel gets :math:`\xi_c = 1` instead).

Activations (:func:`activation_bias_correction`,
:func:`apply_activation_bias_correction`; the code's ``-bca``, not in the
paper): the expected shift of each output channel caused by quantization,
estimated on calibration data and subtracted. With float outputs :math:`y`
and quantized outputs :math:`y^q` of the same inputs, per channel ``c``:

* ``"mean"``: :math:`b_c = E[y_c] - E[y^q_c]`, corrected output
  :math:`y^q + b_c`. For a linear layer :math:`y = Wx` with quantized
  weights, :math:`b = (W - W^q)\,E[x]` exactly.
* ``"positive"`` (what the released ``-bca`` computes):
  :math:`b_c = \big(\sum y_c - \sum y^q_c\big) / \#\{y_c > 0\}`, added to
  the *positive* quantized outputs only, :math:`y^q + [\,y^q > 0\,]\,b_c` (the
  float outputs are taken after the ReLU that follows the layer; the code
  adds :math:`10^{-8}` to the count). Meant for post-ReLU outputs, where the
  zero outputs carry no rounding error. The released code evaluates it on
  the very batch being quantized (float outputs of that batch); computing it
  on a calibration set and applying it to new data is the deployable form
  (the commented-out cache in the code).

A channel whose quantized weights are all equal has no spread to rescale:
there :math:`\xi_c` is taken as 1 (only the mean is corrected) for
``"mean_std"`` and ``"paper"``.
"""

from __future__ import annotations

import numpy as np

from ._validate import (
    as_float_array,
    channel_rows,
    channel_unrows,
    check_axis,
    check_bool,
    check_choice,
    pow2_normalize,
)

__all__ = [
    "bias_correct",
    "METHODS",
    "activation_bias_correction",
    "apply_activation_bias_correction",
    "ACTIVATION_METHODS",
]

#: The ``method`` values of :func:`bias_correct`: which moments of each channel's quantized weights are
#: matched to the float weights' (``"mean_std"``, ``"mean"``, ``"std"``) or the paper's eq. 13 form (``"paper"``).
METHODS = ("mean_std", "mean", "std", "paper")
#: The ``method`` values of :func:`activation_bias_correction` and :func:`apply_activation_bias_correction`.
ACTIVATION_METHODS = ("mean", "positive")


def bias_correct(w, w_q, axis: int = 0, *, method: str = "mean_std", return_stats: bool = False):
    r"""Correct the per-channel mean (and spread) of quantized weights ``w_q`` toward the float weights ``w``.

    Parameters
    ----------
    w, w_q : array_like
        The float weights and their quantized values: same shape, real, finite, non-empty.
    axis : int
        The output-channel axis (statistics over all other axes).
    method : {"mean_std", "mean", "std", "paper"}
        Which moments are corrected (see the module docstring); default ``"mean_std"``.
    return_stats : bool
        Also return ``(mu, xi)`` per channel (float64, shape ``(C,)``).

    Returns
    -------
    corrected : numpy.ndarray
        The corrected weights, float64, shape of ``w`` (no longer on the quantization grid: the correction is
        meant to be folded into the layer's scale and bias).
    mu : numpy.ndarray
        Only with ``return_stats``: :math:`\mu_c`, float64, shape ``(C,)``.
    xi : numpy.ndarray
        Only with ``return_stats``: :math:`\xi_c`, float64, shape ``(C,)`` (1 for a constant quantized channel).

    Raises
    ------
    TypeError
        ``w``/``w_q`` not real numeric arrays (complex, bool, object, str); ``axis`` not an int;
        ``method`` not a str; ``return_stats`` not a bool.
    ValueError
        Shapes differ; 0-d, empty or non-finite input; ``axis`` out of range; empty channels;
        unknown ``method``.

    Notes
    -----
    Scale-equivariant: computed on ``w`` and ``w_q`` divided by one exact power
    of two and rescaled, so magnitudes up to the float64 limit do not overflow
    the channel norms.

    References
    ----------
    Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for
    rapid-deployment", NeurIPS 2019, eqs. 12–13.

    Examples
    --------
    >>> bias_correct([[0.1, 0.5, 0.3]], [[0.0, 0.5, 0.5]], method="mean").round(6).tolist()
    [[-0.033333, 0.466667, 0.466667]]
    """
    check_choice(method, METHODS, "method")
    return_stats = check_bool(return_stats, "return_stats")
    wf = as_float_array(w, "w", min_ndim=1)
    wq = as_float_array(w_q, "w_q")
    if wf.shape != wq.shape:
        raise ValueError(f"w_q has shape {wq.shape} but w has shape {wf.shape}; they must match")
    # the correction is scale-equivariant: work on both tensors divided by one exact power of two
    # (no overflow of the squared norms at 1e300, no underflow at 1e-300) and rescale the result
    e = pow2_normalize(np.concatenate([wf.ravel(), wq.ravel()]))[1]
    wf, wq = np.ldexp(wf, -e), np.ldexp(wq, -e)
    ax = check_axis(axis, wf.ndim, "axis")
    a = np.moveaxis(wf, ax, 0).reshape(wf.shape[ax], -1)
    aq = np.moveaxis(wq, ax, 0).reshape(wf.shape[ax], -1)
    if a.shape[1] == 0:
        raise ValueError(f"w has empty channels (shape {wf.shape}, axis={axis})")
    m, mq = a.mean(axis=1), aq.mean(axis=1)
    dev, devq = a - m[:, None], aq - mq[:, None]
    nrm, nrmq = np.linalg.norm(dev, axis=1), np.linalg.norm(devq, axis=1)
    xi = np.divide(nrm, nrmq, out=np.ones_like(nrm), where=nrmq > 0)
    mu = m - mq
    if method == "mean_std":
        out = devq * xi[:, None] + m[:, None]
    elif method == "mean":
        out = aq + mu[:, None]
    elif method == "std":
        out = devq * xi[:, None] + mq[:, None]
    else:
        out = xi[:, None] * (aq + mu[:, None])
    res = np.ldexp(channel_unrows(out, wf.shape, ax), e)
    mu = np.ldexp(mu, e)
    return (res, mu, xi) if return_stats else res


def _check_activation_method(method) -> str:
    return check_choice(method, ACTIVATION_METHODS, "method")


def activation_bias_correction(y, y_q, axis: int = 1, *, method: str = "mean") -> np.ndarray:
    r"""Per-output-channel correction of the quantization shift of activations, from calibration outputs.

    .. math:: b_c = E[y_c] - E[y^q_c] \quad(\text{"mean"}), \qquad
              b_c = \frac{\sum y_c - \sum y^q_c}{\#\{y_c > 0\}} \quad(\text{"positive"})

    (sums and counts over every element of channel ``c``: batch and spatial
    positions). Apply it with :func:`apply_activation_bias_correction`.

    Parameters
    ----------
    y : array_like
        The float (reference) outputs of the layer on calibration inputs (real, finite), taken after the
        following ReLU for ``"positive"``.
    y_q : array_like
        The quantized layer's outputs on the same inputs, same shape as ``y``.
    axis : int
        The channel axis (1 for NCHW / ``(N, C)`` outputs).
    method : {"mean", "positive"}
        The correction rule (see the module docstring).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(C,)``: :math:`b_c`. For ``"positive"`` a channel with no positive float output gets 0
        (nothing to correct; the code divides by its epsilon instead).

    Raises
    ------
    TypeError
        ``y``/``y_q`` not real numeric arrays (complex, bool, object, str); ``axis`` not an int
        (``None`` included); ``method`` not a str.
    ValueError
        Shape mismatch, NaN/inf, empty or 0-d input, ``axis`` out of range, an empty channel,
        unknown ``method``; a correction beyond the float64 range.

    Notes
    -----
    Scale-equivariant: computed on ``y`` and ``y_q`` divided by one exact power of two and
    rescaled, so outputs up to the float64 limit do not overflow the channel sums.

    References
    ----------
    Banner, Nahshan & Soudry, NeurIPS 2019 (bias correction, Sec. 4); the
    activation variant is the released code's ``-bca`` option (``Conv2dWithId.forward``).

    Examples
    --------
    >>> y = [[1.0, 0.0], [3.0, 2.0]]          # (N=2, C=2)
    >>> y_q = [[0.5, 0.0], [2.5, 2.0]]
    >>> activation_bias_correction(y, y_q).tolist()
    [0.5, 0.0]
    >>> activation_bias_correction(y, y_q, method="positive").tolist()   # channel 1: 0 / 1
    [0.5, 0.0]
    """
    method = _check_activation_method(method)
    yf = as_float_array(y, "y", min_ndim=1)
    yq = as_float_array(y_q, "y_q")
    if yf.shape != yq.shape:
        raise ValueError(f"y_q has shape {yq.shape} but y has shape {yf.shape}; they must match")
    if axis is None:
        raise TypeError("axis must be an integer (the channel axis), got axis=None")
    # scale-equivariant: both tensors divided by one exact power of two (the channel sums of 1e308
    # cannot overflow), the correction rescaled at the end
    e = pow2_normalize(np.concatenate([yf.ravel(), yq.ravel()]))[1]
    a = channel_rows(np.ldexp(yf, -e), axis, "y")
    aq = channel_rows(np.ldexp(yq, -e), axis, "y_q")
    if method == "mean":
        b = a.mean(axis=1) - aq.mean(axis=1)
    else:
        diff = a.sum(axis=1) - aq.sum(axis=1)
        cnt = np.count_nonzero(a > 0, axis=1).astype(np.float64)
        b = np.divide(diff, cnt, out=np.zeros_like(diff), where=cnt > 0)
    return _rescaled(b, e, "y/y_q: the correction")


def _rescaled(v: np.ndarray, e: int, what: str) -> np.ndarray:
    """``v * 2**e``; a ``ValueError`` instead of inf when the result leaves the float64 range."""
    with np.errstate(over="ignore"):
        out = np.ldexp(v, e)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{what} exceeds the float64 range (|value| > 1.8e308); rescale the outputs")
    return out


def apply_activation_bias_correction(y_q, correction, axis: int = 1, *, method: str = "mean") -> np.ndarray:
    r"""Add a per-channel correction to quantized outputs: :math:`y^q + b_c` (``"mean"``) or
    :math:`y^q + [\,y^q > 0\,]\,b_c` (``"positive"``, the released ``-bca``).

    Parameters
    ----------
    y_q : array_like
        The quantized outputs: real, finite.
    correction : array_like
        The per-channel correction, shape ``(C,)``, from :func:`activation_bias_correction`.
    axis : int
        The channel axis of ``y_q``.
    method : {"mean", "positive"}
        The rule used to compute ``correction``.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``y_q``: the corrected outputs (a new array; ``y_q`` is not modified).

    Raises
    ------
    TypeError
        ``y_q``/``correction`` not real numeric arrays; ``axis`` not an int; ``method`` not a str.
    ValueError
        NaN/inf, empty or 0-d ``y_q``; ``correction`` not of shape ``(C,)`` or not finite;
        ``axis`` out of range; unknown ``method``; a corrected output beyond the float64 range.

    References
    ----------
    The released ACIQ code (``submission2019/cnn-quantization``), option ``-bca``; not in the paper
    (see the module docstring).

    Examples
    --------
    >>> apply_activation_bias_correction([[0.5, 0.0], [2.5, 2.0]], [0.5, 0.25], method="positive").tolist()
    [[1.0, 0.0], [3.0, 2.25]]
    """
    method = _check_activation_method(method)
    yq = as_float_array(y_q, "y_q", min_ndim=1)
    ax = check_axis(axis, yq.ndim, "axis")
    b = as_float_array(correction, "correction")
    if b.shape != (yq.shape[ax],):
        raise ValueError(f"correction has shape {b.shape}; expected ({yq.shape[ax]},), one value per channel of y_q")
    shape = [1] * yq.ndim
    shape[ax] = b.size
    bb = b.reshape(shape)
    with np.errstate(over="ignore"):
        out = yq + bb if method == "mean" else yq + np.where(yq > 0, bb, 0.0)
    if not np.all(np.isfinite(out)):
        raise ValueError("y_q + correction exceeds the float64 range (|value| > 1.8e308)")
    return out
