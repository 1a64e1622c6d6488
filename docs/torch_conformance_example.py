# Checks PyTorch fake-quantize against refquant (needs torch; not part of the test suite).
# Run: python docs/torch_conformance_example.py
#
# Restrict the specs to what the backend computes: torch.fake_quantize_per_tensor_affine multiplies by a
# float32 reciprocal of the scale and rounds half to even, so the one-liner below draws only those specs.
# Drawing every spec (the checkers' default) fails at once for any real backend (torch on the first
# "floor" or "divide" spec).
import numpy as np
import torch

from refquant import QuantSpec
from refquant.testing import Unsupported, check_fake_quant

TORCH_SPECS = [
    QuantSpec(8, signed=s, rounding="half_even", scale_op="reciprocal", compute_dtype="float32") for s in (True, False)
]


def torch_fake_quant(x, scale, zero_point, spec):
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if spec.axis is None:
        return torch.fake_quantize_per_tensor_affine(t, float(scale), int(zero_point), spec.qmin, spec.qmax)
    if np.max(np.abs(x)) / np.min(scale) >= 2.0**62:
        # per-channel fake-quant wraps around instead of saturating for |x/s| >= 2**63 (a torch bug):
        # declare the case outside this backend; the checker counts and reports it
        raise Unsupported("per-channel |x/s| >= 2**62 (torch wraps around)")
    return torch.fake_quantize_per_channel_affine(
        t,
        torch.from_numpy(np.asarray(scale, np.float32)),
        torch.from_numpy(np.asarray(zero_point, np.int32)),
        spec.axis % x.ndim,
        spec.qmin,
        spec.qmax,
    )


# the one-liner: per tensor, the specs torch implements
report = check_fake_quant(torch_fake_quant, specs=TORCH_SPECS, per_channel=False, dtype=np.float32, max_examples=500)
print(report.summary())

# a symmetric int8 configuration (zero point pinned to 0), scales from refquant's min/max calibration
report = check_fake_quant(
    torch_fake_quant,
    specs=[TORCH_SPECS[0]],
    zero_point=0,
    dtype=np.float32,
    scale=lambda x, spec: __import__("refquant").calibrate_minmax(x, spec)[0],
    max_examples=300,
)
print(report.summary())

# per channel, with Unsupported for the wrap-around range
report = check_fake_quant(torch_fake_quant, specs=TORCH_SPECS, per_channel=True, dtype=np.float32, max_examples=300)
print(report.summary())

# torch does not divide: the divide specs fail, with a one-element counterexample
try:
    check_fake_quant(
        torch_fake_quant,
        specs=[QuantSpec(8, scale_op="divide", compute_dtype="float32")],
        per_channel=False,
        dtype=np.float32,
        max_examples=500,
    )
    print("torch ALSO conforms to divide?!")
except AssertionError as e:
    print("as expected, torch does not conform to divide:\n", str(e)[:700])
