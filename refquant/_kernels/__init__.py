"""Private Numba kernels, one module per concept.

Rules (docs/ARCHITECTURE.md): ``@numba.njit(cache=True)``, never
``fastmath``; no validation, no module globals, no Python objects; every
threshold is an argument; ``parallel=True`` only over independent outputs
(never a floating-point ``prange`` reduction). Each kernel has a plain-NumPy
twin in :mod:`refquant._reference` that shares no code with it.
"""
