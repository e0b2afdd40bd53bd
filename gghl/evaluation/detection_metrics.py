"""torchmetrics metric objects for Lightning validation: ``DOTAMetric`` and ``COCOMetric``.

Both accumulate per-image records and evaluate once in ``compute`` with the file-free evaluators
(:func:`gghl.evaluation.dota.evaluate_polygons`, :func:`gghl.evaluation.coco.evaluate`).

DDP: every state is a list state with ``dist_reduce_fx="cat"``, so torchmetrics all-gathers them
(padding uneven sizes) before ``compute``. Rows of all images are stored flat, plus one meta row per
image ``(image key, n_gt, n_det)``; all states are gathered in the same rank order, so ``compute``
cuts the flat rows back into images with the counts. ``DistributedSampler`` pads the last batch by
repeating samples, so the same image can arrive from two ranks: records are **deduplicated by image
id, keeping the first occurrence** (rank order, then update order). Nothing is double counted and
no image is lost. Images are then evaluated in image-key order, so score ties are broken the same
way whatever the number of ranks or the batch layout (ties: image key, then row order).

Image ids: ints are used as they are; strings (the gghl sample format uses ``str`` ids) are mapped
to a stable 63-bit key (BLAKE2b), since tensors cannot hold strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from gghl.evaluation.coco import evaluate
from gghl.evaluation.dota import COCO_IOU_THRS, evaluate_polygons, evaluate_polygons_coco_style

__all__ = ["DOTAMetric", "COCOMetric", "image_key"]


def image_key(image_id: Any) -> int:
    """Stable int64 key of an image id: ints (and 0-d tensors) as is, strings hashed (BLAKE2b, 63 bit)."""
    if isinstance(image_id, Tensor):
        image_id = image_id.item()
    if isinstance(image_id, (int, np.integer)):
        return int(image_id)
    if isinstance(image_id, str):
        return int.from_bytes(hashlib.blake2b(image_id.encode(), digest_size=8).digest(), "little") >> 1
    raise TypeError(f"image_id must be int or str, got {type(image_id).__name__}")


def _t(x: Any, dtype: torch.dtype, tail: tuple[int, ...] = ()) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x.detach(), dtype=dtype).reshape(
        -1, *tail
    )


def _polygons(rec: Mapping[str, Any]) -> Tensor:
    """``[N, 8]`` float64 polygons from ``"polygons"``, or from ``"obb"`` ``[N, 5]`` (cx, cy, w, h, a radians)."""
    if rec.get("polygons") is not None:
        return _t(rec["polygons"], torch.float64, (8,))
    if rec.get("obb") is not None:
        from gghl.structures import obb_to_poly

        return obb_to_poly(_t(rec["obb"], torch.float64, (5,)))
    raise KeyError("a prediction/target needs 'polygons' [N, 8] or 'obb' [N, 5]")


def _cat(state: Any, dtype: torch.dtype, tail: tuple[int, ...] = ()) -> np.ndarray:
    """A list state (local) or an already gathered tensor -> numpy."""
    if isinstance(state, list) and len(state) == 0:
        return np.zeros((0, *tail), dtype=torch.empty(0, dtype=dtype).numpy().dtype)
    return dim_zero_cat(state).to(dtype).cpu().numpy().reshape(-1, *tail)


def _segments(meta: np.ndarray) -> list[tuple[int, slice, slice]]:
    """Meta rows ``(key, n_gt, n_det)`` -> ``(key, gt_rows, det_rows)`` of first occurrences only,
    sorted by key: the evaluation (and its score tie-break order) then does not depend on how the
    images were spread over ranks and batches."""
    gt_end, det_end = np.cumsum(meta[:, 1]), np.cumsum(meta[:, 2])
    out, seen = [], set()
    for i, (key, n_gt, n_det) in enumerate(meta.tolist()):
        if key in seen:
            continue
        seen.add(key)
        out.append((key, slice(gt_end[i] - n_gt, gt_end[i]), slice(det_end[i] - n_det, det_end[i])))
    return sorted(out, key=lambda seg: seg[0])


class DOTAMetric(Metric):
    """DOTA Task1 mAP over a validation epoch (official v1.0 protocol by default).

    ``update(preds, targets)`` takes lists (one entry per image) of dicts, in one common pixel frame:
      * preds: ``{"polygons": [D, 8], "scores": [D], "labels": [D] int}`` (or ``"obb"`` ``[D, 5]``
        ``(cx, cy, w, h, a)`` radians instead of ``"polygons"``);
      * targets: ``{"polygons": [G, 8], "labels": [G] int, "difficult": [G] bool (optional),
        "image_id": int | str}`` (the gghl sample format).

    ``compute()`` returns ``{"mAP": Tensor, "AP/<class>": Tensor, ...}`` (plus ``"mAP50"``/``"mAP75"``
    when ``coco_style``); the full result dict of the evaluator is kept in ``self.last_result``.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(
        self,
        classes: Sequence[str],
        iou_thr: float = 0.5,
        use_07_metric: bool = True,
        difficult: str = "ignore",
        coco_style: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.classes = list(classes)
        self.iou_thr, self.use_07_metric, self.difficult = iou_thr, use_07_metric, difficult
        self.coco_style = coco_style
        self.last_result: dict[str, Any] = {}
        for name in (
            "meta",
            "gt_polys",
            "gt_labels",
            "gt_difficult",
            "det_polys",
            "det_scores",
            "det_labels",
        ):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, preds: Sequence[Mapping[str, Any]], targets: Sequence[Mapping[str, Any]]) -> None:
        """Add one batch; ``preds[i]`` and ``targets[i]`` describe the same image."""
        if len(preds) != len(targets):
            raise ValueError(f"got {len(preds)} predictions for {len(targets)} targets")
        for p, t in zip(preds, targets):
            gp, gl = _polygons(t), _t(t["labels"], torch.int64)
            gd = (
                _t(t["difficult"], torch.uint8)
                if t.get("difficult") is not None
                else torch.zeros(len(gl), dtype=torch.uint8)
            )
            dp, ds, dl = (
                _polygons(p),
                _t(p["scores"], torch.float64),
                _t(p["labels"], torch.int64),
            )
            if not (len(gp) == len(gl) == len(gd) and len(dp) == len(ds) == len(dl)):
                raise ValueError(f"image {t['image_id']!r}: inconsistent row counts in preds or targets")
            self.meta.append(
                torch.tensor(
                    [[image_key(t["image_id"]), len(gl), len(dl)]], dtype=torch.int64, device=self.device
                )
            )
            for name, v in (("gt_polys", gp), ("gt_labels", gl), ("gt_difficult", gd),
                            ("det_polys", dp), ("det_scores", ds), ("det_labels", dl)):  # fmt: skip
                getattr(self, name).append(v.to(self.device))

    def compute(self) -> dict[str, Tensor]:
        """Deduplicate images by id, evaluate, return scalar tensors (see class doc)."""
        meta = _cat(self.meta, torch.int64, (3,))
        gp, gl = _cat(self.gt_polys, torch.float64, (8,)), _cat(self.gt_labels, torch.int64)
        gd = _cat(self.gt_difficult, torch.uint8).astype(bool)
        dp, ds, dl = (
            _cat(self.det_polys, torch.float64, (8,)),
            _cat(self.det_scores, torch.float64),
            _cat(self.det_labels, torch.int64),
        )
        gts, dets = {}, {}
        for key, g, d in _segments(meta):
            gts[key] = {"polygons": gp[g], "labels": gl[g], "difficult": gd[g]}
            dets[key] = {"polygons": dp[d], "scores": ds[d], "labels": dl[d]}
        kw = dict(use_07_metric=self.use_07_metric, difficult=self.difficult)
        if self.coco_style:
            res = evaluate_polygons_coco_style(gts, dets, self.classes, COCO_IOU_THRS, **kw)
        else:
            res = evaluate_polygons(gts, dets, self.classes, iou_thr=self.iou_thr, **kw)
        self.last_result = res
        out = {"mAP": torch.tensor(res["mAP"], dtype=torch.float64)}
        out.update({k: torch.tensor(res[k], dtype=torch.float64) for k in ("mAP50", "mAP75") if k in res})
        out.update({f"AP/{c}": torch.tensor(v, dtype=torch.float64) for c, v in res["AP"].items()})
        return out


