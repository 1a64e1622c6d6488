"""The backend conformance suite: every profile's checkers against the real runtimes.

Run with ``bash tests/backends/run.sh`` (it creates the virtual environment); inside that
environment also ``python tests/backends/suite.py [--cases N] [--only PROFILE ...] [--no-write]``.
Writes docs/CONFORMANCE.md and refquant/_profile_evidence.py (the versions and case counts
that :mod:`refquant.profiles` reports as its evidence). Exit status 1 when a row that should
conform diverges or a documented backend divergence no longer reproduces.
"""

from __future__ import annotations

import argparse
import pathlib
import pprint
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import adapters as A  # noqa: E402
from harness import Row, render, run_row  # noqa: E402


def C(bits, signed, narrow=False):
    return {"bits": bits, "signed": signed, "narrow_range": narrow}


ONNX_CODES = [C(4, True), C(4, False), C(8, True), C(8, False), C(16, True), C(16, False)]
ONNX_2BIT = [C(2, True), C(2, False)]
TORCH_FQ_CODES = [
    C(8, True),
    C(8, False),
    C(8, True, True),
    C(4, True),
    C(4, False, True),
    C(16, True),
    C(2, True),
    C(1, False),
]
TORCH_OBS_CODES = [C(8, True), C(8, False), C(4, True), C(4, False), C(16, True), C(8, True, True)]
TORCH_Q8 = [C(8, True), C(8, False)]
TORCH_QSUB = [C(4, False), C(2, False)]
TF_CODES = [C(8, False), C(8, False, True), C(4, False), C(2, False), C(16, False), C(5, False, True)]
TFLITE_CODES = [C(8, True), C(8, False), C(16, True)]
JAX_CODES = [C(8, True), C(8, False), C(4, True), C(16, False)]

TFLITE_NOTE = (
    "uint8 output is the converter's float -> int8 QUANTIZE, RESHAPE, int8 -> uint8 QUANTIZE chain "
    "(the second a shift by 128 at an equal scale)."
)
TFLITE_WRAP = (
    "A documented backend divergence: the kernel converts round(x/s) to a 32-bit integer before adding the "
    "zero point and clamping, so |x/s| >= 2^31 wraps. The conforming rows draw |x/s| < 2^30."
)
ONNX_REF_WRAP = (
    "A documented divergence of the ONNX reference evaluator: it converts round(x/s) to int32 before adding "
    "the zero point, so round(x/s) + z beyond the int32 range wraps (int16 output, large zero point). "
    "The conforming rows draw |x/s| < 2^30."
)
JAX_NOTE = (
    "Not expressible by one spec (refquant.profiles.NOT_EXPRESSIBLE): the same source line x / s is compiled "
    "by XLA into x * (1/s) when s is broadcast from fewer elements than x, and into a division when s has "
    "x's shape (or x has one element); which one a program gets depends on the shapes in the graph."
)
TFLITE_CAL_NOTE = (
    "One conversion per case (tf.lite.TFLiteConverter with Optimize.DEFAULT and the case's data as the "
    "representative dataset)."
)
WRAP_NOTE = (
    "A documented backend divergence: the backend casts x/s to a 64-bit integer before clamping, so "
    "|x/s| >= 2^63 wraps instead of saturating. The conforming rows above draw |x/s| < 2^62."
)


