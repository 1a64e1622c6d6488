"""Bit-plane and weight-panel packing for the BPBS crossbar kernel, and the unpacked forms used by details and
moments (private to refquant.imc; twin of the packing kernels: ``refquant._reference.imc.packed_planes_ref``)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..specs import CrossbarSpec

_PANEL = 256  # output columns per weight panel of the BPBS kernel (measured: 256 > 128 > 64 > 512 at 512 columns)


def _tiles(k: int, rows: int) -> list[tuple[int, int]]:
    """``(t0, t1)`` row ranges of the tiles of a dot product of length ``k`` (the last one may be shorter)."""
    return [(t0, min(t0 + rows, k)) for t0 in range(0, k, rows)]


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
    pack_panels_kernel(*args)
    n_t, n_blocks, n_pol, _, _, pw = args.out.shape
    return args.out.reshape(n_t, n_blocks, n_pol, n_sl, beta, wpt, pw)


def _plane_signs(nbits: int, signed: bool) -> np.ndarray:
    """Input bit-plane signs ``s_b`` (``-1`` for the MSB of a signed input, else ``+1``)."""
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


def _shift_add_coef(spec: CrossbarSpec, slice_sign: np.ndarray, pol: np.ndarray) -> np.ndarray:
    """Signed shift-and-add weights ``coef[p, b, c] = pol_p * s_b * s_c * 2^(b + c*beta)`` (float64, exact)."""
    nb, beta, n_sl = spec.input_bits, spec.slice_bits, spec.n_slices
    plane_sign = _plane_signs(nb, spec.array_input_signed)
    return np.ascontiguousarray(pol[:, None, None] * plane_sign[None, :, None] * slice_sign[None, None, :]
                                * 2.0 ** (np.arange(nb)[None, :, None] + beta * np.arange(n_sl)[None, None, :]))


def _cell_values(w: np.ndarray, spec: CrossbarSpec) -> np.ndarray:
    """Integer cell values (out, n_pol, n_slices, K): slice ``c`` of each polarity's magnitude, unpacked."""
    mags, _, _, _ = _weight_magnitudes(w, spec)
    mags = np.swapaxes(mags, 1, 2)  # (pol, out, K)
    beta, s = spec.slice_bits, spec.n_slices
    cells = (mags[:, :, None, :] >> (beta * np.arange(s))[None, None, :, None]) & ((1 << beta) - 1)
    return np.moveaxis(cells, 0, 1).astype(np.int64)
