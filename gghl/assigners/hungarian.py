"""One-to-one Hungarian matching for query detectors (docs/stageinteractor.md#hungarian-matching).

Cost per (query i, GT j), computed in fp32 on the predictions' device:

    cost = w_cls * focal_cost(p_i[c_j]) + w_l1 * |b_i/whwh - g_j/whwh|_1 + w_giou * -GIoU(b_i, g_j)

``focal_cost(p) = -log(p+1e-12)*alpha*(1-p)^gamma - -log(1-p+1e-12)*(1-alpha)*p^gamma`` (mmdet
``FocalLossCost``). Non-finite costs (fp16/AMP overflow) are replaced by a large finite value before
scipy's ``linear_sum_assignment``, which otherwise raises "matrix contains invalid numeric entries".

Two entry points:
- :func:`hungarian_match` — one image, one stage.
- :func:`hungarian_match_stages` — all stages x images of a training step with ONE device->host copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from gghl.structures.gt_lists import check_gt_lists, pad_gts
from gghl.structures.hbb import generalized_box_iou

# Large but far from float32 overflow: LSA subtracts dual variables, so finfo.max would lose precision.
_BIG = 1e8


def _to_host(t: Tensor) -> Tensor:
    """The single device->host copy used by this module (tests count calls to it)."""
    return t.cpu()


def focal_class_cost(
    cls_logits: Tensor, alpha: float = 0.25, gamma: float = 2.0, eps: float = 1e-12
) -> Tensor:
    """Per-class focal matching cost ``[..., C]`` from logits ``[..., C]`` (fp32)."""
    p = cls_logits.float().sigmoid()
    pos = -(p + eps).log() * alpha * (1 - p).pow(gamma)
    neg = -(1 - p + eps).log() * (1 - alpha) * p.pow(gamma)
    return pos - neg


def _as_whwh(img_wh: Tensor | Sequence[float], like: Tensor) -> Tensor:
    """``(W, H)`` (tensor ``[..., 2]`` or pair) -> ``[..., 4]`` ``(W, H, W, H)`` fp32 on ``like``'s device."""
    wh = torch.as_tensor(img_wh, dtype=torch.float32, device=like.device)
    return torch.cat([wh, wh], dim=-1)


def match_cost(
    cls_logits: Tensor,
    boxes_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    img_wh: Tensor | Sequence[float],
    cost_cls: float = 2.0,
    cost_l1: float = 5.0,
    cost_giou: float = 2.0,
    cls_cost: str = "focal",
) -> Tensor:
    """Batched matching cost (fp32, sanitized).

    Args:
        cls_logits: ``[..., N, C]`` logits.
        boxes_xyxy: ``[..., N, 4]`` predicted boxes, absolute pixels.
        gt_boxes: ``[..., M, 4]`` GT boxes, absolute pixels (leading dims broadcast with the predictions).
        gt_labels: ``[..., M]`` int64 class ids (padding may hold any valid id).
        img_wh: ``[..., 2]`` or ``(W, H)``: image size used to normalise the L1 cost.
        cls_cost: ``"focal"`` (mmdet FocalLossCost, StageInteractor / AdaMixer) or ``"softmax"``
            (DETR: ``-softmax(logits)[c_j]``).
    Returns:
        ``[..., N, M]`` cost, finite everywhere.
    """
    logits = cls_logits.float()
    boxes = boxes_xyxy.float()
    gts = gt_boxes.float().to(boxes.device)
    if cls_cost == "focal":
        fc = focal_class_cost(logits)  # [..., N, C]
    elif cls_cost == "softmax":
        fc = -logits.softmax(-1)
    else:
        raise ValueError(f"cls_cost must be 'focal' or 'softmax', got {cls_cost!r}")
    idx = gt_labels.to(fc.device).long()[..., None, :].expand(*fc.shape[:-1], gt_labels.shape[-1])
    c_cls = torch.gather(fc, -1, idx)  # [..., N, M]
    whwh = _as_whwh(img_wh, boxes)
    if whwh.dim() > 1:  # per-image sizes [..., 4] -> broadcast over N / M
        whwh = whwh[..., None, :]
    # explicit broadcast instead of cdist: batch dims of predictions and GTs may differ ([S,B] vs [1,B])
    c_l1 = ((boxes / whwh)[..., :, None, :] - (gts / whwh)[..., None, :, :]).abs().sum(-1)
    c_giou = -generalized_box_iou(boxes, gts)
    cost = cost_cls * c_cls + cost_l1 * c_l1 + cost_giou * c_giou
    return torch.nan_to_num(cost, nan=_BIG, posinf=_BIG, neginf=-_BIG)


def _solve(cost: np.ndarray, num_queries: int) -> np.ndarray:
    """LSA on a ``[N, M]`` numpy cost -> ``[N]`` int64 GT index (-1 background)."""
    out = np.full(num_queries, -1, dtype=np.int64)
    if cost.shape[1] == 0 or num_queries == 0:
        return out
    rows, cols = linear_sum_assignment(cost)
    out[rows] = cols
    return out


