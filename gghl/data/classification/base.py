"""Shared LightningDataModule logic for image classification.

Subclasses know their class names at construction (so ``num_classes`` can be interpolated into the
model config before ``setup``) and implement :meth:`_build` which returns one :class:`SplitData` per
split. The base class turns annotations into hard labels (majority vote) and soft targets
(``aggregation``), builds datasets and loaders, and exposes ``class_counts`` of the training split
for class-balanced losses and logit adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from gghl.data.classification.soft_labels import AGGREGATION_METHODS, aggregate_soft_labels, majority_vote

SPLITS = ("train", "val", "test")


@dataclass
class SplitData:
    """Labels of one split before datasets are built.

    Attributes:
        annotations: int64 ``[N, A]`` class ids per annotator (-1 missing); ``A = 1`` for single-label data.
        true_labels: int64 ``[N]`` ground truth where known (simulations), else None.
        flipped: bool ``[N]`` labels flipped by injected noise, else None.
        extra: dataset-specific payload (tensors, paths) used by ``make_dataset``.
    """

    annotations: np.ndarray
    true_labels: np.ndarray | None = None
    flipped: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    labels: np.ndarray = field(init=False)
    targets: np.ndarray = field(init=False)


class ClassificationDataModule(L.LightningDataModule):
    """Base datamodule; see module docstring. Batches follow :mod:`gghl.data.classification.datasets`.

    Args:
        batch_size, num_workers, pin_memory: DataLoader settings (val/test use the same batch size).
        aggregation: how multi-annotator labels become soft targets, one of
            ``majority | empirical | dawid_skene | average`` (see :mod:`gghl.data.classification.soft_labels`).
    """

    class_names: list[str]

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        aggregation: str = "average",
    ) -> None:
        super().__init__()
        if aggregation not in AGGREGATION_METHODS:
            raise ValueError(f"aggregation must be one of {AGGREGATION_METHODS}, got {aggregation!r}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.aggregation = aggregation
        self.splits: dict[str, SplitData] = {}
        self.datasets: dict[str, Dataset] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    # -- to implement -------------------------------------------------------------------------
    def _build(self) -> dict[str, SplitData]:
        raise NotImplementedError

    def make_dataset(self, split: str, data: SplitData, train: bool) -> Dataset:
        """Dataset for ``split`` from its labels/targets; ``train`` switches augmentation on."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.splits = self._build()
        for name, data in self.splits.items():
            ann = data.annotations
            data.labels = majority_vote(ann, self.num_classes).argmax(1).astype(np.int64)
            data.targets = aggregate_soft_labels(ann, self.num_classes, self.aggregation).astype(np.float32)
            self.datasets[name] = self.make_dataset(name, data, train=(name == "train"))

    @property
    def class_counts(self) -> np.ndarray:
        """int64 ``[C]``: hard-label counts of the training split (calls ``setup`` if needed)."""
        self.setup()
        return np.bincount(self.splits["train"].labels, minlength=self.num_classes)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        if split not in self.datasets:
            raise KeyError(f"{type(self).__name__} has no {split!r} split")
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
