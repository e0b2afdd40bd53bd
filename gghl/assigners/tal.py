"""Task-aligned assigner (TAL) of TOOD (Feng et al., ICCV 2021) as used by YOLOv8/YOLO11, on the dense GGHL
head with rotated boxes.

Per object: candidates are the cells whose centre lies strictly inside the object's OBB; each gets the
alignment ``t = s**alpha * IoU**beta`` with ``s`` the predicted probability of the object's class at that
cell (the class branch ``sigmoid(t_cls)``, as YOLOv8, which has no objectness) and ``IoU`` the rotated IoU
(``gghl.ops.poly_iou``) between the cell's decoded prediction (ORC polygon, ``gghl.structures.gghl_decode``)
and the object's OBB. The ``topk`` candidates of largest ``t`` are the object's positives (ties: lower cell
index). Defaults ``topk = 13, alpha = 1, beta = 6`` are TOOD's; Ultralytics YOLOv8/11 train with
``topk = 10, alpha = 0.5, beta = 6``. A cell chosen by several objects goes to the one of highest IoU among
them (first in row order on ties); YOLOv8 takes the arg-max IoU over all objects whose box contains the
cell, even one that did not choose it, here only the choosing objects compete.

Class target (TOOD / YOLOv8): ``t_hat = t * max_IoU_n / (max_t_n + 1e-9)`` with the maxima over object
``n``'s final positives, so every object's best cell gets its best IoU. ``t_hat`` goes to the class channel
(``gghl.assigners.dense_cells`` says how JOL reads it and what the other channels hold); the box targets are
the object's, as for every GGHL positive.

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
    points_in_polygons,
)
from gghl.assigners.tal_reference import TAL_EPS, tal_reference_maps

__all__ = ["TaskAlignedAssigner"]


class TaskAlignedAssigner(CellAssigner):
    """TAL on the GGHL head (module docstring).

    Args:
        num_classes: ``C``.
        strides: one stride per level (the head's).
        topk: positives per object at most (TOOD 13, YOLOv8/11 10).
        alpha, beta: exponents of the class score and of the IoU in the alignment metric.
    """

    needs_predictions = True

    def __init__(
        self,
        num_classes: int,
        strides: tuple[int, ...] = (8, 16, 32),
        topk: int = 13,
        alpha: float = 1.0,
        beta: float = 6.0,
    ) -> None:
        if topk < 1:
            raise ValueError(f"topk must be >= 1, got {topk}")
        super().__init__(num_classes, strides)
        self.topk = int(topk)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def owners(
        self, objs: PaddedObjects, cells: DenseCells, predictions: tuple[Tensor, Tensor, Tensor] | None
    ) -> tuple[Tensor, Tensor]:
        """Value: the normalised alignment ``t_hat`` (module docstring)."""
        assert predictions is not None
        pred_polys, _, prob = predictions
        dev = objs.polygons.device
        B, N = objs.valid.shape
        A = cells.num
        inside = points_in_polygons(cells.centres, objs.polygons[:, :, None, :]) & objs.valid[..., None]
        ov = masked_pair_iou(inside, pred_polys, objs.polygons)
        score = torch.gather(prob.transpose(1, 2), 1, objs.labels[:, :, None].expand(B, N, A))
        t = torch.where(inside, score.pow(self.alpha) * ov.pow(self.beta), torch.zeros_like(ov))
        k = min(self.topk, A)
        top = torch.sort(
            torch.where(inside, t, torch.full_like(t, -1.0)), dim=-1, descending=True, stable=True
        )
        chosen = torch.zeros_like(inside)
        chosen.scatter_(2, top.indices[..., :k], inside.gather(2, top.indices[..., :k]))
        best, owner = torch.where(chosen, ov, torch.full_like(ov, -1.0)).max(dim=1)  # first object on ties
        owner = torch.where(chosen.any(1), owner, torch.full_like(owner, -1))
        pos = chosen & (owner[:, None, :] == torch.arange(N, device=dev)[None, :, None])
        zero = torch.zeros_like(t)
        max_t = torch.where(pos, t, zero).amax(-1, keepdim=True)
        max_ov = torch.where(pos, ov, zero).amax(-1, keepdim=True)
        norm = t * max_ov / (max_t + TAL_EPS)  # [B, N, A]
        value = norm.gather(1, owner.clamp_min(0)[:, None, :]).squeeze(1)
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
        return tal_reference_maps(
            polygons,
            labels,
            img_size,
            self.num_classes,
            self.strides,
            predictions,
            self.topk,
            self.alpha,
            self.beta,
            weights,
        )

    def _options(self) -> dict[str, object]:
        return {"topk": self.topk, "alpha": self.alpha, "beta": self.beta}
