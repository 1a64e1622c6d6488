"""Golden vectors: export -> verify round trip; corruption and edits are detected and name the case.

The stored outputs are refquant's own, so the round trip alone proves only
stability; the *independent* correctness of the uniform outputs is the job of
test_uniform.py. Here we check the file format and the verifier's ability to fail.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from refquant.testing import golden


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("golden")
    manifest = golden.export(d)
    return d, manifest


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_round_trip(exported):
    d, manifest = exported
    rep = golden.verify(d)
    assert rep.ok, rep.summary()
    assert rep.checked == len(manifest["cases"]) > 0
    assert {c["op"] for c in manifest["cases"]} >= {
        "fake_quant",
        "quantize",
        "dequantize",
        "signed_binarize",
        "factorized_matmul",
        "shared_sum_matmul",
    }


def test_repetition_vectors_against_independent_oracles(exported):
    """Stored matmul outputs equal x @ w_q in exact integer arithmetic, and counts respect their bounds."""
    d, manifest = exported
    for c in manifest["cases"]:
        if c["op"] not in ("factorized_matmul", "shared_sum_matmul"):
            continue
        z = np.load(d / c["npz"])
        x, w = z["input_x"].astype(object), z["input_w_q"].astype(object)
        assert np.array_equal(z["output_y"], (x @ w).astype(np.int64)), c["id"]
        adds, muls, dense = z["output_counts_adds_muls_dense"].tolist()
        assert dense == x.shape[0] * w.size and adds <= dense and muls <= dense


def test_raw_files_readable_without_numpy_metadata(exported):
    """A C++ reader needs only dtype/shape/file: reading the bytes reproduces the .npz arrays."""
    d, manifest = exported
    case = manifest["cases"][3]
    for kind in ("inputs", "outputs"):
        for name, meta in case[kind].items():
            raw = (d / meta["file"]).read_bytes()
            assert meta["dtype"][0] in "<|"  # explicitly little-endian (or single-byte)
            dt = np.dtype(meta["dtype"])
            a = np.frombuffer(raw, dtype=dt).reshape(meta["shape"])
            with np.load(d / case["npz"]) as z:
                assert np.array_equal(z[f"{kind[:-1]}_{name}"], a)


def test_corrupted_byte_is_detected_and_named(exported, tmp_path):
    d = _copy(exported[0], tmp_path / "g")
    case = exported[1]["cases"][7]
    f = d / case["outputs"][next(iter(case["outputs"]))]["file"]
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0x01
    f.write_bytes(bytes(b))
    rep = golden.verify(d)
    assert not rep.ok and [cid for cid, _ in rep.failures] == [case["id"]]
    assert "sha256" in rep.failures[0][1]


def test_changed_spec_field_is_detected_and_named(exported, tmp_path):
    d = _copy(exported[0], tmp_path / "g")
    m = json.loads((d / "manifest.json").read_text())
    target = next(c for c in m["cases"] if c["op"] == "fake_quant")
    target["spec"]["rounding"] = "floor" if target["spec"]["rounding"] != "floor" else "half_even"
    (d / "manifest.json").write_text(json.dumps(m))
    rep = golden.verify(d)
    assert [cid for cid, _ in rep.failures] == [target["id"]]


def test_changed_spec_with_rehashed_entry_fails_by_recomputation(exported, tmp_path):
    """Even if someone updates case_sha256 after editing, recomputation catches a changed spec."""
    d = _copy(exported[0], tmp_path / "g")
    m = json.loads((d / "manifest.json").read_text())
    target = next(c for c in m["cases"] if c["op"] == "quantize" and c["spec"]["bits"] == 2)
    target["spec"]["bits"] = 3
    target["case_sha256"] = golden.case_sha256(target, d)
    (d / "manifest.json").write_text(json.dumps(m))
    rep = golden.verify(d)
    assert [cid for cid, _ in rep.failures] == [target["id"]]
    assert "differ" in rep.failures[0][1]


def test_export_is_deterministic(tmp_path):
    m1 = golden.export(tmp_path / "a", ops=["quantize"])
    m2 = golden.export(tmp_path / "b", ops=["quantize"])
    assert [c["case_sha256"] for c in m1["cases"]] == [c["case_sha256"] for c in m2["cases"]]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown"):
        golden.export(tmp_path, ops=["nope"])
    with pytest.raises(FileNotFoundError, match="export first"):
        golden.verify(tmp_path / "missing")


# ---------------------------------------------------------------- format version 2: canonical byte form
import hashlib  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import struct  # noqa: E402

import refquant as rq  # noqa: E402

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "GOLDEN.md"


def _floats_as_bits(v):
    """Independent of golden.canonical_json: floats -> "f64:<bits>" via struct, the rest by json.dumps."""
    if isinstance(v, float):
        return "f64:" + format(struct.unpack("<Q", struct.pack("<d", v))[0], "016x")
    if isinstance(v, dict):
        return {k: _floats_as_bits(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_floats_as_bits(x) for x in v]
    return v


def _independent_case_sha(entry, read_bytes):
    body = {k: v for k, v in entry.items() if k != "case_sha256"}
    text = json.dumps(_floats_as_bits(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    h = hashlib.sha256()
    h.update(b"refquant-golden-case-v2\n")
    h.update(text.encode("ascii") + b"\n")
    for kind, tag in (("inputs", "input"), ("outputs", "output")):
        for name in sorted(entry[kind]):
            m = entry[kind][name]
            h.update(f"{tag} {name} {m['dtype']} {','.join(str(d) for d in m['shape'])}\n".encode("ascii"))
            h.update(read_bytes(kind, name, m))
    return h.hexdigest(), text


def test_case_sha256_recomputed_independently_for_every_case(exported):
    d, manifest = exported
    assert manifest["format_version"] == 2
    for c in manifest["cases"]:
        sha, _ = _independent_case_sha(c, lambda kind, name, m: (d / m["file"]).read_bytes())
        assert sha == c["case_sha256"], c["id"]


def _doc_block(marker):
    text = DOC.read_text()
    m = re.search(re.escape(f"<!-- {marker} -->") + r"\s*```\w*\n(.*?)```", text, re.S)
    assert m, marker
    return m.group(1)


def test_doc_worked_example_matches():
    entry = json.loads(_doc_block("golden-example-entry"))
    hexes = {}
    for line in _doc_block("golden-example-arrays").splitlines():
        fname, hx = line.split()[:2]
        hexes[fname] = bytes.fromhex(hx)
    read = lambda kind, name, m: hexes[m["file"].rsplit("/", 1)[1]]  # noqa: E731
    for kind in ("inputs", "outputs"):
        for name, m in entry[kind].items():
            assert hashlib.sha256(read(kind, name, m)).hexdigest() == m["sha256"], name
    sha, canonical = _independent_case_sha(entry, read)
    assert sha == entry["case_sha256"] == _doc_block("golden-example-sha").strip()
    assert canonical == _doc_block("golden-example-canonical").strip()
    arrays = {k: {n: read(k, n, m) for n, m in entry[k].items()} for k in ("inputs", "outputs")}
    assert hashlib.sha256(golden.case_bytes(entry, arrays)).hexdigest() == sha
    # the codes are right: x / 0.5 = [0.5, -1.5, 2.5, 600] -> half-even [0, -2, 2, 600] + 1 -> clamp
    x = np.frombuffer(hexes["input_x.bin"], "<f4")
    codes = np.frombuffer(hexes["output_codes.bin"], "|i1")
    assert codes.tolist() == [1, -1, 3, 127]
    spec = rq.QuantSpec.from_dict(entry["spec"])
    assert np.array_equal(rq.quantize(x, np.float32(0.5), 1, spec), codes)


def test_canonical_json_floats_are_bits_and_strings_are_restricted():
    assert (
        golden.canonical_json({"b": 1.5, "a": [None, True, -3], "c": "x"})
        == '{"a":[null,true,-3],"b":"f64:3ff8000000000000","c":"x"}'
    )
    assert golden.canonical_json(1e-12) == '"f64:3d719799812dea11"'
    with pytest.raises(ValueError, match="printable ASCII"):
        golden.canonical_json('a"b')
    with pytest.raises(ValueError, match="finite"):
        golden.canonical_json(float("nan"))


def test_every_spec_field_is_documented(exported):
    _, manifest = exported
    text = DOC.read_text()
    fields = DOC.read_text().split("## Spec fields", 1)[1].split("## Operations", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", fields, re.M))
    names = {n for pair in documented for n in pair if n}

    def keys(d):
        for k, v in d.items():
            yield k
            if isinstance(v, dict):
                yield from keys(v)

    seen = {k for c in manifest["cases"] if c["spec"] for k in keys(c["spec"])}
    assert seen and seen <= names, sorted(seen - names)
    for c in manifest["cases"]:
        for p in c["params"]:
            assert f"`{p}`" in text, (c["op"], p)


def test_backend_pairs_are_in_the_vectors(exported):
    _, manifest = exported
    specs = [c["spec"] for c in manifest["cases"] if c["op"] == "quantize"]
    pairs = {(s["scale_op"], s["rounding"]) for s in specs}
    assert {
        ("reciprocal", "half_even"),
        ("divide", "half_away"),
        ("divide", "half_even"),
        ("reciprocal", "floor"),
        ("divide", "half_up"),
    } <= pairs
    onnx_int8 = [
        s
        for s in specs
        if s["bits"] == 8
        and s["signed"]
        and s["scale_op"] == "divide"
        and s["rounding"] == "half_even"
        and s["compute_dtype"] == "float32"
        and not s["narrow_range"]
    ]
    assert len(onnx_int8) >= 3 and {s["axis"] for s in onnx_int8} >= {None, 0, 1}
    tol = {c["op"]: c["tolerance"]["signed_zero"] for c in manifest["cases"]}
    assert tol["fake_quant"] and tol["dequantize"]


def _v1_hash(entry):
    e = {k: v for k, v in entry.items() if k != "case_sha256"}
    return hashlib.sha256(json.dumps(e, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_version_1_directory_is_still_verified(exported, tmp_path):
    d = _copy(exported[0], tmp_path / "g")
    m = json.loads((d / "manifest.json").read_text())
    m["format_version"] = 1
    for c in m["cases"]:
        c["case_sha256"] = _v1_hash(c)
    (d / "manifest.json").write_text(json.dumps(m))
    rep = golden.verify(d)
    assert rep.ok, rep.summary()
    assert any("format version 1" in n for n in rep.notes)
    # and version 1's own hash rule still detects an edit
    target = next(c for c in m["cases"] if c["op"] == "fake_quant")
    target["params"] = {"edited": 1}
    (d / "manifest.json").write_text(json.dumps(m))
    rep = golden.verify(d)
    assert [cid for cid, _ in rep.failures] == [target["id"]] and "case_sha256" in rep.failures[0][1]


def test_unknown_version_is_refused_clearly(exported, tmp_path):
    d = _copy(exported[0], tmp_path / "g")
    m = json.loads((d / "manifest.json").read_text())
    m["format_version"] = 3
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(
        ValueError, match=r"format_version=3 cannot be read by this refquant \(it reads versions 1, 2\)"
    ):
        golden.verify(d)


def test_replaced_array_with_updated_file_hash_is_detected(exported, tmp_path):
    """v2 hashes the array bytes into case_sha256: swapping a file *and* its sha256 entry is still caught."""
    d = _copy(exported[0], tmp_path / "g")
    m = json.loads((d / "manifest.json").read_text())
    c = next(c for c in m["cases"] if c["op"] == "quantize")
    meta = c["inputs"]["x"]
    f = d / meta["file"]
    b = bytearray(f.read_bytes())
    b[0] ^= 1
    f.write_bytes(bytes(b))
    meta["sha256"] = hashlib.sha256(bytes(b)).hexdigest()
    (d / "manifest.json").write_text(json.dumps(m))
    rep = golden.verify(d)
    assert [cid for cid, _ in rep.failures] == [c["id"]] and "case_sha256" in rep.failures[0][1]
