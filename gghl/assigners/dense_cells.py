"""Shared pieces of the point-based assigners (rotated ATSS, TAL, SimOTA) on the dense GGHL head.

These assigners pick, for every ground-truth object, a set of *cells* (the head's anchor points) of all three
levels and write the GGHL target layout (``GaussianAssigner``'s channel table, docs/gghl.md#ola-label-assignment)
on them, so JOL, the decoder and the evaluation stay shared. Cells of all levels are numbered level by level,
row-major inside a level (the order of ``gghl.structures.gghl_decode.decode_gghl``): cell ``(i, j)`` of a
level with stride ``s`` has centre ``(i*s + s/2, j*s + s/2)``.

Channels of a positive cell owned by object ``n`` (the Gaussian assigner's per-object geometry,
``gaussian_params.object_params``, reused as is):

* 0-3 the object's HBB ``cx, cy, w, h``; 4-7 ``l1..l4`` = cell centre to the HBB sides (top, right, bottom,
  left; negative when the centre lies outside the HBB, which only SimOTA can produce); 8-11 ORC ratios;
  12 area ratio ``r``;
* 13 objectness 1 (the cell is a positive: JOL's ``m``);
* 14 the object's mix weight (``targets[b]["weights"]``, default 1); every other cell gets 1, so background
  trains on every level and in images without objects (the ``gghl_fixed`` rule);
* 15 area-normalisation weight 1: JOL already divides by the number of positives per image, and these
  assigners choose a bounded number of cells per object (top-k), unlike the Gaussian window whose size grows
  with the object and whose ``aw`` compensates for it;
* 16 + c the assigner's class-quality value for the object's class (ATSS 1, TAL normalised alignment, SimOTA
  IoU). JOL reads this channel twice: ``!= 0`` marks the positive class of the BCE (target 1 - delta), and the
  value itself weighs the objectness and regression terms (the role of the Gaussian heat). A value of exactly
  0 therefore makes the cell a class negative that still regresses its box, like a zero soft target.

Everything here is elementwise or a fixed-order reduction, so the readable references and the batched paths
that both call these helpers agree bit for bit on the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gghl.assigners._checks import check_targets
from gghl.assigners.gaussian_params import ObjectParams, object_params
from gghl.ops import poly_iou
from gghl.structures.gghl_decode import decoded_to_polygons
from gghl.structures.orc import orc_order

__all__ = [
    "CellAssigner",
    "DenseCells",
    "PaddedObjects",
    "dense_cells",
    "flat_predictions",
    "masked_pair_iou",
    "ordered_sum",
    "pad_objects",
    "points_in_polygons",
    "sequential_mean_std",
    "split_levels",
    "write_dense_maps",
]


@dataclass
class DenseCells:
    """All cells of the three levels: ``centres [A, 2]`` (x, y px), ``stride [A]``, ``grids`` per level,
    ``starts`` the first cell index of every level (plus the total ``A`` at the end)."""

    centres: Tensor
    stride: Tensor
    grids: list[int]
    starts: list[int]

    @property
    def num(self) -> int:
        return self.starts[-1]


def dense_cells(
    img_size: int, strides: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> DenseCells:
    """Cell table of a square ``img_size`` input (a multiple of the largest stride)."""
    if int(img_size) < max(strides):
        raise ValueError(f"img_size must be at least the largest stride {max(strides)}, got {img_size}")
    centres, stride_col, grids, starts = [], [], [], [0]
    for s in strides:
        g = int(img_size) // s
        c = torch.arange(g, device=device, dtype=dtype) * s + s / 2
        cy, cx = torch.meshgrid(c, c, indexing="ij")  # row-major: index = j*G + i
        centres.append(torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=1))
        stride_col.append(torch.full((g * g,), float(s), device=device, dtype=dtype))
        grids.append(g)
        starts.append(starts[-1] + g * g)
    return DenseCells(torch.cat(centres), torch.cat(stride_col), grids, starts)


def points_in_polygons(points: Tensor, polygons: Tensor) -> Tensor:
    """``points [..., 2]`` strictly inside convex cyclic ``polygons [..., 8]`` (broadcast), bool ``[...]``.

    Inside = the point lies strictly on the same side of all four edges (either orientation); a point on an
    edge or a degenerate polygon is outside.
    """
    px, py = points[..., 0], points[..., 1]
    xs, ys = polygons[..., 0::2], polygons[..., 1::2]
    signs = []
    for e in range(4):
        x0, y0, x1, y1 = xs[..., e], ys[..., e], xs[..., (e + 1) % 4], ys[..., (e + 1) % 4]
        signs.append((x1 - x0) * (py - y0) - (y1 - y0) * (px - x0))
    pos = (signs[0] > 0) & (signs[1] > 0) & (signs[2] > 0) & (signs[3] > 0)
    neg = (signs[0] < 0) & (signs[1] < 0) & (signs[2] < 0) & (signs[3] < 0)
    return pos | neg


def ordered_sum(x: Tensor) -> Tensor:
    """Sum over the last dim, strictly left to right (same bits for one row or a batch of rows)."""
    total = x[..., 0]
    for k in range(1, x.shape[-1]):
        total = total + x[..., k]
    return total


def sequential_mean_std(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased standard deviation over the last dim (``K >= 2``), fixed summation order."""
    k = x.shape[-1]
    mean = ordered_sum(x) / k
    var = ordered_sum((x - mean[..., None]) ** 2) / (k - 1)
    return mean, var.sqrt()


