"""IMC crossbars with ADCs: RAOQ's multi-bit model and bit-sliced (BPBS) arrays.

Operand model (as in docs/theory/raoq.md, "RAOQ's mechanisms, measured"): 4-bit activations = ReLU'd N(0, 1)
quantized with the
99.9th-percentile scale (unsigned codes), 4-bit max-abs weights from Gaussian latents ("Gaussian") or
from uniform latents ("uniform", the W-reshape target, kurtosis 1.8). Writes to figures/:

* ``imc_preadc_hist.{png,csv}`` — pre-ADC tile sums (rows = 512, 8-bit floor ADC, k = 4) for the four
  combinations of A-shift and weight shape, against the ADC range; utilisation numbers in the CSV.
* ``imc_sqnr_vs_bits.{png,csv}`` — SQNR vs ADC bits (4..10) for the four combinations: pooled over the
  array's analog sums and per column (input-dependent part); closed form (lines) vs simulation (points);
  run through refquant.sweep (one task per combination, seeded operands).
* ``imc_sqnr_vs_n_k.{png,csv}`` — SQNR vs rows N (64..2304, 8-bit ADC, k = 4) and vs k (1..256, N = 512),
  with the clipping rate: the onset of clipping ends the gain of shrinking the range. The closed form
  includes the clipping error (exact tile-sum pmfs); RAOQ's uniform-noise model (``tail=False``, dotted)
  is shown beside it and misses the clipped points by 20-50 dB. Every simulated point carries its 95 %
  interval (``*_sim_lo``, ``*_sim_hi``; :func:`sqnr_interval`, error bars in the figure). The k sweep
  simulates 64 000 input rows: at k = 128 about 1 conversion in 700 clips, those rare, large errors make
  80 % of the noise, and the SQNR of a finite sample scatters around the expected noise that the closed
  form gives (standard deviation 0.78 dB at 1000 rows, 0.19 dB at 16 000, 0.09 dB at 64 000).
* ``imc_bpbs.{png,csv}`` — BPBS with 1-bit cells: pmfs of the plane sums (N = 1152) against four ADC
  ranges (full, k = 4, Gaussian-optimal, granular) at 8 bits, and the output SQNR vs ADC bits for
  N in {256, 1152, 2304}, closed form (exact per-plane pmfs and the covariance of the slices of one input
  plane) vs simulation, and the independent-errors closed form (dotted) to show what the covariance adds.
* ``imc_bpbs_clip_ashift.{png,csv}`` — BPBS (N = 256, 1-bit cells, 6-bit ADC) vs k: closed form vs simulation
  with clipped points (and the closed form without the covariance of different input planes' clipped errors,
  ``pred_no_plane_cov``, optimistic by up to ~0.75 dB there), and A-shift with two's-complement planes and
  with sign-magnitude planes (bipolar ADC):
  in bit-serial mode A-shift turns sparse ReLU bit-planes into dense ones (x = 0 becomes -2^(Bx-1), whose
  top plane is 1), so under a reduced range it clips and loses 20-30 dB; neither plane encoding rescues it.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pandas as pd

from refquant import imc as I
from refquant._figures import imc_acts as _acts
from refquant._figures import imc_run as _run
from refquant._figures import imc_sqnr_bits_task as sqnr_bits_task
from refquant._figures import imc_weights as _weights
from refquant.sweep import run_sweep

#: Seed of the generator of the k sweep's 48 extra batches of input rows.
K_SWEEP_SEED = 2026


def sqnr_interval(y_ideal, err, *, per_column: bool, z: float = 1.96) -> tuple[float, float]:
    r"""Approximate confidence interval (dB) of the SQNR that :func:`refquant.imc.sqnr` estimates from a sample.

    With rows i.i.d. (the inputs; the weights fixed), ``sqnr`` is :math:`10\log_{10}(\bar s / \bar r)` with
    per-row terms :math:`s_i = \sum_j (y_{ij} - \bar y_j)^2` (per column; pooled: :math:`\bar y_j` replaced by
    the grand mean) and :math:`r_i = \sum_j e_{ij}^2`. By the delta method
    :math:`\mathrm{Var}[\ln(\bar s/\bar r)] \approx (\mathrm{Var}[s]/\bar s^2 + \mathrm{Var}[r]/\bar r^2
    - 2\,\mathrm{Cov}[s, r]/(\bar s\,\bar r))/R` over :math:`R` rows (the centring by sample means is
    ignored, an :math:`O(1/R)` effect), and the interval is the estimate :math:`\pm z` such standard deviations
    (in dB; ``(inf, inf)`` for a zero error). Where rare clipped conversions dominate the noise, :math:`r_i` is
    heavy-tailed and the interval is approximate: at N = 512, k = 128 (8-bit floor ADC, 0.15 % of conversions
    clipped) its measured coverage is 93 % for ``z = 1.96``, at 1000 and at 16 000 rows (2000 and 200
    independent samples).

    Parameters
    ----------
    y_ideal : float64 ndarray (rows, out)
        The exact outputs (for the pooled SQNR: without the per-column compensation, as ``sqnr`` is given them).
    err : float64 ndarray (rows, out)
        The converted outputs minus the exact ones.
    per_column : bool
        As in :func:`refquant.imc.sqnr`.
    z : float
        Standard normal quantile of the interval (1.96: 95 %).

    Returns
    -------
    (lo, hi) : (float, float)
        The interval in dB.
    """
    y = np.asarray(y_ideal, dtype=np.float64)
    e = np.asarray(err, dtype=np.float64)
    s = ((y - (y.mean(axis=0) if per_column else y.mean())) ** 2).sum(axis=1)
    r = (e * e).sum(axis=1)
    sm, rm = s.mean(), r.mean()
    if rm == 0:
        return math.inf, math.inf
    c = np.cov(s, r)
    var_log = (c[0, 0] / sm**2 + c[1, 1] / rm**2 - 2 * c[0, 1] / (sm * rm)) / s.size
    centre, half = 10 * np.log10(sm / rm), z * np.sqrt(var_log) * 10 / np.log(10)
    return float(centre - half), float(centre + half)


def _intervals(det) -> dict:
    """95 % intervals of the pooled and per-column simulated SQNR of one multi-bit ``imc_matmul`` call (its
    details): the exact analog sums and the errors summed over the tiles."""
    y, e = det.pre_adc.sum(axis=1), det.error.sum(axis=1)
    out = {}
    for name, per_col in (("pooled", False), ("col", True)):
        out[f"{name}_sim_lo"], out[f"{name}_sim_hi"] = sqnr_interval(y, e, per_column=per_col)
    return out


def _sim_points(ax, xs, t: pd.DataFrame, fmt: str) -> None:
    """The per-column simulated SQNR of ``t`` against ``xs`` with its 95 % interval bars, on a log x axis."""
    ax.errorbar(
        xs,
        t.col_sim,
        yerr=np.array([t.col_sim - t.col_sim_lo, t.col_sim_hi - t.col_sim]),
        fmt=fmt,
        capsize=3,
        label="simulation (per column; 95 % interval bars, most smaller than the markers)",
    )
    ax.set_xscale("log")


def main(outdir: pathlib.Path) -> None:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    rng = np.random.default_rng(2024)
    n = 512
    x = _acts(rng, n)
    wts = {"Gaussian": _weights(rng, n, 64, False), "uniform": _weights(rng, n, 64, True)}
    combos = [(wn, sh) for wn in wts for sh in (False, True)]

    # (1) pre-ADC histograms
    rows = []
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for ax, (wn, sh) in zip(axes, combos):
        spec = I.CrossbarSpec(
            rows=n, input_bits=4, weight_bits=4, adc=I.ADCSpec(8, transfer="floor", k=4.0), a_shift=sh
        )
        r, det = _run(x, wts[wn], spec)
        pre = det["pre_adc"].ravel()
        o, d, nc = det["offset"], det["step"], det["n_codes"]
        ax.hist(pre, bins=200, color="0.5")
        ax.axvspan(o, o + nc * d, color="C2", alpha=0.12, label="ADC range")
        ax.set(
            title=(
                f"{wn} weights, A-shift {'on' if sh else 'off'}\n"
                f"sigma/step {r['sigma_over_step']:.1f}, {r['codes_used']} codes used"
            ),
            xlabel="pre-ADC tile sum",
        )
        ax.title.set_fontsize(8)
        rows.append({"weights": wn, "a_shift": sh, **r})
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(outdir / "imc_preadc_hist.png", dpi=110)
    plt.close(fig)
    pd.DataFrame(rows).to_csv(outdir / "imc_preadc_hist.csv", index=False)

    # (2) SQNR vs ADC bits: one sweep task per (weights, A-shift), fresh operands from the task's seed
    sb = run_sweep(
        sqnr_bits_task,
        [{"weights": wn, "a_shift": sh, "n": n} for wn, sh in combos],
        seed=2025,
        progress=True,
        desc="IMC SQNR grid",
    ).drop(columns=["task", "n"], errors="ignore")
    sb.to_csv(outdir / "imc_sqnr_vs_bits.csv", index=False)
    print(sb[sb.adc_bits == 8].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3), sharey=True)
    for (wn, sh), col in zip(combos, ("C0", "C1", "C2", "C3")):
        t = sb[(sb.weights == wn) & (sb.a_shift == sh)]
        lab = f"{wn} weights, A-shift {'on' if sh else 'off'}"
        for ax, sim, pred in ((axes[0], "pooled_sim", "pooled_pred"), (axes[1], "col_sim", "col_pred")):
            ax.plot(t.adc_bits, t[pred], "-", color=col, label=lab + " (closed form)")
            ax.plot(t.adc_bits, t[sim], "o", color=col, ms=5)
    axes[0].set(title="pooled over the array's analog sums (RAOQ's Var[Y])", xlabel="ADC bits", ylabel="SQNR (dB)")
    axes[1].set(title="per column: input-dependent part only", xlabel="ADC bits")
    axes[0].legend(fontsize=7)
    fig.suptitle("Multi-bit IMC, N = 512, 4b/4b, floor ADC, k = 4: lines closed form, points simulation", fontsize=9)
    fig.tight_layout()
    fig.savefig(outdir / "imc_sqnr_vs_bits.png", dpi=110)
    plt.close(fig)

    # (3) SQNR vs N and vs k
    rows = []
    for nn in (64, 128, 256, 512, 1152, 2304):
        xx = _acts(rng, nn)
        ww = _weights(rng, nn, 32, False)
        spec = I.CrossbarSpec(rows=nn, input_bits=4, weight_bits=4, adc=I.ADCSpec(8, transfer="floor", k=4.0))
        r, det = _run(xx, ww, spec)
        rows.append({"sweep": "N", "N": nn, "k": 4.0, **r, **_intervals(det)})
    # The k sweep simulates 64 batches of inputs (16 from the figure's generator, 48 from one of their own, so
    # that the operands of the sections below do not change). At k = 128 about 1 conversion in 700 clips and
    # those rare, large errors make 80 % of the noise: the SQNR of a finite sample scatters around the expected
    # noise the closed form gives, with a standard deviation of 0.78 dB at 1000 rows, 0.19 dB at 16 000 and
    # 0.09 dB at 64 000 (measured over 10^7 rows drawn from the pmf of the first 16 batches, where the pooled
    # estimate is 34.214 dB, 95 % interval [34.198, 34.229], and the closed form 34.204 dB). The interval
    # columns say how far each point may honestly be from the closed form (docs/raoq_study.md).
    rng_k = np.random.default_rng(K_SWEEP_SEED)
    x_k = np.concatenate([x] + [_acts(rng, n) for _ in range(15)] + [_acts(rng_k, n) for _ in range(48)])
    for kk in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        spec = I.CrossbarSpec(rows=n, input_bits=4, weight_bits=4, adc=I.ADCSpec(8, transfer="floor", k=float(kk)))
        r, det = _run(x_k, wts["Gaussian"], spec)
        rows.append({"sweep": "k", "N": n, "k": float(kk), **r, **_intervals(det)})
        del det
    del x_k
    nk = pd.DataFrame(rows)
    nk.to_csv(outdir / "imc_sqnr_vs_n_k.csv", index=False)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    t = nk[nk.sweep == "N"]
    _sim_points(axes[0], t.N, t, "o")
    axes[0].semilogx(t.N, t.col_pred, "-", label="closed form")
    axes[0].set(
        xlabel="rows N (ADC range grows like N, signal like sqrt(N))",
        ylabel="SQNR (dB)",
        title="8-bit ADC, k = 4: -3 dB per doubling of N",
    )
    axes[0].legend(fontsize=8)
    t = nk[nk.sweep == "k"]
    _sim_points(axes[1], t.k, t, "o-")
    axes[1].semilogx(t.k, t.col_pred, "--", label="closed form (exact tile pmfs, clipping included)")
    axes[1].semilogx(t.k, t.col_pred_uniform, ":", color="0.5", label="RAOQ uniform-noise model (no clipping term)")
    ax2 = axes[1].twinx()
    ax2.semilogx(t.k, 100 * t.clip_rate, "s:", color="C3", label="clipped conversions (%)")
    ax2.set_ylabel("clipped conversions (%)", color="C3")
    axes[1].set(xlabel="k (range = full / k)", title="N = 512: shrinking the range helps until clipping sets in")
    axes[1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(outdir / "imc_sqnr_vs_n_k.png", dpi=110)
    plt.close(fig)

    # (4) BPBS
    rows = []
    nb = 1152
    xb = _acts(rng, nb)
    wb = _weights(rng, nb, 16, False)
    mom = I.operand_moments(xb, wb, I.CrossbarSpec(rows=nb, input_bits=4, weight_bits=4, mode="bpbs"))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.3))
    pmf = I.plane_sum_pmf(float(mom["p_x"][0]), mom["cell_counts"][0, 0, 0, 0])
    pmf_msb = I.plane_sum_pmf(float(mom["p_x"][3]), mom["cell_counts"][0, 0, 0, 3])
    a = np.arange(pmf.size)
    axes[0].plot(a, pmf, "C0", label="plane sum, input bit 0 x weight slice 0")
    axes[0].plot(np.arange(pmf_msb.size), pmf_msb, "C1", label="input bit 3 x weight slice 3")
    mu, sd = float((a * pmf).sum()), float(np.sqrt(((a - (a * pmf).sum()) ** 2 * pmf).sum()))
    policies = {
        "full": I.ADCSpec(8),
        "k = 4": I.ADCSpec(8, k=4.0),
        "Gaussian-optimal": I.ADCSpec(8, range_policy="gaussian", mu=mu, sigma=sd),
        "granular": I.ADCSpec(8, range_policy="granular"),
    }
    for (name, adc), col in zip(policies.items(), ("C2", "C3", "C4", "C5")):
        o, d, ncodes = I.adc_params(I.CrossbarSpec(rows=nb, input_bits=4, weight_bits=4, mode="bpbs", adc=adc))
        axes[0].axvline(o + ncodes * d, color=col, ls="--", label=f"{name}: top of range, step {d:.2f}")
    axes[0].set(
        xlim=(0, 420),
        xlabel="plane sum a (N = 1152 rows, 1-bit cells)",
        ylabel="probability",
        title="BPBS plane sums vs 8-bit ADC ranges",
    )
    axes[0].legend(fontsize=7)
    for nn, col in ((256, "C0"), (1152, "C1"), (2304, "C2")):
        xx = _acts(rng, nn)
        ww = _weights(rng, nn, 16, False)
        for b in range(4, 11):
            spec = I.CrossbarSpec(rows=nn, input_bits=4, weight_bits=4, mode="bpbs", adc=I.ADCSpec(b))
            y = I.imc_matmul(xx, ww, spec)
            m2 = I.operand_moments(xx, ww, spec)
            rows.append(
                {
                    "N": nn,
                    "adc_bits": b,
                    "sim": I.sqnr(xx @ ww, y, per_column=True),
                    "pred": I.predicted_sqnr(spec, nn, m2, per_column=True),
                    "pred_independent": I.predicted_sqnr(spec, nn, m2, per_column=True, slice_covariance=False),
                    "lossless": bool(2**b - 1 >= nn),
                }
            )
        t = pd.DataFrame([r for r in rows if r["N"] == nn])
        fin = t[np.isfinite(t.sim)]
        axes[1].plot(fin.adc_bits, fin.sim, "o", color=col, label=f"N = {nn}: simulation")
        axes[1].plot(fin.adc_bits, fin.pred, "-", color=col, label=f"N = {nn}: closed form")
        axes[1].plot(
            fin.adc_bits, fin.pred_independent, ":", color=col, label=f"N = {nn}: closed form, independent errors"
        )
    axes[1].set(
        xlabel="ADC bits (full range)",
        ylabel="SQNR per column (dB)",
        title="BPBS output SQNR (lossless points omitted)",
    )
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(outdir / "imc_bpbs.png", dpi=110)
    plt.close(fig)
    bp = pd.DataFrame(rows)
    bp.to_csv(outdir / "imc_bpbs.csv", index=False)
    print(bp.to_string(index=False, float_format=lambda v: f"{v:.2f}"))

    # (5) BPBS under clipping, and A-shift in bit-serial mode
    rows = []
    nc = 256
    xc = _acts(rng, nc)
    wc = _weights(rng, nc, 16, False)
    for kk in (1, 2, 4, 8, 16):
        base = dict(rows=nc, input_bits=4, weight_bits=4, mode="bpbs", adc=I.ADCSpec(6, k=float(kk)))
        spec = I.CrossbarSpec(**base)
        y, det = I.imc_matmul(xc, wc, spec, return_details=True)
        r = {
            "k": float(kk),
            "clip_rate": I.adc_stats(det).clip_rate,
            "sim": I.sqnr(xc @ wc, y, per_column=True),
            "pred": I.predicted_sqnr(spec, nc, I.operand_moments(xc, wc, spec), per_column=True),
            "pred_no_plane_cov": I.predicted_sqnr(
                spec, nc, I.operand_moments(xc, wc, spec), per_column=True, plane_covariance=False
            ),
        }
        for name, extra in (("ashift_twos", {}), ("ashift_signmag", {"input_encoding": "sign_magnitude"})):
            sp = I.CrossbarSpec(**base, a_shift=True, **extra)
            r[f"sim_{name}"] = I.sqnr(xc @ wc, I.imc_matmul(xc, wc, sp), per_column=True)
        rows.append(r)
    cl = pd.DataFrame(rows)
    cl.to_csv(outdir / "imc_bpbs_clip_ashift.csv", index=False)
    print(cl.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    fig, ax = plt.subplots(figsize=(7, 4.3))
    fin = cl[np.isfinite(cl.sim)]
    ax.semilogx(fin.k, fin.sim, "o", color="C0", label="no shift: simulation")
    ax.semilogx(cl.k, cl.pred.clip(upper=80), "-", color="C0", label="no shift: closed form (exact pmfs, clipping)")
    ax.semilogx(
        cl.k,
        cl.pred_no_plane_cov.clip(upper=80),
        ":",
        color="C0",
        label="closed form without the covariance of different planes",
    )
    ax.semilogx(cl.k, cl.sim_ashift_twos.clip(upper=80), "s--", color="C3", label="A-shift, two's-complement planes")
    ax.semilogx(cl.k, cl.sim_ashift_signmag.clip(upper=80), "^--", color="C1", label="A-shift, sign-magnitude planes")
    ax2 = ax.twinx()
    ax2.semilogx(cl.k, 100 * cl.clip_rate, "x:", color="0.5")
    ax2.set_ylabel("clipped conversions, no shift (%)", color="0.5")
    ax.set(
        xlabel="k (range = full / k)",
        ylabel="SQNR per column (dB; lossless points at 80)",
        title="BPBS N = 256, 6-bit ADC: clipped points, and A-shift in bit-serial mode",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(outdir / "imc_bpbs_clip_ashift.png", dpi=110)
    plt.close(fig)
