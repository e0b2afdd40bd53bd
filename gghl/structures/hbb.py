"""Axis-aligned boxes (HBB): area, format conversion and the IoU family, one home for every layer.

Two box layouts, both in pixels, any float dtype and device, pure torch and differentiable:

- ``xyxy`` ``(xmin, ymin, xmax, ymax)``: the query detector's boxes. Pairwise (``box_iou``,
  ``generalized_box_iou``, ``box_iof``: ``[..., N, 4] x [..., M, 4] -> [..., N, M]``) and element-wise
  (``aligned_*``) overlaps; the denominators are clamped at ``1e-6`` so empty boxes give 0, not NaN.
- ``cxcywh`` ``(cx, cy, w, h)``: the GGHL decoder's boxes. ``aligned_iou_cxcywh`` is the IoU / GIoU / CIoU
  of the JOL loss, element-wise, with the official GGHL arithmetic: no epsilon in the IoU and GIoU
  denominators (the union and the enclosing box are positive as soon as one box has positive size, which
  decoded predictions always have), so callers must not pass two empty boxes (JOL replaces the all-zero
  label boxes of background cells before calling). The two families are kept apart on purpose: merging
  them would change JOL's numbers in the last bits.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "box_area",
    "box_iou",
    "aligned_box_iou",
    "generalized_box_iou",
    "aligned_generalized_box_iou",
    "box_iof",
    "cxcywh_to_xyxy",
    "aligned_iou_cxcywh",
]

_EPS = 1e-6


def box_area(boxes: Tensor) -> Tensor:
    """Areas of ``boxes[..., 4]`` xyxy -> ``[...]`` (degenerate boxes give 0)."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def _inter_union(b1: Tensor, b2: Tensor) -> tuple[Tensor, Tensor]:
    """Intersection and union of broadcastable ``b1[..., 4]`` and ``b2[..., 4]``."""
    lt = torch.maximum(b1[..., :2], b2[..., :2])
    rb = torch.minimum(b1[..., 2:], b2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(b1) + box_area(b2) - inter
    return inter, union


def box_iou(b1: Tensor, b2: Tensor) -> Tensor:
    """Pairwise IoU: ``b1[..., N, 4]``, ``b2[..., M, 4]`` -> ``[..., N, M]`` (leading dims broadcast)."""
    inter, union = _inter_union(b1[..., :, None, :], b2[..., None, :, :])
    return inter / union.clamp(min=_EPS)


def aligned_box_iou(b1: Tensor, b2: Tensor) -> Tensor:
    """Element-wise IoU of ``b1[..., 4]`` and ``b2[..., 4]`` -> ``[...]``."""
    inter, union = _inter_union(b1, b2)
    return inter / union.clamp(min=_EPS)


def _giou_from(b1: Tensor, b2: Tensor) -> Tensor:
    inter, union = _inter_union(b1, b2)
    iou = inter / union.clamp(min=_EPS)
    lt = torch.minimum(b1[..., :2], b2[..., :2])
    rb = torch.maximum(b1[..., 2:], b2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    hull = (wh[..., 0] * wh[..., 1]).clamp(min=_EPS)
    return iou - (hull - union) / hull


def generalized_box_iou(b1: Tensor, b2: Tensor) -> Tensor:
    """Pairwise GIoU: ``b1[..., N, 4]``, ``b2[..., M, 4]`` -> ``[..., N, M]`` in [-1, 1]."""
    return _giou_from(b1[..., :, None, :], b2[..., None, :, :])


def aligned_generalized_box_iou(b1: Tensor, b2: Tensor) -> Tensor:
    """Element-wise GIoU of ``b1[..., 4]`` and ``b2[..., 4]`` -> ``[...]``."""
    return _giou_from(b1, b2)


def box_iof(b1: Tensor, b2: Tensor) -> Tensor:
    """Pairwise intersection over the area of the *first* box (mmdet ``mode='iof'``).

    ``b1[..., N, 4]``, ``b2[..., M, 4]`` -> ``[..., N, M]``.
    """
    inter, _ = _inter_union(b1[..., :, None, :], b2[..., None, :, :])
    return inter / box_area(b1)[..., :, None].clamp(min=_EPS)


def cxcywh_to_xyxy(b: Tensor) -> Tensor:
    """``[..., 4]`` centre-size boxes to corner boxes ``(xmin, ymin, xmax, ymax)``."""
    c, s = b[..., :2], b[..., 2:4]
    return torch.cat([c - s / 2, c + s / 2], dim=-1)


def aligned_iou_cxcywh(pred: Tensor, target: Tensor, kind: str = "giou", eps: float = 1e-9) -> Tensor:
    """Element-wise IoU (``kind="iou"``), GIoU or CIoU of ``[..., 4]`` cxcywh boxes -> ``[...]``.

    CIoU = IoU - rho^2/c^2 - alpha*v with ``v = 4/pi^2 (atan(w_t/h_t) - atan(w_p/h_p))^2`` and
    ``alpha = v / (1 - IoU + v)`` (alpha not detached); ``eps`` guards only the CIoU ratios.
    """
    if kind not in ("iou", "giou", "ciou"):
        raise ValueError(f"unknown IoU kind {kind!r}")
    a, b = cxcywh_to_xyxy(pred), cxcywh_to_xyxy(target)
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp_min(0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = pred[..., 2] * pred[..., 3]
    area_b = target[..., 2] * target[..., 3]
    union = area_a + area_b - inter
    iou = inter / union
    if kind == "iou":
        return iou
    elt = torch.minimum(a[..., :2], b[..., :2])
    erb = torch.maximum(a[..., 2:], b[..., 2:])
    ewh = erb - elt
    if kind == "giou":
        enclose = ewh[..., 0] * ewh[..., 1]
        return iou - (enclose - union) / enclose
    c2 = ewh[..., 0] ** 2 + ewh[..., 1] ** 2 + eps
    rho2 = ((pred[..., :2] - target[..., :2]) ** 2).sum(-1)
    v = (4 / math.pi**2) * (
        torch.atan(target[..., 2] / (target[..., 3] + eps)) - torch.atan(pred[..., 2] / (pred[..., 3] + eps))
    ) ** 2
    alpha = v / (1 - iou + v + eps)
    return iou - rho2 / c2 - alpha * v
