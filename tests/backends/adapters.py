"""Adapters: each real backend operation behind refquant's candidate signature.

``candidate(x, scale, zero_point, spec) -> array`` for quantize / fake_quant,
``candidate(codes, scale, zero_point, spec) -> array`` for dequantize, and
``calibrator(x, spec, **options) -> (scale, zero_point)`` for calibration, as the
checkers of :mod:`refquant.testing` call them. An adapter raises
:class:`Unsupported` for a case outside what its backend operation takes (a
dtype it has no kernel for); documented backend divergences are *not* hidden
here but guarded by the suite's rows (see suite.py), so the probe rows can show them.

Imported only inside the backend suite's own virtual environment.
"""

from __future__ import annotations

import os
import struct
import warnings

import numpy as np
from harness import Unsupported

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")


def _block_shape(x_shape, axis, block_size):
    shape = list(x_shape)
    shape[axis] = -(-shape[axis] // block_size)
    return shape


# ---------------------------------------------------------------- ONNX
def _onnx():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    return onnx, TensorProto, helper, numpy_helper


def _qtype(spec):
    _, TP, _, _ = _onnx()
    table = {
        (2, True): TP.INT2,
        (2, False): TP.UINT2,
        (4, True): TP.INT4,
        (4, False): TP.UINT4,
        (8, True): TP.INT8,
        (8, False): TP.UINT8,
        (16, True): TP.INT16,
        (16, False): TP.UINT16,
    }
    if (spec.bits, spec.signed) not in table or spec.narrow_range:
        raise Unsupported(
            f"ONNX has no {spec.bits}-bit {'signed' if spec.signed else 'unsigned'} type"
            + (" with narrow range" if spec.narrow_range else "")
        )
    return table[(spec.bits, spec.signed)]


def onnx_model(kind, shape, scale, zero_point, spec, opset, codes=None):
    """A one- or two-node ONNX model: QuantizeLinear (codes cast to int32), Q -> DQ, or DQ of constant codes."""
    onnx, TP, helper, numpy_helper = _onnx()
    qt = _qtype(spec)
    bs = getattr(spec, "block_size", None)
    s = np.asarray(scale, dtype=np.float32)
    z = np.asarray(zero_point, dtype=np.int64)
    if spec.axis is not None:
        s = s.reshape(_block_shape(shape, spec.axis, bs) if bs else (-1,))
        z = np.broadcast_to(z, s.shape)
    else:
        s, z = s.reshape(()), z.reshape(())
    inits = [numpy_helper.from_array(s, "s"), helper.make_tensor("z", qt, list(z.shape), z.reshape(-1).tolist())]
    attrs = {}
    if spec.axis is not None:
        attrs["axis"] = int(spec.axis)
    if bs:
        attrs["block_size"] = int(bs)
    inputs = [helper.make_tensor_value_info("x", TP.FLOAT, list(shape))]
    if kind == "dequantize":
        c = np.asarray(codes, dtype=np.int64)
        inits.append(helper.make_tensor("q", qt, list(c.shape), c.reshape(-1).tolist()))
        nodes = [helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs)]
        inputs, out_t = [], TP.FLOAT
    else:
        nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], **attrs)]
        if kind == "fake_quant":
            nodes.append(helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs))
            out_t = TP.FLOAT
        else:
            nodes.append(helper.make_node("Cast", ["q"], ["y"], to=TP.INT32))
            out_t = TP.INT32
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", out_t, list(shape))], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _opset_for(spec, opset):
    if spec.bits == 2:
        return max(opset, 25)
    if spec.bits in (4, 16) or getattr(spec, "block_size", None):
        return max(opset, 21)
    return opset


