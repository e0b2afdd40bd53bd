"""Exact geometric transforms: flips and quarter turns (no resampling, pixel-exact).

Vertex order: a flip mirrors the plane, so a polygon listed clockwise on screen would come out
counter-clockwise. We restore the orientation by listing the mirrored vertices as
``(p1', p4', p3', p2')``: same first vertex, same orientation sign (``poly_area_signed`` keeps its
sign), still a valid quadrilateral. GGHL's own flip also swaps vertex pairs; the GGHL assigner
re-orders vertices (ORC order) anyway. Quarter turns preserve orientation and keep the order.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.data.transforms._sample import Sample, check_sample, image_size, uniform, with_affine

__all__ = ["hflip", "vflip", "rot90", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRot90"]


def _restore_orientation(poly: Tensor) -> Tensor:
    """``[N, 8]`` ``(p1, p2, p3, p4) -> (p1, p4, p3, p2)``: undo the orientation flip of a mirror."""
    return poly.reshape(-1, 4, 2)[:, [0, 3, 2, 1]].reshape(-1, 8)


def _mat(rows: list[list[float]]) -> Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def hflip(sample: Sample) -> Sample:
    """Mirror left-right: ``x' = W - x``. Image ``[C, H, W]`` flipped on its last axis."""
    check_sample(sample)
    _, w = image_size(sample)
    mat = _mat([[-1.0, 0.0, w], [0.0, 1.0, 0.0]])
    out = with_affine(sample, sample["image"].flip(-1), mat)
    out["polygons"] = _restore_orientation(out["polygons"])
    return out


def vflip(sample: Sample) -> Sample:
    """Mirror top-bottom: ``y' = H - y``."""
    check_sample(sample)
    h, _ = image_size(sample)
    mat = _mat([[1.0, 0.0, 0.0], [0.0, -1.0, h]])
    out = with_affine(sample, sample["image"].flip(-2), mat)
    out["polygons"] = _restore_orientation(out["polygons"])
    return out


def rot90(sample: Sample, k: int = 1) -> Sample:
    """Rotate by ``k`` quarter turns **clockwise on screen** (the sense of a positive OBB angle).

    ``k = 1``: ``(x, y) -> (H - y, x)``, the image becomes ``[C, W, H]``; ``k = 2``: ``(W - x, H - y)``;
    ``k = 3``: ``(y, W - x)``. Any integer ``k`` (taken mod 4).
    """
    check_sample(sample)
    h, w = image_size(sample)
    k = int(k) % 4
    mats = {
        0: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        1: [[0.0, -1.0, h], [1.0, 0.0, 0.0]],
        2: [[-1.0, 0.0, w], [0.0, -1.0, h]],
        3: [[0.0, 1.0, 0.0], [-1.0, 0.0, w]],
    }
    # torch.rot90 with k > 0 turns from dim 1 (rows) towards dim 2 (cols): counter-clockwise on
    # screen, hence -k for our clockwise convention.
    image = torch.rot90(sample["image"], -k, dims=(1, 2))
    return with_affine(sample, image, _mat(mats[k]))


class RandomHorizontalFlip:
    """:func:`hflip` with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = float(p)

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        return hflip(sample) if uniform(generator) < self.p else sample


class RandomVerticalFlip:
    """:func:`vflip` with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = float(p)

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        return vflip(sample) if uniform(generator) < self.p else sample


class RandomRot90:
    """:func:`rot90` by a uniformly chosen ``k`` in ``ks`` with probability ``p``."""

    def __init__(self, p: float = 0.5, ks: tuple[int, ...] = (1, 2, 3)) -> None:
        if not ks:
            raise ValueError("ks must name at least one quarter-turn count")
        self.p, self.ks = float(p), tuple(int(k) for k in ks)

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        if uniform(generator) >= self.p:
            return sample
        i = int(torch.randint(len(self.ks), (), generator=generator))
        return rot90(sample, self.ks[i])
