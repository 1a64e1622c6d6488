"""Uniform quantizer: transfer curves per rounding mode, and MSE vs step size.

Writes figures/uniform_mse_vs_step.{png,csv}. Monte Carlo with refquant.fake_quant on
N(0, 1) samples (sweep seed 0, 10^6 samples per bit width, run through refquant.sweep) for 2, 3, 4
and 8 bits (signed, full range, half-to-even), against the Δ²/12 rounding-noise law, which holds only while clipping
is negligible; the optimum step balances the two (the subject of docs/theory/aciq.md).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

import refquant as rq
from refquant._figures import uniform_mse_task as mse_task
from refquant.sweep import run_sweep

N_SAMPLES = 10**6
BITS = (2, 3, 4, 8)


def compute() -> pd.DataFrame:
    return run_sweep(mse_task, [{"bits": b, "n": N_SAMPLES} for b in BITS], seed=0, progress=True, desc="uniform MSE")


def main(outdir: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    df = compute()
    df.to_csv(outdir / "uniform_mse_vs_step.csv", index=False)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    v = np.linspace(-3.9, 3.9, 4001)
    ax0.plot(v, rq.fake_quant(v, 1.0, 0, rq.QuantSpec(3)), color="0.7", lw=1, label="staircase (half_even)")
    ties = np.arange(-3.5, 3.6, 1.0)
    for j, (mode, mk) in enumerate((("half_even", "o"), ("half_away", "s"), ("half_up", "^"), ("floor", "v"))):
        codes = rq.fake_quant(ties, 1.0, 0, rq.QuantSpec(3, rounding=mode))
        ax0.plot(ties + (j - 1.5) * 0.09, codes, mk, ms=5, label=f"{mode} at ties")
    ax0.set(
        xlabel="x / s", ylabel="fake_quant(x) / s", title="3-bit signed grid [-4, 3]: value at exact ties x/s = k + 1/2"
    )
    ax0.set_xticks(ties)
    ax0.grid(alpha=0.3)
    ax0.legend(fontsize=8)
    for bits in BITS:
        d = df[df.bits == bits]
        ax1.loglog(d.step, d.mse, "o-", ms=2.5, label=f"{bits} bits (Monte Carlo)")
        best = d.loc[d.mse.idxmin()]
        ax1.plot(best.step, best.mse, "k*", ms=8)
    ax1.loglog(df.step.unique(), df.step.unique() ** 2 / 12, "k--", lw=1, label="Δ²/12 (no clipping)")
    ax1.set(xlabel="step size Δ", ylabel="MSE", title="N(0,1): MSE vs step (★ = best step on the grid)")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "uniform_mse_vs_step.png", dpi=120)
    plt.close(fig)
    best = df.loc[df.groupby("bits").mse.idxmin()][["bits", "step", "mse"]]
    print("best step on the grid per bit width (N(0,1)):")
    print(best.to_string(index=False))
