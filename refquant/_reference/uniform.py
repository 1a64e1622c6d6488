"""Plain-NumPy twin of :mod:`refquant._kernels.uniform` (the oracle).

Written for obviousness: whole-array NumPy operations on the *original*
N-d shape, with per-channel parameters broadcast along ``axis`` (the kernel
instead walks a flat array and tracks the channel index). The rounding
modes are formulated differently from the kernel on purpose (``trunc`` /
``floor`` fraction tests instead of the kernel's ``rint`` residual), so a
shared mistake is unlikely. Both formulations are exact: a fraction
``v - trunc(v)`` or ``v - floor(v)`` of a float is compared with 0.5, and
that comparison is decided exactly (see docs/SEMANTICS.md).
"""
from __future__ import annotations

import numpy as np

_MODES = ("half_even", "half_away", "half_up", "floor", "stochastic")


def round_values(v: np.ndarray, mode: str, u: np.ndarray | None = None) -> np.ndarray:
    """Round the float array *v* to integers (same dtype) with the named mode."""
    with np.errstate(invalid="ignore", over="ignore"):
        if mode == "half_even":
            return np.rint(v)
        if mode == "half_away":
            t = np.trunc(v)
            frac = np.abs(v - t)
            return np.where(frac >= 0.5, t + np.sign(v), t)
        if mode == "half_up":
            f = np.floor(v)
            return np.where(v - f >= 0.5, f + 1, f)
        if mode == "floor":
            return np.floor(v)
        if mode == "stochastic":
            f = np.floor(v)
            up = u.reshape(v.shape) < (v - f)
            return np.where(up, f + 1, f)
    raise ValueError(f"unknown mode {mode!r}")


def _channel_view(p: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    if axis is None:
        return p.reshape(())
    shape = [1] * ndim
    shape[axis] = p.size
    return p.reshape(shape)


def quantize_codes(x, scale, zero_point, qmin, qmax, mode, scale_op, axis, u=None):
    """Float-valued codes ``clip(round(x/s) + z, qmin, qmax)`` in ``x.dtype``.

    ``x`` float32/float64 (the compute dtype); ``scale``/``zero_point`` 1-D
    arrays of the same dtype (length 1 per tensor, C per channel).
    """
    dt = x.dtype
    s = _channel_view(np.asarray(scale, dtype=dt), x.ndim, axis)
    z = _channel_view(np.asarray(zero_point, dtype=dt), x.ndim, axis)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if scale_op == "divide":
            v = x / s
        else:
            v = x * (dt.type(1) / s)
        q = round_values(v, mode, u) + z
    return np.clip(q, dt.type(qmin), dt.type(qmax)).astype(dt)


def fake_quant(x, scale, zero_point, qmin, qmax, mode, scale_op, axis, u=None):
    """``(quantize_codes(...) - z) * s`` in ``x.dtype``."""
    dt = x.dtype
    q = quantize_codes(x, scale, zero_point, qmin, qmax, mode, scale_op, axis, u)
    s = _channel_view(np.asarray(scale, dtype=dt), x.ndim, axis)
    z = _channel_view(np.asarray(zero_point, dtype=dt), x.ndim, axis)
    return ((q - z) * s).astype(dt)


def dequantize(codes, scale, zero_point, axis, dtype):
    """``(codes - z) * s`` computed in *dtype*."""
    dt = np.dtype(dtype)
    q = np.asarray(codes).astype(dt)
    s = _channel_view(np.asarray(scale, dtype=dt), q.ndim, axis)
    z = _channel_view(np.asarray(zero_point, dtype=dt), q.ndim, axis)
    return ((q - z) * s).astype(dt)
