"""COCO box evaluation: the 12 standard stats by name, with pycocotools or faster-coco-eval.

``evaluate(gt_json, detections)`` returns ``{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10",
"AR100", "ARs", "ARm", "ARl"}`` in pycocotools' ``stats`` order. faster-coco-eval is a C++
re-implementation of the same algorithm (``backend="auto"`` picks it when installed); the test
suite checks that both backends give the same 12 numbers.

Definitions where pycocotools has none or crashes:
  * an empty detection list: every stat is 0.0 (pycocotools' ``loadRes([])`` raises IndexError);
  * detections on an image id absent from the GT: ``ValueError`` naming the id (pycocotools asserts);
  * malformed ground truth (missing fields, duplicate ids, dangling references, non-finite bbox/area):
    ``CocoFormatError`` naming the file and json path; malformed results (not a list, missing keys,
    non-finite bbox/score, unknown category): ``CocoResultError``; both are ``ValueError``s;
  * a stat pycocotools reports as -1 (no GT in that area range) is passed through as -1.0.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

from gghl.data.coco_json import CocoFormatError, validate_coco

__all__ = ["STAT_NAMES", "CocoFormatError", "CocoResultError", "evaluate", "available_backends"]

#: pycocotools ``COCOeval.stats`` order for ``iouType="bbox"``.
STAT_NAMES: tuple[str, ...] = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)
_BACKENDS = ("auto", "pycocotools", "faster_coco_eval")


def available_backends() -> list[str]:
    """Installed backends, in ``"auto"`` preference order."""
    found = []
    for name in ("faster_coco_eval", "pycocotools"):
        try:
            __import__(name)
            found.append(name)
        except ImportError:
            pass
    return found


def _resolve(backend: str) -> str:
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    found = available_backends()
    if not found:
        raise ImportError("neither faster-coco-eval nor pycocotools is installed")
    return found[0]


def _load_json(x: str | os.PathLike | Mapping | Sequence, what: str) -> Any:
    if isinstance(x, (str, os.PathLike)):
        if not os.path.isfile(x):
            raise FileNotFoundError(f"{what} file not found: {x}")
        try:
            with open(x, encoding="utf-8") as f:
                return json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise CocoResultError(f"{x}: {what} file is not valid json ({type(e).__name__}: {e})") from e
    return x


class CocoResultError(ValueError):
    """A malformed COCO result list; the message names the source file (or ``<list>``) and the index."""


def _check_dets(
    dets: list[Any], image_ids: set[Any], cat_ids: set[Any] | None = None, source: str = "<list>"
) -> list[dict[str, Any]]:
    """Copy (the backends mutate results) and validate detections (:class:`CocoResultError`)."""
    out = []
    for i, d in enumerate(dets):
        where = f"{source}: detection {i}"
        if not isinstance(d, Mapping):
            raise CocoResultError(f"{where} must be an object, got {type(d).__name__}")
        missing = {"image_id", "category_id", "bbox", "score"} - set(d)
        if missing:
            raise CocoResultError(f"{where} lacks {sorted(missing)}: {d}")
        box = d["bbox"]
        if not isinstance(box, Sequence) or isinstance(box, str) or len(box) != 4:
            raise CocoResultError(f"{where}: bbox must be [x, y, w, h], got {box!r}")
        if not all(_finite_number(v) for v in box):
            raise CocoResultError(f"{where}: bbox must hold 4 finite numbers, got {box!r}")
        if not _finite_number(d["score"]):
            raise CocoResultError(f"{where}: score must be a finite number, got {d['score']!r}")
        try:
            known = d["image_id"] in image_ids
        except TypeError:  # unhashable (list, dict)
            known = False
        if not known:
            raise CocoResultError(f"{where} has image_id {d['image_id']!r}, which is not in the ground truth")
        try:
            known = cat_ids is None or d["category_id"] in cat_ids
        except TypeError:
            known = False
        if not known:
            raise CocoResultError(
                f"{where} has category_id {d['category_id']!r}, which is not in the ground truth"
            )
        out.append({**d, "bbox": [float(v) for v in box], "score": float(d["score"])})
    return out


def _finite_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _run_pycocotools(
    gt: dict[str, Any], dets: list[dict[str, Any]], iou_type: str, img_ids: list | None
) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and the table
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        if img_ids is not None:
            ev.params.imgIds = img_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(s) for s in ev.stats[:12]]


def _run_faster(
    gt: dict[str, Any], dets: list[dict[str, Any]], iou_type: str, img_ids: list | None
) -> list[float]:
    from faster_coco_eval import COCO, COCOeval_faster

    coco_gt = COCO(gt)
    coco_dt = coco_gt.loadRes(dets)
    ev = COCOeval_faster(coco_gt, coco_dt, iou_type, print_function=lambda *a, **k: None)
    if img_ids is not None:
        ev.params.imgIds = img_ids
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return [float(s) for s in ev.stats[:12]]


def evaluate(
    gt_json: str | os.PathLike | Mapping[str, Any],
    detections: str | os.PathLike | Sequence[Mapping[str, Any]],
    backend: str = "auto",
    iou_type: str = "bbox",
    image_ids: Sequence[Any] | None = None,
) -> dict[str, float]:
    """COCO evaluation of box detections.

    Args:
        gt_json: COCO ground-truth json path or the loaded dict (``images``, ``annotations`` with
            ``bbox``/``area``/``iscrowd``, ``categories``). Not modified.
        detections: a json path or a list of COCO result dicts ``{"image_id", "category_id",
            "bbox": [x, y, w, h] (pixels, top-left + size), "score"}``. Not modified.
        backend: ``"pycocotools"``, ``"faster_coco_eval"`` or ``"auto"`` (faster-coco-eval when
            installed, else pycocotools).
        iou_type: ``"bbox"`` (the 12-stat summary is defined for boxes and masks).
        image_ids: evaluate only these images (``COCOeval.params.imgIds``); default all GT images.

    Returns:
        ``{name: float}`` for the 12 names of :data:`STAT_NAMES`, in that order.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    name = _resolve(backend)
    gt_src = str(gt_json) if isinstance(gt_json, (str, os.PathLike)) else "<ground-truth dict>"
    gt = validate_coco(
        _load_json(gt_json, "ground-truth"), gt_src, require_file_name=False, require_area=True
    )
    gt = {**gt, "annotations": [dict(a) for a in gt.get("annotations", [])]}
    gt.setdefault("info", {})  # some pycocotools versions copy it in loadRes
    det_src = str(detections) if isinstance(detections, (str, os.PathLike)) else "<list>"
    dets = _load_json(detections, "detections")
    if not isinstance(dets, list):
        raise CocoResultError(
            f"{det_src}: detections must be a list of result dicts, got {type(dets).__name__}"
        )
    known = {img["id"] for img in gt.get("images", [])}
    dets = _check_dets(dets, known, {c["id"] for c in gt.get("categories", [])}, det_src)
    img_ids = None
    if image_ids is not None:
        img_ids = sorted(set(image_ids))
        unknown = [i for i in img_ids if i not in known]
        if unknown:
            raise ValueError(f"image_ids {unknown[:5]} are not in the ground truth")
        keep = set(img_ids)
        dets = [d for d in dets if d["image_id"] in keep]
    if not dets:
        return dict.fromkeys(STAT_NAMES, 0.0)
    run = _run_faster if name == "faster_coco_eval" else _run_pycocotools
    return dict(zip(STAT_NAMES, run(gt, dets, iou_type, img_ids)))