class COCOMetric(Metric):
    """COCO box stats over a validation epoch, via :func:`gghl.evaluation.coco.evaluate`.

    ``update(preds, targets)``: lists (one per image) of dicts.
      * preds: ``{"boxes": [D, 4] xyxy pixels, "scores": [D], "labels": [D]}``, where labels are
        contiguous indices mapped through ``label_to_cat_id`` (or category ids when it is None);
      * targets: ``{"image_id"}`` and, when no ``gt_json`` is given (ground truth from the batches,
        no file), ``"boxes"`` (xyxy), ``"labels"``, optional ``"iscrowd"``, ``"area"`` to build it from.
    Image ids: with ``gt_json`` they must be the json's ids (int, or a decimal string as the COCO
    loader gives them); with ground truth from the batches any id works (:func:`image_key`: strings
    such as the synthetic set's ``"<seed>_<idx>"`` are hashed), since the GT is built under the same key.
    Only the images seen (after dedup by image id) are evaluated, so a partial epoch
    (``limit_val_batches``) is scored on its own images.

    ``compute()`` returns ``{stat: Tensor}`` for the 12 names of ``STAT_NAMES``.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(
        self,
        gt_json: Any = None,
        backend: str = "auto",
        label_to_cat_id: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gt_json, self.backend = gt_json, backend
        self.label_to_cat_id = None if label_to_cat_id is None else [int(c) for c in label_to_cat_id]
        for name in (
            "meta",
            "det_boxes",
            "det_scores",
            "det_labels",
            "gt_boxes",
            "gt_labels",
            "gt_crowd",
            "gt_area",
        ):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, preds: Sequence[Mapping[str, Any]], targets: Sequence[Mapping[str, Any]]) -> None:
        """Add one batch; ``preds[i]`` and ``targets[i]`` describe the same image."""
        if len(preds) != len(targets):
            raise ValueError(f"got {len(preds)} predictions for {len(targets)} targets")
        for p, t in zip(preds, targets):
            img = self._image_id(t["image_id"])
            db, ds, dl = (
                _t(p["boxes"], torch.float64, (4,)),
                _t(p["scores"], torch.float64),
                _t(p["labels"], torch.int64),
            )
            has_gt = self.gt_json is None
            gb = _t(t["boxes"], torch.float64, (4,)) if has_gt else torch.zeros(0, 4, dtype=torch.float64)
            gl = _t(t["labels"], torch.int64) if has_gt else torch.zeros(0, dtype=torch.int64)
            gc = (
                _t(t["iscrowd"], torch.uint8)
                if has_gt and t.get("iscrowd") is not None
                else torch.zeros(len(gl), dtype=torch.uint8)
            )
            ga = (_t(t["area"], torch.float64) if has_gt and t.get("area") is not None
                  else (gb[:, 2] - gb[:, 0]) * (gb[:, 3] - gb[:, 1]))  # fmt: skip
            if not (len(db) == len(ds) == len(dl) and len(gb) == len(gl) == len(gc) == len(ga)):
                raise ValueError(f"image {img}: inconsistent row counts in preds or targets")
            self.meta.append(torch.tensor([[img, len(gl), len(dl)]], dtype=torch.int64, device=self.device))
            for name, v in (("det_boxes", db), ("det_scores", ds), ("det_labels", dl),
                            ("gt_boxes", gb), ("gt_labels", gl), ("gt_crowd", gc), ("gt_area", ga)):  # fmt: skip
                getattr(self, name).append(v.to(self.device))

    def _image_id(self, image_id: Any) -> int:
        """The json's own id with ``gt_json``; else the stable :func:`image_key` (any int or str id)."""
        if self.gt_json is None:
            return image_key(image_id)
        return int(image_id.item() if isinstance(image_id, Tensor) else image_id)

    def _cat_id(self, label: int) -> int:
        return self.label_to_cat_id[label] if self.label_to_cat_id is not None else int(label)

    def compute(self) -> dict[str, Tensor]:
        """Deduplicate images by id, evaluate, return the 12 stats as scalar tensors."""
        meta = _cat(self.meta, torch.int64, (3,))
        db, ds, dl = (
            _cat(self.det_boxes, torch.float64, (4,)),
            _cat(self.det_scores, torch.float64),
            _cat(self.det_labels, torch.int64),
        )
        gb, gl = _cat(self.gt_boxes, torch.float64, (4,)), _cat(self.gt_labels, torch.int64)
        gc, ga = _cat(self.gt_crowd, torch.uint8), _cat(self.gt_area, torch.float64)
        dets, anns, ids = [], [], []
        for img, g, d in _segments(meta):
            ids.append(img)
            for (x0, y0, x1, y1), s, lab in zip(db[d].tolist(), ds[d].tolist(), dl[d].tolist()):
                dets.append(
                    {
                        "image_id": img,
                        "category_id": self._cat_id(lab),
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "score": s,
                    }
                )
            for (x0, y0, x1, y1), lab, c, a in zip(
                gb[g].tolist(), gl[g].tolist(), gc[g].tolist(), ga[g].tolist()
            ):
                anns.append({"id": len(anns) + 1, "image_id": img, "category_id": self._cat_id(lab),
                             "bbox": [x0, y0, x1 - x0, y1 - y0], "area": a, "iscrowd": int(c)})  # fmt: skip
        if self.gt_json is not None:
            gt = self.gt_json
        else:
            cats = sorted({a["category_id"] for a in anns} | {d["category_id"] for d in dets})
            gt = {
                "images": [{"id": i} for i in ids],
                "annotations": anns,
                "categories": [{"id": c} for c in cats],
            }
        stats = evaluate(gt, dets, backend=self.backend, image_ids=ids)
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in stats.items()}
