"""Letterbox resize to a square, random scale, and the per-batch multi-scale size helper."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from gghl.data.transforms._sample import Sample, check_sample, image_size, uniform, with_affine

__all__ = ["letterbox", "Letterbox", "resize", "RandomScale", "MultiScale", "GGHL_PAD_VALUE"]

#: GGHL's letterbox grey, 128/255.
GGHL_PAD_VALUE = 128.0 / 255.0


def _resize_image(image: Tensor, new_hw: tuple[int, int]) -> Tensor:
    """Bilinear resize ``[C, H, W] -> [C, h', w']`` with ``align_corners=False``: exactly the map
    ``x' = x * w'/W``, ``y' = y * h'/H`` in the continuous pixel frame; antialiased when shrinking."""
    _, h, w = image.shape
    if (h, w) == tuple(new_hw):
        return image
    shrink = new_hw[0] < h or new_hw[1] < w
    out = F.interpolate(
        image.unsqueeze(0), size=new_hw, mode="bilinear", align_corners=False, antialias=shrink
    )
    return out[0]


def resize(sample: Sample, new_hw: tuple[int, int]) -> Sample:
    """Resize image and polygons to ``new_hw = (h', w')`` (aspect ratio not kept)."""
    check_sample(sample)
    h, w = image_size(sample)
    nh, nw = int(new_hw[0]), int(new_hw[1])
    if nh < 1 or nw < 1:
        raise ValueError(f"new size must be positive, got {new_hw}")
    mat = torch.tensor([[nw / w, 0.0, 0.0], [0.0, nh / h, 0.0]], dtype=torch.float64)
    return with_affine(sample, _resize_image(sample["image"], (nh, nw)), mat)


def letterbox(sample: Sample, size: int, pad_value: float = GGHL_PAD_VALUE) -> Sample:
    """Resize keeping the aspect ratio so the long side is ``size``, and pad to ``size x size``, centred.

    Scale ``r = min(size / W, size / H)``; the resized image is ``round(W r) x round(H r)`` and the
    *exact* per-axis scales ``w'/W``, ``h'/H`` go into ``affine`` (they differ from ``r`` by less than
    half a pixel over the image). Padding offsets are whole pixels, ``(size - w') // 2`` left and
    ``(size - h') // 2`` top, as GGHL does; the pad colour is ``pad_value`` (GGHL: 128/255).
    """
    check_sample(sample)
    if int(size) < 1:
        raise ValueError(f"size must be a positive int, got {size}")
    size = int(size)
    h, w = image_size(sample)
    r = min(size / w, size / h)
    nw, nh = max(1, min(size, round(w * r))), max(1, min(size, round(h * r)))
    dx, dy = (size - nw) // 2, (size - nh) // 2
    img = _resize_image(sample["image"], (nh, nw))
    canvas = torch.full((img.shape[0], size, size), float(pad_value), dtype=img.dtype, device=img.device)
    canvas[:, dy : dy + nh, dx : dx + nw] = img
    mat = torch.tensor([[nw / w, 0.0, dx], [0.0, nh / h, dy]], dtype=torch.float64)
    return with_affine(sample, canvas, mat)


class Letterbox:
    """Transform form of :func:`letterbox`; ``size`` may be changed per batch (see :class:`MultiScale`)."""

    def __init__(self, size: int = 800, pad_value: float = GGHL_PAD_VALUE) -> None:
        self.size, self.pad_value = int(size), float(pad_value)

    def __call__(
        self, sample: Sample, generator: torch.Generator | None = None, size: int | None = None
    ) -> Sample:
        return letterbox(sample, self.size if size is None else size, self.pad_value)


class RandomScale:
    """Scale image and polygons by a factor drawn uniformly from ``scale=(lo, hi)`` (image size changes)."""

    def __init__(self, scale: tuple[float, float] = (0.8, 1.2), p: float = 1.0) -> None:
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be 0 < lo <= hi, got {scale}")
        self.scale, self.p = (float(scale[0]), float(scale[1])), float(p)

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:
        if uniform(generator) >= self.p:
            return sample
        s = uniform(generator, *self.scale)
        h, w = image_size(sample)
        return resize(sample, (max(1, round(h * s)), max(1, round(w * s))))


class MultiScale:
    """Per-batch input size for multi-scale training (GGHL: ``{736, ..., 864}``, new size every 10 batches).

    ``size_for_batch(i)`` is a pure function of ``(seed, epoch, i // every)``, so every data-loader
    worker and every DDP rank agrees on the size of batch ``i`` without communication. The
    datamodule/collate calls it and letterboxes the batch's samples to that size.
    """

    def __init__(
        self, sizes: Sequence[int] = (736, 768, 800, 832, 864), every: int = 10, seed: int = 0
    ) -> None:
        if not sizes or any(int(s) % 32 for s in sizes):
            raise ValueError(f"sizes must be a non-empty list of multiples of 32, got {list(sizes)}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.sizes, self.every, self.seed = tuple(int(s) for s in sizes), int(every), int(seed)

    def size_for_batch(self, batch_idx: int, epoch: int = 0) -> int:
        block = int(batch_idx) // self.every
        rng = random.Random(f"{self.seed}:{int(epoch)}:{block}")
        return self.sizes[rng.randrange(len(self.sizes))]

    __call__ = size_for_batch

    def letterbox_batch(
        self, samples: Sequence[Sample], batch_idx: int, epoch: int = 0, pad_value: float = GGHL_PAD_VALUE
    ) -> list[Sample]:
        """Letterbox all ``samples`` of batch ``batch_idx`` to its size."""
        size = self.size_for_batch(batch_idx, epoch)
        return [letterbox(s, size, pad_value) for s in samples]
