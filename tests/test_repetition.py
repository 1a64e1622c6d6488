"""Tests for refquant.repetition (statistics and the factorised kernel's reference).

Oracles: exact integer matmul (x @ w in int64), closed-form op counts on
constructed cases, the authors' worked example from the public review discussion, exact pigeonhole
numbers (Python ints), and brute-force distinct-block counting with Python sets.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refquant import binarize as B
from refquant import repetition as R


@st.composite
def int_problem(draw):
    k = draw(st.integers(1, 24))
    out = draw(st.integers(1, 8))
    batch = draw(st.integers(1, 5))
    density = draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
    values = draw(st.sampled_from([[1], [-1, 1], [-2, -1, 1, 2], [3], [-3]]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = rng.choice(values, size=(k, out)) * (rng.random((k, out)) < density)
    x = draw(hnp.arrays(np.int64, (batch, k), elements=st.integers(-1000, 1000)))
    return x, w.astype(np.int64)


@given(int_problem())
def test_factorized_exact_for_integers_and_counts_closed_form(p):
    x, w = p
    y, c = R.factorized_matmul(x, w)
    assert y.dtype == np.int64 and np.array_equal(y, x @ w)
    batch = x.shape[0]
    adds = sum(max(np.count_nonzero(w[:, j]) - 1, 0) for j in range(w.shape[1]))
    muls = sum(len({abs(int(v)) for v in w[:, j] if v != 0}) for j in range(w.shape[1]))
    assert (c.adds, c.muls, c.dense_macs) == (adds * batch, muls * batch, batch * w.size)
    assert c.adds + c.muls <= 2 * c.dense_macs and c.adds <= c.dense_macs and c.muls <= c.dense_macs


@given(hnp.arrays(np.float64, (3, 10), elements=st.floats(-10, 10)), st.integers(0, 2**32 - 1))
def test_factorized_float_within_tolerance(x, seed):
    w = B.signed_binarize(np.random.default_rng(seed).normal(size=(10, 4)), axis=1, scale="mean")
    y, _ = R.factorized_matmul(x, w)
    # only the summation order differs from x @ w: bound by K * eps * sum|x||w|
    bound = 10 * np.finfo(float).eps * (np.abs(x) @ np.abs(w)) + 1e-300
    assert np.all(np.abs(y - x @ w) <= bound)


def test_authors_worked_example_without_sharing():
    """The authors' worked example: F1 = {x,0,x,0,x,0}, F2 = {y,y,y,0,0,0}.

    4 ADDs + 2 MULs without sharing, 6 MACs dense per input."""
    w = np.array([[3, 0, 3, 0, 3, 0], [5, 5, 5, 0, 0, 0]]).T
    a = np.array([[1, 10, 100, 1000, 10000, 100000]])
    y, c = R.factorized_matmul(a, w)
    assert y.tolist() == [[3 * 10101, 5 * 111]]
    assert (c.adds, c.muls, c.dense_macs) == (4, 2, 12)


def test_single_filter_reconstruction_8_4_6():
    """Reconstructed counting rule (not the paper's figure): one 3x3 filter, m effectual terms cost m - 1 ADDs:
    binary 9 non-zeros -> 8, signed-binary 5 -> 4, ternary 7 -> 6."""
    binary = np.array([1, -1, 1, 1, -1, -1, 1, 1, -1])
    signed = np.array([1, 0, 1, 1, 0, 0, 1, 1, 0])
    ternary = np.array([1, 0, -1, 1, 0, -1, 1, 1, -1])
    x = np.arange(1, 10)[None]
    assert [R.factorized_matmul(x, f[:, None])[1].adds for f in (binary, signed, ternary)] == [8, 4, 6]


def test_pigeonhole_bounds_exact():
    assert [R.pigeonhole_bound(9, s) for s in ("binary", "ternary", "signed_binary")] == [512, 19683, 1024]
    assert R.pigeonhole_bound(9, "signed_binary", shared_zero=True) == 1023
    assert R.pigeonhole_bound(64, "ternary") == 3**64  # exact, no float overflow


def test_paper_table_for_3x3x256x256():
    t = R.paper_repetition_table((3, 3, 256, 256)).set_index("scheme")
    assert t.loc["binary", "avg_repetition"] == 128.0
    assert t.loc["signed_binary", "avg_repetition"] == 64.0
    assert t.loc["ternary", "avg_repetition"] == pytest.approx(3.32957, rel=1e-5)
    assert (t.kernels == 65536).all()


@given(
    st.integers(0, 2**32 - 1), st.sampled_from(["binary", "ternary", "signed_binary"]), st.sampled_from([None, 1, 2])
)
def test_unique_counts_brute_force_and_bounded(seed, scheme, block):
    w = np.random.default_rng(seed).normal(size=(6, 4, 2, 2))
    if scheme == "binary":
        q = np.sign(B.binarize(w))
    elif scheme == "ternary":
        q = np.sign(B.ternarize(w))
    else:
        q = B.signed_binarize(w, region=block)
    st_ = R.unique_filters(q, block=block)
    c = 4 if block is None else block
    blocks = [tuple(q[f, t * c : (t + 1) * c].ravel() + 0.0) for f in range(6) for t in range(4 // c)]
    assert st_.n_unique == len(set(blocks)) and st_.n_blocks == len(blocks)
    assert st_.repetition.sum() == st_.n_blocks
    assert st_.n_unique <= R.pigeonhole_bound(st_.block_size, scheme)
    assert st_.effectual == np.count_nonzero(q) and st_.density + st_.sparsity == pytest.approx(1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="scheme='quaternary'"):
        R.pigeonhole_bound(9, "quaternary")
    with pytest.raises(ValueError, match="k=0"):
        R.pigeonhole_bound(0, "binary")
    with pytest.raises(ValueError, match="x has 3 columns but w_q has 4 rows"):
        R.factorized_matmul(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="must be 2-D"):
        R.factorized_matmul(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="w_q contains 1 NaN"):
        R.factorized_matmul(np.ones((1, 2)), np.array([[np.nan], [1.0]]))
    with pytest.raises(ValueError, match="region=3 does not divide"):
        R.unique_filters(np.ones((2, 4, 3, 3)), block=3)
    with pytest.raises(ValueError, match="expected \\[R, S, C_in, C_out\\]"):
        R.paper_repetition_table((3, 3))


# --- programmed kernels: factorised and partial-sum sharing -------------------------------------------------------


@st.composite
def quantized_problem(draw, integer=True):
    """(x, w_q) with w_q from the library's quantizers (any region layout) or random small integers."""
    k = draw(st.integers(1, 20))
    out = draw(st.integers(1, 7))
    batch = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["binary", "ternary", "signed_binary", "signed_tiles", "ints"]))
    latent = rng.normal(size=(out, k))  # filters on axis 0
    if kind == "binary":
        q = np.sign(B.binarize(latent))
    elif kind == "ternary":
        q = np.sign(B.ternarize(latent, threshold=draw(st.sampled_from([0.3, 0.7, 1.2]))))
    elif kind == "signed_binary":
        q = np.sign(B.signed_binarize(latent, threshold=draw(st.sampled_from([0.05, 0.5]))))
    elif kind == "signed_tiles":
        divisors = [d for d in range(1, k + 1) if k % d == 0]
        q = np.sign(B.signed_binarize(latent[:, :, None], region=draw(st.sampled_from(divisors)))[:, :, 0])
    else:
        density = draw(st.sampled_from([0.0, 0.3, 1.0]))
        q = rng.integers(-3, 4, size=(out, k)) * (rng.random((out, k)) < density)
    w = q.T.astype(np.int64)
    if integer:
        x = draw(hnp.arrays(np.int64, (batch, k), elements=st.integers(-(10**6), 10**6)))
        return x, w
    scale = draw(st.sampled_from([1.0, 0.37, 3.0]))
    x = draw(hnp.arrays(np.float64, (batch, k), elements=st.floats(-1e3, 1e3, allow_subnormal=True)))
    return x, w * scale


