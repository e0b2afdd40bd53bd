"""Classification datasets and the batch format they share.

Every sample is a dict; the default collate turns it into the batch the classification task expects:

- ``image``: float32 ``[3, H, W]`` (``[B, 3, H, W]`` batched), normalised.
- ``label``: int64 scalar (``[B]``): the hard label used for accuracy and for ``assign=hard|smooth``
  (majority vote when an item has several annotator labels).
- ``target``: float32 ``[C]`` (``[B, C]``): the soft target for ``assign=soft`` (the aggregated
  annotator distribution; one-hot for single-label items).
- ``index``: int64 scalar (``[B]``): position of the item inside its split, for out-of-fold bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _as_targets(labels: np.ndarray, targets: np.ndarray | None, num_classes: int) -> Tensor:
    if targets is None:
        out = np.zeros((len(labels), num_classes), dtype=np.float32)
        out[np.arange(len(labels)), labels] = 1.0
        return torch.from_numpy(out)
    if targets.shape != (len(labels), num_classes):
        raise ValueError(f"targets must be [{len(labels)}, {num_classes}], got {targets.shape}")
    return torch.as_tensor(targets, dtype=torch.float32)


class TensorImageDataset(Dataset):
    """Images already in memory.

    Args:
        images: float32 ``[N, 3, H, W]``, normalised.
        labels: int ``[N]``.
        targets: float ``[N, C]`` soft targets, or None for one-hot of ``labels``.
        num_classes: C.
        max_shift: if > 0, a random integer translation in ``[-max_shift, max_shift]`` pixels per axis
            (zero padded), the usual augmentation for small digit images.
    """

    def __init__(
        self,
        images: Tensor,
        labels: np.ndarray,
        targets: np.ndarray | None,
        num_classes: int,
        max_shift: int = 0,
    ) -> None:
        if images.ndim != 4 or images.shape[0] != len(labels):
            raise ValueError(f"images must be [N, C, H, W] with N={len(labels)}, got {tuple(images.shape)}")
        self.images = images
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        self.targets = _as_targets(np.asarray(labels), targets, num_classes)
        self.max_shift = int(max_shift)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        img = self.images[i]
        if self.max_shift > 0:
            s = self.max_shift
            dy, dx = torch.randint(-s, s + 1, (2,)).tolist()
            padded = torch.nn.functional.pad(img, (s, s, s, s), value=float(img.min()))
            h, w = img.shape[-2:]
            img = padded[:, s + dy : s + dy + h, s + dx : s + dx + w]
        return {"image": img, "label": self.labels[i], "target": self.targets[i], "index": torch.tensor(i)}


class FileImageDataset(Dataset):
    """Images read from disk with PIL (converted to RGB) and passed through ``transform``.

    Args:
        paths: image file paths, length N.
        labels: int ``[N]``.
        targets: float ``[N, C]`` or None for one-hot.
        num_classes: C.
        transform: PIL image -> float tensor ``[3, H, W]``.
    """

    def __init__(
        self,
        paths: Sequence[str],
        labels: np.ndarray,
        targets: np.ndarray | None,
        num_classes: int,
        transform: Callable[[Image.Image], Tensor],
    ) -> None:
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        self.paths = list(paths)
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
        self.targets = _as_targets(np.asarray(labels), targets, num_classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> Image.Image:
        """The untransformed RGB image ``i`` (for picture grids in audits), read by the one image reader
        (:func:`gghl.data.image_io.read_image`: pixel limit, every mode to RGB, ``ImageReadError`` naming the
        file)."""
        from gghl.data.image_io import read_image

        return Image.fromarray(read_image(self.paths[i]))

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        img = self.transform(self.load(i))
        return {"image": img, "label": self.labels[i], "target": self.targets[i], "index": torch.tensor(i)}


def image_transform(
    image_size: int,
    train: bool,
    hflip: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
):
    """torchvision v2 pipeline PIL -> normalised float32 ``[3, image_size, image_size]``.

    Training adds a mild RandomResizedCrop (scale 0.7-1) and an optional horizontal flip (off by
    default: flips change the meaning of digits and text).
    """
    from torchvision.transforms import v2

    ops: list = []
    if train:
        ops.append(v2.RandomResizedCrop((image_size, image_size), scale=(0.7, 1.0), antialias=True))
        if hflip:
            ops.append(v2.RandomHorizontalFlip())
    else:
        ops.append(v2.Resize((image_size, image_size), antialias=True))
    ops += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(ops)


def split_indices(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Stratified train/val/test index split, fixed by ``seed`` (sorted indices per split).

    Falls back to an unstratified split when some class is too small to stratify.
    """
    from sklearn.model_selection import train_test_split

    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"need 0 <= val_fraction, test_fraction and sum < 1; got {val_fraction}, {test_fraction}"
        )
    idx = np.arange(len(labels))

    def _split(ids: np.ndarray, frac: float, rs: int) -> tuple[np.ndarray, np.ndarray]:
        if frac == 0:
            return ids, ids[:0]
        strat = labels[ids]
        counts = np.bincount(strat)
        use = strat if counts[counts > 0].min() >= 2 else None
        try:
            a, b = train_test_split(ids, test_size=frac, random_state=rs, stratify=use)
        except ValueError:
            a, b = train_test_split(ids, test_size=frac, random_state=rs)
        return np.sort(a), np.sort(b)

    rest, test = _split(idx, test_fraction, seed)
    train, val = _split(rest, val_fraction / (1 - test_fraction) if test_fraction < 1 else 0, seed + 1)
    return {"train": train, "val": val, "test": test}
