"""Repository-wide rules from docs/ARCHITECTURE.md, checked on the source text and the runtime.

* kernels: ``@njit``/``@jit`` always with ``cache=True``, never ``fastmath``;
* twins in refquant/_reference never import refquant._kernels;
* ``import refquant`` imports no Numba and compiles nothing;
* the fused quantizer kernel compiles one signature per (compute dtype, output dtype):
  no silent dtype drift from differently typed scalars or layouts.
"""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import refquant as rq

PKG = pathlib.Path(rq.__file__).resolve().parent


def _decorator_calls(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                name = getattr(target, "id", getattr(target, "attr", ""))
                if name in {"njit", "jit", "vectorize", "guvectorize", "stencil"}:
                    yield node.name, dec


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_numba_decorators_cache_and_no_fastmath(path):
    for fname, dec in _decorator_calls(path):
        kwargs = {kw.arg: kw.value for kw in dec.keywords} if isinstance(dec, ast.Call) else {}
        assert "fastmath" not in kwargs, f"{path.name}:{fname} uses fastmath (breaks exactness)"
        cache = kwargs.get("cache")
        assert isinstance(cache, ast.Constant) and cache.value is True, f"{path.name}:{fname} lacks cache=True"


@pytest.mark.parametrize("path", sorted((PKG / "_reference").glob("*.py")), ids=lambda p: p.name)
def test_twins_do_not_import_kernels(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            assert "_kernels" not in mod, f"{path.name} imports {mod}"
            assert not (node.level and mod == "" and any(a.name == "_kernels" for a in node.names))
        if isinstance(node, ast.Import):
            assert all("_kernels" not in a.name for a in node.names)


def test_import_compiles_nothing():
    code = "import sys, refquant; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="no signatures without the JIT")
def test_quantizer_kernel_signatures_do_not_drift():
    from refquant._kernels.uniform import affine_quant_kernel

    x32 = np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4)
    calls = [
        (x32, 0.1, 0, rq.QuantSpec(8)),
        (x32, np.float64(0.1), np.int64(1), rq.QuantSpec(8)),
        (x32, [0.1, 0.2, 0.3], [0, 1, 2], rq.QuantSpec(8, axis=1)),
        (x32, np.float32(0.1), 0.0, rq.QuantSpec(8, scale_op="reciprocal", rounding="floor")),
        (x32.astype(np.float64), 0.1, 0, rq.QuantSpec(8)),
        (x32.astype(np.int32), 0.1, 0, rq.QuantSpec(8)),
        (x32, 0.1, 0, rq.QuantSpec(8, compute_dtype="float64")),
    ]
    for x, s, z, spec in calls:
        rq.fake_quant(x, s, z, spec)
        rq.quantize(x, s, z, spec)
        rq.quantize(x, s, z, spec.replace(bits=12))
        rq.quantize(x, s, 3, spec.replace(signed=False))
    by_key = {}
    for sig in affine_quant_kernel.signatures:
        key = (str(sig[0].dtype), str(sig[13].dtype))
        by_key.setdefault(key, []).append(sig)
    for key, sigs in by_key.items():
        assert len(sigs) == 1, f"{key} compiled {len(sigs)} signatures: {sigs}"
    assert set(k[0] for k in by_key) <= {"float32", "float64"}
