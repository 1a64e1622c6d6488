"""Bit-plane and weight-panel packing for the BPBS crossbar kernel, and the unpacked forms used by details and
moments (private to refquant.imc; twin of the packing kernels: ``refquant._reference.imc.packed_planes_ref``)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._kernels._threads import threads_for
from ..specs import CrossbarSpec

#: Packing calls with fewer bit extractions (codes x bits) run on one Numba thread (threads_for); the packing
#: kernels are memory-bound loops, far below the cost of waking a second thread on a loaded machine (see
#: refquant.imc.crossbar.BPBS_PARALLEL_THRESHOLD for the measurement).
PACK_PARALLEL_THRESHOLD = 2**24

_PANEL = 256  # output columns per weight panel of the BPBS kernel (measured: 256 > 128 > 64 > 512 at 512 columns)


def _tiles(k: int, rows: int, tiling: str = "full_first") -> list[tuple[int, int]]:
    """``(t0, t1)`` row ranges of the tiles of a dot product of length ``k``: "full_first" (full tiles, the last
    one may be shorter) or "even" (``ceil(k / rows)`` tiles, lengths differing by at most one, longer first)."""
    if tiling == "full_first":
        return [(t0, min(t0 + rows, k)) for t0 in range(0, k, rows)]
    n_t = -(-k // rows)
    base, extra = divmod(k, n_t)
    bounds, t0 = [], 0
    for t in range(n_t):
        t1 = t0 + base + (1 if t < extra else 0)
        bounds.append((t0, t1))
        t0 = t1
    return bounds


def _n_tiles(k: int, rows: int) -> int:
    """``len(_tiles(k, rows))`` without building the list."""
    return -(-k // rows)


def _tile_bounds(tiles) -> tuple[np.ndarray, np.ndarray]:
    """Tile starts and lengths as int64 arrays (the packing kernels' arguments)."""
    starts = np.array([t0 for t0, _ in tiles], dtype=np.int64)
    lens = np.array([t1 - t0 for t0, t1 in tiles], dtype=np.int64)
    return starts, lens


class _PackPlanesArgs(NamedTuple):
    """The exact arguments of ``pack_planes_kernel`` (same names, same order); ``out`` allocated (zeros)."""

    u: np.ndarray
    nbits: int
    tile_starts: np.ndarray
    tile_lens: np.ndarray
    words_per_tile: int
    out: np.ndarray


def _prepare_pack_planes(u: np.ndarray, nbits: int, tiles, wpt: int) -> _PackPlanesArgs:
    """Codes ``u`` (..., K) -> the plane-packing kernel's arguments (codes flattened to (L, K) int64)."""
    flat = np.ascontiguousarray(u.reshape(-1, u.shape[-1]), dtype=np.int64)
    starts, lens = _tile_bounds(tiles)
    out = np.zeros((flat.shape[0], nbits, len(tiles) * wpt), dtype=np.uint64)
    return _PackPlanesArgs(flat, nbits, starts, lens, wpt, out)


def _packed_planes(u: np.ndarray, nbits: int, tiles, wpt: int) -> np.ndarray:
    """Bit-planes of non-negative codes ``u`` (..., K), packed: uint64 (..., nbits, n_tiles * wpt).

    Plane ``p`` holds bit ``p`` of every code; row ``i`` of tile ``t`` is bit ``i - t0`` of word block
    ``t``, each tile starting at a word boundary, zero padded.
    """
    from .._kernels.imc import pack_planes_kernel

    args = _prepare_pack_planes(u, nbits, tiles, wpt)
    with threads_for(args.u.size * nbits, PACK_PARALLEL_THRESHOLD):
        pack_planes_kernel(*args)
    return args.out.reshape(u.shape[:-1] + (nbits, len(tiles) * wpt))


class _PackPanelsArgs(NamedTuple):
    """The exact arguments of ``pack_panels_kernel`` (same names, same order); ``out`` allocated (zeros)."""

    mags: np.ndarray
    nbits: int
    tile_starts: np.ndarray
    tile_lens: np.ndarray
    out: np.ndarray


def _prepare_pack_panels(mags: np.ndarray, n_sl: int, beta: int, tiles, wpt: int) -> _PackPanelsArgs:
    """Cell magnitudes (pol, K, out) -> the panel-packing kernel's arguments; ``out`` is
    (n_tiles, n_blocks, pol, S * beta, wpt, P) with ``P = min(_PANEL, out rounded up to 8)``."""
    n_pol, _, out = mags.shape
    pw = min(_PANEL, -(-out // 8) * 8)
    n_blocks = -(-out // pw)
    panels = np.zeros((len(tiles), n_blocks, n_pol, n_sl * beta, wpt, pw), dtype=np.uint64)
    starts, lens = _tile_bounds(tiles)
    return _PackPanelsArgs(np.ascontiguousarray(mags, dtype=np.int64), n_sl * beta, starts, lens, panels)


def _column_panels(mags: np.ndarray, n_sl: int, beta: int, tiles, wpt: int) -> np.ndarray:
    """Cell magnitudes (pol, K, out) -> bit-packed column panels for ``bpbs_kernel``.

    Returns uint64 (n_tiles, n_blocks, pol, S, beta, wpt, P) with ``P = min(_PANEL, out rounded up to 8)``:
    block ``q`` holds output columns ``q*P .. q*P + P - 1``; bit ``r`` of word ``wd`` is row
    ``t0 + 64*wd + r`` of tile ``t``; padding (rows past the tile, columns past ``out``) is zero
    (those cells add nothing; padded columns are computed and discarded).
    """
    from .._kernels.imc import pack_panels_kernel

    args = _prepare_pack_panels(mags, n_sl, beta, tiles, wpt)
    with threads_for(mags.size * n_sl * beta, PACK_PARALLEL_THRESHOLD):
        pack_panels_kernel(*args)
    n_t, n_blocks, n_pol, _, _, pw = args.out.shape
    return args.out.reshape(n_t, n_blocks, n_pol, n_sl, beta, wpt, pw)


def _plane_signs(nbits: int, signed: bool) -> np.ndarray:
    """Input bit-plane signs ``s_b`` (``-1`` for the MSB of a signed two's-complement input, else ``+1``)."""
    signs = np.ones(nbits)
    if signed:
        signs[-1] = -1.0
    return signs


def _spec_plane_signs(spec: CrossbarSpec) -> np.ndarray:
    """The plane signs of ``spec``: all ``+1`` for sign-magnitude planes (the sign drives the row)."""
    if spec.sign_magnitude:
        return np.ones(spec.n_planes)
    return _plane_signs(spec.n_planes, spec.array_input_signed)


def _input_planes(xe: np.ndarray, spec: CrossbarSpec) -> tuple[np.ndarray, np.ndarray]:
    """Bit-planes (batch, n_planes, K) as the rows see them (unpacked, int8: 0/1, or -1/0/1 for sign-magnitude
    planes, ``sign(x) * bit_b(|x|)``) and the plane signs ``s_b``."""
    nbits = spec.n_planes
    if spec.sign_magnitude:
        mag = np.abs(xe)
        planes = ((mag[:, None, :] >> np.arange(nbits)[None, :, None]) & 1) * np.sign(xe)[:, None, :]
        return planes.astype(np.int8), _spec_plane_signs(spec)
    u = xe & ((1 << nbits) - 1)
    planes = ((u[:, None, :] >> np.arange(nbits)[None, :, None]) & 1).astype(np.int8)
    return planes, _spec_plane_signs(spec)


def _kernel_planes(xe: np.ndarray, spec: CrossbarSpec, tiles, wpt: int) -> np.ndarray:
    """Packed planes for ``bpbs_kernel``: (batch, n_planes, words), or for sign-magnitude planes
    (batch, 2 * n_planes, words) = the magnitude planes of the positive inputs, then of the negative ones."""
    nb = spec.n_planes
    if spec.sign_magnitude:
        pos = np.where(xe > 0, xe, 0)
        neg = np.where(xe < 0, -xe, 0)
        return np.concatenate([_packed_planes(pos, nb, tiles, wpt), _packed_planes(neg, nb, tiles, wpt)], axis=1)
    return _packed_planes(xe & ((1 << nb) - 1) if spec.array_input_signed else xe, nb, tiles, wpt)


def _weight_magnitudes(w: np.ndarray, spec: CrossbarSpec):
    """Per-polarity cell magnitudes (n_pol, K, out), slice signs, polarity signs, digital offset.

    Two's complement: ``w`` itself (int64), whose bits ``0 .. B_w - 1`` are those of ``w mod 2^B_w``
    (every reader takes only those bits); offset: ``w + spec.offset_constant``; differential: ``max(+-w, 0)``.
    """
    s = spec.n_slices
    if spec.weight_encoding == "twos_complement":
        slice_sign = np.ones(s)
        slice_sign[-1] = -1.0
        return w[None], slice_sign, np.array([1.0]), 0
    if spec.weight_encoding == "offset":
        off = spec.offset_constant  # 2^(Bw-1) - 1 ("w_max") or 2^(Bw-1) ("half_range")
        return (w + off)[None], np.ones(s), np.array([1.0]), off
    return np.stack([np.maximum(w, 0), np.maximum(-w, 0)]), np.ones(s), np.array([1.0, -1.0]), 0


def _shift_add_coef(spec: CrossbarSpec, slice_sign: np.ndarray, pol: np.ndarray) -> np.ndarray:
    """Signed shift-and-add weights ``coef[p, b, c] = pol_p * s_b * s_c * 2^(b + c*beta)`` (float64, exact)."""
    nb, beta, n_sl = spec.n_planes, spec.slice_bits, spec.n_slices
    plane_sign = _spec_plane_signs(spec)
    return np.ascontiguousarray(
        pol[:, None, None]
        * plane_sign[None, :, None]
        * slice_sign[None, None, :]
        * 2.0 ** (np.arange(nb)[None, :, None] + beta * np.arange(n_sl)[None, None, :])
    )


def _cell_values(w: np.ndarray, spec: CrossbarSpec) -> np.ndarray:
    """Integer cell values (out, n_pol, n_slices, K): slice ``c`` of each polarity's magnitude, unpacked."""
    mags, _, _, _ = _weight_magnitudes(w, spec)
    mags = np.swapaxes(mags, 1, 2)  # (pol, out, K)
    beta, s = spec.slice_bits, spec.n_slices
    cells = (mags[:, :, None, :] >> (beta * np.arange(s))[None, None, :, None]) & ((1 << beta) - 1)
    return np.moveaxis(cells, 0, 1).astype(np.int64)
