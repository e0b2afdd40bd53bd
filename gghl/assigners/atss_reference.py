"""Readable reference of rotated ATSS (``gghl.assigners.atss``): a loop over objects, levels and cells.

The rule's elementwise pieces (the anchor squares) live here and the batched path imports them, so both
apply the same definition; the batched path is tested equal to this loop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.assigners.dense_cells import DenseCells, points_in_polygons, sequential_mean_std
from gghl.assigners.dense_reference import image_objects, reference_cells, write_reference_maps
from gghl.ops import poly_iou

__all__ = ["anchor_squares", "atss_reference_maps"]


def anchor_squares(cells: DenseCells, anchor_scale: float) -> Tensor:
    """``[A, 8]`` axis-aligned squares of side ``anchor_scale * stride`` centred on the cells (clockwise)."""
    half = cells.stride * anchor_scale / 2
    x, y = cells.centres[:, 0], cells.centres[:, 1]
    return torch.stack(
        [x - half, y - half, x + half, y - half, x + half, y + half, x - half, y + half], dim=1
    )


def atss_reference_maps(
    polygons: Tensor,
    labels: Tensor,
    img_size: int,
    num_classes: int,
    strides: tuple[int, ...],
    topk: int = 9,
    anchor_scale: float = 8.0,
    weights: Tensor | None = None,
) -> list[Tensor]:
    """One image's maps ``[G_k, G_k, 16 + C]`` (float64, CPU)."""
    objs = image_objects(polygons, labels, weights, num_classes)
    cells = reference_cells(img_size, strides)
    anchors = anchor_squares(cells, anchor_scale)
    best: dict[int, tuple[int, float]] = {}  # cell -> (object, IoU) of the best claim so far
    for n in range(len(objs.labels)):
        cx, cy = objs.centres[n].tolist()
        candidates = []
        for s0, s1 in zip(cells.starts[:-1], cells.starts[1:]):
            dist = []
            for a in range(s0, s1):
                dx, dy = float(cells.centres[a, 0]) - cx, float(cells.centres[a, 1]) - cy
                dist.append((dx * dx + dy * dy, a))
            candidates += [a for _, a in sorted(dist)[:topk]]  # ties: lower cell index first
        ious = torch.stack(
            [poly_iou(anchors[a : a + 1], objs.polygons[n : n + 1], True)[0] for a in candidates]
        )
        mean, std = sequential_mean_std(ious)
        threshold = mean + std
        for a, iou in zip(candidates, ious):
            inside = bool(points_in_polygons(cells.centres[a], objs.polygons[n]))
            if iou >= threshold and inside and (a not in best or float(iou) > best[a][1]):
                best[a] = (n, float(iou))
    owners = {a: (n, 1.0) for a, (n, _) in best.items()}
    return write_reference_maps(objs, owners, cells, num_classes)
