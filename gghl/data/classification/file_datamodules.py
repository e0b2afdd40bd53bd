"""ImageFolder and CSV datamodules (images read from disk).

Both read their label lists in ``__init__`` (paths and labels only, no pixels) so that ``class_names``
and ``num_classes`` exist right after construction. A missing val/test split is carved out of the
training list by a stratified, seeded split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from gghl.data.classification.base import ClassificationDataModule, SplitData
from gghl.data.classification.datasets import FileImageDataset, image_transform, split_indices
from gghl.data.classification.files import FileList, encode_labels, read_label_csv, scan_image_folder


class _FileDataModule(ClassificationDataModule):
    """Common part: per-split :class:`FileList` -> datasets with torchvision transforms."""

    def __init__(
        self,
        image_size: int,
        hflip: bool,
        val_fraction: float,
        test_fraction: float,
        split_seed: int,
        batch_size: int,
        num_workers: int,
        pin_memory: bool,
        aggregation: str,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, aggregation)
        self.image_size = image_size
        self.hflip = hflip
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self._lists: dict[str, FileList] = {}

    def _init_lists(self, lists: dict[str, FileList]) -> None:
        """Encode labels now so unknown labels fail at construction, not mid-training."""
        self._lists = lists
        self._encoded = {k: encode_labels(v, self.class_names) for k, v in lists.items()}

    def _build(self) -> dict[str, SplitData]:
        lists, enc = dict(self._lists), dict(self._encoded)
        missing = [s for s in ("val", "test") if s not in lists]
        if missing:
            train_list, train_ann = lists["train"], enc["train"]
            hard = np.array([np.bincount(r[r >= 0], minlength=self.num_classes).argmax() for r in train_ann])
            vf = self.val_fraction if "val" in missing else 0.0
            tf = self.test_fraction if "test" in missing else 0.0
            idx = split_indices(hard, vf, tf, self.split_seed)
            for name in ["train", *missing]:
                ids = idx[name]
                lists[name] = FileList(
                    [train_list.paths[i] for i in ids],
                    [train_list.labels[i] for i in ids],
                    [train_list.sources[i] for i in ids],
                )
                enc[name] = train_ann[ids]
        return {
            k: SplitData(annotations=enc[k], extra={"paths": lists[k].paths})
            for k in ("train", "val", "test")
        }

    def make_dataset(self, split: str, data: SplitData, train: bool) -> FileImageDataset:
        tf = image_transform(self.image_size, train=train, hflip=self.hflip)
        return FileImageDataset(data.extra["paths"], data.labels, data.targets, self.num_classes, tf)


class ImageFolderDataModule(_FileDataModule):
    """``root/<class>/<image>`` trees.

    If ``root/train`` exists, ``root/{train,val,test}`` are used as splits (val/test optional);
    otherwise ``root`` itself is the training tree. Class names are the sorted sub-folders of the
    training tree; a val/test class folder unknown to training is an error.
    """

    def __init__(
        self,
        root: str,
        image_size: int = 224,
        hflip: bool = False,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        aggregation: str = "majority",
    ) -> None:
        super().__init__(
            image_size,
            hflip,
            val_fraction,
            test_fraction,
            split_seed,
            batch_size,
            num_workers,
            pin_memory,
            aggregation,
        )
        self.save_hyperparameters(logger=False)
        split_root = os.path.join(root, "train")
        lists: dict[str, FileList] = {}
        if os.path.isdir(split_root):
            lists["train"], self.class_names = scan_image_folder(split_root)
            for s in ("val", "test"):
                if os.path.isdir(os.path.join(root, s)):
                    lists[s], names = scan_image_folder(os.path.join(root, s))
                    unknown = sorted(set(names) - set(self.class_names))
                    if unknown:
                        raise ValueError(
                            f"{os.path.join(root, s)}: class folders {unknown} not in {split_root}"
                        )
        else:
            lists["train"], self.class_names = scan_image_folder(root)
        self._init_lists(lists)


class CSVDataModule(_FileDataModule):
    """CSV lists ``path,label`` or ``path,a|b|a`` (several annotators) per split.

    Args:
        train_csv: required; ``val_csv``/``test_csv`` optional (split from train when absent).
        root: folder relative image paths are resolved against (default: each CSV's folder).
        class_names: fixed class list (order = class ids); default: sorted union of all labels seen.
        aggregation: soft-target method for multi-annotator rows (hard label is the majority vote).
    """

    def __init__(
        self,
        train_csv: str,
        val_csv: str | None = None,
        test_csv: str | None = None,
        root: str | None = None,
        class_names: Sequence[str] | None = None,
        image_size: int = 224,
        hflip: bool = False,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        split_seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        aggregation: str = "average",
    ) -> None:
        super().__init__(
            image_size,
            hflip,
            val_fraction,
            test_fraction,
            split_seed,
            batch_size,
            num_workers,
            pin_memory,
            aggregation,
        )
        # A plain list (not Hydra's ListConfig) keeps checkpoints loadable with weights_only=True.
        class_names = [str(c) for c in class_names] if class_names is not None else None
        self.save_hyperparameters(logger=False)
        lists = {"train": read_label_csv(train_csv, root)}
        if val_csv:
            lists["val"] = read_label_csv(val_csv, root)
        if test_csv:
            lists["test"] = read_label_csv(test_csv, root)
        if class_names is None:
            class_names = sorted({s for fl in lists.values() for ls in fl.labels for s in ls})
        self.class_names = [str(c) for c in class_names]
        self._init_lists(lists)
