"""DOTA dataset: the official layout, read unchanged.

Layout: ``<root>/<split>/images/<stem>.png`` (also .jpg/.jpeg/.tif/.tiff/.bmp, extension in any case:
``P0001.PNG`` is found) and ``<root>/<split>/labelTxt/<stem>.txt`` (``.TXT`` too; see
``gghl.data.dota_labels`` for the line format, shared with the evaluator). Split patches written by
``gghl.data.dota_split`` use the same layout.

Index: every label file is one image (sorted by stem). A split without a ``labelTxt`` folder (the
DOTA test set) indexes its images with zero objects. All label files are parsed at construction, so
format problems surface at once, with file and line:

* malformed line -> ``DotaFormatError`` (``on_error="skip"``: line skipped and counted);
* unknown class name -> ``DotaFormatError`` naming file, line, class and the known classes
  (``on_error="skip"``: object skipped and counted);
* label file without image, image without label file -> ``FileNotFoundError`` naming the files
  (``on_error="skip"``: entry dropped and counted);
* two images with one stem (``a.png`` + ``a.jpg``) or two label files (``a.txt`` + ``a.TXT``) ->
  ``ValueError`` naming them (skip: ``ambiguous_image`` / ``ambiguous_label``);
* label file that is not UTF-8 -> ``DotaFormatError`` (skip: image dropped, ``unreadable_label``);
* empty split (no image and no label file) -> ``FileNotFoundError`` naming the folders and the
  extensions looked for; skip mode with nothing left -> ``ValueError`` with the skip counts (never an
  empty dataset that ends in torch's ``num_samples=0``);
* corrupt image -> ``ImageReadError`` naming the file when the sample is loaded; with
  ``check_images=True`` every image is decoded once at construction (and dropped+counted in skip mode).

Geometry (both modes, never an error, always counted):

* zero-area polygon (all vertices on a point or a line, symmetric bow-tie) -> skipped,
  ``skipped["degenerate_polygon"]``;
* polygon entirely outside ``[0, W] x [0, H]`` (size read from the image header) -> skipped,
  ``skipped["outside_image"]``; partly outside -> kept as annotated (DOTA marks truncated objects so);
* other self-intersecting vertex orders -> kept: the training box is the minimum-area rectangle of
  the four vertices (``gghl.structures.poly_to_obb``), which does not depend on vertex order.

Counts of everything skipped are in ``self.skipped`` and logged once as a summary.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from gghl.data.collate import make_sample
from gghl.data.dota_classes import dota_classes
from gghl.data.dota_labels import read_dota_labels
from gghl.data.dota_text import DotaFormatError
from gghl.data.image_files import describe_exts, index_files
from gghl.data.image_io import IMAGE_EXTENSIONS, ImageReadError, read_image, read_image_size, verify_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DotaRecord:
    """One indexed image: paths and parsed objects (``polygons`` float64 [N,8] file pixels)."""

    image_id: str
    image_path: Path
    label_path: Path | None
    polygons: np.ndarray
    labels: np.ndarray
    difficult: np.ndarray
    image_source: str | None
    gsd: float | None


def _geometry_problem(polygon: Sequence[float], hw: tuple[int, int] | None) -> str | None:
    """``"degenerate_polygon"`` (zero shoelace area: a point, a line, a symmetric bow-tie),
    ``"outside_image"`` (no part inside ``[0, W] x [0, H]``) or ``None`` for a usable object."""
    xy = np.asarray(polygon, dtype=np.float64).reshape(4, 2)
    rel = xy - xy[0]
    area = 0.5 * float(np.sum(rel[:, 0] * np.roll(rel[:, 1], -1) - rel[:, 1] * np.roll(rel[:, 0], -1)))
    if area == 0.0:
        return "degenerate_polygon"
    if hw is not None:
        h, w = hw
        if xy[:, 0].max() <= 0 or xy[:, 0].min() >= w or xy[:, 1].max() <= 0 or xy[:, 1].min() >= h:
            return "outside_image"
    return None


class DotaDataset(Dataset):
    """DOTA images and oriented objects as samples in the gghl format (see ``gghl.data.collate``).

    Args:
        root: dataset root holding ``<split>/images`` and ``<split>/labelTxt``.
        split: sub-folder name (``"train"``, ``"val"``, ``"test"``, ``"train_split_800"``...); ``""``
            means ``root`` itself has ``images``/``labelTxt``.
        class_names: class list; default ``dota_classes(version)``.
        version: DOTA version for the default class list (``"1.0"``, ``"1.5"``, ``"2.0"``).
        on_error: ``"raise"`` or ``"skip"`` (see module docstring).
        check_images: decode every image once at construction (slow on full DOTA; catches corrupt files).
        transform: ``sample -> sample`` applied in ``__getitem__`` (``load_raw`` skips it).
        image_exts: image extensions tried in order.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        class_names: Sequence[str] | None = None,
        version: str = "1.0",
        on_error: str = "raise",
        check_images: bool = False,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        image_exts: Sequence[str] = IMAGE_EXTENSIONS,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.root = Path(root)
        self.split = split
        self.class_names = list(class_names) if class_names is not None else dota_classes(version)
        self.num_classes = len(self.class_names)
        self.on_error = on_error
        self.transform = transform
        self.image_exts = tuple(image_exts)
        self.skipped: Counter[str] = Counter()
        self.records: list[DotaRecord] = self._index(check_images)
        if self.skipped:
            log.warning("DOTA %s: skipped %s", self.root / self.split, dict(self.skipped))

    # ------------------------------------------------------------------ indexing
    def _fail(self, kind: str, err: Exception) -> None:
        if self.on_error == "raise":
            raise err
        self.skipped[kind] += 1
        log.debug("skip (%s): %s", kind, err)

    def _index(self, check_images: bool) -> list[DotaRecord]:
        base = self.root / self.split if self.split else self.root
        images_dir, labels_dir = base / "images", base / "labelTxt"
        if not images_dir.is_dir():
            raise FileNotFoundError(
                f"{images_dir}: DOTA images folder not found (expected <root>/<split>/images)"
            )
        images, dup_images = index_files(images_dir, self.image_exts)
        for stem, paths in sorted(dup_images.items()):
            self._fail(
                "ambiguous_image",
                ValueError(
                    f"{images_dir}: several images for {stem!r}: {[p.name for p in paths]} (one image per label file)"
                ),
            )
        looked_for = f"image files ({describe_exts(self.image_exts)}) in {images_dir}"
        class_to_idx = {c: i for i, c in enumerate(self.class_names)}
        records: list[DotaRecord] = []
        if not labels_dir.is_dir():
            if not images and not dup_images:
                raise FileNotFoundError(
                    f"{base}: empty DOTA split: no {looked_for}, and no {labels_dir} folder"
                )
            log.info("%s missing: indexing images without annotations", labels_dir)
            for stem, path in sorted(images.items()):
                records.append(self._record(stem, path, None, [], [], [], None, None))
        else:
            labels, dup_labels = index_files(labels_dir, (".txt",))
            if not images and not labels and not dup_images and not dup_labels:
                raise FileNotFoundError(
                    f"{base}: empty DOTA split: no {looked_for} and no label files (*.txt, any case) in {labels_dir}"
                )
            for stem, paths in sorted(dup_labels.items()):
                self._fail(
                    "ambiguous_label",
                    ValueError(f"{labels_dir}: several label files for {stem!r}: {[p.name for p in paths]}"),
                )
            for stem, label_path in sorted(labels.items()):
                image_path = images.get(stem)
                if image_path is None:
                    if stem not in dup_images:  # (ambiguous ones are already reported)
                        self._fail(
                            "missing_image",
                            FileNotFoundError(
                                f"{label_path}: no image {stem}{{{','.join(self.image_exts)}}} (any case) in {images_dir}"
                            ),
                        )
                    continue
                rec = self._parse(label_path, image_path, class_to_idx)
                if rec is not None:
                    records.append(rec)
            for stem, p in sorted(images.items()):
                if stem not in labels and stem not in dup_labels:
                    self._fail(
                        "missing_label",
                        FileNotFoundError(f"{p}: no label file {labels_dir / (stem + '.txt')}"),
                    )
        if check_images:
            kept = []
            for rec in records:
                try:
                    verify_image(rec.image_path)
                    kept.append(rec)
                except ImageReadError as e:
                    self._fail("corrupt_image", e)
            records = kept
        if not records:  # only reachable in skip mode: raise mode has raised on the first problem
            raise ValueError(
                f"{base}: no usable image left (looked for {looked_for}); skipped: {dict(self.skipped)}"
            )
        return records

    def _parse(self, label_path: Path, image_path: Path, class_to_idx: dict[str, int]) -> DotaRecord | None:
        try:
            parsed = read_dota_labels(label_path, on_error=self.on_error)
        except DotaFormatError as e:  # skip mode only gets here for a whole-file problem (not UTF-8)
            self._fail("unreadable_label", e)
            return None
        if parsed.skipped:
            self.skipped["malformed_line"] += len(parsed.skipped)
        polys, labels, diff = [], [], []
        size: list[tuple[int, int] | None] = []

        def size_of() -> tuple[int, int] | None:  # image header read once, only for files with objects
            if not size:
                try:
                    size.append(read_image_size(image_path))
                except ImageReadError:  # a corrupt image is reported when loaded (or by check_images)
                    size.append(None)
            return size[0]

        for obj in parsed.objects:
            idx = class_to_idx.get(obj.class_name)
            if idx is None:
                self._fail(
                    "unknown_class",
                    DotaFormatError(
                        label_path,
                        obj.line_no,
                        f"unknown class {obj.class_name!r}; known classes: {self.class_names}",
                    ),
                )
                continue
            problem = _geometry_problem(obj.polygon, size_of())
            if problem is not None:  # not a format error: counted and logged, never raised
                self.skipped[problem] += 1
                log.debug("skip (%s): %s:%d", problem, label_path, obj.line_no)
                continue
            polys.append(obj.polygon)
            labels.append(idx)
            diff.append(obj.difficult != 0)
        return self._record(
            label_path.stem, image_path, label_path, polys, labels, diff, parsed.image_source, parsed.gsd
        )

    @staticmethod
    def _record(
        stem: str,
        image_path: Path,
        label_path: Path | None,
        polys: list,
        labels: list,
        diff: list,
        image_source: str | None,
        gsd: float | None,
    ) -> DotaRecord:
        return DotaRecord(
            image_id=stem,
            image_path=image_path,
            label_path=label_path,
            polygons=np.asarray(polys, dtype=np.float64).reshape(-1, 8),
            labels=np.asarray(labels, dtype=np.int64).reshape(-1),
            difficult=np.asarray(diff, dtype=bool).reshape(-1),
            image_source=image_source,
            gsd=gsd,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.records)

    def load_raw(self, index: int) -> dict[str, Any]:
        """Untransformed sample (``affine`` identity, ``image`` float32 [3,H0,W0] in [0,1])."""
        rec = self.records[index]
        image = read_image(rec.image_path)
        return make_sample(
            image=image,
            polygons=rec.polygons,
            labels=rec.labels,
            difficult=rec.difficult,
            image_id=rec.image_id,
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``transform(load_raw(index))`` (for letterboxed/augmented views see ``DetectionSplit``)."""
        sample = self.load_raw(int(index))
        return sample if self.transform is None else self.transform(sample)

    def num_objects(self) -> torch.Tensor:
        """``int64 [C]`` object count per class over the whole split (difficult included)."""
        counts = torch.zeros(self.num_classes, dtype=torch.int64)
        for rec in self.records:
            counts += torch.bincount(torch.from_numpy(rec.labels), minlength=self.num_classes)
        return counts
