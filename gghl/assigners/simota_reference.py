"""Readable reference of SimOTA (``gghl.assigners.simota``): loops over objects and cells.

The rule's constants and elementwise pieces (centre prior, classification cost) live here and the batched
path imports them, so both apply the same definition; the batched path is tested equal to this loop.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gghl.assigners.dense_cells import ordered_sum, points_in_polygons
from gghl.assigners.dense_reference import (
    image_objects,
    image_predictions,
    reference_cells,
    write_reference_maps,
)
from gghl.ops import poly_iou

__all__ = [
    "CANDIDATE_IOUS",
    "IOU_WEIGHT",
    "OUTSIDE_COST",
    "near_centre",
    "simota_cls_cost",
    "simota_reference_maps",
]

IOU_WEIGHT = 3.0
OUTSIDE_COST = 1e5
CANDIDATE_IOUS = 10


def near_centre(centres: Tensor, stride: Tensor, obj_centre: Tensor, radius: float) -> Tensor:
    """Cell centres ``[..., 2]`` strictly inside the square of half-side ``radius * stride`` around
    ``obj_centre [..., 2]`` (broadcast), bool."""
    r = radius * stride
    x, y = centres[..., 0], centres[..., 1]
    cx, cy = obj_centre[..., 0], obj_centre[..., 1]
    return (x > cx - r) & (x < cx + r) & (y > cy - r) & (y < cy + r)


def simota_cls_cost(prob: Tensor, conf: Tensor) -> tuple[Tensor, Tensor]:
    """YOLOX's classification cost pieces from ``prob [..., C]`` and ``conf [...]``.

    Returns ``(negatives [...], per_class [..., C])``: the BCE of every class against target 0 summed over
    classes, and per class ``BCE(target 1) - BCE(target 0)``, so that the cost of class ``c`` is
    ``negatives + per_class[..., c]`` (the one-hot BCE sum without a ``[cells, objects, classes]`` tensor).
    """
    p = (prob * conf[..., None]).sqrt()
    bce_zero = -torch.log1p(-p).clamp_min(-100.0)
    bce_one = -torch.log(p).clamp_min(-100.0)
    return ordered_sum(bce_zero), bce_one - bce_zero


def simota_reference_maps(
    polygons: Tensor,
    labels: Tensor,
    img_size: int,
    num_classes: int,
    strides: tuple[int, ...],
    predictions: list[Tensor],
    radius: float = 2.5,
    weights: Tensor | None = None,
) -> list[Tensor]:
    """One image's maps ``[G_k, G_k, 16 + C]`` (float64, CPU)."""
    objs = image_objects(polygons, labels, weights, num_classes)
    cells = reference_cells(img_size, strides)
    pred_polys, conf, prob = image_predictions(predictions)
    N = len(objs.labels)
    inside = [
        [bool(points_in_polygons(cells.centres[a], objs.polygons[n])) for a in range(cells.num)]
        for n in range(N)
    ]
    near = [
        [
            bool(near_centre(cells.centres[a], cells.stride[a], objs.centres[n], radius))
            for a in range(cells.num)
        ]
        for n in range(N)
    ]
    candidates = [a for a in range(cells.num) if any(inside[n][a] or near[n][a] for n in range(N))]
    iou: dict[tuple[int, int], float] = {}
    cost: dict[tuple[int, int], float] = {}
    for a in candidates:
        negatives, per_class = simota_cls_cost(prob[a], conf[a])
        for n, c in enumerate(objs.labels):
            iou[n, a] = float(poly_iou(pred_polys[a : a + 1], objs.polygons[n : n + 1], True)[0])
            outside = 0.0 if inside[n][a] and near[n][a] else 1.0
            cls = float(negatives + per_class[c])
            cost[n, a] = cls + IOU_WEIGHT * -math.log(iou[n, a] + 1e-8) + OUTSIDE_COST * outside
    matches: dict[int, list[int]] = {}  # cell -> objects that took it
    for n in range(N):
        top = sorted((iou[n, a] for a in candidates), reverse=True)[: min(CANDIDATE_IOUS, len(candidates))]
        total = 0.0
        for v in top:
            total += v
        k = max(int(total), 1)
        for _, a in sorted((cost[n, a], a) for a in candidates)[:k]:  # ties: lower cell index
            matches.setdefault(a, []).append(n)
    owners = {}
    for a, taken_by in matches.items():
        n = taken_by[0] if len(taken_by) == 1 else min(range(N), key=lambda m: (cost[m, a], m))
        owners[a] = (n, iou[n, a])
    return write_reference_maps(objs, owners, cells, num_classes)
