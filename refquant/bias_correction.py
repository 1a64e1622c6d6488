r"""Bias correction of quantized weights per output channel (ACIQ, Banner et al. NeurIPS 2019, eqs. 12–13).

Theory page: ``docs/theory/aciq.md``, section "Bias correction". For channel ``c`` with float weights
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
* ``"paper"``: eq. 13 as printed, :math:`w \leftarrow \xi_c\,(w + \mu_c)`. Its
  corrected mean is :math:`\xi_c E[W_c]`, not :math:`E[W_c]`, unless
  :math:`\xi_c = 1` (the note reads the printed order literally; provided to
  reproduce it, not recommended).

A channel whose quantized weights are all equal has no spread to rescale:
there :math:`\xi_c` is taken as 1 (only the mean is corrected) for
``"mean_std"`` and ``"paper"``.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_float_array, check_axis, check_bool, check_choice, pow2_normalize

__all__ = ["bias_correct", "METHODS"]

METHODS = ("mean_std", "mean", "paper")


def bias_correct(w, w_q, axis: int = 0, *, method: str = "mean_std", return_stats: bool = False):
    """Correct the per-channel mean (and spread) of quantized weights ``w_q`` toward the float weights ``w``.

    Parameters
    ----------
    w, w_q : array_like, same shape, real, finite, non-empty.
    axis : int, the output-channel axis (statistics over all other axes).
    method : "mean_std" (default), "mean" or "paper" (module docstring).
    return_stats : also return ``(mu, xi)`` per channel (float64, shape ``(C,)``).

    Returns
    -------
    Corrected weights, float64 (no longer on the quantization grid: the
    correction is meant to be folded into the layer's scale and bias).

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
    else:
        out = xi[:, None] * (aq + mu[:, None])
    moved = list(wf.shape)
    moved.insert(0, moved.pop(ax))
    res = np.ldexp(np.moveaxis(out.reshape(moved), 0, ax), e)
    mu = np.ldexp(mu, e)
    return (res, mu, xi) if return_stats else res
