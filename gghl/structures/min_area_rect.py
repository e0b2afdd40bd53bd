"""Minimum-area enclosing rectangles of small point sets (polygon -> OBB), computed by us.

Never ``cv2.minAreaRect``: its angle range changed across OpenCV versions (docs/boxes.md#polygons).

Method (rotating calipers, branch-free): the minimum-area enclosing rectangle of a point set has one
side collinear with an edge of the convex hull. The hull edges of ``K`` points are a subset of the
``K(K-1)/2`` pairwise segments, and *every* direction yields a valid enclosing rectangle, so taking
the minimum over all pairwise directions gives exactly the calipers' answer without building the
hull (for ``K = 4``: 6 directions; for clipped polygons with ``K <= 8``: 28). Directions of repeated
points are ``atan2(0, 0) = 0`` (the x axis): still a valid candidate, so degenerate inputs never
produce NaN.

Tie handling (deterministic, a pure function of the input): among the candidate representations
whose area is within a tolerance of the minimum and whose ``w >= h`` (up to tolerance, so both
orientations of a square compete), take the smallest ``|a|``, then the smallest ``a``. Consequences:
a square gets ``a`` in ``[-pi/4, pi/4)``; a segment (collinear points) gets ``h = 0`` and its
direction; a single repeated point gets ``(x, y, 0, 0, 0)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gghl.structures._checks import check_last_dim, check_same_device
from gghl.structures.obb import wrap_angle

__all__ = ["min_area_rect", "poly_to_obb"]


def min_area_rect(points: Tensor, valid: Tensor | None = None) -> Tensor:
    """Minimum-area enclosing rectangle of each point set, canonical le90.

    Args:
        points: ``[..., K, 2]`` float ``(x, y)`` pixels, ``K >= 1``. Any order; need not be convex.
        valid: optional ``[..., K]`` bool; ``False`` points are ignored (each set needs at least one
            valid point; a set with none gives the rectangle of its first point).

    Returns:
        ``[..., 5]`` ``(cx, cy, w, h, a)`` with ``w >= h``, ``a`` in ``[-pi/2, pi/2)``, same dtype and
        device. Computed relative to the set's first valid point, so huge coordinates (1e5 px) keep
        the precision of the rectangle's own size.
    """
    if not isinstance(points, torch.Tensor) or points.dim() < 2 or points.shape[-1] != 2:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"points must be a tensor of shape [..., K, 2], got {shape}")
    if not points.is_floating_point():
        raise TypeError(f"points must be floating point, got {points.dtype}")
    k = points.shape[-2]
    if k == 0:
        raise ValueError("points must hold at least one point per set (K >= 1)")
    batch = points.shape[:-2]
    pts = points.reshape(-1, k, 2)
    n = pts.shape[0]
    if valid is not None:
        if not isinstance(valid, torch.Tensor):
            raise TypeError(f"valid must be a bool tensor or None, got {type(valid).__name__}")
        check_same_device(("points", points), ("valid", valid))
        if valid.shape != points.shape[:-1]:
            raise ValueError(f"valid must have shape {tuple(points.shape[:-1])}, got {tuple(valid.shape)}")
        vmask = valid.reshape(-1, k).to(torch.bool)
        # Replace ignored points by the first valid one: they then cannot change any extent.
        first = torch.argmax(vmask.to(torch.uint8), dim=1)
        anchor = pts[torch.arange(n, device=pts.device), first]
        pts = torch.where(vmask.unsqueeze(-1), pts, anchor.unsqueeze(1))
    origin = pts[:, :1, :]
    local = pts - origin  # [n, K, 2]

    if k == 1:  # a single point: only the x-axis direction
        theta = local.new_zeros(n, 1)
    else:
        # Point pairs (i < j) as constants built in Python, not `torch.triu_indices`: this function is also
        # traced into exported graphs (gghl.export.graph_nms), and triu_indices has no ONNX symbolic.
        ii = torch.tensor([i for i in range(k) for _ in range(i + 1, k)], device=pts.device)
        jj = torch.tensor([j for i in range(k) for j in range(i + 1, k)], device=pts.device)
        d = local.index_select(1, jj) - local.index_select(1, ii)  # [n, P, 2]
        theta = torch.atan2(d[..., 1], d[..., 0])
    cos, sin = torch.cos(theta), torch.sin(theta)  # [n, P]
    # Projections onto the candidate axis u = (cos, sin) and its normal v = (-sin, cos).
    pu = local[..., 0].unsqueeze(1) * cos.unsqueeze(-1) + local[..., 1].unsqueeze(1) * sin.unsqueeze(-1)
    pv = -local[..., 0].unsqueeze(1) * sin.unsqueeze(-1) + local[..., 1].unsqueeze(1) * cos.unsqueeze(-1)
    umin, umax = pu.min(-1).values, pu.max(-1).values
    vmin, vmax = pv.min(-1).values, pv.max(-1).values
    eu, ev = umax - umin, vmax - vmin  # [n, P]
    uc, vc = (umax + umin) / 2, (vmax + vmin) / 2
    cx = uc * cos - vc * sin
    cy = uc * sin + vc * cos
    area = eu * ev

    # Two representations per direction: (w=eu, a=theta) and (w=ev, a=theta+pi/2).
    w = torch.cat([eu, ev], dim=1)
    h = torch.cat([ev, eu], dim=1)
    a = wrap_angle(torch.cat([theta, theta + math.pi / 2], dim=1))
    area2 = torch.cat([area, area], dim=1)
    cx2, cy2 = torch.cat([cx, cx], dim=1), torch.cat([cy, cy], dim=1)

    eps = torch.finfo(pts.dtype).eps
    scale = torch.maximum(eu.amax(1, keepdim=True), ev.amax(1, keepdim=True))  # [n, 1]
    len_tol = 64 * eps * scale
    area_tol = 64 * eps * scale * scale
    ang_tol = 1024 * eps
    ok = (area2 <= area2.amin(1, keepdim=True) + area_tol) & (w >= h - len_tol)
    inf = torch.full_like(a, math.inf)
    abs_a = torch.where(ok, a.abs(), inf)
    ok = ok & (abs_a <= abs_a.amin(1, keepdim=True) + ang_tol)
    best = torch.where(ok, a, inf).argmin(dim=1, keepdim=True)  # [n, 1]

    def pick(t: Tensor) -> Tensor:
        return t.gather(1, best).squeeze(1)

    wb, hb = pick(w), pick(h)
    out = torch.stack(
        [
            pick(cx2) + origin[:, 0, 0],
            pick(cy2) + origin[:, 0, 1],
            torch.maximum(wb, hb),  # snaps the near-square ulp case to w >= h
            torch.minimum(wb, hb),
            pick(a),
        ],
        dim=-1,
    )
    return out.reshape(*batch, 5)


def poly_to_obb(poly: Tensor) -> Tensor:
    """Quadrilaterals to canonical oriented boxes via the minimum-area enclosing rectangle.

    Args:
        poly: ``[..., 8]`` ``x1 y1 ... x4 y4`` pixels, any vertex order, convex or not, degenerate
            allowed (zero area, collinear, repeated points), float32 or float64, any device.

    Returns:
        ``[..., 5]`` canonical ``(cx, cy, w, h, a)`` (``w >= h``, ``a`` in ``[-pi/2, pi/2)``, squares
        ``a`` in ``[-pi/4, pi/4)``), same dtype/device. For a rectangle's corners this is that rectangle.
    """
    check_last_dim(poly, 8, "poly")
    return min_area_rect(poly.reshape(*poly.shape[:-1], 4, 2))
