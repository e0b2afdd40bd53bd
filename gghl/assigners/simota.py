"""SimOTA of YOLOX (Ge et al., "YOLOX: Exceeding YOLO Series in 2021") on the dense GGHL head with rotated boxes.

Candidates (centre prior): cells whose centre lies strictly inside some object's OBB or strictly inside the
axis-aligned square of half-side ``radius * stride`` (2.5, YOLOX's original value) around some object's OBB
centre; the union over the image's objects. For every (object, candidate) pair:

* IoU: rotated IoU (``gghl.ops.poly_iou``) of the cell's decoded prediction and the object's OBB;
* cost = ``sum_c BCE(sqrt(p_c * conf), onehot_c) + 3 * (-log(IoU + 1e-8)) + 1e5 * [not (inside and near)]``
  with ``p`` the class probabilities and ``conf`` the objectness (YOLOX's joint score), ``inside`` the OBB
  test and ``near`` the centre-square test of that object (BCE log terms clamped at -100 as in PyTorch).

Dynamic k of an object = ``max(int(sum of its top-min(10, #candidates) IoUs), 1)``; it takes its ``k``
lowest-cost candidates (ties: lower cell index). A cell taken by several objects goes to the object of
lowest cost among all objects (YOLOX), first in row order on ties. A match may lie outside the object's
OBB (cost ``>= 1e5``) when ``k`` exceeds its own candidates; its ``l`` targets are then negative.

Class target (YOLOX): the IoU of the matched prediction with its object, in the class channel
(``gghl.assigners.dense_cells`` for how JOL reads it and the other channels).

Dynamic: ``assign`` needs the detached decoded predictions of the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.assigners.dense_cells import (
    CellAssigner,
    DenseCells,
    PaddedObjects,
    masked_pair_iou,
    ordered_sum,
    points_in_polygons,
)
from gghl.assigners.simota_reference import (
    CANDIDATE_IOUS,
    IOU_WEIGHT,
    OUTSIDE_COST,
    near_centre,
    simota_cls_cost,
    simota_reference_maps,
)

__all__ = ["SimOTAAssigner"]


class SimOTAAssigner(CellAssigner):
    """SimOTA on the GGHL head (module docstring).

    Args:
        num_classes: ``C``.
        strides: one stride per level (the head's).
        radius: centre-prior half-side in strides (YOLOX: 2.5; later YOLOX versions 1.5).
    """

    needs_predictions = True

    def __init__(self, num_classes: int, strides: tuple[int, ...] = (8, 16, 32), radius: float = 2.5) -> None:
        if radius <= 0:
            raise ValueError(f"radius must be > 0, got {radius}")
        super().__init__(num_classes, strides)
        self.radius = float(radius)

    def owners(
        self, objs: PaddedObjects, cells: DenseCells, predictions: tuple[Tensor, Tensor, Tensor] | None
    ) -> tuple[Tensor, Tensor]:
        """Value: the IoU of the matched prediction with its object."""
        assert predictions is not None
        pred_polys, conf, prob = predictions
        dev = objs.polygons.device
        dtype = objs.polygons.dtype
        B, N = objs.valid.shape
        A = cells.num
        valid = objs.valid[..., None]
        inside = points_in_polygons(cells.centres, objs.polygons[:, :, None, :]) & valid  # [B, N, A]
        near = near_centre(cells.centres, cells.stride, objs.centre[:, :, None, :], self.radius) & valid
        cand = (inside | near).any(1)  # [B, A]
        pairs = valid & cand[:, None, :]
        # IoU is 0 where the HBBs do not overlap: only overlapping pairs go to the rotated IoU (exact)
        ov = masked_pair_iou(pairs & _hbb_overlap(pred_polys, objs.polygons), pred_polys, objs.polygons)
        negatives, per_class = simota_cls_cost(prob, conf)
        cls_cost = negatives[:, None, :] + torch.gather(
            per_class.transpose(1, 2), 1, objs.labels[:, :, None].expand(B, N, A)
        )
        outside = (~(inside & near)).to(dtype)
        cost = cls_cost + IOU_WEIGHT * -torch.log(ov + 1e-8) + OUTSIDE_COST * outside
        cost = torch.where(pairs, cost, torch.full_like(cost, float("inf")))
        # dynamic k: sum of the object's top-min(10, #candidates) IoUs over the image's candidates
        n_top = cand.sum(1).clamp_max(CANDIDATE_IOUS)  # [B]
        top = torch.sort(torch.where(pairs, ov, torch.full_like(ov, -1.0)), dim=-1, descending=True).values
        top = top[..., :CANDIDATE_IOUS] if A >= CANDIDATE_IOUS else top
        keep = torch.arange(top.shape[-1], device=dev) < n_top[:, None, None]
        dyn_k = ordered_sum(torch.where(keep, top, torch.zeros_like(top))).long().clamp_min(1)  # [B, N]
        order = torch.sort(cost, dim=-1, stable=True).indices
        rank = torch.empty_like(order)
        rank.scatter_(2, order, torch.arange(A, device=dev).expand(B, N, A))
        match = (rank < dyn_k[..., None]) & pairs
        multi = match.sum(1) > 1  # [B, A]
        owner = torch.where(multi, cost.argmin(1), match.long().argmax(1))
        owner = torch.where(match.any(1), owner, torch.full_like(owner, -1))
        value = ov.gather(1, owner.clamp_min(0)[:, None, :]).squeeze(1)
        return owner, value

    def _reference_maps(
        self,
        polygons: Tensor,
        labels: Tensor,
        img_size: int,
        weights: Tensor | None,
        predictions: list[Tensor] | None,
    ) -> list[Tensor]:
        assert predictions is not None
        return simota_reference_maps(
            polygons, labels, img_size, self.num_classes, self.strides, predictions, self.radius, weights
        )

    def _options(self) -> dict[str, object]:
        return {"radius": self.radius}


def _hbb_overlap(pred_polys: Tensor, gt_polys: Tensor) -> Tensor:
    """``[B, N, A]``: the HBBs of prediction ``a`` and object ``n`` overlap with positive area."""
    px, py = pred_polys[..., 0::2], pred_polys[..., 1::2]  # [B, A, 4]
    gx, gy = gt_polys[..., 0::2], gt_polys[..., 1::2]  # [B, N, 4]
    lo_x = torch.maximum(px.amin(-1)[:, None, :], gx.amin(-1)[:, :, None])
    hi_x = torch.minimum(px.amax(-1)[:, None, :], gx.amax(-1)[:, :, None])
    lo_y = torch.maximum(py.amin(-1)[:, None, :], gy.amin(-1)[:, :, None])
    hi_y = torch.minimum(py.amax(-1)[:, None, :], gy.amax(-1)[:, :, None])
    return (hi_x > lo_x) & (hi_y > lo_y)
