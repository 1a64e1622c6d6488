"""Conformance checkers for the paper operations (ACIQ, KURE, RAOQ): they accept refquant (and an
independent implementation where one is cheap) and reject planted bugs: an IMC model that forgets A-shift's
compensation or drops the last tile, a KURE gradient without the 1/L averaging, excess instead of Pearson
kurtosis, an exact MSE on the wrong grid, and the paper's alpha* passed off as the exact optimum.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from refquant import clipping as C
from refquant import imc as I
from refquant import kurtosis as K
from refquant.testing import crossbar_specs
from refquant.testing.conformance import (
    ConformanceError,
    check_imc_matmul,
    check_kure_grad,
    check_kurtosis,
    check_mse_exact,
    check_optimal_clip,
)

N = 60


def test_imc_checker_accepts_refquant_and_rejects_planted_bugs():
    check_imc_matmul(I.imc_matmul, max_examples=N)

    def no_compensation(x, w, spec):
        y, det = I.imc_matmul(x, w, spec, return_details=True)
        return y - det["compensation"]

    def dropped_tile(x, w, spec):
        k = x.shape[1]
        keep = (k - 1) // spec.rows * spec.rows if k > spec.rows else k  # everything but the last tile
        return I.imc_matmul(x[:, :keep], w[:keep], spec) if keep < k else I.imc_matmul(x, w, spec)

    for bug in (no_compensation, dropped_tile):
        with pytest.raises(ConformanceError, match="imc_matmul"):
            check_imc_matmul(bug, max_examples=N)


def test_imc_checker_with_restricted_specs():
    check_imc_matmul(I.imc_matmul, specs=crossbar_specs(modes=["multibit"]), max_examples=20)


def test_kurtosis_checker():
    check_kurtosis(lambda x: stats.kurtosis(np.ravel(x), fisher=False), max_examples=N)  # scipy conforms
    with pytest.raises(ConformanceError, match="kurtosis"):
        check_kurtosis(lambda x: stats.kurtosis(np.ravel(x)), max_examples=N)  # excess kurtosis: off by 3


def test_kure_grad_checker():
    check_kure_grad(K.kure_grad, max_examples=N)

    def no_average(weights, target):  # forgets the 1/L of the paper's eq. 14: wrong as soon as L > 1
        return [g * len(weights) for g in K.kure_grad(weights, target)]

    with pytest.raises(ConformanceError, match="kure_grad"):
        check_kure_grad(no_average, max_examples=N)

    def unbiased_std(weights, target):  # the released code's std (ddof=1): differs at small N
        return K.kure_grad(weights, target, ddof=1)

    with pytest.raises(ConformanceError, match="kure_grad"):
        check_kure_grad(unbiased_std, max_examples=N)


def test_mse_exact_checker():
    check_mse_exact(C.mse_exact, max_examples=N)

    def wrong_grid(a, bits, dist, scale, grid, signed):  # always the midrise grid
        return C.mse_exact(a, bits, dist, scale, grid="midrise", signed=signed)

    with pytest.raises(ConformanceError, match="mse_exact"):
        check_mse_exact(wrong_grid, max_examples=N)

    def paper_model(a, bits, dist, scale, grid, signed):  # the within-bin approximation is not the exact MSE
        return C.mse_aciq(a, bits, "gaussian" if dist == "uniform" else dist, scale, signed=signed)

    with pytest.raises(ConformanceError, match="mse_exact"):
        check_mse_exact(paper_model, max_examples=N)


def test_optimal_clip_checker():
    check_optimal_clip(
        lambda b, d, s, grid, signed: C.optimal_clip(b, d, s, model="exact", grid=grid, signed=signed), max_examples=10
    )
    with pytest.raises(ConformanceError, match="optimal_clip"):
        check_optimal_clip(
            lambda b, d, s, grid, signed: C.optimal_clip(b, d, s, model="aciq", signed=signed), max_examples=10
        )
