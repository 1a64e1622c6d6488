"""The kernel registry: every Numba kernel in refquant/_kernels, its NumPy twin, its prepare step, its inputs.

For each kernel the library has one named prepare step (``_prepare_<kernel>`` next to its wrapper) that turns
validated public arguments into the kernel's exact arguments, a NamedTuple whose fields are the kernel's
parameters in order (outputs allocated). The kernel and its twin in ``refquant._reference`` consume the same
prepared arguments; the twin writes the same outputs. The registry below drives

* ``test_kernel_equals_twin``: kernel vs twin over Hypothesis draws of public-level inputs, bit for bit
  (kurtosis: within 1e-12 relative to the sum of the terms' magnitudes, the contract of its twin), plus
  ``test_kernel_equals_twin_on_examples`` over fixed inputs that reach the long paths (BPBS tiles of >= 8
  words, several column panels with a padded last one, ragged last tiles, split kurtosis rows) and every
  compiled signature. Both are marked ``kernel``, so tests/test_nojit.py re-runs them with NUMBA_DISABLE_JIT=1.
* ``test_every_kernel_compiles_exactly_its_signatures``: after the examples ran, each kernel has exactly one
  compiled signature per expected dtype key (no drift from differently typed scalars or layouts).
* ``test_every_njit_function_is_registered``: a new ``@njit`` function in refquant/_kernels without a registry
  entry (or a declaration as an inlined or called helper) fails.
* ``test_planted_wrong_twin_is_caught``: a twin off by one unit in one element is caught by the comparison.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import inspect
import os
import pathlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import refquant as rq
from refquant._kernels import clipping as k_clip
from refquant._kernels import imc as k_imc
from refquant._kernels import kurtosis as k_kurt
from refquant._kernels import repetition as k_rep
from refquant._kernels import uniform as k_uni
from refquant._reference import clipping as t_clip
from refquant._reference import imc as t_imc
from refquant._reference import kurtosis as t_kurt
from refquant._reference import repetition as t_rep
from refquant._reference import uniform as t_uni
from refquant.testing import (
    IMCCase,
    adc_specs,
    crossbar_specs,
    imc_cases,
    quant_cases,
    quant_specs,
    ternary_matmul_cases,
)

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
KERNELS_DIR = pathlib.Path(k_uni.__file__).resolve().parent
N_EXAMPLES = max(5, settings.default.max_examples // 3)  # ci 20, nojit 8, thorough 400 per kernel


@dataclasses.dataclass(frozen=True)
class KernelEntry:
    """One kernel: how to reach it from public-level inputs, its twin, what it writes, what it compiles.

    prepare(case) returns the list of prepared argument tuples, one per kernel call in the library's order
    (several calls may share an output, as the multi-bit tiles share their accumulator).
    """

    kernel: Callable
    twin: Callable
    prepare: Callable
    cases: st.SearchStrategy
    examples: tuple
    outputs: tuple[str, ...]
    signature_key: Callable  # numba signature (tuple of types) -> the key that must be unique
    signatures: frozenset  # the expected keys: exactly one compiled signature each
    rtol: float = 0.0  # 0: bit for bit; else relative to the sum of the terms' magnitudes (see _tolerance)


# ---------------------------------------------------------------- uniform quantizer
@st.composite
def _uniform_cases(draw):
    """quant_cases plus every knob: zero-point placement, reciprocal dtype, both float domains, the range
    reciprocal, blocks, stochastic rounding, both outputs, small chunks, and injected NaN/inf (counted by the
    kernel)."""
    rounds = ["half_even", "half_away", "half_up", "floor", "floor_plus_half", "stochastic"]
    case = draw(quant_cases(specs=quant_specs(roundings=rounds), max_side=5))
    x, scale, zp, spec = case.x.copy(), case.scale, case.zero_point, case.spec
    zpo = draw(st.sampled_from(["after_round", "before_round", "fused"]))
    domain = draw(st.sampled_from(["code", "float_shifted", "float_centered"])) if zpo == "after_round" else "code"
    op = "reciprocal" if zpo == "fused" else draw(st.sampled_from(["divide", "reciprocal", "range_reciprocal"]))
    rdt = draw(st.sampled_from([None, "float32", "float64"])) if op == "reciprocal" else None
    try:
        spec = spec.replace(zero_point_op=zpo, domain=domain, scale_op=op, reciprocal_dtype=rdt)
    except ValueError:
        assume(False)
    if spec.axis is not None and draw(st.booleans()):
        n = x.shape[spec.axis]
        b = draw(st.integers(1, n + 1))
        pshape = list(x.shape)
        pshape[spec.axis] = -(-n // b)
        scale = np.resize(np.atleast_1d(scale), pshape)
        zp = np.resize(np.atleast_1d(zp), pshape)
        spec = spec.replace(block_size=b)
    if draw(st.booleans()):
        flat = x.reshape(-1)
        for i in draw(st.lists(st.integers(0, flat.size - 1), max_size=3)):
            flat[i] = draw(st.sampled_from([np.inf, -np.inf, np.nan]))
    return (
        x,
        scale,
        zp,
        spec,
        draw(st.booleans()),
        draw(st.sampled_from([None, 1, 3, 7])),
        draw(st.integers(0, 2**32 - 1)),
    )


def _uniform_prepare(case):
    from refquant.uniform import _prepare_affine_quant

    x, scale, zp, spec, dequant, chunk, seed = case
    rng = seed if spec.rounding.value == "stochastic" else None
    try:
        args, _ = _prepare_affine_quant(np.asarray(x), scale, zp, spec, rng, dequant, None, chunk)
    except ValueError as e:  # a reciprocal that overflows: the wrapper's documented error, not a kernel input
        assume("1/scale" not in str(e))
        raise
    return [args]


def _uniform_examples():
    x = np.array([[-2.5, -0.5, 0.5, 1.5, 2.5, 7.0], [0.25, -0.75, 3.0, -3.0, 0.0, 1e9]])
    out = []
    for dt in (np.float32, np.float64):
        xd = x.astype(dt)
        for bits, signed in ((4, True), (12, True), (4, False), (12, False)):
            for dequant in (False, True):
                out.append((xd, 0.5, 0 if signed else 3, rq.QuantSpec(bits, signed=signed), dequant, None, 0))
        fused = rq.QuantSpec(8, scale_op="reciprocal", zero_point_op="fused")  # the fma helper, both dtypes
        out.append((xd, 0.3, 1, fused, True, 2, 0))
        blocked = rq.QuantSpec(6, axis=1, block_size=4, domain="float_shifted")
        out.append((xd, np.array([[0.5, 0.25], [0.125, 1.0]]), np.array([[0, 1], [-2, 3]]), blocked, True, 5, 0))
        out.append((xd, 0.5, 0, rq.QuantSpec(4, rounding="stochastic"), False, 3, 7))
    return tuple(out)


def _uniform_key(sig):
    return (str(sig[0].dtype), str(sig[13].dtype))


_UNIFORM_KEYS = frozenset(
    {(f, f) for f in ("float32", "float64")}
    | {(f, c) for f in ("float32", "float64") for c in ("int8", "int16", "uint8", "uint16")}
)


# ---------------------------------------------------------------- clip search
@st.composite
def _clip_cases(draw):
    dt = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 37)))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).laplace(size=shape).astype(dt)
    if draw(st.booleans()):
        x[0] = 0.0  # an all-zero channel
    return (
        x,
        draw(st.integers(2, 9)),
        draw(st.sampled_from(["symmetric", "paper", "midrise"])),
        draw(st.integers(1, 20)),
        draw(st.sampled_from([None, 0, 1])),
    )


def _clip_prepare(case):
    from refquant.clipping.empirical import _prepare_clip_search

    x, bits, grid, n_cand, axis = case
    return [_prepare_clip_search(x, bits, grid, n_cand, axis)[0]]


_CLIP_EXAMPLES = tuple(
    (np.linspace(-3, 2, 40, dtype=dt).reshape(2, 20), 4, g, 13, 0)
    for dt in (np.float32, np.float64)
    for g in ("symmetric", "midrise")
)


# ---------------------------------------------------------------- kurtosis moments
@st.composite
def _moment_cases(draw):
    dt = draw(st.sampled_from([np.float32, np.float64]))
    shape = (draw(st.integers(1, 5)), draw(st.integers(2, 300)))
    loc = draw(st.sampled_from([0.0, 3.0, 1e4]))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).laplace(loc, 2.0, size=shape).astype(dt)
    return x, draw(st.sampled_from([None, 0]))


def _moment_rows(case):
    from refquant._validate import channel_rows
    from refquant.kurtosis import _prepare_moment_rows

    x, axis = case
    rows, r = _prepare_moment_rows(channel_rows(x, axis, "x"))
    return rows, r, rows.shape[1] * r


def _fused_prepare(case):
    from refquant.kurtosis import _prepare_fused_row_moments

    return [_prepare_fused_row_moments(_moment_rows(case)[0])]


def _row_sums_prepare(case):
    from refquant.kurtosis import _prepare_row_sums

    return [_prepare_row_sums(_moment_rows(case)[0])]


def _central_prepare(case):
    from refquant.kurtosis import _prepare_row_central_sums, _prepare_row_sums

    rows, r, n = _moment_rows(case)
    sums = _prepare_row_sums(rows)
    t_kurt.row_sums_prepared(*sums)  # the means come from pass 1 (any valid input would do)
    return [_prepare_row_central_sums(rows, r, sums.out, n)[1]]


# 2 x 16384 float32/float64 rows: the wrapper splits each channel into 4096-element rows (the two-pass path)
_MOMENT_EXAMPLES = tuple(
    (np.random.default_rng(1).laplace(3.0, 2.0, size=(2, 16384)).astype(dt), 0) for dt in (np.float32, np.float64)
) + ((np.arange(30.0).reshape(3, 10).astype(np.float32), 0),)


def _dtype0(sig):
    return str(sig[0].dtype)


def _scalar0(sig):
    """The first argument's type name for a helper taking scalars (a Numba ``Float`` has no ``dtype``)."""
    return str(getattr(sig[0], "dtype", sig[0]))


