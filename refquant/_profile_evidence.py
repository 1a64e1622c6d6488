"""Evidence of the last backend-suite run (written by tests/backends/suite.py; do not edit)."""

EVIDENCE = {
    "jax": {"cases": 1000, "conforming_rows": 3, "rows": 3, "versions": {"jax": "0.10.2"}},
    "onnx": {
        "cases": 1000,
        "conforming_rows": 17,
        "rows": 17,
        "versions": {"jax": "0.10.2", "onnx.reference": "1.23.2", "onnxruntime": "1.32.0"},
    },
    "tf.fake_quant": {"cases": 1000, "conforming_rows": 2, "rows": 2, "versions": {"tensorflow-cpu": "2.21.0"}},
    "tf.fake_quant.args": {"cases": 1000, "conforming_rows": 1, "rows": 1, "versions": {"tensorflow-cpu": "2.21.0"}},
    "tflite": {"cases": 1000, "conforming_rows": 4, "rows": 4, "versions": {"tensorflow-cpu": "2.21.0"}},
    "tflite.reference": {"cases": 1024, "conforming_rows": 1, "rows": 1, "versions": {"tensorflow-cpu": "2.21.0"}},
    "torch.fake_quantize": {"cases": 1000, "conforming_rows": 11, "rows": 11, "versions": {"torch": "2.13.0+cpu"}},
    "torch.quantize": {"cases": 1000, "conforming_rows": 5, "rows": 5, "versions": {"torch": "2.13.0+cpu"}},
}
