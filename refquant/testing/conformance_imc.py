"""Conformance checkers for RAOQ's training pieces (:mod:`refquant.imc.training`).

Each ``check_<op>(candidate)`` draws cases with Hypothesis, runs the candidate (e.g. a PyTorch autograd
implementation wrapped to take and return NumPy arrays) and the reference, and raises
:class:`~refquant.testing.ConformanceError` with a minimal counterexample on the first mismatch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from ._compare import EXACT, ConformanceError, Tolerance, compare_arrays
from .conformance import _PROBE, CheckReport, _check_candidate, _check_run_options, _check_tolerance, run_property
from .strategies import weight_layers

__all__ = [
    "check_adc_ste_grad",
    "check_crossbar_ste_grad",
    "check_crossbar_ste_grad_bpbs",
    "check_bitaug_weight",
    "check_adc_lora_forward",
    "check_w_reshape_grad",
]


#: Default tolerances of the checkers below (relative, with an absolute floor where gradients may vanish).
_ADC_STE_TOL = Tolerance("rel", rtol=1e-12, atol=1e-12)
_CROSSBAR_STE_TOL = Tolerance("rel", rtol=1e-10, atol=1e-10)
_BITAUG_TOL = Tolerance("rel", rtol=1e-12, atol=1e-15)
_W_RESHAPE_TOL = Tolerance("rel", rtol=1e-8, atol=1e-300)


def _adc_cases():
    return st.tuples(
        st.integers(0, 2**31 - 1),
        st.floats(-50, 50),
        st.floats(0.05, 10),
        st.integers(1, 10),
        st.sampled_from(["round", "floor"]),
        st.integers(1, 60),
    )


def check_adc_ste_grad(
    candidate: Callable,
    *,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = _ADC_STE_TOL,
) -> CheckReport:
    """Check an ADC straight-through-estimator gradient against :func:`refquant.imc.adc_ste_grad`.

    Pre-ADC values lie in range and clipped on both sides, for both transfers, 1- to 10-bit ADCs.

    Parameters
    ----------
    candidate : callable
        ``candidate(a, grad_out, offset, step, n_codes, transfer) -> (grad_a, grad_offset,
        grad_step)``.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative and absolute 1e-12.

    Returns
    -------
    CheckReport
        Counts of cases run and compared (:class:`~refquant.testing.conformance.CheckReport`).

    Raises
    ------
    ConformanceError
        The first mismatch (a minimal counterexample).
    TypeError, ValueError
        A non-callable *candidate*, a *tolerance* that is not a
        :class:`~refquant.testing.Tolerance`, a bad *max_examples* or *seed* (the message names the
        parameter), before any case runs.

    Examples
    --------
    >>> from refquant.imc import adc_ste_grad
    >>> cand = lambda a, g, o, d, n, tr: adc_ste_grad(a, g, offset=o, step=d, n_codes=n, transfer=tr)
    >>> check_adc_ste_grad(cand, max_examples=3).compared
    3
    """
    from ..imc import training as T

    _check_candidate(candidate, "(a, grad_out, offset, step, n_codes, transfer) -> (grad_a, grad_offset, grad_step)")
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    def body(case):
        s, o, d, bits, tr, size = case
        rng = np.random.default_rng(s)
        n = 2**bits
        a = rng.uniform(o - 3 * d, o + (n + 3) * d, size)
        g = rng.standard_normal(size)
        ref = T.adc_ste_grad(a, g, offset=o, step=d, n_codes=n, transfer=tr)
        got = candidate(a.copy(), g.copy(), o, d, n, tr)
        ctx = {"offset": o, "step": d, "n_codes": n, "transfer": tr}
        compare_arrays(ref[0], np.asarray(got[0], dtype=np.float64), tolerance, op="adc_ste_grad (grad_a)", context=ctx)
        compare_arrays(
            np.array([ref[1], ref[2]]),
            np.array([got[1], got[2]], dtype=np.float64),
            tolerance,
            op="adc_ste_grad (grad_offset, grad_step)",
            context=ctx,
        )

    return run_property(_adc_cases(), body, max_examples=max_examples, seed=seed, op="adc_ste_grad")


def _compare_crossbar_grads(candidate, x, w, g, spec, tolerance, op):
    """One case of the crossbar STE checkers: refquant's ``(grad_x, grad_w)`` at ``x_scale=0.25, w_scale=0.1``
    against the candidate's on copies of the same inputs."""
    from ..imc.training import crossbar_ste_grad

    ref = crossbar_ste_grad(x, w, g, spec, x_scale=0.25, w_scale=0.1)
    got = candidate(x.copy(), w.copy(), g.copy(), spec, 0.25, 0.1)
    for name, r, c in zip(("grad_x", "grad_w"), ref, got):
        compare_arrays(r, np.asarray(c, dtype=np.float64), tolerance, op=f"{op} ({name})", context={"spec": spec})