@given(quantized_problem(), st.sampled_from([1, 3, 8, 64]))
def test_shared_sum_exact_for_integers_and_never_costlier(p, tile):
    x, w = p
    y, c = R.shared_sum_matmul(x, w, tile=tile)
    assert y.dtype == np.int64 and np.array_equal(y, x @ w)
    _, f = R.factorized_matmul(x, w)
    assert c.muls == f.muls and c.adds <= f.adds <= c.dense_macs
    assert c.dense_macs == x.shape[0] * w.size
    assert R.count_ops(w, "shared_sum", tile=tile, batch=x.shape[0]) == c


@given(quantized_problem(integer=False), st.sampled_from([2, 8]))
def test_float_kernels_within_summation_bound(p, tile):
    x, w = p
    # standard summation bound, plus the absolute error of gradual underflow: each product that lands in the
    # subnormal range may be off by half the smallest subnormal (eta / 2), in the kernel's sums (one product
    # per magnitude group) and in the dense x @ w (one per term): at most K + 1 of them on each side
    eta = np.finfo(float).smallest_subnormal
    bound = (w.shape[0] + 1) * (np.finfo(float).eps * (np.abs(x) @ np.abs(w)) + eta)
    for y, _ in (R.factorized_matmul(x, w), R.shared_sum_matmul(x, w, tile=tile)):
        assert np.all(np.abs(y - x @ w) <= bound)


