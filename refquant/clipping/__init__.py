r"""Analytic MSE-optimal clipping (ACIQ): the paper's model, the exact expectation, and solvers.

Banner, Nahshan & Soudry, "Post training 4-bit quantization of convolutional
networks for rapid-deployment" (NeurIPS 2019), and its released code (the
Gaussian model, the one-sided variant and the tables of optimal clips are in
the code, not in the paper's text).

Layout: ``refquant.clipping.grids`` (grids and their refquant.uniform image),
``refquant.clipping.paper`` (the paper's model), ``refquant.clipping.exact``
(the exact MSE), ``refquant.clipping.solve`` (optimal clips and the table),
``refquant.clipping.empirical`` (the data-driven search),
``refquant.clipping.placement`` (the clip range around a mean, as the ACIQ code
and Distiller place it); every public name is re-exported here. How each
computation of the ACIQ code maps to these functions: ``docs/authors_code.md``.

Two models of the expected squared error of clipping a random variable ``X``
at :math:`\pm\alpha` and quantizing with ``M`` bits:

* ``mse_aciq`` — **the paper's model** (eq. 5 and its Gaussian analogue in the
  code): exact clipping-tail integral plus the rounding noise
  :math:`\Delta^2/12` with :math:`\Delta = 2\alpha/2^M`, i.e.
  :math:`\alpha^2/(3\cdot4^M)`, as if all probability mass were inside
  :math:`[-\alpha, \alpha]` and the density flat within each bin.
* ``mse_exact`` — **the exact expectation** :math:`E[(Q(X) - X)^2]` for a real
  quantizer grid ``Q``: a sum over every quantization cell, no within-bin
  approximation. Grids, each the exact image of
  :mod:`refquant.uniform` (see :func:`quantize_on_grid`):

  ================ ===================================================== ====================================================
  grid             levels (signed)                                       refquant.uniform image
  ================ ===================================================== ====================================================
  ``paper``        :math:`k\Delta`, :math:`|k| \le 2^{M-1}`,             ``fake_quant(clip(x, -a, a), D, 0, QuantSpec(M+1))``
                   :math:`\Delta = 2\alpha/2^M` (2^M+1 levels: one
                   more than M bits hold; the paper's simulation)
  ``midrise``      :math:`(k+\frac12)\Delta`,                            ``fake_quant(x, D, 0, QuantSpec(M, rounding="floor"))``
                   :math:`-2^{M-1} \le k < 2^{M-1}`,                     ``+ D/2``
                   :math:`\Delta = 2\alpha/2^M`
  ``endpoint``     :math:`-\alpha + i\Delta`, :math:`0 \le i < 2^M`,     ``fake_quant(x + a, D, 0, QuantSpec(M, signed=False))``
                   :math:`\Delta = 2\alpha/(2^M-1)`                      ``- a``
  ``symmetric``    :math:`k\Delta`, :math:`|k| \le 2^{M-1}-1`,           ``fake_quant(x, D, 0, QuantSpec(M, narrow_range=True))``
                   :math:`\Delta = \alpha/(2^{M-1}-1)`
  ``aciq_runtime`` :math:`k\Delta`, :math:`-2^{M-1} \le k < 2^{M-1}`,    ``fake_quant(x, D, 0, QuantSpec(M))``
                   :math:`\Delta = 2\alpha/(2^M-1)`
  ================ ===================================================== ====================================================

  ``aciq_runtime`` is the grid the ACIQ code's quantizer (and Distiller's SYMMETRIC mode) ran
  for a zero-mean tensor clipped to :math:`[-\alpha, \alpha]`: range
  :math:`2\alpha` over :math:`2^M-1` steps, zero point
  :math:`\mathrm{round}(\alpha/\Delta) = 2^{M-1}`, so its lowest level lies
  :math:`\Delta/2` beyond :math:`-\alpha` and its highest :math:`\Delta/2`
  inside :math:`\alpha`. Ties round half to even, as the ACIQ clip path's
  ``torch.round`` (``docs/authors_code.md``: the CUDA kernel's half-up ties,
  the float32 zero point that can select the mirror grid).

  ``endpoint`` is the symmetric endpoint-inclusive grid (the usual
  min/max-calibrated grid with ``2^M`` levels). refquant's own asymmetric calibration (:func:`refquant.calibrate_minmax`
  with ``symmetric=False``) rounds the zero point to an integer, which shifts
  that grid by up to half a step; use :func:`optimal_clip_empirical` for it.

``signed=False`` is the one-sided (post-ReLU) variant (in the ACIQ code): ``X =
max(Y, 0)`` with ``Y`` the given symmetric distribution, clipped to
:math:`[0, \alpha]`; the grids are the unsigned versions (``paper``: levels
:math:`k\alpha/2^M`, :math:`0\le k\le 2^M`; ``midrise``: :math:`(k+\frac12)\alpha/2^M`;
``endpoint`` and ``aciq_runtime``: :math:`k\alpha/(2^M-1)`, refquant's unsigned full range and
the ACIQ code's one-sided (half-range) quantizer, range :math:`[0, \alpha]` with zero point 0;
``symmetric``: :math:`k\alpha/(2^M-2)`, refquant's unsigned narrow range). The
paper's model for it is :math:`\frac12\,\mathrm{tail}(\alpha) + \alpha^2/(24\cdot4^M)`,
exactly half the signed model at ``M+1`` bits.

Numerics of ``mse_exact``: the cells are cut at every decision threshold and
at the density's kinks (0 for Laplace, the support ends for uniform). The two
unbounded end cells use closed-form partial moments (Gaussian:
:math:`\int_t^\infty (x-q)^2\varphi = (1+q^2)Q(t) + (t-2q)\varphi(t)`;
Laplace: :math:`\frac12 e^{-t}[(t-q)^2 + 2(t-q) + 2]`); every bounded cell is
integrated with a 16-point Gauss–Legendre rule of the *centred* integrand
:math:`(x-q)^2 f(x)` (exact for polynomials of degree 31; the densities are
analytic on each cell). We do not use the closed-form partial moments
:math:`M_2 - 2qM_1 + q^2M_0` for bounded cells: at high bit widths they cancel
catastrophically (relative error ≈ :math:`12\,\varepsilon\,(1+q^2)/\Delta^2`,
≈1e-6 at M = 16), while the centred quadrature stays at rounding level. For a
scipy distribution the unbounded cells use ``scipy.integrate.quad``, and an
error estimate (``return_error=True``) adds quad's estimates to the
difference between the 16- and 8-point rules.
"""

from __future__ import annotations

from .empirical import optimal_clip_empirical
from .exact import mse_exact
from .grids import GRIDS, grid_levels, quantize_on_grid
from .midtread import quantize_mid_tread
from .paper import PUBLISHED_ALPHA, mse_aciq
from .placement import clip_range
from .solve import MODELS, optimal_clip, optimal_clip_table

__all__ = [
    "GRIDS",
    "MODELS",
    "grid_levels",
    "quantize_on_grid",
    "mse_aciq",
    "mse_exact",
    "optimal_clip",
    "optimal_clip_table",
    "optimal_clip_empirical",
    "PUBLISHED_ALPHA",
    "clip_range",
    "quantize_mid_tread",
]