def ort_op(kind, opset=21):
    """onnxruntime CPU: QuantizeLinear / QuantizeLinear -> DequantizeLinear / DequantizeLinear."""
    import onnxruntime as ort

    def run(a, scale, zero_point, spec):
        a = np.asarray(a)
        if kind != "dequantize" and a.dtype != np.float32:
            raise Unsupported("QuantizeLinear is checked on float32 input")
        if getattr(spec, "block_size", None) and np.size(scale) == 1:
            raise Unsupported("onnxruntime takes a one-element scale as per tensor and rejects block_size")
        m = onnx_model(
            kind, a.shape, scale, zero_point, spec, _opset_for(spec, opset), codes=a if kind == "dequantize" else None
        )
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return sess.run(None, {} if kind == "dequantize" else {"x": a})[0]

    return run


def onnx_reference_op(kind, opset=21):
    """onnx.reference.ReferenceEvaluator: the ONNX specification's own NumPy implementation."""
    from onnx.reference import ReferenceEvaluator

    def run(a, scale, zero_point, spec):
        a = np.asarray(a)
        if kind != "dequantize" and a.dtype != np.float32:
            raise Unsupported("QuantizeLinear is checked on float32 input")
        m = onnx_model(
            kind, a.shape, scale, zero_point, spec, _opset_for(spec, opset), codes=a if kind == "dequantize" else None
        )
        return np.asarray(ReferenceEvaluator(m).run(None, {} if kind == "dequantize" else {"x": a})[0])

    return run


def ort_dynamic_quantize_linear():
    """onnxruntime DynamicQuantizeLinear: returns (scale, zero_point) it computed (uint8, per tensor)."""
    import onnxruntime as ort
    from onnx import TensorProto as TP
    from onnx import helper

    def calibrate(x, spec):
        x = np.asarray(x)
        if x.dtype != np.float32:
            raise Unsupported("DynamicQuantizeLinear takes float32")
        if (spec.bits, spec.signed, spec.narrow_range, spec.axis) != (8, False, False, None):
            raise Unsupported("DynamicQuantizeLinear is uint8 per tensor")
        node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
        g = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info("x", TP.FLOAT, list(x.shape))],
            [
                helper.make_tensor_value_info("y", TP.UINT8, list(x.shape)),
                helper.make_tensor_value_info("s", TP.FLOAT, []),
                helper.make_tensor_value_info("z", TP.UINT8, []),
            ],
        )
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        _, s, z = sess.run(None, {"x": x})
        return np.float32(s), int(z)

    return calibrate


# ---------------------------------------------------------------- PyTorch
def _torch():
    import torch

    return torch


def torch_fake_quantize(per_channel: bool):
    torch = _torch()

    def run(x, scale, zero_point, spec):
        t = torch.from_numpy(np.ascontiguousarray(x))
        if per_channel:
            s = torch.from_numpy(np.asarray(scale, dtype=np.float32).reshape(-1))
            z = torch.from_numpy(np.asarray(zero_point, dtype=np.int32).reshape(-1))
            return torch.fake_quantize_per_channel_affine(t, s, z, spec.axis % x.ndim, spec.qmin, spec.qmax).numpy()
        return torch.fake_quantize_per_tensor_affine(
            t, float(np.float32(scale)), int(zero_point), spec.qmin, spec.qmax
        ).numpy()

    return run


_TORCH_QDTYPES = {(8, True): "qint8", (8, False): "quint8", (4, False): "quint4x2", (2, False): "quint2x4"}


def _unpack_subbyte(packed: np.ndarray, bits: int, n: int) -> np.ndarray:
    per = 8 // bits
    mask = (1 << bits) - 1
    p = packed.astype(np.uint8).reshape(-1)
    out = np.stack([(p >> (bits * i)) & mask for i in range(per)], axis=1).reshape(-1)
    return out[:n]


