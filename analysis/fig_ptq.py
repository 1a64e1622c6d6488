"""Post-training quantization of a real network: a miniature of Table 1 of the ACIQ paper.

Banner, Nahshan & Soudry (NeurIPS 2019), Table 1, compares on ImageNet CNNs: naive min-max
quantization, the analytic clip alpha* (ACIQ, Laplace fit), per-channel bit allocation and bias
correction, at 4/3/2-bit weights and activations. This script repeats the comparison on a scale that
runs in about a minute on 2 cores: a 64-96-64-10 ReLU MLP trained (NumPy, Adam, float64, seeded) on
scikit-learn's bundled digits data set (1,797 8x8 images; 1,200 for training and calibration, 597
for testing, a fresh split and initialisation per seed).

Quantization (all through refquant.ptq): weights per output channel on the midrise grid (it has a
1-bit form, so allocation at a 2-bit mean can give a channel 1 bit); activations = the input of every
layer (pixels and post-ReLU values, one-sided), per tensor, unsigned with zero point 0, calibrated by
an ActivationObserver over 8 batches of 64 training images. Methods (weights / activations):

* min-max                     max|w_c|              / observed max
* ACIQ Laplace, ACIQ Gaussian the paper's alpha* for the fitted scale (one-sided model for activations)
* exact optimum               the exact MSE optimum on the real grid for the Laplace fit
* empirical optimum           optimal_clip_empirical per channel / MSE-optimal clip of the histogram
* + bias correction           bias_correct(mean_std) per output channel (ACIQ eqs. 12-13)
* + bit allocation            allocate_bits over output channels, mean = W bits, 1..8 bits per channel
* all three                   empirical clip + bias correction + allocation

Writes figures/ptq_table.csv (one row per seed, method and bit configuration), figures/ptq_table.md
(mean +- standard deviation over the seeds, and min..max) and figures/ptq.png. The sweep runs one
task per seed through refquant.sweep (so ``refquant figures ptq --scheduler ADDR`` runs it on a Dask
cluster; the data is shipped with the task, the workers need only refquant).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from refquant._figures import PTQ_METHODS, ptq_seed_task
from refquant.sweep import run_sweep

SEEDS = 5
CONFIGS = [(4, 4), (3, 3), (2, 2), (2, 4), (4, 2)]  # (weight bits, activation bits); the last two are mixed
N_TRAIN = 1200


def _tasks() -> list[dict]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = d.data / 16.0, d.target.astype(np.int64)
    tasks = []
    for seed in range(SEEDS):
        perm = np.random.default_rng(1000 + seed).permutation(y.size)
        tr, te = perm[:N_TRAIN], perm[N_TRAIN:]
        tasks.append({"seed": seed, "data": {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}})
    return tasks


def compute() -> pd.DataFrame:
    tasks = _tasks()
    params = [{"seed": t["seed"], **t["data"], "configs": CONFIGS} for t in tasks]
    df = run_sweep(ptq_seed_task, params, seed=14, progress=True, desc="PTQ seeds")
    return df[["seed", "method", "w_bits", "a_bits", "accuracy"]]


def summary(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["method", "w_bits", "a_bits"], sort=False).accuracy
    out = g.agg(mean="mean", std="std", min="min", max="max", seeds="count").reset_index()
    return out


def _markdown(sm: pd.DataFrame) -> str:
    order = ["float"] + [m[0] for m in PTQ_METHODS]
    cols = [f"W{w}/A{a}" for w, a in CONFIGS]
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    fl = sm[sm.method == "float"].iloc[0]
    lines.append(
        f"| float (no quantization) | {100 * fl['mean']:.1f} ± {100 * fl['std']:.1f} |" + " |" * (len(cols) - 1)
    )
    for m in order[1:]:
        cells = []
        for w, a in CONFIGS:
            r = sm[(sm.method == m) & (sm.w_bits == w) & (sm.a_bits == a)].iloc[0]
            cells.append(f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} ({100 * r['min']:.1f}–{100 * r['max']:.1f})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    n = int(fl["seeds"])
    return (
        f"Test accuracy (%) of a 64-96-64-10 MLP on scikit-learn's digits, mean ± standard deviation "
        f"(min–max) over {n} seeds (split, initialisation, training order and calibration batches).\n\n"
        + "\n".join(lines)
        + "\n"
    )


def main(outdir: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    df = compute()
    df.to_csv(outdir / "ptq_table.csv", index=False)
    sm = summary(df)
    md = _markdown(sm)
    (outdir / "ptq_table.md").write_text(md)
    print(md)
    fig, ax = plt.subplots(figsize=(12, 4.6))
    methods = [m[0] for m in PTQ_METHODS]
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        vals = [sm[(sm.method == m) & (sm.w_bits == w) & (sm.a_bits == a)].iloc[0] for w, a in CONFIGS]
        pos = np.arange(len(CONFIGS)) + (i - (len(methods) - 1) / 2) * width
        ax.bar(
            pos,
            [100 * v["mean"] for v in vals],
            width,
            yerr=[100 * v["std"] for v in vals],
            capsize=2,
            label=m,
            color=f"C{i}",
        )
    fl = sm[sm.method == "float"].iloc[0]
    ax.axhline(100 * fl["mean"], color="k", lw=1, ls="--", label=f"float ({100 * fl['mean']:.1f} %)")
    ax.set_xticks(np.arange(len(CONFIGS)), [f"W{w}/A{a}" for w, a in CONFIGS])
    lo = 100 * sm[sm.method != "float"]["mean"].min()
    ax.set_ylim(max(0.0, lo - 8), 100)
    ax.set(ylabel="test accuracy (%)", title=f"PTQ of an MLP on digits ({int(fl['seeds'])} seeds, error bars: ±1 sd)")
    ax.legend(fontsize=7, ncol=3, loc="lower left")
    fig.tight_layout()
    fig.savefig(outdir / "ptq.png", dpi=120)
    plt.close(fig)
