"""Clip polygons to the image rectangle; drop mostly-invisible objects; re-fit the clipped ones.

Clipping a quadrilateral to the image rectangle can leave up to 8 vertices (a convex quad cut by
4 half-planes). The sample format holds quadrilaterals, so a clipped polygon is **re-fitted with
its minimum-area enclosing rectangle** (``gghl.structures.min_area_rect``): an approximation that
may cover a little more than the visible part (and poke slightly outside the image at cut
corners). Objects that are entirely inside are left exactly as they are.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.data.transforms._sample import Sample, check_sample, image_size, select_objects
from gghl.structures import min_area_rect, obb_to_poly, poly_area

__all__ = ["clip_polygons", "clip_to_image", "ClipToImage"]


def _compact(pts: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
    """Left-align the kept points of each row (stable), pad with the row's first point."""
    order = torch.argsort((~keep).to(torch.uint8), dim=1, stable=True)
    pts = pts.gather(1, order.unsqueeze(-1).expand(-1, -1, 2))
    cnt = keep.sum(1)
    slot = torch.arange(pts.shape[1], device=pts.device)
    pts = torch.where((slot < cnt.unsqueeze(1)).unsqueeze(-1), pts, pts[:, :1])
    return pts, cnt


def _clip_halfplane(pts: Tensor, cnt: Tensor, nx: float, ny: float, c: float) -> tuple[Tensor, Tensor]:
    """One Sutherland-Hodgman stage: keep ``nx*x + ny*y + c >= 0``. ``pts [N, M, 2]``, ``cnt [N]``."""
    m = pts.shape[1]
    slot = torch.arange(m, device=pts.device)
    valid = slot < cnt.unsqueeze(1)
    nxt = torch.where(slot + 1 < cnt.unsqueeze(1), slot + 1, torch.zeros_like(slot))
    q = pts.gather(1, nxt.unsqueeze(-1).expand(-1, -1, 2))
    dp = nx * pts[..., 0] + ny * pts[..., 1] + c
    dq = nx * q[..., 0] + ny * q[..., 1] + c
    inp, inq = dp >= 0, dq >= 0
    cross = valid & (inp != inq)
    # dp and dq have different signs on crossing edges, so dp - dq != 0 there.
    t = torch.where(cross, dp / torch.where(cross, dp - dq, torch.ones_like(dp)), torch.zeros_like(dp))
    inter = pts + (q - pts) * t.unsqueeze(-1)
    out = torch.stack([pts, inter], dim=2).reshape(pts.shape[0], 2 * m, 2)
    keep = torch.stack([valid & inp, cross], dim=2).reshape(pts.shape[0], 2 * m)
    out, cnt = _compact(out, keep)
    width = max(int(cnt.max()) if cnt.numel() else 0, 1)
    return out[:, :width], cnt


def clip_polygons(poly: Tensor, height: float, width: float) -> tuple[Tensor, Tensor]:
    """Clip polygons to ``[0, width] x [0, height]`` (Sutherland-Hodgman, vectorised).

    Args:
        poly: ``[N, 2K]`` pixels (``K = 4`` for quadrilaterals), float.

    Returns:
        ``(points [N, M, 2], count [N])``: the clipped vertices left-aligned, padded by repeating the
        first vertex (so the shoelace area and the min-area rectangle of the padded row are those of
        the clipped polygon). ``count == 0`` when nothing is left.
    """
    pts = poly.reshape(poly.shape[0], poly.shape[1] // 2, 2).to(torch.float64)  # N = 0 allowed
    cnt = torch.full((pts.shape[0],), pts.shape[1], dtype=torch.int64, device=pts.device)
    for nx, ny, c in (
        (1.0, 0.0, 0.0),
        (-1.0, 0.0, float(width)),
        (0.0, 1.0, 0.0),
        (0.0, -1.0, float(height)),
    ):
        pts, cnt = _clip_halfplane(pts, cnt, nx, ny, c)
    pts = torch.where((cnt > 0).view(-1, 1, 1), pts, torch.zeros_like(pts))
    return pts.to(poly.dtype), cnt


def clip_to_image(sample: Sample, min_visible: float = 0.5, eps: float = 1e-6) -> Sample:
    """Clip every polygon to the image, drop objects with less than ``min_visible`` of their area
    left, and re-fit the clipped survivors with their minimum-area rectangle (module docstring).

    A zero-area polygon counts as fully visible when all its vertices are inside, else invisible.
    ``eps`` (pixels) tolerates vertices sitting on the border after floating-point maps.
    """
    check_sample(sample)
    poly = sample["polygons"]
    if poly.shape[0] == 0:
        return sample
    h, w = image_size(sample)
    xs, ys = poly[:, 0::2], poly[:, 1::2]
    inside = ((xs >= -eps) & (xs <= w + eps) & (ys >= -eps) & (ys <= h + eps)).all(1)
    pts, cnt = clip_polygons(poly, h, w)
    area = poly_area(poly.to(torch.float64))
    clipped_area = poly_area(pts.reshape(pts.shape[0], pts.shape[1] * 2).to(torch.float64))
    frac = torch.where(area > 0, clipped_area / area.clamp_min(1e-300), inside.to(torch.float64))
    frac = torch.where(inside, torch.ones_like(frac), frac)
    keep = (frac >= min_visible) & (frac > 0)  # nothing left is never kept, even at min_visible=0
    refit = obb_to_poly(min_area_rect(pts.to(torch.float64))).to(poly.dtype)
    out = dict(sample)
    out["polygons"] = torch.where(inside.unsqueeze(1), poly, refit)
    return select_objects(out, keep)


class ClipToImage:
    """Transform form of :func:`clip_to_image`."""

    def __init__(self, min_visible: float = 0.5) -> None:
        if not 0.0 <= min_visible <= 1.0:
            raise ValueError(f"min_visible must be in [0, 1], got {min_visible}")
        self.min_visible = float(min_visible)

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        return clip_to_image(sample, self.min_visible)
