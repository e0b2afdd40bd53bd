"""Axis-aligned IoU-family overlaps for JOL (docs/gghl.md#jol-loss): IoU, GIoU, CIoU of paired HBBs.

Boxes are ``[..., 4]`` ``(cx, cy, w, h)`` in pixels; the result is elementwise ``[...]``. No epsilon is added
to the GIoU denominators (the union and the enclosing box are positive as soon as one box has positive
size, which decoded predictions always have); callers must not pass two empty boxes (JOL replaces the
all-zero label boxes of background cells before calling).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["xywh_to_xyxy", "iou_xywh"]


def xywh_to_xyxy(b: Tensor) -> Tensor:
    """``[..., 4]`` centre-size boxes to corner boxes ``(xmin, ymin, xmax, ymax)``."""
    c, s = b[..., :2], b[..., 2:4]
    return torch.cat([c - s / 2, c + s / 2], dim=-1)


def iou_xywh(pred: Tensor, target: Tensor, kind: str = "giou", eps: float = 1e-9) -> Tensor:
    """Elementwise IoU (``kind="iou"``), GIoU or CIoU of ``[..., 4]`` xywh boxes.

    CIoU = IoU - rho^2/c^2 - alpha*v with ``v = 4/pi^2 (atan(w_t/h_t) - atan(w_p/h_p))^2`` and
    ``alpha = v / (1 - IoU + v)`` (alpha not detached); ``eps`` guards only the CIoU ratios.
    """
    if kind not in ("iou", "giou", "ciou"):
        raise ValueError(f"unknown IoU kind {kind!r}")
    a, b = xywh_to_xyxy(pred), xywh_to_xyxy(target)
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