def check_crossbar_ste_grad(
    candidate: Callable,
    *,
    max_examples: int = 50,
    seed: int | None = 0,
    tolerance: Tolerance = _CROSSBAR_STE_TOL,
) -> CheckReport:
    """Check a crossbar's straight-through-estimator gradients against :func:`refquant.imc.crossbar_ste_grad`.

    Multi-bit crossbars, A-shift on and off, clipped ADCs and operands.

    Parameters
    ----------
    candidate : callable
        ``candidate(x, w, grad_y, spec, x_scale, w_scale) -> (grad_x, grad_w)``.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative and absolute 1e-10.

    Returns
    -------
    CheckReport
        Counts of cases run and compared (:class:`~refquant.testing.conformance.CheckReport`).

    Raises
    ------
    ConformanceError
        The first mismatch (a minimal counterexample).
    TypeError, ValueError
        A non-callable *candidate*, a *tolerance* that is not a
        :class:`~refquant.testing.Tolerance`, a bad *max_examples* or *seed* (the message names the
        parameter), before any case runs.
    """
    from ..imc import ADCSpec, CrossbarSpec

    _check_candidate(candidate, "(x, w, grad_y, spec, x_scale, w_scale) -> (grad_x, grad_w)")
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)
    cases = st.tuples(
        st.integers(0, 2**31 - 1),
        st.integers(1, 12),
        st.integers(1, 30),
        st.integers(2, 5),
        st.booleans(),
        st.sampled_from(["round", "floor"]),
        st.sampled_from([1.0, 2.0, 8.0]),
    )

    def body(case):
        s, rows, k, bits, shift, tr, kk = case
        rng = np.random.default_rng(s)
        spec = CrossbarSpec(rows=rows, input_bits=3, weight_bits=4, adc=ADCSpec(bits, transfer=tr, k=kk), a_shift=shift)
        x = rng.uniform(-0.5, 2.2, (3, k))
        w = rng.uniform(-0.9, 0.9, (k, 2))
        g = rng.standard_normal((3, 2))
        _compare_crossbar_grads(candidate, x, w, g, spec, tolerance, "crossbar_ste_grad")

    return run_property(cases, body, max_examples=max_examples, seed=seed, op="crossbar_ste_grad")