def torch_quantize(per_channel: bool):
    """torch.quantize_per_tensor / quantize_per_channel, codes read with int_repr (sub-byte codes unpacked)."""
    torch = _torch()

    def run(x, scale, zero_point, spec):
        if x.dtype != np.float32:
            raise Unsupported("torch.quantize_* takes float32 tensors only")
        if (spec.bits, spec.signed) not in _TORCH_QDTYPES or spec.narrow_range:
            raise Unsupported("no torch quantized dtype for this spec")
        dt = getattr(torch, _TORCH_QDTYPES[(spec.bits, spec.signed)])
        t = torch.from_numpy(np.ascontiguousarray(x))
        if per_channel:
            s = torch.from_numpy(np.asarray(scale, dtype=np.float64).reshape(-1))
            z = torch.from_numpy(np.asarray(zero_point, dtype=np.int64).reshape(-1))
            q = torch.quantize_per_channel(t, s, z, spec.axis % x.ndim, dt)
        else:
            q = torch.quantize_per_tensor(t, float(scale), int(zero_point), dt)
        codes = q.int_repr().numpy()
        if spec.bits < 8:
            return _unpack_subbyte(codes, spec.bits, x.size).reshape(x.shape)
        return codes

    return run


def torch_dequantize(per_channel: bool):
    """Tensor.dequantize() of a quantized tensor holding the given codes."""
    torch = _torch()

    def run(codes, scale, zero_point, spec):
        if (spec.bits, spec.signed) not in ((8, True), (8, False)) or spec.narrow_range:
            raise Unsupported("dequantize is checked for qint8 / quint8")
        c = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.int8 if spec.signed else np.uint8))
        if per_channel:
            s = torch.from_numpy(np.asarray(scale, dtype=np.float64).reshape(-1))
            z = torch.from_numpy(np.asarray(zero_point, dtype=np.int64).reshape(-1))
            q = torch._make_per_channel_quantized_tensor(c, s, z, spec.axis % codes.ndim)
        else:
            q = torch._make_per_tensor_quantized_tensor(c, float(scale), int(zero_point))
        return q.dequantize().numpy()

    return run


def _torch_minmax_observer(torch, x, spec, per_channel: bool, symmetric: bool):
    """The (Per-channel)MinMaxObserver class and its keyword arguments for *spec* (quant_min/quant_max given
    explicitly, as FakeQuantize passes them), shared by the observer and the FakeQuantize adapters."""
    from torch.ao.quantization import observer as obs

    if per_channel and x.ndim < 2:
        raise Unsupported("PerChannelMinMaxObserver flattens from dimension 1: needs ndim >= 2")
    dt = (
        (torch.qint8 if spec.signed else torch.quint8)
        if spec.bits <= 8
        else (torch.int16 if spec.signed else torch.uint16)
    )
    kw = dict(dtype=dt, quant_min=spec.qmin, quant_max=spec.qmax)
    if per_channel:
        kw.update(
            qscheme=torch.per_channel_symmetric if symmetric else torch.per_channel_affine, ch_axis=spec.axis % x.ndim
        )
        return obs.PerChannelMinMaxObserver, kw
    kw.update(qscheme=torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine)
    return obs.MinMaxObserver, kw


def torch_observer(per_channel: bool, symmetric: bool):
    """MinMaxObserver / PerChannelMinMaxObserver with quant_min/quant_max given explicitly (as FakeQuantize does)."""
    torch = _torch()

    def calibrate(x, spec):
        cls, kw = _torch_minmax_observer(torch, x, spec, per_channel, symmetric)
        o = cls(**kw)
        o(torch.from_numpy(np.ascontiguousarray(x)))
        s, z = o.calculate_qparams()
        s, z = s.numpy().astype(np.float32), z.numpy().astype(np.int64)
        if per_channel:
            return s, z
        return s.reshape(-1)[0], int(z.reshape(-1)[0])

    return calibrate


def torch_fakequantize_module(per_channel: bool, symmetric: bool):
    """torch.ao.quantization.FakeQuantize forward (observer enabled): calibrate on x, then fake-quantize x."""
    torch = _torch()
    from torch.ao.quantization import FakeQuantize

    def run(x, spec):
        cls, kw = _torch_minmax_observer(torch, x, spec, per_channel, symmetric)
        fq = FakeQuantize(observer=cls, **kw)
        return fq(torch.from_numpy(np.ascontiguousarray(x))).detach().numpy()

    return run