@dataclass
class PaddedObjects:
    """Objects of a batch padded to ``[B, N]``: ``params`` of the flat list (``ObjectParams``, ``[M]``),
    ``index [B, N]`` into the flat list (0 where padded), ``valid [B, N]``, ORC-ordered ``polygons [B, N, 8]``,
    OBB centres ``centre [B, N, 2]`` (vertex means) and ``labels [B, N]`` (0 where padded)."""

    params: ObjectParams
    index: Tensor
    valid: Tensor
    polygons: Tensor
    centre: Tensor
    labels: Tensor


def pad_objects(targets: list[dict[str, Tensor]], num_classes: int, device: torch.device) -> PaddedObjects:
    """Check the targets, derive the per-object geometry once and pad it to ``[B, N_max]``."""
    check_targets(targets)
    dtype = targets[0]["polygons"].dtype
    polys = torch.cat([t["polygons"].reshape(-1, 8) for t in targets]).to(device, dtype)
    labels = torch.cat([t["labels"].reshape(-1) for t in targets]).to(device)
    if labels.numel() and bool(((labels < 0) | (labels >= num_classes)).any()):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.unique().tolist()}")
    weights = None
    if any(t.get("weights") is not None for t in targets):
        weights = torch.cat(
            [
                t["weights"].reshape(-1).to(device, dtype)
                if t.get("weights") is not None
                else torch.ones(t["labels"].numel(), device=device, dtype=dtype)
                for t in targets
            ]
        )
    p = object_params(polys, labels, weights)
    counts = [int(t["labels"].numel()) for t in targets]
    n_max = max(max(counts), 1)
    B = len(targets)
    slot = torch.arange(n_max, device=device)
    valid = slot[None, :] < torch.tensor(counts, device=device)[:, None]
    first = torch.tensor([0, *counts[:-1]], device=device).cumsum(0)
    index = torch.where(valid, first[:, None] + slot[None, :], torch.zeros_like(slot)[None, :].expand(B, -1))
    ordered = orc_order(polys) if polys.numel() else polys
    if polys.shape[0] == 0:  # keep gathers valid: one dummy row, masked by ``valid``
        ordered = torch.zeros(1, 8, device=device, dtype=dtype)
        cxr = cyr = torch.zeros(1, device=device, dtype=dtype)
        lab = torch.zeros(1, device=device, dtype=torch.long)
    else:
        cxr, cyr, lab = p.cxr, p.cyr, p.labels
    return PaddedObjects(
        params=p,
        index=index,
        valid=valid,
        polygons=ordered[index],
        centre=torch.stack([cxr[index], cyr[index]], dim=-1),
        labels=torch.where(valid, lab[index], torch.zeros_like(index)),
    )


