"""pytest plugin (registered through the ``pytest11`` entry point): the ``refquant_check`` fixture.

A downstream test is one line, restricted to the specs the backend implements (the default
draws every spec, which no real backend supports)::

    from refquant import QuantSpec

    MY_SPECS = [QuantSpec(8, rounding="half_even", scale_op="reciprocal", compute_dtype="float32")]

    def test_my_fake_quant(refquant_check):
        refquant_check.fake_quant(my_fake_quant, specs=MY_SPECS, per_channel=False, zero_point=0)

``refquant_check`` exposes every ``check_<op>`` of :mod:`refquant.testing.conformance`
without the prefix (``fake_quant``, ``quantize``, ``dequantize``, ``calibration`` ...), with
all their options (``zero_point=``, ``scale=``, ``calibrate=``, ``specs=``, ``max_unsupported=`` ...);
each returns a :class:`~refquant.testing.conformance.CheckReport`. Nothing is imported
at plugin load time, so installing refquant never slows down or breaks unrelated pytest runs.
"""

from __future__ import annotations

import pytest


class _Checks:
    """Attribute access ``refquant_check.<op>`` -> ``refquant.testing.conformance.check_<op>``."""

    def __getattr__(self, name: str):
        from . import conformance

        fn = getattr(conformance, f"check_{name}", None)
        if fn is None:
            ops = sorted(n[6:] for n in dir(conformance) if n.startswith("check_"))
            raise AttributeError(f"refquant_check has no checker {name!r}; available: {ops}")
        return fn

    def __dir__(self):
        from . import conformance

        return sorted(n[6:] for n in dir(conformance) if n.startswith("check_"))


@pytest.fixture
def refquant_check() -> _Checks:
    """Conformance checkers of refquant, e.g. ``refquant_check.fake_quant(candidate)``.

    A pytest fixture (registered through the ``pytest11`` entry point). Attribute ``<op>`` is
    ``refquant.testing.conformance.check_<op>`` (``fake_quant``, ``quantize``, ``dequantize``,
    ``calibration``, ``kurtosis`` ...), with all its options; each returns a ``CheckReport`` and
    validates its arguments as the checker does.

    Returns
    -------
    object
        Attribute access to the checkers; ``dir()`` lists them.

    Raises
    ------
    AttributeError
        An unknown checker name (the message lists the available ones).
    """
    return _Checks()
