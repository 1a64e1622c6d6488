"""Tests for refquant.allocation: exact budgets, optimality against brute force, the paper's eq. 10-11."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refquant import allocation as A

alphas_st = st.lists(st.floats(0.01, 100.0), min_size=1, max_size=6).map(np.array)


@given(alphas_st, st.integers(0, 8))
def test_bits_budget_exact_nonnegative_and_never_worse_than_equal(alphas, mean_bits):
    c = alphas.size
    m = A.allocate_bits(alphas, mean_bits * c)
    assert m.sum() == mean_bits * c and m.min() >= 0 and m.max() <= 8 and m.dtype == np.int64
    assert A.allocation_mse(alphas, m) <= A.allocation_mse(alphas, np.full(c, mean_bits)) * (1 + 1e-12)


@settings(max_examples=40)
@given(st.lists(st.floats(0.05, 20.0), min_size=1, max_size=4).map(np.array), st.data())
def test_bits_budget_is_the_integer_optimum(alphas, data):
    c = alphas.size
    total = data.draw(st.integers(0, 5 * c))
    m = A.allocate_bits(alphas, total, max_bits=5)
    best = min(A.allocation_mse(alphas, np.array(b)) for b in itertools.product(range(6), repeat=c) if sum(b) == total)
    assert A.allocation_mse(alphas, m) == pytest.approx(best, rel=1e-12)


@given(alphas_st, st.integers(1, 6))
def test_bins_budget_met_exactly(alphas, mean_bits):
    c = alphas.size
    m = A.allocate_bits(alphas, c * 2**mean_bits, budget="bins")
    assert int((2**m).sum()) == c * 2**mean_bits and m.min() >= 0
    assert A.allocation_mse(alphas, m) <= A.allocation_mse(alphas, np.full(c, mean_bits)) * (1 + 1e-12)


def test_paper_eq10_ratio_and_rounding():
    """Eq. 10: bins proportional to alpha^(2/3); sigma ratio 2.828 gives a 2:1 bin split (2.828^(2/3) = 2)."""
    a = np.array([2.828427125, 1.0])
    w = a ** (2 / 3)
    assert w[0] / w[1] == pytest.approx(2.0, rel=1e-9)
    # 24 bins -> 16 and 8 bins -> 4 and 3 bits
    assert A.paper_allocation(a, 24).tolist() == [4, 3]
    m = A.allocate_bits(a, 24, budget="bins")
    assert int((2**m).sum()) == 24


def test_continuous_allocation_closed_form_and_water_filling():
    a = np.array([1.0, 2.0, 8.0])
    m = A.continuous_allocation(a, 12)
    assert m.sum() == pytest.approx(12) and np.diff(m).tolist() == pytest.approx([1.0, 2.0])
    m2 = A.continuous_allocation(np.array([1e-6, 1.0, 1.0]), 3)  # would go negative: clamped to 0
    assert m2[0] == 0 and m2.sum() == pytest.approx(3)


def test_deterministic_ties_and_no_mutation():
    a = np.array([1.0, 1.0, 1.0])
    a0 = a.copy()
    assert A.allocate_bits(a, 4).tolist() == [2, 1, 1]
    assert np.array_equal(a, a0)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: A.allocate_bits([1.0, -1.0], 4), ValueError, "alphas must be > 0"),
        (lambda: A.allocate_bits([], 4), ValueError, "alphas must not be empty"),
        (lambda: A.allocate_bits([[1.0]], 4), ValueError, "must be 1-D"),
        (lambda: A.allocate_bits([1.0, 2.0], 17), ValueError, "total_bits=17 is out of range"),
        (lambda: A.allocate_bits([1.0, 2.0], 4, budget="bytes"), ValueError, "budget='bytes'"),
        (lambda: A.allocate_bits([1.0, 2.0], 4, max_bits=17), ValueError, "max_bits=17"),
        (lambda: A.allocate_bits([1.0, 2.0], 7, budget="bins"), ValueError, "cannot be met exactly"),
        (lambda: A.allocate_bits([1.0, np.nan], 4), ValueError, "NaN"),
        (lambda: A.allocation_mse([1.0, 2.0], [1]), ValueError, "must match"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
