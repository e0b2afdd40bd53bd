"""Per-image helpers of the readable references of the point-based assigners (ATSS, TAL, SimOTA).

The references loop over objects and cells in Python, in float64 on the CPU, and call the same elementwise
geometry as the batched paths (``dense_cells``), so that a batched path can be tested against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gghl.assigners._checks import check_objects
from gghl.assigners.dense_cells import DenseCells, dense_cells
from gghl.assigners.gaussian_params import ObjectParams, object_params
from gghl.structures.gghl_decode import decoded_to_polygons
from gghl.structures.orc import orc_order

__all__ = ["ImageObjects", "image_objects", "image_predictions", "reference_cells", "write_reference_maps"]


@dataclass
class ImageObjects:
    """One image's objects in float64: geometry ``params``, ORC ``polygons [N, 8]``, OBB ``centres [N, 2]``,
    ``labels`` (Python ints)."""

    params: ObjectParams
    polygons: Tensor
    centres: Tensor
    labels: list[int]


def image_objects(polygons: Tensor, labels: Tensor, weights: Tensor | None, num_classes: int) -> ImageObjects:
    check_objects(polygons, labels, weights)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.tolist()}")
    polys = polygons.detach().to("cpu", torch.float64)
    w = None if weights is None else weights.detach().to("cpu", torch.float64)
    p = object_params(polys, labels.detach().cpu(), w)
    return ImageObjects(
        params=p,
        polygons=orc_order(polys),
        centres=torch.stack([p.cxr, p.cyr], dim=1),
        labels=p.labels.tolist(),
    )


def reference_cells(img_size: int, strides: tuple[int, ...]) -> DenseCells:
    return dense_cells(img_size, strides, torch.device("cpu"), torch.float64)


def image_predictions(predictions: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """One image's decoded levels ``[G, G, 14 + C]`` -> polygons ``[A, 8]``, objectness ``[A]``, class
    probabilities ``[A, C]`` (float64, dense cell order)."""
    flat = torch.cat([p.detach().to("cpu", torch.float64).reshape(-1, p.shape[-1]) for p in predictions])
    return decoded_to_polygons(flat), flat[:, 13], flat[:, 14:]


def write_reference_maps(
    objects: ImageObjects, owners: dict[int, tuple[int, float]], cells: DenseCells, num_classes: int
) -> list[Tensor]:
    """Maps ``[G_k, G_k, 16 + C]`` of one image from ``owners``: cell index -> (object, class value).

    Channel table: ``gghl.assigners.dense_cells``.
    """
    p = objects.params
    maps = torch.zeros(cells.num, 16 + num_classes, dtype=torch.float64)
    maps[:, 14] = 1.0
    for a, (n, value) in owners.items():
        xc, yc = float(cells.centres[a, 0]), float(cells.centres[a, 1])
        xmin, ymin, xmax, ymax = p.hbb[n].tolist()
        cell = [float(p.cx[n]), float(p.cy[n]), float(p.w[n]), float(p.h[n])]
        cell += [yc - ymin, xmax - xc, ymax - yc, xc - xmin]
        cell += p.s[n].tolist()
        cell += [float(p.r[n]), 1.0, float(p.mix[n]), 1.0]
        maps[a, :16] = torch.tensor(cell, dtype=torch.float64)
        maps[a, 16 + objects.labels[n]] = value
    return [
        maps[s0:s1].reshape(g, g, -1).clone()
        for s0, s1, g in zip(cells.starts[:-1], cells.starts[1:], cells.grids)
    ]