def rows(v: dict[str, str]) -> list[Row]:
    ort = f"onnxruntime {v['onnxruntime']}"
    ref = f"onnx.reference {v['onnx']}"
    torch = f"torch {v['torch']}"
    tf = f"tensorflow-cpu {v['tensorflow-cpu']}"
    jx = f"jax {v['jax']}"
    out: list[Row] = []
    # ---- ONNX
    for layout in ("per tensor", "per channel", "blocked"):
        out.append(Row(ort, "QuantizeLinear (opset 21)", "onnx", "quantize", layout, ONNX_CODES, A.ort_op("quantize")))
    out.append(
        Row(ort, "QuantizeLinear (opset 25)", "onnx", "quantize", "per channel", ONNX_2BIT, A.ort_op("quantize", 25))
    )
    out.append(
        Row(
            ort,
            "QuantizeLinear (opset 13)",
            "onnx",
            "quantize",
            "per channel",
            [C(8, True), C(8, False)],
            A.ort_op("quantize", 13),
        )
    )
    for layout in ("per tensor", "per channel", "blocked"):
        out.append(
            Row(
                ort,
                "QuantizeLinear -> DequantizeLinear (opset 21)",
                "onnx",
                "fake_quant",
                layout,
                ONNX_CODES,
                A.ort_op("fake_quant"),
            )
        )
    for layout in ("per tensor", "per channel", "blocked"):
        out.append(
            Row(ort, "DequantizeLinear (opset 21)", "onnx", "dequantize", layout, ONNX_CODES, A.ort_op("dequantize"))
        )
    for layout in ("per tensor", "per channel", "blocked"):
        out.append(
            Row(
                ref,
                "QuantizeLinear (opset 21)",
                "onnx",
                "quantize",
                layout,
                ONNX_CODES,
                A.onnx_reference_op("quantize"),
                max_ratio=2.0**30,
            )
        )
    out.append(
        Row(
            ref,
            "QuantizeLinear (opset 21), |x/s| up to 2^126",
            "onnx",
            "quantize",
            "per tensor",
            [C(16, True)],
            A.onnx_reference_op("quantize"),
            expect="diverges",
            note=ONNX_REF_WRAP,
        )
    )
    out.append(
        Row(
            ref,
            "QuantizeLinear -> DequantizeLinear (opset 21)",
            "onnx",
            "fake_quant",
            "blocked",
            ONNX_CODES,
            A.onnx_reference_op("fake_quant"),
            max_ratio=2.0**30,
        )
    )
    out.append(
        Row(
            ort,
            "DynamicQuantizeLinear (scale, zero point)",
            "onnx",
            "calibrate",
            "per tensor",
            [C(8, False)],
            A.ort_dynamic_quantize_linear(),
        )
    )
    # ---- torch.fake_quantize
    out.append(
        Row(
            torch,
            "fake_quantize_per_tensor_affine",
            "torch.fake_quantize",
            "fake_quant",
            "per tensor",
            TORCH_FQ_CODES,
            A.torch_fake_quantize(False),
        )
    )
    out.append(
        Row(
            torch,
            "fake_quantize_per_channel_affine",
            "torch.fake_quantize",
            "fake_quant",
            "per channel",
            TORCH_FQ_CODES,
            A.torch_fake_quantize(True),
            max_ratio=2.0**62,
        )
    )
    out.append(
        Row(
            torch,
            "fake_quantize_per_channel_affine",
            "torch.fake_quantize",
            "fake_quant",
            "per channel",
            TORCH_FQ_CODES,
            A.torch_fake_quantize(True),
            dtype=np.float64,
            max_ratio=2.0**62,
        )
    )
    out.append(
        Row(
            torch,
            "fake_quantize_per_channel_affine, |x/s| up to 2^126",
            "torch.fake_quantize",
            "fake_quant",
            "per channel",
            [C(8, True)],
            A.torch_fake_quantize(True),
            expect="diverges",
            note=WRAP_NOTE,
        )
    )
    out.append(
        Row(
            torch,
            "fake_quantize_per_tensor_affine, float64 input",
            "torch.fake_quantize",
            "fake_quant",
            "per tensor",
            [C(8, True)],
            A.torch_fake_quantize(False),
            dtype=np.float64,
            expect="diverges",
            note=(
                "Not expressible: on a float64 tensor the codes follow the profile (float64 product with the "
                "float32 reciprocal), but the dequantizing product is computed in float32, "
                "fl32((q - z) * fl32(s)), and widened to float64; the per-channel kernel multiplies in float64."
            ),
        )
    )
    for layout, pc in (("per tensor", False), ("per channel", True)):
        for sym in (False, True):
            name = ("PerChannelMinMaxObserver" if pc else "MinMaxObserver") + (" (symmetric)" if sym else " (affine)")
            out.append(
                Row(
                    torch,
                    name + ".calculate_qparams",
                    "torch.fake_quantize",
                    "calibrate",
                    layout,
                    TORCH_OBS_CODES,
                    A.torch_observer(pc, sym),
                    options={"symmetric": sym},
                )
            )
            out.append(
                Row(
                    torch,
                    f"FakeQuantize({name.split(' ')[0]}{', symmetric' if sym else ''}) forward",
                    "torch.fake_quantize",
                    "calibrate+fake_quant",
                    layout,
                    TORCH_OBS_CODES,
                    A.torch_fakequantize_module(pc, sym),
                    options={"symmetric": sym},
                )
            )
    # ---- torch.quantize
    out.append(
        Row(
            torch,
            "quantize_per_tensor + int_repr",
            "torch.quantize",
            "quantize",
            "per tensor",
            TORCH_Q8,
            A.torch_quantize(False),
        )
    )
    out.append(
        Row(
            torch,
            "quantize_per_channel + int_repr",
            "torch.quantize",
            "quantize",
            "per channel",
            TORCH_Q8,
            A.torch_quantize(True),
        )
    )
    out.append(
        Row(
            torch,
            "quantize_per_tensor (quint4x2, quint2x4) + int_repr",
            "torch.quantize",
            "quantize",
            "per tensor",
            TORCH_QSUB,
            A.torch_quantize(False),
            max_ratio=2.0**62,
        )
    )
    out.append(
        Row(
            torch,
            "quantize_per_tensor (quint4x2), |x/s| up to 2^126",
            "torch.quantize",
            "quantize",
            "per tensor",
            [C(4, False)],
            A.torch_quantize(False),
            expect="diverges",
            note=WRAP_NOTE,
        )
    )
    out.append(
        Row(
            torch,
            "Tensor.dequantize (per tensor)",
            "torch.quantize",
            "dequantize",
            "per tensor",
            TORCH_Q8,
            A.torch_dequantize(False),
        )
    )
    out.append(
        Row(
            torch,
            "Tensor.dequantize (per channel)",
            "torch.quantize",
            "dequantize",
            "per channel",
            TORCH_Q8,
            A.torch_dequantize(True),
        )
    )
    # ---- tf.fake_quant
    for variant, op, layout, prof in (
        ("args", "fake_quant_with_min_max_args", "per tensor", "tf.fake_quant.args"),
        ("vars", "fake_quant_with_min_max_vars", "per tensor", "tf.fake_quant"),
        ("per_channel", "fake_quant_with_min_max_vars_per_channel", "per channel", "tf.fake_quant"),
    ):
        out.append(
            Row(
                tf,
                op + " (min, max) vs calibrate + the spec",
                prof,
                "range_fake_quant",
                layout,
                TF_CODES,
                A.tf_fake_quant(variant),
            )
        )
    # ---- TFLite
    tfl = tf + " (tf.lite)"
    for resolver, what, prof in (
        ("AUTO", "default interpreter (XNNPACK)", "tflite"),
        ("BUILTIN_WITHOUT_DEFAULT_DELEGATES", "builtin kernels without delegates", "tflite"),
        ("BUILTIN_REF", "reference kernels (BUILTIN_REF)", "tflite.reference"),
    ):
        out.append(
            Row(
                tfl,
                f"QUANTIZE, {what}",
                prof,
                "quantize",
                "per tensor",
                TFLITE_CODES,
                A.tflite_quantize(resolver),
                max_ratio=2.0**30,
                note=TFLITE_NOTE,
            )
        )
        wraps = resolver != "AUTO"  # the XNNPACK delegate saturates
        out.append(
            Row(
                tfl,
                f"QUANTIZE, {what}, |x/s| up to 2^126",
                prof,
                "quantize",
                "per tensor",
                [C(8, True)],
                A.tflite_quantize(resolver),
                expect="diverges" if wraps else "conforms",
                note=TFLITE_WRAP if wraps else "",
            )
        )
    out.append(
        Row(
            tfl,
            "TFLiteConverter activation qparams (representative dataset -> QUANTIZE scale, zero point)",
            "tflite",
            "calibrate",
            "per tensor",
            TFLITE_CODES,
            A.tflite_calibrate(),
            note=TFLITE_CAL_NOTE,
        )
    )
    # ---- JAX
    for layout in ("per tensor", "per channel"):
        out.append(
            Row(
                jx,
                "jit(clip(round(x * (1/s)) + z))",
                "jax",
                "quantize",
                layout,
                JAX_CODES,
                A.jax_quantize("reciprocal"),
            )
        )
    out.append(
        Row(
            jx,
            "jit(clip(round(x / s) + z)), s broadcast from fewer elements than x",
            "jax",
            "quantize",
            "per channel",
            JAX_CODES,
            A.jax_quantize("divide_broadcast"),
            note=JAX_NOTE,
        )
    )
    out.append(
        Row(
            jx,
            "jit(clip(round(x / s) + z)), s of x's shape",
            "onnx",
            "quantize",
            "per channel",
            [C(8, True), C(16, False)],
            A.jax_quantize("divide_full"),
            note=JAX_NOTE,
        )
    )
    out.append(
        Row(
            jx,
            "jit(clip(round(x / s) + z)), s of x's shape, against the reciprocal profile",
            "jax",
            "quantize",
            "per channel",
            [C(8, True)],
            A.jax_quantize("divide_full"),
            expect="diverges",
            note=JAX_NOTE,
        )
    )
    return out