@torch.no_grad()
def hungarian_match(
    cls_logits: Tensor,
    boxes_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor,
    img_wh: Tensor | Sequence[float],
    cost_cls: float = 2.0,
    cost_l1: float = 5.0,
    cost_giou: float = 2.0,
) -> Tensor:
    """One-to-one match of one image and one stage.

    Args:
        cls_logits: ``[N, C]``; boxes_xyxy: ``[N, 4]`` absolute xyxy; gt_boxes: ``[M, 4]``; gt_labels: ``[M]``;
        img_wh: ``(W, H)`` of the resized image before padding.
    Returns:
        ``[N]`` int64 on ``cls_logits.device``: GT index per query, -1 for background. With ``M > N`` every
        query is matched and the remaining GTs stay unmatched; ``M == 0`` gives all -1.
    """
    check_gt_lists([gt_boxes], [gt_labels])
    n = cls_logits.shape[0]
    if gt_boxes.shape[0] == 0:
        return torch.full((n,), -1, dtype=torch.long, device=cls_logits.device)
    cost = match_cost(cls_logits, boxes_xyxy, gt_boxes, gt_labels, img_wh, cost_cls, cost_l1, cost_giou)
    res = _solve(_to_host(cost).numpy(), n)
    return torch.from_numpy(res).to(cls_logits.device)


@torch.no_grad()
def hungarian_match_stages(
    cls_logits: Tensor,
    boxes_xyxy: Tensor,
    gt_boxes: Sequence[Tensor],
    gt_labels: Sequence[Tensor],
    img_wh: Tensor,
    cost_cls: float = 2.0,
    cost_l1: float = 5.0,
    cost_giou: float = 2.0,
) -> Tensor:
    """Match every stage and image of a training step with a single device->host transfer.

    Per-image (block-diagonal) costs are computed on the device against GTs padded to ``M_max``,
    stacked into one ``[S, B, N, M_max]`` tensor, copied to the host once, then each ``[N, M_b]`` block
    is solved with scipy (no cross-image cost entries are ever formed).

    Args:
        cls_logits: ``[S, B, N, C]`` logits of all stages.
        boxes_xyxy: ``[S, B, N, 4]`` absolute xyxy boxes of all stages.
        gt_boxes: ``B`` tensors ``[M_b, 4]`` absolute xyxy.
        gt_labels: ``B`` tensors ``[M_b]`` int64.
        img_wh: ``[B, 2]`` image sizes ``(W, H)`` before padding.
    Returns:
        ``[S, B, N]`` int64 on the predictions' device (GT index or -1).
    """
    if cls_logits.dim() != 4 or boxes_xyxy.shape != (*cls_logits.shape[:3], 4):
        raise ValueError(
            f"cls_logits must be [S, B, N, C] and boxes_xyxy [S, B, N, 4], got "
            f"{tuple(cls_logits.shape)} and {tuple(boxes_xyxy.shape)}"
        )
    s, b, n, _ = cls_logits.shape
    check_gt_lists(gt_boxes, gt_labels, b)
    dev = cls_logits.device
    counts = [int(g.shape[0]) for g in gt_boxes]  # shapes are host metadata: no sync
    m_max = max(counts, default=0)
    if m_max == 0:
        return torch.full((s, b, n), -1, dtype=torch.long, device=dev)
    gt_pad, lbl_pad = pad_gts(gt_boxes, gt_labels, dev)  # [B, M_max, 4], [B, M_max]
    wh = torch.as_tensor(img_wh, dtype=torch.float32, device=dev).reshape(1, b, 2)
    cost = match_cost(cls_logits, boxes_xyxy, gt_pad[None], lbl_pad[None], wh, cost_cls, cost_l1, cost_giou)
    host = _to_host(cost).numpy()  # the one transfer of the step
    out = np.full((s, b, n), -1, dtype=np.int64)
    for si in range(s):
        for bi in range(b):
            out[si, bi] = _solve(host[si, bi, :, : counts[bi]], n)
    return torch.from_numpy(out).to(dev)


class HungarianMatcher:
    """Callable form of :func:`hungarian_match_stages` holding the cost weights.

    ``matcher(cls_logits [S,B,N,C], boxes_xyxy [S,B,N,4], gt_boxes, gt_labels, img_wh [B,2]) -> [S,B,N]``.
    """

    def __init__(self, cost_cls: float = 2.0, cost_l1: float = 5.0, cost_giou: float = 2.0) -> None:
        self.cost_cls, self.cost_l1, self.cost_giou = cost_cls, cost_l1, cost_giou

    def __call__(
        self,
        cls_logits: Tensor,
        boxes_xyxy: Tensor,
        gt_boxes: Sequence[Tensor],
        gt_labels: Sequence[Tensor],
        img_wh: Tensor,
    ) -> Tensor:
        return hungarian_match_stages(
            cls_logits, boxes_xyxy, gt_boxes, gt_labels, img_wh, self.cost_cls, self.cost_l1, self.cost_giou
        )
