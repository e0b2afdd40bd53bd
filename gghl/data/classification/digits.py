"""scikit-learn's bundled 8x8 digits (1797 images, 10 classes; no download) as a LightningDataModule.

Images are upsampled bilinearly to ``image_size`` and repeated to 3 channels, so any timm model runs
on them. The train/val/test split is stratified and fixed by ``split_seed``.

Label-noise simulations (applied to train and val only; test keeps the true labels so accuracy and
calibration are measured against ground truth):

- ``annotators``: reliabilities of simulated crowd annotators (e.g. ``[0.9, 0.7, 0.5, 0.4, 0.3]``);
  each item then carries A labels, hard label = majority vote, soft target = ``aggregation``.
- ``noise_rate``: class-conditional flips of the single label; ``splits[s].flipped`` remembers them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gghl.data.classification.base import ClassificationDataModule, SplitData
from gghl.data.classification.datasets import TensorImageDataset, split_indices
from gghl.data.classification.noise import inject_class_conditional_noise, simulate_annotators


def load_digits_images(image_size: int = 32) -> tuple[torch.Tensor, np.ndarray]:
    """All digits as float32 ``[1797, 3, S, S]`` in ``[-1, 1]`` and int64 labels ``[1797]``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]  # [N, 1, 8, 8] in [0, 1]
    if image_size != 8:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    x = (x - 0.5) / 0.5
    return x.repeat(1, 3, 1, 1).contiguous(), d.target.astype(np.int64)


class DigitsDataModule(ClassificationDataModule):
    """Digits datamodule; see module docstring.

    Args:
        image_size: side of the upsampled images.
        val_fraction, test_fraction: split sizes; ``split_seed`` fixes the split.
        max_shift: random translation (pixels) for training images.
        noise_rate, noise_seed: class-conditional label noise on train/val.
        annotators: reliabilities of simulated annotators (None: one clean label per item).
        annotators_per_item: each item is labelled by this many of them (None: all).
        annotator_seed: RNG seed of the simulation.
        subset: keep only this many items (before splitting) for quick tests.
        batch_size, num_workers, pin_memory, aggregation: see :class:`ClassificationDataModule`.
    """

    def __init__(
        self,
        image_size: int = 32,
        val_fraction: float = 0.15,
        test_fraction: float = 0.25,
        split_seed: int = 0,
        max_shift: int = 2,
        noise_rate: float = 0.0,
        noise_seed: int = 0,
        annotators: Sequence[float] | None = None,
        annotators_per_item: int | None = None,
        annotator_seed: int = 0,
        subset: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        aggregation: str = "average",
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, aggregation)
        # A plain list (not Hydra's ListConfig) keeps checkpoints loadable with weights_only=True.
        annotators = [float(a) for a in annotators] if annotators is not None else None
        self.save_hyperparameters(logger=False)
        self.class_names = [str(i) for i in range(10)]
        if annotators is not None and noise_rate > 0:
            raise ValueError("use either simulated annotators or noise_rate, not both")

    def _build(self) -> dict[str, SplitData]:
        h = self.hparams
        images, labels = load_digits_images(h.image_size)
        if h.subset is not None:
            keep = np.random.default_rng(h.split_seed).permutation(len(labels))[: h.subset]
            keep.sort()
            images, labels = images[keep], labels[keep]
        # Simulate once over the whole set (the same annotators label every split), then split.
        ann_all, flipped_all = labels[:, None], np.zeros(len(labels), dtype=bool)
        if h.annotators is not None:
            ann_all = simulate_annotators(
                labels, 10, list(h.annotators), h.annotator_seed, annotators_per_item=h.annotators_per_item
            )
        elif h.noise_rate > 0:
            noisy, flipped_all = inject_class_conditional_noise(labels, 10, h.noise_rate, h.noise_seed)
            ann_all = noisy[:, None]
        idx = split_indices(labels, h.val_fraction, h.test_fraction, h.split_seed)
        out: dict[str, SplitData] = {}
        for name, ids in idx.items():
            clean = name == "test"
            out[name] = SplitData(
                annotations=labels[ids][:, None] if clean else ann_all[ids],
                true_labels=labels[ids],
                flipped=np.zeros(len(ids), dtype=bool) if clean else flipped_all[ids],
                extra={"images": images[torch.from_numpy(ids)]},
            )
        return out

    def make_dataset(self, split: str, data: SplitData, train: bool) -> TensorImageDataset:
        shift = self.hparams.max_shift if train else 0
        return TensorImageDataset(data.extra["images"], data.labels, data.targets, self.num_classes, shift)
