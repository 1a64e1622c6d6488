r"""Bias correction of quantized weights and activations per output channel (ACIQ, Banner et al. NeurIPS 2019,
eqs. 12–13, and its released code ``submission2019/cnn-quantization``).

Weights (:func:`bias_correct`). For channel ``c`` with float weights
:math:`W_c` and quantized weights :math:`W^q_c` (eq. 12):

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

from ._validate import as_real_array, channel_rows, check_axis
from .specs import _choice

__all__ = ["bias_correct", "METHODS", "activation_bias_correction", "apply_activation_bias_correction",
           "ACTIVATION_METHODS"]

METHODS = ("mean_std", "mean", "std", "paper")
ACTIVATION_METHODS = ("mean", "positive")


def bias_correct(w, w_q, axis: int = 0, *, method: str = "mean_std", return_stats: bool = False):
    """Correct the per-channel mean (and spread) of quantized weights ``w_q`` toward the float weights ``w``.

    Parameters
    ----------
    w, w_q : array_like, same shape, real, finite, non-empty.
    axis : int, the output-channel axis (statistics over all other axes).
    method : "mean_std" (default), "mean", "std" or "paper" (module docstring).
    return_stats : also return ``(mu, xi)`` per channel (float64, shape ``(C,)``).

    Returns
    -------
    Corrected weights, float64 (no longer on the quantization grid: the
    correction is meant to be folded into the layer's scale and bias); with
    ``return_stats``, ``(corrected, mu, xi)``.

    Raises
    ------
    TypeError
        Non-real arrays, a non-integer ``axis``.
    ValueError
        Unknown ``method``, shape mismatch, NaN/inf, 0-d or empty channels,
        ``axis`` out of range.

    References
    ----------
    Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for
    rapid-deployment", NeurIPS 2019, eqs. 12–13.

    Examples
    --------
    >>> bias_correct([[0.1, 0.5, 0.3]], [[0.0, 0.5, 0.5]], method="mean").round(6).tolist()
    [[-0.033333, 0.466667, 0.466667]]
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}; allowed: {', '.join(map(repr, METHODS))}")
    wf = as_real_array(w, "w").astype(np.float64)
    wq = as_real_array(w_q, "w_q").astype(np.float64)
    if wf.shape != wq.shape:
        raise ValueError(f"w_q has shape {wq.shape} but w has shape {wf.shape}; they must match")
    if wf.ndim == 0:
        raise ValueError("w must have at least one dimension (the channel axis)")
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
    moved = list(wf.shape)
    moved.insert(0, moved.pop(ax))
    res = np.moveaxis(out.reshape(moved), 0, ax)
    return (res, mu, xi) if return_stats else res


def _check_activation_method(method) -> str:
    return _choice(method, ACTIVATION_METHODS, "method")


def activation_bias_correction(y, y_q, axis: int = 1, *, method: str = "mean") -> np.ndarray:
    r"""Per-output-channel correction of the quantization shift of activations, from calibration outputs.

    .. math:: b_c = E[y_c] - E[y^q_c] \quad(\text{"mean"}), \qquad
              b_c = \frac{\sum y_c - \sum y^q_c}{\#\{y_c > 0\}} \quad(\text{"positive"})

    (sums and counts over every element of channel ``c``: batch and spatial
    positions). Apply it with :func:`apply_activation_bias_correction`.

    Parameters
    ----------
    y : array_like, real, finite: float (reference) outputs of the layer on
        calibration inputs -- after the following ReLU for ``"positive"``.
    y_q : array_like, same shape: the quantized layer's outputs on the same inputs.
    axis : int, the channel axis (1 for NCHW / ``(N, C)`` outputs).
    method : {"mean", "positive"} (module docstring).

    Returns
    -------
    float64 ndarray of shape ``(C,)``. For ``"positive"`` a channel with no
    positive float output gets 0 (nothing to correct; the code divides by
    its epsilon instead).

    Raises
    ------
    TypeError
        Non-real arrays, a non-integer ``axis``, a non-string ``method``.
    ValueError
        Shape mismatch, NaN/inf, empty or 0-d input, ``axis`` out of range,
        unknown ``method``.

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
    yf = as_real_array(y, "y").astype(np.float64)
    yq = as_real_array(y_q, "y_q").astype(np.float64)
    if yf.shape != yq.shape:
        raise ValueError(f"y_q has shape {yq.shape} but y has shape {yf.shape}; they must match")
    if axis is None:
        raise TypeError("axis must be an integer (the channel axis), got axis=None")
    a = channel_rows(yf, axis, "y")
    aq = channel_rows(yq, axis, "y_q")
    if method == "mean":
        return a.mean(axis=1) - aq.mean(axis=1)
    diff = a.sum(axis=1) - aq.sum(axis=1)
    cnt = np.count_nonzero(a > 0, axis=1).astype(np.float64)
    return np.divide(diff, cnt, out=np.zeros_like(diff), where=cnt > 0)


def apply_activation_bias_correction(y_q, correction, axis: int = 1, *, method: str = "mean") -> np.ndarray:
    r"""Add a per-channel correction to quantized outputs: :math:`y^q + b_c` (``"mean"``) or
    :math:`y^q + [\,y^q > 0\,]\,b_c` (``"positive"``, the released ``-bca``).

    Parameters
    ----------
    y_q : array_like, real, finite: quantized outputs.
    correction : array_like, shape ``(C,)``: from :func:`activation_bias_correction`.
    axis : int, the channel axis of ``y_q``.
    method : {"mean", "positive"}, as used to compute ``correction``.

    Returns
    -------
    float64 ndarray of ``y_q``'s shape (a new array; ``y_q`` is not modified).

    Raises
    ------
    TypeError, ValueError
        Non-real or non-finite input, ``correction`` not of shape ``(C,)``,
        a bad ``axis`` or ``method``.

    Examples
    --------
    >>> apply_activation_bias_correction([[0.5, 0.0], [2.5, 2.0]], [0.5, 0.25], method="positive").tolist()
    [[1.0, 0.0], [3.0, 2.25]]
    """
    method = _check_activation_method(method)
    yq = as_real_array(y_q, "y_q").astype(np.float64)
    if yq.ndim == 0:
        raise ValueError("y_q must have at least one dimension (the channel axis)")
    ax = check_axis(axis, yq.ndim, "axis")
    b = as_real_array(correction, "correction").astype(np.float64)
    if b.shape != (yq.shape[ax],):
        raise ValueError(f"correction has shape {b.shape}; expected ({yq.shape[ax]},), one value per channel of y_q")
    shape = [1] * yq.ndim
    shape[ax] = b.size
    bb = b.reshape(shape)
    return yq + bb if method == "mean" else yq + np.where(yq > 0, bb, 0.0)
