"""Sweep tasks of the figure families (``analysis/fig_*.py``), inside the installed package.

Private. Every function a figure script submits through :func:`refquant.sweep.run_sweep` lives here, so
that a Dask worker (or a spawned process) needs only an installed refquant -- not the repository's
``analysis`` package on its ``PYTHONPATH``. A task is pickled *by reference* (module + name), so the
worker runs its own installed copy of this code; :func:`refquant.sweep.check_cluster` refuses a cluster
whose workers hold a different refquant source (:func:`refquant.sweep.source_digest`), which is what
keeps a cluster run byte-identical to a local one.

The figure scripts keep their drawing, tables and I/O; this module keeps only what runs on a worker
(numerical code, no pandas, no matplotlib). Tasks are named ``<family>_<what>_task``.
"""

from __future__ import annotations

import numpy as np

from .specs import QuantSpec
from .uniform import fake_quant

# Concept modules are imported inside each task (a worker running one family imports only that family).

#: Samples per Monte Carlo point of the ACIQ figure.
ACIQ_N_MC = 10**6
#: Activation rows of the IMC figure's operands.
IMC_BATCH = 1000
#: Filters per point of the signed-binary repetition figure.
SB_N_FILTERS = 65536


# ---------------------------------------------------------------------------------------------- uniform
def uniform_mse_task(*, rng: np.random.Generator, bits: int, n: int) -> list[dict]:
    """Monte Carlo MSE of fake_quant on N(0, 1) for one bit width over a grid of steps (one sweep task)."""
    x = rng.standard_normal(n)
    spec = QuantSpec(bits)
    rows = []
    for step in np.geomspace(1e-3, 4.0, 60):
        err2 = (fake_quant(x, step, 0, spec) - x) ** 2
        rows.append(
            {
                "step": step,
                "mse": float(err2.mean()),
                "mse_se": float(err2.std(ddof=1) / np.sqrt(n)),
                "step2_over_12": step**2 / 12,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------- aciq
def aciq_mc_task(*, rng: np.random.Generator, dist: str, bits: int, alphas: list) -> list[dict]:
    from . import clipping as C

    x = rng.standard_normal(ACIQ_N_MC) if dist == "gaussian" else rng.laplace(size=ACIQ_N_MC)
    rows = []
    for a in alphas:
        e2 = (C.quantize_on_grid(x, a, bits, "paper") - x) ** 2
        rows.append(
            {
                "dist": dist,
                "bits": bits,
                "alpha": a,
                "mc": float(e2.mean()),
                "mc_se": float(e2.std(ddof=1) / np.sqrt(ACIQ_N_MC)),
            }
        )
    return rows


def aciq_alloc_task(*, rng: np.random.Generator, mean_bits: int, sigmas: list, n: int) -> list[dict]:
    from . import allocation as A
    from . import clipping as C

    sig = np.asarray(sigmas)
    c = sig.size
    x = rng.standard_normal((c, n)) * sig[:, None]
    plans = {
        "equal": np.full(c, mean_bits),
        "refquant, bit budget (optimal)": A.allocate_bits(sig, mean_bits * c, min_bits=1, max_bits=16),
        "refquant, bin budget (greedy)": A.allocate_bits(sig, c * 2**mean_bits, budget="bins", min_bits=1, max_bits=16),
        "paper eq. 10-11 (rounded; bins not met)": np.maximum(
            A.paper_allocation(sig, c * 2**mean_bits, max_bits=16), 1
        ),
    }
    rows = []
    for name, bits in plans.items():
        measured = 0.0
        for i in range(c):
            a = C.optimal_clip(int(bits[i]), "gaussian", float(sig[i]), model="exact", grid="midrise")
            measured += float(np.mean((C.quantize_on_grid(x[i], a, int(bits[i]), "midrise") - x[i]) ** 2))
        rows.append(
            {
                "mean_bits": mean_bits,
                "plan": name,
                "total_bits": int(bits.sum()),
                "total_bins": int((2**bits).sum()),
                "model_mse": A.allocation_mse(sig, bits) / c,
                "measured_mse": measured / c,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------- imc
def imc_acts(rng, n, bits=4):
    z = np.maximum(rng.standard_normal((IMC_BATCH, n)), 0)
    s = np.quantile(z, 0.999) / (2**bits - 1)
    return np.clip(np.rint(z / s), 0, 2**bits - 1).astype(np.int64)


def imc_weights(rng, n, out, uniform, bits=4):
    v = rng.uniform(-1, 1, (n, out)) if uniform else rng.standard_normal((n, out))
    m = 2 ** (bits - 1) - 1
    return np.clip(np.rint(v / np.abs(v).max() * m), -m, m).astype(np.int64)


def imc_run(x, w, spec):
    from . import imc as I

    y, det = I.imc_matmul(x, w, spec, return_details=True)
    comp = det["compensation"]
    mom = I.operand_moments(x, w, spec)
    st = I.adc_stats(det)
    k = x.shape[1]
    return {
        "pooled_sim": I.sqnr(x @ w - comp, y - comp),
        "pooled_pred": I.predicted_sqnr(spec, k, mom),
        "col_sim": I.sqnr(x @ w, y, per_column=True),
        "col_pred": I.predicted_sqnr(spec, k, mom, per_column=True),
        "col_pred_uniform": I.predicted_sqnr(spec, k, mom, per_column=True, tail=False),
        "sigma_over_step": st["sigma_over_step"],
        "codes_used": st["codes_used"],
        "clip_rate": st["clip_rate"],
    }, det


def imc_sqnr_bits_task(*, rng: np.random.Generator, weights: str, a_shift: bool, n: int) -> list[dict]:
    """SQNR (pooled and per column, simulation and closed form) for ADC bits 4..10 (one refquant.sweep task)."""
    from . import imc as I

    x = imc_acts(rng, n)
    w = imc_weights(rng, n, 64, weights == "uniform")
    rows = []
    for b in range(4, 11):
        spec = I.CrossbarSpec(
            rows=n, input_bits=4, weight_bits=4, adc=I.ADCSpec(b, transfer="floor", k=4.0), a_shift=a_shift
        )
        r, _ = imc_run(x, w, spec)
        rows.append({"weights": weights, "a_shift": a_shift, "adc_bits": b, **r})
    return rows


# ---------------------------------------------------------------------------------------------- sb_repetition
def sb_quantize(scheme: str, latent: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Pattern in {0, ±1} of the library's quantizers (filters on axis 0)."""
    from . import binarize as B

    if scheme == "binary":
        return np.sign(B.binarize(latent))
    if scheme == "ternary":
        return np.sign(B.ternarize(latent, **({} if threshold is None else {"threshold": threshold})))
    return np.sign(B.signed_binarize(latent, **({} if threshold is None else {"threshold": threshold})))


def sb_unique_task(*, rng: np.random.Generator, scheme: str, k: int) -> dict:
    from . import repetition as R

    q = sb_quantize(scheme, rng.standard_normal((SB_N_FILTERS, k)))
    s = R.unique_filters(q)
    bound = R.pigeonhole_bound(k, scheme)
    return {
        "scheme": scheme,
        "K": k,
        "filters": SB_N_FILTERS,
        "bound": float(bound),
        "bound_capped": float(min(bound, SB_N_FILTERS)),
        "unique": s.n_unique,
        "mean_repetition": s.mean_repetition,
        "bound_mean_repetition": SB_N_FILTERS / min(bound, SB_N_FILTERS),
        "sparsity": s.sparsity,
    }


def sb_plane_task(*, rng: np.random.Generator, scheme: str, cin: int, cout: int, threshold: float | None) -> dict:
    from . import repetition as R

    q = sb_quantize(scheme, rng.standard_normal((cout, cin, 3, 3)), threshold)
    s = R.unique_filters(q, block=1)  # 3x3 kernels
    return {
        "scheme": scheme,
        "shape": f"[3,3,{cin},{cout}]",
        "threshold": np.nan if threshold is None else threshold,
        "kernels": s.n_blocks,
        "unique": s.n_unique,
        "mean_repetition": s.mean_repetition,
        "sparsity": s.sparsity,
    }


def sb_iid_weights(rng, scheme: str, density: float, k: int, out: int) -> np.ndarray:
    if scheme == "binary":
        return rng.choice([-1, 1], size=(k, out))
    mask = rng.random((k, out)) < density
    if scheme == "ternary":
        return rng.choice([-1, 1], size=(k, out)) * mask
    return rng.choice([-1, 1], size=(1, out)) * mask  # one sign per filter (region = whole filter)


def sb_ops_task(*, rng: np.random.Generator, c: int, scheme: str, density: float, tiles: tuple) -> list[dict]:
    from . import repetition as R

    w = sb_iid_weights(rng, scheme, density, 9 * c, c)  # im2col layout (C_in*3*3, C_out)
    rows = []
    for method in ("zero_skip", "factorized"):
        cnt = R.count_ops(w, method)
        rows.append(
            {
                "layer": f"[3,3,{c},{c}]",
                "scheme": scheme,
                "density": density,
                "method": method,
                "tile": np.nan,
                "adds": cnt.adds,
                "muls": cnt.muls,
                "dense_macs": cnt.dense_macs,
            }
        )
    for t in tiles:
        cnt = R.count_ops(w, "shared_sum", tile=t)
        rows.append(
            {
                "layer": f"[3,3,{c},{c}]",
                "scheme": scheme,
                "density": density,
                "method": "shared_sum",
                "tile": t,
                "adds": cnt.adds,
                "muls": cnt.muls,
                "dense_macs": cnt.dense_macs,
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------- ptq
#: Hidden widths of the PTQ study's MLP (64 inputs -> 10 classes).
PTQ_HIDDEN = (96, 64)
#: Training epochs, minibatch size and Adam step of the PTQ study.
PTQ_EPOCHS, PTQ_BATCH, PTQ_LR = 80, 32, 2e-3
#: Weight grid of the PTQ study: midrise has a 1-bit form, so bit allocation can go below 2 bits.
PTQ_WEIGHT_GRID = "midrise"
#: Methods of the PTQ table, in order: (label, weight clip method, activation observer method, bias correction,
#: allocation).
PTQ_METHODS = (
    ("min-max", "minmax", "minmax", False, False),
    ("ACIQ Laplace", "aciq_laplace", "aciq_laplace", False, False),
    ("ACIQ Gaussian", "aciq_gaussian", "aciq_gaussian", False, False),
    ("exact optimum (Laplace fit)", "exact_laplace", "exact_laplace", False, False),
    ("empirical optimum", "empirical", "mse", False, False),
    ("empirical + bias correction", "empirical", "mse", True, False),
    ("empirical + bit allocation", "empirical", "mse", False, True),
    ("empirical + both (all three)", "empirical", "mse", True, True),
)


def ptq_train_mlp(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train the PTQ study's ReLU MLP with Adam on cross-entropy (NumPy, float64, deterministic for a given rng).

    Returns ``[(W, b), ...]`` with ``W`` of shape (out, in) (channel axis 0, as refquant's per-channel calls).
    """
    sizes = (x.shape[1], *PTQ_HIDDEN, int(y.max()) + 1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append([rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in), np.zeros(fan_out)])
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    onehot = np.eye(sizes[-1])[y]
    t = 0
    for _ in range(PTQ_EPOCHS):
        order = rng.permutation(x.shape[0])
        for i0 in range(0, x.shape[0], PTQ_BATCH):
            idx = order[i0 : i0 + PTQ_BATCH]
            acts = [x[idx]]
            for j, (w, b) in enumerate(params):
                z = acts[-1] @ w.T + b
                acts.append(np.maximum(z, 0) if j < len(params) - 1 else z)
            logits = acts[-1] - acts[-1].max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            grad = (p - onehot[idx]) / idx.size
            t += 1
            for j in range(len(params) - 1, -1, -1):
                w, b = params[j]
                gw, gb = grad.T @ acts[j], grad.sum(axis=0)
                if j:
                    grad = (grad @ w) * (acts[j] > 0)
                for k, g in enumerate((gw, gb)):
                    m[j][k] = 0.9 * m[j][k] + 0.1 * g
                    v[j][k] = 0.999 * v[j][k] + 0.001 * g * g
                    params[j][k] -= PTQ_LR * (m[j][k] / (1 - 0.9**t)) / (np.sqrt(v[j][k] / (1 - 0.999**t)) + 1e-8)
    return [(w, b) for w, b in params]


def ptq_forward(x: np.ndarray, layers, act_quant=None) -> np.ndarray:
    """Logits of the MLP; ``act_quant[j]`` (a function or None) fake-quantizes the input of layer ``j``."""
    h = x
    for j, (w, b) in enumerate(layers):
        if act_quant is not None:
            h = act_quant[j](h)
        h = h @ w.T + b
        if j < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def ptq_quantize_weights(w: np.ndarray, bits: int, clip: str, bias_corr: bool, allocate: bool) -> np.ndarray:
    """One layer's weights (out, in) fake-quantized per output channel on PTQ_WEIGHT_GRID."""
    from . import allocation as A
    from . import ptq as P
    from .bias_correction import bias_correct

    grid = PTQ_WEIGHT_GRID
    alpha = P.channel_clips(w, bits, axis=0, method=clip, grid=grid)
    widths = np.full(w.shape[0], bits, dtype=np.int64)
    if allocate:
        widths = A.allocate_bits(alpha, bits * w.shape[0], min_bits=1, max_bits=8)
        alpha = P.channel_clips(w, widths, axis=0, method=clip, grid=grid)
    wq = P.fake_quant_bits(w, alpha, widths, axis=0, grid=grid)
    return bias_correct(w, wq, axis=0) if bias_corr else wq


def ptq_seed_task(
    *,
    rng: np.random.Generator,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    configs: list,
    n_calib_batches: int = 8,
    seed: int = 0,
) -> list[dict]:
    """Train one MLP (seeded by the task's rng) and score every PTQ method at every (W, A) bit configuration.

    ``seed`` only labels the task (its data split); the randomness comes from ``rng``.
    """
    from . import ptq as P

    layers = ptq_train_mlp(x_train, y_train, rng)
    rows = [
        {
            "method": "float",
            "w_bits": 0,
            "a_bits": 0,
            "accuracy": float(np.mean(ptq_forward(x_test, layers).argmax(1) == y_test)),
        }
    ]
    # calibration: the inputs of every layer on training batches, accumulated batch by batch
    calib = np.array_split(x_train[rng.permutation(x_train.shape[0])[: 64 * n_calib_batches]], n_calib_batches)
    observers = [P.ActivationObserver(signed=False) for _ in layers]
    for batch in calib:
        h = batch
        for j, (w, b) in enumerate(layers):
            observers[j].update(h)
            h = np.maximum(h @ w.T + b, 0)
    for w_bits, a_bits in configs:
        spec = QuantSpec(a_bits, signed=False)
        for label, clip, act, bias_corr, allocate in PTQ_METHODS:
            qlayers = [(ptq_quantize_weights(w, w_bits, clip, bias_corr, allocate), b) for w, b in layers]
            params = [obs.params(spec, act) for obs in observers]
            aq = [lambda h, s=s, z=z: fake_quant(h, s, z, spec) for s, z in params]
            acc = float(np.mean(ptq_forward(x_test, qlayers, aq).argmax(1) == y_test))
            rows.append({"method": label, "w_bits": w_bits, "a_bits": a_bits, "accuracy": acc})
    return rows