def check_crossbar_ste_grad_bpbs(
    candidate: Callable,
    *,
    max_examples: int = 30,
    seed: int | None = 0,
    tolerance: Tolerance = _CROSSBAR_STE_TOL,
) -> CheckReport:
    """Check ``candidate(x, w, grad_y, spec, x_scale, w_scale) -> (grad_x, grad_w)`` against
    :func:`refquant.imc.crossbar_ste_grad` on bit-serial (BPBS) crossbars.

    The cases cover every weight encoding (two's complement, offset with 1- to 3-bit cells, differential),
    unsigned, signed, A-shifted and sign-magnitude inputs, round and floor ADCs over ranges that clip
    (``k`` up to 8), both tilings and ragged last tiles. The reference rule (per-plane ADC masks, planes and
    cells moved by the minimum-norm inverses of their recombinations) is stated in
    :func:`refquant.imc.crossbar_ste_grad`.

    Parameters
    ----------
    candidate : callable
        ``candidate(x, w, grad_y, spec, x_scale, w_scale)`` returning ``(grad_x, grad_w)`` array_likes of
        ``x``'s and ``w``'s shapes (float64 inputs, copies).
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Allowed difference per element (default relative and absolute 1e-10).

    Returns
    -------
    CheckReport
        Counts of cases run and compared (:class:`~refquant.testing.conformance.CheckReport`).

    Raises
    ------
    ConformanceError
        On the first mismatch (minimal counterexample and the spec in the message).
    TypeError, ValueError
        A non-callable *candidate*, a *tolerance* that is not a
        :class:`~refquant.testing.Tolerance`, a bad *max_examples* or *seed* (the message names the
        parameter), before any case runs.
    """
    from ..imc import ADCSpec, CrossbarSpec

    _check_candidate(candidate, "(x, w, grad_y, spec, x_scale, w_scale) -> (grad_x, grad_w)")
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    encodings = st.sampled_from(
        [("twos_complement", 1), ("offset", 1), ("offset", 2), ("offset", 3), ("differential", 1), ("differential", 2)]
    )
    inputs = st.sampled_from(["unsigned", "signed", "a_shift", "sign_magnitude", "a_shift_sign_magnitude"])
    cases = st.tuples(
        st.integers(0, 2**31 - 1),
        st.integers(2, 9),
        st.integers(1, 20),
        st.integers(2, 5),
        encodings,
        inputs,
        st.sampled_from(["round", "floor"]),
        st.sampled_from([1.0, 2.0, 8.0]),
        st.sampled_from(["full_first", "even"]),
    )

    def body(case):
        s, rows, k, bits, (enc, beta), inp, tr, kk, tiling = case
        rng = np.random.default_rng(s)
        spec = CrossbarSpec(
            rows=rows,
            input_bits=3,
            weight_bits=4,
            mode="bpbs",
            input_signed=inp in ("signed", "sign_magnitude"),
            a_shift=inp.startswith("a_shift"),
            input_encoding="sign_magnitude" if inp.endswith("sign_magnitude") else "twos_complement",
            weight_encoding=enc,
            slice_bits=beta,
            tiling=tiling,
            adc=ADCSpec(bits, transfer=tr, k=kk),
        )
        lo, hi = spec.x_range
        x = rng.uniform((lo - 0.5) * 0.25, (hi + 0.5) * 0.25, (3, k))
        w = rng.uniform(-0.9, 0.9, (k, 2))
        g = rng.standard_normal((3, 2))
        _compare_crossbar_grads(candidate, x, w, g, spec, tolerance, "crossbar_ste_grad bpbs")

    return run_property(cases, body, max_examples=max_examples, seed=seed, op="crossbar_ste_grad_bpbs")


def check_bitaug_weight(
    candidate: Callable,
    *,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = _BITAUG_TOL,
) -> CheckReport:
    """Check a BitAug schedule ``candidate(epoch, n_epochs, hold_epochs) -> float`` against
    :func:`refquant.imc.bitaug_weight`, over whole schedules (every epoch of a run).

    Parameters
    ----------
    candidate : callable
        ``candidate(epoch, n_epochs, hold_epochs) -> float``.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative 1e-12 with an absolute floor of 1e-15.

    Returns
    -------
    CheckReport
        Counts of cases run and compared (:class:`~refquant.testing.conformance.CheckReport`).

    Raises
    ------
    ConformanceError
        The first mismatch (a minimal counterexample).
    TypeError, ValueError
        A non-callable *candidate*, a *tolerance* that is not a
        :class:`~refquant.testing.Tolerance`, a bad *max_examples* or *seed* (the message names the
        parameter), before any case runs.

    Examples
    --------
    >>> from refquant.imc import bitaug_weight
    >>> check_bitaug_weight(lambda e, n, h: bitaug_weight(e, n, hold_epochs=h), max_examples=3).compared
    3
    """
    from ..imc import training as T

    _check_candidate(candidate, "(epoch, n_epochs, hold_epochs) -> float")
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    def body(case):
        n, hold = case
        ref = np.array([T.bitaug_weight(e, n, hold_epochs=hold) for e in range(n)])
        got = np.array([candidate(e, n, hold) for e in range(n)], dtype=np.float64)
        compare_arrays(ref, got, tolerance, op="bitaug_weight", context={"n_epochs": n, "hold_epochs": hold})

    schedules = st.tuples(st.integers(1, 120), st.integers(0, 20))
    return run_property(schedules, body, max_examples=max_examples, seed=seed, op="bitaug_weight")


