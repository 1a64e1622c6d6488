"""Tools for testing quantizers against refquant.

* :mod:`refquant.testing.strategies` — Hypothesis strategies (tie-heavy inputs, valid specs);
* :mod:`refquant.testing.conformance` — ``check_<op>(candidate)`` checkers with minimal counterexamples;
* :mod:`refquant.testing.conformance_imc` — checkers for RAOQ's training pieces (STE gradients, BitAug,
  ADC-LoRA, the W-reshape regulariser);
* :mod:`refquant.testing.golden` — golden-vector export / verify (no Hypothesis needed);
* :mod:`refquant.testing.pytest_plugin` — the ``refquant_check`` fixture (auto-registered with pytest).

Names are imported on first use, so ``refquant.testing.golden`` works without Hypothesis installed.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "QuantCase": "strategies",
    "float_arrays": "strategies",
    "order_sensitive_values": "strategies",
    "quant_cases": "strategies",
    "quant_specs": "strategies",
    "scales": "strategies",
    "SignedBinaryCase": "strategies",
    "region_layouts": "strategies",
    "signed_binary_cases": "strategies",
    "MatmulCase": "strategies",
    "ternary_matmul_cases": "strategies",
    "adc_specs": "strategies",
    "crossbar_specs": "strategies",
    "IMCCase": "strategies",
    "imc_cases": "strategies",
    "weight_layers": "strategies",
    "ConformanceError": "_compare",
    "Tolerance": "_compare",
    "EXACT": "_compare",
    "compare_arrays": "_compare",
    "check_fake_quant": "conformance",
    "check_quantize": "conformance",
    "check_dequantize": "conformance",
    "check_signed_binarize": "conformance",
    "check_repetition_matmul": "conformance",
    "check_imc_matmul": "conformance",
    "check_kurtosis": "conformance",
    "check_kure_grad": "conformance",
    "check_mse_exact": "conformance",
    "check_optimal_clip": "conformance",
    "check_adc_ste_grad": "conformance_imc",
    "check_crossbar_ste_grad": "conformance_imc",
    "check_bitaug_weight": "conformance_imc",
    "check_adc_lora_forward": "conformance_imc",
    "check_w_reshape_grad": "conformance_imc",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'refquant.testing' has no attribute {name!r}")
