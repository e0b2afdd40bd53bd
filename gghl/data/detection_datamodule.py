"""LightningDataModules for detection: synthetic (default), DOTA, COCO. Batches per ``gghl.data.collate``.

All three letterbox every image to a square ``img_size`` (multiple of 32; the map is in ``affine``),
augment the training split (flips, rot90, HSV, mixup; ``gghl.data.transforms``), optionally train
multi-scale (``multiscale_sizes``: a new size every ``multiscale_every`` batches), and seed workers
deterministically from ``seed``. ``num_classes`` and ``class_names`` are set in ``__init__`` so Hydra
configs can interpolate ``${data.num_classes}``. ``target_transform`` runs per sample in the workers
after letterboxing/mixup (e.g. to precompute label maps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from gghl.data.coco import CocoDetection, read_coco_categories
from gghl.data.collate import detection_collate
from gghl.data.dota import DotaDataset
from gghl.data.dota_classes import dota_classes
from gghl.data.multiscale import MultiScaleBatchSampler
from gghl.data.sample_pipeline import AugmentConfig, DetectionSplit, RawDataset, seed_worker
from gghl.data.synthetic import SyntheticOrientedDataset, synthetic_class_names

SPLITS = ("train", "val", "test")


class DetectionDataModule(L.LightningDataModule):
    """Shared loader logic; subclasses implement ``make_raw(split) -> RawDataset | None``.

    Args:
        img_size: letterbox size for all splits (multiple of 32).
        batch_size: per-device batch size. num_workers, pin_memory (``None``: when CUDA is available),
            persistent_workers: ``DataLoader``.
        seed: loader / augmentation / multi-scale seed.
        hflip, vflip, rot90: training flip/quarter-turn probabilities.
        hsv: HSV gains ``[h, s, v]`` or ``None`` (off); hsv_prob: probability (GGHL 0.75).
        mixup_prob, mixup_alpha: GGHL mixup (0 = off).
        multiscale_sizes: training sizes (multiples of 32) or ``None``; multiscale_every: batches per size.
        target_transform: per-sample callable run last in the workers (all splits).
        drop_last: drop the incomplete last training batch.
    """

    def __init__(
        self,
        img_size: int = 800,
        batch_size: int = 8,
        num_workers: int = 4,
        pin_memory: bool | None = None,
        seed: int = 0,
        hflip: float = 0.5,
        vflip: float = 0.0,
        rot90: float = 0.0,
        hsv: Sequence[float] | None = (0.015, 0.7, 0.4),
        hsv_prob: float = 0.75,
        mixup_prob: float = 0.0,
        mixup_alpha: float = 1.5,
        multiscale_sizes: Sequence[int] | None = None,
        multiscale_every: int = 10,
        target_transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        persistent_workers: bool = False,
        drop_last: bool = True,
    ) -> None:
        super().__init__()
        if int(img_size) % 32:
            raise ValueError(f"img_size must be a multiple of 32, got {img_size}")
        self.img_size = int(img_size)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else bool(pin_memory)
        self.persistent_workers = bool(persistent_workers) and self.num_workers > 0
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.augment = AugmentConfig(
            hflip=float(hflip),
            vflip=float(vflip),
            rot90=float(rot90),
            hsv=None if hsv is None else tuple(float(g) for g in hsv),  # type: ignore[arg-type]
            hsv_prob=float(hsv_prob),
            mixup_prob=float(mixup_prob),
            mixup_alpha=float(mixup_alpha),
        )
        self.multiscale_sizes = None if not multiscale_sizes else [int(s) for s in multiscale_sizes]
        self.multiscale_every = int(multiscale_every)
        self.target_transform = target_transform
        self.datasets: dict[str, DetectionSplit] = {}
        self.class_names: list[str] = []
        self.num_classes: int = 0

    # ------------------------------------------------------------------ subclass API
    def make_raw(self, split: str) -> RawDataset | None:
        """Raw dataset of ``split`` (``"train"``, ``"val"``, ``"test"``), or ``None`` if there is none."""
        raise NotImplementedError

    def describe_split(self, split: str) -> str:
        """Where ``split`` comes from, for error messages (folders, files)."""
        return f"split {split!r}"

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage or "", SPLITS):
            if split in self.datasets:
                continue
            raw = self.make_raw(split)
            if raw is None:
                continue
            if len(raw) == 0:  # else torch's RandomSampler fails later with "num_samples=0"
                raise ValueError(
                    f"{type(self).__name__}: the {split!r} split has no images ({self.describe_split(split)}); "
                    "fill it or drop the split"
                )
            names = list(getattr(raw, "class_names", self.class_names))
            if names != self.class_names:
                raise ValueError(
                    f"{split} split classes {names} differ from the configured {self.class_names}"
                )
            self.datasets[split] = DetectionSplit(
                raw,
                self.img_size,
                train=split == "train",
                augment=self.augment,
                target_transform=self.target_transform,
            )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        if split not in self.datasets:
            raise RuntimeError(f"{type(self).__name__}: no {split!r} split configured")
        ds = self.datasets[split]
        gen = torch.Generator().manual_seed(self.seed + SPLITS.index(split))
        sampler = RandomSampler(ds, generator=gen) if shuffle else SequentialSampler(ds)
        drop = self.drop_last and shuffle and len(ds) >= self.batch_size
        if shuffle:  # training keys carry size and augmentation seed (multi-scale or one size)
            batch_sampler: BatchSampler = MultiScaleBatchSampler(
                sampler,
                self.batch_size,
                drop,
                self.multiscale_sizes or [self.img_size],
                self.multiscale_every,
                self.seed,
            )
        else:
            batch_sampler = BatchSampler(sampler, self.batch_size, drop)
        return DataLoader(
            ds,
            batch_sampler=batch_sampler,
            num_workers=self.num_workers,
            collate_fn=detection_collate,
            pin_memory=self.pin_memory,
            worker_init_fn=seed_worker,
            generator=torch.Generator().manual_seed(self.seed + 100 + SPLITS.index(split)),
            persistent_workers=self.persistent_workers,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def _has(self, split: str) -> bool:
        if split not in self.datasets:
            self.setup({"val": "validate", "test": "test"}[split])
        return split in self.datasets

    def val_dataloader(self) -> DataLoader | list:
        """Validation loader; ``[]`` (Lightning: skip validation) when there is no val split."""
        return self._loader("val", shuffle=False) if self._has("val") else []

    def test_dataloader(self) -> DataLoader | list:
        """Test loader; ``[]`` when there is no test split."""
        return self._loader("test", shuffle=False) if self._has("test") else []


class SyntheticDataModule(DetectionDataModule):
    """Synthetic oriented objects (``gghl.data.synthetic``); train/val/test use seeds
    ``seed``, ``seed + 1``, ``seed + 2``. ``generator``: extra ``SyntheticGenerator`` kwargs;
    ``gen_size``: drawn image size (default ``img_size``). Defaults: 400/64/64 images at 320 px,
    hflip/vflip/rot90 0.5 (the classes are mirror/rotation-agnostic), no mixup.
    """

    def __init__(
        self,
        num_classes: int = 5,
        class_names: Sequence[str] | None = None,
        train_size: int = 400,
        val_size: int = 64,
        test_size: int = 64,
        gen_size: int | None = None,
        generator: Mapping[str, Any] | None = None,
        img_size: int = 320,
        batch_size: int = 8,
        num_workers: int = 2,
        hflip: float = 0.5,
        vflip: float = 0.5,
        rot90: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            img_size=img_size,
            batch_size=batch_size,
            num_workers=num_workers,
            hflip=hflip,
            vflip=vflip,
            rot90=rot90,
            **kwargs,
        )
        self.class_names = synthetic_class_names(int(num_classes))
        if class_names is not None and list(class_names) != self.class_names:
            raise ValueError(f"synthetic class_names must be {self.class_names}, got {list(class_names)}")
        self.num_classes = int(num_classes)
        self.sizes = {"train": int(train_size), "val": int(val_size), "test": int(test_size)}
        self.gen_size = int(gen_size) if gen_size else self.img_size
        self.generator_kwargs = dict(generator or {})

    def make_raw(self, split: str) -> SyntheticOrientedDataset | None:
        if self.sizes[split] <= 0:
            return None
        return SyntheticOrientedDataset(
            self.sizes[split],
            img_size=self.gen_size,
            num_classes=self.num_classes,
            seed=self.seed + SPLITS.index(split),
            **self.generator_kwargs,
        )


class DotaDataModule(DetectionDataModule):
    """DOTA layout (``gghl.data.dota``): ``splits`` maps train/val/test to sub-folders of ``root``
    (``None`` drops a split). Use split patches (``gghl.data.dota_split``) for 800 px training.
    Classes: ``version`` ("1.0"/"1.5"/"2.0") gives the official list; an explicit ``class_names``
    must equal it, or pass ``version=None`` for a custom list (other datasets in DOTA format)."""

    def __init__(
        self,
        root: str,
        version: str | None = "1.0",
        class_names: Sequence[str] | None = None,
        num_classes: int | None = None,
        splits: Mapping[str, str | None] | None = None,
        on_error: str = "raise",
        check_images: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = Path(root)
        self.version = None if version is None else str(version)
        if class_names is None:
            if self.version is None:
                raise ValueError("DotaDataModule needs a DOTA version or an explicit class_names list")
            class_names = dota_classes(self.version)
        elif self.version is not None and list(class_names) != dota_classes(self.version):
            # e.g. `data.version=1.5` overridden without the class list: never train on the wrong classes
            raise ValueError(
                f"class_names {list(class_names)} are not the DOTA v{self.version} classes "
                f"{dota_classes(self.version)}; set data.class_names=null data.num_classes=null with a "
                "version, or data.version=null for a custom class list"
            )
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        if num_classes is not None and int(num_classes) != self.num_classes:
            raise ValueError(f"num_classes={num_classes} but {self.num_classes} class names")
        self.splits = dict(splits) if splits is not None else {"train": "train", "val": "val", "test": "val"}
        self.on_error, self.check_images = on_error, bool(check_images)

    def describe_split(self, split: str) -> str:
        return f"{self.root / str(self.splits.get(split))}/{{images,labelTxt}}"

    def make_raw(self, split: str) -> DotaDataset | None:
        sub = self.splits.get(split)
        if sub is None:
            return None
        return DotaDataset(
            self.root,
            sub,
            class_names=self.class_names,
            on_error=self.on_error,
            check_images=self.check_images,
        )


class CocoDataModule(DetectionDataModule):
    """COCO layout: images in ``<root>/<images>`` and ``<root>/<annotations>`` with ``{split}`` filled
    from ``splits`` (default train2017 / val2017 / val2017). Without ``class_names`` the categories are
    read from the val (else test, train) annotation file at construction."""

    def __init__(
        self,
        root: str,
        splits: Mapping[str, str | None] | None = None,
        images: str = "{split}",
        annotations: str = "annotations/instances_{split}.json",
        class_names: Sequence[str] | None = None,
        num_classes: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.root = Path(root)
        self.splits = (
            dict(splits)
            if splits is not None
            else {"train": "train2017", "val": "val2017", "test": "val2017"}
        )
        self.images_pattern, self.annotations_pattern = images, annotations
        if class_names is None:
            files = [self._ann(s) for s in ("val", "test", "train") if self.splits.get(s)]
            found = [f for f in files if f.is_file()]
            if not found:
                raise FileNotFoundError(
                    f"no COCO annotation file among {[str(f) for f in files]} to read categories from"
                )
            self.contiguous_to_cat_id, class_names = read_coco_categories(found[0])
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        if num_classes is not None and int(num_classes) != self.num_classes:
            raise ValueError(f"num_classes={num_classes} but {self.num_classes} class names")

    def _ann(self, split: str) -> Path:
        return self.root / self.annotations_pattern.format(split=self.splits[split])

    def annotation_file(self, split: str) -> Path:
        """Annotation json of ``split``: a split key (``"val"``) or a folder name (``"val2017"``)."""
        if self.splits.get(split):
            return self._ann(split)
        return self.root / self.annotations_pattern.format(split=split)

    def describe_split(self, split: str) -> str:
        images = self.root / self.images_pattern.format(split=self.splits.get(split))
        return f"images {images}, annotations {self._ann(split)}"

    def make_raw(self, split: str) -> CocoDetection | None:
        if not self.splits.get(split):
            return None
        raw = CocoDetection(
            self.root / self.images_pattern.format(split=self.splits[split]),
            self._ann(split),
            class_names=self.class_names,
        )
        self.contiguous_to_cat_id = raw.contiguous_to_cat_id
        return raw
