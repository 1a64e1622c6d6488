"""ACIQ bit allocation: the true optimum vs eq. 10-11 as printed vs what the released code runs.

Writes ``figures/allocation_compare.{csv,md}``. For C channels whose scales are log-normal with spread
``s`` (``log alpha ~ N(0, s^2)``, fixed seed) and goal mean bit widths 2, 3, 4:

* ``optimum``: :func:`refquant.allocation.allocate_bits` with the bit budget the code ended at
  (``sum M_i`` of the code's result), so both spend the same bits -- the model's integer optimum;
* ``code_round`` / ``code_ceil``: :func:`refquant.allocation.code_allocation` (the released
  ``get_bits_alloc_fixed_target``: eq. 10-11, clamp [0, 8], target iterated until the mean is within 0.01);
* ``paper``: :func:`refquant.allocation.paper_allocation`, eq. 10-11 as printed, one pass, bin budget
  ``C * 2^M``, clamp [0, 8];
* ``optimum_goal``: ``allocate_bits`` at exactly the goal ``C * M`` bits.

Model MSE is :func:`refquant.allocation.allocation_mse` (sum of ``alpha_i^2 / (3 * 4^M_i)``), reported
relative to the optimum at the same bit count. Every row says which budget each method actually spent.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from refquant import allocation as A

SPREADS = (0.25, 0.5, 1.0, 1.5)
GOALS = (2, 3, 4)
CHANNELS = 64
SEED = 20191208


def rows() -> list[dict]:
    out = []
    rng = np.random.default_rng(SEED)
    for s in SPREADS:
        alphas = np.exp(rng.normal(0.0, s, CHANNELS))
        for goal in GOALS:
            c = alphas.size
            row = {"spread": s, "channels": c, "goal_bits": goal}
            opt_goal = A.allocate_bits(alphas, goal * c, max_bits=8)
            row["optimum_goal_mean_bits"] = opt_goal.mean()
            row["optimum_goal_mse"] = A.allocation_mse(alphas, opt_goal)
            for rnd in ("round", "ceil"):
                m, _, passes = A.code_allocation(alphas, goal, rounding=rnd, return_info=True)
                opt = A.allocate_bits(alphas, int(m.sum()), max_bits=8)
                row[f"code_{rnd}_mean_bits"] = m.mean()
                row[f"code_{rnd}_passes"] = passes
                row[f"code_{rnd}_mse_vs_optimum_same_bits"] = (
                    A.allocation_mse(alphas, m) / A.allocation_mse(alphas, opt) - 1
                )
                row[f"code_{rnd}_mse_vs_optimum_goal"] = A.allocation_mse(alphas, m) / row["optimum_goal_mse"] - 1
            p = A.paper_allocation(alphas, c * 2**goal, max_bits=8)
            opt_p = A.allocate_bits(alphas, int(p.sum()), max_bits=8)
            row["paper_mean_bits"] = p.mean()
            row["paper_bins_used_over_budget"] = float((2.0**p).sum() / (c * 2**goal))
            row["paper_mse_vs_optimum_same_bits"] = A.allocation_mse(alphas, p) / A.allocation_mse(alphas, opt_p) - 1
            row["paper_mse_vs_optimum_goal"] = A.allocation_mse(alphas, p) / row["optimum_goal_mse"] - 1
            out.append(row)
    return out


def _md(df: pd.DataFrame) -> str:
    lines = [
        "# ACIQ bit allocation: optimum vs eq. 10-11 as printed vs the released code",
        "",
        f"{CHANNELS} channels, log alpha ~ N(0, spread^2) (seed {SEED}); model MSE sum alpha_i^2/(3*4^M_i); "
        'bits clamped to [0, 8]. "+x % (same bits)": MSE above `allocate_bits` with the same total bits the '
        'method spent; "(goal)": above `allocate_bits` at exactly goal * C bits.',
        "Written by `python -m analysis allocation_compare`.",
        "",
        "| spread | goal | code round: mean bits | +MSE (same bits) | +MSE (goal) | code ceil: mean bits | "
        "+MSE (same bits) | +MSE (goal) | eq. 11 as printed: mean bits | bins / budget | +MSE (same bits) "
        "| +MSE (goal) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in df.iterrows():
        lines.append(
            f"| {r.spread:g} | {r.goal_bits:g} | {r.code_round_mean_bits:.3f} "
            f"| {100 * r.code_round_mse_vs_optimum_same_bits:+.1f} % "
            f"| {100 * r.code_round_mse_vs_optimum_goal:+.1f} % | {r.code_ceil_mean_bits:.3f} "
            f"| {100 * r.code_ceil_mse_vs_optimum_same_bits:+.1f} % | {100 * r.code_ceil_mse_vs_optimum_goal:+.1f} % "
            f"| {r.paper_mean_bits:.3f} | {r.paper_bins_used_over_budget:.3f} "
            f"| {100 * r.paper_mse_vs_optimum_same_bits:+.1f} % "
            f"| {100 * r.paper_mse_vs_optimum_goal:+.1f} % |"
        )
    return "\n".join(lines) + "\n"


def main(outdir: pathlib.Path) -> None:
    df = pd.DataFrame(rows())
    df.to_csv(outdir / "allocation_compare.csv", index=False, float_format="%.10g")
    (outdir / "allocation_compare.md").write_text(_md(df))


if __name__ == "__main__":
    main(pathlib.Path(__file__).resolve().parent.parent / "figures")
