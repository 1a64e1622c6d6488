"""Conformance checkers: hold *your* implementation to refquant's semantics.

Each ``check_<op>(candidate, ...)`` generates cases with Hypothesis
(tie-heavy, edge-heavy inputs from :mod:`refquant.testing.strategies`), runs
``candidate`` and refquant on each, and raises :class:`ConformanceError` on
the first disagreement. Hypothesis then *shrinks* the case, so the error you
see is a minimal counterexample, with a readable diff: the first mismatching
index, the input there, refquant's value and yours (with their bit
patterns), the spec, and how many elements disagree.

Exactness is per operation and stated by a :class:`Tolerance`: bit-exact
(``exact``) where the semantics are integer or exactly rounded (the uniform
quantizer), a ULP or relative bound otherwise.

Candidate signatures
--------------------
A candidate is any callable with the signature of the refquant operation it
is checked against, returning something :func:`numpy.asarray` accepts (a
NumPy array, a torch tensor on the CPU, a JAX array ...). Write a small
adapter for other APIs, e.g. for PyTorch (documentation only; refquant does
not depend on torch)::

    def torch_fq(x, scale, zero_point, spec):
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return torch.fake_quantize_per_tensor_affine(t, float(scale), int(zero_point), spec.qmin, spec.qmax)

    check_fake_quant(torch_fq, specs=quant_specs(min_bits=8, max_bits=8, scale_ops=["reciprocal"],
                                                  compute_dtypes=["float32"]),
                     per_channel=False, dtype=np.float32)
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st

from .. import uniform as _uniform
from .._validate import check_int
from ._compare import EXACT, ConformanceError, Tolerance, compare_arrays
from .strategies import imc_cases, quant_cases, quant_specs, signed_binary_cases, ternary_matmul_cases, weight_layers

__all__ = [
    "ConformanceError",
    "Tolerance",
    "EXACT",
    "compare_arrays",
    "run_property",
    "check_quantize",
    "check_dequantize",
    "check_fake_quant",
]


def run_property(strategy: st.SearchStrategy, body: Callable[[Any], None], *, max_examples: int, seed: int | None) -> None:
    """Run ``body`` on ``max_examples`` draws of *strategy* (shrinking failures), without a database."""
    max_examples = check_int(max_examples, "max_examples", 1, 10**7)
    cfg = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )

    @cfg
    @given(strategy)
    def prop(case):
        body(case)

    if seed is not None:
        prop = hyp_seed(check_int(seed, "seed", 0))(prop)
    prop()


def _ctx(case) -> dict[str, Any]:
    return {"spec": case.spec, "scale": case.scale, "zero_point": case.zero_point, "x dtype/shape": f"{case.x.dtype} {case.x.shape}"}


def _cases(specs, per_channel, dtype) -> st.SearchStrategy:
    return quant_cases(specs=specs if specs is not None else quant_specs(), per_channel=per_channel, dtype=dtype)


def _check_forward(ref_fn, op, candidate, specs, per_channel, dtype, max_examples, seed, tolerance, check_dtype):
    """Shared body of check_fake_quant / check_quantize: same inputs to refquant and the candidate."""

    def body(case):
        ref = ref_fn(case.x, case.scale, case.zero_point, case.spec)
        got = candidate(case.x.copy(), case.scale, case.zero_point, case.spec)
        compare_arrays(ref, got, tolerance, op=op, context=_ctx(case), inputs={"x": case.x}, check_dtype=check_dtype)

    run_property(_cases(specs, per_channel, dtype), body, max_examples=max_examples, seed=seed)


def check_fake_quant(
    candidate: Callable,
    *,
    specs: st.SearchStrategy | None = None,
    per_channel: bool | None = None,
    dtype=None,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = EXACT,
    check_dtype: bool = False,
) -> None:
    """Check ``candidate(x, scale, zero_point, spec) -> fake-quantized x`` against :func:`refquant.fake_quant`.

    Parameters
    ----------
    candidate : callable
    specs : strategy of QuantSpec, optional
        Restrict to the configurations your implementation supports
        (default: every deterministic spec; see :func:`quant_specs`).
    per_channel : bool or None
        Only per-tensor (False), only per-channel (True) or both (None).
    dtype : float32, float64 or None (both).
    max_examples, seed : Hypothesis budget; ``seed=None`` derandomizes.
    tolerance : default bit-exact (signed zeros not distinguished).
    check_dtype : also require refquant's output dtype.

    Raises
    ------
    ConformanceError
        With the minimal counterexample and the diff.
    """

    _check_forward(_uniform.fake_quant, "fake_quant", candidate, specs, per_channel, dtype, max_examples, seed, tolerance, check_dtype)


def check_quantize(
    candidate: Callable,
    *,
    specs: st.SearchStrategy | None = None,
    per_channel: bool | None = None,
    dtype=None,
    max_examples: int = 200,
    seed: int | None = 0,
    check_dtype: bool = False,
) -> None:
    """Check ``candidate(x, scale, zero_point, spec) -> integer codes`` against :func:`refquant.quantize` (exact)."""

    _check_forward(_uniform.quantize, "quantize", candidate, specs, per_channel, dtype, max_examples, seed, EXACT, check_dtype)


def check_dequantize(
    candidate: Callable,
    *,
    specs: st.SearchStrategy | None = None,
    per_channel: bool | None = None,
    dtype=None,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = EXACT,
) -> None:
    """Check ``candidate(codes, scale, zero_point, spec) -> values`` against :func:`refquant.dequantize`.

    Codes are refquant's codes of generated inputs; scales are passed in the
    compute dtype, so refquant's dequantize works in that dtype.
    """

    def body(case):
        cdt = case.spec.resolve_compute_dtype(case.x.dtype)
        s = np.asarray(case.scale, dtype=cdt)
        codes = _uniform.quantize(case.x, s, case.zero_point, case.spec, nonfinite="saturate")
        ref = _uniform.dequantize(codes, s, case.zero_point, case.spec)
        got = candidate(codes.copy(), s, case.zero_point, case.spec)
        compare_arrays(ref, got, tolerance, op="dequantize", context=_ctx(case), inputs={"codes": codes})

    run_property(_cases(specs, per_channel, dtype), body, max_examples=max_examples, seed=seed)



def check_signed_binarize(
    candidate: Callable,
    *,
    explicit_signs: bool | None = None,
    max_examples: int = 200,
    seed: int | None = 0,
) -> None:
    """Check ``candidate(w, *, signs=None, threshold, axis, region) -> q`` against
    :func:`refquant.binarize.signed_binarize` (exact: values are 0 and ±1).

    Cases (:func:`~refquant.testing.strategies.signed_binary_cases`) put
    weights exactly on the per-region threshold ``threshold·max|w|`` (where
    ``>`` and ``>=`` differ), use every region layout (whole filters or
    input-channel tiles, filter axis anywhere) and the default or an explicit
    sign map. ``explicit_signs=False`` never passes ``signs`` (for
    implementations that only have the default rule).
    """
    from .. import binarize as _binarize

    def body(case):
        ref = _binarize.signed_binarize(case.w, **case.kwargs)
        got = candidate(case.w.copy(), **case.kwargs)
        ctx = {k: v for k, v in case.kwargs.items() if k != "signs"}
        if "signs" in case.kwargs:
            ctx["signs"] = case.kwargs["signs"].tolist()
        compare_arrays(ref, got, EXACT, op="signed_binarize", context=ctx, inputs={"w": case.w})

    run_property(signed_binary_cases(explicit_signs=explicit_signs), body, max_examples=max_examples, seed=seed)


def check_repetition_matmul(
    candidate: Callable,
    *,
    method: str | None = None,
    tile: int = 8,
    max_examples: int = 200,
    seed: int | None = 0,
) -> None:
    """Check a repetition-aware ``candidate(x, w_q)`` against ``x @ w_q`` (exact, integer operands).

    ``candidate`` returns ``y`` or ``(y, counts)``. ``y`` must equal the exact
    integer product (refquant's :func:`~refquant.repetition.factorized_matmul`).
    With ``method`` (``"factorized"`` or ``"shared_sum"``), ``counts`` (any
    object with ``adds``, ``muls`` and ``dense_macs``) must also equal
    refquant's count for that kernel — for ``"shared_sum"`` that means
    refquant's documented greedy with the same ``tile``. Cases
    (:func:`~refquant.testing.strategies.ternary_matmul_cases`): binary,
    ternary and signed-binary columns with integer magnitudes, all-zero
    columns, repeated and negated columns.
    """
    from .. import repetition as _rep

    if method is not None and method not in ("factorized", "shared_sum"):
        raise ValueError(f"method={method!r}; allowed: None, 'factorized', 'shared_sum'")
    tile = check_int(tile, "tile", 1)

    def body(case):
        if method == "shared_sum":
            ref, ref_counts = _rep.shared_sum_matmul(case.x, case.w_q, tile=tile)
        else:
            ref, ref_counts = _rep.factorized_matmul(case.x, case.w_q)
        out = candidate(case.x.copy(), case.w_q.copy())
        y, counts = out if isinstance(out, tuple) else (out, None)
        ctx = {"method": method, "tile": tile, "x shape": case.x.shape, "w_q shape": case.w_q.shape}
        compare_arrays(ref, y, EXACT, op="repetition matmul", context=ctx, inputs={"x": case.x, "w_q": case.w_q})
        if method is not None:
            if counts is None:
                raise ConformanceError(f"repetition matmul: method={method!r} needs the candidate to return (y, counts)")
            got = tuple(int(getattr(counts, f)) for f in ("adds", "muls", "dense_macs"))
            want = (ref_counts.adds, ref_counts.muls, ref_counts.dense_macs)
            if got != want:
                raise ConformanceError(
                    f"repetition matmul ({method}): op counts differ: refquant (adds, muls, dense_macs) = {want}, "
                    f"candidate = {got}\n  w_q =\n{case.w_q}\n  context: {ctx}"
                )

    run_property(ternary_matmul_cases(), body, max_examples=max_examples, seed=seed)


def check_imc_matmul(candidate: Callable, *, specs: st.SearchStrategy | None = None, max_examples: int = 200,
                     seed: int | None = 0) -> None:
    """Check ``candidate(x_codes, w_codes, spec) -> y`` against :func:`refquant.imc.imc_matmul` (bit-exact).

    Cases (:func:`~refquant.testing.strategies.imc_cases`): both compute modes, every weight encoding,
    A-shift, ragged last tiles, lossy and lossless ADCs of every transfer and range policy. Restrict
    ``specs`` (e.g. ``crossbar_specs(modes=["multibit"])``) to what your model implements.
    """
    from .. import imc as _imc

    def body(case):
        ref = _imc.imc_matmul(case.x_codes, case.w_codes, case.spec)
        got = candidate(case.x_codes.copy(), case.w_codes.copy(), case.spec)
        compare_arrays(ref, got, EXACT, op="imc_matmul", context={"spec": case.spec},
                       inputs={"x_codes": case.x_codes})

    run_property(imc_cases(specs=specs), body, max_examples=max_examples, seed=seed)


_KURT_TOL = Tolerance("rel", rtol=1e-10, atol=0.0)


def check_kurtosis(candidate: Callable, *, ddof: int = 0, max_examples: int = 200, seed: int | None = 0,
                   tolerance: Tolerance = _KURT_TOL) -> None:
    """Check ``candidate(x) -> Pearson kurtosis of the whole tensor`` against :func:`refquant.kurtosis.kurtosis`
    (relative 1e-10 by default: summation orders differ between implementations).

    ``ddof=1`` checks against ``kurtosis(x, ddof=1)``: the second moment divided by ``N - 1``, as the KURE
    code's ``torch.mean(((w - w.mean()) / w.std())**4)`` (PyTorch's ``std()`` is unbiased). Raises
    ``ConformanceError`` on the first mismatch; ``TypeError``/``ValueError`` for a ``ddof`` other than 0 or 1.
    """
    from .. import kurtosis as _k
    from .._validate import check_int

    ddof = check_int(ddof, "ddof", 0, 1)

    def body(layers):
        for w in layers:
            compare_arrays(np.asarray(_k.kurtosis(w, ddof=ddof)), np.asarray(candidate(w.copy()), dtype=np.float64),
                           tolerance, op="kurtosis", context={"shape": w.shape, "ddof": ddof}, inputs=None)

    run_property(weight_layers(), body, max_examples=max_examples, seed=seed)


def check_kure_grad(candidate: Callable, *, target: float = 1.8, ddof: int = 0, max_examples: int = 200,
                    seed: int | None = 0, tolerance: Tolerance = Tolerance("rel", rtol=1e-8, atol=1e-300)) -> None:
    """Check ``candidate(weights, target) -> list of gradient arrays`` against :func:`refquant.kurtosis.kure_grad`
    (the golden values an autograd implementation of the KURE loss must reproduce; relative 1e-8 by default,
    plus an absolute floor of 1e-12 times the layer's largest gradient).

    ``ddof=1`` checks against ``kure_grad(weights, target, ddof=1)``, the gradient of the KURE code's loss
    (unbiased std). Raises ``ConformanceError`` on the first mismatch; ``TypeError``/``ValueError`` for a
    ``ddof`` other than 0 or 1.
    """
    from .. import kurtosis as _k
    from .._validate import check_int

    ddof = check_int(ddof, "ddof", 0, 1)

    def body(layers):
        ref = _k.kure_grad(layers, target, ddof=ddof)
        got = candidate([w.copy() for w in layers], target)
        if len(got) != len(ref):
            raise ConformanceError(f"kure_grad: candidate returned {len(got)} arrays for {len(ref)} layers")
        for i, (r, g) in enumerate(zip(ref, got)):
            tol = Tolerance("rel", rtol=tolerance.rtol, atol=max(tolerance.atol, 1e-12 * float(np.abs(r).max())))
            compare_arrays(r, np.asarray(g, dtype=np.float64), tol, op=f"kure_grad layer {i}",
                           context={"layers": [w.shape for w in layers], "target": target, "ddof": ddof})

    run_property(weight_layers(), body, max_examples=max_examples, seed=seed)


def _clip_cases():
    from ..clipping import GRIDS

    return st.tuples(st.sampled_from(["gaussian", "laplace", "uniform"]), st.sampled_from(list(GRIDS)),
                     st.integers(2, 8), st.booleans(), st.floats(0.05, 8.0), st.floats(0.1, 10.0))


def check_mse_exact(candidate: Callable, *, max_examples: int = 200, seed: int | None = 0,
                    tolerance: Tolerance = Tolerance("rel", rtol=1e-9)) -> None:
    """Check ``candidate(alpha, bits, dist, scale, grid=..., signed=...) -> float`` against
    :func:`refquant.clipping.mse_exact` (relative 1e-9)."""
    from .. import clipping as _c

    def body(case):
        dist, grid, bits, signed, a, scale = case
        ref = np.asarray(_c.mse_exact(a * scale, bits, dist, scale, grid=grid, signed=signed))
        got = np.asarray(candidate(a * scale, bits, dist, scale, grid=grid, signed=signed), dtype=np.float64)
        compare_arrays(ref, got, tolerance, op="mse_exact",
                       context={"dist": dist, "grid": grid, "bits": bits, "signed": signed, "alpha": a * scale, "scale": scale})

    run_property(_clip_cases(), body, max_examples=max_examples, seed=seed)


def check_optimal_clip(candidate: Callable, *, model: str = "exact", max_examples: int = 50, seed: int | None = 0,
                       tolerance: Tolerance = Tolerance("rel", rtol=1e-6)) -> None:
    """Check ``candidate(bits, dist, scale, grid=..., signed=...) -> alpha*`` against
    :func:`refquant.clipping.optimal_clip` with ``model`` (relative 1e-6, the solver's stated accuracy)."""
    from .. import clipping as _c

    def body(case):
        dist, grid, bits, signed, _, scale = case
        ref = np.asarray(_c.optimal_clip(bits, dist, scale, model=model, grid=grid, signed=signed))
        got = np.asarray(candidate(bits, dist, scale, grid=grid, signed=signed), dtype=np.float64)
        compare_arrays(ref, got, tolerance, op=f"optimal_clip (model={model!r})",
                       context={"dist": dist, "grid": grid, "bits": bits, "signed": signed, "scale": scale})

    run_property(_clip_cases(), body, max_examples=max_examples, seed=seed)