@pytest.mark.kernel
@given(quantized_problem(integer=False), st.sampled_from([1, 4, 16]))
def test_kernels_bit_identical_to_numpy_twins(p, tile):
    from refquant._reference.repetition import factorized_matmul_ref, shared_sum_matmul_ref

    x, w = p
    y, _ = R.factorized_matmul(x, w)
    assert np.array_equal(y.view(np.int64), factorized_matmul_ref(x, w).view(np.int64))  # bit patterns incl. -0.0
    prog = R.plan_shared_sums(w, tile=tile)
    y2, _ = prog.matmul(x)
    assert np.array_equal(y2.view(np.int64), shared_sum_matmul_ref(x, prog).view(np.int64))


@pytest.mark.kernel
@given(quantized_problem())
def test_kernels_match_twins_on_integers(p):
    from refquant._reference.repetition import factorized_matmul_ref, shared_sum_matmul_ref

    x, w = p
    assert np.array_equal(R.factorized_matmul(x, w)[0], factorized_matmul_ref(x, w))
    prog = R.plan_shared_sums(w, tile=5)
    assert np.array_equal(prog.matmul(x)[0], shared_sum_matmul_ref(x, prog))


def test_authors_worked_example_with_sharing():
    """The authors' worked example: PS0 = a + c; out1 = (PS0 + e)·x; out2 = (PS0 + b)·y.

    3 ADDs + 2 MULs, exact outputs."""
    w = np.array([[3, 0, 3, 0, 3, 0], [5, 5, 5, 0, 0, 0]]).T
    a = np.array([[1, 10, 100, 1000, 10000, 100000]])  # decimal digits make every partial sum visible
    y, c = R.shared_sum_matmul(a, w)
    assert y.tolist() == [[3 * 10101, 5 * 111]]
    assert (c.adds, c.muls, c.dense_macs) == (3, 2, 12)
    prog = R.plan_shared_sums(w)
    assert prog.nodes.tolist() == [[0, 1, 2, 1]]  # the one shared partial sum is a + c


@pytest.mark.parametrize("sign", [1, -1])
def test_repeated_filter_costs_once(sign):
    """Two equal (or negated) columns with m non-zeros in one tile: m - 1 ADDs in total, not 2(m - 1)."""
    col = np.array([1, 0, -1, 1, 1, 0, -1, 1])
    w = np.stack([col, sign * col], axis=1)
    m = np.count_nonzero(col)
    c = R.count_ops(w, "shared_sum", tile=8)
    assert (c.adds, c.muls) == (m - 1, 2)
    assert R.count_ops(w, "factorized").adds == 2 * (m - 1)


