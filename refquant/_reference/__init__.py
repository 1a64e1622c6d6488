"""Plain-NumPy twins of the Numba kernels: the oracles of the property tests.

Written for obviousness, not speed. Nothing here imports from
:mod:`refquant._kernels`, and nothing here is shared with a kernel.
"""
