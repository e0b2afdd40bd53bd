"""THE sample and batch format of gghl detection data (every dataset yields it, every task reads it).

Sample (one image; a ``dict``):

==============  ==========================  ====================================================
key             type                        meaning
==============  ==========================  ====================================================
``image``       Tensor[3,H,W] float32       RGB in [0, 1], current (transformed) image
``polygons``    Tensor[N,8] float64         ``x1 y1 .. x4 y4`` in current-image pixels (continuous
                                            coordinates: pixel (i, j) covers [i, i+1) x [j, j+1)),
                                            vertex order as annotated (DOTA order)
``labels``      Tensor[N] int64             contiguous class index 0..C-1
``difficult``   Tensor[N] bool              DOTA difficult flag (False for COCO / synthetic easy)
``weights``     Tensor[N] float32           per-object loss weight, 1.0; mixup writes lam / 1-lam
``image_id``    str                         file stem (DOTA), ``str(id)`` (COCO), ``"<seed>_<idx>"``
``orig_size``   tuple[int, int]             ``(H0, W0)`` of the file on disk / generated image
``affine``      Tensor[2,3] float64         ORIGINAL file pixels -> CURRENT image pixels:
                                            ``[x', y'] = A[:, :2] @ [x, y] + A[:, 2]``
==============  ==========================  ====================================================

Optional keys: ``crowd_hbb`` Tensor[K,4] float64 xyxy COCO ``iscrowd`` regions in ORIGINAL file
pixels (map with ``affine``; never training targets); anything a ``target_transform`` adds (e.g.
precomputed label maps) is passed through untouched.

Batch: ``detection_collate(samples) -> (images Tensor[B,3,H,W] float32, targets list[dict])``. All
images of a batch must have the same size (letterbox first). Each target is the sample without
``image`` plus ``obb`` Tensor[N,5] float32 canonical le90 ``(cx, cy, w, h, a)`` (min-area rectangle
of the polygon, ``w >= h``, ``a`` in [-pi/2, pi/2)), ``hbb`` Tensor[N,4] float32 xyxy (polygon
extent), and ``polygons`` converted to float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gghl.structures import poly_to_hbb, poly_to_obb

SAMPLE_KEYS = ("image", "polygons", "labels", "difficult", "weights", "image_id", "orig_size", "affine")


def make_sample(
    image: np.ndarray | Tensor,
    polygons: np.ndarray | Tensor,
    labels: np.ndarray | Tensor,
    difficult: np.ndarray | Tensor | None,
    image_id: str,
    weights: np.ndarray | Tensor | None = None,
) -> dict[str, Any]:
    """Build an untransformed sample from file data.

    Args:
        image: ``uint8 [H, W, 3]`` RGB array (or an already converted ``float32 [3, H, W]`` tensor).
        polygons: ``[N, 8]`` file pixels. labels: ``[N]`` class indices. difficult: ``[N]`` flags.
        image_id: id string. weights: ``[N]``, default ones.

    Returns:
        a sample in the format above with identity ``affine`` and ``orig_size = (H, W)``.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{image_id}: expected an RGB image [H, W, 3], got shape {image.shape}")
        img = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    else:
        img = image
    polys = torch.as_tensor(np.asarray(polygons), dtype=torch.float64).reshape(-1, 8)
    n = polys.shape[0]
    labs = torch.as_tensor(np.asarray(labels), dtype=torch.int64).reshape(-1)
    diff = (
        torch.zeros(n, dtype=torch.bool)
        if difficult is None
        else torch.as_tensor(np.asarray(difficult), dtype=torch.bool).reshape(-1)
    )
    w = (
        torch.ones(n, dtype=torch.float32)
        if weights is None
        else torch.as_tensor(weights, dtype=torch.float32)
    )
    if not (labs.shape[0] == diff.shape[0] == w.shape[0] == n):
        raise ValueError(
            f"{image_id}: inconsistent object counts {n}, {labs.shape[0]}, {diff.shape[0]}, {w.shape[0]}"
        )
    return {
        "image": img,
        "polygons": polys,
        "labels": labs,
        "difficult": diff,
        "weights": w,
        "image_id": str(image_id),
        "orig_size": (int(img.shape[-2]), int(img.shape[-1])),
        "affine": torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64),
    }


def detection_collate(samples: Sequence[dict[str, Any]]) -> tuple[Tensor, list[dict[str, Any]]]:
    """Stack a list of samples into ``(images [B,3,H,W] float32, targets list[dict])``.

    Raises:
        ValueError: empty list, or images of different sizes (names the image ids and sizes).
    """
    if len(samples) == 0:
        raise ValueError("detection_collate: empty batch")
    sizes = {tuple(s["image"].shape) for s in samples}
    if len(sizes) != 1:
        detail = ", ".join(f"{s['image_id']}:{tuple(s['image'].shape)}" for s in samples)
        raise ValueError(f"detection_collate: images differ in size (letterbox them first): {detail}")
    images = torch.stack([s["image"] for s in samples], dim=0).float()
    targets = []
    for s in samples:
        t = {k: v for k, v in s.items() if k != "image"}
        polys64 = s["polygons"].reshape(-1, 8).double()
        t["obb"] = poly_to_obb(polys64).float()
        t["hbb"] = poly_to_hbb(polys64).float()
        t["polygons"] = polys64.float()
        targets.append(t)
    return images, targets
