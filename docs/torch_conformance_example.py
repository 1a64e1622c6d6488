# Checks PyTorch fake-quantize against refquant (needs torch; not part of the test suite).
# Run: python docs/torch_conformance_example.py   (results quoted in docs/checking.md, "Checking your implementation against refquant")
import numpy as np, torch
from refquant.testing import check_fake_quant, quant_specs
import refquant as rq

def torch_fake_quant(x, scale, zero_point, spec):
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.fake_quantize_per_tensor_affine(t, float(scale), int(zero_point), spec.qmin, spec.qmax)

check_fake_quant(torch_fake_quant, dtype=np.float32, per_channel=False, max_examples=500,
                 specs=quant_specs(min_bits=8, max_bits=8, scale_ops=["reciprocal"], roundings=["half_even"], compute_dtypes=["float32"]))
print("torch per-tensor conforms to reciprocal/half_even/float32 (500 cases)")
try:
    check_fake_quant(torch_fake_quant, dtype=np.float32, per_channel=False, max_examples=500,
                 specs=quant_specs(min_bits=8, max_bits=8, scale_ops=["divide"], roundings=["half_even"], compute_dtypes=["float32"]))
    print("torch ALSO conforms to divide?!")
except AssertionError as e:
    print("as expected, torch does not conform to divide:\n", str(e)[:700])

def torch_pc(x, scale, zero_point, spec):
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return torch.fake_quantize_per_channel_affine(t, torch.from_numpy(np.asarray(scale, np.float32)), torch.from_numpy(np.asarray(zero_point, np.int32)), spec.axis % x.ndim, spec.qmin, spec.qmax)
check_fake_quant(torch_pc, dtype=np.float32, per_channel=True, max_examples=300,
                 specs=quant_specs(min_bits=8, max_bits=8, scale_ops=["reciprocal"], roundings=["half_even"], compute_dtypes=["float32"]))
print("torch per-channel conforms too")
