"""numba kernels of :func:`edgefer.models.layers.kirsch.kirsch_fuse`: ``x + weight * kirsch(x)``
and its gradient, on NumPy views of CPU tensors, and :func:`run_kernel`, which calls them.

Six kernels: ``fuse_forward_nb`` / ``fuse_backward_nb`` on (N, H, W) planes,
``fuse_forward_nhwc_nb`` / ``fuse_backward_nhwc_nb`` on (B, H, W, C) arrays (channels_last
tensors), and their bfloat16 forms ``fuse_forward_nhwc_bf16_nb`` / ``fuse_backward_nhwc_bf16_nb``.

The plane kernels (``fuse_forward_nb``, ``fuse_backward_nb``) take (N, H, W) C-contiguous planes and loop over them in parallel.
Each plane is one flat, vectorisable loop over its inner rows, where the pixels of
the first and last columns swap their off-plane neighbours for the clamped ones by
selects (``_col_flags``), plus short loops for the first and last rows.

The forward kernel writes the fused output and, per pixel, the winning ring as a
bit mask (bit j set when neighbour j is on the ring), so that the backward kernel
needs no recomputation. The backward kernel is a gather: input pixel t receives
``E * grad[q]`` from each output pixel q of its 3x3 neighbourhood, where ``E`` sums
the coefficients ``8 * [j on q's ring] - 3`` of q's neighbours j whose (clamped)
position is t. Off the border that is one neighbour; on the border a clamped
neighbour index lands on t more than once, and q = t itself can contribute.

The small helpers are plain @njit functions that LLVM inlines into the loops (they
vectorise all the same); numba's inline="always" took minutes to compile the
backward kernel. Compiling both kernels takes a few seconds per dtype on the first
call; cache=True keeps the result in __pycache__ for later processes.

The definition of the Kirsch response (ring sums, winning ring) is in
:mod:`edgefer.models.layers.kirsch`.
"""
from __future__ import annotations

import numpy as np
import torch

try:  # numba is a dependency, but the CPU fast path must degrade gracefully.
    import numba
    from numba import njit, prange
except ImportError:  # pragma: no cover - exercised by monkeypatching HAVE_NUMBA
    numba = None
    HAVE_NUMBA = False
else:
    HAVE_NUMBA = True

# RING_MASKS[k] has bits k, k+1, k+2 (mod 8) set: the neighbours on ring k.
RING_MASKS = tuple(((7 << k) | (7 << k >> 8)) & 0xFF for k in range(8))

