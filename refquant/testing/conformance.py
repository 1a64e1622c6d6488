"""Conformance checkers: hold *your* implementation to refquant's semantics.

Each ``check_<op>(candidate, ...)`` generates cases with Hypothesis
(tie-heavy, edge-heavy inputs from :mod:`refquant.testing.strategies`), runs
``candidate`` and refquant on each, and raises :class:`ConformanceError` on
the first disagreement. The case is then made small: for the elementwise
quantizer ops the failing element alone (a 1-element array, with its
channel's scale and zero point) is re-checked and reported when it still
fails, and Hypothesis shrinks the rest (spec, scale) within a time budget
(``shrink_seconds``). The error shows the first mismatching index, the input
there, refquant's value and yours (with their bit patterns), the spec, and
how many elements disagree.

Exactness is per operation and stated by a :class:`Tolerance`: bit-exact
where the semantics are integer or exactly rounded (the uniform quantizer;
for ``fake_quant`` and ``dequantize`` also the sign of zero, :data:`STRICT`,
because the contract promises ``+0.0``), a ULP or relative bound otherwise.

Each checker returns a :class:`CheckReport` (cases run, compared, declared
:class:`Unsupported`, with reasons). A candidate raises
:class:`Unsupported` for a case outside its backend; the check fails when
more than ``max_unsupported`` of the cases (default half), or all of them,
were declined.

Candidate signatures
--------------------
A candidate is any callable with the signature of the refquant operation it
is checked against, returning something :func:`numpy.asarray` accepts (a
NumPy array, a torch tensor on the CPU, a JAX array ...). Write a small
adapter for other APIs. Restrict the specs to what the backend computes:
drawing every spec fails at once for any real backend (PyTorch's
fake-quantize multiplies by a float32 reciprocal and rounds half to even;
it has no ``floor`` or ``divide`` spec). For PyTorch (documentation only;
refquant does not depend on torch; the full script is
``docs/torch_conformance_example.py``)::

    import numpy as np, torch
    from refquant import QuantSpec
    from refquant.testing import check_fake_quant

    def torch_fq(x, scale, zero_point, spec):
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return torch.fake_quantize_per_tensor_affine(t, float(scale), int(zero_point), spec.qmin, spec.qmax)

    TORCH_SPECS = [QuantSpec(8, signed=s, rounding="half_even", scale_op="reciprocal", compute_dtype="float32")
                   for s in (True, False)]
    check_fake_quant(torch_fq, specs=TORCH_SPECS, per_channel=False, dtype=np.float32)

A symmetric int8 backend whose scale comes from its own calibration::

    check_fake_quant(my_fq, specs=[QuantSpec(8, narrow_range=True)], per_channel=False,
                     zero_point=0, scale=lambda x, spec: my_calibration(x))
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import uniform as _uniform
from .._validate import check_bool, check_callable, check_choice, check_int, check_real, check_str, check_type
from ._compare import EXACT, STRICT, ConformanceError, Tolerance, Unsupported, compare_arrays, mismatch_mask
from .strategies import (
    QuantCase,
    _check_dtype,
    imc_cases,
    quant_cases,
    signed_binary_cases,
    spec_strategy,
    ternary_matmul_cases,
    weight_layers,
)

__all__ = [
    "ConformanceError",
    "Unsupported",
    "Tolerance",
    "EXACT",
    "STRICT",
    "compare_arrays",
    "CheckReport",
    "run_property",
    "check_quantize",
    "check_dequantize",
    "check_fake_quant",
    "check_calibration",
    "check_signed_binarize",
    "check_repetition_matmul",
    "check_imc_matmul",
    "check_kurtosis",
    "check_kure_grad",
    "check_mse_exact",
    "check_optimal_clip",
]


@dataclasses.dataclass
class CheckReport:
    """What a conformance check did: returned by every ``check_<op>``.

    Parameters
    ----------
    op : str
        The operation checked.
    cases : int >= 0
        Cases handed to the candidate while generating (including the ones it declined).
    unsupported : int, 0..cases
        Cases where the candidate raised :class:`Unsupported`.
    reasons : collections.Counter
        ``str(exception)`` of each :class:`Unsupported` -> count.
    max_unsupported : float in [0, 1]
        The largest allowed fraction of unsupported cases.

    Attributes
    ----------
    op, cases, unsupported, reasons, max_unsupported
        As the parameters (:func:`run_property` counts ``cases``, ``unsupported`` and ``reasons``).

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type or out of its range (the message names it).

    Examples
    --------
    >>> r = CheckReport("fake_quant", cases=4, unsupported=1)
    >>> r.compared, r.unsupported_fraction
    (3, 0.25)
    """

    op: str
    cases: int = 0
    unsupported: int = 0
    reasons: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    max_unsupported: float = 0.5

    def __post_init__(self) -> None:
        check_str(self.op, "op")
        self.cases = check_int(self.cases, "cases", 0)
        self.unsupported = check_int(self.unsupported, "unsupported", 0, self.cases)
        if not isinstance(self.reasons, collections.Counter):
            raise TypeError(
                f"reasons must be a collections.Counter, got reasons={self.reasons!r} "
                f"(type={type(self.reasons).__name__})"
            )
        self.max_unsupported = check_real(self.max_unsupported, "max_unsupported", lo=0.0, hi=1.0)

    @property
    def compared(self) -> int:
        """Cases compared with refquant.

        Returns
        -------
        int
            ``cases - unsupported``.
        """
        return self.cases - self.unsupported

    @property
    def unsupported_fraction(self) -> float:
        """Fraction of the cases the candidate declined.

        Returns
        -------
        float
            ``unsupported / cases`` (0.0 when no case ran).
        """
        return self.unsupported / self.cases if self.cases else 0.0

    def summary(self) -> str:
        """A readable account of the check.

        Returns
        -------
        str
            One line of counts, e.g. ``"fake_quant: 200 case(s), 200 compared, 0 unsupported (0.0 %;
            allowed 50.0 %)"``, then one line per distinct reason for declining (the ten most common).

        Examples
        --------
        >>> print(CheckReport("fake_quant", cases=2).summary())
        fake_quant: 2 case(s), 2 compared, 0 unsupported (0.0 %; allowed 50.0 %)
        """
        lines = [
            f"{self.op}: {self.cases} case(s), {self.compared} compared, {self.unsupported} unsupported"
            f" ({100 * self.unsupported_fraction:.1f} %; allowed {100 * self.max_unsupported:.1f} %)"
        ]
        lines += [f"  unsupported x{n}: {why}" for why, n in self.reasons.most_common(10)]
        return "\n".join(lines)

    def _check(self) -> None:
        if self.cases == 0:
            raise ConformanceError(f"{self.op}: no case was run")
        if self.unsupported == self.cases:
            raise ConformanceError(
                f"{self.op}: the candidate declined every case (raised Unsupported), so nothing "
                f"was compared; restrict the options (specs=, dtype=, per_channel= ...) to what "
                f"it supports\n{self.summary()}"
            )
        if self.unsupported_fraction > self.max_unsupported:
            raise ConformanceError(
                f"{self.op}: the candidate declined {self.unsupported} of {self.cases} cases "
                f"(more than max_unsupported={self.max_unsupported}); restrict the options to "
                f"what it supports or raise max_unsupported\n{self.summary()}"
            )


def run_property(
    strategy: st.SearchStrategy,
    body: Callable[[Any], None],
    *,
    max_examples: int,
    seed: int | None,
    op: str = "property",
    max_unsupported: float = 0.5,
    shrink_seconds: float = 10.0,
) -> CheckReport:
    """Run ``body`` on ``max_examples`` draws of *strategy* (shrinking failures), without a database.

    Parameters
    ----------
    strategy : SearchStrategy
        The cases (a Hypothesis strategy).
    body : callable(case)
        Raises (typically :class:`ConformanceError`) on a failing case. An :class:`Unsupported`
        escaping *body* is counted, not compared.
    max_examples : int, 1..10**7
        Number of cases (Hypothesis' budget).
    seed : int >= 0 or None
        ``None`` derandomizes (Hypothesis' fixed seed).
    op : str
        Name used in the report and messages.
    max_unsupported : float in [0, 1]
        Largest allowed fraction of :class:`Unsupported` cases; the check fails above it, and always
        when every case was unsupported.
    shrink_seconds : float > 0
        Time budget for Hypothesis' shrinking of a failure (its own limit is 300 s); after it, the
        smallest failure found so far is reported.

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        A failing case (minimal as far as shrinking got), or too many unsupported cases.
    TypeError, ValueError
        *strategy* not a Hypothesis strategy, *body* not callable, *op* not a str, or an option out
        of its range (the message names the parameter), before any case runs.

    Examples
    --------
    >>> from hypothesis import strategies as st
    >>> run_property(st.integers(0, 9), lambda k: None, max_examples=5, seed=0, op="demo").cases
    5
    """
    check_type(strategy, st.SearchStrategy, "strategy", "a Hypothesis strategy (hypothesis.strategies.SearchStrategy)")
    check_callable(body, "body", "(case) -> None")
    check_str(op, "op")
    max_examples = check_int(max_examples, "max_examples", 1, 10**7)
    max_unsupported = check_real(max_unsupported, "max_unsupported", lo=0.0, hi=1.0)
    shrink_seconds = check_real(shrink_seconds, "shrink_seconds", lo=0.0, lo_open=True)
    if seed is not None:
        seed = check_int(seed, "seed", 0)
    report = CheckReport(op=op, max_unsupported=max_unsupported)
    counting = [True]
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
        try:
            body(case)
        except Unsupported as exc:
            if counting[0]:
                report.unsupported += 1
                report.reasons[str(exc) or type(exc).__name__] += 1
        finally:
            if counting[0]:
                report.cases += 1

    if seed is not None:
        prop = hyp_seed(seed)(prop)
    from hypothesis.internal.conjecture import engine as _engine

    old = getattr(_engine, "MAX_SHRINKING_SECONDS", None)
    try:
        if old is not None:  # documented as monkeypatchable in Hypothesis' engine module
            _engine.MAX_SHRINKING_SECONDS = min(old, shrink_seconds)
        prop()
    except ConformanceError:
        counting[0] = False
        raise
    finally:
        if old is not None:
            _engine.MAX_SHRINKING_SECONDS = old
    report._check()
    return report


def _uniform_strategy(
    *,
    specs=None,
    per_channel=None,
    dtype=None,
    zero_point=None,
    scale=None,
    calibrate=None,
    power_of_two_scales=None,
    max_dims=3,
    max_side=6,
    allow_subnormal=True,
    max_magnitude=None,
    blocked=False,
) -> st.SearchStrategy:
    """The one place the uniform checkers turn their options into cases (specs, scale source, zero-point policy)."""
    if per_channel is not None:
        check_bool(per_channel, "per_channel")
    return quant_cases(
        specs=spec_strategy(specs),
        per_channel=per_channel,
        dtype=dtype,
        zero_point=zero_point,
        scale=scale,
        calibrate=calibrate,
        power_of_two_scales=power_of_two_scales,
        max_dims=max_dims,
        max_side=max_side,
        allow_subnormal=allow_subnormal,
        max_magnitude=max_magnitude,
        blocked=blocked,
    )


_CASE_OPTIONS = (
    "specs",
    "per_channel",
    "dtype",
    "zero_point",
    "scale",
    "calibrate",
    "power_of_two_scales",
    "max_dims",
    "max_side",
    "allow_subnormal",
    "max_magnitude",
)
"""The options of the uniform checkers that :func:`_uniform_strategy` turns into cases."""


def _ctx(case, note: str | None = None) -> dict[str, Any]:
    ctx = {
        "spec": case.spec,
        "scale": case.scale,
        "zero_point": case.zero_point,
        "x dtype/shape": f"{case.x.dtype} {case.x.shape}",
    }
    if note:
        ctx["note"] = note
    return ctx


def _one_element(case: QuantCase, idx: tuple) -> QuantCase | None:
    """The failing element alone: a 1-element 1-D case with its channel's scale and zero point."""
    if getattr(case.spec, "block_size", None) is not None or not idx:
        return None
    x1 = np.asarray(case.x[idx], dtype=case.x.dtype).reshape(1)
    if case.spec.axis is None:
        return QuantCase(x1, case.scale, case.zero_point, case.spec)
    c = idx[case.spec.axis % case.x.ndim]
    return QuantCase(
        x1, np.asarray(case.scale)[c : c + 1], np.asarray(case.zero_point)[c : c + 1], case.spec.replace(axis=0)
    )


def _run_uniform(case: QuantCase, ref_fn, candidate, tolerance, check_dtype, op, note=None, inputs_name="x"):
    """Compare one case; on a mismatch re-check the failing element alone and report that when it still fails."""
    ref = ref_fn(case)
    got = candidate(case.x.copy(), case.scale, case.zero_point, case.spec)
    err = None
    try:
        compare_arrays(
            ref, got, tolerance, op=op, context=_ctx(case, note), inputs={inputs_name: case.x}, check_dtype=check_dtype
        )
    except ConformanceError as exc:
        err = exc
    if err is None:
        return
    # (outside the except block, so that every failure reaches Hypothesis as one kind of error, not a chain)
    if note is None and np.shape(got) == ref.shape and ref.size > 1:
        bad = np.argwhere(mismatch_mask(ref, np.asarray(got), tolerance))
        small = _one_element(case, tuple(int(i) for i in bad[0])) if bad.size else None
        if small is not None:
            try:
                _run_uniform(
                    small,
                    ref_fn,
                    candidate,
                    tolerance,
                    check_dtype,
                    op,
                    note=f"the failing element alone (found in a {case.x.dtype} {case.x.shape} array)",
                    inputs_name=inputs_name,
                )
            except (ConformanceError, Unsupported) as exc:
                err = exc if isinstance(exc, ConformanceError) else err
            # a 1-element case that passes means the failure needs its neighbours: report the whole array
    err.__context__ = None
    raise err


def _get_profile(profile):
    """The :class:`refquant.profiles.Profile` named by a checker's ``profile=`` option (errors name ``profile``)."""
    from .. import profiles as _profiles

    if not isinstance(profile, str):
        raise TypeError(f"profile must be None or a profile name (str), got type={type(profile).__name__}")
    if profile not in _profiles.names():
        raise ValueError(
            f"profile={profile!r} is not a known profile; allowed: "
            f"{', '.join(repr(n) for n in _profiles.names())} (refquant.profiles.names())"
        )
    return _profiles.get(profile)


def _profile_options(profile, options: dict):
    """Apply ``profile=``: the profile's specs, layouts and calibration; a per-case spec/scale adjustment.

    * ``specs=None`` draws :meth:`Profile.specs` (the per-tensor specs the backend supports); a per-channel
      case gets the profile's spec for its axis (PyTorch's quantize adds the zero point differently per
      channel), and a case whose axis the backend does not take is :class:`Unsupported`;
    * ``per_channel`` defaults to False for a backend without per-channel quantization (True is an error);
    * scales are rounded to float32 values (every profiled backend takes its scale as float32);
    * a backend that derives scale and zero point itself (``needs_calibration``, TensorFlow's fake-quant)
      gets them from the profile's :meth:`~refquant.profiles.Profile.calibrate` unless given.
    """
    prof = _get_profile(profile)
    options = dict(options)
    if options.get("specs") is None:
        options["specs"] = prof.specs()
    if "per_channel" not in prof.layouts:
        if options.get("per_channel"):
            raise ValueError(
                f"per_channel=True: profile {profile!r} has no per-channel quantization "
                f"(layouts: {', '.join(prof.layouts)})"
            )
        options["per_channel"] = False
    if "blocked" in prof.layouts and options.get("per_channel") is not False:
        options["blocked"] = None  # a backend with blocked quantization (ONNX opset 21) gets blocked cases too
    if prof.needs_calibration and all(options.get(k) is None for k in ("scale", "zero_point", "calibrate")):
        options["calibrate"] = lambda x, spec: prof.calibrate(x, spec)

    def prepare(case: QuantCase) -> QuantCase:
        sp = case.spec
        axis = sp.axis
        if axis is not None and axis % case.x.ndim == case.x.ndim - 1:
            axis = -1  # the last axis, as backends restricted to it name it
        try:
            spec = prof.spec(
                sp.bits,
                signed=sp.signed,
                narrow_range=sp.narrow_range,
                axis=axis,
                block_size=getattr(sp, "block_size", None),
            )
        except ValueError as exc:
            raise Unsupported(f"profile {profile!r}: {exc}") from None
        spec = spec.replace(axis=sp.axis)
        cdt = spec.resolve_compute_dtype(case.x.dtype)
        s32 = np.asarray(case.scale, dtype=np.float32).astype(cdt)
        scale = s32[()] if s32.ndim == 0 else s32
        return QuantCase(case.x, scale, case.zero_point, spec)

    return prof, options, prepare


def _check_candidate(candidate, signature: str) -> None:
    check_callable(candidate, "candidate", signature)


def _check_tolerance(tolerance, name: str = "tolerance") -> Tolerance:
    return check_type(
        tolerance, Tolerance, name, "a refquant.testing.Tolerance (e.g. EXACT, STRICT, Tolerance('rel', rtol=1e-9))"
    )


def _check_run_options(max_examples, seed) -> None:
    """The options every checker passes to :func:`run_property`, checked before any other work."""
    check_int(max_examples, "max_examples", 1, 10**7)
    if seed is not None:
        check_int(seed, "seed", 0)


def _uniform_check(
    op,
    candidate,
    ref_fn,
    *,
    tolerance,
    check_dtype,
    max_examples,
    seed,
    max_unsupported,
    shrink_seconds,
    options,
    prepare=None,
    inputs_name="x",
    profile=None,
) -> CheckReport:
    _check_candidate(candidate, "(x, scale, zero_point, spec) -> array")
    _check_tolerance(tolerance)
    check_bool(check_dtype, "check_dtype")
    if profile is not None:
        _, options, profile_prepare = _profile_options(profile, options)
        inner = prepare
        prepare = profile_prepare if inner is None else (lambda case: inner(profile_prepare(case)))
    strategy = _uniform_strategy(**options)

    def body(case):
        if prepare is not None:
            case = prepare(case)
        _run_uniform(case, ref_fn, candidate, tolerance, check_dtype, op, inputs_name=inputs_name)

    return run_property(
        strategy,
        body,
        max_examples=max_examples,
        seed=seed,
        op=op,
        max_unsupported=max_unsupported,
        shrink_seconds=shrink_seconds,
    )


_OPTIONS_DOC = """
    Parameters
    ----------
    candidate : callable
        ``candidate(x, scale, zero_point, spec)`` (for dequantize: ``codes``
        instead of ``x``); per tensor ``scale`` is a float / compute-dtype
        scalar and ``zero_point`` an int, per channel both are 1-D arrays of
        length ``x.shape[spec.axis]``. It may raise :class:`Unsupported`.
    profile : None or str
        A backend profile (:func:`refquant.profiles.names`), e.g.
        ``"torch.fake_quantize"``: the specs drawn are the ones that backend
        supports (:meth:`~refquant.profiles.Profile.specs`; a per-channel
        case gets the profile's spec for its axis, a case whose axis the
        backend does not take counts as :class:`Unsupported`), per-channel
        cases only where the backend has them, scales rounded to float32
        values (each profiled backend takes a float32 scale), and scale and
        zero point from the profile's calibration where the backend derives
        them itself (TensorFlow's fake-quant). Explicit *specs*, *scale*,
        *zero_point* and *calibrate* still apply. docs/PROFILES.md.
    specs : None, strategy of QuantSpec, QuantSpec or list of QuantSpec
        Restrict to the configurations your implementation supports (default:
        every deterministic spec, :func:`~refquant.testing.strategies.quant_specs`,
        which no single real backend supports).
    per_channel : bool or None
        Only per-tensor (False), only per-channel (True) or both (None).
    dtype : float32, float64 or None (both)
        Input dtype.
    zero_point : None or int
        Pin the zero point of every case (``0`` for symmetric backends); it
        must lie in every drawn spec's code range. ``None`` draws it.
    scale : None, positive float or callable
        A fixed scale (rounded to the compute dtype), or ``scale(x, spec)``
        computing it from the drawn input (a scalar per tensor, a length-C
        array per channel), e.g. your backend's calibration. ``None`` draws it.
    calibrate : None or callable
        ``calibrate(x, spec) -> (scale, zero_point)`` supplies both (e.g.
        ``refquant.calibrate_minmax``); exclusive with *scale* and *zero_point*.
    power_of_two_scales : bool or None
        Drawn scales only powers of two (True), never (False) or both (None).
    max_dims, max_side : int
        Largest rank (1..6) and side (1..64) of the drawn arrays.
    allow_subnormal : bool
        Include subnormal inputs.
    max_magnitude : float or None
        Largest ``|x|`` drawn (default: a quarter of the compute dtype's range).
    max_examples : int
        Number of cases (Hypothesis budget).
    seed : int or None
        Hypothesis seed; ``None`` derandomizes.
    max_unsupported : float in [0, 1]
        Largest fraction of cases the candidate may decline with
        :class:`Unsupported` (default 0.5); all declined always fails.
    shrink_seconds : float
        Time budget for shrinking a failure (default 10 s).
"""


def check_fake_quant(
    candidate: Callable,
    *,
    profile: str | None = None,
    specs=None,
    per_channel: bool | None = None,
    dtype=None,
    zero_point: int | None = None,
    scale=None,
    calibrate=None,
    power_of_two_scales: bool | None = None,
    max_dims: int = 3,
    max_side: int = 6,
    allow_subnormal: bool = True,
    max_magnitude: float | None = None,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = STRICT,
    check_dtype: bool = False,
    max_unsupported: float = 0.5,
    shrink_seconds: float = 10.0,
) -> CheckReport:
    """Check ``candidate(x, scale, zero_point, spec) -> fake-quantized x`` against :func:`refquant.fake_quant`.

    {options}
    tolerance : Tolerance
        Default :data:`STRICT`: bit-exact *and* a zero result must be ``+0.0`` (docs/SEMANTICS.md
        promises ``+0.0``; ``-0.4 -> +0.0``). Pass ``tolerance=EXACT`` to accept ``-0.0``.
    check_dtype : bool
        Also require refquant's output dtype.

    Returns
    -------
    CheckReport
        Counts of cases run, compared and unsupported (with reasons).

    Raises
    ------
    {raises}

    Examples
    --------
    >>> import numpy as np, refquant as rq
    >>> from refquant.testing import check_fake_quant
    >>> rep = check_fake_quant(rq.fake_quant, specs=[rq.QuantSpec(8)], per_channel=False, zero_point=0,
    ...                        max_examples=10)
    >>> rep.compared, rep.unsupported
    (10, 0)
    """
    options = {k: v for k, v in locals().items() if k in _CASE_OPTIONS}
    return _uniform_check(
        "fake_quant",
        candidate,
        lambda c: _uniform.fake_quant(c.x, c.scale, c.zero_point, c.spec),
        tolerance=tolerance,
        check_dtype=check_dtype,
        max_examples=max_examples,
        seed=seed,
        max_unsupported=max_unsupported,
        shrink_seconds=shrink_seconds,
        options=options,
        profile=profile,
    )


def check_quantize(
    candidate: Callable,
    *,
    profile: str | None = None,
    specs=None,
    per_channel: bool | None = None,
    dtype=None,
    zero_point: int | None = None,
    scale=None,
    calibrate=None,
    power_of_two_scales: bool | None = None,
    max_dims: int = 3,
    max_side: int = 6,
    allow_subnormal: bool = True,
    max_magnitude: float | None = None,
    max_examples: int = 200,
    seed: int | None = 0,
    check_dtype: bool = False,
    max_unsupported: float = 0.5,
    shrink_seconds: float = 10.0,
) -> CheckReport:
    """Check ``candidate(x, scale, zero_point, spec) -> integer codes`` against :func:`refquant.quantize` (exact).

    {options}
    check_dtype : bool
        Also require refquant's code dtype (``spec.code_dtype``).

    Returns
    -------
    CheckReport
        Counts of cases run, compared and unsupported (with reasons).

    Raises
    ------
    {raises}

    Examples
    --------
    >>> import refquant as rq
    >>> from refquant.testing import check_quantize
    >>> check_quantize(rq.quantize, specs=[rq.QuantSpec(4)], max_examples=5).compared
    5
    """
    options = {k: v for k, v in locals().items() if k in _CASE_OPTIONS}
    return _uniform_check(
        "quantize",
        candidate,
        lambda c: _uniform.quantize(c.x, c.scale, c.zero_point, c.spec),
        tolerance=EXACT,
        check_dtype=check_dtype,
        max_examples=max_examples,
        seed=seed,
        max_unsupported=max_unsupported,
        shrink_seconds=shrink_seconds,
        options=options,
        profile=profile,
    )


def _codes_case(case: QuantCase) -> QuantCase:
    """Replace x by refquant's codes of x, scales by compute-dtype values (dequantize's inputs)."""
    cdt = case.spec.resolve_compute_dtype(case.x.dtype)
    s = np.asarray(case.scale, dtype=cdt)
    s = s[()] if s.ndim == 0 else s
    codes = _uniform.quantize(case.x, s, case.zero_point, case.spec, nonfinite="saturate")
    return QuantCase(codes, s, case.zero_point, case.spec)


def check_dequantize(
    candidate: Callable,
    *,
    profile: str | None = None,
    specs=None,
    per_channel: bool | None = None,
    dtype=None,
    zero_point: int | None = None,
    scale=None,
    calibrate=None,
    power_of_two_scales: bool | None = None,
    max_dims: int = 3,
    max_side: int = 6,
    allow_subnormal: bool = True,
    max_magnitude: float | None = None,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = STRICT,
    max_unsupported: float = 0.5,
    shrink_seconds: float = 10.0,
) -> CheckReport:
    """Check ``candidate(codes, scale, zero_point, spec) -> values`` against :func:`refquant.dequantize`.

    Codes are refquant's codes of generated inputs; scales are passed in the compute dtype, so
    refquant's dequantize works in that dtype.

    {options}
    tolerance : Tolerance
        Default :data:`STRICT` (bit-exact, and a zero result must be ``+0.0`` as the contract
        promises; pass ``EXACT`` to accept ``-0.0``).

    Returns
    -------
    CheckReport
        Counts of cases run, compared and unsupported (with reasons).

    Raises
    ------
    {raises}

    Examples
    --------
    >>> import refquant as rq
    >>> from refquant.testing import check_dequantize
    >>> check_dequantize(rq.dequantize, specs=[rq.QuantSpec(8)], max_examples=5).compared
    5
    """
    options = {k: v for k, v in locals().items() if k in _CASE_OPTIONS}
    return _uniform_check(
        "dequantize",
        candidate,
        lambda c: _uniform.dequantize(c.x, c.scale, c.zero_point, c.spec),
        tolerance=tolerance,
        check_dtype=False,
        max_examples=max_examples,
        seed=seed,
        max_unsupported=max_unsupported,
        shrink_seconds=shrink_seconds,
        options=options,
        prepare=_codes_case,
        inputs_name="codes",
        profile=profile,
    )


_RAISES_DOC = """ConformanceError
        With the minimal counterexample and the diff; or when the candidate declined too many
        cases.
    TypeError, ValueError
        Bad options, before any case runs (the message names the parameter): a non-callable
        *candidate*, a *tolerance* that is not a :class:`Tolerance`, an unknown *profile*, a bad
        *specs* (:func:`~refquant.testing.strategies.spec_strategy`), flags that are not bool or
        None, a dtype other than float32/float64, ``max_dims``/``max_side``/``max_examples`` out of
        range, a *scale*/*max_magnitude* not finite and > 0, a non-integer *zero_point*, a
        non-callable *calibrate*, ``max_unsupported`` outside [0, 1], ``shrink_seconds <= 0``, a
        negative or non-integer *seed*."""

for _f in (check_fake_quant, check_quantize, check_dequantize):
    if _f.__doc__:  # None under python -OO
        _f.__doc__ = _f.__doc__.replace("{options}", _OPTIONS_DOC.rstrip("\n")).replace("{raises}", _RAISES_DOC)


# ---------------------------------------------------------------- calibration
@st.composite
def _calibration_cases(draw, specs, per_channel, dtype, nonnegative_unsigned, max_dims, max_side):
    dt = np.dtype(draw(st.sampled_from([np.float32, np.float64]) if dtype is None else st.just(dtype)))
    spec = draw(specs.filter(lambda sp: sp.qmax >= 1))  # a grid whose largest code is 0 has no range to calibrate
    ndim = draw(st.integers(1, max_dims))
    shape = tuple(draw(st.integers(1, max_side)) for _ in range(ndim))
    pc = draw(st.booleans()) if per_channel is None else per_channel
    spec = spec.replace(axis=draw(st.integers(0, ndim - 1)) if pc else None)
    width = 32 if dt == np.float32 else 64
    mag = draw(st.one_of(st.integers(-20, 20).map(lambda e: 2.0**e), st.floats(2.0**-17, 2.0**17, width=width)))
    nonneg = nonnegative_unsigned and not spec.signed
    lo = 0.0 if nonneg else -mag
    on_grid = st.integers(0 if nonneg else -128, 128).map(lambda k: float(dt.type(k * mag / 128)))
    elems = st.one_of(st.floats(lo, mag, width=width), st.just(0.0), on_grid)
    x = draw(hnp.arrays(dt, shape, elements=elems))
    return x, spec


def check_calibration(
    candidate: Callable,
    specs=None,
    *,
    profile: str | None = None,
    reference: Callable | None = None,
    symmetric: bool = True,
    per_channel: bool | None = None,
    dtype=None,
    max_dims: int = 3,
    max_side: int = 6,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = EXACT,
    max_unsupported: float = 0.5,
    shrink_seconds: float = 10.0,
) -> CheckReport:
    """Check a calibrator ``candidate(x, spec) -> (scale, zero_point)`` against a reference calibrator.

    The reference is :func:`refquant.calibrate_minmax` with ``symmetric``
    by default, or any callable with the same signature (e.g. a backend
    profile's ``calibrate``). The scale must match under *tolerance* (exact
    by default: the reference's scale is correctly rounded in the compute
    dtype), the zero point exactly. Inputs: arrays of every magnitude from
    ``2**-20`` to ``2**20`` (and arbitrary ones), with exact zeros and values
    on a grid of the range, per tensor and per channel.

    Parameters
    ----------
    candidate : callable ``(x, spec) -> (scale, zero_point)``
        Per tensor a scalar scale and an integer zero point; per channel two
        1-D arrays of length ``x.shape[spec.axis]``. May raise :class:`Unsupported`.
    specs : None, strategy of QuantSpec, QuantSpec or list of QuantSpec
        Default every deterministic spec (their axis is replaced). Specs whose
        largest code is 0 (1-bit signed; 1-bit unsigned narrow range) are
        skipped: they have no range to calibrate.
    profile : None or str
        A backend profile (:func:`refquant.profiles.names`): the reference is
        that profile's :meth:`~refquant.profiles.Profile.calibrate` (with
        ``symmetric`` where the profile takes it, e.g. PyTorch's observers),
        and *specs* defaults to the profile's specs that it calibrates.
        Exclusive with *reference*.
    reference : callable or None
        ``reference(x, spec) -> (scale, zero_point)``; default
        ``calibrate_minmax(x, spec, symmetric=symmetric)``.
    symmetric : bool
        Passed to the default reference. With ``symmetric=True`` inputs for
        unsigned specs are non-negative (scale-only calibration of
        non-negative data), as :func:`refquant.calibrate_minmax` requires.
    per_channel : bool or None
        Only per-tensor (False), only per-channel (True) or both (None).
    dtype : float32, float64 or None
        Input dtype (``None``: both).
    max_dims, max_side : int
        Largest rank (1..6) and side (1..64) of the drawn arrays.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    max_unsupported : float in [0, 1]
        Largest fraction of cases the candidate may decline with :class:`Unsupported`.
    shrink_seconds : float > 0
        Time budget for shrinking a failure.
    tolerance : Tolerance
        For the scale (default :data:`EXACT`).

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        A differing scale or zero point (minimal counterexample), a
        malformed return value, or too many unsupported cases.
    ValueError, TypeError
        Bad options (the message names the parameter).

    Examples
    --------
    >>> import refquant as rq
    >>> from refquant.testing import check_calibration
    >>> check_calibration(rq.calibrate_minmax, [rq.QuantSpec(8)], max_examples=10).compared
    10
    """
    from ..uniform import calibrate_minmax

    _check_candidate(candidate, "(x, spec) -> (scale, zero_point)")
    if reference is not None:
        check_callable(reference, "reference", "(x, spec) -> (scale, zero_point)")
    symmetric = check_bool(symmetric, "symmetric")
    if per_channel is not None:
        check_bool(per_channel, "per_channel")
    if dtype is not None:
        dtype = _check_dtype(dtype)
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)
    max_dims = check_int(max_dims, "max_dims", 1, 6)
    max_side = check_int(max_side, "max_side", 1, 64)
    if profile is not None:
        if reference is not None:
            raise ValueError("profile= and reference= are exclusive: the profile's calibrate is the reference")
        prof = _get_profile(profile)
        kw = {"symmetric": symmetric} if "symmetric" in prof._calibrate_options else {}
        probe = np.array([-1.0, 0.5, 1.0], dtype=np.float32)
        usable = []
        for sp in prof.specs():
            try:
                prof.calibrate(probe, sp, **kw)
            except ValueError:
                continue
            usable.append(sp)
        if not usable:
            raise ValueError(
                f"profile={profile!r} has no calibration of its own (refquant.profiles: {prof.calibration})"
            )
        if specs is None:
            specs = usable
        reference = lambda x, spec: prof.calibrate(x, spec, **kw)  # noqa: E731
        try:  # a profile may calibrate per tensor only (ONNX's DynamicQuantizeLinear)
            prof.calibrate(probe.reshape(1, 3), usable[0].replace(axis=1), **kw)
            channels = "per_channel" in prof.layouts
        except ValueError:
            channels = False
        if not channels:
            if per_channel:
                raise ValueError(f"per_channel=True: profile {profile!r} has no per-channel calibration")
            per_channel = False
    ref_fn = reference if reference is not None else (lambda x, spec: calibrate_minmax(x, spec, symmetric=symmetric))
    strategy = _calibration_cases(
        spec_strategy(specs), per_channel, dtype, reference is None and symmetric, max_dims, max_side
    )

    def body(case):
        x, spec = case
        s_ref, z_ref = ref_fn(x.copy(), spec)
        out = candidate(x.copy(), spec)
        ctx = {
            "spec": spec,
            "x dtype/shape": f"{x.dtype} {x.shape}",
            "x": np.array2string(x, precision=17, threshold=40),
        }
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ConformanceError(f"calibration: candidate must return (scale, zero_point), got {out!r}")
        compare_arrays(np.asarray(s_ref), out[0], tolerance, op="calibration scale", context=ctx)
        compare_arrays(np.asarray(z_ref, dtype=np.int64), out[1], EXACT, op="calibration zero point", context=ctx)

    return run_property(
        strategy,
        body,
        max_examples=max_examples,
        seed=seed,
        op="calibration",
        max_unsupported=max_unsupported,
        shrink_seconds=shrink_seconds,
    )


def check_signed_binarize(
    candidate: Callable,
    *,
    explicit_signs: bool | None = None,
    max_examples: int = 200,
    seed: int | None = 0,
) -> CheckReport:
    """Check ``candidate(w, *, signs=None, threshold, axis, region) -> q`` against
    :func:`refquant.binarize.signed_binarize` (exact: values are 0 and ±1).

    Cases (:func:`~refquant.testing.strategies.signed_binary_cases`) put weights exactly on the
    per-region threshold ``threshold·max|w|`` (where ``>`` and ``>=`` differ), use every region
    layout (whole filters or input-channel tiles, filter axis anywhere) and the default or an
    explicit sign map.

    Parameters
    ----------
    candidate : callable
        ``candidate(w, *, signs=None, threshold, axis, region)`` returning the signed-binary weights.
    explicit_signs : bool or None
        ``False`` never passes ``signs`` (for implementations that only have the default rule),
        ``True`` always does, ``None`` (default) both.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        The first mismatch (minimal counterexample).
    TypeError, ValueError
        A non-callable *candidate*, ``explicit_signs`` not a bool or None, a bad *max_examples* or
        *seed* (the message names the parameter), before any case runs.

    Examples
    --------
    >>> from refquant.binarize import signed_binarize
    >>> check_signed_binarize(signed_binarize, max_examples=5).compared
    5
    """
    from .. import binarize as _binarize

    _check_candidate(candidate, "(w, *, signs, threshold, axis, region) -> array")
    strategy = signed_binary_cases(explicit_signs=explicit_signs)
    _check_run_options(max_examples, seed)

    def body(case):
        ref = _binarize.signed_binarize(case.w, **case.kwargs)
        got = candidate(case.w.copy(), **case.kwargs)
        ctx = {k: v for k, v in case.kwargs.items() if k != "signs"}
        if "signs" in case.kwargs:
            ctx["signs"] = case.kwargs["signs"].tolist()
        compare_arrays(ref, got, EXACT, op="signed_binarize", context=ctx, inputs={"w": case.w})

    return run_property(
        strategy,
        body,
        max_examples=max_examples,
        seed=seed,
        op="signed_binarize",
    )


#: The kernels of refquant.repetition whose op counts check_repetition_matmul can compare.
_COUNTED_METHODS = ("factorized", "shared_sum")


def check_repetition_matmul(
    candidate: Callable,
    *,
    method: str | None = None,
    tile: int = 8,
    max_examples: int = 200,
    seed: int | None = 0,
) -> CheckReport:
    """Check a repetition-aware ``candidate(x, w_q)`` against ``x @ w_q`` (exact, integer operands).

    ``candidate`` returns ``y`` or ``(y, counts)``. ``y`` must equal the exact integer product
    (refquant's :func:`~refquant.repetition.factorized_matmul`). With ``method``, ``counts`` (any
    object with ``adds``, ``muls`` and ``dense_macs``) must also equal refquant's count for that
    kernel; for ``"shared_sum"`` that means refquant's documented greedy with the same ``tile``.
    Cases (:func:`~refquant.testing.strategies.ternary_matmul_cases`): binary, ternary and
    signed-binary columns with integer magnitudes, all-zero columns, repeated and negated columns.

    Parameters
    ----------
    candidate : callable
        ``candidate(x, w_q) -> y`` or ``-> (y, counts)``.
    method : None, "factorized" or "shared_sum"
        Also compare the op counts of that refquant kernel (``None``: only ``y``).
    tile : int >= 1
        The tile of ``"shared_sum"``.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        The first mismatch of ``y`` or of the counts.
    TypeError, ValueError
        A non-callable *candidate*, an unknown *method*, a bad *tile*, *max_examples* or *seed*
        (the message names the parameter), before any case runs.

    Examples
    --------
    >>> from refquant.repetition import factorized_matmul
    >>> check_repetition_matmul(factorized_matmul, method="factorized", max_examples=5).compared
    5
    """
    from .. import repetition as _rep

    _check_candidate(candidate, "(x, w_q) -> y or (y, counts)")
    if method is not None:
        check_choice(method, _COUNTED_METHODS, "method")
    tile = check_int(tile, "tile", 1)
    _check_run_options(max_examples, seed)

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
                raise ConformanceError(
                    f"repetition matmul: method={method!r} needs the candidate to return (y, counts)"
                )
            got = tuple(int(getattr(counts, f)) for f in ("adds", "muls", "dense_macs"))
            want = (ref_counts.adds, ref_counts.muls, ref_counts.dense_macs)
            if got != want:
                raise ConformanceError(
                    f"repetition matmul ({method}): op counts differ: refquant (adds, muls, dense_macs) = {want}, "
                    f"candidate = {got}\n  w_q =\n{case.w_q}\n  context: {ctx}"
                )

    return run_property(ternary_matmul_cases(), body, max_examples=max_examples, seed=seed, op="repetition matmul")


def check_imc_matmul(
    candidate: Callable, *, specs: st.SearchStrategy | None = None, max_examples: int = 200, seed: int | None = 0
) -> CheckReport:
    """Check ``candidate(x_codes, w_codes, spec) -> y`` against :func:`refquant.imc.imc_matmul` (bit-exact).

    Cases (:func:`~refquant.testing.strategies.imc_cases`): both compute modes, every weight
    encoding, A-shift, ragged last tiles, lossy and lossless ADCs of every transfer and range policy.

    Parameters
    ----------
    candidate : callable
        ``candidate(x_codes, w_codes, spec)`` returning the crossbar's output.
    specs : SearchStrategy of CrossbarSpec or None
        Restrict to what your model implements, e.g. ``crossbar_specs(modes=["multibit"])``
        (default every crossbar, :func:`~refquant.testing.strategies.crossbar_specs`).
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        The first mismatch (minimal counterexample).
    TypeError, ValueError
        A non-callable *candidate*, *specs* not a strategy, a bad *max_examples* or *seed* (the
        message names the parameter), before any case runs.
    """
    from .. import imc as _imc

    _check_candidate(candidate, "(x_codes, w_codes, spec) -> y")
    strategy = imc_cases(specs=specs)
    _check_run_options(max_examples, seed)

    def body(case):
        ref = _imc.imc_matmul(case.x_codes, case.w_codes, case.spec)
        got = candidate(case.x_codes.copy(), case.w_codes.copy(), case.spec)
        compare_arrays(ref, got, EXACT, op="imc_matmul", context={"spec": case.spec}, inputs={"x_codes": case.x_codes})

    return run_property(strategy, body, max_examples=max_examples, seed=seed, op="imc_matmul")


_KURT_TOL = Tolerance("rel", rtol=1e-10, atol=0.0)
_KURE_TOL = Tolerance("rel", rtol=1e-8, atol=1e-300)
_MSE_TOL = Tolerance("rel", rtol=1e-9)
_CLIP_TOL = Tolerance("rel", rtol=1e-6)

#: A small valid layer: the checkers call the reference on it once to validate their options with its checks.
_PROBE = np.array([-1.0, 0.5, 0.0, 2.0])


def check_kurtosis(
    candidate: Callable,
    *,
    ddof: int = 0,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = _KURT_TOL,
) -> CheckReport:
    """Check ``candidate(x) -> Pearson kurtosis of the whole tensor`` against :func:`refquant.kurtosis.kurtosis`.

    Cases: :func:`~refquant.testing.strategies.weight_layers` (each layer checked on its own).

    Parameters
    ----------
    candidate : callable
        ``candidate(x) -> float``.
    ddof : {0, 1}
        ``1`` checks against ``kurtosis(x, ddof=1)``: the second moment divided by ``N - 1``, as the
        KURE code's ``torch.mean(((w - w.mean()) / w.std())**4)`` (PyTorch's ``std()`` is unbiased).
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative 1e-10 (summation orders differ between implementations).

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        The first mismatch.
    TypeError, ValueError
        A non-callable *candidate*, a *ddof* other than 0 or 1, a *tolerance* that is not a
        :class:`Tolerance`, a bad *max_examples* or *seed* (the message names the parameter),
        before any case runs.

    Examples
    --------
    >>> from refquant.kurtosis import kurtosis
    >>> check_kurtosis(kurtosis, max_examples=5).compared
    5
    """
    from .. import kurtosis as _k

    _check_candidate(candidate, "(x) -> float")
    _k.kurtosis(_PROBE, ddof=ddof)  # refquant's own checks of ddof, now rather than inside a Hypothesis run
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    def body(layers):
        for w in layers:
            compare_arrays(
                np.asarray(_k.kurtosis(w, ddof=ddof)),
                np.asarray(candidate(w.copy()), dtype=np.float64),
                tolerance,
                op="kurtosis",
                context={"shape": w.shape, "ddof": ddof},
                inputs=None,
            )

    return run_property(weight_layers(), body, max_examples=max_examples, seed=seed, op="kurtosis")


def check_kure_grad(
    candidate: Callable,
    *,
    target: float = 1.8,
    ddof: int = 0,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = _KURE_TOL,
) -> CheckReport:
    """Check ``candidate(weights, target) -> list of gradient arrays`` against :func:`refquant.kurtosis.kure_grad`.

    The golden values an autograd implementation of the KURE loss (eqs. 13-15 of Shkolnik et al.,
    "Robust Quantization: One Model to Rule Them All") must reproduce.

    Parameters
    ----------
    candidate : callable
        ``candidate(weights, target)``, weights a list of float64 arrays; returns one gradient per
        layer.
    target : float >= 1
        The kurtosis target (default 1.8, the uniform distribution's).
    ddof : {0, 1}
        ``1`` checks against ``kure_grad(weights, target, ddof=1)``, the gradient of the KURE code's
        loss (unbiased std).
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative 1e-8, plus an absolute floor of 1e-12 times the layer's largest gradient.

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        The first mismatch, or a wrong number of gradient arrays.
    TypeError, ValueError
        A non-callable *candidate*, *target* or *ddof* rejected by :func:`refquant.kurtosis.kure_grad`,
        a *tolerance* that is not a :class:`Tolerance`, a bad *max_examples* or *seed* (the message
        names the parameter), before any case runs.
    """
    from .. import kurtosis as _k

    _check_candidate(candidate, "(weights, target) -> list of arrays")
    _k.kure_grad([_PROBE], target, ddof=ddof)  # refquant's own checks of target and ddof, before any case runs
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    def body(layers):
        ref = _k.kure_grad(layers, target, ddof=ddof)
        got = candidate([w.copy() for w in layers], target)
        if len(got) != len(ref):
            raise ConformanceError(f"kure_grad: candidate returned {len(got)} arrays for {len(ref)} layers")
        for i, (r, g) in enumerate(zip(ref, got)):
            tol = Tolerance("rel", rtol=tolerance.rtol, atol=max(tolerance.atol, 1e-12 * float(np.abs(r).max())))
            compare_arrays(
                r,
                np.asarray(g, dtype=np.float64),
                tol,
                op=f"kure_grad layer {i}",
                context={"layers": [w.shape for w in layers], "target": target, "ddof": ddof},
            )

    return run_property(weight_layers(), body, max_examples=max_examples, seed=seed, op="kure_grad")


def _clip_cases():
    from ..clipping import GRIDS

    return st.tuples(
        st.sampled_from(["gaussian", "laplace", "uniform"]),
        st.sampled_from(list(GRIDS)),
        st.integers(2, 8),
        st.booleans(),
        st.floats(0.05, 8.0),
        st.floats(0.1, 10.0),
    )


def check_mse_exact(
    candidate: Callable,
    *,
    max_examples: int = 200,
    seed: int | None = 0,
    tolerance: Tolerance = _MSE_TOL,
) -> CheckReport:
    """Check ``candidate(alpha, bits, dist, scale, grid=..., signed=...) -> float`` against
    :func:`refquant.clipping.mse_exact`.

    Cases: Gaussian, Laplace and uniform distributions, every grid, 2 to 8 bits, signed and
    unsigned, clip values from 0.05 to 8 scales.

    Parameters
    ----------
    candidate : callable
        ``candidate(alpha, bits, dist, scale, *, grid, signed) -> float``.
    max_examples : int, 1..10**7
        Number of cases.
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative 1e-9.

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        The first mismatch.
    TypeError, ValueError
        A non-callable *candidate*, a *tolerance* that is not a :class:`Tolerance`, a bad
        *max_examples* or *seed* (the message names the parameter), before any case runs.
    """
    from .. import clipping as _c

    _check_candidate(candidate, "(alpha, bits, dist, scale, *, grid, signed) -> float")
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    def body(case):
        dist, grid, bits, signed, a, scale = case
        ref = np.asarray(_c.mse_exact(a * scale, bits, dist, scale, grid=grid, signed=signed))
        got = np.asarray(candidate(a * scale, bits, dist, scale, grid=grid, signed=signed), dtype=np.float64)
        compare_arrays(
            ref,
            got,
            tolerance,
            op="mse_exact",
            context={"dist": dist, "grid": grid, "bits": bits, "signed": signed, "alpha": a * scale, "scale": scale},
        )

    return run_property(_clip_cases(), body, max_examples=max_examples, seed=seed, op="mse_exact")


def check_optimal_clip(
    candidate: Callable,
    *,
    model: str = "exact",
    max_examples: int = 50,
    seed: int | None = 0,
    tolerance: Tolerance = _CLIP_TOL,
) -> CheckReport:
    """Check ``candidate(bits, dist, scale, grid=..., signed=...) -> alpha*`` against
    :func:`refquant.clipping.optimal_clip` with ``model``.

    Parameters
    ----------
    candidate : callable
        ``candidate(bits, dist, scale, *, grid, signed) -> float``.
    model : {"exact", "aciq"}
        The MSE model whose minimiser is the reference (``refquant.clipping.MODELS``).
    max_examples : int, 1..10**7
        Number of cases (default 50: each runs a solver).
    seed : int >= 0 or None
        Hypothesis seed; ``None`` derandomizes.
    tolerance : Tolerance
        Default relative 1e-6, the solver's stated accuracy.

    Returns
    -------
    CheckReport

    Raises
    ------
    ConformanceError
        The first mismatch.
    TypeError, ValueError
        A non-callable *candidate*, an unknown *model*, a *tolerance* that is not a
        :class:`Tolerance`, a bad *max_examples* or *seed* (the message names the parameter),
        before any case runs.
    """
    from .. import clipping as _c

    _check_candidate(candidate, "(bits, dist, scale, *, grid, signed) -> float")
    check_choice(model, _c.MODELS, "model")
    _check_tolerance(tolerance)
    _check_run_options(max_examples, seed)

    def body(case):
        dist, grid, bits, signed, _, scale = case
        ref = np.asarray(_c.optimal_clip(bits, dist, scale, model=model, grid=grid, signed=signed))
        got = np.asarray(candidate(bits, dist, scale, grid=grid, signed=signed), dtype=np.float64)
        compare_arrays(
            ref,
            got,
            tolerance,
            op=f"optimal_clip (model={model!r})",
            context={"dist": dist, "grid": grid, "bits": bits, "signed": signed, "scale": scale},
        )

    return run_property(_clip_cases(), body, max_examples=max_examples, seed=seed, op="optimal_clip")
