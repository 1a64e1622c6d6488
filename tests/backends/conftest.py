"""The backend suite is not part of the default test run.

Nothing in this folder is collected by pytest (``collect_ignore_glob`` below): the suite needs
onnxruntime, torch, tensorflow and jax, which only its own virtual environment has. Run it with
``bash tests/backends/run.sh`` (see tests/backends/README.md). The runtime-free comparison core,
``tests/backends/harness.py``, is exercised by the default run through tests/test_profiles.py.
"""

collect_ignore_glob = ["*"]
