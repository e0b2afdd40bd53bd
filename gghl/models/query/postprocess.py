"""Query detector inference (docs/stageinteractor.md#inference): last stage, top-k query x class, no NMS."""

from __future__ import annotations

import torch
from torch import Tensor


def invert_affine_boxes(boxes: Tensor, affine: Tensor) -> Tensor:
    """Map xyxy boxes ``[K, 4]`` from current-image pixels back to original pixels.

    ``affine [2, 3]`` maps original -> current (``p' = A[:, :2] p + A[:, 2]``). The four corners are mapped
    through the inverse and the enclosing box is returned, so flips and axis swaps are handled.
    """
    a = affine.to(torch.float64)
    lin_inv = torch.linalg.inv(a[:, :2])
    b = boxes.to(torch.float64)
    corners = torch.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], 1)  # [K, 4, 2]
    orig = (corners - a[:, 2]) @ lin_inv.T
    return torch.cat([orig.amin(1), orig.amax(1)], -1).to(boxes.dtype)


@torch.no_grad()
def postprocess(
    cls_logits: Tensor,
    boxes_xyxy: Tensor,
    affines: list[Tensor] | None = None,
    orig_sizes: list[tuple[int, int]] | None = None,
    max_det: int | None = None,
) -> list[dict[str, Tensor]]:
    """Top-k detections of the last stage.

    Args:
        cls_logits: ``[B, N, C]``; boxes_xyxy: ``[B, N, 4]`` current-image pixels.
        affines: per image ``[2, 3]`` original -> current; when given, boxes are mapped back to original
            pixels (and clipped to ``orig_sizes`` ``(H0, W0)`` when given).
        max_det: ``k`` (default ``N``; a query may appear with several classes).
    Returns:
        per image ``{"boxes": [k, 4], "scores": [k], "labels": [k] int64}``.
    """
    b, n, c = cls_logits.shape
    k = min(max_det or n, n * c)
    scores, idx = cls_logits.float().sigmoid().flatten(1).topk(k, dim=1)  # [B, k]
    labels = idx % c
    qidx = torch.div(idx, c, rounding_mode="floor")
    out = []
    for i in range(b):
        bx = boxes_xyxy[i].float()[qidx[i]]
        if affines is not None:
            bx = invert_affine_boxes(bx, affines[i])
        if orig_sizes is not None:
            h0, w0 = orig_sizes[i]
            bx = torch.stack(
                [bx[:, 0].clamp(0, w0), bx[:, 1].clamp(0, h0), bx[:, 2].clamp(0, w0), bx[:, 3].clamp(0, h0)],
                -1,
            )
        out.append({"boxes": bx, "scores": scores[i], "labels": labels[i]})
    return out