_FLOATS = frozenset({"float32", "float64"})


# ---------------------------------------------------------------- IMC crossbar
def _crossbar_prepare(case, mode):
    from refquant.imc.crossbar import _prepare_bpbs, _prepare_multibit, _shift_input

    prog = rq.imc.program_crossbar(case.w_codes, case.spec)
    xe = _shift_input(np.asarray(case.x_codes, dtype=np.int64), case.spec)
    if mode == "multibit":
        return list(_prepare_multibit(xe, prog))
    return [_prepare_bpbs(xe, prog), _prepare_bpbs(xe, prog, details=True)]  # plain call, then with the details


def _long_bpbs(rows, k, out, encoding, beta, transfer, batch=1):
    """A fixed case on the BPBS kernel's long paths (K ragged against the tile size)."""
    spec = rq.imc.CrossbarSpec(
        rows=rows,
        input_bits=5,
        weight_bits=6,
        mode="bpbs",
        input_signed=True,
        weight_encoding=encoding,
        slice_bits=beta,
        adc=rq.imc.ADCSpec(6, transfer=transfer),
    )
    rng = np.random.default_rng(rows + k + out)
    x = rng.integers(*spec.x_range, endpoint=True, size=(batch, k))
    w = rng.integers(*spec.w_range, endpoint=True, size=(k, out))
    return IMCCase(x.astype(np.int64), w.astype(np.int64), spec)


