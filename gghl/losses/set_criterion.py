"""Set criterion of the StageInteractor / AdaMixer query detector (docs/stageinteractor.md#losses), DETR-style.

``SetCriterion(num_classes, matcher, assigner, weights)`` receives its parts by injection (DETR's ``build``,
here through Hydra ``_target_`` entries, ``configs/model/stageinteractor.yaml``): the ``matcher`` gives every
stage's one-to-one matches, the ``assigner`` turns them into every stage's classification targets, and the
criterion only computes the losses. Per stage ``s`` (all stage weights 1):

    loss_cls_s  = w_cls  * sum FL(logits_s, Y_s)                  / max(sum Y_s, num_pos_s)
    loss_bbox_s = w_l1   * sum_{own matches} |b/whwh - g/whwh|_1   / num_pos_s
    loss_iou_s  = w_giou * sum_{own matches} (1 - GIoU(b, g))      / num_pos_s

``Y_s`` are the assigner's targets: cross-stage (StageInteractor) or one-hot of the stage's own matches
(AdaMixer, the same assigner with ``candidates="none", keep_own_positive=True``). Fixes w.r.t. the released
code: both normalisers are averaged across DDP ranks and then clamped to >= 1, so batches without objects
give finite losses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from gghl.structures.gt_lists import check_gt_lists, pad_gts
from gghl.structures.hbb import aligned_generalized_box_iou

#: Loss weights of the paper (``weights`` keys are the loss names of every stage).
DEFAULT_WEIGHTS: dict[str, float] = {"loss_cls": 2.0, "loss_bbox": 5.0, "loss_iou": 2.0}


class Matcher(Protocol):
    """One-to-one matches of every stage, e.g. :class:`gghl.assigners.hungarian.HungarianMatcher`."""

    def __call__(
        self,
        cls_logits: Tensor,
        boxes_xyxy: Tensor,
        gt_boxes: Sequence[Tensor],
        gt_labels: Sequence[Tensor],
        img_wh: Tensor,
    ) -> Tensor:
        """``[S,B,N,C]``, ``[S,B,N,4]``, ``B`` GT lists, ``[B,2]`` -> ``[S,B,N]`` int64 (GT index or -1)."""
        ...


class LabelAssigner(Protocol):
    """Classification targets of every stage, e.g. :class:`gghl.assigners.cross_stage.CrossStageLabelAssigner`."""

    def __call__(
        self,
        matches: Tensor,
        boxes_xyxy: Tensor,
        gt_boxes: Sequence[Tensor],
        gt_labels: Sequence[Tensor],
        num_classes: int,
    ) -> list[Tensor]:
        """``[S,B,N]`` matches, ``[S,B,N,4]`` boxes, ``B`` GT lists -> ``S`` tensors ``[B,N,C]`` in {0, 1}."""
        ...


def sigmoid_focal_loss_sum(
    logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> Tensor:
    """Summed sigmoid focal loss for binary targets; ``logits``/``targets`` of the same shape."""
    logits = logits.float()
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    w = torch.where(targets > 0.5, alpha * (1 - p).pow(gamma), (1 - alpha) * p.pow(gamma))
    return (ce * w).sum()


def reduce_mean_clamped(x: Tensor) -> Tensor:
    """Mean over DDP ranks (identity without torch.distributed), then clamp to >= 1."""
    x = x.detach().float().clone()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(x)
        x = x / dist.get_world_size()
    return x.clamp(min=1.0)


def stage_losses(
    logits: Tensor,
    boxes_xyxy: Tensor,
    cls_targets: Tensor,
    matches: Tensor,
    gt_boxes: Sequence[Tensor],
    img_wh: Tensor,
    weight_cls: float = 2.0,
    weight_l1: float = 5.0,
    weight_giou: float = 2.0,
    alpha: float = 0.25,
    gamma: float = 2.0,
) -> dict[str, Tensor]:
    """Losses of one stage.

    Args:
        logits: ``[B, N, C]``; boxes_xyxy: ``[B, N, 4]`` absolute xyxy (with grad).
        cls_targets: ``[B, N, C]`` binary targets.
        matches: ``[B, N]`` int64 own one-to-one matches (GT index or -1).
        gt_boxes: ``B`` tensors ``[M_b, 4]``; img_wh: ``[B, 2]`` image sizes ``(W, H)``.
    Returns:
        dict with ``loss_cls``, ``loss_bbox``, ``loss_iou`` (scalars) and the normalisers
        ``avg_factor_cls``, ``num_pos`` (detached).
    """
    b, n, _ = boxes_xyxy.shape
    valid = matches >= 0
    num_pos = valid.sum().float()
    avg_cls = reduce_mean_clamped(torch.maximum(cls_targets.sum(), num_pos))
    avg_reg = reduce_mean_clamped(num_pos)
    loss_cls = weight_cls * sigmoid_focal_loss_sum(logits, cls_targets, alpha, gamma) / avg_cls

    gt_pad, _ = pad_gts(
        list(gt_boxes), [torch.zeros(g.shape[0], dtype=torch.long) for g in gt_boxes], boxes_xyxy.device
    )
    gtb = torch.gather(gt_pad, 1, matches.clamp(min=0)[..., None].expand(b, n, 4))  # [B, N, 4]
    wh = torch.as_tensor(img_wh, dtype=torch.float32, device=boxes_xyxy.device).reshape(b, 1, 2)
    whwh = torch.cat([wh, wh], -1)
    pred = boxes_xyxy.float()
    m = valid.float()
    # masked sums keep the graph connected (0 * pred) when a stage has no positives
    l1 = ((pred / whwh - gtb / whwh).abs().sum(-1) * m).sum()
    giou = ((1 - aligned_generalized_box_iou(pred, gtb)) * m).sum()
    return {
        "loss_cls": loss_cls,
        "loss_bbox": weight_l1 * l1 / avg_reg,
        "loss_iou": weight_giou * giou / avg_reg,
        "avg_factor_cls": avg_cls,
        "num_pos": avg_reg,
    }


class SetCriterion(nn.Module):
    """Matching of every stage + classification targets + focal / L1 / GIoU losses.

    Args:
        num_classes: ``C``.
        matcher: :class:`Matcher` (the Hungarian matcher with its cost weights).
        assigner: :class:`LabelAssigner` (the cross-stage label assigner, or its one-to-one setting).
        weights: loss weights by name, ``loss_cls`` / ``loss_bbox`` / ``loss_iou`` (missing names keep
            :data:`DEFAULT_WEIGHTS`).
        alpha, gamma: focal loss parameters.
    """

    def __init__(
        self,
        num_classes: int,
        matcher: Matcher,
        assigner: LabelAssigner,
        weights: Mapping[str, float] | None = None,
        alpha: float = 0.25,
        gamma: float = 2.0,
    ) -> None:
        super().__init__()
        for name, part in (("matcher", matcher), ("assigner", assigner)):
            if not callable(part):
                raise TypeError(f"{name} must be callable (see SetCriterion's docstring), got {part!r:.80}")
        unknown = sorted(set(weights or {}) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(f"weights has unknown loss names {unknown}; known: {sorted(DEFAULT_WEIGHTS)}")
        self.num_classes = num_classes
        self.matcher = matcher
        self.assigner = assigner
        self.weights = {k: float(v) for k, v in {**DEFAULT_WEIGHTS, **dict(weights or {})}.items()}
        self.alpha, self.gamma = alpha, gamma

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, matcher={self.matcher!r}, assigner={self.assigner!r}, weights={self.weights}"

    def forward(
        self,
        cls_logits: Tensor,
        boxes_xyxy: Tensor,
        gt_boxes: Sequence[Tensor],
        gt_labels: Sequence[Tensor],
        img_wh: Tensor,
        matches: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Total and per-stage losses.

        Args:
            cls_logits: ``[S, B, N, C]``; boxes_xyxy: ``[S, B, N, 4]`` absolute xyxy of every stage.
            gt_boxes / gt_labels: ``B`` tensors ``[M_b, 4]`` / ``[M_b]`` (current image pixels).
            img_wh: ``[B, 2]`` image sizes ``(W, H)`` before padding.
            matches: optional precomputed ``[S, B, N]`` matches (else the matcher's).
        Returns:
            ``loss`` (sum over stages and terms), ``s{i}.loss_cls|loss_bbox|loss_iou`` and ``num_pos``.
        """
        if cls_logits.dim() != 4 or boxes_xyxy.shape != (*cls_logits.shape[:3], 4):
            raise ValueError(
                f"cls_logits must be [S, B, N, C] and boxes_xyxy [S, B, N, 4], got "
                f"{tuple(cls_logits.shape)} and {tuple(boxes_xyxy.shape)}"
            )
        check_gt_lists(gt_boxes, gt_labels, cls_logits.shape[1])
        if matches is None:
            matches = self.matcher(cls_logits.detach(), boxes_xyxy.detach(), gt_boxes, gt_labels, img_wh)
        tgts = self.assigner(matches, boxes_xyxy.detach(), gt_boxes, gt_labels, self.num_classes)
        out: dict[str, Tensor] = {}
        total = cls_logits.new_zeros((), dtype=torch.float32)
        for i, tgt in enumerate(tgts):
            d = stage_losses(
                cls_logits[i],
                boxes_xyxy[i],
                tgt,
                matches[i],
                gt_boxes,
                img_wh,
                self.weights["loss_cls"],
                self.weights["loss_bbox"],
                self.weights["loss_iou"],
                alpha=self.alpha,
                gamma=self.gamma,
            )
            for k in ("loss_cls", "loss_bbox", "loss_iou"):
                out[f"s{i}.{k}"] = d[k]
                total = total + d[k]
        out["loss"] = total
        out["num_pos"] = d["num_pos"]
        out["num_cls_pos"] = tgts[-1].sum()
        return out
