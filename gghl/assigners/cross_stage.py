"""StageInteractor cross-stage label assigner (docs/stageinteractor.md#cross-stage-assigner).

For stage ``s`` the classification target of query ``q`` is the multi-hot set of classes ``c`` such that
``q`` was one-to-one matched to a GT ``j`` of class ``c`` at stage ``s`` or at a candidate stage, and the
*current* stage's box of ``q`` overlaps ``gt_j`` with IoU >= ``iou_thr`` (inclusive). Gathering is by query
index, so never-matched queries stay negative whatever their IoU, and the stage's own positive is dropped
from classification when its IoU is below the threshold (its box regression is kept by the criterion).

Unlike the official code no GT-by-GT pairing between stages is done, so nothing assumes that every GT
is matched at every stage (more GTs than queries, empty images).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from gghl.structures.gt_lists import pad_gts
from gghl.structures.hbb import aligned_box_iou

CANDIDATE_MODES = ("prev+future", "all", "none")


def candidate_stages(stage: int, num_stages: int, candidates: str = "prev+future") -> list[int]:
    """Stages (besides ``stage``) whose matches are gathered.

    ``"prev+future"`` (released code): ``{s-1 if s>=1} ∪ {s+1..S-1}``; ``"all"``: every other stage;
    ``"none"``: no other stage.
    """
    if candidates == "prev+future":
        return ([stage - 1] if stage >= 1 else []) + list(range(stage + 1, num_stages))
    if candidates == "all":
        return [t for t in range(num_stages) if t != stage]
    if candidates == "none":
        return []
    raise ValueError(f"candidates must be one of {CANDIDATE_MODES}, got {candidates!r}")


@torch.no_grad()
def cross_stage_score_table(
    stage: int,
    matches: Sequence[Tensor],
    boxes_xyxy: Tensor,
    gt_boxes: Sequence[Tensor],
    gt_labels: Sequence[Tensor],
    num_classes: int,
    candidates: str = "prev+future",
) -> Tensor:
    """Max IoU per (image, query, class) over the gathered matches; ``-inf`` where nothing was gathered.

    Args:
        stage: current stage ``s``.
        matches: ``S`` tensors ``[B, N]`` int64 (GT index or -1), one per stage.
        boxes_xyxy: ``[B, N, 4]`` absolute xyxy boxes of the current stage.
        gt_boxes / gt_labels: ``B`` tensors ``[M_b, 4]`` / ``[M_b]``.
    Returns:
        ``[B, N, C]`` fp32 score table ``T`` (the maximum IoU per query and class).
    """
    b, n, _ = boxes_xyxy.shape
    dev = boxes_xyxy.device
    gt_pad, lbl_pad = pad_gts(gt_boxes, gt_labels, dev)
    table = torch.full((b, n, num_classes), float("-inf"), device=dev)
    for t in [stage] + candidate_stages(stage, len(matches), candidates):
        m = matches[t].to(dev)
        valid = m >= 0
        idx = m.clamp(min=0)
        gtbox = torch.gather(gt_pad, 1, idx[..., None].expand(b, n, 4))  # [B, N, 4]
        iou = aligned_box_iou(gtbox, boxes_xyxy.detach().float())
        iou = torch.where(valid, iou, torch.full_like(iou, float("-inf")))
        cls = torch.gather(lbl_pad, 1, idx)  # [B, N]
        table.scatter_reduce_(-1, cls[..., None], iou[..., None], reduce="amax")
    return table


@torch.no_grad()
def cross_stage_targets(
    stage: int,
    matches: Sequence[Tensor],
    boxes_xyxy: Tensor,
    gt_boxes: Sequence[Tensor],
    gt_labels: Sequence[Tensor],
    num_classes: int,
    iou_thr: float = 0.5,
    candidates: str = "prev+future",
    keep_own_positive: bool = False,
    inclusive: bool = True,
) -> Tensor:
    """Binary multi-hot classification targets of stage ``stage`` (module docstring).

    Args:
        stage: current stage ``s`` (0-based).
        matches: ``S`` tensors ``[B, N]`` int64 one-to-one matches of every stage (GT index or -1).
        boxes_xyxy: ``[B, N, 4]`` absolute xyxy boxes of stage ``s``.
        gt_boxes: ``B`` tensors ``[M_b, 4]`` absolute xyxy; gt_labels: ``B`` tensors ``[M_b]``.
        num_classes: ``C``.
        iou_thr: inclusive IoU threshold (released code: 0.5).
        candidates: ``"prev+future"`` (released), ``"all"`` or ``"none"``.
        keep_own_positive: if True the stage's own one-to-one positive is kept whatever its IoU
            (not the released behaviour; an ablation option).
        inclusive: ``IoU >= iou_thr`` (released code) or, if False, ``IoU > iou_thr``.
    Returns:
        ``[B, N, C]`` float32 in {0, 1}.
    """
    table = cross_stage_score_table(stage, matches, boxes_xyxy, gt_boxes, gt_labels, num_classes, candidates)
    target = (table >= iou_thr if inclusive else table > iou_thr).float()
    if keep_own_positive:
        target = torch.maximum(target, one_to_one_targets(matches[stage], gt_labels, num_classes))
    return target


@torch.no_grad()
def one_to_one_targets(matches: Tensor, gt_labels: Sequence[Tensor], num_classes: int) -> Tensor:
    """One-hot targets of a stage's own matches: ``[B, N]`` matches -> ``[B, N, C]`` float32."""
    b, n = matches.shape
    dev = matches.device
    lbl_pad = pad_gts([torch.zeros((lab.shape[0], 4)) for lab in gt_labels], gt_labels, dev)[1]
    valid = matches >= 0
    cls = torch.gather(lbl_pad, 1, matches.clamp(min=0))
    out = torch.zeros((b, n, num_classes), device=dev)
    out.scatter_(-1, cls[..., None], valid[..., None].float())
    return out