def evidence(results) -> dict:
    """Per profile: the backend versions its rows ran against, the smallest case count of a conforming row."""
    ev = {}
    for r in results:
        if r.row.expect != "conforms":
            continue
        e = ev.setdefault(r.row.profile, {"versions": {}, "cases": None, "rows": 0, "conforming_rows": 0})
        name, version = r.row.backend.split(" (")[0].split(" ", 1)
        e["versions"][name] = version
        e["cases"] = r.cases if e["cases"] is None else min(e["cases"], r.cases)
        e["rows"] += 1
        e["conforming_rows"] += int(r.ok)
    return ev


def _select(all_rows, only, match, short_in=None, cases=0):
    """The rows of the profiles in *only* (all if empty) whose operation contains a text of *match* (any if empty)
    and, with *short_in* (results stored with --save), that compared fewer than *cases* cases without diverging."""
    short = None
    if short_in:
        import json

        stored = json.loads(pathlib.Path(short_in).read_text())
        short = {d["key"] for d in stored if d["cases"] < cases and not d["diverged"]}
    return [
        r
        for r in all_rows
        if (not only or r.profile in only)
        and (not match or any(m in r.operation for m in match))
        and (short is None or row_key(r) in short)
    ]


def _run_shard(index: int, count: int, cases: int, only, out: pathlib.Path, match=None, short_in=None) -> None:
    """Run every ``count``-th row starting at ``index`` and store the results as JSON (one process per shard)."""
    import json

    # indices into the filtered list, as main() reads them back
    todo = list(enumerate(_select(rows(A.versions()), only, match, short_in, cases)))
    res = []
    for i, row in todo[index::count]:
        r = run_row(row, max_examples=cases)
        res.append(
            {
                "index": i,
                "cases": r.cases,
                "unsupported": r.unsupported,
                "diverged": r.diverged,
                "counterexample": r.counterexample,
                "seconds": r.seconds,
            }
        )
        print(
            f"[row {i + 1}] {row.backend} | {row.operation} | {row.profile} | {row.layout}: {r.status} "
            f"({r.cases} cases, {r.unsupported} unsupported, {r.seconds:.1f} s)",
            flush=True,
        )
        if r.diverged and row.expect == "conforms":
            print(r.counterexample, flush=True)
    out.write_text(json.dumps(res))


