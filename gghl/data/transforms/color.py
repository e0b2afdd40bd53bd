"""Photometric jitter in HSV space (image only; boxes and ``affine`` untouched)."""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.data.transforms._sample import Sample, check_sample, uniform

__all__ = ["rgb_to_hsv", "hsv_to_rgb", "hsv_jitter", "RandomHSV"]


def rgb_to_hsv(rgb: Tensor) -> Tensor:
    """``[3, H, W]`` RGB in ``[0, 1]`` -> HSV, every channel in ``[0, 1]`` (hue as a turn fraction)."""
    r, g, b = rgb.unbind(0)
    maxc, _ = rgb.max(0)
    minc, _ = rgb.min(0)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, torch.remainder(h / 6.0, 1.0), torch.zeros_like(h))
    s = torch.where(
        maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc)
    )
    return torch.stack([h, s, maxc], dim=0)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_hsv`, ``[3, H, W] -> [3, H, W]``.

    Closed form ``c_n = v - v s clamp(min(k, 4 - k), 0, 1)`` with ``k = (n + 6 h) mod 6`` and
    ``n = 5, 3, 1`` for R, G, B: one broadcast expression instead of a 6-way sector table.
    """
    h, s, v = hsv.unbind(0)
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hsv.dtype, device=hsv.device).view(3, 1, 1)
    k = torch.remainder(n + 6.0 * h.unsqueeze(0), 6.0)
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def hsv_jitter(image: Tensor, gains: tuple[float, float, float]) -> Tensor:
    """Multiply hue/saturation/value by ``gains`` (hue wraps around, s and v clip to ``[0, 1]``),
    as YOLO/GGHL's ``augment_hsv`` does. ``[3, H, W]`` RGB in ``[0, 1]``."""
    hsv = rgb_to_hsv(image.clamp(0, 1))
    h = torch.remainder(hsv[0] * gains[0], 1.0)
    s = (hsv[1] * gains[1]).clamp(0, 1)
    v = (hsv[2] * gains[2]).clamp(0, 1)
    return hsv_to_rgb(torch.stack([h, s, v])).to(image.dtype)


class RandomHSV:
    """With probability ``p``, gains ``1 + U(-1, 1) * (hgain, sgain, vgain)`` (GGHL: .015, .7, .4; p .75)."""

    def __init__(self, hgain: float = 0.015, sgain: float = 0.7, vgain: float = 0.4, p: float = 1.0) -> None:
        self.gains, self.p = (float(hgain), float(sgain), float(vgain)), float(p)

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        check_sample(sample)
        if uniform(generator) >= self.p:
            return sample
        g = tuple(1.0 + uniform(generator, -1.0, 1.0) * k for k in self.gains)
        out = dict(sample)
        out["image"] = hsv_jitter(sample["image"], g)  # type: ignore[arg-type]
        return out
