"""KURE theory: the paper's figures redrawn, exact overlays, sensitivity, power-of-two steps, shaping.

Writes to figures/ (unit variance for every distribution unless stated; the
paper's quantizer = the 2^M+1-level grid, refquant.clipping grid "paper"):

* ``kure_quantization.{png,csv}`` — a uniform and a Gaussian tensor (10^5
  samples) quantized at 3 bits with their exact optimal steps: histograms and levels.
* ``kure_mse_vs_step.{png,csv}`` — MSE(Delta) and its curvature for uniform and
  Gaussian at 2/3/4 bits: the paper's model (Lemma 2 / ACIQ form) and the exact
  MSE, with both optima marked.
* ``kure_mse_vs_bits.{png,csv}`` — the MSE-versus-bit-width figure of the paper's Sec. 3.2: U(-2, 2) vs N(0, 2^2)
  at their optimal steps, bits 2..8 (paper model and exact).
* ``kure_sensitivity.{png,csv}`` — theorem check, bits 2..8, step perturbed by 5 %:
  Gamma under both models (refquant.robustness.theorem_check).
* ``kure_pow2.{png,csv}`` — exact MSE penalty of rounding the optimal step to the
  nearest / lower / upper / better power of two, uniform, Gaussian, Laplace, bits
  2..8, at unit variance and averaged (and worst) over 32 standard deviations
  spanning one octave (log-uniform).
* ``kure_shaping.{png,csv}`` — gradient descent with the KURE gradient on 8
  Gaussian tensors of 4096 weights: kurtosis and measured 4-bit step sensitivity
  (relative MSE increase for a 5 % step error) along the way.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pandas as pd

from refquant import clipping as C
from refquant import kurtosis as K
from refquant import robustness as R

BITS = range(2, 9)


def main(outdir: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    rng = np.random.default_rng(2020)
    a = math.sqrt(3.0)

    # (a) quantization of a uniform vs a Gaussian tensor
    samples = {"uniform": rng.uniform(-a, a, 10**5), "gaussian": rng.standard_normal(10**5)}
    rows = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, (name, x) in zip(axes, samples.items()):
        st = R.optimal_step(3, name)
        q = C.quantize_on_grid(x, 4 * st, 3, "paper")
        lv, cnt = np.unique(q, return_counts=True)
        ax.hist(x, bins=120, density=True, color="0.75", label="tensor values")
        ax.vlines(lv, 0, cnt / cnt.max() * 0.45, color="C3", lw=2, label="levels (height: usage)")
        ax.set(
            title=f"{name}: 3 bits, 9 levels, optimal step {st:.3f}, MSE {np.mean((q - x) ** 2):.4f}", xlabel="value"
        )
        ax.legend(fontsize=7)
        rows += [{"dist": name, "step": st, "level": float(v), "count": int(c)} for v, c in zip(lv, cnt)]
    pd.DataFrame(rows).to_csv(outdir / "kure_quantization.csv", index=False)
    fig.tight_layout()
    fig.savefig(outdir / "kure_quantization.png", dpi=120)
    plt.close(fig)

    # (b) MSE and curvature vs step
    rows = []
    for name in ("uniform", "gaussian"):
        for m in (2, 3, 4):
            st_ex = R.optimal_step(m, name)
            st_pa = R.optimal_step(m, name, model="paper")
            steps = st_ex * np.linspace(0.6, 1.6, 161)
            mp = R.mse_vs_step(steps, m, name, model="paper")
            me = R.mse_vs_step(steps, m, name, model="exact")
            for s, vp, ve in zip(steps, mp, me):
                rows.append(
                    {
                        "dist": name,
                        "bits": m,
                        "step": s,
                        "step_over_exact_opt": s / st_ex,
                        "mse_paper": vp,
                        "mse_exact": ve,
                        "curv_paper": R.curvature(m, name, step=s, model="paper"),
                        "curv_exact": R.curvature(m, name, step=s, model="exact"),
                        "opt_paper": st_pa,
                        "opt_exact": st_ex,
                    }
                )
    mv = pd.DataFrame(rows)
    mv.to_csv(outdir / "kure_mse_vs_step.csv", index=False)
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), sharex="col")
    for j, name in enumerate(("uniform", "gaussian")):
        for m, col in zip((2, 3, 4), ("C0", "C1", "C2")):
            t = mv[(mv.dist == name) & (mv.bits == m)]
            axes[0, j].semilogy(
                t.step, t.mse_paper, "--", color=col, label=f"{m} bits, paper model" if m == 2 else None
            )
            axes[0, j].semilogy(
                t.step, t.mse_exact, "-", color=col, label=f"{m} bits, exact" if m == 2 else f"{m} bits"
            )
            axes[0, j].axvline(t.opt_exact.iloc[0], color=col, lw=0.8)
            axes[0, j].axvline(t.opt_paper.iloc[0], color=col, lw=0.8, ls="--")
            axes[1, j].semilogy(t.step, np.abs(t.curv_paper), "--", color=col)
            axes[1, j].semilogy(t.step, np.abs(t.curv_exact), "-", color=col)
            axes[1, j].axvline(t.opt_exact.iloc[0], color=col, lw=0.8)
            axes[1, j].axvline(t.opt_paper.iloc[0], color=col, lw=0.8, ls="--")
        note = " (Lemma 2 is exact: one curve)" if name == "uniform" else ""
        axes[0, j].set(title=f"{name}, unit variance{note}\noptima: solid exact, dashed paper model", ylabel="MSE")
        axes[1, j].set(
            xlabel="step Delta",
            ylabel="|d2 MSE / d Delta2| (curvature)",
            title="curvature: dashed paper model, solid exact",
        )
        axes[0, j].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(outdir / "kure_mse_vs_step.png", dpi=120)
    plt.close(fig)

    # (c) the paper's MSE-vs-bit-width figure: U(-2, 2) vs N(0, 2^2)
    rows = []
    for m in BITS:
        for name, std in (("uniform", 2 / math.sqrt(3)), ("gaussian", 2.0)):
            rows.append(
                {
                    "bits": m,
                    "dist": name,
                    "mse_paper": float(
                        R.mse_vs_step(
                            R.optimal_step(m, name, std, model="paper", uniform_step="lemma3"),
                            m,
                            name,
                            std,
                            model="paper",
                        )
                    ),
                    "mse_exact": float(R.mse_vs_step(R.optimal_step(m, name, std), m, name, std)),
                }
            )
    mb = pd.DataFrame(rows)
    mb.to_csv(outdir / "kure_mse_vs_bits.csv", index=False)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, col in (("uniform", "C0"), ("gaussian", "C1")):
        t = mb[mb.dist == name]
        ax.plot(t.bits, t.mse_paper, "o--", color=col, label=f"{name}: paper model")
        ax.plot(t.bits, t.mse_exact, "s-", color=col, ms=4, label=f"{name}: exact")
    ax.invert_xaxis()
    ax.set(
        xlabel="bit width",
        ylabel="MSE at the optimal step",
        title="U(-2, 2) vs N(0, 2^2) (the figure of the paper's Sec. 3.2)",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "kure_mse_vs_bits.png", dpi=120)
    plt.close(fig)

    # (d) sensitivity / theorem table
    th = R.theorem_check(BITS, 0.05)
    th.to_csv(outdir / "kure_sensitivity.csv", index=False)
    print(th[["bits", "model", "gamma1", "gamma2", "gamma_rel1", "gamma_rel2", "holds"]].to_string(index=False))
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for model, ls in (("paper", "--"), ("exact", "-")):
        t = th[th.model == model]
        ax.semilogy(t.bits, t.gamma_rel1, "o" + ls, color="C0", label=f"uniform, {model}")
        ax.semilogy(t.bits, t.gamma_rel2, "s" + ls, color="C1", label=f"Gaussian, {model}")
    ax.set(
        xlabel="bits",
        ylabel="Gamma / MSE at the optimum",
        title="Step error of 5 %: the theorem holds only in the paper's model",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "kure_sensitivity.png", dpi=120)
    plt.close(fig)

    # (e) power-of-two steps. The penalty depends on where log2(step) falls between two integers, i.e. on the
    # tensor's scale, so besides unit variance we sweep the scale over one octave (MSE(D; s) = s^2 MSE(D/s; 1)).
    pw = pd.DataFrame([R.pow2_penalty(m, d) for d in ("uniform", "gaussian", "laplace") for m in BITS])
    octave = 2.0 ** (np.arange(32) / 32)
    stats_ = {k: [] for k in ("nearest_mean", "nearest_worst", "best_mean", "best_worst")}
    for d, m in zip(pw.dist, pw.bits):
        pens = [R.pow2_penalty(m, d, sc) for sc in octave]  # scale = standard deviation
        for mode in ("nearest", "best"):
            v = [p[f"penalty_{mode}"] for p in pens]
            stats_[f"{mode}_mean"].append(float(np.mean(v)))
            stats_[f"{mode}_worst"].append(float(np.max(v)))
    for k, v in stats_.items():
        mode, agg = k.split("_")
        pw[f"penalty_{mode}_{agg}_over_scales"] = v
    pw.to_csv(outdir / "kure_pow2.csv", index=False)
    lines = [
        "| bits | uniform: nearest | uniform: better | Gaussian: nearest | Gaussian: better "
        "| Laplace: nearest | Laplace: better |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in BITS:
        cells = []
        for d in ("uniform", "gaussian", "laplace"):
            r = pw[(pw.dist == d) & (pw.bits == b)].iloc[0]
            cells += [
                f"{100 * r['penalty_nearest_mean_over_scales']:,.0f} %",
                f"{100 * r['penalty_best_mean_over_scales']:.0f} %",
            ]
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    (outdir / "kure_pow2.md").write_text("\n".join(lines) + "\n")  # docs/theory/kure.md's table, verbatim (tested)
    print(
        pw[
            [
                "dist",
                "bits",
                "penalty_nearest_mean_over_scales",
                "penalty_nearest_worst_over_scales",
                "penalty_best_mean_over_scales",
                "penalty_best_worst_over_scales",
            ]
        ].to_string(index=False)
    )
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for ax, mode, title in (
        (axes[0], "nearest", "nearest power of two (log scale)"),
        (axes[1], "best", "better neighbouring power of two"),
    ):
        for d, col in (("uniform", "C0"), ("gaussian", "C1"), ("laplace", "C2")):
            t = pw[pw.dist == d]
            ax.plot(
                t.bits, 100 * t[f"penalty_{mode}_mean_over_scales"], "o-", color=col, label=f"{d}: mean over scales"
            )
            ax.plot(
                t.bits, 100 * t[f"penalty_{mode}_worst_over_scales"], "v:", color=col, ms=4, label=f"{d}: worst scale"
            )
        ax.set_yscale("log")
        ax.set(xlabel="bits", title=f"optimal step rounded to the {title}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
    axes[0].set_ylabel("exact MSE penalty (%)")
    fig.tight_layout()
    fig.savefig(outdir / "kure_pow2.png", dpi=120)
    plt.close(fig)

    # (f) kurtosis shaping: 8 independent Gaussian tensors (the measured sensitivity of one finite tensor is noisy)
    rows = []
    for seed in range(8):
        print(f"  shaping tensor {seed + 1}/8", flush=True)
        w0 = np.random.default_rng(100 + seed).standard_normal(4096)
        for t, k, w in K.kurtosis_shaping(w0, steps=300, record_every=10):
            e = R.empirical_sensitivity(w, 4, 0.05)
            rows.append(
                {
                    "tensor": seed,
                    "step": t,
                    "kurtosis": k,
                    "gamma_rel_4bit_5pct": e["gamma_rel"],
                    "mse_opt_over_var": e["mse"] / np.var(w),
                    "distance_from_w0": float(np.sqrt(np.mean((w - w0) ** 2))),
                }
            )
    sh = pd.DataFrame(rows)
    sh.to_csv(outdir / "kure_shaping.csv", index=False)
    agg = (
        sh.groupby("step")
        .agg(
            kurtosis=("kurtosis", "mean"),
            gamma_mean=("gamma_rel_4bit_5pct", "mean"),
            gamma_min=("gamma_rel_4bit_5pct", "min"),
            gamma_max=("gamma_rel_4bit_5pct", "max"),
            distance=("distance_from_w0", "mean"),
        )
        .reset_index()
    )
    print(agg.iloc[[0, 5, 10, -1]].to_string(index=False))
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(agg["step"], agg["kurtosis"], "C0-o", ms=3, label="kurtosis (mean of 8 tensors)")
    ax.axhline(1.8, color="C0", lw=0.7, ls=":")
    ax.set(xlabel="gradient step", ylabel="kurtosis", title="KURE shaping of Gaussian tensors (8 x 4096 weights)")
    ax2 = ax.twinx()
    ax2.fill_between(
        agg["step"],
        100 * agg["gamma_min"],
        100 * agg["gamma_max"],
        color="C3",
        alpha=0.15,
        label="min-max over tensors",
    )
    ax2.plot(agg["step"], 100 * agg["gamma_mean"], "C3-s", ms=3, label="4-bit sensitivity to a 5 % step error (mean)")
    ax2.set_ylabel("relative MSE increase (%)", color="C3")
    fig.legend(loc="upper center", bbox_to_anchor=(0.55, 0.8), fontsize=8)
    fig.tight_layout()
    fig.savefig(outdir / "kure_shaping.png", dpi=120)
    plt.close(fig)
