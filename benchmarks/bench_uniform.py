"""fake_quant throughput vs the naive NumPy expression, np.copyto bandwidth and (optionally) PyTorch.

Method: float32 x ~ N(0, 3^2), s = 0.05, z = 3, 8-bit signed grid. Per channel: 1000 channels along axis 0
of a (1000, n/1000) tensor, scales spread over [0.04, 0.06]. Each timing is
the median of REPS runs after one warm-up; refquant writes into a
preallocated ``out=`` (the copy baseline also writes into a preallocated,
pre-faulted buffer). Bytes moved: 8 per element (read x, write y).

Targets: fused kernel >= 8x the naive NumPy expression and >= 85 %
of copy bandwidth at 1e8 elements, per tensor and per channel.

Small-input row ("1e+03, small input"): refquant ``fake_quant`` on 1,000
elements (a fresh output each call, as a checker calls it) against the naive
NumPy expression ``(np.clip(np.round(x / s) + z, qmin, qmax) - z) * s`` on the
same array, medians of 2,000 calls each, measured side by side; target within
2x. The row also reports where refquant's time goes: the kernel call alone
(arguments prepared once) and ``threads_for``'s switch to one Numba thread;
the rest is validation.
"""

from __future__ import annotations

import os

import numpy as np

import refquant as rq
from benchmarks._timing import median_time

QUICK = os.environ.get("REFQUANT_BENCH_QUICK") == "1"  # smoke-test mode (refquant bench --quick)
REPS = 2 if QUICK else 7
SIZES = (10**5,) if QUICK else (10**7, 10**8)


def _median_time(fn, reps=REPS):
    return median_time(fn, reps)


def _naive(x, s, z, lo, hi):
    q = np.clip(np.round(x / s) + z, lo, hi)
    return (q - z) * s


def _torch_rows(x, s, z, per_channel):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    t = torch.from_numpy(x)
    if per_channel:
        ts = torch.from_numpy(s.astype(np.float32))
        tz = torch.full((s.size,), z, dtype=torch.int32)
        fn = lambda: torch.fake_quantize_per_channel_affine(t, ts, tz, 0, -128, 127)  # noqa: E731
    else:
        fn = lambda: torch.fake_quantize_per_tensor_affine(t, float(s), z, -128, 127)  # noqa: E731
    return _median_time(fn, reps=3), torch.__version__


def _per_call(fn, reps):
    import time

    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps // 5):
            fn()
        ts.append((time.perf_counter() - t0) / (reps // 5))
    return float(np.median(ts))


def small_input_row(reps: int = 2000) -> dict:
    """fake_quant on 1,000 float32 elements vs the naive NumPy expression, and refquant's overhead split."""
    from refquant._kernels._threads import threads_for
    from refquant._kernels.uniform import affine_quant_kernel

    x = np.random.default_rng(1).standard_normal(1000, dtype=np.float32) * 3
    spec = rq.QuantSpec(8)
    s, z = np.float32(0.05), 3
    lo, hi, zf = np.float32(-128), np.float32(127), np.float32(z)
    rq.fake_quant(x, s, z, spec)
    t_ref = _per_call(lambda: rq.fake_quant(x, s, z, spec), reps)
    t_naive = _per_call(lambda: _naive(x, s, zf, lo, hi), reps)
    sa, za = np.full(1, s), np.full(1, zf)
    out = np.empty_like(x)
    counts = np.empty((1, 2), np.int64)
    u = np.zeros(1)
    args = (
        x,
        1,
        x.size,
        sa,
        sa,
        za,
        lo,
        hi,
        0,
        False,
        u,
        1 << 16,
        True,
        out,
        counts,
        0,
        0,
        sa,
        sa,
        np.float32(0.5),
        1,
        0,
        0,
        0,
        True,
    )
    with threads_for(0, 1):
        t_kernel = _per_call(lambda: affine_quant_kernel(*args), reps)

    def switch():
        with threads_for(0, 1):
            pass

    t_switch = _per_call(switch, reps)
    same = np.array_equal(rq.fake_quant(x, s, z, spec), _naive(x, s, zf, lo, hi))
    return {
        "refquant fake_quant us": t_ref * 1e6,
        "naive NumPy us": t_naive * 1e6,
        "ratio refquant / naive (target <= 2)": t_ref / t_naive,
        "kernel call alone us": t_kernel * 1e6,
        "threads_for switch us": t_switch * 1e6,
        "validation + preparation us": (t_ref - t_kernel - t_switch) * 1e6,
        "bit-identical to naive": "yes" if same else "NO",
    }


def main() -> str:
    rng = np.random.default_rng(0)
    small = small_input_row(400 if QUICK else 2000)
    print(small, flush=True)
    small_table = "\n".join(
        [
            "| n | case | " + " | ".join(small) + " |",
            "|" + "---|" * (len(small) + 2),
            "| 1e+03 | small input, per tensor | "
            + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in small.values())
            + " |",
        ]
    )
    rows = []
    for n in SIZES:
        x = (rng.standard_normal(n, dtype=np.float32) * 3).reshape(1000, n // 1000)
        out = np.zeros_like(x)
        dst = np.zeros_like(x)
        t_copy = _median_time(lambda: np.copyto(dst, x))
        for label, per_channel in (("per tensor", False), ("per channel (axis 0, 1000 ch)", True)):
            if per_channel:
                s = np.linspace(0.04, 0.06, 1000).astype(np.float32)
                spec = rq.QuantSpec(8, axis=0)
                sn = s.reshape(-1, 1)
            else:
                s = np.float32(0.05)
                spec = rq.QuantSpec(8)
                sn = s
            z = 3
            t_ref = _median_time(lambda: rq.fake_quant(x, s, z, spec, out=out))
            t_naive = _median_time(lambda: _naive(x, sn, np.float32(z), np.float32(-128), np.float32(127)), reps=3)
            same = np.array_equal(out, _naive(x, sn, np.float32(z), np.float32(-128), np.float32(127)))
            row = {
                "n": f"{n:.0e}",
                "case": label,
                "refquant Gelem/s": n / t_ref / 1e9,
                "naive NumPy Gelem/s": n / t_naive / 1e9,
                "speed-up vs naive": t_naive / t_ref,
                "copy GB/s": 8 * n / t_copy / 1e9,
                "refquant GB/s": 8 * n / t_ref / 1e9,
                "fraction of copy bandwidth": t_copy / t_ref,
                "bit-identical to naive": "yes" if same else "NO",
                "torch Gelem/s": "not installed",
            }
            tr = _torch_rows(x, s, z, per_channel)
            if tr is not None:
                row["torch Gelem/s"] = f"{n / tr[0] / 1e9:.3f} (torch {tr[1]})"
            rows.append(row)
            print(row, flush=True)
        x = out = dst = None  # free the large arrays before the next size
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[h]:.3g}" if isinstance(r[h], float) else str(r[h]) for h in head) + " |")
    return small_table + "\n\n" + "\n".join(lines)


if __name__ == "__main__":
    print(main())
