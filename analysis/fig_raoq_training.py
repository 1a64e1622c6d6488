"""A small RAOQ training study: a 64-64-10 MLP on scikit-learn's digits, both layers run through the simulated
crossbar (multi-bit mode, 64-row tiles, 4-bit activations and weights, full-range ADC with k = 4), trained
with plain QAT and with each of RAOQ's mechanisms, accuracy vs ADC bits over seeds.

Everything is NumPy and seeded; the forward is :func:`refquant.imc.crossbar_forward` (the simulator, bit for
bit) and the backward :func:`refquant.imc.crossbar_ste_grad` (straight-through at the operand quantizers and
the ADC). Variants (all trained for the same number of epochs at the target ADC precision ``B``):

* ``qat`` — plain QAT through the ADC;
* ``a_shift`` — both layers' unsigned inputs A-shifted (RAOQ eq. 4; the ADC range halves);
* ``w_reshape`` — plus the kurtosis penalty :func:`refquant.imc.w_reshape_penalty` (target 1.8, ``LAM_RESHAPE``);
* ``bitaug`` — plus a second loss at an ADC precision drawn from ``{B-1, B+1, B+2}`` (the paper's {7, 9, 10}
  around 8, shifted to ``B``) weighted by :func:`refquant.imc.bitaug_weight` (cosine, last ``HOLD`` epochs 0);
* ``adc_lora`` — plain QAT for ``EPOCHS - LORA_EPOCHS`` epochs, then W frozen and rank-``RANK`` factors per layer
  initialised by eq. 12 (:func:`refquant.imc.adc_lora_init` on 256 training images) and trained through the
  chain for ``LORA_EPOCHS`` epochs, then merged into W (:func:`refquant.imc.adc_lora_merge`).

Writes ``figures/raoq_training.{csv,png}`` (test accuracy per variant, ADC bits and seed). BPBS is not used
for training here: its straight-through backward is not defined in refquant.imc.training.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from refquant import imc as I

EPOCHS = 16
HOLD = 4
LORA_EPOCHS = 4
RANK = 4
LAM_RESHAPE = 2e-3
BATCH = 64
LR = 3e-3  # Adam
SEEDS = (0, 1, 2)
ADC_BITS = (3, 4, 6)
VARIANTS = ("qat", "a_shift", "w_reshape", "bitaug", "adc_lora")
SX1 = 16.0 / 15.0  # digits pixels 0..16 -> 4-bit codes


class _Adam:
    """Adam (beta1 0.9, beta2 0.999, eps 1e-8, step ``LR``) on a list of arrays."""

    def __init__(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.m[i] = 0.9 * self.m[i] + 0.1 * g
            self.v[i] = 0.999 * self.v[i] + 0.001 * g * g
            mh, vh = self.m[i] / (1 - 0.9**self.t), self.v[i] / (1 - 0.999**self.t)
            out.append(p - LR * mh / (np.sqrt(vh) + 1e-8))
        return out


def _data():
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(1234)
    idx = rng.permutation(len(d.target))
    x, y = d.data[idx].astype(np.float64), d.target[idx]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def _spec(bits, a_shift):
    return I.CrossbarSpec(rows=64, input_bits=4, weight_bits=4, adc=I.ADCSpec(bits, k=4.0), a_shift=a_shift)


def _forward(params, x, bits, a_shift, sh):
    w1, b1, w2, b2 = params
    sp = _spec(bits, a_shift)
    sw1, sw2 = np.abs(w1).max() / 7, np.abs(w2).max() / 7
    z1 = I.crossbar_forward(x, w1, sp, x_scale=SX1, w_scale=sw1) + b1
    h = np.maximum(z1, 0)
    z2 = I.crossbar_forward(h, w2, sp, x_scale=sh, w_scale=sw2) + b2
    return z1, h, z2, (sp, sw1, sw2)


def _loss_grads(params, x, y, bits, a_shift, sh):
    w1, b1, w2, b2 = params
    z1, h, z2, (sp, sw1, sw2) = _forward(params, x, bits, a_shift, sh)
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
    g2 = p.copy()
    g2[np.arange(len(y)), y] -= 1
    g2 /= len(y)
    gh, gw2 = I.crossbar_ste_grad(h, w2, g2, sp, x_scale=sh, w_scale=sw2)
    g1 = gh * (z1 > 0)
    _, gw1 = I.crossbar_ste_grad(x, w1, g1, sp, x_scale=SX1, w_scale=sw1)
    return loss, [gw1, g1.sum(axis=0), gw2, g2.sum(axis=0)]


def _accuracy(params, x, y, bits, a_shift, sh):
    return float((_forward(params, x, bits, a_shift, sh)[2].argmax(axis=1) == y).mean())


def _act_scale(params, x, bits, a_shift):
    w1, b1 = params[0], params[1]
    z1 = I.crossbar_forward(x, w1, _spec(bits, a_shift), x_scale=SX1, w_scale=np.abs(w1).max() / 7) + b1
    return max(float(np.quantile(np.maximum(z1, 0), 0.999)) / 15, 1e-3)


def train(variant: str, bits: int, seed: int, data=None) -> float:
    """Test accuracy of one run (see the module docstring)."""
    xtr, ytr, xte, yte = data if data is not None else _data()
    rng = np.random.default_rng(seed)
    params = [rng.normal(0, 1 / 8, (64, 64)) / 4, np.zeros(64), rng.normal(0, 1 / 8, (64, 10)), np.zeros(10)]
    a_shift = variant != "qat" and variant != "adc_lora"
    opt = _Adam(params)
    n_full = EPOCHS - (LORA_EPOCHS if variant == "adc_lora" else 0)
    for ep in range(n_full):
        sh = _act_scale(params, xtr, bits, a_shift)
        order = rng.permutation(len(ytr))
        for s in range(0, len(ytr), BATCH):
            bi = order[s : s + BATCH]
            _, grads = _loss_grads(params, xtr[bi], ytr[bi], bits, a_shift, sh)
            if variant in ("w_reshape", "bitaug"):
                gr = I.w_reshape_penalty_grad([params[0], params[2]], lam=LAM_RESHAPE)
                grads[0] = grads[0] + gr[0]
                grads[2] = grads[2] + gr[1]
            if variant == "bitaug":
                lam = I.bitaug_weight(ep, EPOCHS, hold_epochs=HOLD)
                if lam > 0:
                    b_aug = I.bitaug_sample(rng, (max(bits - 1, 1), bits + 1, bits + 2))
                    _, ga = _loss_grads(params, xtr[bi], ytr[bi], b_aug, a_shift, sh)
                    grads = [g + lam * h for g, h in zip(grads, ga)]
            params = opt.step(params, grads)
    sh = _act_scale(params, xtr, bits, a_shift)
    if variant == "adc_lora":
        params = _lora_finetune(params, xtr, ytr, bits, sh, rng)
    return _accuracy(params, xte, yte, bits, a_shift, sh)


def _lora_finetune(params, xtr, ytr, bits, sh, rng):
    w1, b1, w2, b2 = params
    sp = _spec(bits, False)
    sw1, sw2 = np.abs(w1).max() / 7, np.abs(w2).max() / 7
    calib = xtr[:256]
    h_cal = np.maximum(I.crossbar_forward(calib, w1, sp, x_scale=SX1, w_scale=sw1) + b1, 0)
    a1, c1, _ = I.adc_lora_init(calib, w1, RANK, sp, x_scale=SX1, w_scale=sw1, rng=rng, steps=20)
    a2, c2, _ = I.adc_lora_init(h_cal, w2, RANK, sp, x_scale=sh, w_scale=sw2, rng=rng, steps=20)
    fac = [a1, c1, a2, c2]
    opt = _Adam(fac)
    for _ in range(LORA_EPOCHS):
        order = rng.permutation(len(ytr))
        for s in range(0, len(ytr), BATCH):
            bi = order[s : s + BATCH]
            merged = [I.adc_lora_merge(w1, fac[0], fac[1]), b1, I.adc_lora_merge(w2, fac[2], fac[3]), b2]
            # the scales stay those of the frozen W (programmed once)
            x = xtr[bi]
            z1 = I.crossbar_forward(x, merged[0], sp, x_scale=SX1, w_scale=sw1) + b1
            h = np.maximum(z1, 0)
            z2 = I.crossbar_forward(h, merged[2], sp, x_scale=sh, w_scale=sw2) + b2
            p = np.exp(z2 - z2.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g2 = p.copy()
            g2[np.arange(len(bi)), ytr[bi]] -= 1
            g2 /= len(bi)
            gh, gw2 = I.crossbar_ste_grad(h, merged[2], g2, sp, x_scale=sh, w_scale=sw2)
            _, gw1 = I.crossbar_ste_grad(x, merged[0], gh * (z1 > 0), sp, x_scale=SX1, w_scale=sw1)
            g = [gw1 @ fac[1].T, fac[0].T @ gw1, gw2 @ fac[3].T, fac[2].T @ gw2]
            fac = opt.step(fac, g)
    # merged before programming; the weight scales of the frozen W are kept (clipping absorbs the excess)
    w1m, w2m = I.adc_lora_merge(w1, fac[0], fac[1]), I.adc_lora_merge(w2, fac[2], fac[3])
    return [np.clip(w1m, -7 * sw1, 7 * sw1), b1, np.clip(w2m, -7 * sw2, 7 * sw2), b2]


def main(outdir: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    data = _data()
    rows = []
    for bits in ADC_BITS:
        for variant in VARIANTS:
            for seed in SEEDS:
                rows.append(
                    {"variant": variant, "adc_bits": bits, "seed": seed, "test_acc": train(variant, bits, seed, data)}
                )
        print(
            pd.DataFrame(rows).query("adc_bits == @bits").groupby("variant").test_acc.agg(["mean", "std"]), flush=True
        )
    df = pd.DataFrame(rows)
    df.to_csv(outdir / "raoq_training.csv", index=False)
    agg = df.groupby(["variant", "adc_bits"]).test_acc.agg(["mean", "min", "max"]).reset_index()
    fig, ax = plt.subplots(figsize=(7, 4.3))
    for i, v in enumerate(VARIANTS):
        t = agg[agg.variant == v]
        off = (i - 2) * 0.06
        ax.errorbar(
            t.adc_bits + off,
            100 * t["mean"],
            yerr=[100 * (t["mean"] - t["min"]), 100 * (t["max"] - t["mean"])],
            fmt="o-",
            capsize=3,
            label=v,
        )
    ax.set(
        xlabel="ADC bits (multi-bit mode, 64-row tiles, k = 4)",
        ylabel="test accuracy (%)",
        title=f"digits MLP 64-64-10 through the crossbar, 4b/4b; mean and range over {len(SEEDS)} seeds",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "raoq_training.png", dpi=110)
    plt.close(fig)
