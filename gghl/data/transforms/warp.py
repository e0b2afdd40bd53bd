"""Resampling warps: arbitrary-angle rotation about the image centre (boxes re-fit by clipping)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from gghl.data.transforms._sample import Sample, check_sample, image_size, uniform, with_affine
from gghl.data.transforms.clip import clip_to_image

__all__ = ["warp_image", "rotate", "RandomRotate"]


def warp_image(
    image: Tensor, mat: Tensor, out_hw: tuple[int, int], mode: str = "bilinear", fill: float = 0.0
) -> Tensor:
    """Resample ``image`` so that output pixel ``q`` shows input point ``mat^-1 q``.

    Args:
        image: ``[C, H, W]`` float.
        mat: ``[2, 3]`` affine mapping input pixel coords -> output pixel coords (continuous frame,
            pixel centres at ``i + 0.5``).
        out_hw: output ``(H', W')``.
        mode: ``"bilinear"`` or ``"nearest"`` (``grid_sample`` modes).
        fill: value outside the input image.

    Returns:
        ``[C, H', W']`` same dtype.
    """
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest', got {mode!r}")
    _, h, w = image.shape
    oh, ow = out_hw
    m = mat.to(torch.float64)
    lin_inv = torch.linalg.inv(m[:, :2])
    ys = torch.arange(oh, dtype=torch.float64) + 0.5
    xs = torch.arange(ow, dtype=torch.float64) + 0.5
    q = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # [H', W', 2] (x, y)
    p = (q - m[:, 2]) @ lin_inv.T  # input coords
    # align_corners=False: normalised -1 / +1 are the outer edges 0 and W of the image.
    grid = torch.stack([2 * p[..., 0] / w - 1, 2 * p[..., 1] / h - 1], dim=-1).to(image.dtype)
    grid = grid.unsqueeze(0).to(image.device)
    src = torch.cat([image, torch.ones_like(image[:1])], dim=0).unsqueeze(0)
    out = F.grid_sample(src, grid, mode=mode, padding_mode="zeros", align_corners=False)[0]
    img, cover = out[:-1], out[-1:]
    return img + (1 - cover) * fill


def rotate(
    sample: Sample,
    angle: float,
    expand: bool = False,
    min_visible: float = 0.5,
    mode: str = "bilinear",
    fill: float = 0.5,
) -> Sample:
    """Rotate image and polygons by ``angle`` radians **clockwise on screen** about the image centre.

    Polygons are rotated exactly (same affine as the image), then clipped to the image; objects
    with less than ``min_visible`` of their area left are dropped and clipped ones re-fitted with
    their minimum-area rectangle (:mod:`gghl.data.transforms.clip`).

    Args:
        expand: grow the canvas to hold the whole rotated image (nothing is cut) instead of keeping
            ``H x W``.
        mode: image interpolation, ``"bilinear"`` or ``"nearest"``.
        fill: value of the uncovered corners (GGHL's letterbox grey is 128/255 ~ 0.5).
    """
    check_sample(sample)
    h, w = image_size(sample)
    cos, sin = math.cos(angle), math.sin(angle)
    if expand:
        oh = int(math.ceil(abs(h * cos) + abs(w * sin) - 1e-6))
        ow = int(math.ceil(abs(w * cos) + abs(h * sin) - 1e-6))
    else:
        oh, ow = h, w
    cx, cy, ocx, ocy = w / 2, h / 2, ow / 2, oh / 2
    # p' = R (p - c) + c', R = [[cos, -sin], [sin, cos]] (clockwise on screen for y down).
    mat = torch.tensor(
        [
            [cos, -sin, ocx - cos * cx + sin * cy],
            [sin, cos, ocy - sin * cx - cos * cy],
        ],
        dtype=torch.float64,
    )
    image = warp_image(sample["image"], mat, (oh, ow), mode=mode, fill=fill)
    return clip_to_image(with_affine(sample, image, mat), min_visible)


class RandomRotate:
    """:func:`rotate` with probability ``p`` by an angle (degrees, clockwise) drawn uniformly from
    ``degrees=(lo, hi)``, or uniformly chosen from ``choices`` when given (e.g. ``(90, 180, 270)``)."""

    def __init__(
        self,
        p: float = 0.5,
        degrees: tuple[float, float] = (-180.0, 180.0),
        choices: Sequence[float] | None = None,
        expand: bool = False,
        min_visible: float = 0.5,
        mode: str = "bilinear",
        fill: float = 0.5,
    ) -> None:
        self.p, self.degrees = float(p), (float(degrees[0]), float(degrees[1]))
        self.choices = tuple(float(c) for c in choices) if choices else None
        self.expand, self.min_visible, self.mode, self.fill = expand, float(min_visible), mode, float(fill)

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        if uniform(generator) >= self.p:
            return sample
        if self.choices:
            deg = self.choices[int(torch.randint(len(self.choices), (), generator=generator))]
        else:
            deg = uniform(generator, *self.degrees)
        return rotate(sample, math.radians(deg), self.expand, self.min_visible, self.mode, self.fill)
