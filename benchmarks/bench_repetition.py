"""Repetition-aware matmul kernels vs dense NumPy (BLAS) and scipy.sparse CSR, on the same weights.

Layers: a linear layer 1024 -> 1024 on a batch of 256 rows, and a
3x3 conv 64 -> 64 on a 56x56 input as an im2col matmul (3136 x 576) @ (576 x 64).
Weights: Gaussian latents quantized by refquant.binarize with its defaults
(binary = sign; ternary = TWN rule 0.7·mean|w|; signed-binary = one sign per
filter, threshold 0.05·max|w| of the region), so each scheme runs at the
density it naturally produces (reported). Activations: float64 N(0, 1).

Every method computes the same ``y = x @ w_q`` in float64 (checked against
the dense result, max relative error reported); "programming" (CSR
conversion, factorised layout, shared-sum planning) is done once, outside the
timing. Times are medians of REPS runs after one warm-up; effective speed =
dense MACs (batch·K·out) / time. Ratios are against scipy.sparse CSR measured
in the same run. Numba uses all available threads; scipy's CSR product is
single-threaded (so the factorised kernel is also timed on 1 Numba thread) and
NumPy's BLAS uses its own threads.

Target: the factorised kernel faster than scipy.sparse CSR on
signed-binary and ternary weights at their natural densities.
"""

from __future__ import annotations

import os

import numba
import numpy as np
import scipy.sparse as sp

from benchmarks._timing import median_time
from refquant import binarize as B
from refquant import repetition as R

QUICK = os.environ.get("REFQUANT_BENCH_QUICK") == "1"
REPS = 2 if QUICK else 7


def _median_time(fn, reps=REPS):
    return median_time(fn, reps)


def _weights(scheme, out, k, rng):
    latent = rng.normal(size=(out, k))  # filters on axis 0
    if scheme == "binary":
        q = B.binarize(latent)
    elif scheme == "ternary":
        q = B.ternarize(latent)
    else:
        q = B.signed_binarize(latent)
    return np.ascontiguousarray(q.T)  # (K, out)


def main() -> str:
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rng = np.random.default_rng(0)
    layers = [("linear 1024x1024, batch 256", 256, 1024, 1024), ("conv3x3 64->64 @56x56 (im2col)", 3136, 576, 64)]
    if QUICK:
        layers = [("linear 64x64, batch 16", 16, 64, 64)]
    rows = []
    for name, batch, k, out in layers:
        x = rng.normal(size=(batch, k))
        for scheme in ("binary", "signed_binary", "ternary"):
            w = _weights(scheme, out, k, rng)
            density = np.count_nonzero(w) / w.size
            y_ref = x @ w
            wt_csr = sp.csr_matrix(w.T)
            fac = R.factorize(w)
            shr = R.plan_shared_sums(w, tile=8)
            for fn in (lambda: (wt_csr @ x.T).T, lambda: fac.matmul(x)[0], lambda: shr.matmul(x)[0]):
                err = np.max(np.abs(fn() - y_ref)) / np.max(np.abs(y_ref))
                assert err < 1e-12, err
            t_dense = _median_time(lambda: x @ w)
            t_csr = _median_time(lambda: (wt_csr @ x.T).T)
            t_fac = _median_time(lambda: fac.matmul(x))
            t_shr = _median_time(lambda: shr.matmul(x))
            nthreads = numba.get_num_threads()
            numba.set_num_threads(1)
            try:
                t_fac1 = _median_time(lambda: fac.matmul(x))
            finally:
                numba.set_num_threads(nthreads)
            macs = batch * k * out
            c_fac, c_shr = fac.op_counts(batch), shr.op_counts(batch)
            rows.append((name, scheme, density, macs, t_dense, t_csr, t_fac, t_shr, c_fac, c_shr, t_fac1))
            print(
                f"  {name} {scheme}: dense {t_dense * 1e3:.2f} ms, csr {t_csr * 1e3:.2f} ms, "
                f"factorised {t_fac * 1e3:.2f} ms, shared {t_shr * 1e3:.2f} ms",
                flush=True,
            )
    head = (
        "| layer | weights | density | dense BLAS GMAC/s | CSR GMAC/s | factorised GMAC/s | shared-sum GMAC/s "
        "| factorised / CSR | factorised 1 thread / CSR | shared / CSR | dense / CSR "
        "| op reduction factorised / shared |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = ""
    for name, scheme, dens, macs, td, tc, tf, ts, cf, cs, tf1 in rows:
        g = lambda t: macs / t / 1e9  # noqa: E731
        red = lambda c: c.dense_macs / (c.adds + c.muls)  # noqa: E731
        body += (
            f"| {name} | {scheme} | {dens:.2f} | {g(td):.2f} | {g(tc):.2f} | {g(tf):.2f} | {g(ts):.2f} "
            f"| {tc / tf:.2f}x | {tc / tf1:.2f}x | {tc / ts:.2f}x | {tc / td:.2f}x "
            f"| {red(cf):.2f}x / {red(cs):.2f}x |\n"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        "### Repetition-aware matmul (float64; speed = dense MACs / time; ratios are speed-ups over "
        "scipy.sparse CSR)\n\n"
        + head
        + body
        + f"\n1-minute load average at the start / end of the run: {load0:.1f} / {load:.1f} on {os.cpu_count()} CPUs.\n"
    )