def check_adc_lora_forward(candidate: Callable, *, max_examples: int = 50, seed: int | None = 0) -> CheckReport:
    """Check ``candidate(x, w, a, b, spec, x_scale, w_scale) -> y`` against :func:`refquant.imc.adc_lora_forward`.

    Bit for bit: eq. 11 of RAOQ through the simulated crossbar, both compute modes.

    Parameters
    ----------
    candidate : callable
        ``candidate(x, w, a, b, spec, x_scale, w_scale) -> y``.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.

    Returns
    -------
    CheckReport
        Counts of cases run and compared (:class:`~refquant.testing.conformance.CheckReport`).

    Raises
    ------
    ConformanceError
        The first mismatch (a minimal counterexample).
    TypeError, ValueError
        A non-callable *candidate*, a bad *max_examples* or *seed* (the message names the
        parameter), before any case runs.
    """
    from ..imc import ADCSpec, CrossbarSpec
    from ..imc import training as T

    _check_candidate(candidate, "(x, w, a, b, spec, x_scale, w_scale) -> y")
    _check_run_options(max_examples, seed)
    cases = st.tuples(
        st.integers(0, 2**31 - 1),
        st.integers(1, 40),
        st.integers(1, 3),
        st.sampled_from(["multibit", "bpbs"]),
        st.integers(2, 8),
    )

    def body(case):
        s, k, r, mode, bits = case
        rng = np.random.default_rng(s)
        spec = CrossbarSpec(rows=16, input_bits=4, weight_bits=4, mode=mode, adc=ADCSpec(bits, k=2.0))
        x = np.maximum(rng.standard_normal((4, k)), 0) * 5
        w = rng.standard_normal((k, 3)) * 0.3
        a, b = rng.standard_normal((k, r)) * 0.1, rng.standard_normal((r, 3)) * 0.1
        ref = T.adc_lora_forward(x, w, a, b, spec, x_scale=1.0, w_scale=0.12)
        got = candidate(x.copy(), w.copy(), a.copy(), b.copy(), spec, 1.0, 0.12)
        compare_arrays(ref, np.asarray(got, dtype=np.float64), EXACT, op="adc_lora_forward", context={"spec": spec})

    return run_property(cases, body, max_examples=max_examples, seed=seed, op="adc_lora_forward")


def check_w_reshape_grad(
    candidate: Callable,
    *,
    target: float = 1.8,
    lam: float = 6e-4,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = _W_RESHAPE_TOL,
) -> CheckReport:
    """Check ``candidate(weights, target, lam) -> list of gradient arrays`` against
    :func:`refquant.imc.w_reshape_penalty_grad`.

    The sum over layers (RAOQ's form, eqs. 6-7); relative 1e-8 plus an absolute floor of 1e-12
    times the layer's largest gradient.

    Parameters
    ----------
    candidate : callable
        ``candidate(weights, target, lam)``, weights a list of float64 arrays; one gradient per
        layer.
    target : float >= 1
        The kurtosis target (default 1.8).
    lam : float >= 0
        The penalty weight (default 6e-4).
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative 1e-8 (absolute floor as above).

    Returns
    -------
    CheckReport
        Counts of cases run and compared (:class:`~refquant.testing.conformance.CheckReport`).

    Raises
    ------
    ConformanceError
        The first mismatch (a minimal counterexample).
    TypeError, ValueError
        A non-callable *candidate*, a *tolerance* that is not a
        :class:`~refquant.testing.Tolerance`, a *target* or *lam* rejected by
        :func:`refquant.imc.w_reshape_penalty_grad`, a bad *max_examples* or *seed* (the message
        names the parameter), before any case runs.
    """
    from ..imc import training as T

    _check_candidate(candidate, "(weights, target, lam) -> list of arrays")
    # refquant's own checks of target and lam on a small valid layer, before any case runs
    T.w_reshape_penalty_grad([_PROBE], target=target, lam=lam)
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    def body(layers):
        ref = T.w_reshape_penalty_grad(layers, target=target, lam=lam)
        got = candidate([w.copy() for w in layers], target, lam)
        if len(got) != len(ref):
            raise ConformanceError(f"w_reshape_grad: candidate returned {len(got)} arrays for {len(ref)} layers")
        for i, (r, g) in enumerate(zip(ref, got)):
            tol = Tolerance("rel", rtol=tolerance.rtol, atol=max(tolerance.atol, 1e-12 * float(np.abs(r).max())))
            compare_arrays(
                r,
                np.asarray(g, dtype=np.float64),
                tol,
                op=f"w_reshape_grad layer {i}",
                context={"layers": [w.shape for w in layers]},
            )

    return run_property(weight_layers(), body, max_examples=max_examples, seed=seed, op="w_reshape_grad")