def row_key(row) -> str:
    """A row's identity across runs (for --save / --merge)."""
    return " | ".join([row.backend, row.operation, row.profile, row.kind, row.layout, np.dtype(row.dtype).name])


def source_commit() -> str:
    """The checked-out refquant commit, marked when refquant/ or tests/backends/ differ from it."""
    import subprocess

    def git(*a):
        return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "refquant", "tests/backends", ":!refquant/_profile_evidence.py")
    return head + (" with uncommitted changes" if dirty else "")


def _write(results, v, total, cases, no_write, commit=None) -> int:
    text = render(results, v, total, "bash tests/backends/run.sh", cases_per_row=cases, commit=commit)
    if no_write:
        print(text)
    else:
        (ROOT / "docs" / "CONFORMANCE.md").write_text(text)
        ev = evidence(results)
        path = ROOT / "refquant" / "_profile_evidence.py"
        path.write_text(
            '"""Evidence of the last backend-suite run (written by tests/backends/suite.py; do not edit)."""\n\n'
            "EVIDENCE = " + pprint.pformat(ev, sort_dicts=True) + "\n"
        )
        ruff = shutil.which("ruff")
        if ruff:  # the repository's formatting (tests/test_ruff.py checks it)
            subprocess.run([ruff, "format", "-q", str(path)], cwd=ROOT, check=False)
    bad = [r for r in results if not r.ok]
    print(f"{len(results) - len(bad)} passed, {len(bad)} failed in {total:.0f} s")
    return 1 if bad else 0


