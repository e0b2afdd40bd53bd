"""GGHL ORC vertex order, ORC sliding ratios, area ratio and long-side angle (docs/boxes.md#orc-order).

Frame: image pixels, x right, y **down**. Polygons are ``[N, 8]`` ``x1 y1 x2 y2 x3 y3 x4 y4``.

ORC order: ``p1`` on the top side of the polygon's HBB (``y1 = ymin``), ``p2`` on the right side
(``x2 = xmax``), ``p3`` on the bottom (``y3 = ymax``), ``p4`` on the left (``x4 = xmin``), i.e. clockwise on
screen starting at the top. An axis-aligned rectangle comes out as TL, TR, BR, BL (its ratios are then
``s = 0`` instead of the equally valid TR-first ``s = 1``).

Everything is pure torch, vectorised over ``N``, keeps dtype and device, and never calls OpenCV (whose
``minAreaRect`` angle range changed between versions).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gghl.structures._checks import check_last_dim, check_same_device
from gghl.structures.poly import poly_to_hbb

__all__ = [
    "orc_order",
    "area_ratio",
    "orc_ratios",
    "orc_to_poly",
    "long_side_angle",
]

# Two rotations whose side-touching violations differ by less than this (dimensionless, relative to the
# HBB size) count as tied; only an axis-aligned rectangle has two exactly valid rotations.
_TIE_TOL = 1e-9


def _check(polys: Tensor) -> Tensor:
    if polys.ndim != 2 or polys.shape[-1] != 8:
        raise ValueError(f"polygons must be [N, 8], got {tuple(polys.shape)}")
    if not polys.is_floating_point():
        raise TypeError(f"polygons must be floating point, got {polys.dtype}")
    return polys.reshape(-1, 4, 2)


def _shoelace_area(polys: Tensor) -> Tensor:
    """Unsigned shoelace area ``[N]`` of ``[N, 8]`` simple quadrilaterals (any cyclic order).

    Sums absolute coordinates. ``gghl.structures.poly_area`` (relative to the first vertex, better conditioned
    far from the origin) differs in the last bits, and ``r`` feeds the ``r > 0.9`` rule and the float64
    parity tests of the assigner against the official maps, so this arithmetic stays as it was.
    """
    p = _check(polys)
    x, y = p[..., 0], p[..., 1]
    cross = x * y.roll(-1, dims=1) - x.roll(-1, dims=1) * y
    return cross.sum(dim=1).abs() / 2


def area_ratio(polys: Tensor) -> Tensor:
    """``r = area(polygon) / area(HBB)`` ``[N]`` in float (the official tool used integer corners)."""
    area = _shoelace_area(polys)  # checks the [N, 8] shape first
    hbb = poly_to_hbb(polys)
    hbb_area = (hbb[:, 2] - hbb[:, 0]) * (hbb[:, 3] - hbb[:, 1])
    return area / hbb_area.clamp_min(torch.finfo(polys.dtype).tiny)


def orc_order(polys: Tensor) -> Tensor:
    """Reorder ``[N, 8]`` quadrilaterals (any vertex order) into ORC order top, right, bottom, left.

    1. The 4 vertices are sorted by angle around their mean; ``atan2(dy, dx)`` grows clockwise on screen
       (y down), so this yields the clockwise cycle of a convex quadrilateral whatever the input order.
    2. Of the 4 rotations of that cycle, take the one that best satisfies ``y1 = ymin, x2 = xmax,
       y3 = ymax, x4 = xmin`` (violation measured relative to ``w``/``h``). Near-ties (within 1e-9 of the
       HBB size, e.g. an axis-aligned rectangle where both TL-first and TR-first are exact, or its float
       rendering at 90 degrees) go to the rotation whose ``p1`` is leftmost, giving TL, TR, BR, BL.
    Quadrilaterals with a vertex that touches no HBB side (the 4.79 % the official tool modifies by its
    "refined approximation") get the least-violating rotation; no vertex is moved here.
    """
    p = _check(polys)
    n = p.shape[0]
    if n == 0:
        return polys.clone()
    centre = p.mean(dim=1, keepdim=True)
    ang = torch.atan2(p[..., 1] - centre[..., 1], p[..., 0] - centre[..., 0])
    order = ang.argsort(dim=1, stable=True)
    cyc = torch.gather(p, 1, order.unsqueeze(-1).expand(-1, -1, 2))  # [N, 4, 2] clockwise on screen

    hbb = torch.cat([cyc.amin(dim=1), cyc.amax(dim=1)], dim=1)
    xmin, ymin, xmax, ymax = hbb.unbind(1)
    tiny = torch.finfo(polys.dtype).tiny
    w = (xmax - xmin).clamp_min(tiny)
    h = (ymax - ymin).clamp_min(tiny)
    rot_idx = (
        torch.arange(4, device=p.device).unsqueeze(1) + torch.arange(4, device=p.device)
    ) % 4  # [4 rot, 4]
    rots = cyc[:, rot_idx]  # [N, 4 rot, 4 vert, 2]
    viol = (
        (rots[:, :, 0, 1] - ymin[:, None]).abs() / h[:, None]
        + (xmax[:, None] - rots[:, :, 1, 0]).abs() / w[:, None]
        + (ymax[:, None] - rots[:, :, 2, 1]).abs() / h[:, None]
        + (rots[:, :, 3, 0] - xmin[:, None]).abs() / w[:, None]
    )  # [N, 4]
    best = viol.amin(dim=1, keepdim=True)
    tied = viol <= best + _TIE_TOL
    x1 = torch.where(tied, rots[:, :, 0, 0], torch.full_like(viol, math.inf))
    pick = x1.argmin(dim=1)  # first minimum: deterministic
    out = rots[torch.arange(n, device=p.device), pick]
    return out.reshape(n, 8)


def orc_ratios(ordered: Tensor) -> Tensor:
    """ORC sliding ratios ``[N, 4]`` of ORC-ordered polygons (OLA later zeroes them where r > 0.9).

    ``s1 = (x1 - xmin)/w, s2 = (y2 - ymin)/h, s3 = (xmax - x3)/w, s4 = (ymax - y4)/h``.
    """
    p = _check(ordered)
    xmin, ymin, xmax, ymax = poly_to_hbb(ordered).unbind(1)
    tiny = torch.finfo(ordered.dtype).tiny
    w = (xmax - xmin).clamp_min(tiny)
    h = (ymax - ymin).clamp_min(tiny)
    return torch.stack(
        [(p[:, 0, 0] - xmin) / w, (p[:, 1, 1] - ymin) / h, (xmax - p[:, 2, 0]) / w, (ymax - p[:, 3, 1]) / h],
        dim=1,
    )


def orc_to_poly(hbb: Tensor, s: Tensor) -> Tensor:
    """Polygon ``[..., 8]`` from HBB ``[..., 4]`` xyxy and ratios ``[..., 4]`` (docs/boxes.md#orc-order)."""
    check_last_dim(hbb, 4, "hbb")
    check_last_dim(s, 4, "s")
    check_same_device(("hbb", hbb), ("s", s))
    if hbb.shape != s.shape:
        raise ValueError(f"hbb and s must have the same shape, got {tuple(hbb.shape)} and {tuple(s.shape)}")
    xmin, ymin, xmax, ymax = hbb.unbind(-1)
    w, h = xmax - xmin, ymax - ymin
    s1, s2, s3, s4 = s.unbind(-1)
    return torch.stack(
        [xmin + s1 * w, ymin, xmax, ymin + s2 * h, xmax - s3 * w, ymax, xmin, ymax - s4 * h], dim=-1
    )


def long_side_angle(ordered: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Long-side angle and side lengths of cyclically ordered quadrilaterals ``[N, 8]``.

    ``L = mean length of the longer pair of opposite sides``, ``Sd`` the shorter pair (official loader:
    ``(|p2p3| + |p1p4|)/2`` vs ``(|p1p2| + |p3p4|)/2``, swapped so that ``L >= Sd``). ``theta`` is the
    direction of the long pair (sum of its two side vectors, oriented alike), measured from +x towards +y
    (clockwise on screen), in radians in ``[0, pi)``. On an exact tie (square) the ``p1p2`` pair wins, so an
    axis-aligned square in ORC order gets ``theta = 0`` like the official tool. For rectangles this equals
    the official long-side angle; the official ``(179, 180] -> 179`` degree quirk is not reproduced.

    Returns:
        ``(theta, L, Sd)``, each ``[N]``, dtype of the input.
    """
    p = _check(ordered)
    p1, p2, p3, p4 = p.unbind(1)
    a12 = (p2 - p1).norm(dim=-1)
    a34 = (p3 - p4).norm(dim=-1)
    a23 = (p3 - p2).norm(dim=-1)
    a14 = (p4 - p1).norm(dim=-1)
    long_b = (a23 + a14) / 2
    long_a = (a12 + a34) / 2
    use_b = long_b > long_a
    d = torch.where(use_b.unsqueeze(-1), (p3 - p2) + (p4 - p1), (p2 - p1) + (p3 - p4))
    theta = torch.remainder(torch.atan2(d[:, 1], d[:, 0]), math.pi)
    theta = torch.where(theta >= math.pi, theta - math.pi, theta)  # remainder can round up to pi
    big = torch.maximum(long_a, long_b)
    small = torch.minimum(long_a, long_b)
    return theta, big, small
