"""Numba kernels for IMC crossbar simulation (refquant.imc).

Private: no validation; refquant.imc prepares every argument. Twin:
refquant._reference.imc (shares no code; computes with int64 matmuls and
the ADC formula directly).

ADC semantics (see refquant.imc.ADCSpec): codes ``0 .. n_codes-1``, offset ``o``,
step ``D``; floor: ``q = clip(floor((a - o) / D))``, ``a_hat = o + (q + 0.5) * D``;
round: ``q = clip(rint((a - o) / D))``, ``a_hat = o + q * D``; all float64.

* ``adc_convert_accumulate`` (multi-bit mode): converts one tile's exact
  integer partial sums ``y`` (held in float64, exact by the accumulator
  bound) and adds the reconstructions into ``acc`` (tiles in ascending order).
* ``bpbs_kernel``: bit-packed planes. For every batch row, output column, tile,
  input bit-plane ``b``, weight slice ``c`` and polarity:
  ``a = sum_k 2^k sum popcount(xbits & wbits_k)`` over the tile's 64-bit words
  (exact integer; ``k`` runs over the bits of a multi-bit cell), ``a_hat = lut[a]`` (the ADC
  applied to every possible plane sum, precomputed by the caller with the
  formula above), and ``acc += coef[b, c] * a_hat`` with
  ``coef = s_b * s_c * 2^(b + c*beta)`` (signed shift-and-add, exact
  power-of-two scaling). Accumulation order: tiles, then ``b``, then ``c``
  (then polarity +, -), all ascending. ``prange`` over batch rows; no
  cross-iteration reduction.
"""
from __future__ import annotations

import numpy as np
from numba import config, njit, prange, types
from numba.extending import intrinsic

if config.DISABLE_JIT:  # pure-Python run (coverage): same results, no LLVM intrinsic available

    def popcount64(x):
        return bin(int(x) & 0xFFFFFFFFFFFFFFFF).count("1")

else:

    @intrinsic
    def popcount64(typingctx, x):
        """LLVM ctpop on a uint64 (one POPCNT instruction)."""
        sig = types.uint64(types.uint64)

        def codegen(context, builder, signature, args):
            return builder.ctpop(args[0])

        return sig, codegen


@njit(cache=True)
def adc_convert_accumulate(y, o, step, n_codes, floor_mode, acc):
    """acc[i, j] += ADC(y[i, j]) for one tile; y float64 holding exact integers.

    Serial on purpose: it follows a BLAS GEMM, whose spinning worker threads would otherwise compete with
    Numba's for the cores (measured: a parallel version cost ~8 ms of scheduling for 0.1 ms of work).
    """
    batch, out = y.shape
    top = float(n_codes - 1)
    for i in range(batch):
        for j in range(out):
            t = (y[i, j] - o) / step
            if floor_mode:
                q = np.floor(t)
            else:
                q = np.rint(t)
            q = min(max(q, 0.0), top)
            if floor_mode:
                acc[i, j] += o + (q + 0.5) * step
            else:
                acc[i, j] += o + q * step


@njit(cache=True, parallel=True)
def bpbs_kernel(xbits, wbits_t, words_per_tile, coef, lut, acc):
    """Bit-parallel / bit-serial crossbar with per-(tile, plane, slice, polarity) ADC conversion.

    xbits   : uint64 (batch, n_planes, n_words)            bit-packed input bit-planes; tile t owns words
                                                            [t*words_per_tile, (t+1)*words_per_tile) (zero padded)
    wbits_t : uint64 (n_pol, n_slices, beta, n_words, out) bit-packed weight cells, one plane per cell bit,
                                                            output columns innermost (the vectorised loop)
    coef    : float64 (n_pol, n_planes, n_slices)          signed shift-and-add weights (polarity sign included)
    lut     : float64 (max_sum + 1,)                       ADC reconstruction of every possible plane sum
    acc     : float64 (batch, out)                         output (overwritten)

    The plane sum of a slice with beta-bit cells is a = sum_k 2^k * popcount(x & w_k) (exact).
    Per output the terms are added in the order tile, plane, slice, polarity (ascending).
    """
    batch, n_planes, n_words = xbits.shape
    n_pol, n_slices, beta, _, out = wbits_t.shape
    n_tiles = n_words // words_per_tile
    for i in prange(batch):
        # all plane sums of one tile first (each weight row is loaded once and used for every input plane),
        # then the conversions and the shift-and-add in the documented order
        sums = np.empty((n_planes, n_slices, n_pol, out), dtype=np.int64)
        tot = np.zeros(out, dtype=np.float64)
        for t in range(n_tiles):
            w0 = t * words_per_tile
            sums[:] = 0
            for c in range(n_slices):
                for p in range(n_pol):
                    for k in range(beta):
                        for w in range(w0, w0 + words_per_tile):
                            row = wbits_t[p, c, k, w]
                            for b in range(n_planes):
                                xv = xbits[i, b, w]
                                acc_b = sums[b, c, p]
                                for j in range(out):
                                    acc_b[j] += np.int64(popcount64(xv & row[j])) << k
            for b in range(n_planes):
                for c in range(n_slices):
                    for p in range(n_pol):
                        cf = coef[p, b, c]
                        s_bcp = sums[b, c, p]
                        for j in range(out):
                            tot[j] += cf * lut[s_bcp[j]]
        for j in range(out):
            acc[i, j] = tot[j]


@njit(cache=True, parallel=True)
def pack_planes_kernel(u, nbits, tile_starts, tile_lens, words_per_tile, out):
    """out[l, p, t*wpt + r // 64] bit (r % 64) = bit p of u[l, tile_starts[t] + r], for r < tile_lens[t].

    u : int64 (L, K) non-negative codes; out : uint64 (L, nbits, n_tiles * wpt), zero-initialised.
    Each 64-bit word is assembled in a register, then stored once.
    """
    n_l = u.shape[0]
    for l in prange(n_l):
        for t in range(tile_starts.shape[0]):
            base = t * words_per_tile
            for wd in range(words_per_tile):
                r0 = wd * 64
                rn = min(64, tile_lens[t] - r0)
                if rn <= 0:
                    break
                s0 = tile_starts[t] + r0
                for p in range(nbits):
                    word = np.uint64(0)
                    for r in range(rn):
                        word |= np.uint64((u[l, s0 + r] >> p) & 1) << np.uint64(r)
                    out[l, p, base + wd] = word
