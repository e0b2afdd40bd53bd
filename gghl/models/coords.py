"""Map coordinates between the network input and the original image with a sample's ``affine``."""

from __future__ import annotations

import torch
from torch import Tensor


def invert_affine(affine: Tensor) -> Tensor:
    """Inverse of a ``[2,3]`` affine ``x' = A[:, :2] x + A[:, 2]`` (float64 for exactness)."""
    a = affine.to(torch.float64)
    lin_inv = torch.linalg.inv(a[:, :2])
    return torch.cat([lin_inv, -(lin_inv @ a[:, 2:])], dim=1)


def apply_affine_to_points(points: Tensor, affine: Tensor) -> Tensor:
    """Apply ``affine [2,3]`` to ``points [..., 2k]`` interleaved ``x y x y ...``; keeps ``points.dtype``."""
    shape = points.shape
    xy = points.reshape(*shape[:-1], shape[-1] // 2, 2).to(torch.float64)
    a = affine.to(device=points.device, dtype=torch.float64)
    out = xy @ a[:, :2].T + a[:, 2]
    return out.reshape(shape).to(points.dtype)
