"""Per-split sample pipeline: raw dataset sample -> augmentation -> letterbox -> mixup -> target_transform.

``DetectionSplit`` wraps a raw dataset (``DotaDataset``, ``CocoDetection``, ``SyntheticOrientedDataset``:
anything with ``load_raw(index) -> sample`` and ``__len__``) and yields letterboxed samples in the
format of ``gghl.data.collate``. Keys may be plain indices or ``(index, size, seed)`` triples from
``gghl.data.multiscale.MultiScaleBatchSampler``: the sample is then letterboxed to ``size`` and its
augmentation (and mixup partner) drawn from ``torch.Generator().manual_seed(seed)``: reproducible and
independent of the number of workers. With plain indices the global torch RNG is used.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from gghl.data.transforms import (
    GGHL_PAD_VALUE,
    Compose,
    RandomHorizontalFlip,
    RandomHSV,
    RandomMixup,
    RandomRot90,
    RandomVerticalFlip,
    letterbox,
)

Sample = dict[str, Any]


class RawDataset(Protocol):
    def __len__(self) -> int: ...
    def load_raw(self, index: int) -> Sample: ...


@dataclass
class AugmentConfig:
    """Training augmentation switches (probabilities; 0 disables).

    ``hflip``/``vflip``: mirror; ``rot90``: quarter turn (k uniform in 1..3); ``hsv``: HSV gains
    ``(h, s, v)`` or ``None``, applied with probability ``hsv_prob`` (GGHL: 0.75); ``mixup_prob``/``mixup_alpha``: GGHL mixup (lam ~ Beta(a, a));
    ``pad_value``: letterbox grey (GGHL 128/255).
    """

    hflip: float = 0.5
    vflip: float = 0.0
    rot90: float = 0.0
    hsv: tuple[float, float, float] | None = (0.015, 0.7, 0.4)
    hsv_prob: float = 0.75
    mixup_prob: float = 0.0
    mixup_alpha: float = 1.5
    pad_value: float = GGHL_PAD_VALUE


def build_augment(cfg: AugmentConfig) -> Compose:
    """Photometric + exact geometric training transforms (before letterbox)."""
    ts: list[Callable[..., Sample]] = []
    if cfg.hsv is not None and any(g > 0 for g in cfg.hsv) and cfg.hsv_prob > 0:
        ts.append(RandomHSV(*cfg.hsv, p=cfg.hsv_prob))
    if cfg.hflip > 0:
        ts.append(RandomHorizontalFlip(cfg.hflip))
    if cfg.vflip > 0:
        ts.append(RandomVerticalFlip(cfg.vflip))
    if cfg.rot90 > 0:
        ts.append(RandomRot90(cfg.rot90))
    return Compose(ts)


class DetectionSplit(Dataset):
    """Letterboxed (and, for training, augmented) view of a raw detection dataset.

    Args:
        raw: dataset with ``load_raw(index)``; ``raw.class_names`` / ``raw.num_classes`` are mirrored.
        img_size: letterbox size (multiple of 32) when the key carries no size.
        train: apply ``augment`` and mixup.
        augment: switches (default ``AugmentConfig()``); ignored when ``train`` is False.
        target_transform: ``sample -> sample`` run last, in the worker (e.g. label maps); it sees the
            final letterboxed image and polygons.
    """

    def __init__(
        self,
        raw: RawDataset,
        img_size: int,
        train: bool = False,
        augment: AugmentConfig | None = None,
        target_transform: Callable[[Sample], Sample] | None = None,
    ) -> None:
        if int(img_size) % 32:
            raise ValueError(f"img_size must be a multiple of 32, got {img_size}")
        self.raw = raw
        self.img_size = int(img_size)
        self.train = train
        self.cfg = augment or AugmentConfig()
        self.augment = build_augment(self.cfg) if train else None
        self.mixup = (
            RandomMixup(self.cfg.mixup_prob, self.cfg.mixup_alpha)
            if train and self.cfg.mixup_prob > 0
            else None
        )
        self.target_transform = target_transform
        self.class_names = list(getattr(raw, "class_names", []))
        self.num_classes = int(getattr(raw, "num_classes", len(self.class_names)))

    def __len__(self) -> int:
        return len(self.raw)

    def _one(self, index: int, size: int, gen: torch.Generator | None) -> Sample:
        sample = self.raw.load_raw(index)
        if self.augment is not None:
            sample = self.augment(sample, gen)
        return letterbox(sample, size, self.cfg.pad_value)

    def __getitem__(self, key: int | tuple[int, int, int]) -> Sample:
        if isinstance(key, tuple):
            index, size, seed = int(key[0]), int(key[1]), int(key[2])
            gen: torch.Generator | None = torch.Generator().manual_seed(seed)
        else:
            index, size, gen = int(key), self.img_size, None
        sample = self._one(index, size, gen)
        if self.mixup is not None and len(self) > 1:
            other = int(torch.randint(0, len(self) - 1, (), generator=gen).item())
            other += other >= index  # never mix an image with itself
            sample = self.mixup(sample, self._one(other, size, gen), gen)
        if self.target_transform is not None:
            sample = self.target_transform(sample)
        return sample


def seed_worker(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: seed numpy and ``random`` from the worker's torch seed
    (torch itself is seeded per worker from the loader's ``generator``)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
