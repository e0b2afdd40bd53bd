"""Per-image ground truth of query detectors: ``gt_boxes[b] [M_b, 4]`` xyxy and ``gt_labels[b] [M_b]``.

The argument check and the one padding into batch tensors shared by the Hungarian matcher, the cross-stage
label assigner and the set criterion (each gathers "the GT matched to query q" with one ``torch.gather``,
so images with different object counts are padded to one ``M``). Metadata checks only (no device sync).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["check_gt_lists", "pad_gts"]


def check_gt_lists(gt_boxes: object, gt_labels: object, batch: int | None = None) -> None:
    """``gt_boxes[b] [M_b, 4]`` and ``gt_labels[b] [M_b]`` integer, one pair per image.

    Errors name the argument and the shapes instead of an index error deep inside a gather.

    Args:
        batch: expected number of images (the predictions' ``B``), or None to skip that check.
    """
    for name, seq in (("gt_boxes", gt_boxes), ("gt_labels", gt_labels)):
        if not isinstance(seq, list | tuple):
            raise TypeError(f"{name} must be a list of per-image tensors, got {type(seq).__name__}")
    if len(gt_boxes) != len(gt_labels) or (batch is not None and len(gt_boxes) != batch):
        want = "" if batch is None else f" (predictions hold {batch} images)"
        raise ValueError(f"gt_boxes has {len(gt_boxes)} images and gt_labels {len(gt_labels)}{want}")
    for b, (box, lab) in enumerate(zip(gt_boxes, gt_labels)):
        if not isinstance(box, torch.Tensor) or not isinstance(lab, torch.Tensor):
            raise TypeError(
                f"gt_boxes[{b}] and gt_labels[{b}] must be tensors, got "
                f"{type(box).__name__} and {type(lab).__name__}"
            )
        if box.dim() != 2 or box.shape[1] != 4:
            raise ValueError(f"gt_boxes[{b}] must have shape [M, 4], got {tuple(box.shape)}")
        if lab.dim() != 1 or lab.shape[0] != box.shape[0]:
            raise ValueError(
                f"gt_labels[{b}] has shape {tuple(lab.shape)} but gt_boxes[{b}] has shape {tuple(box.shape)}: "
                f"expected one label per box, [{box.shape[0]}]"
            )
        if lab.is_floating_point() or lab.is_complex() or lab.dtype == torch.bool:
            raise TypeError(f"gt_labels[{b}] must hold integer class ids, got {lab.dtype}")


def pad_gts(
    gt_boxes: Sequence[Tensor], gt_labels: Sequence[Tensor], device: torch.device | str
) -> tuple[Tensor, Tensor]:
    """Pad per-image GTs: -> boxes ``[B, max(M,1), 4]`` fp32 and labels ``[B, max(M,1)]`` int64 (pad 0).

    At least one slot per image, so that ``gather`` with the clamped index of an unmatched query (-1 -> 0)
    stays in range when no image has objects; callers mask those entries.
    """
    check_gt_lists(gt_boxes, gt_labels)
    b = len(gt_boxes)
    m = max([int(g.shape[0]) for g in gt_boxes] + [1])
    box = torch.zeros((b, m, 4), dtype=torch.float32, device=device)
    lbl = torch.zeros((b, m), dtype=torch.long, device=device)
    for i, (g, lab) in enumerate(zip(gt_boxes, gt_labels)):
        box[i, : g.shape[0]] = g.to(device, torch.float32)
        lbl[i, : g.shape[0]] = lab.to(device)
    return box, lbl
