"""COCO-format detection data (pycocotools), as horizontal boxes in the gghl sample format.

* Each non-crowd annotation with ``bbox = [x, y, w, h]`` (``w, h > 0``) becomes the axis-aligned
  polygon ``(x, y), (x+w, y), (x+w, y+h), (x, y+h)`` in file pixels (TL, TR, BR, BL).
* ``iscrowd = 1`` regions are never training targets; they stay available as ``crowd_hbb``
  (float64 ``[K, 4]`` xyxy, ORIGINAL file pixels) for evaluation.
* Category ids (any, non-contiguous) map to contiguous indices in ascending id order;
  ``contiguous_to_cat_id[i]`` maps back for result files.
* Images without annotations are kept (zero objects). Boxes with ``w <= 0`` or ``h <= 0`` are
  dropped, counted in ``self.skipped["degenerate_box"]`` and logged once.
* The json is validated first (``gghl.data.coco_json``): missing fields, duplicate image/annotation/
  category ids, dangling ``image_id``/``category_id``, non-numeric or non-finite ``bbox`` raise
  ``CocoFormatError`` (a ``ValueError``) naming the file and the json path.
* ``image_id`` of a sample is ``str(coco image id)``; the image file is ``<images_dir>/<file_name>``.
  An images folder holding none of the first 10 listed files (empty or wrong folder) is a
  ``FileNotFoundError`` at construction.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from gghl.data.coco_json import CocoFormatError as CocoFormatError  # re-export
from gghl.data.coco_json import load_coco_json
from gghl.data.collate import make_sample
from gghl.data.image_io import read_image

log = logging.getLogger(__name__)


def xywh_to_polygons(boxes: np.ndarray) -> np.ndarray:
    """COCO ``[N, 4]`` ``x, y, w, h`` -> ``[N, 8]`` polygons TL, TR, BR, BL (float64)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    return np.stack([x0, y0, x1, y0, x1, y1, x0, y1], axis=1)


def read_coco_categories(ann_file: str | Path) -> tuple[list[int], list[str]]:
    """``(sorted category ids, names in that order)`` of a COCO json file (no index build)."""
    cats = load_coco_json(ann_file)["categories"]
    cats = sorted(cats, key=lambda c: int(c["id"]))
    return [int(c["id"]) for c in cats], [str(c["name"]) for c in cats]


class CocoDetection(Dataset):
    """COCO images + HBB objects as gghl samples.

    Args:
        images_dir: folder with the image files (``file_name`` is relative to it).
        ann_file: COCO instances json.
        class_names: if given, the json's category names (in id order) must equal it (clear error otherwise).
        transform: ``sample -> sample`` applied in ``__getitem__``.
    """

    def __init__(
        self,
        images_dir: str | Path,
        ann_file: str | Path,
        class_names: Sequence[str] | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        from pycocotools.coco import COCO

        self.images_dir = Path(images_dir)
        self.ann_file = Path(ann_file)
        if not self.ann_file.is_file():
            raise FileNotFoundError(f"{self.ann_file}: COCO annotation file not found")
        if not self.images_dir.is_dir():
            raise FileNotFoundError(f"{self.images_dir}: COCO images folder not found")
        data = load_coco_json(
            self.ann_file
        )  # CocoFormatError naming file and json path (missing fields, dup ids)
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO()
            self.coco.dataset = data
            self.coco.createIndex()
        cats = sorted(self.coco.loadCats(self.coco.getCatIds()), key=lambda c: int(c["id"]))
        self.contiguous_to_cat_id: list[int] = [int(c["id"]) for c in cats]
        self.cat_id_to_contiguous: dict[int, int] = {c: i for i, c in enumerate(self.contiguous_to_cat_id)}
        self.class_names: list[str] = [str(c["name"]) for c in cats]
        if class_names is not None and list(class_names) != self.class_names:
            raise ValueError(
                f"{self.ann_file}: categories {self.class_names} differ from the configured class_names {list(class_names)}"
            )
        self.num_classes = len(self.class_names)
        self.transform = transform
        self.image_ids: list[int] = sorted(int(i) for i in self.coco.getImgIds())
        self._check_images_dir()
        self.skipped: Counter[str] = Counter()
        self._targets = [self._parse(i) for i in self.image_ids]
        if self.skipped:
            log.warning("COCO %s: skipped %s", self.ann_file, dict(self.skipped))

    def _check_images_dir(self, probe: int = 10) -> None:
        """An empty or wrong images folder is named at construction, not as the first sample fails:
        error when none of the first ``probe`` images of the json is in ``images_dir``."""
        if not self.image_ids:
            return  # a json without images: the datamodule names the empty split
        names = [str(self.coco.imgs[i]["file_name"]) for i in self.image_ids[:probe]]
        if any((self.images_dir / n).is_file() for n in names):
            return
        content = "is empty" if not any(self.images_dir.iterdir()) else "has none of them"
        raise FileNotFoundError(
            f"{self.images_dir}: none of the first {len(names)} images listed in {self.ann_file} is there "
            f"(e.g. {names[0]!r}); the folder {content}"
        )

    def _parse(self, image_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        boxes, labels, crowd = [], [], []
        for ann in self.coco.imgToAnns.get(image_id, []):
            cat = int(ann["category_id"])
            if cat not in self.cat_id_to_contiguous:
                raise ValueError(f"{self.ann_file}: annotation {ann.get('id')} has unknown category_id {cat}")
            x, y, w, h = (float(v) for v in ann["bbox"])
            if int(ann.get("iscrowd", 0)):
                crowd.append([x, y, x + w, y + h])
                continue
            if not (w > 0 and h > 0) or not np.isfinite([x, y, w, h]).all():
                self.skipped["degenerate_box"] += 1
                continue
            boxes.append([x, y, w, h])
            labels.append(self.cat_id_to_contiguous[cat])
        return (
            xywh_to_polygons(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)),
            np.asarray(labels, dtype=np.int64).reshape(-1),
            np.asarray(crowd, dtype=np.float64).reshape(-1, 4),
        )

    def __len__(self) -> int:
        return len(self.image_ids)

    def image_path(self, index: int) -> Path:
        info = self.coco.imgs[self.image_ids[index]]
        return self.images_dir / info["file_name"]

    def load_raw(self, index: int) -> dict[str, Any]:
        """Untransformed sample with ``crowd_hbb`` (ORIGINAL pixels)."""
        polys, labels, crowd = self._targets[index]
        image = read_image(self.image_path(index))
        sample = make_sample(image, polys, labels, None, str(self.image_ids[index]))
        sample["crowd_hbb"] = torch.from_numpy(crowd.copy())
        return sample

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``transform(load_raw(index))`` (for letterboxed/augmented views see ``DetectionSplit``)."""
        sample = self.load_raw(int(index))
        return sample if self.transform is None else self.transform(sample)
