"""Tools for testing quantizers against refquant: Hypothesis strategies.

Import this sub-package only in test code (it needs ``hypothesis``).
"""
from .strategies import QuantCase, float_arrays, quant_cases, quant_specs, scales

__all__ = ["QuantCase", "float_arrays", "quant_cases", "quant_specs", "scales"]