# ---------------------------------------------------------------- TensorFlow
def _tf():
    import tensorflow as tf

    return tf


def tf_fake_quant(variant: str):
    """fake_quant_with_min_max_{args, vars, vars_per_channel}: the candidate receives the op's (min, max)."""
    tf = _tf()

    def run(x, lo, hi, spec):
        if x.dtype != np.float32:
            raise Unsupported("fake_quant takes float32")
        kw = dict(num_bits=spec.bits, narrow_range=spec.narrow_range)
        if variant == "args":
            y = tf.quantization.fake_quant_with_min_max_args(x, min=float(lo), max=float(hi), **kw)
        elif variant == "vars":
            y = tf.quantization.fake_quant_with_min_max_vars(
                x, tf.constant(np.float32(lo)), tf.constant(np.float32(hi)), **kw
            )
        else:
            y = tf.quantization.fake_quant_with_min_max_vars_per_channel(
                x, tf.constant(np.asarray(lo, np.float32)), tf.constant(np.asarray(hi, np.float32)), **kw
            )
        return y.numpy()

    return run


# ---------------------------------------------------------------- TFLite
_TFLITE_TEMPLATES: dict = {}


def _tflite_template(out: str):
    """Convert a tiny float32 -> QUANTIZE -> RESHAPE model once; return its bytes and the (scale, zp) byte patterns."""
    if out in _TFLITE_TEMPLATES:
        return _TFLITE_TEMPLATES[out]
    tf = _tf()

    @tf.function(input_signature=[tf.TensorSpec([64], tf.float32)])
    def f(x):
        return tf.reshape(x, [8, 8])

    def rep():
        for _ in range(3):
            yield [np.linspace(-1.0, 3.0, 64).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    if out == "int16":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_output_type = tf.int8 if out == "int8" else tf.uint8
    conv.inference_input_type = tf.float32
    model = conv.convert()
    it = tf.lite.Interpreter(model_content=model)
    ops = [d["op_name"] for d in it._get_ops_details()]
    s, z = it.get_output_details()[0]["quantization"]
    # For uint8 output the converter emits float -> int8 QUANTIZE, RESHAPE, int8 -> uint8 QUANTIZE (a shift by 128
    # at an equal scale, exact): the int8 tensors carry the zero point z - 128.
    z_int8 = struct.pack("<q", int(z) - 128) if out == "uint8" else None
    _TFLITE_TEMPLATES[out] = (model, struct.pack("<f", np.float32(s)), struct.pack("<q", int(z)), z_int8, ops)
    return _TFLITE_TEMPLATES[out]


def tflite_quantize(resolver: str):
    """TFLite QUANTIZE float32 -> int8/uint8/int16 with the given op resolver (AUTO = XNNPACK, BUILTIN_REF ...).

    The model is converted once; its output scale and zero point are then replaced byte for byte in the
    flatbuffer (each occurs exactly once per tensor that carries it), so any scale can be checked.
    """
    tf = _tf()
    res = getattr(tf.lite.experimental.OpResolverType, resolver)

    def run(x, scale, zero_point, spec):
        if x.dtype != np.float32:
            raise Unsupported("QUANTIZE is checked on float32 input")
        out = {(8, True): "int8", (8, False): "uint8", (16, True): "int16"}.get((spec.bits, spec.signed))
        if out is None or spec.narrow_range or spec.axis is not None:
            raise Unsupported("TFLite QUANTIZE outputs int8, uint8, int16 per tensor")
        model, sb, zb, zb8, _ = _tflite_template(out)
        if out == "int16" and int(zero_point) != 0:
            raise Unsupported("int16 QUANTIZE has zero point 0")
        patched = model.replace(sb, struct.pack("<f", np.float32(scale))).replace(
            zb, struct.pack("<q", int(zero_point))
        )
        if zb8 is not None:  # after the uint8 zero point: z - 128 < 0 never equals the pattern of a uint8 zero point
            patched = patched.replace(zb8, struct.pack("<q", int(zero_point) - 128))
        flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        codes = []
        for i in range(0, flat.size, 64):
            chunk = np.zeros(64, np.float32)
            n = min(64, flat.size - i)
            chunk[:n] = flat[i : i + n]
            it = tf.lite.Interpreter(model_content=patched, experimental_op_resolver_type=res)
            it.allocate_tensors()
            it.set_tensor(it.get_input_details()[0]["index"], chunk)
            it.invoke()
            got_s, got_z = it.get_output_details()[0]["quantization"]
            if np.float32(got_s) != np.float32(scale) or got_z != int(zero_point):
                raise RuntimeError(f"TFLite model patching failed: {got_s}, {got_z}")
            codes.append(it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)[:n])
        return np.concatenate(codes).reshape(x.shape)

    return run


