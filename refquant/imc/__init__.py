r"""In-memory-computing (IMC) crossbars with low-precision ADCs: RAOQ's model and bit-sliced arrays, exactly.

Zhang, Chen & Verma, "Reshape and Adapt for Output Quantization (RAOQ)", ICML 2024. The paper's body
was not available as text; the equations used here (eqs. 2-7) come from the ICLR reviews, the
authors' summaries and a third-party reimplementation, so each item that differs between those
sources is a *parameter* here (ADC transfer, range policy, ``k``), not a hidden constant.

Operands are integer codes. Inputs: unsigned ``[0, 2^Bx - 1]`` or signed two's complement
``[-2^(Bx-1), 2^(Bx-1) - 1]``. Weights: signed symmetric ``[-(2^(Bw-1) - 1), 2^(Bw-1) - 1]``. A dot
product of length ``K`` is cut into tiles of ``rows`` rows (the last tile may be shorter); each tile's
analog result is converted by an ADC and the converted tile results are added digitally.

Compute modes (``CrossbarSpec.mode``)
-------------------------------------
``"multibit"`` (RAOQ's abstraction): one conversion per tile and column of the full integer partial
sum :math:`y_t = \sum_{i \in t} x_i w_i`.

``"bpbs"`` (bit-parallel weights, bit-serial inputs): inputs are split into bit-planes
:math:`x = \sum_b s_b 2^b x_b` (:math:`s_b = -1` for the MSB of a signed input), weights into slices of
``slice_bits`` = β bits held by cells; every (tile, plane, slice[, polarity]) column sum
:math:`a = \sum_i x_{i,b}\,w_{i,c} \in [0, N(2^\beta - 1)]` is converted, and the results are
recombined by signed shift-and-add :math:`y = \sum_{b,c} s_b s_c 2^{b + c\beta} \hat a_{b,c}`. Weight
encodings: ``"twos_complement"`` (1-bit cells; the MSB slice carries weight :math:`-2^{B_w - 1}`),
``"offset"`` (cells hold :math:`w + 2^{B_w-1} - 1 \ge 0`; the offset times :math:`\sum_i x_i` is
subtracted digitally, exactly) and ``"differential"`` (positive and negative parts in separate
columns, both converted, subtracted digitally).

ADC (``ADCSpec``): ``n = 2^B`` codes, offset ``o``, step :math:`\Delta`:

* ``transfer="floor"`` (RAOQ eq. 2): :math:`q = \mathrm{clip}(\lfloor (a - o)/\Delta \rfloor, 0, n-1)`,
  reconstruction at the *middle* of the step, :math:`\hat a = o + (q + \frac12)\Delta` (eq. 2 as printed
  reconstructs :math:`q\Delta`, with a :math:`-\Delta/2` bias). Mid-step reconstruction makes the error
  zero-mean only for pre-ADC values spread *continuously* over a step. The values converted here are
  integers (every multi-bit tile sum and every bit-serial plane sum), and with thresholds at
  :math:`o + q\Delta` each step's integers sit in its lower part: with :math:`\Delta = 1` every
  conversion errs by exactly :math:`+\frac12` (a 6-bit floor ADC on a 64-row 1-bit tile: 25.5 dB per
  column where ``round`` is lossless). ``ADCSpec(floor_threshold="half_unit")`` places the thresholds half
  a unit lower (:math:`o - \frac12 + q\Delta`), which makes floor unbiased on integer sums with an
  integer step (and lossless at :math:`\Delta = 1`); the default ``"step"`` keeps eq. 2's placement;
* ``transfer="round"`` (default): :math:`q = \mathrm{clip}(\mathrm{rint}((a - o)/\Delta), 0, n-1)`
  (ties to even), :math:`\hat a = o + q\Delta`.

All in float64. Range policies (``range_policy``) give :math:`(o, \Delta)`:

* ``"full"``: the largest possible value range divided by ``k`` (RAOQ eq. 3,
  :math:`\Delta = 2 N x_{max} w_{max} / (2^B k)`, range :math:`\pm N x_{max} w_{max}/k` in multi-bit
  mode; :math:`[0, N(2^\beta-1)/k]` per plane sum in BPBS; ``k = 1``: no clipping possible).
  :math:`x_{max} = 2^{B_x} - 1` unsigned, :math:`2^{B_x - 1}` signed or A-shifted (as the
  reimplementation does); :math:`w_{max} = 2^{B_w-1} - 1`.
* ``"granular"``: :math:`\Delta = 1` (one unit step), codes centred on 0 in multi-bit mode and for bipolar
  (sign-magnitude) BPBS planes (:math:`o = -2^{B-1}`), starting at 0 in unipolar BPBS: exact inside,
  saturating outside. This is CrossSim's GRANULAR policy only *without* input bit slicing (one cell-current
  step per code). With input bit slicing CrossSim's GRANULAR sets the step from the whole input's range,
  :math:`2^{B_x}/(2^{B_x} - 1)` plane-sum units, which is *not* lossless (14.5 dB SQNR in a case tried
  against CrossSim 3.2.0); to model it use ``range_policy="calibrated"`` with
  :math:`hi - lo = 2^B \cdot 2^{B_x}/(2^{B_x} - 1)`.
* ``"calibrated"``: given limits ``lo, hi``: :math:`o = lo`, :math:`\Delta = (hi - lo)/2^B`.
* ``"gaussian"``: limits :math:`\mu \pm c_B\sigma` from given ``mu, sigma`` (pre-ADC units) with
  :math:`c_B` = :func:`refquant.clipping.optimal_clip` ``(B, "gaussian")``, the ACIQ/OCC MSE-optimal clip.

A-shift (RAOQ eq. 4): unsigned input codes are shifted to :math:`x' = x - C`, :math:`C = 2^{B_x - 1}`,
before the array; the constant :math:`C\sum_i w_{ij}` is added back digitally per column (exact).

Exactness: all integer paths are exact. The multi-bit tile sums are computed with a float32 GEMM when
every partial sum is an integer of magnitude at most :math:`N x_{max} w_{max} \le 2^{24}` (then every
intermediate of any summation order is exactly representable: exact, whatever the BLAS does), else
with a float64 GEMM (exact: ``CrossbarSpec``'s limits keep the bound below :math:`2^{51} < 2^{53}`);
BPBS plane sums are integer popcounts (int64). With a lossless ADC (``granular``, ``round`` and
enough bits) both modes return exactly ``x @ w``.

Conventions of other simulators (``CrossbarSpec``/``ADCSpec`` fields; the defaults are refquant's):
``weight_offset`` (offset cells hold :math:`w + 2^{B_w-1} - 1`, or CrossSim's :math:`w + 2^{B_w-1}`),
``input_encoding`` (two's-complement planes and a unipolar ADC, or aihwkit's sign-magnitude planes with a
bipolar ADC), ``slice_ranges`` (one calibrated ADC range per weight slice, as CrossSim's bit-sliced core
and NeuroSim calibrate), ``tiling`` (full tiles and a remainder, or CrossSim's even split: 300 rows on
128-row arrays as 3 x 100) and ``floor_threshold`` (above). Each changes results only through the ADC;
with a lossless ADC all give ``x @ w`` exactly.

Layout: :mod:`refquant.specs` (``ADCSpec``, ``CrossbarSpec``), ``refquant.imc.adc`` (the ADC),
``refquant.imc._packing`` (bit-plane and weight-panel packing), ``refquant.imc.crossbar`` (the
simulator), ``refquant.imc.theory`` (SQNR and its closed form), ``refquant.imc.reshape`` (W-reshape),
``refquant.imc.training`` (straight-through ADC backward, BitAug, ADC-LoRA, the W-reshape regulariser);
every public name is re-exported here.
"""

