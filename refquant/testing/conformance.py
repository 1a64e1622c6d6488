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
from .strategies import quant_cases, quant_specs, signed_binary_cases, ternary_matmul_cases

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
