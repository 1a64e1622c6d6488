r"""In-memory-computing (IMC) crossbars with low-precision ADCs: RAOQ's model and bit-sliced arrays, exactly.

Zhang, Chen & Verma, "Reshape and Adapt for Output Quantization (RAOQ)",
ICML 2024; theory page ``docs/theory/raoq.md``. The paper's PDF body was not
readable, so the equations below come from the ICLR reviews [R], summaries [S]
and a third-party reimplementation [I]; each such item is a *parameter* here,
not a hidden constant.

Operands are integer codes. Inputs: unsigned ``[0, 2^Bx - 1]`` or signed
two's complement ``[-2^(Bx-1), 2^(Bx-1) - 1]``. Weights: signed symmetric
``[-(2^(Bw-1) - 1), 2^(Bw-1) - 1]``. A dot product of length ``K`` is cut into
tiles of ``rows`` rows (the last tile may be shorter); each tile's analog
result is converted by an ADC and the converted tile results are added
digitally.

Compute modes (``CrossbarSpec.mode``)
-------------------------------------
``"multibit"`` (RAOQ's abstraction): one conversion per tile and
column of the full integer partial sum :math:`y_t = \sum_{i \in t} x_i w_i`.

``"bpbs"`` (bit-parallel weights, bit-serial inputs): inputs are
split into bit-planes :math:`x = \sum_b s_b 2^b x_b` (:math:`s_b = -1` for
the MSB of a signed input), weights into slices of ``slice_bits`` = β bits
held by cells; every (tile, plane, slice[, polarity]) column sum
:math:`a = \sum_i x_{i,b}\,w_{i,c} \in [0, N(2^\beta - 1)]` is converted, and
the results are recombined by signed shift-and-add
:math:`y = \sum_{b,c} s_b s_c 2^{b + c\beta} \hat a_{b,c}`. Weight encodings:
``"twos_complement"`` (1-bit cells; the MSB slice carries weight
:math:`-2^{B_w - 1}`), ``"offset"`` (cells hold :math:`w + 2^{B_w-1} - 1 \ge 0`;
the offset times :math:`\sum_i x_i` is subtracted digitally, exactly) and
``"differential"`` (positive and negative parts in separate columns, both
converted, subtracted digitally).

ADC (``ADCSpec``): ``n = 2^B`` codes, offset ``o``, step :math:`\Delta`:

* ``transfer="floor"`` (RAOQ eq. 2 [I]): :math:`q = \mathrm{clip}(\lfloor (a - o)/\Delta \rfloor, 0, n-1)`,
  reconstruction at the *middle* of the step, :math:`\hat a = o + (q + \frac12)\Delta` (so the
  error is zero-mean in range; eq. 2 as printed reconstructs :math:`q\Delta`, with a
  :math:`-\Delta/2` bias);
* ``transfer="round"`` (default): :math:`q = \mathrm{clip}(\mathrm{rint}((a - o)/\Delta), 0, n-1)`
  (ties to even), :math:`\hat a = o + q\Delta`.

All in float64. Range policies (``range_policy``) give :math:`(o, \Delta)`:

* ``"full"``: the largest possible value range divided by ``k`` (RAOQ eq. 3 [I],
  :math:`\Delta = 2 N x_{max} w_{max} / (2^B k)`, range :math:`\pm N x_{max} w_{max}/k`
  in multi-bit mode; :math:`[0, N(2^\beta-1)/k]` per plane sum in BPBS; ``k = 1``:
  no clipping possible). :math:`x_{max} = 2^{B_x} - 1` unsigned, :math:`2^{B_x - 1}`
  signed or A-shifted (as [I] does); :math:`w_{max} = 2^{B_w-1} - 1`.
* ``"granular"``: :math:`\Delta = 1` (one unit step), codes centred on 0 in
  multi-bit mode (:math:`o = -2^{B-1}`), starting at 0 in BPBS: exact inside,
  saturating outside (CrossSim's GRANULAR).
* ``"calibrated"``: given limits ``lo, hi``: :math:`o = lo`, :math:`\Delta = (hi - lo)/2^B`.
* ``"gaussian"``: limits :math:`\mu \pm c_B\sigma` from given ``mu, sigma`` (pre-ADC
  units) with :math:`c_B` = :func:`refquant.clipping.optimal_clip` ``(B, "gaussian")``,
  the ACIQ/OCC MSE-optimal clip.

A-shift (RAOQ eq. 4 [I][S]): unsigned input codes are shifted to
:math:`x' = x - C`, :math:`C = 2^{B_x - 1}`, before the array; the constant
:math:`C\sum_i w_{ij}` is added back digitally per column (exact).

Exactness: all integer paths are exact. The multi-bit tile sums are computed
with a float32 GEMM when every partial sum is an integer of magnitude at most
:math:`N x_{max} w_{max} \le 2^{24}` (then every intermediate of any summation
order is exactly representable: exact, whatever the BLAS does), else with a
float64 GEMM (exact: ``CrossbarSpec``'s limits keep the bound below
:math:`2^{51} < 2^{53}`); BPBS plane sums are integer popcounts (int64). With a lossless
ADC (``granular``, ``round`` and enough bits) both modes return exactly
``x @ w``.
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from ._validate import as_real_array, check_bool, check_int, check_real

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
]

_TRANSFERS = ("round", "floor")
_POLICIES = ("full", "granular", "calibrated", "gaussian")
_MODES = ("multibit", "bpbs")
_ENCODINGS = ("twos_complement", "offset", "differential")


def _choice(value, allowed, name):
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


@dataclasses.dataclass(frozen=True)
class ADCSpec:
    """An ADC: ``bits`` (1..24), ``transfer`` ("round" or "floor"), ``range_policy``
    ("full", "granular", "calibrated", "gaussian") with its parameters ``k`` (full),
    ``lo``/``hi`` (calibrated), ``mu``/``sigma`` (gaussian). See the module docstring."""

    bits: int
    transfer: str = "round"
    range_policy: str = "full"
    k: float = 1.0
    lo: float | None = None
    hi: float | None = None
    mu: float | None = None
    sigma: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "bits", check_int(self.bits, "bits", 1, 24))
        _choice(self.transfer, _TRANSFERS, "transfer")
        _choice(self.range_policy, _POLICIES, "range_policy")
        object.__setattr__(self, "k", check_real(self.k, "k", lo=0.0, lo_open=True))
        if self.range_policy == "calibrated":
            if self.lo is None or self.hi is None:
                raise ValueError("range_policy='calibrated' needs lo and hi (the ADC's input limits)")
            lo, hi = check_real(self.lo, "lo"), check_real(self.hi, "hi")
            if not hi > lo:
                raise ValueError(f"hi={hi!r} must be > lo={lo!r}")
            object.__setattr__(self, "lo", lo)
            object.__setattr__(self, "hi", hi)
        if self.range_policy == "gaussian":
            if self.mu is None or self.sigma is None:
                raise ValueError("range_policy='gaussian' needs mu and sigma of the pre-ADC values")
            object.__setattr__(self, "mu", check_real(self.mu, "mu"))
            object.__setattr__(self, "sigma", check_real(self.sigma, "sigma", lo=0.0, lo_open=True))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ADCSpec":
        return cls(**d)


@dataclasses.dataclass(frozen=True)
class CrossbarSpec:
    """A crossbar: ``rows`` per tile, operand bit widths and encodings, compute ``mode``, ``adc``, ``a_shift``.

    ``weight_encoding`` defaults to ``"signed"`` in multi-bit mode (the analog
    multi-bit weight; no other value is meaningful there) and to
    ``"twos_complement"`` in BPBS mode. JSON round trip: ``to_json`` / ``from_json``.
    """

    rows: int
    input_bits: int
    weight_bits: int
    mode: str = "multibit"
    input_signed: bool = False
    weight_encoding: str | None = None
    slice_bits: int = 1
    adc: ADCSpec = dataclasses.field(default_factory=lambda: ADCSpec(8))
    a_shift: bool = False

    def __post_init__(self):
        object.__setattr__(self, "rows", check_int(self.rows, "rows", 1, 2**20))
        object.__setattr__(self, "input_bits", check_int(self.input_bits, "input_bits", 1, 16))
        object.__setattr__(self, "weight_bits", check_int(self.weight_bits, "weight_bits", 2, 16))
        _choice(self.mode, _MODES, "mode")
        check_bool(self.input_signed, "input_signed")
        check_bool(self.a_shift, "a_shift")
        object.__setattr__(self, "slice_bits", check_int(self.slice_bits, "slice_bits", 1, 8))
        if isinstance(self.adc, dict):
            object.__setattr__(self, "adc", ADCSpec.from_dict(self.adc))
        if not isinstance(self.adc, ADCSpec):
            raise TypeError(f"adc must be an ADCSpec, got {type(self.adc).__name__}")
        enc = self.weight_encoding
        if self.mode == "multibit":
            if enc not in (None, "signed"):
                raise ValueError(f"weight_encoding={enc!r} is a bit-slicing encoding; mode='multibit' stores the signed "
                                 "multi-bit weight (weight_encoding='signed' or None)")
            object.__setattr__(self, "weight_encoding", "signed")
        else:
            enc = "twos_complement" if enc is None else _choice(enc, _ENCODINGS, "weight_encoding")
            if enc == "twos_complement" and self.slice_bits != 1:
                raise ValueError(f"weight_encoding='twos_complement' needs slice_bits=1 (a multi-bit cell cannot hold the "
                                 f"negative top slice), got slice_bits={self.slice_bits}; use 'offset' or 'differential'")
            object.__setattr__(self, "weight_encoding", enc)
        if self.a_shift and self.input_signed:
            raise ValueError("a_shift=True shifts *unsigned* input codes to signed ones; it needs input_signed=False")

    # derived quantities ---------------------------------------------------------------------------
    @property
    def array_input_signed(self) -> bool:
        return self.input_signed or self.a_shift

    @property
    def x_range(self) -> tuple[int, int]:
        """Allowed input codes (before any A-shift)."""
        b = self.input_bits
        return (-(2 ** (b - 1)), 2 ** (b - 1) - 1) if self.input_signed else (0, 2**b - 1)

    @property
    def w_range(self) -> tuple[int, int]:
        m = 2 ** (self.weight_bits - 1) - 1
        return -m, m

    @property
    def x_max(self) -> int:
        return 2 ** (self.input_bits - 1) if self.array_input_signed else 2**self.input_bits - 1

    @property
    def w_max(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def n_slices(self) -> int:
        mag_bits = {"twos_complement": self.weight_bits, "offset": self.weight_bits, "differential": self.weight_bits - 1}
        return -(-mag_bits.get(self.weight_encoding, self.weight_bits) // self.slice_bits)

    @property
    def max_plane_sum(self) -> int:
        return self.rows * (2**self.slice_bits - 1)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["adc"] = self.adc.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CrossbarSpec":
        d = dict(d)
        d["adc"] = ADCSpec.from_dict(d["adc"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "CrossbarSpec":
        return cls.from_dict(json.loads(s))


# ---------------------------------------------------------------------------------------------- the ADC
def adc_params(spec: CrossbarSpec) -> tuple[float, float, int]:
    """``(offset o, step D, n_codes)`` of the crossbar's ADC (module docstring)."""
    a = spec.adc
    n = 2**a.bits
    if a.range_policy == "granular":
        return (-float(n // 2) if spec.mode == "multibit" else 0.0), 1.0, n
    if a.range_policy == "full":
        if spec.mode == "multibit":
            r = spec.rows * spec.x_max * spec.w_max / a.k
            return -r, 2 * r / n, n
        return 0.0, spec.max_plane_sum / a.k / n, n
    if a.range_policy == "calibrated":
        lo, hi = a.lo, a.hi
    else:
        from .clipping import optimal_clip

        c = optimal_clip(min(a.bits, 16), "gaussian")
        lo, hi = a.mu - c * a.sigma, a.mu + c * a.sigma
    return lo, (hi - lo) / n, n


def adc_convert(a, spec: CrossbarSpec):
    """``(codes, reconstruction)`` of pre-ADC values ``a`` (float64 arrays) under the crossbar's ADC."""
    o, d, n = adc_params(spec)
    t = (np.asarray(a, dtype=np.float64) - o) / d
    if spec.adc.transfer == "floor":
        q = np.clip(np.floor(t), 0, n - 1)
        return q.astype(np.int64), o + (q + 0.5) * d
    q = np.clip(np.rint(t), 0, n - 1)
    return q.astype(np.int64), o + q * d


# ---------------------------------------------------------------------------------------------- validation
def _codes(v, name: str, lo: int, hi: int) -> np.ndarray:
    a = as_real_array(v, name)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of codes, got dtype={a.dtype}; quantize first (refquant.quantize)")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    mn, mx = int(a.min()), int(a.max())
    if mn < lo or mx > hi:
        bad = mn if mn < lo else mx
        raise ValueError(f"{name} has code {bad} outside its declared range [{lo}, {hi}]")
    return a.astype(np.int64, copy=False)  # read-only use below: no copy needed when already int64


def _check_spec(spec) -> CrossbarSpec:
    if not isinstance(spec, CrossbarSpec):
        raise TypeError(f"spec must be a CrossbarSpec, got {type(spec).__name__}")
    return spec


# ---------------------------------------------------------------------------------------------- compute
def _tiles(k: int, rows: int) -> list[tuple[int, int]]:
    return [(t0, min(t0 + rows, k)) for t0 in range(0, k, rows)]


def _packed_planes(u: np.ndarray, nbits: int, tiles, wpt: int) -> np.ndarray:
    """Bit-planes of non-negative codes ``u`` (..., K), packed: uint64 (..., nbits, n_tiles * wpt).

    Plane ``p`` holds bit ``p`` of every code; row ``i`` of tile ``t`` is bit ``i - t0`` of word block
    ``t``, each tile starting at a word boundary, zero padded.
    """
    from ._kernels.imc import pack_planes_kernel

    lead = u.shape[:-1]
    flat = np.ascontiguousarray(u.reshape(-1, u.shape[-1]), dtype=np.int64)
    out = np.zeros((flat.shape[0], nbits, len(tiles) * wpt), dtype=np.uint64)
    starts = np.array([t0 for t0, _ in tiles], dtype=np.int64)
    lens = np.array([t1 - t0 for t0, t1 in tiles], dtype=np.int64)
    pack_planes_kernel(flat, nbits, starts, lens, wpt, out)
    return out.reshape(lead + (nbits, len(tiles) * wpt))


def _plane_signs(nbits: int, signed: bool) -> np.ndarray:
    signs = np.ones(nbits)
    if signed:
        signs[-1] = -1.0
    return signs


def _input_planes(xe: np.ndarray, nbits: int, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bit-planes (batch, nbits, K) of two's-complement codes (unpacked, for details), and the plane signs s_b."""
    u = xe & ((1 << nbits) - 1)
    planes = ((u[:, None, :] >> np.arange(nbits)[None, :, None]) & 1).astype(np.uint8)
    return planes, _plane_signs(nbits, signed)


def _weight_magnitudes(w: np.ndarray, spec: CrossbarSpec):
    """Per-polarity cell magnitudes (n_pol, K, out), slice signs, polarity signs, digital offset.

    Two's complement: ``w`` itself (int64), whose bits ``0 .. B_w - 1`` are those of ``w mod 2^B_w``
    (every reader takes only those bits); offset: ``w + 2^(B_w-1) - 1``; differential: ``max(+-w, 0)``.
    """
    s = spec.n_slices
    if spec.weight_encoding == "twos_complement":
        slice_sign = np.ones(s)
        slice_sign[-1] = -1.0
        return w[None], slice_sign, np.array([1.0]), 0
    if spec.weight_encoding == "offset":
        off = 2 ** (spec.weight_bits - 1) - 1
        return (w + off)[None], np.ones(s), np.array([1.0]), off
    return np.stack([np.maximum(w, 0), np.maximum(-w, 0)]), np.ones(s), np.array([1.0, -1.0]), 0


def _weight_slices(w: np.ndarray, spec: CrossbarSpec):
    """Cell bit-planes (out, n_pol, n_slices, beta, K) unpacked (for details and moments), and the signs."""
    mags, slice_sign, pol, offset = _weight_magnitudes(w, spec)
    mags = np.swapaxes(mags, 1, 2)  # (pol, out, K)
    beta, s = spec.slice_bits, spec.n_slices
    shifts = np.arange(s * beta).reshape(s, beta)
    cells = ((mags[:, :, None, None, :] >> shifts[None, None, :, :, None]) & 1).astype(np.uint8)  # (pol, out, S, beta, K)
    return np.moveaxis(cells, 0, 1), slice_sign, pol, offset


def imc_matmul(x_codes, w_codes, spec: CrossbarSpec, *, return_details: bool = False):
    r"""``x @ w`` computed by the crossbar ``spec``, in the integer domain (before any float rescaling).

    Parameters
    ----------
    x_codes : int array (batch, K), codes in ``spec.x_range`` (unsigned, or signed if ``input_signed``).
    w_codes : int array (K, out), symmetric signed codes in ``spec.w_range``.
    spec : CrossbarSpec.
    return_details : also return a dict with ``pre_adc`` (the exact analog values, float64:
        multi-bit ``(batch, n_tiles, out)``; BPBS ``(batch, n_tiles, n_planes, n_pol, n_slices, out)``),
        ``adc_out`` (their reconstructions), ``error`` (``adc_out - pre_adc``), ``codes``,
        ``step``, ``offset``, ``compensation`` (the exact digital per-column term added back).

    Returns
    -------
    float64 array (batch, out): the converted result (integers whenever the ADC is
    lossless); with ``return_details``, ``(y, details)``.

    Examples
    --------
    >>> spec = CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=ADCSpec(8, range_policy="granular"))
    >>> x = np.array([[3, 1, 0, 2, 1]]); w = np.array([[1], [-3], [2], [0], [3]])
    >>> imc_matmul(x, w, spec).tolist(), (x @ w).tolist()       # lossless ADC: exact, across 2 tiles
    ([[3.0]], [[3]])
    """
    return program_crossbar(w_codes, spec).matmul(x_codes, return_details=return_details)


@dataclasses.dataclass(frozen=True, eq=False)
class ProgrammedCrossbar:
    """Weights programmed into a crossbar (done once, as in hardware); :meth:`ProgrammedCrossbar.matmul` runs inputs through it.

    Built by :func:`program_crossbar`; holds a private copy of the weight codes and everything that
    depends only on them (the exact per-column A-shift compensation, the float32/float64 weights of the
    multi-bit GEMM, or the bit-packed BPBS cells, shift-and-add coefficients and whether the ADC's
    division may be done as a multiplication without changing any code).
    """

    spec: CrossbarSpec
    w: np.ndarray
    comp: np.ndarray
    tiles: tuple
    adc: tuple
    wf: np.ndarray | None = None
    wpan: np.ndarray | None = None
    coef: np.ndarray | None = None
    inv_step_exact: bool = False
    offset: int = 0

    def matmul(self, x_codes, *, return_details: bool = False):
        """``x @ w`` through the crossbar: see :func:`imc_matmul` (same results, bit for bit)."""
        spec = self.spec
        check_bool(return_details, "return_details")
        x = _codes(x_codes, "x_codes", *spec.x_range)
        if x.shape[1] != self.w.shape[0]:
            raise ValueError(f"x_codes has {x.shape[1]} columns but w_codes has {self.w.shape[0]} rows "
                             f"(shapes {x.shape} @ {self.w.shape})")
        c_shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
        xe = x - c_shift if c_shift else x
        if spec.mode == "multibit":
            y, details = _multibit(xe, self, return_details)
        else:
            y, details = _bpbs(xe, self, return_details)
        y += self.comp  # y is this call's own array (both modes allocate it)
        if return_details:
            o, d, n = self.adc
            details.update(step=d, offset=o, n_codes=n, transfer=spec.adc.transfer, compensation=self.comp)
            return y, details
        return y


_PANEL = 256  # output columns per weight panel of the BPBS kernel (measured: 256 > 128 > 64 > 512 at 512 columns)


def _column_panels(mags: np.ndarray, n_sl: int, beta: int, tiles, wpt: int) -> np.ndarray:
    """Cell magnitudes (pol, K, out) -> bit-packed column panels for ``bpbs_kernel``.

    Returns uint64 (n_tiles, n_blocks, pol, S, beta, wpt, P) with ``P = min(_PANEL, out rounded up to 8)``:
    block ``q`` holds output columns ``q*P .. q*P + P - 1``; bit ``r`` of word ``wd`` is row
    ``t0 + 64*wd + r`` of tile ``t``; padding (rows past the tile, columns past ``out``) is zero
    (those cells add nothing; padded columns are computed and discarded).
    """
    from ._kernels.imc import pack_panels_kernel

    n_pol, _, out = mags.shape
    pw = min(_PANEL, -(-out // 8) * 8)
    n_blocks = -(-out // pw)
    panels = np.zeros((len(tiles), n_blocks, n_pol, n_sl * beta, wpt, pw), dtype=np.uint64)
    starts = np.array([t0 for t0, _ in tiles], dtype=np.int64)
    lens = np.array([t1 - t0 for t0, t1 in tiles], dtype=np.int64)
    pack_panels_kernel(np.ascontiguousarray(mags, dtype=np.int64), n_sl * beta, starts, lens, panels)
    return panels.reshape(len(tiles), n_blocks, n_pol, n_sl, beta, wpt, pw)


def _inv_step_exact(spec: CrossbarSpec, adc: tuple) -> bool:
    """True when ``(a - o) * (1 / step)`` gives the same ADC code as ``(a - o) / step`` for every plane sum.

    Checked exhaustively over ``a = 0 .. max_plane_sum`` (all the values a BPBS conversion can see), so the
    kernel may multiply instead of divide without changing a single output bit; otherwise it divides.
    """
    o, d, n = adc
    a = np.arange(spec.max_plane_sum + 1, dtype=np.float64) - o
    rnd = np.floor if spec.adc.transfer == "floor" else np.rint
    return bool(np.array_equal(np.clip(rnd(a / d), 0, n - 1), np.clip(rnd(a * (1.0 / d)), 0, n - 1)))


def program_crossbar(w_codes, spec: CrossbarSpec) -> ProgrammedCrossbar:
    """Program symmetric weight codes ``w_codes`` (K, out) into the crossbar ``spec`` (see :class:`ProgrammedCrossbar`)."""
    spec = _check_spec(spec)
    w = np.array(_codes(w_codes, "w_codes", *spec.w_range), dtype=np.int64)  # private copy
    c_shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
    comp = (c_shift * w.sum(axis=0)).astype(np.float64)  # exact: |C * sum w| < 2^53 for every allowed size
    tiles = tuple(_tiles(w.shape[0], spec.rows))
    adc = adc_params(spec)
    if spec.mode == "multibit":
        bound = spec.rows * spec.x_max * spec.w_max  # largest |partial sum| of a tile GEMM (module docstring)
        assert bound < 2**53  # rows <= 2^20, codes <= 2^16: the float64 GEMM is always exact
        return ProgrammedCrossbar(spec, w, comp, tiles, adc, wf=w.astype(np.float32 if bound <= 2**24 else np.float64))
    wpt = -(-spec.rows // 64)
    nb, beta, n_sl = spec.input_bits, spec.slice_bits, spec.n_slices
    mags, slice_sign, pol, offset = _weight_magnitudes(w, spec)
    wpan = _column_panels(mags, n_sl, beta, tiles, wpt)
    plane_sign = _plane_signs(nb, spec.array_input_signed)
    coef = np.ascontiguousarray(pol[:, None, None] * plane_sign[None, :, None] * slice_sign[None, None, :]
                                * 2.0 ** (np.arange(nb)[None, :, None] + beta * np.arange(n_sl)[None, None, :]))
    return ProgrammedCrossbar(spec, w, comp, tiles, adc, wpan=wpan, coef=coef, offset=offset,
                              inv_step_exact=_inv_step_exact(spec, adc))


def _multibit(xe, prog: ProgrammedCrossbar, details_wanted):
    from ._kernels.imc import adc_convert_accumulate

    spec, w = prog.spec, prog.w
    o, d, n = prog.adc
    floor_mode = spec.adc.transfer == "floor"
    acc = np.zeros((xe.shape[0], w.shape[1]), dtype=np.float64)
    pre = []
    xf = xe.astype(prog.wf.dtype)
    for t0, t1 in prog.tiles:
        yt = xf[:, t0:t1] @ prog.wf[t0:t1]
        if details_wanted:
            pre.append(yt.astype(np.float64))  # exact integers: exact conversion
        adc_convert_accumulate(np.ascontiguousarray(yt), o, d, n, floor_mode, acc)  # float32 y: promoted exactly
    if not details_wanted:
        return acc, None
    pre_a = np.stack(pre, axis=1)
    codes, rec = adc_convert(pre_a, spec)
    return acc, {"pre_adc": pre_a, "adc_out": rec, "error": rec - pre_a, "codes": codes}


def _bpbs(xe, prog: ProgrammedCrossbar, details_wanted):
    from ._kernels.imc import bpbs_kernel

    spec, w, tiles = prog.spec, prog.w, prog.tiles
    wpt = -(-spec.rows // 64)
    nb, beta = spec.input_bits, spec.slice_bits
    xbits = _packed_planes(xe & ((1 << nb) - 1) if spec.array_input_signed else xe, nb, tiles, wpt)  # (batch, nb, words)
    acc = np.empty((xe.shape[0], w.shape[1]), dtype=np.float64)
    o, d, n = prog.adc
    bpbs_kernel(xbits, prog.wpan, prog.coef, o, d, 1.0 / d, n, spec.adc.transfer == "floor", prog.inv_step_exact, acc)
    if prog.offset:
        acc -= prog.offset * xe.sum(axis=1, dtype=np.int64).astype(np.float64)[:, None]  # exact digital offset removal
    if not details_wanted:
        return acc, None
    # exact plane sums for the details (int64 matmuls; reported, not used for y)
    planes, _ = _input_planes(xe, nb, spec.array_input_signed)
    cells, _, pol, _ = _weight_slices(w, spec)
    pre = np.zeros((xe.shape[0], len(tiles), nb, len(pol), spec.n_slices, w.shape[1]))
    cell_val = (cells.astype(np.int64) << np.arange(beta)[None, None, None, :, None]).sum(axis=3)  # (out, pol, S, K)
    for t, (t0, t1) in enumerate(tiles):
        for b in range(nb):
            xb = planes[:, b, t0:t1].astype(np.int64)
            for p in range(len(pol)):
                for c in range(spec.n_slices):
                    pre[:, t, b, p, c, :] = xb @ cell_val[:, p, c, t0:t1].T
    codes, rec = adc_convert(pre, spec)
    return acc, {"pre_adc": pre, "adc_out": rec, "error": rec - pre, "codes": codes, "coef": prog.coef}


# ---------------------------------------------------------------------------------------------- statistics
def sqnr(y_ideal, y_adc, *, per_column: bool = False) -> float:
    r"""Signal-to-quantization-noise ratio in dB of ADC outputs against the exact result.

    ``per_column=False`` (pooled): :math:`10\log_{10}(\mathrm{Var}[Y] / \mathrm{mean}[(\hat Y - Y)^2])`
    over all outputs (the signal includes per-column constants such as A-shift's
    :math:`C\sum w`, which digital compensation removes — so this credits A-shift
    with signal it does not keep). ``per_column=True``: the input-dependent part
    only, :math:`10\log_{10}(\sum_j \mathrm{Var}_{batch}[Y_j] / \sum_j \mathrm{mean}_{batch}[(\hat Y_j - Y_j)^2])`.
    Returns ``inf`` for a zero error.
    """
    yi = as_real_array(y_ideal, "y_ideal").astype(np.float64)
    ya = as_real_array(y_adc, "y_adc").astype(np.float64)
    if yi.shape != ya.shape or yi.ndim != 2:
        raise ValueError(f"y_ideal and y_adc must be 2-D arrays of the same shape, got {yi.shape} and {ya.shape}")
    err = ((ya - yi) ** 2).mean(axis=0)
    sig = yi.var(axis=0).sum() if per_column else yi.var() * yi.shape[1]
    noise = err.sum()
    if noise == 0:
        return math.inf
    return float(10 * np.log10(sig / noise))


def adc_stats(details: dict) -> dict:
    """Utilisation of the ADC from ``imc_matmul(..., return_details=True)``'s details.

    ``sigma_over_step`` (std of the pre-ADC values / step), ``codes_used`` (distinct codes hit),
    ``clip_rate`` (fraction of conversions outside the ADC's input range: ``[o, o + n*step)`` for
    floor, ``[o - step/2, o + (n - 1/2)*step]`` for round) and ``max_abs_error_in_range`` (in steps;
    at most 1/2 by construction).
    """
    pre, codes, err = details["pre_adc"], details["codes"], details["error"]
    d, o, n = details["step"], details["offset"], details["n_codes"]
    t = (pre - o) / d
    if details["transfer"] == "floor":
        inside = (t >= 0) & (t < n)
    else:
        inside = (t >= -0.5) & (t <= n - 0.5)
    return {
        "sigma_over_step": float(pre.std() / d),
        "codes_used": int(np.unique(codes).size),
        "clip_rate": float(1.0 - inside.mean()),
        "max_abs_error_in_range": float(np.abs(err[inside]).max() / d) if inside.any() else 0.0,
    }


def operand_moments(x_codes, w_codes, spec: CrossbarSpec) -> dict:
    """Moments of the operands as the array sees them (after A-shift): E[X^2], Var[X], E[W], E[W^2], Var[W],
    and for BPBS the input-plane bit probabilities ``p_x[b]``, the shift-and-add coefficients ``coef``, the
    per-tile, per-column cell counts ``cell_counts`` and, for 1-bit cells, ``cell_overlap[t, j, u, v]``: the
    rows of tile ``t`` whose cells are 1 in both conversions ``u`` and ``v`` (flattened (polarity, slice))
    of column ``j`` (what couples their errors, see :func:`predicted_sqnr`)."""
    spec = _check_spec(spec)
    x = _codes(x_codes, "x_codes", *spec.x_range)
    w = _codes(w_codes, "w_codes", *spec.w_range)
    xe = (x - (2 ** (spec.input_bits - 1) if spec.a_shift else 0)).astype(np.float64)
    wf = w.astype(np.float64)
    out = {"ex2": float((xe**2).mean()), "var_x": float(xe.var()), "mean_x": float(xe.mean()), "ew": float(wf.mean()),
           "ew2": float((wf**2).mean()), "var_w": float(wf.var()), "colsum_var": float(wf.sum(axis=0).var())}
    if spec.mode == "bpbs":
        planes, _ = _input_planes(xe.astype(np.int64), spec.input_bits, spec.array_input_signed)
        cells, _, _, _ = _weight_slices(w, spec)
        cell_val = (cells.astype(np.int64) << np.arange(spec.slice_bits)[None, None, None, :, None]).sum(axis=3)
        out["p_x"] = planes.mean(axis=(0, 2))
        vals = np.arange(2**spec.slice_bits)
        # per tile and output column: how many cells of each value each (polarity, slice) holds
        tl = _tiles(w.shape[0], spec.rows)
        _, slice_sign, pol, _ = _weight_magnitudes(w, spec)
        out["coef"] = (pol[:, None, None] * _plane_signs(spec.input_bits, spec.array_input_signed)[None, :, None]
                       * slice_sign[None, None, :] * 2.0 ** (np.arange(spec.input_bits)[None, :, None]
                                                             + spec.slice_bits * np.arange(spec.n_slices)[None, None, :]))
        out["cell_counts"] = np.stack([np.stack([(cell_val[..., t0:t1] == v).sum(axis=3) for v in vals], axis=-1)
                                       for t0, t1 in tl])  # (n_tiles, out, pol, S, 2^beta)
        if spec.slice_bits == 1:  # rows whose cells are 1 in both of two (polarity, slice) conversions
            flat = cell_val.reshape(cell_val.shape[0], -1, cell_val.shape[-1])  # (out, pol*S, K)
            out["cell_overlap"] = np.stack([np.einsum("juk,jvk->juv", flat[..., t0:t1], flat[..., t0:t1])
                                            for t0, t1 in tl])  # (n_tiles, out, pol*S, pol*S)
    return out


def plane_sum_pmf(p_x: float, cell_counts) -> np.ndarray:
    """Exact pmf of a BPBS plane sum :math:`a = \\sum_i x_i c_i` over one tile and column, for i.i.d.
    input bits :math:`x_i \\sim \\mathrm{Bernoulli}(p_x)` and the column's *fixed* cells:
    ``cell_counts[v]`` cells hold value ``v`` (``v = 0 .. 2^beta - 1``). So
    :math:`a = \\sum_v v \\cdot \\mathrm{Binomial}(n_v, p_x)` (1-bit cells: one binomial)."""
    from scipy import stats

    p_x = check_real(p_x, "p_x", lo=0.0, hi=1.0)
    counts = np.asarray(cell_counts, dtype=np.int64)
    pmf = np.array([1.0])
    for v in range(1, counts.size):
        nv = int(counts[v])
        if nv == 0:
            continue
        part = np.zeros(v * nv + 1)
        part[::v] = stats.binom.pmf(np.arange(nv + 1), nv, p_x)
        pmf = np.convolve(pmf, part)
    return pmf


def predicted_sqnr(spec: CrossbarSpec, k_total: int, moments: dict, *, per_column: bool = False,
                   given_weights: bool = True, slice_covariance: bool = True) -> float:
    r"""Closed-form SQNR (dB) of ``imc_matmul`` for i.i.d. operands with the given ``moments``
    (from :func:`operand_moments`), for a dot product of length ``k_total``.

    Signal: pooled, for i.i.d. weights (``given_weights=False``)
    :math:`\mathrm{Var}[Y] = K(\mathrm{Var}[W]E[X^2] + E[W]^2\mathrm{Var}[X])`; for the given weight
    matrix (default) :math:`K\,\mathrm{Var}[X]E[W^2] + E[X]^2\,\mathrm{Var}_j[\sum_i w_{ij}]` (equal in
    expectation, without the sampling error of a finite number of columns); per column
    :math:`K\,\mathrm{Var}[X]\,E[W^2]`. Noise: the sum of independent conversion
    errors. Multi-bit: :math:`\Delta^2/12` per tile (uniform error, no clipping; valid when
    :math:`\sigma_Y/\Delta \gtrsim 1`). BPBS: per (tile, plane b, slice c, polarity) the *exact*
    mean squared ADC error of the plane sum under its binomial-type distribution
    (:func:`plane_sum_pmf`: input bit probability ``p_x[b]`` and each column's actual cells in each
    tile, averaged over columns; input bits independent across rows), combined as
    :math:`\mathrm{mean}_j[\sum c_{bc}^2\,\mathrm{Var}[e_{bc}] + 2\sum_{c<c'} c_{bc}c_{bc'}\,
    \mathrm{Cov}[e_{bc}, e_{bc'}] + (\sum c_{bc}\,E[e_{bc}])^2]` with :math:`c_{bc} = \pm 2^{b + c\beta}`
    (polarities count as further slices). The covariance term (``slice_covariance=True``, exact for 1-bit
    cells) couples the conversions of one input plane, which read the *same* input bits: with
    :math:`n_{11}` rows whose cells are 1 in both and :math:`n_{10}, n_{01}` in one only,
    :math:`a = S + B_{10}`, :math:`a' = S + B_{01}` with independent binomials, so
    :math:`E[e\,e'] = \sum_k P(S{=}k)\,g(k)\,g'(k)`, :math:`g(k) = E[e(k + B_{10})]`. Errors of different
    planes or tiles are taken as independent (different bits or rows). Without it (or for multi-bit cells,
    where it is omitted) this is the independent-errors model, which is pessimistic by up to ~3 dB when the
    step is close to a whole number of units (``figures/imc_bpbs.csv``: the errors of one plane's slices are
    then negatively correlated).

    The pooled signal is that of the *array's* analog sums (after A-shift, before compensation):
    compare it with ``sqnr(x_eff @ w, y - compensation)``; see :func:`sqnr`.
    """
    spec = _check_spec(spec)
    k_total = check_int(k_total, "k_total", 1)
    check_bool(per_column, "per_column")
    check_bool(given_weights, "given_weights")
    check_bool(slice_covariance, "slice_covariance")
    if per_column:
        sig = k_total * moments["var_x"] * moments["ew2"]
    elif given_weights:
        sig = k_total * moments["var_x"] * moments["ew2"] + moments["mean_x"] ** 2 * moments["colsum_var"]
    else:
        sig = k_total * (moments["var_w"] * moments["ex2"] + moments["ew"] ** 2 * moments["var_x"])
    tiles = _tiles(k_total, spec.rows)
    o, d, n = adc_params(spec)
    if spec.mode == "multibit":
        noise = len(tiles) * d * d / 12.0
    else:
        noise = 0.0
        s_beta = spec.slice_bits
        cc = moments["cell_counts"]  # (n_tiles, out, pol, S, 2^beta)
        if cc.shape[0] != len(tiles):
            raise ValueError(f"moments were computed for {cc.shape[0]} tiles, but k_total={k_total} with rows={spec.rows} "
                             f"gives {len(tiles)}")
        n_out = cc.shape[1]
        bias = np.zeros(n_out)
        var = np.zeros(n_out)
        for t in range(len(tiles)):
            for b, pxb in enumerate(moments["p_x"]):
                for p in range(cc.shape[2]):
                    for c in range(cc.shape[3]):
                        cf = moments["coef"][p, b, c]
                        for j in range(n_out):
                            pmf = plane_sum_pmf(float(pxb), cc[t, j, p, c])
                            a = np.arange(pmf.size, dtype=np.float64)
                            _, rec = adc_convert(a, spec)
                            m1 = float(np.sum(pmf * (rec - a)))
                            m2 = float(np.sum(pmf * (rec - a) ** 2))
                            bias[j] += cf * m1
                            var[j] += cf * cf * (m2 - m1 * m1)
                if slice_covariance and s_beta == 1:
                    var += _slice_covariances(spec, float(pxb), cc[t, :, :, :, 1].reshape(n_out, -1),
                                              moments["cell_overlap"][t], moments["coef"][:, b, :].reshape(-1))
        noise = float(np.mean(var + bias**2))
    if noise == 0:
        return math.inf
    return float(10 * np.log10(sig / noise))


def _slice_covariances(spec: CrossbarSpec, p_x: float, ones, overlap, coef) -> np.ndarray:
    r"""Per column, :math:`2\sum_{u<v} c_u c_v \mathrm{Cov}[e_u, e_v]` over the 1-bit-cell conversions ``u, v`` of
    one input plane and tile (see :func:`predicted_sqnr`). ``ones[j, u]``: rows with cell 1 in conversion
    ``u``; ``overlap[j, u, v]``: rows with cell 1 in both; ``coef[u]``: shift-and-add weights."""
    from scipy import stats

    n_max = int(ones.max(initial=0))
    a = np.arange(n_max + 1, dtype=np.float64)
    _, rec = adc_convert(a, spec)
    err = rec - a  # conversion error of every possible plane sum
    out = np.zeros(ones.shape[0])
    for j in range(ones.shape[0]):
        for u in range(ones.shape[1]):
            for v in range(u + 1, ones.shape[1]):
                n11 = int(overlap[j, u, v])
                if n11 == 0:
                    continue  # no shared rows: independent
                p11 = stats.binom.pmf(np.arange(n11 + 1), n11, p_x)
                g = []
                for n1 in (int(ones[j, u]), int(ones[j, v])):
                    p_own = stats.binom.pmf(np.arange(n1 - n11 + 1), n1 - n11, p_x)
                    g.append(np.convolve(err[:n1 + 1], p_own[::-1], mode="valid"))  # g(k) = E[err(k + B_own)]
                cov = float(p11 @ (g[0] * g[1]) - (p11 @ g[0]) * (p11 @ g[1]))
                out[j] += 2.0 * coef[u] * coef[v] * cov
    return out


def w_reshape(w, bits: int, *, target: float = 1.8, steps: int = 300, lr: float = 0.001, mu: float = 0.05):
    r"""W-reshape (RAOQ eqs. 6–7 [I][S]): flatten float weights toward kurtosis ``target`` with the KURE
    gradient (:func:`refquant.kurtosis.kurtosis_shaping`), then quantize symmetric max-abs to ``bits``-bit codes.

    Returns ``(codes, stats)``: int64 codes of ``w``'s shape in ``[-(2^(bits-1)-1), 2^(bits-1)-1]``
    (per-tensor max-abs scale, refquant.uniform narrow signed grid), and a dict with the kurtosis and the
    normalised code variance ``Var[W_q] / w_max^2`` before and after (the statistic the ADC SNR depends on).
    """
    from . import QuantSpec, calibrate_minmax, quantize
    from .kurtosis import kurtosis, kurtosis_shaping

    wa = as_real_array(w, "w").astype(np.float64)
    bits = check_int(bits, "bits", 2, 16)
    spec = QuantSpec(bits, narrow_range=True)
    wmax = 2 ** (bits - 1) - 1

    def q(v):
        s, z = calibrate_minmax(v, spec)
        return quantize(v, s, z, spec).astype(np.int64)

    shaped = kurtosis_shaping(wa, target=target, steps=steps, lr=lr, mu=mu, record_every=max(steps, 1))[-1][2]
    q0, q1 = q(wa), q(shaped)
    stats = {"kurtosis_before": float(kurtosis(wa)), "kurtosis_after": float(kurtosis(shaped)),
             "code_var_before": float(q0.var() / wmax**2), "code_var_after": float(q1.var() / wmax**2)}
    return q1.reshape(wa.shape), stats