from __future__ import annotations

from ..specs import ADCSpec, CrossbarSpec
from .adc import adc_convert, adc_params
from .crossbar import CrossbarDetails, ProgrammedCrossbar, imc_matmul, program_crossbar
from .reshape import w_reshape
from .theory import ADCStats, OperandMoments, adc_stats, operand_moments, plane_sum_pmf, predicted_sqnr, sqnr
from .training import (
    adc_fake_quant,
    adc_lora_forward,
    adc_lora_grad,
    adc_lora_init,
    adc_lora_merge,
    adc_lora_objective,
    adc_ste_grad,
    bitaug_sample,
    bitaug_weight,
    crossbar_forward,
    crossbar_ste_grad,
    w_reshape_penalty,
    w_reshape_penalty_grad,
)

__all__ = [
    "ADCSpec",
    "CrossbarSpec",
    "imc_matmul",
    "ProgrammedCrossbar",
    "program_crossbar",
    "adc_params",
    "adc_convert",
    "sqnr",
    "adc_stats",
    "predicted_sqnr",
    "plane_sum_pmf",
    "w_reshape",
    "operand_moments",
    "CrossbarDetails",
    "OperandMoments",
    "ADCStats",
    # RAOQ's training pieces (refquant.imc.training)
    "adc_fake_quant",
    "adc_ste_grad",
    "crossbar_forward",
    "crossbar_ste_grad",
    "bitaug_weight",
    "bitaug_sample",
    "adc_lora_merge",
    "adc_lora_forward",
    "adc_lora_objective",
    "adc_lora_grad",
    "adc_lora_init",
    "w_reshape_penalty",
    "w_reshape_penalty_grad",
]