class CrossStageLabelAssigner:
    """The label assigner of a set criterion: classification targets of every stage (the one stage loop).

    ``assigner(matches [S,B,N], boxes_xyxy [S,B,N,4], gt_boxes, gt_labels, num_classes) -> S x [B,N,C]``
    (:func:`cross_stage_targets` per stage). The defaults are StageInteractor's released code;
    ``candidates="none", keep_own_positive=True`` is the one-to-one assignment of DETR / AdaMixer (one-hot
    targets of each stage's own matches: with no candidate stage the IoU test can only drop own positives,
    which ``keep_own_positive`` puts back), so both models share this one class.

    Args:
        iou_thr: IoU threshold of a gathered match (released code: 0.5, inclusive).
        candidates: ``"prev+future"`` (released), ``"all"`` or ``"none"`` (:func:`candidate_stages`).
        inclusive: ``IoU >= iou_thr`` (released) or, if False, ``IoU > iou_thr``.
        keep_own_positive: keep each stage's own one-to-one positive whatever its IoU.
    """

    def __init__(
        self,
        iou_thr: float = 0.5,
        candidates: str = "prev+future",
        inclusive: bool = True,
        keep_own_positive: bool = False,
    ) -> None:
        if candidates not in CANDIDATE_MODES:
            raise ValueError(f"candidates must be one of {CANDIDATE_MODES}, got {candidates!r}")
        self.iou_thr, self.candidates = iou_thr, candidates
        self.inclusive, self.keep_own_positive = inclusive, keep_own_positive

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(iou_thr={self.iou_thr}, candidates={self.candidates!r}, "
            f"inclusive={self.inclusive}, keep_own_positive={self.keep_own_positive})"
        )

    def __call__(
        self,
        matches: Tensor | Sequence[Tensor],
        boxes_xyxy: Tensor,
        gt_boxes: Sequence[Tensor],
        gt_labels: Sequence[Tensor],
        num_classes: int,
    ) -> list[Tensor]:
        """Targets of every stage.

        Args:
            matches: ``[S, B, N]`` (or ``S`` tensors ``[B, N]``) int64 one-to-one matches (GT index or -1).
            boxes_xyxy: ``[S, B, N, 4]`` absolute xyxy boxes of every stage (detached).
            gt_boxes / gt_labels: ``B`` tensors ``[M_b, 4]`` / ``[M_b]``; num_classes: ``C``.
        Returns:
            ``S`` tensors ``[B, N, C]`` float32 in {0, 1}.
        """
        mlist = list(matches.unbind(0)) if isinstance(matches, Tensor) else list(matches)
        return [
            cross_stage_targets(
                s,
                mlist,
                boxes_xyxy[s],
                gt_boxes,
                gt_labels,
                num_classes,
                self.iou_thr,
                self.candidates,
                self.keep_own_positive,
                self.inclusive,
            )
            for s in range(len(mlist))
        ]
