"""Plain-NumPy twin of :mod:`refquant._kernels.imc` (the oracle for refquant.imc).

Written from the definitions, with int64 matmuls for every analog partial sum
(no bit packing, no float GEMM) and the ADC formula applied directly; the
accumulation order is the kernels' (tiles, then input plane, then slice, then
polarity, ascending), so results are bit-identical.
"""

from __future__ import annotations

import numpy as np


def _adc(a, o, d, n, floor_mode):
    t = (a - o) / d
    if floor_mode:
        q = np.clip(np.floor(t), 0, n - 1)
        return o + (q + 0.5) * d
    q = np.clip(np.rint(t), 0, n - 1)
    return o + q * d


def imc_matmul_ref(
    x,
    w,
    *,
    rows,
    mode,
    input_bits,
    input_signed_array,
    weight_bits,
    encoding,
    slice_bits,
    o,
    d,
    n,
    floor_mode,
    shift,
    sign_magnitude=False,
    offset_constant=None,
    tiles=None,
):
    """The crossbar from its definitions. ``o, d``: scalars, or one value per weight slice (BPBS);
    ``sign_magnitude``: planes ``sign(x) * bit_b(|x|)`` (as many as the largest magnitude needs, given by
    ``input_bits`` minus one for signed codes whose magnitude fits ``input_bits - 1`` bits: the caller passes
    the plane count as ``input_bits``) with all-positive coefficients; ``offset_constant``: the offset
    encoding's constant (default ``2^(Bw-1) - 1``); ``tiles``: explicit ``(t0, t1)`` bounds (default: full
    tiles of ``rows`` then the remainder)."""
    x = x.astype(np.int64) - shift
    w = w.astype(np.int64)
    batch, k = x.shape
    out = w.shape[1]
    if tiles is None:
        tiles = [(t0, min(t0 + rows, k)) for t0 in range(0, k, rows)]
    comp = (shift * w.sum(axis=0)).astype(np.float64)
    if mode == "multibit":
        acc = np.zeros((batch, out))
        for t0, t1 in tiles:
            acc = acc + _adc((x[:, t0:t1] @ w[t0:t1]).astype(np.float64), o, d, n, floor_mode)
        return acc + comp
    # BPBS from the definitions
    if sign_magnitude:
        xb = [np.sign(x) * ((np.abs(x) >> b) & 1) for b in range(input_bits)]
        sb = [1.0] * input_bits
    else:
        u = x & ((1 << input_bits) - 1)
        xb = [(u >> b) & 1 for b in range(input_bits)]
        sb = [(-1.0 if (input_signed_array and b == input_bits - 1) else 1.0) for b in range(input_bits)]
    if encoding == "twos_complement":
        mags, pols, offset = [w & ((1 << weight_bits) - 1)], [1.0], 0
        n_sl = weight_bits
        sc = [1.0] * (n_sl - 1) + [-1.0]
    elif encoding == "offset":
        offset = 2 ** (weight_bits - 1) - 1 if offset_constant is None else offset_constant
        mags, pols = [w + offset], [1.0]
        n_sl = -(-weight_bits // slice_bits)
        sc = [1.0] * n_sl
    else:
        mags, pols, offset = [np.maximum(w, 0), np.maximum(-w, 0)], [1.0, -1.0], 0
        n_sl = -(-(weight_bits - 1) // slice_bits)
        sc = [1.0] * n_sl
    o_s = np.broadcast_to(np.asarray(o, dtype=np.float64), (n_sl,))
    d_s = np.broadcast_to(np.asarray(d, dtype=np.float64), (n_sl,))
    cell_mask = (1 << slice_bits) - 1
    acc = np.zeros((batch, out))
    for t0, t1 in tiles:
        for b in range(input_bits):
            for c in range(n_sl):
                for p, m in enumerate(mags):
                    cells = (m[t0:t1] >> (c * slice_bits)) & cell_mask
                    a = (xb[b][:, t0:t1] @ cells).astype(np.float64)
                    coef = pols[p] * sb[b] * sc[c] * 2.0 ** (b + c * slice_bits)
                    acc = acc + coef * _adc(a, o_s[c], d_s[c], n, floor_mode)
    if offset:
        acc = acc - offset * x.sum(axis=1).astype(np.float64)[:, None]
    return acc + comp


def packed_planes_ref(u, nbits, tiles, wpt):
    """Twin of the plane packing (``pack_planes_kernel``, and ``pack_panels_kernel`` up to its layout).

    u : non-negative int64 (L, K). Returns uint64 (L, nbits, n_tiles * wpt): word ``t*wpt + wd`` of plane
    ``p`` has bit ``r`` = bit ``p`` of ``u[l, t0 + 64*wd + r]`` (zero past the tile). Built with
    ``np.packbits`` (little bit order) on a zero-padded copy, then 8 bytes read as one little-endian word.
    """
    n_l = u.shape[0]
    out = np.zeros((n_l, nbits, len(tiles) * wpt), dtype=np.uint64)
    for t, (t0, t1) in enumerate(tiles):
        pad = np.zeros((n_l, wpt * 64), dtype=np.int64)
        pad[:, : t1 - t0] = u[:, t0:t1]
        for p in range(nbits):
            by = np.packbits(((pad >> p) & 1).astype(np.uint8), axis=1, bitorder="little")  # (L, wpt * 8)
            out[:, p, t * wpt : (t + 1) * wpt] = by.reshape(n_l, wpt, 8).view("<u8")[..., 0]
    return out


def _unpack_words(words: np.ndarray, axis: int) -> np.ndarray:
    """uint64 words along ``axis`` -> their bits along that axis (64 per word, least significant first), uint8."""
    w = np.ascontiguousarray(np.moveaxis(words, axis, -1)).astype("<u8")
    bits = np.unpackbits(w.view(np.uint8), axis=-1, bitorder="little")
    return np.moveaxis(bits, -1, axis)


def _adc_qt(a, o, step, inv_step, n, floor_mode, use_inv):
    """The ADC of the module docstring, with ``(a - o) * inv_step`` instead of ``(a - o) / step`` when ``use_inv``:
    ``(code, reconstruction)``."""
    t = (a - o) * inv_step if use_inv else (a - o) / step
    if floor_mode:
        q = np.clip(np.floor(t), 0, n - 1)
        return q, o + (q + 0.5) * step
    q = np.clip(np.rint(t), 0, n - 1)
    return q, o + q * step


def adc_convert_accumulate_prepared(y, o, step, n_codes, floor_mode, acc) -> None:
    """Twin of ``adc_convert_accumulate`` on its own arguments: ``acc += ADC(y)`` (y promoted to float64)."""
    acc[...] = acc + _adc(np.asarray(y, dtype=np.float64), o, step, n_codes, floor_mode)


def bpbs_prepared(
    xbits, wpan, coef, o, step, inv_step, n_codes, floor_mode, use_inv, signmag, row_block, details, acc, pre
) -> None:
    """Twin of ``bpbs_kernel`` on its own (packed) arguments, written from the definitions.

    Unpacks the input planes and the weight panels with ``np.unpackbits`` (cell value = sum_k 2^k bit_k),
    forms every plane sum with an int64 matmul per (tile, panel, plane, slice, polarity), and adds
    ``coef[p, b, c] * ADC(a)`` in the order tile, plane, slice, polarity (ascending), starting from 0.
    With ``signmag`` the input holds 2 * n_planes planes (magnitudes of the positive inputs, then of the
    negative ones) and the plane sum is the positive-row sum minus the negative-row sum (bipolar ADC).
    ``row_block`` only schedules the kernel's work (ignored here); with ``details`` every plane sum is written
    to ``pre[i, t, b, p, c, j]``.
    """
    batch, n_xp, _ = xbits.shape
    nb = coef.shape[1]
    n_tiles, n_blocks, n_pol, n_sl, beta, wpt, pw = wpan.shape
    out = acc.shape[1]
    xb = _unpack_words(xbits.reshape(batch, n_xp, n_tiles, wpt), 3).astype(np.int64)  # (batch, n_xp, tiles, wpt*64)
    if signmag:
        xb = xb[:, :nb] - xb[:, nb:]  # per row: +bit for a positive input, -bit for a negative one
    wb = _unpack_words(wpan, 5).astype(np.int64)  # (tiles, blocks, pol, S, beta, wpt*64, P)
    cells = sum(wb[:, :, :, :, k] << k for k in range(beta))  # (tiles, blocks, pol, S, wpt*64, P)
    tot = np.zeros((batch, n_blocks * pw))
    for t in range(n_tiles):
        for b in range(nb):
            for c in range(n_sl):
                for p in range(n_pol):
                    a = np.concatenate([xb[:, b, t] @ cells[t, q, p, c] for q in range(n_blocks)], axis=1)
                    _, r_ = _adc_qt(a.astype(np.float64), o[c], step[c], inv_step[c], n_codes, floor_mode, use_inv)
                    tot = tot + coef[p, b, c] * r_
                    if details:
                        pre[:, t, b, p, c] = a[:, :out]
    acc[...] = tot[:, :out]


def _tiles_of(tile_starts, tile_lens):
    return [(int(a), int(a + n)) for a, n in zip(tile_starts, tile_lens)]


def pack_planes_prepared(u, nbits, tile_starts, tile_lens, words_per_tile, out) -> None:
    """Twin of ``pack_planes_kernel`` on its own arguments (:func:`packed_planes_ref`)."""
    out[...] = packed_planes_ref(u, nbits, _tiles_of(tile_starts, tile_lens), words_per_tile)


def pack_panels_prepared(mags, nbits, tile_starts, tile_lens, out) -> None:
    """Twin of ``pack_panels_kernel``: every (polarity, column) packed as a plane row by :func:`packed_planes_ref`,
    columns zero padded to ``n_blocks * P`` and rearranged to ``out[t, q, p, bit, word, j]``."""
    n_pol, k, n_out = mags.shape
    n_tiles, n_blocks, _, _, wpt, pw = out.shape
    planes = packed_planes_ref(np.swapaxes(mags, 1, 2).reshape(-1, k), nbits, _tiles_of(tile_starts, tile_lens), wpt)
    full = np.zeros((n_pol, n_blocks * pw, nbits, n_tiles * wpt), dtype=np.uint64)
    full[:, :n_out] = planes.reshape(n_pol, n_out, nbits, n_tiles * wpt)
    out[...] = full.reshape(n_pol, n_blocks, pw, nbits, n_tiles, wpt).transpose(4, 1, 0, 3, 5, 2)
