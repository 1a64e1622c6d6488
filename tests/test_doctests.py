"""Docstring examples run and give what they show (numpydoc ``Examples`` sections)."""

import doctest
import importlib

import pytest

MODULES = [
    "refquant.specs",
    "refquant.uniform",
    "refquant.profiles",
    "refquant.binarize",
    "refquant.repetition",
    "refquant.distributions",
    "refquant.clipping.grids",
    "refquant.clipping.paper",
    "refquant.clipping.exact",
    "refquant.clipping.solve",
    "refquant.clipping.empirical",
    "refquant.allocation",
    "refquant.bias_correction",
    "refquant.kurtosis",
    "refquant.robustness",
    "refquant.imc.adc",
    "refquant.imc.crossbar",
    "refquant.imc.theory",
    "refquant.ptq",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(
        mod,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
        extraglobs={"QuantSpec": importlib.import_module("refquant").QuantSpec},
    )
    assert res.attempted > 0
    assert res.failed == 0


DOC_PAGES = ["docs/ptq.md"]


@pytest.mark.parametrize("page", DOC_PAGES)
def test_documentation_page_examples(page):
    """The ``>>>`` blocks of a documentation page run and give what they show."""
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / page
    res = doctest.testfile(
        str(path), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    )
    assert res.attempted > 0
    assert res.failed == 0
