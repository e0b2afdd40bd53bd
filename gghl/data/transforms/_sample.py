"""Sample-dict plumbing shared by the transforms: validation, affine composition, object filtering.

Pixel frame used everywhere: continuous image coordinates, x right, y down, the image covering
``[0, W] x [0, H]``; pixel ``(col i, row j)`` is the unit square whose centre is ``(i + 0.5, j + 0.5)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

Sample = dict[str, Any]

#: Keys holding one entry per object; they are filtered together when objects are dropped.
PER_OBJECT_KEYS = ("polygons", "labels", "difficult", "weights")
#: Keys derived from polygons by the collate function; stale after a geometric transform.
DERIVED_KEYS = ("obb", "hbb")


def check_sample(sample: Sample) -> None:
    """Raise a clear ``KeyError``/``ValueError`` when ``sample`` is not in the documented format."""
    if not isinstance(sample, dict):
        raise TypeError(f"sample must be a dict, got {type(sample).__name__}")
    for key in ("image", "polygons"):
        if key not in sample:
            raise KeyError(f"sample is missing {key!r} (keys: {sorted(sample)})")
    img = sample["image"]
    if not isinstance(img, torch.Tensor) or img.dim() != 3 or not img.is_floating_point():
        raise ValueError(f"sample['image'] must be a float Tensor[C, H, W], got {getattr(img, 'shape', img)}")
    poly = sample["polygons"]
    if not isinstance(poly, torch.Tensor) or poly.dim() != 2 or poly.shape[1] != 8:
        raise ValueError(f"sample['polygons'] must be Tensor[N, 8], got {getattr(poly, 'shape', poly)}")
    n = poly.shape[0]
    for key in PER_OBJECT_KEYS[1:]:
        if key in sample and len(sample[key]) != n:
            raise ValueError(f"sample[{key!r}] has {len(sample[key])} entries but there are {n} polygons")
    if "affine" in sample and tuple(sample["affine"].shape) != (2, 3):
        raise ValueError(f"sample['affine'] must be Tensor[2, 3], got {tuple(sample['affine'].shape)}")


def image_size(sample: Sample) -> tuple[int, int]:
    """``(H, W)`` of the current image."""
    _, h, w = sample["image"].shape
    return int(h), int(w)


def compose_affine(outer: Tensor, inner: Tensor) -> Tensor:
    """``outer o inner`` for ``[2, 3]`` affines ``p -> A[:, :2] p + A[:, 2]`` (float64)."""
    inner = inner.to(torch.float64)
    outer = outer.to(device=inner.device, dtype=torch.float64)  # the sample's affine decides the device
    lin = outer[:, :2] @ inner[:, :2]
    return torch.cat([lin, (outer[:, :2] @ inner[:, 2:] + outer[:, 2:])], dim=1)


def apply_affine_to_polygons(poly: Tensor, mat: Tensor) -> Tensor:
    """Map ``[N, 2K]`` polygons through a ``[2, 3]`` affine; result keeps ``poly``'s dtype.

    ``N = 0`` (an image without objects) is an ordinary case: the vertex count comes from the
    width ``2K``, never from ``-1``, which torch cannot infer from 0 elements.
    """
    pts = poly.reshape(poly.shape[0], poly.shape[1] // 2, 2).to(torch.float64)
    m = mat.to(device=poly.device, dtype=torch.float64)
    out = pts @ m[:, :2].T + m[:, 2]
    return out.reshape(poly.shape).to(poly.dtype)


def with_affine(sample: Sample, image: Tensor, mat: Tensor, polygons: Tensor | None = None) -> Sample:
    """New sample dict: ``image`` replaced, polygons mapped by ``mat`` (current -> new pixels) unless
    given, ``affine`` composed (original file -> new pixels), stale derived keys dropped."""
    out = dict(sample)
    out["image"] = image
    poly = sample["polygons"]
    out["polygons"] = apply_affine_to_polygons(poly, mat) if polygons is None else polygons
    prev = sample.get("affine")
    if prev is None:
        prev = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64, device=poly.device)
    out["affine"] = compose_affine(mat, prev)
    for key in DERIVED_KEYS:
        out.pop(key, None)
    return out


def select_objects(sample: Sample, keep: Tensor) -> Sample:
    """Keep the objects where ``keep`` (``[N]`` bool) is True, in every per-object key."""
    out = dict(sample)
    for key in PER_OBJECT_KEYS + DERIVED_KEYS:
        if key in out and out[key] is not None:
            out[key] = out[key][keep]
    return out


def uniform(generator: torch.Generator | None, low: float = 0.0, high: float = 1.0) -> float:
    """One draw from ``U(low, high)`` using ``generator`` (global RNG when None)."""
    return float(low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64))