if HAVE_NUMBA:
    _M0, _M1, _M2, _M3, _M4, _M5, _M6, _M7 = RING_MASKS

    @njit(fastmath=False, nogil=True)
    def _kirsch_px(n0, n1, n2, n3, n4, n5, n6, n7, eight, three):  # pragma: no cover - compiled
        """Kirsch response and winning-ring mask from the 8 neighbours."""
        p0 = n0 + n1
        p1 = n1 + n2
        p2 = n2 + n3
        p3 = n3 + n4
        p4 = n4 + n5
        p5 = n5 + n6
        p6 = n6 + n7
        p7 = n7 + n0
        r0 = p0 + n2
        r1 = p1 + n3
        r2 = p2 + n4
        r3 = p3 + n5
        r4 = p4 + n6
        r5 = p5 + n7
        r6 = p6 + n0
        r7 = p7 + n1
        total = r0 + r3 + p6
        # strict '>' keeps the first maximum on ties, as torch.max does
        best = r0
        m = _M0
        if r1 > best:
            best = r1
            m = _M1
        if r2 > best:
            best = r2
            m = _M2
        if r3 > best:
            best = r3
            m = _M3
        if r4 > best:
            best = r4
            m = _M4
        if r5 > best:
            best = r5
            m = _M5
        if r6 > best:
            best = r6
            m = _M6
        if r7 > best:
            best = r7
            m = _M7
        # same operation order as _kirsch_planes, so both give identical values
        return eight * best - three * total, m

    @njit(cache=True, nogil=True)
    def _col_flags(h, w):  # pragma: no cover - compiled
        """Flat (H*W,) uint8: bit 0 on the first column, bit 1 on the last."""
        flags = np.zeros(h * w, np.uint8)
        for i in range(h):
            flags[i * w] |= 1
            flags[i * w + w - 1] |= 2
        return flags

    @njit(fastmath=False, nogil=True)
    def _fwd_px(xs, os, ms, i, j, wt, eight, three):  # pragma: no cover - compiled
        """One pixel of the forward pass, any position, with clamped indices."""
        h, w = xs.shape
        iu = max(i - 1, 0)
        idn = min(i + 1, h - 1)
        jl = max(j - 1, 0)
        jr = min(j + 1, w - 1)
        k, m = _kirsch_px(
            xs[iu, jl], xs[iu, j], xs[iu, jr], xs[i, jr],
            xs[idn, jr], xs[idn, j], xs[idn, jl], xs[i, jl], eight, three,
        )
        os[i, j] = xs[i, j] + wt * k
        ms[i, j] = m

    @njit(fastmath=False, nogil=True)
    def _fwd_row(xs, os, ms, i, wt, eight, three):  # pragma: no cover - compiled
        """Row i of the forward pass (used for the first and last rows)."""
        h, w = xs.shape
        up = xs[max(i - 1, 0)]
        mid = xs[i]
        dn = xs[min(i + 1, h - 1)]
        orow = os[i]
        mrow = ms[i]
        _fwd_px(xs, os, ms, i, 0, wt, eight, three)
        for j in range(1, w - 1):
            k, m = _kirsch_px(
                up[j - 1], up[j], up[j + 1], mid[j + 1],
                dn[j + 1], dn[j], dn[j - 1], mid[j - 1], eight, three,
            )
            orow[j] = mid[j] + wt * k
            mrow[j] = m
        if w > 1:
            _fwd_px(xs, os, ms, i, w - 1, wt, eight, three)

    @njit(parallel=True, fastmath=False, cache=True, nogil=True)
    def fuse_forward_nb(x, weight, out, mask):  # pragma: no cover - compiled
        """out = x + weight * kirsch(x) and mask = winning ring, for x (N, H, W)."""
        n_planes, h, w = x.shape
        wt = x.dtype.type(weight)
        eight = x.dtype.type(8)
        three = x.dtype.type(3)
        cols = _col_flags(h, w)
        n = (h - 2) * w
        for p in prange(n_planes):
            xs = x[p]
            os = out[p]
            ms = mask[p]
            if h < 3 or w < 3:
                for i in range(h):
                    _fwd_row(xs, os, ms, i, wt, eight, three)
                continue
            _fwd_row(xs, os, ms, 0, wt, eight, three)
            _fwd_row(xs, os, ms, h - 1, wt, eight, three)
            # rows 1..h-2 as one flat run; its first and last pixels would read
            # outside the plane, so they go through the clamped path
            _fwd_px(xs, os, ms, 1, 0, wt, eight, three)
            _fwd_px(xs, os, ms, h - 2, w - 1, wt, eight, three)
            xf = xs.reshape(h * w)
            up = xf
            mid = xf[w:]
            dn = xf[2 * w :]
            of = os.reshape(h * w)[w:]
            mf = ms.reshape(h * w)[w:]
            cf = cols[w:]
            for j in range(1, n - 1):
                c = cf[j]
                first = (c & 1) != 0
                last = (c & 2) != 0
                u = up[j]
                centre = mid[j]
                d = dn[j]
                k, m = _kirsch_px(
                    u if first else up[j - 1], u, u if last else up[j + 1],
                    centre if last else mid[j + 1], d if last else dn[j + 1], d,
                    d if first else dn[j - 1], centre if first else mid[j - 1],
                    eight, three,
                )
                of[j] = centre + wt * k
                mf[j] = m

    @njit(fastmath=False, nogil=True)
    def _c(m, bit, on, off):  # pragma: no cover - compiled
        """d kirsch / d n_bit: 5 (``on``) if neighbour ``bit`` is on the winning ring, else -3."""
        return on if (m >> bit) & 1 else off

    @njit(fastmath=False, nogil=True)
    def _grad_px(
        g00, g01, g02, g10, g11, g12, g20, g21, g22,
        m00, m01, m02, m10, m11, m12, m20, m21, m22,
        top, bottom, first, last, on, off, zero,
    ):  # pragma: no cover - compiled
        """(K^T g)[t] from the 3x3 outputs q = t + (r - 1, c - 1) (g_rc, mask m_rc).

        ``top``/``bottom``/``first``/``last`` say that t lies on that border: the
        outputs beyond it do not exist (their values are ignored) and the clamped
        neighbours of the outputs along it land on t.
        """
        s = zero
        # q up-left: t is its n4
        e = _c(m00, 4, on, off) * g00
        s += zero if (top or first) else e
        # q up: t is its n5 (and its n6 / n4 in the first / last column)
        e = _c(m01, 5, on, off)
        if first:
            e += _c(m01, 6, on, off)
        if last:
            e += _c(m01, 4, on, off)
        e = e * g01
        s += zero if top else e
        # q up-right: n6
        e = _c(m02, 6, on, off) * g02
        s += zero if (top or last) else e
        # q right: n7 (and n0 / n6 in the top / bottom row)
        e = _c(m12, 7, on, off)
        if top:
            e += _c(m12, 0, on, off)
        if bottom:
            e += _c(m12, 6, on, off)
        e = e * g12
        s += zero if last else e
        # q down-right: n0
        e = _c(m22, 0, on, off) * g22
        s += zero if (bottom or last) else e
        # q down: n1 (and n0 / n2)
        e = _c(m21, 1, on, off)
        if first:
            e += _c(m21, 0, on, off)
        if last:
            e += _c(m21, 2, on, off)
        e = e * g21
        s += zero if bottom else e
        # q down-left: n2
        e = _c(m20, 2, on, off) * g20
        s += zero if (bottom or first) else e
        # q left: n3 (and n2 / n4)
        e = _c(m10, 3, on, off)
        if top:
            e += _c(m10, 2, on, off)
        if bottom:
            e += _c(m10, 4, on, off)
        e = e * g10
        s += zero if first else e
        # q = t: on a border its outward neighbours are t itself
        e = zero
        if top:
            e += _c(m11, 1, on, off)
            if first:
                e += _c(m11, 0, on, off)
            if last:
                e += _c(m11, 2, on, off)
        if bottom:
            e += _c(m11, 5, on, off)
            if first:
                e += _c(m11, 6, on, off)
            if last:
                e += _c(m11, 4, on, off)
        if first:
            e += _c(m11, 7, on, off)
        if last:
            e += _c(m11, 3, on, off)
        s += e * g11
        return s

    @njit(fastmath=False, nogil=True)
    def _bwd_px(gs, ms, out, i, j, wt, on, off, zero):  # pragma: no cover - compiled
        """One pixel of the backward pass, any position, with clamped indices."""
        h, w = gs.shape
        iu = max(i - 1, 0)
        idn = min(i + 1, h - 1)
        jl = max(j - 1, 0)
        jr = min(j + 1, w - 1)
        s = _grad_px(
            gs[iu, jl], gs[iu, j], gs[iu, jr], gs[i, jl], gs[i, j], gs[i, jr],
            gs[idn, jl], gs[idn, j], gs[idn, jr],
            ms[iu, jl], ms[iu, j], ms[iu, jr], ms[i, jl], ms[i, j], ms[i, jr],
            ms[idn, jl], ms[idn, j], ms[idn, jr],
            i == 0, i == h - 1, j == 0, j == w - 1, on, off, zero,
        )
        out[i, j] = gs[i, j] + wt * s

    @njit(fastmath=False, nogil=True)
    def _bwd_row(gs, ms, out, i, wt, on, off, zero):  # pragma: no cover - compiled
        """Row i of the backward pass (used for the first and last rows)."""
        h, w = gs.shape
        top = i == 0
        bottom = i == h - 1
        gu = gs[max(i - 1, 0)]
        gm = gs[i]
        gd = gs[min(i + 1, h - 1)]
        mu = ms[max(i - 1, 0)]
        mm = ms[i]
        md = ms[min(i + 1, h - 1)]
        orow = out[i]
        _bwd_px(gs, ms, out, i, 0, wt, on, off, zero)
        for j in range(1, w - 1):
            s = _grad_px(
                gu[j - 1], gu[j], gu[j + 1], gm[j - 1], gm[j], gm[j + 1],
                gd[j - 1], gd[j], gd[j + 1],
                mu[j - 1], mu[j], mu[j + 1], mm[j - 1], mm[j], mm[j + 1],
                md[j - 1], md[j], md[j + 1],
                top, bottom, False, False, on, off, zero,
            )
            orow[j] = gm[j] + wt * s
        if w > 1:
            _bwd_px(gs, ms, out, i, w - 1, wt, on, off, zero)

    @njit(parallel=True, fastmath=False, cache=True, nogil=True)
    def fuse_backward_nb(g, mask, weight, grad):  # pragma: no cover - compiled
        """grad = g + weight * K^T g for g (N, H, W), K the Kirsch map at ``mask``."""
        n_planes, h, w = g.shape
        wt = g.dtype.type(weight)
        on = g.dtype.type(5)
        off = g.dtype.type(-3)
        zero = g.dtype.type(0)
        cols = _col_flags(h, w)
        n = (h - 2) * w
        for p in prange(n_planes):
            gs = g[p]
            ms = mask[p]
            out = grad[p]
            if h < 3 or w < 3:
                for i in range(h):
                    _bwd_row(gs, ms, out, i, wt, on, off, zero)
                continue
            _bwd_row(gs, ms, out, 0, wt, on, off, zero)
            _bwd_row(gs, ms, out, h - 1, wt, on, off, zero)
            _bwd_px(gs, ms, out, 1, 0, wt, on, off, zero)
            _bwd_px(gs, ms, out, h - 2, w - 1, wt, on, off, zero)
            gf = gs.reshape(h * w)
            mf = ms.reshape(h * w)
            gu = gf
            gm = gf[w:]
            gd = gf[2 * w :]
            mu = mf
            mm = mf[w:]
            md = mf[2 * w :]
            of = out.reshape(h * w)[w:]
            cf = cols[w:]
            for j in range(1, n - 1):
                c = cf[j]
                s = _grad_px(
                    gu[j - 1], gu[j], gu[j + 1], gm[j - 1], gm[j], gm[j + 1],
                    gd[j - 1], gd[j], gd[j + 1],
                    mu[j - 1], mu[j], mu[j + 1], mm[j - 1], mm[j], mm[j + 1],
                    md[j - 1], md[j], md[j + 1],
                    False, False, (c & 1) != 0, (c & 2) != 0, on, off, zero,
                )
                of[j] = gm[j] + wt * s

    # ----------------------------------------------------------------- channels_last
    #
    # The same two passes for (B, H, W, C) arrays, the layout of channels_last
    # tensors. Each pixel's channels are contiguous, so the inner loop runs over C
    # and every pixel, border or not, vectorises: the clamped neighbour of a border
    # pixel is just another column index. Off the border, rows 1..H-2 and columns
    # 1..W-2 take a loop without the border terms; the border pixels take one where
    # the border flags are numbers (1.0 on that border, else 0.0) multiplying the
    # extra terms, since branches on them keep the loop from vectorising.

    @njit(parallel=True, fastmath=False, cache=True, nogil=True)
    def fuse_forward_nhwc_nb(x, weight, out, mask):  # pragma: no cover - compiled
        """out = x + weight * kirsch(x) and mask = winning ring, for x (B, H, W, C)."""
        nb, h, w, nc = x.shape
        wt = x.dtype.type(weight)
        eight = x.dtype.type(8)
        three = x.dtype.type(3)
        ncu = np.uint64(nc)  # unsigned indices: no negative-index wraparound code
        for r in prange(nb * h):
            b = r // h
            i = r - b * h
            up = x[b, max(i - 1, 0)].reshape(w * nc)
            mid = x[b, i].reshape(w * nc)
            dn = x[b, min(i + 1, h - 1)].reshape(w * nc)
            orow = out[b, i].reshape(w * nc)
            mrow = mask[b, i].reshape(w * nc)
            for j in range(w):
                jl = np.uint64(max(j - 1, 0)) * ncu
                jc = np.uint64(j) * ncu
                jr = np.uint64(min(j + 1, w - 1)) * ncu
                for c in range(ncu):
                    k, m = _kirsch_px(
                        up[jl + c], up[jc + c], up[jr + c], mid[jr + c],
                        dn[jr + c], dn[jc + c], dn[jl + c], mid[jl + c], eight, three,
                    )
                    orow[jc + c] = mid[jc + c] + wt * k
                    mrow[jc + c] = m

    @njit(fastmath=False, nogil=True)
    def _bwd_inner_nhwc(gu, gm, gd, mu, mm, md, orow, j0, j1, nc, wt, on, off):  # pragma: no cover
        """Backward for columns j0..j1-1 of a row with all 8 neighbours inside the plane."""
        ncu = np.uint64(nc)
        for j in range(j0, j1):
            jl = np.uint64(j - 1) * ncu
            jc = np.uint64(j) * ncu
            jr = np.uint64(j + 1) * ncu
            for c in range(ncu):
                # output q at each offset, and the neighbour of q that t is
                s = (on if (mu[jl + c] >> 4) & 1 else off) * gu[jl + c]  # up-left: n4
                s += (on if (mu[jc + c] >> 5) & 1 else off) * gu[jc + c]  # up: n5
                s += (on if (mu[jr + c] >> 6) & 1 else off) * gu[jr + c]  # up-right: n6
                s += (on if (mm[jr + c] >> 7) & 1 else off) * gm[jr + c]  # right: n7
                s += (on if md[jr + c] & 1 else off) * gd[jr + c]  # down-right: n0
                s += (on if (md[jc + c] >> 1) & 1 else off) * gd[jc + c]  # down: n1
                s += (on if (md[jl + c] >> 2) & 1 else off) * gd[jl + c]  # down-left: n2
                s += (on if (mm[jl + c] >> 3) & 1 else off) * gm[jl + c]  # left: n3
                orow[jc + c] = gm[jc + c] + wt * s

    @njit(fastmath=False, nogil=True)
    def _bwd_border_nhwc(
        gu, gm, gd, mu, mm, md, orow, top, bottom, j0, j1, w, nc, wt, on, off, zero, one,
    ):  # pragma: no cover - compiled
        """Backward for columns j0..j1-1 of any row; ``_grad_px`` with numeric flags."""
        ncu = np.uint64(nc)
        ft = one if top else zero
        fb = one if bottom else zero
        for j in range(j0, j1):
            fl = one if j == 0 else zero
            fr = one if j == w - 1 else zero
            # outputs beyond a border do not exist: their (clamped) values count zero
            ul = not (top or j == 0)
            uc = not top
            ur = not (top or j == w - 1)
            cl = j != 0
            cr = j != w - 1
            dl = not (bottom or j == 0)
            dc = not bottom
            dr = not (bottom or j == w - 1)
            jl = np.uint64(max(j - 1, 0)) * ncu
            jc = np.uint64(j) * ncu
            jr = np.uint64(min(j + 1, w - 1)) * ncu
            for c in range(ncu):
                m00 = mu[jl + c]
                m01 = mu[jc + c]
                m02 = mu[jr + c]
                m10 = mm[jl + c]
                m11 = mm[jc + c]
                m12 = mm[jr + c]
                m20 = md[jl + c]
                m21 = md[jc + c]
                m22 = md[jr + c]
                s = (on if (m00 >> 4) & 1 else off) * (gu[jl + c] if ul else zero)
                e = (on if (m01 >> 5) & 1 else off) + fl * (on if (m01 >> 6) & 1 else off)
                e += fr * (on if (m01 >> 4) & 1 else off)
                s += e * (gu[jc + c] if uc else zero)
                s += (on if (m02 >> 6) & 1 else off) * (gu[jr + c] if ur else zero)
                e = (on if (m12 >> 7) & 1 else off) + ft * (on if m12 & 1 else off)
                e += fb * (on if (m12 >> 6) & 1 else off)
                s += e * (gm[jr + c] if cr else zero)
                s += (on if m22 & 1 else off) * (gd[jr + c] if dr else zero)
                e = (on if (m21 >> 1) & 1 else off) + fl * (on if m21 & 1 else off)
                e += fr * (on if (m21 >> 2) & 1 else off)
                s += e * (gd[jc + c] if dc else zero)
                s += (on if (m20 >> 2) & 1 else off) * (gd[jl + c] if dl else zero)
                e = (on if (m10 >> 3) & 1 else off) + ft * (on if (m10 >> 2) & 1 else off)
                e += fb * (on if (m10 >> 4) & 1 else off)
                s += e * (gm[jl + c] if cl else zero)
                # q = t: its outward neighbours on the borders are t itself
                e = ft * (
                    (on if (m11 >> 1) & 1 else off) + fl * (on if m11 & 1 else off)
                    + fr * (on if (m11 >> 2) & 1 else off)
                )
                e += fb * (
                    (on if (m11 >> 5) & 1 else off) + fl * (on if (m11 >> 6) & 1 else off)
                    + fr * (on if (m11 >> 4) & 1 else off)
                )
                e += fl * (on if (m11 >> 7) & 1 else off) + fr * (on if (m11 >> 3) & 1 else off)
                s += e * gm[jc + c]
                orow[jc + c] = gm[jc + c] + wt * s

    @njit(parallel=True, fastmath=False, cache=True, nogil=True)
    def fuse_backward_nhwc_nb(g, mask, weight, grad):  # pragma: no cover - compiled
        """grad = g + weight * K^T g for g (B, H, W, C), K the Kirsch map at ``mask``."""
        nb, h, w, nc = g.shape
        wt = g.dtype.type(weight)
        on = g.dtype.type(5)
        off = g.dtype.type(-3)
        zero = g.dtype.type(0)
        one = g.dtype.type(1)
        for r in prange(nb * h):
            b = r // h
            i = r - b * h
            iu = max(i - 1, 0)
            idn = min(i + 1, h - 1)
            gu = g[b, iu].reshape(w * nc)
            gm = g[b, i].reshape(w * nc)
            gd = g[b, idn].reshape(w * nc)
            mu = mask[b, iu].reshape(w * nc)
            mm = mask[b, i].reshape(w * nc)
            md = mask[b, idn].reshape(w * nc)
            orow = grad[b, i].reshape(w * nc)
            top = i == 0
            bottom = i == h - 1
            if top or bottom or w < 3:
                _bwd_border_nhwc(gu, gm, gd, mu, mm, md, orow, top, bottom, 0, w, w, nc,
                                 wt, on, off, zero, one)
            else:
                _bwd_border_nhwc(gu, gm, gd, mu, mm, md, orow, False, False, 0, 1, w, nc,
                                 wt, on, off, zero, one)
                _bwd_border_nhwc(gu, gm, gd, mu, mm, md, orow, False, False, w - 1, w, w, nc,
                                 wt, on, off, zero, one)
                _bwd_inner_nhwc(gu, gm, gd, mu, mm, md, orow, 1, w - 1, nc, wt, on, off)


    # ----------------------------------------------------------------- bfloat16
    #
    # Under bf16 autocast the convolutions hand over bfloat16 channels_last maps. Converting
    # the whole tensor to float32 and back costs two extra passes over memory each way, more
    # than the fused op itself. These kernels take the bf16 bits (uint16) instead and convert
    # three rows at a time into float32 scratch rows, compute as the float32 kernels do, and
    # round the output row to bf16 (to nearest even, as torch's conversion does; the values
    # equal float32 computation followed by ``.to(torch.bfloat16)``).

    @njit(fastmath=False, nogil=True)
    def _bf16_to_f32(src, dst_bits):  # pragma: no cover - compiled
        """dst (float32 bits as uint32) = bf16 bits ``src`` (uint16) widened."""
        for k in range(src.shape[0]):
            dst_bits[k] = np.uint32(src[k]) << np.uint32(16)

    @njit(fastmath=False, nogil=True)
    def _f32_to_bf16(src_bits, dst):  # pragma: no cover - compiled
        """dst (bf16 bits) = float32 bits ``src_bits`` rounded to nearest even (NaN stays NaN)."""
        for k in range(src_bits.shape[0]):
            b = src_bits[k]
            if (b & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000):
                dst[k] = np.uint16((b >> np.uint32(16)) | np.uint32(0x40))
            else:
                dst[k] = np.uint16((b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))

    @njit(parallel=True, fastmath=False, cache=True, nogil=True)
    def fuse_forward_nhwc_bf16_nb(x, weight, out, mask, rows_per_block):  # pragma: no cover - compiled
        """bf16 (uint16 bits) version of :func:`fuse_forward_nhwc_nb`."""
        nb, h, w, nc = x.shape
        wt = np.float32(weight)
        eight = np.float32(8)
        three = np.float32(3)
        ncu = np.uint64(nc)
        n_rows = nb * h
        n_blocks = (n_rows + rows_per_block - 1) // rows_per_block
        for blk in prange(n_blocks):
            bits = np.empty((4, w * nc), np.uint32)
            f = bits.view(np.float32)
            for r in range(blk * rows_per_block, min(n_rows, (blk + 1) * rows_per_block)):
                b = r // h
                i = r - b * h
                _bf16_to_f32(x[b, max(i - 1, 0)].reshape(w * nc), bits[0])
                _bf16_to_f32(x[b, i].reshape(w * nc), bits[1])
                _bf16_to_f32(x[b, min(i + 1, h - 1)].reshape(w * nc), bits[2])
                up = f[0]
                mid = f[1]
                dn = f[2]
                orow = f[3]
                mrow = mask[b, i].reshape(w * nc)
                for j in range(w):
                    jl = np.uint64(max(j - 1, 0)) * ncu
                    jc = np.uint64(j) * ncu
                    jr = np.uint64(min(j + 1, w - 1)) * ncu
                    for c in range(ncu):
                        k, m = _kirsch_px(
                            up[jl + c], up[jc + c], up[jr + c], mid[jr + c],
                            dn[jr + c], dn[jc + c], dn[jl + c], mid[jl + c], eight, three,
                        )
                        orow[jc + c] = mid[jc + c] + wt * k
                        mrow[jc + c] = m
                _f32_to_bf16(bits[3], out[b, i].reshape(w * nc))

    @njit(parallel=True, fastmath=False, cache=True, nogil=True)
    def fuse_backward_nhwc_bf16_nb(g, mask, weight, grad, rows_per_block):  # pragma: no cover - compiled
        """bf16 (uint16 bits) version of :func:`fuse_backward_nhwc_nb`."""
        nb, h, w, nc = g.shape
        wt = np.float32(weight)
        on = np.float32(5)
        off = np.float32(-3)
        zero = np.float32(0)
        one = np.float32(1)
        n_rows = nb * h
        n_blocks = (n_rows + rows_per_block - 1) // rows_per_block
        for blk in prange(n_blocks):
            bits = np.empty((4, w * nc), np.uint32)
            f = bits.view(np.float32)
            for r in range(blk * rows_per_block, min(n_rows, (blk + 1) * rows_per_block)):
                b = r // h
                i = r - b * h
                iu = max(i - 1, 0)
                idn = min(i + 1, h - 1)
                _bf16_to_f32(g[b, iu].reshape(w * nc), bits[0])
                _bf16_to_f32(g[b, i].reshape(w * nc), bits[1])
                _bf16_to_f32(g[b, idn].reshape(w * nc), bits[2])
                gu = f[0]
                gm = f[1]
                gd = f[2]
                orow = f[3]
                mu = mask[b, iu].reshape(w * nc)
                mm = mask[b, i].reshape(w * nc)
                md = mask[b, idn].reshape(w * nc)
                top = i == 0
                bottom = i == h - 1
                if top or bottom or w < 3:
                    _bwd_border_nhwc(gu, gm, gd, mu, mm, md, orow, top, bottom, 0, w, w, nc,
                                     wt, on, off, zero, one)
                else:
                    _bwd_border_nhwc(gu, gm, gd, mu, mm, md, orow, False, False, 0, 1, w, nc,
                                     wt, on, off, zero, one)
                    _bwd_border_nhwc(gu, gm, gd, mu, mm, md, orow, False, False, w - 1, w, w, nc,
                                     wt, on, off, zero, one)
                    _bwd_inner_nhwc(gu, gm, gd, mu, mm, md, orow, 1, w - 1, nc, wt, on, off)
                _f32_to_bf16(bits[3], grad[b, i].reshape(w * nc))


