"""Rotated ATSS (Zhang et al., "Bridging the Gap Between Anchor-based and Anchor-free Detection via Adaptive
Training Sample Selection", CVPR 2020) on the dense GGHL head.

Per object: on every level the ``topk`` (9) cells whose centres are closest to the object's OBB centre are
candidates; the IoU threshold is the mean plus the (unbiased) standard deviation of the candidates' IoUs with
the object; candidates with IoU ``>= threshold`` whose centre lies strictly inside the object's OBB are
positives; a cell claimed by several objects goes to the one of highest IoU (the first in row order on ties).
Static: no predictions needed.

Anchor: the head is anchor-free, so the IoU is taken with the anchor-free ATSS/FCOS anchor of a cell: an
axis-aligned square of side ``anchor_scale * stride`` (paper: 8) centred on the cell centre, against the
object's OBB (rotated IoU through ``gghl.ops.poly_iou``).

Targets: the class channel gets 1 (ATSS trains a focal classification target of 1 and the box of the
assigned object; its centerness branch has no counterpart in GGHL). Channel layout and the other channels:
``gghl.assigners.dense_cells``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.assigners.atss_reference import anchor_squares, atss_reference_maps
from gghl.assigners.dense_cells import (
    CellAssigner,
    DenseCells,
    PaddedObjects,
    points_in_polygons,
    sequential_mean_std,
)
from gghl.ops import poly_iou

__all__ = ["RotatedATSSAssigner", "atss_candidates"]

_TIE_MARGIN = 16  # extra nearest cells fetched by topk so that distance ties are resolved by index


def atss_candidates(cells: DenseCells, d2: Tensor, topk: int) -> Tensor:
    """Indices ``[..., K]`` of the ``min(topk, G_k^2)`` closest cells of every level (ties: lower index),
    level by level, closest first, from squared centre distances ``d2 [..., A]``."""
    parts = []
    for s0, s1 in zip(cells.starts[:-1], cells.starts[1:]):
        k = min(topk, s1 - s0)
        parts.append(_closest(d2[..., s0:s1], k) + s0)
    return torch.cat(parts, dim=-1)


def _closest(d2: Tensor, k: int) -> Tensor:
    """The ``k`` smallest of ``d2 [..., A]`` in (value, index) order, without sorting all ``A`` values.

    ``topk`` of a margin more than ``k`` (unordered among ties), then a stable sort of those by index and by
    value. Exact whenever the margin holds every cell tied with the ``k``-th value (equal distances on a grid
    come in small symmetric groups); otherwise a full stable sort is used.
    """
    n = d2.shape[-1]
    wide = min(n, k + _TIE_MARGIN)
    if wide == n:
        return torch.sort(d2, dim=-1, stable=True).indices[..., :k]
    vals, idx = torch.topk(d2, wide, dim=-1, largest=False, sorted=True)
    if bool((vals[..., k - 1] == vals[..., wide - 1]).any()):  # a tie group may reach past the margin
        return torch.sort(d2, dim=-1, stable=True).indices[..., :k]
    idx = torch.sort(idx, dim=-1).values
    order = torch.sort(d2.gather(-1, idx), dim=-1, stable=True).indices
    return idx.gather(-1, order[..., :k])


class RotatedATSSAssigner(CellAssigner):
    """Rotated ATSS on the GGHL head (module docstring).

    Args:
        num_classes: ``C``; maps have ``16 + C`` channels.
        strides: one stride per level (the head's).
        topk: candidates per level and object (paper: 9).
        anchor_scale: side of a cell's anchor square in strides (paper: 8).
    """

    def __init__(
        self,
        num_classes: int,
        strides: tuple[int, ...] = (8, 16, 32),
        topk: int = 9,
        anchor_scale: float = 8.0,
    ) -> None:
        if topk < 1 or anchor_scale <= 0:
            raise ValueError(f"topk must be >= 1 and anchor_scale > 0, got {topk}, {anchor_scale}")
        super().__init__(num_classes, strides)
        self.topk = int(topk)
        self.anchor_scale = float(anchor_scale)

    def owners(
        self, objs: PaddedObjects, cells: DenseCells, predictions: tuple[Tensor, Tensor, Tensor] | None
    ) -> tuple[Tensor, Tensor]:
        """Static: ``predictions`` is not used. Value 1 on every positive."""
        dtype = objs.polygons.dtype
        dev = objs.polygons.device
        B, N = objs.valid.shape
        dx = cells.centres[:, 0] - objs.centre[..., 0:1]  # [B, N, A]
        dy = cells.centres[:, 1] - objs.centre[..., 1:2]
        cand = atss_candidates(cells, dx * dx + dy * dy, self.topk)  # [B, N, K]
        K = cand.shape[-1]
        gt = objs.polygons[:, :, None, :].expand(B, N, K, 8)
        ious = poly_iou(
            anchor_squares(cells, self.anchor_scale)[cand].reshape(-1, 8), gt.reshape(-1, 8), True
        )
        ious = ious.view(B, N, K).to(dtype)
        mean, std = sequential_mean_std(ious)
        inside = points_in_polygons(cells.centres[cand], gt)
        pos = (ious >= (mean + std)[..., None]) & inside & objs.valid[..., None]
        neg_inf = torch.full((), float("-inf"), device=dev, dtype=dtype)
        claim = torch.full((B, N, cells.num), float("-inf"), device=dev, dtype=dtype)
        claim.scatter_(2, cand, torch.where(pos, ious, neg_inf))  # a cell is at most once per object
        best, owner = claim.max(dim=1)  # first (lowest row) object on IoU ties
        owner = torch.where(best > neg_inf, owner, torch.full_like(owner, -1))
        return owner, torch.ones_like(best)

    def _reference_maps(
        self,
        polygons: Tensor,
        labels: Tensor,
        img_size: int,
        weights: Tensor | None,
        predictions: list[Tensor] | None,
    ) -> list[Tensor]:
        return atss_reference_maps(
            polygons, labels, img_size, self.num_classes, self.strides, self.topk, self.anchor_scale, weights
        )

    def _options(self) -> dict[str, object]:
        return {"topk": self.topk, "anchor_scale": self.anchor_scale}
