"""Public greedy rotated NMS (per image, and per category)."""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.ops._checks import check_rows, check_same_device, check_threshold, check_vector
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
        boxes: ``[N, 5]`` oriented boxes (real dtype; other than float32/float64 computed in float32).
        scores: ``[N]`` real scores, same device.
        idxs: ``[N]`` integer category of each box, same device (``None`` behaves as one category).
        iou_threshold: suppress when IoU ``>`` threshold; a finite real number.

    Returns:
        ``[K]`` int64 indices of kept boxes in decreasing score order (ties: lower index first).

    Raises:
        TypeError: an argument of the wrong type or dtype (float ``idxs``, bool ``scores``, a string
            threshold). ValueError: wrong shapes (``scores``/``idxs`` length not ``N``), tensors on
            different devices, or a NaN/inf threshold. Messages name the argument.
    """
    boxes = check_rows(boxes, 5, "boxes", floating=False)
    n = boxes.shape[0]
    scores = check_vector(scores, n, "scores", of="boxes")
    on_device = [("scores", scores)]
    if idxs is not None:
        idxs = check_vector(idxs, n, "idxs", of="boxes", integer=True)
        on_device.append(("idxs", idxs))
    check_same_device(("boxes", boxes), *on_device)
    thr = check_threshold(iou_threshold, "iou_threshold")
    if n == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    b = boxes.detach()
    if b.dtype not in (torch.float32, torch.float64):
        b = b.float()
    return batched_nms_rotated_op(b, scores.detach(), None if idxs is None else idxs.detach(), thr)