def _merge(files, todo, v, no_write) -> int:
    """The matrix from stored results (runs of disjoint or overlapping row sets; a later file wins)."""
    import json

    from harness import Result

    stored = {}
    for f in files:
        for d in json.loads(pathlib.Path(f).read_text()):
            stored[d["key"]] = d
    missing = [row_key(r) for r in todo if row_key(r) not in stored]
    if missing:
        print("no stored result for row(s):\n  " + "\n  ".join(missing))
        return 2
    results = []
    for r in todo:
        d = stored[row_key(r)]
        results.append(Result(r, d["cases"], d["unsupported"], d["diverged"], d["counterexample"], d["seconds"]))
    per_row = min(stored[row_key(r)]["cases_per_row"] for r in todo)
    total = sum(d["total_seconds"] for d in {d["total_seconds"]: d for d in stored.values()}.values())
    commits = sorted({stored[row_key(r)].get("commit", "unknown") for r in todo})
    commit = commits[0] if len(commits) == 1 else "(merged from several runs: " + ", ".join(commits) + ")"
    return _write(results, v, total, per_row, no_write, commit=commit)


def main(argv=None) -> int:
    import json
    import tempfile

    from harness import Result

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=1000, help="generated cases per row (default 1000)")
    ap.add_argument("--only", nargs="*", help="only rows of these profiles")
    ap.add_argument("--match", nargs="*", help="only rows whose operation contains one of these texts")
    ap.add_argument(
        "--short-in",
        metavar="FILE",
        help="only rows that compared fewer than --cases cases (without diverging) in results stored with --save",
    )
    ap.add_argument("--jobs", type=int, default=4, help="worker processes (default 4)")
    ap.add_argument("--no-write", action="store_true", help="print the matrix instead of writing the files")
    ap.add_argument(
        "--save", metavar="FILE", help="also store the rows' raw results as JSON (to combine runs with --merge)"
    )
    ap.add_argument(
        "--merge",
        nargs="+",
        metavar="FILE",
        help="run nothing: write the matrix from results stored with --save (a later file wins for a row)",
    )
    ap.add_argument("--shard", nargs=3, metavar=("INDEX", "COUNT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.shard:
        _run_shard(
            int(args.shard[0]),
            int(args.shard[1]),
            args.cases,
            args.only,
            pathlib.Path(args.shard[2]),
            args.match,
            args.short_in,
        )
        return 0
    v = A.versions()
    todo = _select(rows(v), args.only, args.match, args.short_in, args.cases)
    if args.merge:
        return _merge(args.merge, todo, v, args.no_write)
    commit = source_commit()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for k in range(args.jobs):
            cmd = [
                sys.executable,
                __file__,
                "--cases",
                str(args.cases),
                "--shard",
                str(k),
                str(args.jobs),
                f"{tmp}/{k}.json",
            ]
            if args.only:
                cmd += ["--only", *args.only]
            if args.match:
                cmd += ["--match", *args.match]
            if args.short_in:
                cmd += ["--short-in", args.short_in]
            procs.append(subprocess.Popen(cmd))
        codes = [p.wait() for p in procs]
        if any(codes):
            print(f"a worker failed: exit codes {codes}")
            return 2
        raw = sorted(
            (d for k in range(args.jobs) for d in json.loads(pathlib.Path(f"{tmp}/{k}.json").read_text())),
            key=lambda d: d["index"],
        )
    results = [
        Result(todo[d["index"]], d["cases"], d["unsupported"], d["diverged"], d["counterexample"], d["seconds"])
        for d in raw
    ]
    total = time.perf_counter() - t0
    if args.save:
        stored = [
            dict(d, key=row_key(todo[d["index"]]), total_seconds=total, cases_per_row=args.cases, commit=commit)
            for d in raw
        ]
        pathlib.Path(args.save).write_text(json.dumps(stored))
    partial = bool(args.only or args.match or args.short_in)
    return _write(results, v, total, args.cases, args.no_write or partial, commit=commit)


if __name__ == "__main__":
    sys.exit(main())
