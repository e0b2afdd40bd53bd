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
    dense_cells,
    flat_predictions,
    pad_objects,
    points_in_polygons,
    write_dense_maps,
)
from gghl.assigners.tal_reference import TAL_EPS, tal_reference_maps
from gghl.ops import poly_iou

__all__ = ["TaskAlignedAssigner"]


class TaskAlignedAssigner:
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
        self.num_classes = int(num_classes)
        self.strides = tuple(int(s) for s in strides)
        self.topk = int(topk)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def assign(
        self, targets: list[dict[str, Tensor]], img_size: int, predictions: list[Tensor] | None = None
    ) -> list[Tensor]:
        """Batched path: one ``[B, G_k, G_k, 16 + C]`` map per level, dtype of the polygons.

        Args:
            targets: as ``GaussianAssigner.assign``.
            predictions: decoded levels ``[B, G_k, G_k, 14 + C]`` (``decode_gghl_level``), detached.
        """
        if predictions is None:
            raise ValueError("TaskAlignedAssigner needs the decoded predictions (predictions=...)")
        dev = targets[0]["polygons"].device
        objs = pad_objects(targets, self.num_classes, dev)
        dtype = objs.polygons.dtype
        cells = dense_cells(img_size, self.strides, dev, dtype)
        pred_polys, _, prob = flat_predictions(predictions, dtype)
        B, N = objs.valid.shape
        A = cells.num
        inside = points_in_polygons(cells.centres, objs.polygons[:, :, None, :]) & objs.valid[..., None]
        b, n, a = inside.nonzero(as_tuple=True)
        ov = torch.zeros(B, N, A, device=dev, dtype=dtype)
        if b.numel():
            ov[b, n, a] = poly_iou(pred_polys[b, a], objs.polygons[b, n], True).to(dtype)
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
        return write_dense_maps(objs, owner, value, cells, self.num_classes)

    def reference_maps(
        self,
        polygons: Tensor,
        labels: Tensor,
        img_size: int,
        weights: Tensor | None = None,
        predictions: list[Tensor] | None = None,
    ) -> list[Tensor]:
        """Readable per-object loop for one image; ``predictions``: that image's levels ``[G, G, 14 + C]``."""
        if predictions is None:
            raise ValueError("TaskAlignedAssigner needs the decoded predictions (predictions=...)")
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

    def __repr__(self) -> str:
        return (
            f"TaskAlignedAssigner(num_classes={self.num_classes}, strides={self.strides}, topk={self.topk}, "
            f"alpha={self.alpha}, beta={self.beta})"
        )
