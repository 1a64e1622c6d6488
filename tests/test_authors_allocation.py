"""The ACIQ code's iterated bit allocation (refquant.allocation.code_allocation) and eq. 10-11 with ceil.

Oracles: a transcription of the released ``get_bits_alloc_fixed_target`` loop (its own while-condition and
update order, Python ``math`` per channel), and the brute-force integer optimum for the comparison with
``allocate_bits``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refquant import allocation as A


def _released_loop(alpha, num_bits, rnd):
    def bits_alloc(target):
        b_total = len(alpha) * 2**target
        p = [a ** (2.0 / 3) for a in alpha]
        out = []
        for pi in p:
            v = math.log2(b_total * pi / sum(p))
            v = round(v) if rnd == "round" else math.ceil(v)  # Python round: half to even, as torch.round
            out.append(min(max(v, 0), 8))
        return out

    eps, goal, target, delta, it = 0.01, num_bits, num_bits, 1.0, 0
    while abs(2 * delta) > eps and it < 10:
        it += 1
        alloc = bits_alloc(target)
        delta = (goal - sum(alloc) / len(alloc)) / 2
        target += delta
    return alloc


def _generic(alphas):
    """Distinct, generic values: equal channels put log2 of the bin share exactly on a rounding boundary, where
    the sum orders of NumPy and of the loop (both legitimate) may round either way."""
    return [a * (1 + 1e-3 * math.sqrt(i + 2)) for i, a in enumerate(alphas)]


@settings(max_examples=60)
@given(
    # at least two channels: one channel's bin share is exactly 1, so a half-integer goal puts log2 of its bins
    # exactly on a rounding tie (T = 2.5), where the two legitimate evaluation orders may round either way
    st.lists(st.floats(0.01, 50.0), min_size=2, max_size=40),
    st.sampled_from([2, 3, 4, 2.5]),
    st.sampled_from(["round", "ceil"]),
)
def test_code_allocation_is_the_released_loop(alphas, goal, rnd):
    alphas = _generic(alphas)
    got = A.code_allocation(alphas, goal, rounding=rnd)
    want = _released_loop(alphas, goal, rnd)
    assert np.array_equal(got, want)


def test_code_allocation_misses_the_goal_where_the_loop_cannot_reach_it():
    bits, target, passes = A.code_allocation([1.0, 1.0, 1.0], 2.5, return_info=True)
    assert passes == 10 and abs(bits.mean() - 2.5) > 0.01  # equal channels: the mean is always an integer


@settings(max_examples=40)
@given(st.lists(st.floats(0.05, 20.0), min_size=2, max_size=4), st.integers(1, 4))
def test_allocate_bits_is_never_worse_than_the_code_at_the_same_mean(alphas, goal):
    m = A.code_allocation(alphas, goal, max_bits=6)
    c = len(alphas)
    total = int(m.sum())
    best = min(A.allocation_mse(alphas, np.array(b)) for b in itertools.product(range(7), repeat=c) if sum(b) == total)
    opt = A.allocate_bits(alphas, total, max_bits=6)
    assert A.allocation_mse(alphas, opt) == pytest.approx(best, rel=1e-12)
    assert A.allocation_mse(alphas, opt) <= A.allocation_mse(alphas, m) * (1 + 1e-12)


@given(st.lists(st.floats(0.01, 50.0), min_size=1, max_size=10), st.integers(0, 6))
def test_paper_allocation_ceil_per_channel(alphas, mean_bits):
    alphas = _generic(alphas)
    c = len(alphas)
    b = c * 2**mean_bits
    s = sum(a ** (2 / 3) for a in alphas)
    want = [min(max(math.ceil(math.log2(b * a ** (2 / 3) / s)), 0), 16) for a in alphas]
    got = A.paper_allocation(alphas, b, rounding="ceil")
    assert np.array_equal(got, want)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: A.code_allocation([1.0, 2.0], 4, rounding="floor"), ValueError, "rounding"),
        (lambda: A.code_allocation([1.0, 2.0], 4, rounding=1), TypeError, "rounding"),
        (lambda: A.code_allocation([1.0, 2.0], 9), ValueError, "target_bits"),
        (lambda: A.code_allocation([1.0, 2.0], "4"), TypeError, "target_bits"),
        (lambda: A.code_allocation([1.0, 2.0], 4, tol=0.0), ValueError, "tol"),
        (lambda: A.code_allocation([1.0, 2.0], 4, max_iter=0), ValueError, "max_iter"),
        (lambda: A.code_allocation([1.0, 2.0], 4, min_bits=5, max_bits=4), ValueError, "max_bits"),
        (lambda: A.code_allocation([1.0, -2.0], 4), ValueError, "alphas"),
        (lambda: A.code_allocation([1.0, 2.0], 4, return_info=1), TypeError, "return_info"),
        (lambda: A.paper_allocation([1.0, 2.0], 8, rounding="nearest"), ValueError, "rounding"),
        (lambda: A.paper_allocation([1.0, 2.0], 8, max_bits=17), ValueError, "max_bits"),
    ],
)
def test_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
