"""The crossbar simulator: weights programmed once, inputs run through the tiles and the ADC (see
:mod:`refquant.imc` for the semantics of both compute modes)."""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import numpy as np

from .._kernels._threads import threads_for
from .._validate import as_real_array, check_bool
from ..specs import CrossbarSpec
from ._packing import (
    _column_panels,
    _kernel_planes,
    _shift_add_coef,
    _tiles,
    _weight_magnitudes,
)
from .adc import _adc_levels, _check_spec, _convert, _slice_params, adc_params

#: BPBS calls with fewer simulated bit-level MACs (batch x K x out x planes x slices x polarities) run the
#: popcount kernel on one Numba thread (refquant._kernels._threads.threads_for). Measured on the shared 2-core
#: machine under load 12-13 (medians of 15): batch 32, K 256, 64 columns, 4b x 4b (8.4 M): 0.32 ms on one thread,
#: 144 ms on two; batch 128, K 512, 128 columns (134 M): 52 ms vs 148 ms. Above 2^26 the parallel path is kept
#: for idle machines, where two threads halve the time of large calls.
BPBS_PARALLEL_THRESHOLD = 2**26


def _codes(v, name: str, lo: int, hi: int) -> np.ndarray:
    """``v`` as a 2-D int64 array of codes in ``[lo, hi]`` (read-only use: no copy when already int64)."""
    a = as_real_array(v, name)
    if a.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be an integer array of codes, got dtype={a.dtype}; quantize first (refquant.quantize)"
        )
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    mn, mx = int(a.min()), int(a.max())
    if mn < lo or mx > hi:
        bad = mn if mn < lo else mx
        raise ValueError(f"{name} has code {bad} outside its declared range [{lo}, {hi}]")
    return a.astype(np.int64, copy=False)


class _KeyAccess:
    """Dict-style read access ``r["name"]`` to a frozen result dataclass (compatibility with the former dict)."""

    def __getitem__(self, key: str):
        if not isinstance(key, str) or key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key in self.__dataclass_fields__