def flat_predictions(predictions: list[Tensor], dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """Decoded per-level predictions ``[B, G, G, 14 + C]`` -> ORC polygons ``[B, A, 8]``, objectness
    ``[B, A]`` and class probabilities ``[B, A, C]`` in the cell order of ``dense_cells``."""
    flat = torch.cat([p.detach().flatten(1, 2) for p in predictions], dim=1).to(dtype)
    return decoded_to_polygons(flat), flat[..., 13], flat[..., 14:]


def masked_pair_iou(mask: Tensor, pred_polys: Tensor, polygons: Tensor) -> Tensor:
    """Rotated IoU ``[B, N, A]`` of prediction ``a`` and object ``n`` where ``mask [B, N, A]``, 0 elsewhere.

    ``pred_polys [B, A, 8]``, ``polygons [B, N, 8]``; only the masked pairs reach ``gghl.ops.poly_iou``.
    """
    B, N, A = mask.shape
    ov = torch.zeros(B, N, A, device=mask.device, dtype=polygons.dtype)
    b, n, a = mask.nonzero(as_tuple=True)
    if b.numel():
        ov[b, n, a] = poly_iou(pred_polys[b, a], polygons[b, n], True).to(polygons.dtype)
    return ov


def write_dense_maps(
    objects: PaddedObjects, owner: Tensor, value: Tensor, cells: DenseCells, num_classes: int
) -> list[Tensor]:
    """Target maps from a cell assignment (module docstring for the channels).

    Args:
        owner: ``[B, A]`` int64 slot ``n`` of the object that owns each cell, ``-1`` for background.
        value: ``[B, A]`` class-quality value written to channel ``16 + label`` of positive cells.

    Returns:
        One ``[B, G_k, G_k, 16 + C]`` tensor per level, dtype of the polygons.
    """
    p = objects.params
    B, A = owner.shape
    dtype = objects.polygons.dtype
    maps = torch.zeros(B, A, 16 + num_classes, device=owner.device, dtype=dtype)
    maps[..., 14] = 1.0
    b, a = (owner >= 0).nonzero(as_tuple=True)
    if b.numel():
        o = objects.index[b, owner[b, a]]
        xc, yc = cells.centres[a, 0], cells.centres[a, 1]
        xmin, ymin, xmax, ymax = p.hbb[o].unbind(1)
        one = torch.ones_like(xc)
        maps[b, a, :16] = torch.cat(
            [
                torch.stack(
                    [p.cx[o], p.cy[o], p.w[o], p.h[o], yc - ymin, xmax - xc, ymax - yc, xc - xmin], 1
                ),
                p.s[o],
                torch.stack([p.r[o], one, p.mix[o], one], 1),
            ],
            dim=1,
        )
        maps[b, a, 16 + p.labels[o]] = value[b, a].to(dtype)
    return split_levels(maps, cells)


def split_levels(flat: Tensor, cells: DenseCells) -> list[Tensor]:
    """``[B, A, ch]`` in dense cell order -> one contiguous ``[B, G_k, G_k, ch]`` per level."""
    B = flat.shape[0]
    return [
        flat[:, s0:s1].reshape(B, g, g, flat.shape[-1]).contiguous()
        for s0, s1, g in zip(cells.starts[:-1], cells.starts[1:], cells.grids)
    ]


class CellAssigner:
    """Base of the point-based assigners: checks, padding, the cell table and the map writer are shared; a
    subclass decides which object owns each cell (``owners``) and gives its readable reference
    (``_reference_maps``).

    Args:
        num_classes: ``C``; maps have ``16 + C`` channels.
        strides: one stride per level (the head's).
    """

    needs_predictions = False  # dynamic assigners (TAL, SimOTA) read the batch's decoded predictions

    def __init__(self, num_classes: int, strides: tuple[int, ...] = (8, 16, 32)) -> None:
        self.num_classes = int(num_classes)
        self.strides = tuple(int(s) for s in strides)

    def assign(
        self, targets: list[dict[str, Tensor]], img_size: int, predictions: list[Tensor] | None = None
    ) -> list[Tensor]:
        """Batched path: one ``[B, G_k, G_k, 16 + C]`` map per level, dtype of the polygons.

        Args:
            targets: as ``GaussianAssigner.assign``.
            predictions: decoded levels ``[B, G_k, G_k, 14 + C]`` (``decode_gghl_level``), detached; required
                by dynamic assigners, ignored by static ones.
        """
        self._check_predictions(predictions)
        dev = targets[0]["polygons"].device
        objs = pad_objects(targets, self.num_classes, dev)
        cells = dense_cells(img_size, self.strides, dev, objs.polygons.dtype)
        flat = flat_predictions(predictions, objs.polygons.dtype) if self.needs_predictions else None
        owner, value = self.owners(objs, cells, flat)
        return write_dense_maps(objs, owner, value, cells, self.num_classes)

    def owners(
        self, objs: PaddedObjects, cells: DenseCells, predictions: tuple[Tensor, Tensor, Tensor] | None
    ) -> tuple[Tensor, Tensor]:
        """``owner [B, A]`` (object slot, -1 background) and class-quality ``value [B, A]`` of every cell;
        ``predictions``: ``flat_predictions`` of the batch (dynamic assigners) or None."""
        raise NotImplementedError

    def reference_maps(
        self,
        polygons: Tensor,
        labels: Tensor,
        img_size: int,
        weights: Tensor | None = None,
        predictions: list[Tensor] | None = None,
    ) -> list[Tensor]:
        """Readable per-object loop for one image (float64 CPU maps ``[G_k, G_k, 16 + C]``);
        ``predictions``: that image's decoded levels ``[G, G, 14 + C]`` (dynamic assigners)."""
        self._check_predictions(predictions)
        return self._reference_maps(polygons, labels, img_size, weights, predictions)

    def _reference_maps(
        self,
        polygons: Tensor,
        labels: Tensor,
        img_size: int,
        weights: Tensor | None,
        predictions: list[Tensor] | None,
    ) -> list[Tensor]:
        raise NotImplementedError

    def _check_predictions(self, predictions: list[Tensor] | None) -> None:
        if self.needs_predictions and predictions is None:
            raise ValueError(f"{type(self).__name__} needs the decoded predictions (predictions=...)")

    def _options(self) -> dict[str, object]:
        """The subclass's own options, for ``repr``."""
        return {}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self._options().items())
        return f"{type(self).__name__}(num_classes={self.num_classes}, strides={self.strides}{extra})"
