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


def imc_matmul_ref(x, w, *, rows, mode, input_bits, input_signed_array, weight_bits, encoding, slice_bits,
                   o, d, n, floor_mode, shift, sign_magnitude=False, offset_constant=None, tiles=None):
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
        pad[:, :t1 - t0] = u[:, t0:t1]
        for p in range(nbits):
            by = np.packbits(((pad >> p) & 1).astype(np.uint8), axis=1, bitorder="little")  # (L, wpt * 8)
            out[:, p, t * wpt:(t + 1) * wpt] = by.reshape(n_l, wpt, 8).view("<u8")[..., 0]
    return out