def _bpbs_cases():
    small = imc_cases(specs=crossbar_specs(adcs=adc_specs(lossless=None), modes=("bpbs",)))
    if NOJIT:  # pure-Python popcounts: the long paths are covered by the fixed examples
        return small
    long = imc_cases(specs=crossbar_specs(max_rows=700, modes=("bpbs",)), max_k=1500, max_out=300, max_batch=1)
    return st.one_of(small, long)


def _bpbs_examples():
    return (  # the first (used by the planted-bug test) is the cheapest
        _long_bpbs(100, 130, 5, "offset", 3, "round", batch=3),  # ragged last tile, multi-bit cells
        _long_bpbs(300, 700, 9, "differential", 2, "floor"),  # wpt 5 = 4 + 1, both polarities, 2-bit cells
        _long_bpbs(832, 900, 300, "twos_complement", 1, "round"),  # wpt 13 = 8 + 4 + 1; panels 256 + 44 (padded)
    )


def _multibit_examples():
    out = []
    for rows in (64, 1024):  # float32 tile GEMM (bound <= 2^24) and float64
        spec = rq.imc.CrossbarSpec(rows=rows, input_bits=8, weight_bits=8, mode="multibit", adc=rq.imc.ADCSpec(10))
        rng = np.random.default_rng(rows)
        k = rows + 37  # a ragged last tile
        out.append(IMCCase(rng.integers(0, 256, size=(2, k)), rng.integers(-127, 128, size=(k, 3)), spec))
    return tuple(out)


