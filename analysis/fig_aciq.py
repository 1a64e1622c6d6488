"""ACIQ: MSE vs clipping value, alpha* tables, per-channel bit allocation.

Writes to figures/:

* ``aciq_mse_vs_alpha.{png,csv}`` — Gaussian and Laplace (scale 1), 2/3/4 bits:
  the paper's model (``mse_aciq``), the exact expectation on the paper's own
  2^M+1-level grid and on the 2^M-level midrise grid (``mse_exact``), and a
  Monte Carlo estimate through refquant.uniform on the paper grid (10^6 draws
  per point, 99.99 % confidence band = ±3.9 standard errors; run by refquant.sweep).
* ``aciq_alpha_table.{png,csv}`` — alpha* / scale for M = 1..8: the paper's
  model, the exact optimum on each grid, the values the ACIQ code publishes,
  and the relative MSE penalty of using the paper's alpha* on each real grid.
* ``aciq_bit_allocation.{png,csv}`` — 64 Gaussian channels with standard
  deviations spread log-uniformly over two decades: model MSE and measured MSE
  (10^4 samples per channel, each channel clipped at its exact optimum for its
  bit width on the midrise grid) of equal allocation, refquant's allocation
  under a bit budget (sum M_i = C·M, the integer optimum of the model) and
  under the paper's bin budget (sum 2^M_i = C·2^M, exact), and the paper's
  eq. 10-11 rounding (which does not meet the bin budget; bins used are in
  the CSV), for mean bit widths 2..6, every channel at least 1 bit.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from refquant import clipping as C
from refquant._figures import aciq_alloc_task as alloc_task
from refquant._figures import aciq_mc_task as mc_task
from refquant.sweep import run_sweep

Z = 3.89  # two-sided 99.99 %


def main(outdir: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    # (1) MSE vs alpha
    grid_a = {d: np.linspace(0.6, 6.0 if d == "gaussian" else 10.0, 28) for d in ("gaussian", "laplace")}
    params = [{"dist": d, "bits": m, "alphas": grid_a[d].tolist()} for d in grid_a for m in (2, 3, 4)]
    df = run_sweep(mc_task, params, seed=3, progress=True, desc="ACIQ Monte Carlo")
    df["aciq"] = [float(C.mse_aciq(a, m, d)) for a, m, d in zip(df.alpha, df.bits, df.dist)]
    df["exact_paper"] = [float(C.mse_exact(a, m, d, grid="paper")) for a, m, d in zip(df.alpha, df.bits, df.dist)]
    df["exact_midrise"] = [float(C.mse_exact(a, m, d, grid="midrise")) for a, m, d in zip(df.alpha, df.bits, df.dist)]
    df["z"] = (df.mc - df.exact_paper) / df.mc_se
    df.drop(columns=["task"], errors="ignore").to_csv(outdir / "aciq_mse_vs_alpha.csv", index=False)
    print(f"Monte Carlo vs exact (paper grid): max |z| = {df.z.abs().max():.2f} over {len(df)} points")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, d in zip(axes, ("gaussian", "laplace")):
        for m, col in zip((2, 3, 4), ("C0", "C1", "C2")):
            t = df[(df.dist == d) & (df.bits == m)]
            ax.plot(t.alpha, t.aciq, "--", color=col, lw=1.2, label=f"{m} bits: paper model" if m == 2 else None)
            ax.plot(
                t.alpha,
                t.exact_paper,
                "-",
                color=col,
                lw=1.6,
                label=f"{m} bits: exact, paper grid (2^M+1 levels)" if m == 2 else f"{m} bits",
            )
            ax.plot(
                t.alpha,
                t.exact_midrise,
                ":",
                color=col,
                lw=1.6,
                label="exact, midrise grid (2^M levels)" if m == 2 else None,
            )
            ax.fill_between(t.alpha, t.mc - Z * t.mc_se, t.mc + Z * t.mc_se, color=col, alpha=0.35, lw=0)
            ax.plot(t.alpha, t.mc, ".", color=col, ms=3, label="Monte Carlo 10^6 (99.99% band)" if m == 2 else None)
            a_star = C.optimal_clip(m, d)
            ax.axvline(a_star, color=col, lw=0.6, alpha=0.6)
        ax.set_yscale("log")
        ax.set(
            xlabel="clipping value alpha (units of " + ("sigma" if d == "gaussian" else "b") + ")",
            ylabel="MSE",
            title=f"{d.capitalize()}: MSE vs alpha (vertical lines: paper's alpha*)",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(outdir / "aciq_mse_vs_alpha.png", dpi=120)
    plt.close(fig)

    # (2) alpha* table
    tab = pd.concat([C.optimal_clip_table(d, range(1, 9)) for d in ("gaussian", "laplace")], ignore_index=True)
    tab.to_csv(outdir / "aciq_alpha_table.csv", index=False)
    with pd.option_context("display.width", 200):
        print(tab.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for d, mk in (("gaussian", "o"), ("laplace", "s")):
        t = tab[tab.dist == d]
        for g, col in zip(C.GRIDS, ("C0", "C1", "C2", "C3")):
            axes[1].plot(t.bits, 100 * t[f"penalty_{g}"], mk + "-", color=col, ms=4, label=f"{d}, {g} grid")
        axes[0].plot(t.bits, t.aciq, mk + "-", color="k", ms=4, label=f"{d}: paper model")
        axes[0].plot(t.bits, t.exact_midrise, mk + ":", color="C1", ms=4, label=f"{d}: exact, midrise")
        axes[0].plot(t.bits, t.exact_symmetric, mk + "--", color="C3", ms=4, label=f"{d}: exact, symmetric")
        axes[0].plot(
            t.bits, t.published, "x", color="r", ms=8, label=f"{d}: published (ACIQ code)" if d == "gaussian" else None
        )
    axes[0].set(xlabel="bits M", ylabel="alpha* / scale", title="Optimal clipping value")
    axes[0].legend(fontsize=7)
    axes[1].set_yscale("symlog", linthresh=0.1)
    axes[1].set(
        xlabel="bits M",
        ylabel="MSE penalty of the paper's alpha* (%)",
        title="Cost of using the paper's alpha* on a real grid",
    )
    axes[1].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(outdir / "aciq_alpha_table.png", dpi=120)
    plt.close(fig)

    # (3) bit allocation
    c = 64
    sig = np.exp(np.random.default_rng(11).uniform(np.log(0.1), np.log(10.0), c))
    al = run_sweep(
        alloc_task,
        [{"mean_bits": m, "sigmas": sig.tolist(), "n": 10**4} for m in range(2, 7)],
        seed=12,
        progress=True,
        desc="bit allocation",
    )
    al = al.drop(columns=["task", "sigmas", "n"], errors="ignore")
    al.to_csv(outdir / "aciq_bit_allocation.csv", index=False)
    print(al.to_string(index=False))
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    for (name, t), col in zip(al.groupby("plan", sort=False), ("C0", "C2", "C1", "C3")):
        ax.semilogy(t.mean_bits, t.measured_mse, "o-", color=col, label=name)
    ax.set(
        xlabel="target mean bits per channel (bins budget: C * 2^M)",
        ylabel="measured MSE per channel",
        title="64 channels, sigma in [0.1, 10]\n(green: same bits as equal; orange: same bins as equal)",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(outdir / "aciq_bit_allocation.png", dpi=120)
    plt.close(fig)
