"""Pure-torch greedy rotated NMS (reference and fallback)."""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.ops._degenerate import nms_entries, nms_on_subset
from gghl.ops._reference import box_iou_rotated_ref


def score_order(scores: Tensor) -> Tensor:
    """Indices sorting ``scores`` in decreasing order; ties keep the lower index first (stable)."""
    return torch.sort(scores, descending=True, stable=True).indices


def greedy_from_matrix(suppress: Tensor) -> Tensor:
    """Greedy NMS on a ``[N, N]`` bool matrix in score order: row ``i`` marks what box ``i`` suppresses.

    Returns ``[N]`` bool keep flags (score order).  Only kept boxes suppress.
    """
    sup = suppress.cpu().numpy()
    n = sup.shape[0]
    removed = torch.zeros(n, dtype=torch.bool).numpy()
    keep = torch.zeros(n, dtype=torch.bool).numpy()
    for i in range(n):
        if not removed[i]:
            keep[i] = True
            removed |= sup[i]
    return torch.from_numpy(keep)


def batched_nms_rotated_ref(
    boxes: Tensor, scores: Tensor, idxs: Tensor | None, iou_threshold: float
) -> Tensor:
    """Greedy rotated NMS; boxes of different ``idxs`` never suppress each other (``idxs=None``: one class).

    Args:
        boxes: ``[N, 5]`` ``(cx, cy, w, h, a)``, float32/float64.
        scores: ``[N]``.
        idxs: ``[N]`` int category of each box, or ``None``.
        iou_threshold: a box is suppressed by a kept, higher-scored box when IoU ``>`` threshold.

    Returns:
        ``[K]`` int64 indices of kept boxes in decreasing score order (ties: lower index first).
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    entries = nms_entries(boxes, scores)
    if entries is not None:  # NaN/inf boxes and NaN scores are dropped (gghl.ops._degenerate)
        return nms_on_subset(batched_nms_rotated_ref, boxes, scores, idxs, iou_threshold, entries)
    order = score_order(scores)
    b = boxes.index_select(0, order).detach()
    sup = box_iou_rotated_ref(b, b) > iou_threshold
    if idxs is not None:
        c = idxs.index_select(0, order)
        sup &= c[:, None] == c[None, :]
    keep = greedy_from_matrix(sup).to(boxes.device)
    return order[keep]
