"""Triton kernel for the CUDA path: the reference algorithm (``_reference``), one pair per row of a tile.

Pairwise IoU runs in two phases: (1) a circumscribed-circle test in torch keeps only pairs that can
intersect (exact: disjoint circles mean IoU 0), (2) the kernel computes the exact IoU of those pairs.
Per pair, the 24 candidate vertices live in a ``[BLOCK, 32]`` tile (4 vertices of P, 4 of Q, 16 edge
crossings, 8 padding slots).  They are put in angular order around their mean either with
``tl.sort`` on packed (angle, slot) keys + ``tl.gather`` (``SORT``, default), or, where that is not
available, by counting each candidate's rank in a ``[BLOCK, 32, 32]`` tile; the shoelace then pairs
each vertex with the next one.  Arithmetic is in the input dtype (float32 or float64), in a pair frame centred on box 1.

``TRITON_INTERPRET=1`` (set before importing triton) runs the kernel on CPU tensors for testing.
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import Tensor

from gghl.ops._nms_reference import greedy_from_matrix
from gghl.ops._reference import _ccw, obb_to_quads

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton ships with CUDA builds of torch
    triton = None

# Pairs per program and warps (module attributes so that `bench_ops.py --tune` can try others).
# H100, 10k x 10k float32: the rank kernel took 1.09 s at BLOCK=32 (its [BLOCK, 32, 32] tiles spill
# registers, hence a smaller block for it); the sort kernel's default is not yet measured (--tune).
_BLOCK = 32
_BLOCK_RANK = 8
_WARPS = 4
_SLOTS = 32
# Angular order by tl.sort + tl.gather (default) or by counting ranks in [BLOCK, 32, 32] tiles.
_SORT = True
# Rows of the circle test per chunk (bounds the [rows, M] temporaries).
_ROWS = 2048


def available(interpret: bool = False) -> bool:
    """Whether the kernel can run: Triton importable and CUDA present (or the interpreter requested)."""
    if triton is None:
        return False
    if interpret:
        return os.environ.get("TRITON_INTERPRET", "0") == "1"
    return torch.cuda.is_available()


if triton is not None:

    @triton.jit
    def _pick(s, v0, v1, v2, v3):
        """``[B, S]`` tile taking ``v{s}`` per slot (``s`` in 0..3; anything else gives ``v3``)."""
        return tl.where(
            s == 0, v0[:, None], tl.where(s == 1, v1[:, None], tl.where(s == 2, v2[:, None], v3[:, None]))
        )

    @triton.jit
    def _left(x, y, ax, ay, bx, by, tol):
        """Point left of (or within ``tol`` of) the directed line a->b; a, b are ``[B]``."""
        ex = (bx - ax)[:, None]
        ey = (by - ay)[:, None]
        d = ex * (y - ay[:, None]) - ey * (x - ax[:, None])
        return d >= -tol[:, None] * tl.sqrt(ex * ex + ey * ey)

    @triton.jit
    def _inside(x, y, ax, ay, bx, by, cx, cy, dx, dy, tol):
        ok = _left(x, y, ax, ay, bx, by, tol) & _left(x, y, bx, by, cx, cy, tol)
        return ok & _left(x, y, cx, cy, dx, dy, tol) & _left(x, y, dx, dy, ax, ay, tol)

    @triton.jit
    def _area4(ax, ay, bx, by, cx, cy, dx, dy):
        return 0.5 * tl.abs(ax * by - ay * bx + bx * cy - by * cx + cx * dy - cy * dx + dx * ay - dy * ax)

    @triton.jit
    def _iou_kernel(
        g1,
        g2,
        ii,
        jj,
        out,
        K,
        TOL: tl.constexpr,
        BLOCK: tl.constexpr,
        S: tl.constexpr,
        SORT: tl.constexpr,
        IS64: tl.constexpr,
    ):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        live = offs < K
        i = tl.load(ii + offs, mask=live, other=0)
        j = tl.load(jj + offs, mask=live, other=0)
        # Shape rows: cx, cy, r, then the 4 corner offsets (x, y) from the centre, CCW.
        r1 = g1 + i * 11
        r2 = g2 + j * 11
        ox = tl.load(r2 + 0, mask=live, other=0) - tl.load(r1 + 0, mask=live, other=0)
        oy = tl.load(r2 + 1, mask=live, other=0) - tl.load(r1 + 1, mask=live, other=0)
        rr = (tl.load(r1 + 2, mask=live, other=0) + tl.load(r2 + 2, mask=live, other=0)) * (1 + 1e-6)
        meet = live & (ox * ox + oy * oy <= rr * rr)
        p0x = tl.load(r1 + 3, mask=live, other=0)
        p0y = tl.load(r1 + 4, mask=live, other=0)
        p1x = tl.load(r1 + 5, mask=live, other=0)
        p1y = tl.load(r1 + 6, mask=live, other=0)
        p2x = tl.load(r1 + 7, mask=live, other=0)
        p2y = tl.load(r1 + 8, mask=live, other=0)
        p3x = tl.load(r1 + 9, mask=live, other=0)
        p3y = tl.load(r1 + 10, mask=live, other=0)
        q0x = ox + tl.load(r2 + 3, mask=live, other=0)
        q0y = oy + tl.load(r2 + 4, mask=live, other=0)
        q1x = ox + tl.load(r2 + 5, mask=live, other=0)
        q1y = oy + tl.load(r2 + 6, mask=live, other=0)
        q2x = ox + tl.load(r2 + 7, mask=live, other=0)
        q2y = oy + tl.load(r2 + 8, mask=live, other=0)
        q3x = ox + tl.load(r2 + 9, mask=live, other=0)
        q3y = oy + tl.load(r2 + 10, mask=live, other=0)
        # Distance tolerance relative to the pair's size (the reference normalizes the size to ~1).
        mx = tl.maximum(
            tl.maximum(tl.abs(ox), tl.abs(oy)) + tl.load(r2 + 2, mask=live, other=0),
            tl.load(r1 + 2, mask=live, other=0),
        )
        tol = TOL * mx

        s = tl.arange(0, S)[None, :]
        is_p = s < 4
        is_q = (s >= 4) & (s < 8)
        is_c = (s >= 8) & (s < 24)
        # Edge crossings: P edge ci (a -> b) with Q edge cj (c -> d).
        ci = (s - 8) // 4
        cj = (s - 8) % 4
        ax = _pick(ci, p0x, p1x, p2x, p3x)
        ay = _pick(ci, p0y, p1y, p2y, p3y)
        rx = _pick((ci + 1) % 4, p0x, p1x, p2x, p3x) - ax
        ry = _pick((ci + 1) % 4, p0y, p1y, p2y, p3y) - ay
        cx = _pick(cj, q0x, q1x, q2x, q3x)
        cy = _pick(cj, q0y, q1y, q2y, q3y)
        sx = _pick((cj + 1) % 4, q0x, q1x, q2x, q3x) - cx
        sy = _pick((cj + 1) % 4, q0y, q1y, q2y, q3y) - cy
        den = rx * sy - ry * sx
        nonpar = den != 0
        t = ((cx - ax) * sy - (cy - ay) * sx) / tl.where(nonpar, den, 1.0)
        t_ok = nonpar & (t >= -TOL) & (t <= 1 + TOL)
        tc = tl.minimum(tl.maximum(t, 0.0), 1.0)
        x = tl.where(
            is_c, ax + tc * rx, tl.where(is_p, _pick(s, p0x, p1x, p2x, p3x), _pick(s - 4, q0x, q1x, q2x, q3x))
        )
        y = tl.where(
            is_c, ay + tc * ry, tl.where(is_p, _pick(s, p0y, p1y, p2y, p3y), _pick(s - 4, q0y, q1y, q2y, q3y))
        )
        in_q = _inside(x, y, q0x, q0y, q1x, q1y, q2x, q2y, q3x, q3y, tol)
        in_p = _inside(x, y, p0x, p0y, p1x, p1y, p2x, p2y, p3x, p3y, tol)
        valid = (is_p & in_q) | (is_q & in_p) | (is_c & t_ok & in_q)
        valid = valid & meet[:, None]

        # Angular rank around the candidates' mean (pseudo-angle: same order as atan2), ties by slot.
        n = tl.sum(valid.to(tl.int32), axis=1)
        nf = tl.maximum(n, 1).to(x.dtype)
        mxc = tl.sum(tl.where(valid, x, 0.0), axis=1) / nf
        myc = tl.sum(tl.where(valid, y, 0.0), axis=1) / nf
        ux = x - mxc[:, None]
        uy = y - myc[:, None]
        l1 = tl.abs(ux) + tl.abs(uy)
        cosl = ux / tl.where(l1 == 0, 1.0, l1)
        key = tl.where(uy >= 0, 1.0 - cosl, cosl - 1.0)
        key = tl.where(l1 == 0, 0.0, key)
        if SORT:
            # Sort (key, slot) packed into one int64: keys shifted to (0, 4] (invalid: 10) are
            # positive floats, whose bit patterns order like the values.
            kpos = tl.where(valid, key + 2.0, 10.0)
            if IS64:
                packed = (kpos.to(tl.int64, bitcast=True) & -32) | s.to(tl.int64)
            else:
                packed = (kpos.to(tl.int32, bitcast=True).to(tl.int64) << 5) | s.to(tl.int64)
            packed = tl.sort(packed, dim=1)
            slot = (packed & 31).to(tl.int32)
            xs = tl.gather(x, slot, axis=1)
            ys = tl.gather(y, slot, axis=1)
            k = tl.broadcast_to(s, [BLOCK, S])
            nk = tl.where(k + 1 >= n[:, None], 0, k + 1)
            nxs = tl.gather(xs, nk, axis=1)
            nys = tl.gather(ys, nk, axis=1)
            inter = 0.5 * tl.sum(tl.where(k < n[:, None], xs * nys - ys * nxs, 0.0), axis=1)
        else:
            # Rank of every candidate by counting in a [BLOCK, S, S] tile (no sort/gather needed).
            key = tl.where(valid, key, 10.0)
            kk = key[:, :, None]  # candidate k
            kj = key[:, None, :]  # other candidate j
            sk = s[:, :, None]
            sj = s[:, None, :]
            before = valid[:, None, :] & ((kj < kk) | ((kj == kk) & (sj < sk)))
            rank = tl.sum(before.to(tl.int32), axis=2)  # [B, S]
            nxt = tl.where(rank + 1 >= n[:, None], 0, rank + 1)
            hit = valid[:, None, :] & (rank[:, None, :] == nxt[:, :, None])
            nx = tl.sum(tl.where(hit, x[:, None, :], 0.0), axis=2)
            ny = tl.sum(tl.where(hit, y[:, None, :], 0.0), axis=2)
            inter = 0.5 * tl.sum(tl.where(valid, x * ny - y * nx, 0.0), axis=1)
        inter = tl.where(n >= 3, tl.maximum(inter, 0.0), 0.0)

        a1 = _area4(p0x, p0y, p1x, p1y, p2x, p2y, p3x, p3y)
        a2 = _area4(q0x, q0y, q1x, q1y, q2x, q2y, q3x, q3y)
        union = a1 + a2 - inter
        iou = tl.where(union > 0, inter / tl.where(union > 0, union, 1.0), 0.0)
        tl.store(out + offs, iou, mask=live)


def _box_shapes(boxes: Tensor) -> Tensor:
    """``[N, 5]`` boxes -> ``[N, 11]`` rows ``cx, cy, r, corner offsets (4 x (x, y), CCW)``."""
    local = torch.cat([torch.zeros_like(boxes[:, :2]), boxes[:, 2:]], 1)
    off = obb_to_quads(local).reshape(-1, 8)
    r = 0.5 * boxes[:, 2:4].norm(dim=1, keepdim=True)
    return torch.cat([boxes[:, :2], r, off], 1).contiguous()


def _poly_shapes(polys: Tensor) -> Tensor:
    """``[N, 8]`` quads (any orientation) -> ``[N, 11]`` rows as :func:`_box_shapes`."""
    p = _ccw(polys.reshape(-1, 4, 2))
    c = p.mean(1)
    off = p - c[:, None]
    r = off.norm(dim=-1).amax(1, keepdim=True)
    return torch.cat([c, r, off.reshape(-1, 8)], 1).contiguous()


def _run(g1: Tensor, g2: Tensor, ii: Tensor, jj: Tensor) -> Tensor:
    k = ii.numel()
    out = g1.new_empty(k)
    if k:
        tol = 64.0 * torch.finfo(g1.dtype).eps  # as _reference._tolerance
        args = (g1, g2, ii, jj, out, k)
        meta = dict(TOL=tol, S=_SLOTS, IS64=g1.dtype == torch.float64, num_warps=_WARPS)
        global _SORT
        if _SORT:
            try:
                _iou_kernel[(triton.cdiv(k, _BLOCK),)](*args, BLOCK=_BLOCK, SORT=True, **meta)
                return out
            except Exception as e:  # e.g. an older Triton without tl.gather: use the counting kernel
                warnings.warn(
                    f"gghl.ops: Triton sort/gather kernel unavailable ({type(e).__name__}: {e}); using the rank kernel",
                    stacklevel=2,
                )
                _SORT = False
        _iou_kernel[(triton.cdiv(k, _BLOCK_RANK),)](*args, BLOCK=_BLOCK_RANK, SORT=False, **meta)
    return out


def pairwise_iou(kind: str, x1: Tensor, x2: Tensor, aligned: bool) -> Tensor:
    """``kind`` in {"box", "poly"}: float32/float64 ``[N, D]`` x ``[M, D]`` -> IoU (``[N]`` if aligned)."""
    shapes = _box_shapes if kind == "box" else _poly_shapes
    g1, g2 = shapes(x1), shapes(x2)
    n, m = g1.shape[0], g2.shape[0]
    if aligned:
        idx = torch.arange(n, device=x1.device)
        return _run(g1, g2, idx, idx)
    out = g1.new_zeros(n, m)
    for start in range(0, n, _ROWS):
        c1, r1 = g1[start : start + _ROWS, :2], g1[start : start + _ROWS, 2]
        # Direct differences (no matmul expansion) keep the circle test exact up to rounding.
        d = torch.cdist(c1, g2[:, :2], compute_mode="donot_use_mm_for_euclid_dist")
        ii, jj = (d <= (r1[:, None] + g2[None, :, 2]) * (1 + 1e-6)).nonzero(as_tuple=True)
        vals = _run(g1, g2, ii + start, jj)
        out.view(-1)[(ii + start) * m + jj] = vals
    return out


def nms_sorted(boxes: Tensor, cats: Tensor | None, iou_threshold: float) -> Tensor:
    """Greedy NMS of boxes ``[N, 5]`` in decreasing score order -> ``[N]`` bool keep (same device)."""
    sup = pairwise_iou("box", boxes, boxes, aligned=False) > iou_threshold
    if cats is not None:
        sup &= cats[:, None] == cats[None, :]
    return greedy_from_matrix(sup).to(boxes.device)
