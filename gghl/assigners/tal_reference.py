"""Readable reference of the task-aligned assigner (``gghl.assigners.tal``): loops over objects and cells.

The rule's constant lives here and the batched path imports it; the batched path is tested equal to this loop.
"""

from __future__ import annotations

from torch import Tensor

from gghl.assigners.dense_cells import points_in_polygons
from gghl.assigners.dense_reference import (
    image_objects,
    image_predictions,
    reference_cells,
    write_reference_maps,
)
from gghl.ops import poly_iou

__all__ = ["TAL_EPS", "tal_reference_maps"]

TAL_EPS = 1e-9  # YOLOv8's eps in the normalisation of the alignment metric


def tal_reference_maps(
    polygons: Tensor,
    labels: Tensor,
    img_size: int,
    num_classes: int,
    strides: tuple[int, ...],
    predictions: list[Tensor],
    topk: int = 13,
    alpha: float = 1.0,
    beta: float = 6.0,
    weights: Tensor | None = None,
) -> list[Tensor]:
    """One image's maps ``[G_k, G_k, 16 + C]`` (float64, CPU)."""
    objs = image_objects(polygons, labels, weights, num_classes)
    cells = reference_cells(img_size, strides)
    pred_polys, _, prob = image_predictions(predictions)
    metric: dict[tuple[int, int], tuple[float, float]] = {}  # (object, cell) -> (t, IoU) of chosen pairs
    for n, c in enumerate(objs.labels):
        scored = []
        for a in range(cells.num):
            if not bool(points_in_polygons(cells.centres[a], objs.polygons[n])):
                continue
            iou = poly_iou(pred_polys[a : a + 1], objs.polygons[n : n + 1], True)[0]
            t = prob[a, c].pow(alpha) * iou.pow(beta)
            scored.append((-float(t), a, float(iou)))
        for neg_t, a, iou in sorted(scored)[:topk]:  # largest t first, ties: lower cell index
            metric[(n, a)] = (-neg_t, iou)
    owner: dict[int, int] = {}
    for (n, a), (_, iou) in sorted(metric.items()):  # objects in row order
        if a not in owner or iou > metric[(owner[a], a)][1]:
            owner[a] = n
    owners = {}
    for a, n in owner.items():
        mine = [metric[(n, b)] for b, m in owner.items() if m == n]
        max_t, max_iou = max(t for t, _ in mine), max(i for _, i in mine)
        owners[a] = (n, metric[(n, a)][0] * max_iou / (max_t + TAL_EPS))
    return write_reference_maps(objs, owners, cells, num_classes)