def tflite_calibrate():
    """The TFLite converter's activation qparams: convert float32 -> QUANTIZE -> RESHAPE with *x* as the
    representative dataset (batches of 64 values, a short batch filled by repeating its own values, so the
    calibrator's min and max are those of x) and read the scale and zero point of the quantized input."""
    tf = _tf()

    @tf.function(input_signature=[tf.TensorSpec([64], tf.float32)])
    def f(v):
        return tf.reshape(v, [8, 8])

    concrete = f.get_concrete_function()

    def calibrate(x, spec):
        x = np.asarray(x)
        if x.dtype != np.float32:
            raise Unsupported("the converter's calibrator takes float32 data")
        out = {(8, True): "int8", (8, False): "uint8", (16, True): "int16"}.get((spec.bits, spec.signed))
        if out is None or spec.narrow_range or spec.axis is not None:
            raise Unsupported("activations are int8, uint8 or int16, per tensor")
        flat = x.reshape(-1)
        batches = [np.resize(flat[i : i + 64], 64).astype(np.float32) for i in range(0, flat.size, 64)]
        conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], f)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([b] for b in batches)
        if out == "int16":
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
            conv.inference_output_type = tf.int16
        else:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_output_type = tf.int8 if out == "int8" else tf.uint8
        conv.inference_input_type = tf.float32
        it = tf.lite.Interpreter(model_content=conv.convert())
        s, z = it.get_output_details()[0]["quantization"]
        return np.float32(s), int(z)

    return calibrate


# ---------------------------------------------------------------- JAX
def jax_quantize(form: str):
    """jax.jit of clip(round(x * (1/s)) + z) ("reciprocal"), or of clip(round(x / s) + z) with the scale
    broadcast from fewer elements than x ("divide_broadcast") or materialized to x's shape ("divide_full")."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")

    @jax.jit
    def q_recip(x, s, z, lo, hi):
        return jnp.clip(jnp.round(x * (1 / s)) + z, lo, hi)

    @jax.jit
    def q_div(x, s, z, lo, hi):
        return jnp.clip(jnp.round(x / s) + z, lo, hi)

    fn = q_recip if form == "reciprocal" else q_div

    def run(x, scale, zero_point, spec):
        if x.dtype != np.float32:
            raise Unsupported("checked on float32 (jax's default)")
        shape = [1] * x.ndim
        if spec.axis is not None:
            shape[spec.axis % x.ndim] = -1
        s = np.asarray(scale, np.float32).reshape(shape)
        z = np.asarray(zero_point, np.float32).reshape(shape)
        if form == "divide_broadcast" and s.size == x.size:
            raise Unsupported("the scale has as many elements as x: not the broadcast case")
        if form == "divide_full":
            s = np.ascontiguousarray(np.broadcast_to(s, x.shape))
        return np.asarray(fn(x, s, z, np.float32(spec.qmin), np.float32(spec.qmax))).astype(np.int64)

    return run


def versions() -> dict[str, str]:
    """Versions of every runtime the suite uses."""
    import jax
    import onnx
    import onnxruntime
    import tensorflow as tf
    import torch

    return {
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
        "torch": torch.__version__,
        "tensorflow-cpu": tf.__version__,
        "jax": jax.__version__,
        "numpy": np.__version__,
    }
