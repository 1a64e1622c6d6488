"""Tools for testing quantizers against refquant.

* :mod:`refquant.testing.strategies` — Hypothesis strategies (tie-heavy inputs, valid specs);
* :mod:`refquant.testing.conformance` — ``check_<op>(candidate)`` checkers with minimal counterexamples,
  options that fit real backends (pinned zero point, fixed or calibrated scale, restricted specs),
  :class:`Unsupported` for cases outside a backend, ``check_calibration`` for calibrators;
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
    "spec_strategy": "strategies",
    "ConformanceError": "_compare",
    "Unsupported": "_compare",
    "Tolerance": "_compare",
    "EXACT": "_compare",
    "STRICT": "_compare",
    "compare_arrays": "_compare",
    "CheckReport": "conformance",
    "run_property": "conformance",
    "check_calibration": "conformance",
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
    "check_crossbar_ste_grad_bpbs": "conformance_imc",
    "check_bitaug_weight": "conformance_imc",
    "check_adc_lora_forward": "conformance_imc",
    "check_w_reshape_grad": "conformance_imc",
}

__all__ = [
    # modules
    "golden",
    # strategies
    "QuantCase",
    "float_arrays",
    "order_sensitive_values",
    "quant_cases",
    "quant_specs",
    "scales",
    "spec_strategy",
    "SignedBinaryCase",
    "region_layouts",
    "signed_binary_cases",
    "MatmulCase",
    "ternary_matmul_cases",
    "adc_specs",
    "crossbar_specs",
    "IMCCase",
    "imc_cases",
    "weight_layers",
    # comparison
    "ConformanceError",
    "Unsupported",
    "Tolerance",
    "EXACT",
    "STRICT",
    "compare_arrays",
    # checkers
    "CheckReport",
    "run_property",
    "check_fake_quant",
    "check_quantize",
    "check_dequantize",
    "check_calibration",
    "check_signed_binarize",
    "check_repetition_matmul",
    "check_imc_matmul",
    "check_kurtosis",
    "check_kure_grad",
    "check_mse_exact",
    "check_optimal_clip",
    # checkers of RAOQ's training pieces
    "check_adc_ste_grad",
    "check_crossbar_ste_grad",
    "check_crossbar_ste_grad_bpbs",
    "check_bitaug_weight",
    "check_adc_lora_forward",
    "check_w_reshape_grad",
]


def __getattr__(name: str):
    if name == "golden":
        return importlib.import_module(f"{__name__}.golden")
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'refquant.testing' has no attribute {name!r}")