def test_count_ops_dense_and_zero_skip_closed_forms():
    w = np.array([[1, 0], [0, 0], [2, 0], [1, 0]])
    assert R.count_ops(w, "dense", batch=3) == R.OpCounts(adds=3 * 2 * 3, muls=4 * 2 * 3, dense_macs=24)
    assert R.count_ops(w, "zero_skip", batch=3) == R.OpCounts(adds=2 * 3, muls=3 * 3, dense_macs=24)
    assert R.count_ops(w, "factorized") == R.OpCounts(adds=2, muls=2, dense_macs=8)


def test_programmed_weights_large_but_exact_integers():
    """Just below the int64 guard the programmed kernels stay exact (Python-int oracle)."""
    w = np.array([[2**20, -(2**20)], [3, 2**20]])
    x = np.array([[2**40, -(2**39)], [-(2**40), 7]])
    oracle = (x.astype(object) @ w.astype(object)).astype(np.int64)
    for prog in (R.factorize(w), R.plan_shared_sums(w, tile=1)):
        assert np.array_equal(prog.matmul(x)[0], oracle)


def test_programs_do_not_mutate_inputs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 12))
    w = np.sign(B.signed_binarize(rng.normal(size=(4, 12)))).T.copy()
    x0, w0 = x.copy(), w.copy()
    R.factorized_matmul(x, w)
    R.shared_sum_matmul(x, w, tile=4)
    R.count_ops(w, "shared_sum")
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_bad_input_for_kernels():
    with pytest.raises(ValueError, match="tile=0 is out of range"):
        R.shared_sum_matmul(np.ones((1, 2)), np.ones((2, 1)), tile=0)
    with pytest.raises(TypeError, match="tile must be an integer"):
        R.plan_shared_sums(np.ones((2, 1)), tile=2.0)
    with pytest.raises(ValueError, match="x has 2 columns but w_q has 3 rows"):
        R.shared_sum_matmul(np.ones((1, 2)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        R.shared_sum_matmul(np.array([[np.nan, 1.0]]), np.ones((2, 1)))
    with pytest.raises(TypeError, match="w_q must be real"):
        R.factorized_matmul(np.ones((1, 2)), np.ones((2, 1), complex))
    with pytest.raises(ValueError, match="w_q must not be empty"):
        R.factorize(np.ones((0, 3)))
    with pytest.raises(ValueError, match="exact int64 accumulation"):
        R.factorized_matmul(np.array([[2**40, 1]]), np.array([[2**30], [1]]))
    for prog in (R.factorize(np.array([[2**30], [1]])), R.plan_shared_sums(np.array([[2**30], [1]]))):
        with pytest.raises(ValueError, match="exact int64 accumulation"):
            prog.matmul(np.array([[2**40, 1]]))
    with pytest.raises(ValueError, match="method='csr'"):
        R.count_ops(np.ones((2, 2)), "csr")
    with pytest.raises(ValueError, match="batch=0"):
        R.count_ops(np.ones((2, 2)), "dense", batch=0)


def test_empirical_table_counts_against_python_sets():
    df = R.empirical_repetition_table((3, 3, 8, 16), rng=3).set_index("scheme")
    assert set(df.index) == {"binary", "ternary", "signed_binary"} and (df.kernels == 128).all()
    assert (df.unique <= df.bound).all() and (df.unique <= df.kernels).all()
    # given weights: a layer built from exactly 3 distinct sign patterns (one negated copy counts as distinct)
    rng = np.random.default_rng(0)
    pats = np.sign(rng.normal(size=(3, 3, 3)))  # 3 patterns of 3x3
    w = pats[rng.integers(0, 3, size=(4, 5))]  # (C_in, C_out, 3, 3)
    w = np.transpose(w, (2, 3, 0, 1))
    got = R.empirical_repetition_table(weights={"binary": w}).iloc[0]
    expect = len({tuple(w[:, :, i, o].ravel()) for i in range(4) for o in range(5)})
    assert got["unique"] == expect and got["kernels"] == 20 and got["mean_repetition"] == 20 / expect


def test_empirical_table_bad_input():
    with pytest.raises(ValueError, match="weights has unknown key\\(s\\) 'quaternary'"):
        R.empirical_repetition_table(weights={"quaternary": np.ones((3, 3, 1, 1))})
    with pytest.raises(ValueError, match=r"must be \[R, S, C_in, C_out\]"):
        R.empirical_repetition_table(weights={"binary": np.ones((3, 3))})
    with pytest.raises(ValueError, match="rng=None"):
        R.empirical_repetition_table((3, 3, 2, 2))


def test_factorized_weights_out_of_range_index_raises_instead_of_crashing():
    """A hand-built FactorizedWeights with a row index far outside K used to reach the Numba kernel unchecked
    (a segfault); its fields are validated at construction now."""
    with pytest.raises(ValueError, match=r"idx has entry 1000000000 outside its allowed range \[0, 1\]"):
        R.FactorizedWeights(
            (2, 1), True, 1, np.array([0, 1]), np.array([1]), np.array([0, 1]), np.array([1]), np.array([10**9])
        ).matmul(np.ones((1, 2), dtype=np.int64))


@pytest.mark.parametrize(
    "field, value, exc, match",
    [
        ("col_ptr", np.array([0, 2]), ValueError, "col_ptr must start at 0"),
        ("grp_ptr", np.array([0, 3]), ValueError, "grp_ptr must start at 0"),
        ("grp_split", np.array([5]), ValueError, "grp_split"),
        ("idx", np.array([-1]), ValueError, "idx has entry -1"),
        ("idx", np.array([0.0]), TypeError, "idx must be an integer array"),
        ("grp_mag", np.array([0]), ValueError, "grp_mag must hold magnitudes > 0"),
        ("max_col_abs_sum", 0, ValueError, "max_col_abs_sum=0 is smaller"),
        ("integer", 1, TypeError, "integer must be True or False"),
        ("shape", (2, 0), ValueError, r"shape\[1\]=0"),
    ],
)
def test_factorized_weights_fields_validated(field, value, exc, match):
    good = R.factorize(np.array([[1], [0]]))  # one group {row 0}, magnitude 1
    fields = {
        f: getattr(good, f)
        for f in ("shape", "integer", "max_col_abs_sum", "col_ptr", "grp_mag", "grp_ptr", "grp_split", "idx")
    }
    R.FactorizedWeights(**fields)  # the factory's own fields pass
    fields[field] = value
    with pytest.raises(exc, match=match):
        R.FactorizedWeights(**fields)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("nodes", np.array([[0, 1, 3, 1]]), r"nodes\[:, 2\] \(operands\)"),  # node 0 reading itself (index K + 0)
        ("nodes", np.array([[0, 2, 1, 1]]), r"nodes\[:, 1\] \(signs\)"),
        ("term", np.array([0, 99, 1]), "term has entry 99"),
        ("term_sign", np.array([1, 0, 1]), "term_sign must hold"),
        ("max_col_abs_sum", 1, "max_col_abs_sum=1 is smaller"),
    ],
)
def test_shared_sum_program_fields_validated(field, value, match):
    good = R.plan_shared_sums(np.array([[1, 1], [1, 1], [0, 1]]))  # one shared partial sum x0 + x1
    names = (
        "shape",
        "tile",
        "integer",
        "max_col_abs_sum",
        "nodes",
        "col_ptr",
        "grp_mag",
        "grp_ptr",
        "term",
        "term_sign",
    )
    fields = {f: getattr(good, f) for f in names}
    assert fields["nodes"].shape == (1, 4) and fields["term"].size == 3  # the case exercises nodes and terms
    R.SharedSumProgram(**fields)
    fields[field] = value
    with pytest.raises(ValueError, match=match):
        R.SharedSumProgram(**fields)


def test_programmed_weights_are_read_only():
    prog = R.factorize(np.array([[1], [2]]))
    with pytest.raises(ValueError, match="read-only"):
        prog.idx[0] = 10**9
