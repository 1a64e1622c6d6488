"""The RAOQ training checkers accept the reference and catch a planted bug each."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refquant import imc as I
from refquant.testing import (
    ConformanceError,
    check_adc_lora_forward,
    check_adc_ste_grad,
    check_bitaug_weight,
    check_crossbar_ste_grad,
    check_crossbar_ste_grad_bpbs,
    check_w_reshape_grad,
)

N = 25


def _ste(a, g, o, d, n, tr):
    return I.adc_ste_grad(a, g, offset=o, step=d, n_codes=n, transfer=tr)


def test_adc_ste_grad_checker():
    check_adc_ste_grad(_ste, max_examples=N)

    def no_clip_mask(a, g, o, d, n, tr):  # planted: passes the gradient through clipped values too
        ga, go, gd = _ste(a, g, o, d, n, tr)
        return g.copy(), go, gd

    with pytest.raises(ConformanceError, match="grad_a"):
        check_adc_ste_grad(no_clip_mask, max_examples=N)

    def naive_step_grad(a, g, o, d, n, tr):  # planted: drops LSQ's -t term
        ga, go, _ = _ste(a, g, o, d, n, tr)
        return ga, go, float(np.sum(g * I.adc_fake_quant(a, offset=0.0, step=1.0, n_codes=n, transfer=tr)))

    with pytest.raises(ConformanceError, match="grad_offset, grad_step"):
        check_adc_ste_grad(naive_step_grad, max_examples=N)


def test_crossbar_ste_grad_checker():
    def ref(x, w, g, spec, sx, sw):
        return I.crossbar_ste_grad(x, w, g, spec, x_scale=sx, w_scale=sw)

    check_crossbar_ste_grad(ref, max_examples=10)

    def no_adc_mask(x, w, g, spec, sx, sw):  # planted: ignores ADC clipping (plain matmul STE)
        lo, hi = spec.x_range
        xc = np.clip(np.rint(x / sx), lo, hi)
        wc = np.clip(np.rint(w / sw), -spec.w_max, spec.w_max)
        mx = (x / sx >= lo) & (x / sx <= hi)
        mw = np.abs(w / sw) <= spec.w_max
        return (g @ wc.T) * sw * mx, (xc.T @ g) * sx * mw

    with pytest.raises(ConformanceError, match="crossbar_ste_grad"):
        check_crossbar_ste_grad(no_adc_mask, max_examples=20)


def test_crossbar_ste_grad_bpbs_checker():
    def ref(x, w, g, spec, sx, sw):
        return I.crossbar_ste_grad(x, w, g, spec, x_scale=sx, w_scale=sw)

    check_crossbar_ste_grad_bpbs(ref, max_examples=8)

    def no_plane_masks(x, w, g, spec, sx, sw):  # planted: the lossless gradient, blind to every clipped plane sum
        lo, hi = spec.x_range
        shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
        xc = np.clip(np.rint(x / sx), lo, hi) - shift
        wc = np.clip(np.rint(w / sw), -spec.w_max, spec.w_max)
        mx = (x / sx >= lo) & (x / sx <= hi)
        mw = np.abs(w / sw) <= spec.w_max
        return (g @ wc.T) * sw * mx, (xc.T @ g + shift * g.sum(axis=0)) * sx * mw

    with pytest.raises(ConformanceError, match="crossbar_ste_grad bpbs"):
        check_crossbar_ste_grad_bpbs(no_plane_masks, max_examples=20)

    def slightly_off(x, w, g, spec, sx, sw):  # planted: grad_x off by 1e-7 relative (the tolerance is 1e-10)
        gx, gw = ref(x, w, g, spec, sx, sw)
        return gx * (1 + 1e-7) + 1e-7, gw

    with pytest.raises(ConformanceError, match="grad_x"):
        check_crossbar_ste_grad_bpbs(slightly_off, max_examples=5)


def test_bitaug_weight_checker():
    check_bitaug_weight(lambda e, n, h: I.bitaug_weight(e, n, hold_epochs=h), max_examples=N)

    def linear(e, n, h):  # planted: a linear ramp instead of the cosine
        return max(0.0, 1.0 - e / (n - h)) if n > h else 0.0

    with pytest.raises(ConformanceError, match="bitaug_weight"):
        check_bitaug_weight(linear, max_examples=N)

    def cosine_over_all(e, n, h):  # planted: forgets the hold at the end
        return 0.5 * (1 + math.cos(math.pi * e / n))

    with pytest.raises(ConformanceError, match="bitaug_weight"):
        check_bitaug_weight(cosine_over_all, max_examples=N)


def test_adc_lora_forward_checker():
    def ref(x, w, a, b, spec, sx, sw):
        return I.adc_lora_forward(x, w, a, b, spec, x_scale=sx, w_scale=sw)

    check_adc_lora_forward(ref, max_examples=10)

    def lora_after_quant(x, w, a, b, spec, sx, sw):  # planted: adds A B after quantizing W (not eq. 11)
        lo, hi = spec.x_range
        xc = np.clip(np.rint(x / sx), lo, hi).astype(np.int64)
        wc = np.clip(np.rint(w / sw), -spec.w_max, spec.w_max).astype(np.int64)
        return sx * sw * I.imc_matmul(xc, wc, spec) + x @ (a @ b)

    with pytest.raises(ConformanceError, match="adc_lora_forward"):
        check_adc_lora_forward(lora_after_quant, max_examples=20)


def test_w_reshape_grad_checker():
    check_w_reshape_grad(lambda ws, t, lam: I.w_reshape_penalty_grad(ws, target=t, lam=lam), max_examples=N)

    def mean_not_sum(ws, t, lam):  # planted: KURE's layer mean instead of RAOQ's sum
        return [g / len(ws) for g in I.w_reshape_penalty_grad(ws, target=t, lam=lam)]

    with pytest.raises(ConformanceError, match="w_reshape_grad"):
        check_w_reshape_grad(mean_not_sum, max_examples=N)
