"""Public greedy rotated NMS (per image, and per category)."""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.ops._library import batched_nms_rotated_op


def nms_rotated(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression of oriented boxes.

    Args:
        boxes: ``[N, 5]`` ``(cx, cy, w, h, a)``, pixels and radians, float32/float64, CPU or CUDA.
        scores: ``[N]`` scores.
        iou_threshold: a box is dropped when its IoU with a kept, higher-scored box is ``>`` this value
            (a pair at exactly the threshold is kept).

    Returns:
        ``[K]`` int64 indices of the kept boxes in decreasing score order.  Equal scores are ordered by
        index (stable sort), so among tied boxes the lower index is visited, and kept, first.
    """
    return batched_nms_rotated(boxes, scores, None, iou_threshold)


def batched_nms_rotated(boxes: Tensor, scores: Tensor, idxs: Tensor | None, iou_threshold: float) -> Tensor:
    """Per-category greedy rotated NMS: boxes with different ``idxs`` never suppress each other.

    No coordinate-offset trick is used (it loses precision for huge coordinates): the category test is
    part of the suppression rule itself.

    Args:
        boxes: ``[N, 5]`` oriented boxes.
        scores: ``[N]``.
        idxs: ``[N]`` integer category of each box (``None`` behaves as one category).
        iou_threshold: suppress when IoU ``>`` threshold.

    Returns:
        ``[K]`` int64 indices of kept boxes in decreasing score order (ties: lower index first).
    """
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise ValueError(f"boxes must have shape [N, 5], got {tuple(boxes.shape)}")
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"scores must have shape [{boxes.shape[0]}], got {tuple(scores.shape)}")
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    b = boxes.detach()
    if b.dtype not in (torch.float32, torch.float64):
        b = b.float()
    return batched_nms_rotated_op(b, scores.detach(), None if idxs is None else idxs.detach(), float(iou_threshold))