@dataclasses.dataclass(frozen=True)
class CrossbarDetails(_KeyAccess):
    """Diagnostics of one :func:`imc_matmul` call (``return_details=True``).

    Dict-style access ``details["pre_adc"]`` is kept for compatibility (``__getitem__`` and ``in`` read
    the attributes of the same names). ``codes``, ``adc_out`` and ``error`` are derived from ``pre_adc`` on
    first access (then cached) with the ADC's formula (:func:`refquant.imc.adc_convert`'s), so a call that
    wants only the plane sums does not pay for three more arrays of their size; they equal, bit for bit, the
    conversions the simulator added up.

    Attributes
    ----------
    pre_adc : float64 ndarray
        The exact analog values converted: multi-bit ``(batch, n_tiles, out)``; BPBS
        ``(batch, n_tiles, n_planes, n_pol, n_slices, out)``.
    step, offset : float, or float64 ndarray (n_slices,)
        The ADC's step and offset (:func:`refquant.imc.adc_params`); per weight slice (arrays) when
        ``spec.slice_ranges`` is set.
    n_codes : int
        ``2^bits``.
    transfer : str
        "round" or "floor".
    compensation : float64 ndarray (out,)
        The exact digital per-column term added back (A-shift; zeros without it).
    coef : float64 ndarray (n_pol, n_planes, n_slices) or None
        BPBS shift-and-add weights (``None`` in multi-bit mode). ``y`` is recombined exactly as
        ``sum over tiles, planes, slices, polarities of coef * adc_out`` (minus the offset encoding's
        digital term) plus ``compensation``.
    codes : int64 ndarray
        The ADC codes (``pre_adc``'s shape; derived on first access).
    adc_out : float64 ndarray
        Their reconstructions (same shape; derived on first access).
    error : float64 ndarray
        ``adc_out - pre_adc`` (derived on first access).
    """

    pre_adc: np.ndarray
    step: float
    offset: float
    n_codes: int
    transfer: str
    compensation: np.ndarray
    coef: np.ndarray | None = None
    _conv: tuple = dataclasses.field(default=(0.0, 1.0), repr=False, compare=False)

    _DERIVED = ("codes", "adc_out", "error")

    def __getitem__(self, key: str):
        if isinstance(key, str) and key in self._DERIVED:
            return getattr(self, key)
        if key == "_conv":
            raise KeyError(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key != "_conv" and (key in self._DERIVED or super().__contains__(key))

    @functools.cached_property
    def _converted(self) -> tuple[np.ndarray, np.ndarray]:
        o, d = self._conv
        return _convert(self.pre_adc, o, d, self.n_codes, self.transfer)

    @property
    def codes(self) -> np.ndarray:
        """int64 ndarray: the ADC codes of ``pre_adc`` (derived on first access, cached)."""
        return self._converted[0]

    @property
    def adc_out(self) -> np.ndarray:
        """float64 ndarray: the reconstructions of ``pre_adc`` (derived on first access, cached)."""
        return self._converted[1]

    @functools.cached_property
    def error(self) -> np.ndarray:
        """float64 ndarray: ``adc_out - pre_adc`` (derived on first access, cached)."""
        return self.adc_out - self.pre_adc


def imc_matmul(x_codes, w_codes, spec: CrossbarSpec, *, return_details: bool = False):
    r"""``x @ w`` computed by the crossbar ``spec``, in the integer domain (before any float rescaling).

    Equivalent to ``program_crossbar(w_codes, spec).matmul(x_codes, return_details=...)``.

    Parameters
    ----------
    x_codes : int array (batch, K)
        Codes in ``spec.x_range`` (unsigned, or signed if ``input_signed``).
    w_codes : int array (K, out)
        Symmetric signed codes in ``spec.w_range``.
    spec : CrossbarSpec
        The crossbar.
    return_details : bool
        Also return a :class:`CrossbarDetails` (the exact analog values, their reconstructions, errors,
        codes and the ADC parameters).

    Returns
    -------
    y : float64 ndarray (batch, out)
        The converted result (integers whenever the ADC is lossless); with ``return_details``,
        ``(y, details)``.

    Raises
    ------
    TypeError
        Non-integer codes, ``spec`` not a :class:`CrossbarSpec`, ``return_details`` not a bool.
    ValueError
        Codes outside their range, arrays not 2-D, or mismatched inner dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from refquant.imc import ADCSpec, CrossbarSpec
    >>> spec = CrossbarSpec(rows=4, input_bits=2, weight_bits=3, adc=ADCSpec(8, range_policy="granular"))
    >>> x = np.array([[3, 1, 0, 2, 1]]); w = np.array([[1], [-3], [2], [0], [3]])
    >>> imc_matmul(x, w, spec).tolist(), (x @ w).tolist()       # lossless ADC: exact, across 2 tiles
    ([[3.0]], [[3]])
    """
    check_bool(return_details, "return_details")
    return program_crossbar(w_codes, spec).matmul(x_codes, return_details=return_details)


_TOKEN = object()  # only program_crossbar may construct a ProgrammedCrossbar


class ProgrammedCrossbar:
    """Weights programmed into a crossbar (done once, as in hardware); :meth:`ProgrammedCrossbar.matmul` runs
    inputs through it.

    Built only by :func:`program_crossbar` (direct construction raises ``TypeError``: its arrays feed
    Numba kernels that index them unchecked, so they must come from the validated factory). Holds a
    private copy of the weight codes and everything that depends only on them (the exact per-column
    A-shift compensation, the float32/float64 weights of the multi-bit GEMM, or the bit-packed BPBS
    cells, shift-and-add coefficients and whether the ADC's division may be done as a multiplication
    without changing any code).

    Attributes
    ----------
    spec : CrossbarSpec
        The crossbar.
    w : int64 ndarray (K, out)
        The programmed weight codes (a private, read-only copy).
    shape : tuple[int, int]
        ``(K, out)``.

    Raises
    ------
    TypeError
        On direct construction (use :func:`program_crossbar`).
    """

    __slots__ = ("spec", "w", "comp", "tiles", "adc", "wf", "wpan", "coef", "inv_step_exact", "offset")

    def __init__(self, *args, _token=None, **kwargs):
        if _token is not _TOKEN:
            raise TypeError(
                "ProgrammedCrossbar is built by refquant.imc.program_crossbar(w_codes, spec); "
                "it cannot be constructed directly"
            )
        for name, value in zip(self.__slots__, args):
            object.__setattr__(self, name, value)
        defaults = {"wf": None, "wpan": None, "coef": None, "inv_step_exact": False, "offset": 0}
        for name in self.__slots__[len(args) :]:
            object.__setattr__(self, name, kwargs.pop(name, defaults.get(name)))
        self.w.flags.writeable = False  # private copies; the kernel arguments keep their compiled (writeable) type
        self.comp.flags.writeable = False

    def __setattr__(self, name, value):
        raise AttributeError(f"ProgrammedCrossbar is read-only; cannot set {name!r}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(K, out)`` of the programmed weights."""
        return (int(self.w.shape[0]), int(self.w.shape[1]))

    def __repr__(self) -> str:
        return f"ProgrammedCrossbar(shape={self.shape}, spec={self.spec!r})"

    def matmul(self, x_codes, *, return_details: bool = False):
        """``x @ w`` through the crossbar: see :func:`imc_matmul` (same results, bit for bit).

        Parameters
        ----------
        x_codes : int array (batch, K)
            Codes in ``spec.x_range``; ``K`` must equal the programmed weights' rows.
        return_details : bool
            Also return a :class:`CrossbarDetails`.

        Returns
        -------
        y : float64 ndarray (batch, out), or ``(y, details)``.

        Raises
        ------
        TypeError
            Non-integer codes or a non-bool flag.
        ValueError
            Codes outside ``spec.x_range``, not 2-D, or ``K`` not matching.
        """
        spec = self.spec
        check_bool(return_details, "return_details")
        x = _codes(x_codes, "x_codes", *spec.x_range)
        if x.shape[1] != self.w.shape[0]:
            raise ValueError(
                f"x_codes has {x.shape[1]} columns but w_codes has {self.w.shape[0]} rows "
                f"(shapes {x.shape} @ {self.w.shape})"
            )
        xe = _shift_input(x, spec)
        if spec.mode == "multibit":
            y, pre = _multibit(xe, self, return_details)
        else:
            y, pre = _bpbs(xe, self, return_details)
        y += self.comp  # y is this call's own array (both modes allocate it)
        if not return_details:
            return y
        o, d, n = self.adc
        if spec.mode == "bpbs":  # per-slice ADC on the slice axis (pre: batch, tile, plane, pol, slice, out)
            conv = (o[:, None], d[:, None])
            if spec.slice_ranges is None:
                o, d = float(o[0]), float(d[0])
            else:
                o, d = o.copy(), d.copy()
        else:
            conv = (o, d)
        return y, CrossbarDetails(
            pre_adc=pre,
            step=d,
            offset=o,
            n_codes=n,
            transfer=spec.adc.transfer,
            compensation=self.comp.copy(),
            coef=None if self.coef is None else self.coef.copy(),
            _conv=conv,
        )


def _shift_input(x: np.ndarray, spec: CrossbarSpec) -> np.ndarray:
    """The codes the array sees: ``x - 2^(B_x - 1)`` with A-shift (``spec.a_shift``), else ``x`` itself."""
    c_shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
    return x - c_shift if c_shift else x


def _inv_step_exact(spec: CrossbarSpec, adc: tuple) -> bool:
    """True when ``(a - o) * (1 / step)`` gives the same ADC code as ``(a - o) / step`` for every plane sum.

    Checked exhaustively over every value a BPBS conversion can see (``0 .. max_plane_sum``, or
    ``-max_plane_sum .. max_plane_sum`` for sign-magnitude planes) and every slice's ADC, so the kernel may
    multiply instead of divide without changing a single output bit; otherwise it divides.
    """
    o, d, n = adc
    m = spec.max_plane_sum
    a = np.arange(-m if spec.sign_magnitude else 0, m + 1, dtype=np.float64)
    t = spec.adc.transfer
    return all(
        bool(np.array_equal(_adc_levels((a - oc) / dc, t, n)[0], _adc_levels((a - oc) * (1.0 / dc), t, n)[0]))
        for oc, dc in zip(o, d)
    )


def program_crossbar(w_codes, spec: CrossbarSpec) -> ProgrammedCrossbar:
    """Program symmetric weight codes into the crossbar ``spec`` (done once; see :class:`ProgrammedCrossbar`).

    Parameters
    ----------
    w_codes : int array (K, out)
        Symmetric signed codes in ``spec.w_range``.
    spec : CrossbarSpec
        The crossbar.

    Returns
    -------
    ProgrammedCrossbar
        Run inputs with its :meth:`~ProgrammedCrossbar.matmul`.

    Raises
    ------
    TypeError
        Non-integer codes or ``spec`` not a :class:`CrossbarSpec`.
    ValueError
        Codes outside ``spec.w_range`` or not 2-D.

    Examples
    --------
    >>> import numpy as np
    >>> from refquant.imc import ADCSpec, CrossbarSpec
    >>> spec = CrossbarSpec(rows=4, input_bits=2, weight_bits=3, mode="bpbs", adc=ADCSpec(8, range_policy="granular"))
    >>> prog = program_crossbar(np.array([[1], [-3], [2], [0], [3]]), spec)
    >>> prog.shape, prog.matmul(np.array([[3, 1, 0, 2, 1]])).tolist()
    ((5, 1), [[3.0]])
    """
    spec = _check_spec(spec)
    w = np.array(_codes(w_codes, "w_codes", *spec.w_range), dtype=np.int64)  # private copy
    c_shift = 2 ** (spec.input_bits - 1) if spec.a_shift else 0
    comp = (c_shift * w.sum(axis=0)).astype(np.float64)  # exact: |C * sum w| < 2^53 for every allowed size
    tiles = tuple(_tiles(w.shape[0], spec.rows, spec.tiling))
    if spec.mode == "multibit":
        adc = adc_params(spec)
        bound = spec.rows * spec.x_max * spec.w_max  # largest |partial sum| of a tile GEMM (module docstring)
        wf = w.astype(np.float32 if bound <= 2**24 else np.float64)  # rows <= 2^20, codes <= 2^16: < 2^53, exact
        return ProgrammedCrossbar(spec, w, comp, tiles, adc, wf=wf, _token=_TOKEN)
    adc = _slice_params(spec)  # per-slice (o, step) arrays
    wpt = -(-spec.rows // 64)
    mags, slice_sign, pol, offset = _weight_magnitudes(w, spec)
    wpan = _column_panels(mags, spec.n_slices, spec.slice_bits, tiles, wpt)
    return ProgrammedCrossbar(
        spec,
        w,
        comp,
        tiles,
        adc,
        wpan=wpan,
        coef=_shift_add_coef(spec, slice_sign, pol),
        offset=offset,
        inv_step_exact=_inv_step_exact(spec, adc),
        _token=_TOKEN,
    )


class _ADCAccumulateArgs(NamedTuple):
    """The exact arguments of ``adc_convert_accumulate`` for one tile (same names, same order)."""

    y: np.ndarray
    o: float
    step: float
    n_codes: int
    floor_mode: bool
    acc: np.ndarray


def _prepare_multibit(xe, prog: ProgrammedCrossbar):
    """Multi-bit mode: yields, tile by tile in ascending order, the conversion kernel's arguments: the tile's
    exact integer partial sums (one float32/float64 GEMM, C-contiguous) and the ADC; every tile shares one
    zero-initialised ``acc`` (batch, out), which holds the output after the last tile."""
    spec, w = prog.spec, prog.w
    o, d, n = prog.adc
    floor_mode = spec.adc.transfer == "floor"
    acc = np.zeros((xe.shape[0], w.shape[1]), dtype=np.float64)
    xf = xe.astype(prog.wf.dtype)
    for t0, t1 in prog.tiles:
        yield _ADCAccumulateArgs(np.ascontiguousarray(xf[:, t0:t1] @ prog.wf[t0:t1]), o, d, n, floor_mode, acc)


def _multibit(xe, prog: ProgrammedCrossbar, details_wanted):
    """Multi-bit mode: one float GEMM per tile (exact), converted and accumulated by the kernel."""
    from .._kernels.imc import adc_convert_accumulate

    acc = None
    pre = []
    for args in _prepare_multibit(xe, prog):
        if details_wanted:
            pre.append(args.y.astype(np.float64))  # exact integers: exact conversion
        adc_convert_accumulate(*args)  # float32 y: promoted exactly
        acc = args.acc
    return acc, (np.stack(pre, axis=1) if details_wanted else None)


#: Batch rows per parallel work unit of the BPBS kernel (a unit is one row block x one column panel): every row
#: of a block reuses the tile's weight panel from cache, and a batch of 8 rows or fewer still spreads over the
#: threads by panels. A schedule choice only (results do not depend on it); not tuned: the shared machine's
#: load (8-12 on 2 cores while this was written) made differences of this size unmeasurable.
BPBS_ROW_BLOCK = 8


class _BPBSArgs(NamedTuple):
    """The exact arguments of ``bpbs_kernel`` (same names, same order); ``acc`` allocated (overwritten), and
    ``pre`` allocated when ``details`` (an empty 6-D array otherwise)."""

    xbits: np.ndarray
    wpan: np.ndarray
    coef: np.ndarray
    o: float
    step: float
    inv_step: float
    n_codes: int
    floor_mode: bool
    use_inv: bool
    signmag: bool
    row_block: int
    details: bool
    acc: np.ndarray
    pre: np.ndarray


def _prepare_bpbs(xe, prog: ProgrammedCrossbar, details: bool = False) -> _BPBSArgs:
    """BPBS mode: the popcount kernel's arguments: packed input planes (two's-complement bits of a signed
    array input), the programmed weight panels and shift-and-add coefficients, the ADC, the output and, with
    ``details``, the array of every plane sum."""
    spec = prog.spec
    wpt = -(-spec.rows // 64)
    xbits = _kernel_planes(xe, spec, prog.tiles, wpt)  # (batch, n_planes or 2 n_planes, words)
    o, d, n = prog.adc
    batch, out = xe.shape[0], prog.w.shape[1]
    acc = np.empty((batch, out), dtype=np.float64)
    n_pol = prog.coef.shape[0]
    dshape = (batch, len(prog.tiles), spec.n_planes, n_pol, spec.n_slices, out) if details else (0,) * 6
    return _BPBSArgs(
        xbits,
        prog.wpan,
        prog.coef,
        o,
        d,
        1.0 / d,
        n,
        spec.adc.transfer == "floor",
        prog.inv_step_exact,
        spec.sign_magnitude,
        BPBS_ROW_BLOCK,
        bool(details),
        acc,
        np.empty(dshape, dtype=np.float64),
    )


def _bpbs(xe, prog: ProgrammedCrossbar, details_wanted):
    """BPBS mode: packed input planes through the popcount kernel, which also writes the exact plane sums when
    the details are wanted. Returns ``(y, None)`` or ``(y, pre)``."""
    from .._kernels.imc import bpbs_kernel

    w = prog.w
    args = _prepare_bpbs(xe, prog, details_wanted)
    work = xe.shape[0] * xe.shape[1] * w.shape[1] * prog.coef.size  # simulated bit-level MACs
    with threads_for(work, BPBS_PARALLEL_THRESHOLD):
        bpbs_kernel(*args)
    acc = args.acc
    if prog.offset:
        acc -= prog.offset * xe.sum(axis=1, dtype=np.int64).astype(np.float64)[:, None]  # exact digital offset removal
    if not details_wanted:
        return acc, None
    return acc, args.pre
