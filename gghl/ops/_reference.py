"""Pure-torch reference for rotated-box and convex-quadrilateral IoU (readable, differentiable).

Algorithm (per pair of convex quadrilaterals ``P``, ``Q``, both counter-clockwise in the algebraic
sense, i.e. positive shoelace area):

1. Move both into a local frame (origin at a point of ``P``, divided by the pair's size) so that
   float32 keeps its precision at 4000 px and every tolerance below is scale-free.
2. Collect every candidate vertex of ``P ∩ Q``: vertices of ``P`` inside ``Q``, vertices of ``Q``
   inside ``P``, and the 16 edge/edge crossings (a crossing is kept only if it lies inside the other
   polygon, which also rejects ill-conditioned near-parallel crossings).  Every accepted point lies on
   the boundary of ``P ∩ Q`` (up to the tolerance), so all of them are in convex position.
3. Sort the candidates by angle around their mean and apply the shoelace formula.  The polygon is
   always closed, so an inaccurate decision about a point that sits on a boundary only moves a vertex
   by about the tolerance (graceful), unlike edge-clipping formulas whose unclosed paths fail on
   coincident edges.

Sort indices are detached; gradients flow through the vertex coordinates (``gradcheck`` in float64).
Degenerate (zero-area) boxes give IoU 0, never NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.ops._degenerate import guarded_iou
from gghl.structures import obb_to_poly

# cdist without the |a|^2 + |b|^2 - 2ab expansion, whose cancellation would make the circle test inexact.
_DIRECT = "donot_use_mm_for_euclid_dist"
# Pairs per chunk: bounds peak memory of the [K, 24, 2] candidate tensors (~100 MB in float64).
_CHUNK = 1 << 16


def _cross(a: Tensor, b: Tensor) -> Tensor:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _tolerance(dtype: torch.dtype) -> float:
    """Distance tolerance in normalized units (pair size = 1): 64 ulps of 1.

    Must exceed the rounding noise of on-boundary tests (a few ulps; at 1 ulp whole corners get lost),
    while the area it can add, about tol x perimeter, stays small: float32 IoU error <= ~5e-4 even for
    1:50 boxes at 4000 px (256 ulps gave 1.8e-3 there).
    """
    return 64.0 * torch.finfo(dtype).eps


def polygon_area(poly: Tensor) -> Tensor:
    """Signed shoelace area of ``[..., V, 2]`` polygons (positive when counter-clockwise, y up)."""
    return 0.5 * _cross(poly, poly.roll(-1, dims=-2)).sum(-1)


def _inside(pts: Tensor, poly: Tensor, tol: float) -> Tensor:
    """``[K, A]`` bool: points ``[K, A, 2]`` inside (or within ``tol`` of) CCW polygons ``[K, V, 2]``."""
    edges = poly.roll(-1, dims=-2) - poly  # [K, V, 2]
    length = edges.norm(dim=-1)  # [K, V]
    d = _cross(edges[:, None], pts[:, :, None] - poly[:, None])  # [K, A, V], = distance * length
    return (d >= -tol * length[:, None]).all(-1)


def convex_intersection_area(p: Tensor, q: Tensor) -> Tensor:
    """Area of ``P ∩ Q`` for convex CCW quadrilaterals ``p, q: [K, 4, 2]`` of size ~1 -> ``[K]``."""
    tol = _tolerance(p.dtype)
    k = p.shape[0]
    # Edge crossings: P edge i (p_i + t r_i) with Q edge j (q_j + u s_j).
    r = p.roll(-1, dims=-2) - p
    s = q.roll(-1, dims=-2) - q
    ri, pi = r[:, :, None], p[:, :, None]  # [K, 4, 1, 2]
    sj, qj = s[:, None], q[:, None]  # [K, 1, 4, 2]
    den = _cross(ri, sj)  # [K, 4, 4]
    nonpar = den != 0
    t = _cross(qj - pi, sj) / torch.where(nonpar, den, torch.ones_like(den))
    t_ok = nonpar & (t >= -tol) & (t <= 1 + tol)
    cross_pts = (pi + t.clamp(0, 1)[..., None] * ri).reshape(k, 16, 2)

    pts = torch.cat([p, q, cross_pts], dim=1)  # [K, 24, 2]
    valid = torch.cat(
        [
            _inside(p, q, tol),
            _inside(q, p, tol),
            t_ok.reshape(k, 16) & _inside(cross_pts, q, tol),
        ],
        dim=1,
    )
    with torch.no_grad():
        w = valid.to(p.dtype)
        n = w.sum(1, keepdim=True)
        center = (pts * w[..., None]).sum(1) / n.clamp_min(1)
        rel = pts - center[:, None]
        key = torch.atan2(rel[..., 1], rel[..., 0]).masked_fill(~valid, 10.0)
        order = key.argsort(dim=1)
        n_valid = valid.sum(1, keepdim=True)
        # Slots past the last valid point repeat the first one: they add cross(v0, v0) = 0 terms.
        slot = torch.arange(pts.shape[1], device=p.device).expand(k, -1)
        order = torch.where(slot < n_valid, order, order[:, :1])
    # The shoelace runs in the pair frame itself (no centring) so that representable inputs, e.g.
    # axis-aligned boxes on integer pixels, give exactly representable areas and IoUs.
    poly = pts.gather(1, order[..., None].expand(-1, -1, 2))
    area = polygon_area(poly)
    return torch.where(n_valid[:, 0] >= 3, area, torch.zeros_like(area)).clamp_min(0)


def _iou_from_areas(inter: Tensor, area1: Tensor, area2: Tensor) -> Tensor:
    union = area1 + area2 - inter
    ok = union > 0
    return torch.where(ok, inter / torch.where(ok, union, torch.ones_like(union)), torch.zeros_like(union))


def _pair_iou_polys(p: Tensor, q: Tensor) -> Tensor:
    """IoU of paired CCW quadrilaterals ``p, q: [K, 4, 2]`` (any frame) -> ``[K]``; chunked."""
    out = []
    for start in range(0, p.shape[0], _CHUNK):
        pc, qc = p[start : start + _CHUNK], q[start : start + _CHUNK]
        origin = pc.mean(1, keepdim=True)
        pc, qc = pc - origin, qc - origin
        scale = torch.cat([pc, qc], 1).abs().amax(dim=(1, 2)).clamp_min(torch.finfo(p.dtype).tiny)
        # A power of two keeps the normalization exact.
        scale = torch.ldexp(torch.ones_like(scale), torch.frexp(scale).exponent)
        pc, qc = pc / scale[:, None, None], qc / scale[:, None, None]
        inter = convex_intersection_area(pc, qc)
        out.append(_iou_from_areas(inter, polygon_area(pc).abs(), polygon_area(qc).abs()))
    return torch.cat(out) if out else p.new_zeros(0)


def _ccw(poly: Tensor) -> Tensor:
    """Reverse polygons ``[K, 4, 2]`` whose signed area is negative (as the DOTA devkit's polyiou)."""
    neg = polygon_area(poly) < 0
    return torch.where(neg[:, None, None], poly.flip(1), poly)


def _circles(poly: Tensor) -> tuple[Tensor, Tensor]:
    """Centre ``[K, 2]`` and radius ``[K]`` of a circle containing each polygon ``[K, 4, 2]``."""
    c = poly.mean(1)
    return c, (poly - c[:, None]).norm(dim=-1).amax(1)


def _pairwise(p1: Tensor, p2: Tensor, aligned: bool) -> Tensor:
    """IoU for CCW quads ``[N, 4, 2]`` x ``[M, 4, 2]``; a circle test skips pairs that cannot meet."""
    if aligned:
        return _pair_iou_polys(p1, p2)
    n, m = p1.shape[0], p2.shape[0]
    out = p1.new_zeros(n, m)
    if n == 0 or m == 0:
        return out
    with torch.no_grad():
        c1, r1 = _circles(p1)
        c2, r2 = _circles(p2)
        # Exact: disjoint circles imply disjoint polygons; the 1e-6 relative margin covers rounding.
        dist = torch.cdist(c1, c2, compute_mode=_DIRECT)
        cand = dist <= (r1[:, None] + r2[None]) * (1 + 1e-6)
        ii, jj = cand.nonzero(as_tuple=True)
    vals = _pair_iou_polys(p1.index_select(0, ii), p2.index_select(0, jj))
    return out.index_put((ii, jj), vals)


def obb_to_quads(boxes: Tensor) -> Tensor:
    """``[N, 5]`` OBBs -> ``[N, 4, 2]`` CCW (positive shoelace area) corner quads; ``|w|, |h|`` used."""
    b = torch.cat([boxes[:, :2], boxes[:, 2:4].abs(), boxes[:, 4:]], dim=1)
    return obb_to_poly(b).reshape(-1, 4, 2)


def box_iou_rotated_ref(boxes1: Tensor, boxes2: Tensor, aligned: bool = False) -> Tensor:
    """Reference rotated IoU; see :func:`gghl.ops.box_iou_rotated` for the contract (NaN/inf or
    zero-area boxes give 0, see ``gghl.ops._degenerate``)."""
    return guarded_iou("box", _box_iou_rotated, boxes1, boxes2, aligned)


def _box_iou_rotated(boxes1: Tensor, boxes2: Tensor, aligned: bool = False) -> Tensor:
    """Rotated IoU of valid (finite, non-zero-area) boxes."""
    if aligned:
        # Local frame per pair: box1's centre is the origin, so float32 keeps precision at 4000 px.
        d = boxes2[:, :2] - boxes1[:, :2]
        b1 = torch.cat([torch.zeros_like(d), boxes1[:, 2:]], 1)
        b2 = torch.cat([d, boxes2[:, 2:]], 1)
        return _pair_iou_polys(obb_to_quads(b1), obb_to_quads(b2))
    n, m = boxes1.shape[0], boxes2.shape[0]
    out = boxes1.new_zeros(n, m)
    if n == 0 or m == 0:
        return out + 0 * (boxes1.sum() + boxes2.sum())
    with torch.no_grad():
        # Circumscribed circles: exact reject test for pairs that cannot intersect.
        r1 = 0.5 * boxes1[:, 2:4].norm(dim=1)
        r2 = 0.5 * boxes2[:, 2:4].norm(dim=1)
        dist = torch.cdist(boxes1[:, :2], boxes2[:, :2], compute_mode=_DIRECT)
        cand = dist <= (r1[:, None] + r2[None]) * (1 + 1e-6)
        ii, jj = cand.nonzero(as_tuple=True)
    vals = _box_iou_rotated(boxes1.index_select(0, ii), boxes2.index_select(0, jj), aligned=True)
    return out.index_put((ii, jj), vals)


def poly_iou_ref(polys1: Tensor, polys2: Tensor, aligned: bool = False) -> Tensor:
    """Reference convex-quadrilateral IoU; see :func:`gghl.ops.poly_iou` for the contract (NaN/inf or
    zero-area quads give 0, see ``gghl.ops._degenerate``)."""
    return guarded_iou("poly", _poly_iou, polys1, polys2, aligned)


def _poly_iou(polys1: Tensor, polys2: Tensor, aligned: bool) -> Tensor:
    p1 = _ccw(polys1.reshape(-1, 4, 2))
    p2 = _ccw(polys2.reshape(-1, 4, 2))
    return _pairwise(p1, p2, aligned)
