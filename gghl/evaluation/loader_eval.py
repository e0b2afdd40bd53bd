"""Evaluations of ``gghl-eval`` that run through a datamodule's (letterboxed / normalised) samples:

* :func:`evaluate_coco_split` - a detector on a COCO-format split: detections json with the original category
  ids and the 12 COCO stats (:func:`gghl.evaluation.coco.evaluate`); boxes are mapped back to file pixels with
  each sample's ``affine``.
* :func:`evaluate_top1` - a classifier: top-1 accuracy on a split of a classification datamodule.

Both read the split without augmentation, skip unreadable images (counted and listed in ``"unreadable"``)
and evaluate the others. The oriented-detector (DOTA protocol) path is :mod:`gghl.evaluation.dota_tiled`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from gghl.structures import poly_to_hbb

UNREADABLE = "__unreadable__"


class SkipUnreadable(Dataset):
    """``dataset[i]``, or a marker ``{UNREADABLE: file, "reason": ...}`` when the image cannot be read
    (``ImageReadError``/``OSError`` from the loader); :func:`skipping_collate` takes the markers out."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def _source(self, index: int) -> str:
        paths = getattr(self.dataset, "paths", None)  # classification file datasets
        if paths is not None:
            return str(paths[index])
        raw = getattr(self.dataset, "raw", None)  # DetectionSplit -> CocoDetection / DotaDataset
        if raw is not None and hasattr(raw, "image_path"):
            return str(raw.image_path(index))
        return f"sample {index}"

    def __getitem__(self, index: int) -> Any:
        try:
            return self.dataset[index]
        except OSError as err:  # gghl.data.image_io.ImageReadError is an OSError too
            return {
                UNREADABLE: str(getattr(err, "path", None) or self._source(index)),
                "reason": str(getattr(err, "reason", None) or err),
            }


def skipping_collate(collate: Callable[[list[Any]], Any]) -> Callable[[list[Any]], tuple[Any, list[dict]]]:
    """``collate`` of the readable samples (``None`` when none is) and the list of unreadable markers."""

    def fn(samples: list[Any]) -> tuple[Any, list[dict]]:
        bad = [s for s in samples if isinstance(s, dict) and UNREADABLE in s]
        good = [s for s in samples if not (isinstance(s, dict) and UNREADABLE in s)]
        return (collate(good) if good else None), [
            {"file": b[UNREADABLE], "reason": b["reason"]} for b in bad
        ]

    return fn


def _loader(dataset: Any, collate: Callable, batch_size: int, num_workers: int) -> DataLoader:
    return DataLoader(
        SkipUnreadable(dataset),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=skipping_collate(collate),
    )


@torch.no_grad()
def evaluate_coco_split(
    task: Any,
    raw: Any,
    img_size: int,
    ann_file: str | Path,
    out_dir: str | Path,
    batch_size: int = 8,
    num_workers: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """COCO evaluation of ``task`` on the raw COCO split ``raw`` (``CocoDetection``) letterboxed to ``img_size``.

    ``task.predict_batch(images, targets)`` must return boxes in file pixels (``"hbb"`` or ``"polygons"``).
    Writes ``out_dir/detections.json``. Returns ``{"images", "unreadable", "seconds", "images_per_s",
    "stats" (12 COCO stats), "detections"}``.
    """
    from tqdm import tqdm

    from gghl.data.collate import detection_collate
    from gghl.data.sample_pipeline import DetectionSplit
    from gghl.evaluation.coco import evaluate

    split = DetectionSplit(raw, img_size, train=False)
    to_cat: Sequence[int] | None = getattr(raw, "contiguous_to_cat_id", None)
    results: list[dict[str, Any]] = []
    unreadable: list[dict[str, str]] = []
    n = 0
    start = time.time()
    for batch, bad in tqdm(
        _loader(split, detection_collate, batch_size, num_workers),
        desc="eval (COCO)",
        unit="batch",
        disable=not progress,
    ):
        unreadable += bad
        if batch is None:
            continue
        images, targets = batch
        for p, t in zip(task.predict_batch(images.to(device), targets), targets):
            n += 1
            boxes = p["hbb"] if "hbb" in p else poly_to_hbb(p["polygons"])
            for box, score, label in zip(boxes.tolist(), p["scores"].tolist(), p["labels"].tolist()):
                results.append(
                    {
                        "image_id": int(t["image_id"]),
                        "category_id": int(to_cat[label] if to_cat is not None else label),
                        "score": float(score),
                        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    }
                )
    elapsed = time.time() - start
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    det_path = out / "detections.json"
    det_path.write_text(json.dumps(results))
    if unreadable:  # score only the images that were read (the others' GT would count as misses)
        ann_file = _subset_annotations(
            ann_file, _read_ids(raw, unreadable), out / "annotations_evaluated.json"
        )
    stats = evaluate(ann_file, results)
    return {
        "images": n,
        "unreadable": unreadable,
        "seconds": elapsed,
        "images_per_s": n / max(elapsed, 1e-9),
        "stats": stats,
        "detections": str(det_path),
    }


def _read_ids(raw: Any, unreadable: list[dict[str, str]]) -> set[int]:
    """COCO ids of the images that were read (all ids minus those whose file was unreadable)."""
    bad = {u["file"] for u in unreadable}
    return {int(i) for k, i in enumerate(raw.image_ids) if str(raw.image_path(k)) not in bad}


def _subset_annotations(ann_file: str | Path, keep: set[int], out: Path) -> Path:
    data = json.loads(Path(ann_file).read_text(encoding="utf-8"))
    data["images"] = [im for im in data["images"] if int(im["id"]) in keep]
    data["annotations"] = [a for a in data.get("annotations", []) if int(a["image_id"]) in keep]
    out.write_text(json.dumps(data))
    return out


@torch.no_grad()
def evaluate_top1(
    net: Callable[[Tensor], Tensor],
    dataset: Any,
    batch_size: int = 64,
    num_workers: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Top-1 accuracy of ``net(images [B,3,S,S]) -> logits [B,C]`` on a classification dataset whose items
    are ``{"image", "label", ...}``. Returns ``{"images", "top1", "unreadable", "seconds", "images_per_s"}``."""
    from torch.utils.data import default_collate
    from tqdm import tqdm

    correct = n = 0
    unreadable: list[dict[str, str]] = []
    start = time.time()
    for batch, bad in tqdm(
        _loader(dataset, default_collate, batch_size, num_workers),
        desc="eval (top-1)",
        unit="batch",
        disable=not progress,
    ):
        unreadable += bad
        if batch is None:
            continue
        logits = net(batch["image"].to(device)).float()
        correct += int((logits.argmax(1).cpu() == batch["label"]).sum())
        n += int(batch["label"].numel())
    elapsed = time.time() - start
    return {
        "images": n,
        "top1": correct / max(n, 1),
        "unreadable": unreadable,
        "seconds": elapsed,
        "images_per_s": n / max(elapsed, 1e-9),
    }


__all__ = ["SkipUnreadable", "evaluate_coco_split", "evaluate_top1", "skipping_collate"]
