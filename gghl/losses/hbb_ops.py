"""Axis-aligned (HBB) box helpers used by the query detector: IoU, GIoU, IoF and format conversions.

All boxes are ``xyxy`` in pixels (any float dtype). Functions are pure torch and differentiable.
"""

from __future__ import annotations

import torch
from torch import Tensor

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
