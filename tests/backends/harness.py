"""The backend suite's comparison core: runs one row (a candidate against a profile) and renders the matrix.

Runtime-free (NumPy, Hypothesis and refquant only), so the default test run can plant a wrong
candidate and show that a row catches it (tests/test_profiles.py). The real adapters live in
adapters.py, the rows in suite.py.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refquant
from refquant import profiles
from refquant.testing import ConformanceError, Tolerance, compare_arrays
from refquant.testing.strategies import float_arrays, quant_cases, scales

try:  # the checkers' own "outside my backend" signal
    from refquant.testing import Unsupported
except ImportError:  # pragma: no cover - before refquant.testing.Unsupported existed

    class Unsupported(Exception):
        """Raised by a candidate for a case outside its backend operation."""


STRICT = Tolerance("exact", signed_zero=True)


@dataclasses.dataclass
class Row:
    """One line of the conformance matrix.

    kind : "quantize", "fake_quant", "dequantize" (candidate(x or codes, scale, zero_point, spec)),
        "calibrate" (candidate(x, spec) -> (scale, zero_point)), "calibrate+fake_quant"
        (candidate(x, spec) -> y, e.g. FakeQuantize's forward) or "range_fake_quant"
        (candidate(x, min, max, spec) -> y, TensorFlow's fake_quant).
    choices : the (bits, signed, narrow_range) triples drawn, as dicts for Profile.spec.
    layout : "per tensor", "per channel" (any axis; "last axis" for TensorFlow) or "blocked".
    expect : "conforms"; "diverges" for a probe of a documented backend divergence; "gap" for a documented
        computation the profile's spec does not express yet (the row must still diverge).
    max_ratio : cap on |x / s| for the drawn inputs (None: up to a quarter of the dtype's max).
    options : keyword options for Profile.calibrate (e.g. symmetric=True).
    """

    backend: str
    operation: str
    profile: str
    kind: str
    layout: str
    choices: Sequence[dict]
    candidate: Callable | None = None
    dtype: Any = np.float32
    expect: str = "conforms"
    max_ratio: float | None = None
    options: dict = dataclasses.field(default_factory=dict)
    note: str = ""


@dataclasses.dataclass
class Result:
    row: Row
    cases: int
    unsupported: int
    diverged: bool
    counterexample: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        want = self.row.expect in ("diverges", "gap")
        return self.diverged == want and self.cases > 0

    @property
    def status(self) -> str:
        if self.cases == 0:
            return "no case ran"
        if self.row.expect == "diverges":
            return "diverges (documented backend divergence)" if self.diverged else "DID NOT REPRODUCE"
        if self.row.expect == "gap":
            return "diverges (profile gap, documented)" if self.diverged else "GAP CLOSED: update the profile"
        return "conforms" if not self.diverged else "DIVERGES"


def _codes_desc(choices) -> str:
    out = []
    for c in choices:
        s = f"{'int' if c['signed'] else 'uint'}{c['bits']}"
        out.append(s + (" narrow" if c.get("narrow_range") else ""))
    return ", ".join(out)


def _param_shape(shape, spec) -> tuple:
    if spec.axis is None:
        return ()
    return (shape[spec.axis % len(shape)],)


#: Largest side of a blocked case's x (the blocked axis had 2..9 elements before the rows drew from
#: refquant.testing.quant_cases; 9 keeps block counts up to 9 and partial last blocks of every length).
BLOCKED_MAX_SIDE = 9


def _cap_ratio(x: np.ndarray, scale, max_ratio: float | None) -> np.ndarray:
    """*x* with every |x| above ``max_ratio * min(scale)`` replaced by that bound (sign kept), in x's dtype."""
    if max_ratio is None:
        return x
    cap = float(max_ratio) * float(np.min(scale))
    limit = x.dtype.type(cap)
    if float(limit) > cap:  # round the bound down to a value of x's dtype
        limit = np.nextafter(limit, x.dtype.type(0))
    return np.where(np.abs(x) > limit, np.copysign(limit, x), x).astype(x.dtype)


@st.composite
def blocked_cases(draw, row: Row):
    """(x, scale, zero_point, spec) for a blocked *row*: the public strategy
    ``refquant.testing.quant_cases(blocked=True)`` (any axis, counted from either end; block sizes 1 to the
    axis length, so partial last blocks; one scale and zero point per block) with the profile's spec for the
    drawn axis and block size, as the ``profile=`` checkers prepare their cases. Rows with ``max_ratio`` cap
    |x| at ``max_ratio * min(scale)`` afterwards (quant_cases' max_magnitude is absolute, not per scale)."""
    prof = profiles.get(row.profile)
    specs = [prof.spec(c["bits"], signed=c["signed"], narrow_range=c.get("narrow_range", False)) for c in row.choices]
    case = draw(quant_cases(dtype=row.dtype, specs=specs, blocked=True, max_side=BLOCKED_MAX_SIDE))
    sp = case.spec
    spec = prof.spec(sp.bits, signed=sp.signed, narrow_range=sp.narrow_range, axis=sp.axis, block_size=sp.block_size)
    scale = np.asarray(case.scale, dtype=np.float32)
    return _cap_ratio(case.x, scale, row.max_ratio), scale, np.asarray(case.zero_point, np.int64), spec


@st.composite
def profile_cases(draw, row: Row):
    """(x, scale, zero_point, spec) for a per-tensor or per-channel *row*: the profile's spec, float32 scales,
    tie-rich x."""
    prof = profiles.get(row.profile)
    choice = draw(st.sampled_from(list(row.choices)))
    dt = np.dtype(row.dtype)
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    axis = None
    if row.layout == "per channel":
        axis = -1 if row.profile.startswith("tf.fake_quant") else draw(st.integers(-ndim, ndim - 1))
    spec = prof.spec(choice["bits"], signed=choice["signed"], narrow_range=choice.get("narrow_range", False), axis=axis)
    pshape = _param_shape(shape, spec)
    n = int(np.prod(pshape)) if pshape else 1
    ss = np.array([draw(scales(dtype=np.float32)) for _ in range(n)], dtype=np.float32)
    if row.options.get("zero_point") == 0:
        zs = np.zeros(n, dtype=np.int64)
    else:
        zs = np.array([draw(st.integers(spec.qmin, spec.qmax)) for _ in range(n)], dtype=np.int64)
    cap = None
    if row.max_ratio is not None:
        cap = float(row.max_ratio) * float(ss.min())
    x = draw(
        float_arrays(
            dtype=dt,
            shape=shape,
            scale=float(ss[0]),
            zero_point=int(zs[0]),
            qmin=spec.qmin,
            qmax=spec.qmax,
            max_magnitude=cap if cap is not None else float(np.finfo(np.float32).max) / 4,
        )
    )
    if pshape:
        return x, ss.reshape(pshape), zs.reshape(pshape), spec
    return x, ss[0], int(zs[0]), spec


@st.composite
def calibration_inputs(draw, row: Row):
    """(x, spec): arrays whose ranges exercise the observers' arithmetic (ties of min/scale, tiny and huge ranges)."""
    prof = profiles.get(row.profile)
    choice = draw(st.sampled_from(list(row.choices)))
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    axis = None
    if row.layout == "per channel":
        axis = -1 if row.profile.startswith("tf.fake_quant") else draw(st.integers(-ndim, ndim - 1))
    spec = prof.spec(choice["bits"], signed=choice["signed"], narrow_range=choice.get("narrow_range", False), axis=axis)
    mag = float(np.float32(draw(st.sampled_from([1.0, 2.0 ** draw(st.integers(-30, 30)), 1e-38, 3e38 / 4]))))
    elem = st.one_of(
        st.floats(-mag, mag, width=32),
        st.sampled_from([0.0, -0.0, mag, -mag, mag / 3, -mag * 0.5]),
        st.integers(-300, 300).map(lambda k: float(np.float32(k * mag / 255))),
    )
    x = draw(hnp.arrays(np.dtype(row.dtype), shape, elements=elem))
    return x, spec


def _counted(fn, counter):
    def call(*a, **k):
        try:
            out = fn(*a, **k)
        except Unsupported:
            counter["unsupported"] += 1
            raise
        counter["cases"] += 1
        return out

    return call


def _body(row: Row, counter):
    prof = profiles.get(row.profile)
    cand = _counted(row.candidate, counter)
    ctx = lambda spec, s, z: {"profile": row.profile, "spec": spec, "scale": s, "zero_point": z}  # noqa: E731

    if row.kind in ("quantize", "fake_quant", "dequantize"):

        def body(case):
            x, s, z, spec = case
            if row.kind == "dequantize":
                codes = refquant.quantize(x, s, z, spec, nonfinite="saturate")
                ref = refquant.dequantize(codes, np.asarray(s, np.float32), z, spec)
                try:
                    got = cand(codes.copy(), s, z, spec)
                except Unsupported:
                    return
                compare_arrays(
                    ref, got, STRICT, op=f"dequantize [{row.profile}]", context=ctx(spec, s, z), inputs={"codes": codes}
                )
                return
            ref_fn = refquant.quantize if row.kind == "quantize" else refquant.fake_quant
            ref = ref_fn(x, s, z, spec)
            try:
                got = cand(x.copy(), s, z, spec)
            except Unsupported:
                return
            compare_arrays(ref, got, STRICT, op=f"{row.kind} [{row.profile}]", context=ctx(spec, s, z), inputs={"x": x})

        return (blocked_cases(row) if row.layout == "blocked" else profile_cases(row)), body

    if row.kind == "range_fake_quant":

        @st.composite
        def tf_cases(draw):
            """The op's (min, max) first, then x laid out around the grid they nudge to (ties of that grid)."""
            choice = draw(st.sampled_from(list(row.choices)))
            ndim = draw(st.integers(1, 3))
            shape = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
            axis = -1 if row.layout == "per channel" else None
            spec = prof.spec(choice["bits"], signed=False, narrow_range=choice.get("narrow_range", False), axis=axis)
            n = 1 if axis is None else shape[-1]
            lo = np.array([-draw(scales(dtype=np.float32)) * draw(st.integers(0, 300)) for _ in range(n)], np.float32)
            hi = np.array([draw(scales(dtype=np.float32)) * draw(st.integers(1, 300)) for _ in range(n)], np.float32)
            if axis is None:
                lo, hi = lo[0], hi[0]
            try:
                s, z = prof.calibrate(np.zeros(shape, np.float32), spec, min=lo, max=hi)
            except ValueError:  # a range the op rejects (or whose step underflows): not a case
                from hypothesis import reject

                reject()
            x = draw(
                float_arrays(
                    dtype=np.dtype(row.dtype),
                    shape=shape,
                    scale=float(np.float32(np.ravel(s)[0])),
                    zero_point=int(np.ravel(z)[0]),
                    qmin=spec.qmin,
                    qmax=spec.qmax,
                    max_magnitude=float(np.finfo(np.float32).max) / 4,
                )
            )
            return x, lo, hi, spec

        def body(case):
            x, lo, hi, spec = case
            s, z = prof.calibrate(x, spec, min=lo, max=hi)
            ref = refquant.fake_quant(x, s, z, spec, nonfinite="saturate")
            try:
                got = cand(x.copy(), lo, hi, spec)
            except Unsupported:
                return
            compare_arrays(
                ref,
                got,
                STRICT,
                op=f"fake_quant [{row.profile}]",
                context={"min": lo, "max": hi, **ctx(spec, s, z)},
                inputs={"x": x},
            )

        return tf_cases(), body

    if row.kind == "calibrate":

        def body(case):
            x, spec = case
            try:  # the backend first: a case it declines is not one the profile must calibrate
                got = cand(x.copy(), spec)
            except Unsupported:
                return
            want = prof.calibrate(x, spec, **row.options)
            for name, w, g in (("scale", want[0], got[0]), ("zero_point", want[1], got[1])):
                compare_arrays(
                    np.asarray(w),
                    np.asarray(g),
                    STRICT,
                    op=f"calibrate {name} [{row.profile}]",
                    context={"spec": spec, "options": row.options, "x": x.tolist()},
                )

        return calibration_inputs(row), body

    if row.kind == "calibrate+fake_quant":

        def body(case):
            x, spec = case
            s, z = prof.calibrate(x, spec, **row.options)
            ref = refquant.fake_quant(x, s, z, spec)
            try:
                got = cand(x.copy(), spec)
            except Unsupported:
                return
            compare_arrays(
                ref,
                got,
                STRICT,
                op=f"calibrate+fake_quant [{row.profile}]",
                context={"spec": spec, "options": row.options, "scale": s, "zero_point": z},
                inputs={"x": x},
            )

        @st.composite
        def fq_cases(draw):
            x, spec = draw(calibration_inputs(row))
            return x, spec

        return fq_cases(), body

    raise ValueError(f"row.kind={row.kind!r} is not a known kind")


def run_row(row: Row, *, max_examples: int = 1000, seed: int = 0, shrink: bool = True, rounds: int = 6) -> Result:
    """Run *row*'s candidate until ``max_examples`` cases were compared; shrink the first divergence to a minimal
    one (``shrink=False``: report it as found, for quick tests of the harness itself).

    Cases the adapter declines (``Unsupported``) do not count: while fewer than ``max_examples`` were compared,
    further rounds run with the next seeds (at most *rounds*), each sized by the share of declined cases so far.
    A row that stops at a divergence (a documented backend divergence probe) keeps the count it reached.
    """
    counter = {"cases": 0, "unsupported": 0}
    strategy, body = _body(row, counter)
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])

    def prop_for(n: int, k: int):
        cfg = settings(
            max_examples=n,
            deadline=None,
            database=None,
            print_blob=False,
            phases=phases,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )

        @hyp_seed(seed + k)
        @cfg
        @given(strategy)
        def prop(case):
            body(case)

        return prop

    from hypothesis.internal.conjecture import engine as _engine

    t0 = time.perf_counter()
    counterexample = None
    old_budget = getattr(_engine, "MAX_SHRINKING_SECONDS", None)
    if old_budget is not None:  # shrinking on a loaded machine: a bounded budget, the case is small by then
        _engine.MAX_SHRINKING_SECONDS = min(old_budget, 120)
    try:
        n = max_examples
        for k in range(rounds):
            prop_for(n, k)()
            missing = max_examples - counter["cases"]
            if missing <= 0 or counter["cases"] == 0:
                break
            seen = counter["cases"] + counter["unsupported"]
            n = min(20 * max_examples, int(missing * seen / counter["cases"] * 1.2) + 10)
    except ConformanceError as exc:
        counterexample = str(exc)
    except Exception as exc:  # the backend raised on a case it should take: a divergence too
        counterexample = f"{type(exc).__name__}: {exc}"
    finally:
        if old_budget is not None:
            _engine.MAX_SHRINKING_SECONDS = old_budget
    return Result(
        row,
        counter["cases"],
        counter["unsupported"],
        counterexample is not None,
        counterexample,
        time.perf_counter() - t0,
    )


def render(
    results: Sequence[Result],
    versions: dict[str, str],
    total_seconds: float,
    command: str,
    cases_per_row: int | None = None,
    commit: str | None = None,
) -> str:
    """docs/CONFORMANCE.md: the matrix, then the minimal counterexample of every divergence (*commit*: the
    refquant commit the rows ran on, named in the header)."""
    lines = [
        "# Conformance matrix: refquant's backend profiles against the real runtimes",
        "",
        f"Generated by `{command}` (tests/backends/suite.py); do not edit by hand.",
        "Each row ran the profile's checker against the real backend operation on generated, tie-rich cases",
        "(exact half-steps, values 1-4 ulp from ties, operation-order-sensitive values, grid points, +-0,",
        "subnormals, clamp edges and values far outside the range), compared bit for bit with signed zeros",
        "distinguished. *cases* counts the cases compared; *unsupported* the cases the adapter declined",
        "(outside the backend operation, e.g. a dtype it has no kernel for). A row marked *diverges* probes a",
        "documented backend divergence (listed in the profile); its minimal counterexample is below.",
        "",
        *([f"refquant commit the rows ran on: {commit}."] if commit else []),
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        f"Wall time of the whole suite: {total_seconds:.0f} s on this 2-core machine."
        + (f" Cases generated per row: {cases_per_row}." if cases_per_row else ""),
        "",
        "| # | backend | operation | profile | check | layout | codes | input | cases | unsupported | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(results, 1):
        row = r.row
        lines.append(
            f"| {i} | {row.backend} | {row.operation.replace('|', chr(92) + '|')} | `{row.profile}` | "
            f"{row.kind} | {row.layout} | "
            f"{_codes_desc(row.choices)} | {np.dtype(row.dtype).name} | {r.cases} | {r.unsupported} | {r.status} |"
        )
    div = [(i, r) for i, r in enumerate(results, 1) if r.diverged or not r.ok]
    lines += ["", "## Divergences: minimal counterexamples", ""]
    if not div:
        lines.append("None.")
    for i, r in div:
        lines += [f"### Row {i}: {r.row.backend}, {r.row.operation} ({r.status})", ""]
        if r.row.note:
            lines += [r.row.note, ""]
        lines += ["```", (r.counterexample or "(no counterexample)").strip(), "```", ""]
    return "\n".join(lines) + "\n"
