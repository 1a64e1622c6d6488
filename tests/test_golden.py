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
    assert {c["op"] for c in manifest["cases"]} >= {"fake_quant", "quantize", "dequantize", "signed_binarize",
                                                    "factorized_matmul", "shared_sum_matmul"}


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
    target["case_sha256"] = golden._sha(golden._canonical(target))
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
