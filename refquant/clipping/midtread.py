r"""The ACIQ code's mid-tread quantizer with a real bin count (its ``-mtq`` path)."""

from __future__ import annotations

import numpy as np

from .._validate import as_float_array, as_real_array, channel_rows, channel_unrows, check_bool, pow2_normalize


def _per_channel(value, name: str, c: int, **kw) -> np.ndarray:
    v = as_float_array(value, name, **kw)
    if v.ndim > 1 or v.size not in (1, c):
        raise ValueError(f"{name} must be a scalar or one value per channel ({c}), got {name}.shape={v.shape}")
    return np.broadcast_to(v.reshape(-1), (c,))


def quantize_mid_tread(x, bins, *, axis: int | None = None, alpha=None, mean=None, signed: bool = True) -> np.ndarray:
    r"""The mid-tread quantizer of the ACIQ code's real-bin-count path, per channel.

    For each channel (the values at one index of ``axis``; the whole tensor for ``axis=None``) with bin
    count :math:`\omega` (``bins``, a real number :math:`\ge 0`; the code passes eq. 10's
    :math:`B\,\sigma_c^{2/3}/\sum_i \sigma_i^{2/3}` rounded to an integer):

    * range :math:`R`: without ``alpha`` (the code's weight path, no clipping) :math:`R = \max - \min`
      (``signed``) or :math:`R = \max` (unsigned); with ``alpha`` (the activation path)
      :math:`R = 2\alpha` (``signed``) or :math:`R = \max(\mu, 0) + \alpha` (unsigned);
    * step :math:`\Delta = R/\omega`;
    * codes :math:`q = \mathrm{round}(x/\Delta)`, ties to even (``torch.round``);
    * with ``alpha`` only, a clamp in code units, upper bound first:
      :math:`q \leftarrow \max(\min(q, c_{max}), c_{min})` with :math:`\mu_q = \mu/\Delta`,
      :math:`c_{max} = \mu_q + \omega/2`, :math:`c_{min} = \mu_q - \omega/2` (``signed``) or
      :math:`\mu_q = \max(\mu, 0)/\Delta`, :math:`c_{max} = \mu_q + \omega`, :math:`c_{min} = 0` (unsigned);
    * output :math:`q\,\Delta`.

    This is ``IntQuantizer.mid_tread_quantization`` of ``submission2019/cnn-quantization``, computed in
    float64 in the same order (the code runs in float32). Three properties of it differ from the
    paper's mid-tread model (:func:`~refquant.clipping.mse_aciq` with ``bins=``) and from the grid the code's
    other paths run:

    * the clamp bounds :math:`c_{min}, c_{max}` are not integers in general, so a clipped value lands *off*
      the grid :math:`k\Delta` (at :math:`\mu \pm \alpha`, signed);
    * the signed range is centred on :math:`\mu` while the grid is centred on 0;
    * the unsigned range ends at :math:`(\mu_q + \omega)\Delta = 2\max(\mu, 0) + \alpha`, not at
      :math:`\max(\mu, 0) + \alpha` as in the code's 2^M-level path (:func:`~refquant.clipping.clip_range`).

    Without ``alpha`` nothing is clamped: the weight path rounds to the step of its range and keeps every
    level the data reach.

    A channel with :math:`\omega = 0` bins: the code's step is then the float32 maximum, so every code is 0
    (every float32 value below half that maximum); the output is 0, except on the signed clip path, where the
    clamp :math:`c_{min} = c_{max} = \mu_q` makes it the channel mean :math:`\mu` (the code: up to the rounding
    of :math:`(\mu/\Delta)\Delta`).

    Parameters
    ----------
    x : array_like
        The tensor (real, finite, non-empty; computed in float64). Unsigned without ``alpha``: ``x >= 0``.
    bins : float or array_like
        The bin count :math:`\omega \ge 0` (finite), a scalar or one per channel.
    axis : int or None
        The channel axis (``None``: one channel, the whole tensor).
    alpha : float or array_like, optional
        The clipping value :math:`\alpha > 0` (the code's ``alpha_mult * b``), scalar or per channel;
        ``None``: the no-clip (weight) path.
    mean : float or array_like, optional
        The channel means :math:`\mu` of the clamp (finite; default the mean of each channel's values, as the
        code computes them); used only with ``alpha``.
    signed : bool
        Two-sided range (``True``) or the one-sided post-ReLU range (``False``; the code's ``sym=False``).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``x``. A channel with bins whose range :math:`R` is 0 (constant, or all zero
        without ``alpha``) is returned unchanged: the code divides by a zero step there and returns NaN.

    Raises
    ------
    TypeError
        ``x``/``bins``/``alpha``/``mean`` not real numeric arrays (bool, complex, object, str); ``axis`` not
        an int or None; ``signed`` not a bool.
    ValueError
        NaN/inf or empty arrays, negative ``bins``, ``alpha <= 0``, a per-channel array of the wrong length,
        ``axis`` out of range, ``mean`` without ``alpha``, negative ``x`` on the unsigned no-clip path, a
        range or a step :math:`R/\omega` that overflows float64.

    References
    ----------
    Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional networks for
    rapid-deployment", NeurIPS 2019 (eqs. 5-6 with a real number of bins); the released code's
    ``-mtq`` option.

    Examples
    --------
    >>> quantize_mid_tread([-2.0, -0.3, 0.2, 0.9, 5.0], 4.0, alpha=1.0, mean=0.0).tolist()
    [-1.0, -0.5, 0.0, 1.0, 1.0]
    >>> quantize_mid_tread([0.1, 0.5, 0.8, 3.0], 3.0, alpha=1.0, mean=0.5, signed=False).tolist()   # ends at 2
    [0.0, 0.5, 1.0, 2.0]
    """
    signed = check_bool(signed, "signed")
    a = as_real_array(x, "x")
    shape = a.shape
    v = np.array(channel_rows(a, axis, "x"), dtype=np.float64)
    c = v.shape[0]
    omega = _per_channel(bins, "bins", c)
    if np.any(omega < 0):
        raise ValueError(f"bins must be >= 0 everywhere, got {float(omega[omega < 0][0])!r}")
    if alpha is None:
        if mean is not None:
            raise ValueError("mean is used only with alpha (the clamp of the activation path); got alpha=None")
        if signed:
            with np.errstate(over="ignore"):  # an overflowing range is refused below
                rng = v.max(axis=1) - v.min(axis=1)
        else:
            if np.any(v < 0):
                raise ValueError("x must be >= 0 for signed=False without alpha (the range is [0, max(x)])")
            rng = v.max(axis=1)
    else:
        al = _per_channel(alpha, "alpha", c, positive=True)
        if mean is None:  # the channel means, computed on x scaled by a power of two (no overflow of the sum)
            vs, e = pow2_normalize(v)
            mu = np.ldexp(vs.mean(axis=1), e)
        else:
            mu = _per_channel(mean, "mean", c)
        with np.errstate(over="ignore"):
            rng = 2.0 * al if signed else np.maximum(mu, 0.0) + al
    if not np.all(np.isfinite(rng)):
        raise ValueError("x/alpha/mean: the range overflows float64; rescale the data first")
    live = (omega > 0) & (rng > 0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        delta = np.where(live, rng / np.where(live, omega, 1.0), 1.0)
    if not np.all(np.isfinite(delta)):
        raise ValueError("bins: the step R/bins overflows float64 (bins too small for the range)")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        q = np.rint(v / delta[:, None])
        if alpha is not None:
            mu_q = (mu if signed else np.maximum(mu, 0.0)) / delta
            c_max = mu_q + (omega / 2 if signed else omega)
            c_min = mu_q - omega / 2 if signed else np.zeros(c)
            q = np.maximum(np.minimum(q, c_max[:, None]), c_min[:, None])
        out = q * delta[:, None]
    # no bins: the code's step is the float32 maximum, so every code is 0 -- clamped to mu_q on the signed
    # clip path, where the output is the mean; a zero range (alpha=None): the code divides by 0, we keep x
    no_bins = 0.0 if alpha is None or not signed else mu
    out = np.where((omega > 0)[:, None], out, np.broadcast_to(no_bins, (c,))[:, None])
    out = np.where(((omega > 0) & (rng == 0))[:, None], v, out)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "x/bins/alpha/mean: the codes x/step or the clamp bound mean + alpha overflow float64; "
            "rescale the data or use fewer bins"
        )
    return channel_unrows(out, shape, axis)
