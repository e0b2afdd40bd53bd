"""COCO box AP of per-image detection records (pycocotools, in memory).

Used by ``QueryDetectionTask`` for ``AP`` / ``AP50``. Records carry string image ids (the synthetic set uses
``"<seed>_<idx>"``), so they are renumbered here and scored with the project's
``gghl.evaluation.coco.evaluate`` (pycocotools directly if that module is absent).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def records_to_coco(records: list[dict[str, Any]], num_classes: int) -> tuple[dict, list[dict]]:
    """Records (``gt_boxes``/``gt_labels``/``boxes``/``scores``/``labels`` xyxy, ``orig_size``) -> COCO gt dict
    and result list (xywh, category ids 1..C, image ids 1..len)."""
    images, anns, dets = [], [], []
    for i, r in enumerate(records, start=1):
        h, w = r["orig_size"]
        images.append({"id": i, "width": int(w), "height": int(h), "file_name": r["image_id"]})
        for box, lab in zip(
            np.asarray(r["gt_boxes"], dtype=np.float64).reshape(-1, 4), np.asarray(r["gt_labels"])
        ):
            bw, bh = box[2] - box[0], box[3] - box[1]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": int(lab) + 1,
                    "iscrowd": 0,
                    "bbox": [float(box[0]), float(box[1]), float(bw), float(bh)],
                    "area": float(bw * bh),
                }
            )
        boxes = np.asarray(r["boxes"], dtype=np.float64).reshape(-1, 4)
        for box, s, lab in zip(boxes, np.asarray(r["scores"]), np.asarray(r["labels"])):
            dets.append(
                {
                    "image_id": i,
                    "category_id": int(lab) + 1,
                    "score": float(s),
                    "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
                }
            )
    gt = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": c + 1, "name": str(c)} for c in range(num_classes)],
    }
    return gt, dets


def coco_ap(records: list[dict[str, Any]], num_classes: int, max_dets: int = 100) -> dict[str, float]:
    """The 12 COCO box stats by name (``AP`` = AP@[.5:.95], ``AP50``...); zeros when nothing to score."""
    gt, dets = records_to_coco(records, num_classes)
    if not gt["annotations"] or not dets:
        return dict.fromkeys(STAT_NAMES, 0.0)
    try:
        from gghl.evaluation.coco import evaluate
    except ImportError:  # pragma: no cover - only without the evaluation package
        return _pycocotools_stats(gt, dets, max_dets)
    return {k: float(max(v, 0.0)) for k, v in evaluate(gt, dets).items() if k in STAT_NAMES}


def _pycocotools_stats(gt: dict, dets: list[dict], max_dets: int) -> dict[str, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
        ev.params.maxDets = [1, 10, max_dets]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(max(v, 0.0)) for k, v in zip(STAT_NAMES, ev.stats)}
