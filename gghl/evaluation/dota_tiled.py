"""Evaluate an oriented detector on a split of images with the DOTA protocol: the pipeline of ``gghl-eval``.

Every image of the split (a raw dataset: ``len`` and ``load_raw(i)`` -> sample in original pixels, e.g.
``DotaDataset``, ``SyntheticOrientedDataset``) goes through :func:`gghl.models.large_image.detect_image` - the
code path of ``gghl-predict``, so both give the same detections for the same image, model and settings -
then the detections are written as DOTA Task1 files (``Task1/Task1_<class>.txt``, optionally a submission
zip) and scored:

* a DOTA folder with ``labelTxt`` (``DotaDataset``): from the written Task1 files and the label files with
  :func:`gghl.evaluation.dota.evaluate_task1` (the devkit-equal reader is the judge);
* any other dataset with objects (synthetic): from the samples' polygons with
  :func:`gghl.evaluation.dota.evaluate_polygons` (what the training's test step computes);
* a DOTA folder without labels (the test set): no score, files only.

Image names are checked (:mod:`gghl.data.output_names`) before any inference. Unreadable images are
skipped, counted and listed; the others are written and scored (the mAP is over the images read).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gghl.data.image_io import ImageReadError
from gghl.data.output_names import check_output_names
from gghl.data.tiling import Detections
from gghl.models.large_image import TileSettings, detect_image


def dataset_image_ids(raw: Any) -> tuple[list[str], list[str]] | None:
    """``(image ids, their source files or ids)`` of a raw dataset without loading images, or ``None`` when
    the dataset type does not expose them (then ids are checked as the samples are loaded)."""
    records = getattr(raw, "records", None)
    if records is not None and all(hasattr(r, "image_id") for r in records):
        return [str(r.image_id) for r in records], [
            str(getattr(r, "image_path", r.image_id)) for r in records
        ]
    image_id = getattr(raw, "image_id", None)
    if callable(image_id):
        ids = [str(image_id(i)) for i in range(len(raw))]
        return ids, ids
    return None


def dota_label_dir(raw: Any) -> Path | None:
    """The ``labelTxt`` folder of a ``DotaDataset`` whose images all have label files, else ``None``."""
    records = getattr(raw, "records", None)
    if not records or any(getattr(r, "label_path", None) is None for r in records):
        return None
    dirs = {Path(r.label_path).parent for r in records}
    return dirs.pop() if len(dirs) == 1 else None


def evaluate_oriented(
    model: Any,
    raw: Any,
    out_dir: str | Path,
    class_names: Sequence[str],
    settings: TileSettings | None = None,
    use_07_metric: bool = True,
    difficult: str = "ignore",
    zip_results: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Detect on every image of ``raw``, write Task1 files under ``out_dir`` and score them (module docstring).

    Args:
        model: ``img_size`` + ``predict_batch(images [B,3,S,S] in [0,1]) -> [{"polygons", "scores",
            "labels"}]`` in input pixels (``gghl.export.CheckpointModel``, ``ExportedModel``).
        raw: the split's raw dataset (original pixels; ``load_raw`` may raise ``ImageReadError``).
        class_names: the model's classes (label ``i`` -> ``class_names[i]``), also the Task1 file names.
        settings: tiling (:class:`TileSettings`; default: windows of the model input side).
        use_07_metric, difficult: DOTA protocol (official v1.0: VOC07 11-point, difficult ignored).

    Returns:
        ``{"images" (evaluated), "unreadable": [{"file", "reason"}], "seconds", "images_per_s", "task1_dir",
        "scored_from"}`` plus, when ground truth exists, ``"mAP"``, ``"AP"`` per class, ``"protocol"``,
        ``"num_gt"`` and the stricter ``"mAP50:95"`` / ``"mAP75"`` (DOTA matching at IoU 0.50:0.05:0.95, the
        same AP variant; ``evaluate_polygons_coco_style``); with ``use_07_metric`` also ``"all_point"``:
        ``{"mAP50", "mAP50:95", "mAP75"}`` with the all-point AP.

    Raises:
        ImageNameError: an image id the output-name rule refuses (before any inference).
        ValueError: the split has no images.
    """
    from tqdm import tqdm

    from gghl.data.dota_merge import write_task1
    from gghl.evaluation.dota import evaluate_polygons, evaluate_polygons_coco_style, evaluate_task1

    if len(raw) == 0:
        raise ValueError(f"{type(raw).__name__}: the split has no images to evaluate")
    known = dataset_image_ids(raw)
    sources = known[1] if known is not None else None
    if known is not None:
        check_output_names(*known)
    out = Path(out_dir)
    dets: dict[str, Detections] = {}
    gts: dict[str, dict[str, Any]] = {}
    unreadable: list[dict[str, str]] = []
    start = time.time()
    for i in tqdm(range(len(raw)), desc="eval (DOTA protocol, tiled)", unit="img", disable=not progress):
        try:
            sample = raw.load_raw(i)
        except ImageReadError as err:  # counted and listed; the other images are still evaluated
            unreadable.append({"file": err.path or str(sources[i] if sources else i), "reason": err.reason})
            continue
        name = str(sample["image_id"])
        if known is None:
            check_output_names([name])
        dets[name] = detect_image(model, sample["image"], settings, name)
        gts[name] = {
            "polygons": sample["polygons"],
            "labels": sample["labels"],
            "difficult": sample["difficult"],
        }
    elapsed = time.time() - start
    task1_dir = out / "Task1"
    write_task1(dets, task1_dir, list(class_names), zip_path=out / "Task1.zip" if zip_results else None)
    result: dict[str, Any] = {
        "images": len(dets),
        "unreadable": unreadable,
        "seconds": elapsed,
        "images_per_s": len(dets) / max(elapsed, 1e-9),
        "task1_dir": str(task1_dir),
    }
    if not dets:
        return result
    label_dir = dota_label_dir(raw)
    if label_dir is not None and label_dir.is_dir():
        metrics = evaluate_task1(
            label_dir,
            task1_dir,
            sorted(dets),
            list(class_names),
            use_07_metric=use_07_metric,
            difficult=difficult,
        )
        result["scored_from"] = f"{task1_dir} vs {label_dir}"
    elif getattr(raw, "records", None) is not None:
        return result  # a DOTA folder without labelTxt (the test set): submission files only
    det_arrays = {k: {"polygons": d.polys, "scores": d.scores, "labels": d.labels} for k, d in dets.items()}
    if label_dir is None or not label_dir.is_dir():
        metrics = evaluate_polygons(
            gts, det_arrays, list(class_names), use_07_metric=use_07_metric, difficult=difficult
        )
        result["scored_from"] = "in-memory ground truth of the split"
    result.update({k: metrics[k] for k in ("mAP", "AP", "protocol", "num_gt") if k in metrics})
    # stricter localisation, same matching rule and AP variant (not part of the official protocol)
    # with VOC07 also the all-point (VOC 2010+, COCO-like) area, as other toolkits report it: one matching
    strict = evaluate_polygons_coco_style(
        gts,
        det_arrays,
        list(class_names),
        use_07_metric=use_07_metric,
        difficult=difficult,
        also_all_point=use_07_metric,
    )
    result["mAP50:95"] = strict["mAP"]
    result["mAP75"] = strict["mAP75"]
    if use_07_metric:
        area = strict["all_point"]
        result["all_point"] = {k: area[k] for k in ("mAP50", "mAP75")} | {"mAP50:95": area["mAP"]}
    return result


__all__ = ["dataset_image_ids", "dota_label_dir", "evaluate_oriented"]
