"""Test helpers for box comparisons: corner *sets*, so the starting vertex does not matter."""

from __future__ import annotations

import torch
from torch import Tensor


def corner_set_distance(p: Tensor, q: Tensor) -> Tensor:
    """Symmetric Hausdorff distance between the 4-corner sets of ``p`` and ``q`` (``[..., 8]`` -> ``[...]``)."""
    a = p.reshape(*p.shape[:-1], 4, 1, 2)
    b = q.reshape(*q.shape[:-1], 1, 4, 2)
    d = (a - b).norm(dim=-1)  # [..., 4, 4]
    return torch.maximum(d.amin(-1).amax(-1), d.amin(-2).amax(-1))