# Chunks per thread for the parallel plane loop (0: numba's static split).
CHUNKS_PER_THREAD = 8


def rows_per_block(t: torch.Tensor) -> int:
    """Rows of pixels per parallel block of the bf16 kernels (each block allocates its scratch rows
    once): about ``CHUNKS_PER_THREAD`` blocks per thread."""
    rows = t.shape[0] * t.shape[2]
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    return max(1, rows // (threads * max(1, CHUNKS_PER_THREAD)))


def run_kernel(kernel, *args) -> None:
    """Call a plane kernel with as many numba threads as torch uses.

    The planes are handed out in small chunks rather than one block per thread, so
    that a thread the OS preempts (another process on the cores) holds up one chunk
    rather than half of the work.
    """
    torch_threads = torch.get_num_threads()
    threads = max(1, min(torch_threads, numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != threads:
        numba.set_num_threads(threads)
    n_planes = args[0].shape[0]
    chunk = max(1, n_planes // (threads * CHUNKS_PER_THREAD)) if CHUNKS_PER_THREAD else 0
    try:
        with numba.parallel_chunksize(chunk):
            kernel(*args)
    finally:
        # numba's OpenMP layer can reset the process's OpenMP thread count, which torch
        # shares: put back what the caller chose (torch.set_num_threads(1) must stick).
        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
