"""Numba kernels for IMC crossbar simulation (refquant.imc).

Private: no validation; refquant.imc prepares every argument. Twin:
refquant._reference.imc (shares no code; computes with int64 matmuls and
the ADC formula directly).

ADC semantics (see refquant.specs.ADCSpec): codes ``0 .. n_codes-1``, offset ``o``,
step ``D``; floor: ``q = clip(floor((a - o) / D))``, ``a_hat = o + (q + 0.5) * D``;
round: ``q = clip(rint((a - o) / D))``, ``a_hat = o + q * D``; all float64.

* ``adc_convert_accumulate`` (multi-bit mode): converts one tile's exact
  integer partial sums ``y`` (held in float32 or float64, exact by the
  accumulator bound; float32 values are promoted to float64 exactly) and adds
  the reconstructions into ``acc`` (tiles in ascending order).
* ``bpbs_kernel``: bit-packed planes, weights in column panels. For every batch row, output column, tile,
  input bit-plane ``b``, weight slice ``c`` and polarity:
  ``a = sum_k 2^k sum popcount(xbits & wbits_k)`` over the tile's 64-bit words
  (exact integer; ``k`` runs over the bits of a multi-bit cell), ``a_hat`` = the ADC
  formula above applied to ``a``, and ``acc += coef[b, c] * a_hat`` with
  ``coef = s_b * s_c * 2^(b + c*beta)`` (signed shift-and-add, exact
  power-of-two scaling; ``o``, ``D`` may differ per weight slice ``c``; with sign-magnitude
  planes ``a`` is the positive rows' sum minus the negative rows' sum). Accumulation order: tiles, then ``b``,
  then ``c`` (then polarity +, -), all ascending. ``prange`` over (batch-row block, column panel) pairs,
  each owning its outputs: no cross-iteration reduction.
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


@njit(cache=True, inline="always")
def _adc_reconstruct(a, o, step, inv_step, top, floor_mode, use_inv):
    """ADC reconstruction of one pre-ADC value ``a`` (the formula of the module docstring; its one statement in
    the kernels).

    ``(a - o) / step`` is evaluated as ``(a - o) * inv_step`` when ``use_inv``: the caller sets it only after
    checking, for every plane sum the crossbar can produce, that both give the same code (so the
    reconstruction, ``o + q * step`` or ``o + (q + 0.5) * step``, is the same float).
    """
    if use_inv:
        t = (np.float64(a) - o) * inv_step
    else:
        t = (np.float64(a) - o) / step  # explicit float64: pure Python (no JIT) would keep a float32 a
    if floor_mode:
        q = min(max(np.floor(t), 0.0), top)
        return o + (q + 0.5) * step
    q = min(max(np.rint(t), 0.0), top)
    return o + q * step


@njit(cache=True)
def adc_convert_accumulate(y, o, step, n_codes, floor_mode, acc):
    """acc[i, j] += ADC(y[i, j]) for one tile; y float32/float64 holding exact integers.

    Serial on purpose: it follows a BLAS GEMM, whose spinning worker threads would otherwise compete with
    Numba's for the cores (measured: a parallel version cost ~8 ms of scheduling for 0.1 ms of work).
    """
    batch, out = y.shape
    top = float(n_codes - 1)
    for i in range(batch):
        for j in range(out):
            acc[i, j] += _adc_reconstruct(y[i, j], o, step, 1.0, top, floor_mode, False)


@njit(cache=True, inline="always")
def _popcount_block(xt, blk, w, width, n_planes, sums_cp, k):
    """``sums_cp[b, j] += (sum over words w .. w+width-1 of popcount(xt[b, word] & blk[word, j])) << k``.

    The one statement of the plane-sum inner loop. The caller passes ``width`` = 8, 4 or 1 as a literal
    (inlined, so the word loop has a constant trip count that LLVM unrolls); the words' popcounts are added
    in a register before one store per column, the columns being the vectorised loop. ``sums_cp`` is int32
    (a plane sum is at most ``rows * (2^beta - 1) < 2^28``), so the ADC's int-to-float conversion is one
    native instruction per lane (AVX2 has none for int64).
    """
    for b in range(n_planes):
        s = sums_cp[b]
        for j in range(s.shape[0]):
            a = np.int64(0)
            for u in range(width):
                a += np.int64(popcount64(xt[b, w + u] & blk[w + u, j]))
            s[j] += np.int32(a << k)


@njit(cache=True, parallel=True)
def bpbs_kernel(
    xbits, wpan, coef, o, step, inv_step, n_codes, floor_mode, use_inv, signmag, row_block, details, acc, pre
):
    """Bit-parallel / bit-serial crossbar with per-(tile, plane, slice, polarity) ADC conversion.

    xbits : uint64 (batch, n_xp, n_tiles * wpt)                      bit-packed input bit-planes; tile t owns words
                                                                     [t*wpt, (t+1)*wpt) (zero padded). n_xp = n_planes,
                                                                     or 2 * n_planes when ``signmag``: the magnitude
                                                                     planes of the positive inputs, then of the
                                                                     negative ones
    wpan  : uint64 (n_tiles, n_blocks, n_pol, n_slices, beta, wpt, P) bit-packed weight cells in column panels:
                                                                     block q holds output columns [q*P, (q+1)*P)
                                                                     (zero padded), one plane per cell bit, columns
                                                                     innermost (the vectorised loop)
    coef  : float64 (n_pol, n_planes, n_slices)                      signed shift-and-add weights (polarity sign incl.)
    o, step, inv_step : float64 (n_slices,)                          the ADC of each weight slice (module docstring)
    n_codes, floor_mode : the ADC; use_inv: see ``_adc_reconstruct``
    signmag : bool                                                   plane sum = positive-row sum - negative-row sum
                                                                     (sign-magnitude planes, bipolar ADC)
    row_block : int >= 1                                             batch rows per parallel work unit
    details : bool                                                   also write every plane sum into ``pre``
    acc   : float64 (batch, out)                                     output (overwritten), out <= n_blocks * P
    pre   : float64 (batch, n_tiles, n_planes, n_pol, n_slices, out) the exact plane sums when ``details`` (any
                                                                     6-D float64 array otherwise; not touched)

    The plane sum of a slice with beta-bit cells is a = sum_k 2^k * popcount(x & w_k) (exact). The parallel
    work unit is one (block of ``row_block`` batch rows, column panel) pair, so a small batch still spreads
    over the threads by panels and a large one by rows; every unit owns its outputs (no reduction across
    units). Within a unit, per tile the panel's packed weights (one tile x panel, reused from cache by every
    row of the block) are ANDed with each row's planes: all plane sums of the row are formed first (eight,
    else four, else one weight word at a time, added in registers before one store; each weight panel row
    is reused for every input plane), then converted and shift-added; per output the terms are added in
    the order tile, plane, slice, polarity (ascending), exactly as documented in the module docstring.
    """
    batch, n_xp, n_words = xbits.shape
    n_tiles, n_blocks, n_pol, n_slices, beta, wpt, pw = wpan.shape
    n_planes = coef.shape[1]
    out = acc.shape[1]
    top = float(n_codes - 1)
    w8 = wpt - wpt % 8
    w4 = wpt - wpt % 4
    n_rb = (batch + row_block - 1) // row_block
    for unit in prange(n_rb * n_blocks):
        rb = unit // n_blocks
        q = unit - rb * n_blocks
        i0 = rb * row_block
        i1 = min(i0 + row_block, batch)
        j0 = q * pw
        nj = min(pw, out - j0)
        sums = np.empty((n_xp, n_slices, n_pol, pw), dtype=np.int32)
        tot = np.zeros((i1 - i0, pw), dtype=np.float64)
        for t in range(n_tiles):
            for i in range(i0, i1):
                xt = xbits[i, :, t * wpt : (t + 1) * wpt]
                sums[:] = 0
                for c in range(n_slices):
                    for p in range(n_pol):
                        for k in range(beta):
                            blk = wpan[t, q, p, c, k]  # (wpt, P), C-contiguous
                            for w in range(0, w8, 8):
                                _popcount_block(xt, blk, w, 8, n_xp, sums[:, c, p], k)
                            for w in range(w8, w4, 4):
                                _popcount_block(xt, blk, w, 4, n_xp, sums[:, c, p], k)
                            for w in range(w4, wpt):
                                _popcount_block(xt, blk, w, 1, n_xp, sums[:, c, p], k)
                if signmag:
                    for b in range(n_planes):
                        sums[b] -= sums[b + n_planes]
                tq = tot[i - i0]
                for b in range(n_planes):
                    for c in range(n_slices):
                        oc = o[c]
                        sc = step[c]
                        ic = inv_step[c]
                        for p in range(n_pol):
                            cf = coef[p, b, c]
                            s = sums[b, c, p]
                            if details:
                                pr = pre[i, t, b, p, c, j0 : j0 + nj]
                                for j in range(nj):
                                    pr[j] = s[j]
                            for j in range(pw):
                                tq[j] += cf * _adc_reconstruct(s[j], oc, sc, ic, top, floor_mode, use_inv)
        for i in range(i0, i1):
            for j in range(nj):
                acc[i, j0 + j] = tot[i - i0, j]


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


@njit(cache=True, parallel=True)
def pack_panels_kernel(mags, nbits, tile_starts, tile_lens, out):
    """Weight cells straight into ``bpbs_kernel``'s column panels.

    mags : int64 (n_pol, K, n_out) non-negative cell magnitudes (the caller's (K, out) layout, per polarity)
    out  : uint64 (n_tiles, n_blocks, n_pol, nbits, wpt, P), zero-initialised:
           ``out[t, q, p, sb, wd, j]`` bit ``r`` = bit ``sb`` of ``mags[p, tile_starts[t] + 64*wd + r, q*P + j]``
           for ``64*wd + r < tile_lens[t]`` and ``q*P + j < n_out`` (zero elsewhere).
    One (tile, panel) per parallel iteration; the loop over columns is the vectorised one.
    """
    n_pol, _, n_out = mags.shape
    n_tiles, n_blocks, _, _, wpt, pw = out.shape
    for tq in prange(n_tiles * n_blocks):
        t = tq // n_blocks
        q = tq - t * n_blocks
        j0 = q * pw
        nj = min(pw, n_out - j0)
        for p in range(n_pol):
            for sb in range(nbits):
                for wd in range(wpt):
                    r0 = wd * 64
                    rn = min(64, tile_lens[t] - r0)
                    if rn <= 0:
                        break
                    dst = out[t, q, p, sb, wd]
                    for r in range(rn):
                        src = mags[p, tile_starts[t] + r0 + r, j0 : j0 + nj]
                        sh = np.uint64(r)
                        for j in range(nj):
                            dst[j] |= np.uint64((src[j] >> sb) & 1) << sh
