"""refquant: a reference implementation of neural-network quantization theory.

The top level re-exports the uniform quantizer (the ground every other
concept stands on). Concept modules are reached as submodules, imported on
first access so that ``import refquant`` stays cheap and compiles nothing::

    refquant.clipping        ACIQ MSE models and optimal clipping
    refquant.allocation      ACIQ per-channel bit allocation
    refquant.bias_correction ACIQ bias correction
    refquant.ptq             post-training quantization: clip -> (scale, zero point), per-channel bits, observers
    refquant.distributions   Gaussian / Laplace / uniform models
    refquant.kurtosis        kurtosis statistics, KURE regulariser
    refquant.robustness      step-size robustness (KURE theory)
    refquant.imc             in-memory-computing crossbars with ADCs (RAOQ)
    refquant.binarize        binary / ternary / signed-binary quantizers
    refquant.repetition      weight repetition statistics and kernels
    refquant.profiles        backend profiles: the QuantSpec and calibration of ONNX, PyTorch, TensorFlow, TFLite, JAX
    refquant.testing         Hypothesis strategies, conformance checks, golden vectors
    refquant.sweep           one sweep runner over any concurrent.futures Executor (Dask optional)
"""

from __future__ import annotations

import importlib

from .specs import QuantSpec, Rounding, ScaleOp
from .uniform import calibrate_minmax, dequantize, fake_quant, quantize

#: The package version (PEP 440 string; ``setup.cfg`` reads it from here).
__version__ = "0.1.0"

#: Version of the arithmetic contract in docs/SEMANTICS.md. Bumped whenever
#: any public operation could return different bits for the same input.
SEMANTICS_VERSION = "1"

__all__ = [
    "QuantSpec",
    "Rounding",
    "SEMANTICS_VERSION",
    "ScaleOp",
    "__version__",
    "calibrate_minmax",
    "dequantize",
    "fake_quant",
    "quantize",
]

_SUBMODULES = frozenset(
    {
        "allocation",
        "bias_correction",
        "binarize",
        "clipping",
        "distributions",
        "imc",
        "kurtosis",
        "profiles",
        "ptq",
        "repetition",
        "robustness",
        "specs",
        "sweep",
        "testing",
        "uniform",
    }
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'refquant' has no attribute {name!r}")