@st.composite
def _plane_cases(draw):
    k, rows, nbits = draw(st.integers(1, 300)), draw(st.integers(1, 700)), draw(st.integers(1, 9))
    u = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 2**nbits, size=(draw(st.integers(1, 5)), k))
    return u, nbits, rows


def _planes_prepare(case):
    from refquant.imc._packing import _prepare_pack_planes, _tiles

    u, nbits, rows = case
    return [_prepare_pack_planes(u, nbits, _tiles(u.shape[-1], rows), -(-rows // 64))]


@st.composite
def _panel_cases(draw):
    k, rows = draw(st.integers(1, 300)), draw(st.integers(1, 700))
    n_sl, beta = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), k, draw(st.integers(1, 300)))
    mags = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 2 ** (n_sl * beta), size=shape)
    return mags, n_sl, beta, rows


def _panels_prepare(case):
    from refquant.imc._packing import _prepare_pack_panels, _tiles

    mags, n_sl, beta, rows = case
    return [_prepare_pack_panels(mags, n_sl, beta, _tiles(mags.shape[1], rows), -(-rows // 64))]


_PLANE_EXAMPLES = ((np.arange(3 * 200).reshape(3, 200) % 32, 5, 130),)
_PANEL_EXAMPLES = ((np.arange(2 * 70 * 270).reshape(2, 70, 270) % 16, 2, 2, 30),)  # two panels, padded; 3 tiles


# ---------------------------------------------------------------- repetition
@st.composite
def _matmul_cases(draw):
    """ternary_matmul_cases (int64), optionally as float64 with a non-integer weight scale."""
    case = draw(ternary_matmul_cases(max_k=20, max_out=7))
    if draw(st.booleans()):
        return case.x, case.w_q
    s = draw(st.sampled_from([1.0, 0.37, 3.0]))
    return case.x.astype(np.float64) * draw(st.sampled_from([1.0, 1e-3, 0.1234567])), case.w_q * s


def _factorized_prepare(case):
    from refquant.repetition import _prepare_factorized

    x, w = case
    return [_prepare_factorized(rq.repetition.factorize(w), x)]


def _program(w, tile):
    return rq.repetition.plan_shared_sums(w, tile=tile)


def _nodes_prepare(case, tile=3):
    from refquant.repetition import _prepare_shared_nodes

    x, w = case
    return [_prepare_shared_nodes(_program(w, tile), x)]


def _groups_prepare(case, tile=3):
    from refquant.repetition import _prepare_shared_groups

    prog = _program(case[1], tile)
    nodes = _nodes_prepare(case, tile)[0]
    t_rep.shared_nodes_prepared(*nodes)  # the node values, as the groups kernel receives them
    return [_prepare_shared_groups(prog, nodes.vals)]


def _matmul_examples():
    w = np.array([[3, 0, 3, 0, 3, 0], [5, 5, 5, 0, 0, 0], [-1, 1, -1, 1, 0, 0]]).T
    x = np.arange(12).reshape(2, 6)
    return ((x, w), (x * 0.37, w * 0.5))


# ---------------------------------------------------------------- the registry
REGISTRY: dict[str, KernelEntry] = {
    "uniform.affine_quant_kernel": KernelEntry(
        k_uni.affine_quant_kernel,
        t_uni.affine_quant_prepared,
        _uniform_prepare,
        _uniform_cases(),
        _uniform_examples(),
        ("out", "counts"),
        _uniform_key,
        _UNIFORM_KEYS,
    ),
    "clipping.clip_search_kernel": KernelEntry(
        k_clip.clip_search_kernel,
        t_clip.clip_search_prepared,
        _clip_prepare,
        _clip_cases(),
        _CLIP_EXAMPLES,
        ("sse",),
        _dtype0,
        _FLOATS,
    ),
    "kurtosis.fused_row_moments": KernelEntry(
        k_kurt.fused_row_moments,
        t_kurt.fused_row_moments_prepared,
        _fused_prepare,
        _moment_cases(),
        _MOMENT_EXAMPLES,
        ("out",),
        _dtype0,
        _FLOATS,
        rtol=1e-12,
    ),
    "kurtosis.row_sums": KernelEntry(
        k_kurt.row_sums,
        t_kurt.row_sums_prepared,
        _row_sums_prepare,
        _moment_cases(),
        _MOMENT_EXAMPLES,
        ("out",),
        _dtype0,
        _FLOATS,
        rtol=1e-12,
    ),
    "kurtosis.row_central_sums": KernelEntry(
        k_kurt.row_central_sums,
        t_kurt.row_central_sums_prepared,
        _central_prepare,
        _moment_cases(),
        _MOMENT_EXAMPLES,
        ("out",),
        _dtype0,
        _FLOATS,
        rtol=1e-12,
    ),
    "imc.adc_convert_accumulate": KernelEntry(
        k_imc.adc_convert_accumulate,
        t_imc.adc_convert_accumulate_prepared,
        lambda c: _crossbar_prepare(c, "multibit"),
        imc_cases(specs=crossbar_specs(adcs=adc_specs(lossless=None), modes=("multibit",))),
        _multibit_examples(),
        ("acc",),
        _dtype0,
        _FLOATS,
    ),
    "imc.bpbs_kernel": KernelEntry(
        k_imc.bpbs_kernel,
        t_imc.bpbs_prepared,
        lambda c: _crossbar_prepare(c, "bpbs"),
        _bpbs_cases(),
        _bpbs_examples(),
        ("acc", "pre"),
        lambda sig: (),
        frozenset({()}),
    ),
    "imc.pack_planes_kernel": KernelEntry(
        k_imc.pack_planes_kernel,
        t_imc.pack_planes_prepared,
        _planes_prepare,
        _plane_cases(),
        _PLANE_EXAMPLES,
        ("out",),
        lambda sig: (),
        frozenset({()}),
    ),
    "imc.pack_panels_kernel": KernelEntry(
        k_imc.pack_panels_kernel,
        t_imc.pack_panels_prepared,
        _panels_prepare,
        _panel_cases(),
        _PANEL_EXAMPLES,
        ("out",),
        lambda sig: (),
        frozenset({()}),
    ),
    "repetition.factorized_kernel": KernelEntry(
        k_rep.factorized_kernel,
        t_rep.factorized_prepared,
        _factorized_prepare,
        _matmul_cases(),
        _matmul_examples(),
        ("yT",),
        _dtype0,
        frozenset({"int64", "float64"}),
    ),
    "repetition.shared_nodes_kernel": KernelEntry(
        k_rep.shared_nodes_kernel,
        t_rep.shared_nodes_prepared,
        _nodes_prepare,
        _matmul_cases(),
        _matmul_examples(),
        ("vals",),
        _dtype0,
        frozenset({"int64", "float64"}),
    ),
    "repetition.shared_groups_kernel": KernelEntry(
        k_rep.shared_groups_kernel,
        t_rep.shared_groups_prepared,
        _groups_prepare,
        _matmul_cases(),
        _matmul_examples(),
        ("yT",),
        _dtype0,
        frozenset({"int64", "float64"}),
    ),
}

#: ``@njit`` functions that are not entry points: inlined into their callers at the Numba IR level
#: (``inline="always"``, no signatures of their own), checked through the kernels that use them.
INLINE_HELPERS = {
    "clipping._sq_err",
    "imc._adc_reconstruct",
    "imc._popcount_block",
    "kurtosis.lane_sum",
    "kurtosis.lane_central_sums",
    "uniform._round",
    "uniform._two_sum",
    "uniform._round_to_odd_fix",
    "uniform._split",
    "uniform._code",
}

#: ``@njit`` helpers called (not inlined) from a registered kernel: compiled per caller dtype, checked through
#: their caller; name -> (caller, signature key, expected keys).
CALLED_HELPERS = {
    "uniform._fma_rn": ("uniform.affine_quant_kernel", _scalar0, _FLOATS),  # the fused multiply-add (x, r, z, f32)
}


# ---------------------------------------------------------------- comparison
def _float_bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.int32 if a.dtype == np.float32 else np.int64) if a.dtype.kind == "f" else a


def _tolerance(entry_name: str, args) -> np.ndarray:
    """Allowed |kernel - twin| of a moment kernel, divided by the stated 1e-12: the sum of the magnitudes of the
    summed terms (plain relative error for the even central sums and for same-sign data; for sums that cancel,
    the bound a summation order can reach). ``fused_row_moments`` also forms its own mean, whose rounding
    (relative 1e-12 of mean|x|) moves a central sum of d^k by up to k * sum |d|^(k-1) times that error."""
    v = np.asarray(args.v, dtype=np.float64)
    if entry_name == "kurtosis.row_sums":
        return np.abs(v).sum(axis=1)
    if entry_name == "kurtosis.row_central_sums":
        d = np.abs(v - args.mu[:, None])
        return np.stack([(d**2).sum(axis=1), (d**3).sum(axis=1), (d**4).sum(axis=1)], axis=1)
    d = np.abs(v - v.mean(axis=1, keepdims=True))
    m = np.abs(v).mean(axis=1)
    return np.stack(
        [np.abs(v).sum(axis=1)] + [(d**k).sum(axis=1) + k * m * (d ** (k - 1)).sum(axis=1) for k in (2, 3, 4)], axis=1
    )


def _masked(name: str, args, out_name: str, a: np.ndarray) -> np.ndarray:
    """Elements the contract leaves unspecified are not compared: fake-quant outputs at NaN inputs."""
    if name == "uniform.affine_quant_kernel" and out_name == "out" and args.dequant:
        return a[~np.isnan(args.x)]
    return a


def _copy_calls(calls: list) -> list:
    """Deep copies (outputs shared between calls stay shared) that keep each array's read-only flag, so the
    kernel sees the types the library passes (a read-only array is a different Numba type)."""
    copies = copy.deepcopy(calls)
    for orig, new in zip(calls, copies):
        for o, n in zip(orig, new):
            if isinstance(o, np.ndarray) and not o.flags.writeable:
                n.flags.writeable = False
    return copies


def run_and_compare(name: str, entry: KernelEntry, calls: list) -> None:
    """Run the kernel and the twin on (copies of) the same prepared calls; compare every output; check that
    neither touched an input."""
    kernel_calls = _copy_calls(calls)
    twin_calls = _copy_calls(calls)
    for k_args in kernel_calls:
        assert type(k_args)._fields == tuple(
            inspect.signature(getattr(entry.kernel, "py_func", entry.kernel)).parameters
        ), f"{name}: the prepared arguments do not name the kernel's parameters in order"
        with np.errstate(all="ignore"):
            entry.kernel(*k_args)
    for t_args in twin_calls:
        with np.errstate(all="ignore"):
            entry.twin(*t_args)
    for orig, k_args, t_args in zip(calls, kernel_calls, twin_calls):
        for field in orig._fields:
            o, k, t = getattr(orig, field), getattr(k_args, field), getattr(t_args, field)
            if field in entry.outputs:
                k, t = _masked(name, orig, field, k), _masked(name, orig, field, t)
                assert k.shape == t.shape and k.dtype == t.dtype, (
                    f"{name}.{field}: {k.shape}/{k.dtype} vs {t.shape}/{t.dtype}"
                )
                if entry.rtol:
                    tol = entry.rtol * _tolerance(name, orig)
                    assert np.all(np.abs(k - t) <= tol), (
                        f"{name}.{field}: max |kernel - twin| = {np.max(np.abs(k - t))}"
                    )
                else:
                    assert np.array_equal(_float_bits(k), _float_bits(t)), (
                        f"{name}.{field}: kernel and twin differ at "
                        f"{np.argwhere(_float_bits(k) != _float_bits(t))[:5].tolist()}"
                    )
            elif isinstance(o, np.ndarray) and len(calls) == 1:  # inputs untouched (a chained call's input may be
                # an earlier call's output)
                assert np.array_equal(_float_bits(k), _float_bits(o)) and np.array_equal(
                    _float_bits(t), _float_bits(o)
                ), f"{name}: input {field} was modified"


# ---------------------------------------------------------------- tests
@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=N_EXAMPLES, deadline=None)
@given(data=st.data())
def test_kernel_equals_twin(name, data):
    entry = REGISTRY[name]
    run_and_compare(name, entry, entry.prepare(data.draw(entry.cases, label="case")))


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_kernel_equals_twin_on_examples(name):
    entry = REGISTRY[name]
    assert entry.examples, f"{name} has no fixed examples"
    for case in entry.examples:
        run_and_compare(name, entry, entry.prepare(case))


def _njit_functions():
    """(module.function, keywords of its @njit decorator) for every @njit/@jit function in refquant/_kernels."""
    found = {}
    for path in sorted(KERNELS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    target = dec.func if isinstance(dec, ast.Call) else dec
                    if getattr(target, "id", getattr(target, "attr", "")) in {"njit", "jit"}:
                        kws = {kw.arg: kw.value for kw in dec.keywords} if isinstance(dec, ast.Call) else {}
                        found[f"{path.stem}.{node.name}"] = kws
    return found


def test_every_njit_function_is_registered():
    found = _njit_functions()
    assert "uniform.affine_quant_kernel" in found and len(found) >= len(REGISTRY)  # the scan itself works
    for name, kws in found.items():
        inline = kws.get("inline")
        is_inline = isinstance(inline, ast.Constant) and inline.value == "always"
        if name in INLINE_HELPERS:
            assert is_inline, f"{name} is declared an inlined helper but is not inline='always'"
        else:
            assert name in REGISTRY or name in CALLED_HELPERS, (
                f"{name} is an @njit kernel without a registry entry in tests/test_kernel_registry.py: add its twin "
                "(refquant/_reference), its _prepare step and an entry (docs/ARCHITECTURE.md, 'Adding a kernel')"
            )
    for name in set(REGISTRY) | INLINE_HELPERS | set(CALLED_HELPERS):
        assert name in found, f"registry names {name}, which is not an @njit function in refquant/_kernels"


@pytest.mark.skipif(NOJIT, reason="no signatures without the JIT")
def test_every_kernel_compiles_exactly_its_signatures():
    """After the fixed examples (which reach every expected key) each kernel has exactly one compiled signature
    per expected key: uniform 10 (x float32/float64 times out = x's dtype or int8/int16/uint8/uint16), clip
    search 2 (float32/float64 rows), each moment kernel 2 (float32/float64 rows), multi-bit conversion 2
    (float32/float64 tile sums), BPBS and both packing kernels 1, each repetition kernel 2 (int64/float64)."""
    for entry in REGISTRY.values():
        for case in entry.examples:
            for args in entry.prepare(case):
                entry.kernel(*args)
    kernels = dict(REGISTRY)
    for helper, (caller, key, keys) in CALLED_HELPERS.items():
        mod, fn = helper.split(".")
        kernels[helper] = dataclasses.replace(
            REGISTRY[caller], kernel=getattr(globals()[f"k_{_SHORT[mod]}"], fn), signature_key=key, signatures=keys
        )
    for name, entry in kernels.items():
        keys = [entry.signature_key(sig) for sig in entry.kernel.signatures]
        assert len(keys) == len(set(keys)), (
            f"{name} compiled more than one signature for a key: {entry.kernel.signatures}"
        )
        if name in CALLED_HELPERS:  # compiled inside its caller (or loaded with the caller from the cache): its own
            # dispatcher records only direct compilations, so only drift can be checked, not the count
            assert set(keys) <= entry.signatures, f"{name} compiled {sorted(keys)}, allowed {sorted(entry.signatures)}"
        else:
            assert set(keys) == entry.signatures, (
                f"{name} compiled {sorted(keys)}, expected exactly {sorted(entry.signatures)}"
            )


_SHORT = {"uniform": "uni", "clipping": "clip", "kurtosis": "kurt", "imc": "imc", "repetition": "rep"}


def _off_by_one(twin, outputs, rtol):
    """A wrong twin: the true twin, then one unit more in the last element of its first output (one ulp for
    bit-exact floats, 1 for integers and packed words, 1e-9 relative where the contract has a tolerance)."""

    def wrapped(*args):
        twin(*args)
        names = list(inspect.signature(twin).parameters)
        a = args[names.index(outputs[0])].reshape(-1)
        if rtol:
            a[-1] = a[-1] * (1 + 1e-9) + 1e-9
        elif a.dtype.kind == "f":
            a[-1] = np.nextafter(a[-1], np.inf)
        else:
            a[-1] = a[-1] + a.dtype.type(1)

    return wrapped


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_planted_wrong_twin_is_caught(name, monkeypatch):
    entry = REGISTRY[name]
    monkeypatch.setitem(
        REGISTRY, name + ".planted", dataclasses.replace(entry, twin=_off_by_one(entry.twin, entry.outputs, entry.rtol))
    )
    calls = entry.prepare(entry.examples[0])
    run_and_compare(name, entry, calls)  # the true twin agrees
    with pytest.raises(AssertionError, match="differ|max"):
        run_and_compare(name, REGISTRY[name + ".planted"], calls)
