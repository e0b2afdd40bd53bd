"""DOTA Task1 (oriented polygons) mAP: the official protocol by default, options clearly named.

Default = the official DOTA v1.0 devkit script (docs/evaluation.md#dota-task1): VOC07 11-point AP on
the devkit's own ``np.arange(0., 1.1, 0.1)`` grid, IoU strictly ``> 0.5``, argmax-only matching,
difficult GT ignored, mAP the plain mean over the given class list. Options: all-point AP, any IoU
threshold, difficult-as-normal (v1.5 script, mmrotate), COCO-style mAP over IoU 0.50:0.05:0.95. The
returned ``"protocol"`` string names every choice, so two numbers are never confused.

Where we define what the devkit leaves undefined (each also in the function docs):
  * ties in score: stable sort, score descending then input order (file line order / iteration order);
  * a class with no detections (empty or missing result file): AP = 0;
  * a class with no positives (``npos == 0``): AP = 0, still part of the mean; listed in
    ``"classes_without_gt"``;
  * detections on images outside the image set: error by default, else dropped or kept as FPs;
  * malformed lines: :class:`~gghl.data.dota_text.DotaFormatError` naming file and line;
  * nothing is dropped silently: a missing GT file, ``ann_dir`` or ``det_dir``, a ``det_dir`` with no
    result file for any class, an empty image set, and GT files whose objects are all of other classes
    are errors; GT of other classes and missing per-class result files are counted in the result
    (``"num_gt_other_classes"``, ``"missing_det_files"``) and printed by the command line.

Run ``gghl-dota-eval --help`` for the command line.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gghl.data.dota_text import DotaFormatError, read_imageset
from gghl.data.image_io import IMAGE_EXTENSIONS
from gghl.evaluation.dota_ap import average_precision
from gghl.evaluation.dota_io import parse_det_file, parse_gt_file
from gghl.evaluation.dota_match import DetArrays, GTArrays, PolyIoUFn, best_gt_per_detection, tp_fp_per_class

__all__ = [
    "COCO_IOU_THRS",
    "evaluate_polygons",
    "evaluate_polygons_coco_style",
    "evaluate_task1",
    "evaluate_task1_coco_style",
    "protocol_name",
]

#: COCO's IoU thresholds, computed as pycocotools does.
COCO_IOU_THRS: tuple[float, ...] = tuple(float(t) for t in np.linspace(0.5, 0.95, 10))
_DIFFICULT = ("ignore", "normal")
_UNKNOWN = ("error", "ignore", "fp")


def protocol_name(iou_thrs: Sequence[float], use_07_metric: bool, difficult: str) -> str:
    """E.g. ``"dota-task1/voc07-11pt/iou>0.5/difficult=ignore"`` (the official v1.0 protocol)."""
    ap = "voc07-11pt" if use_07_metric else "all-point"
    thr = f"iou>{iou_thrs[0]:g}" if len(iou_thrs) == 1 else "iou>0.50:0.05:0.95(mean)"
    if len(iou_thrs) > 1 and tuple(iou_thrs) != COCO_IOU_THRS:
        thr = "iou>{" + ",".join(f"{t:g}" for t in iou_thrs) + "}(mean)"
    return f"dota-task1/{ap}/{thr}/difficult={difficult}"


def _check(classes: Sequence[str], iou_thrs: Sequence[float], difficult: str, unknown_images: str) -> None:
    if len(classes) == 0 or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of unique names, got {list(classes)}")
    for t in iou_thrs:
        if not 0.0 <= t < 1.0:
            raise ValueError(f"iou_thr must be in [0, 1), got {t}")
    if difficult not in _DIFFICULT:
        raise ValueError(f"difficult must be one of {_DIFFICULT}, got {difficult!r}")
    if unknown_images not in _UNKNOWN:
        raise ValueError(f"unknown_images must be one of {_UNKNOWN}, got {unknown_images!r}")


def _evaluate_arrays(
    gt: GTArrays,
    det: DetArrays,
    num_images: int,
    classes: Sequence[str],
    iou_thrs: Sequence[float],
    use_07_metric: bool,
    difficult: str,
    iou_fn: PolyIoUFn | None,
    also_all_point: bool = False,
) -> dict[str, Any]:
    """Core: flat arrays -> result dict. ``det.image == -1`` rows are kept as FPs (no GT there).

    ``also_all_point``: add ``"all_point"`` (``"mAP"``, ``"AP"`` and the single-threshold means with the
    all-point AP) from the same matching, so a caller wanting both AP variants matches once.
    """
    ignore = difficult == "ignore"
    ovmax, jmax = best_gt_per_detection(gt, det, num_images, iou_fn, min_iou=min(iou_thrs))
    n_cls = len(classes)
    lab_gt = np.bincount(gt.label, minlength=n_cls)
    lab_diff = np.bincount(gt.label[gt.difficult], minlength=n_cls)
    npos = lab_gt - lab_diff if ignore else lab_gt
    ndet = np.bincount(det.label, minlength=n_cls)
    aps = np.zeros((len(iou_thrs), n_cls))
    aps_all_point = np.zeros((len(iou_thrs), n_cls))
    for c in range(n_cls):
        for k, thr in enumerate(iou_thrs):
            tp, fp = tp_fp_per_class(det, gt.difficult, ovmax, jmax, c, thr, ignore)
            aps[k, c] = average_precision(tp, fp, int(npos[c]), use_07_metric)
            if also_all_point and use_07_metric:
                aps_all_point[k, c] = average_precision(tp, fp, int(npos[c]), False)
    if not use_07_metric:  # the main table is already the all-point one
        aps_all_point = aps
    ap_cls = aps.mean(axis=0)
    out: dict[str, Any] = {
        "mAP": float(ap_cls.mean()),
        "AP": {name: float(a) for name, a in zip(classes, ap_cls)},
        "protocol": protocol_name(iou_thrs, use_07_metric, difficult),
        "official": tuple(iou_thrs) == (0.5,) and use_07_metric and ignore,
        "num_gt": {name: int(n) for name, n in zip(classes, npos)},
        "num_difficult": {name: int(n) for name, n in zip(classes, lab_diff)},
        "num_det": {name: int(n) for name, n in zip(classes, ndet)},
        "num_images": int(num_images),
        "iou_thr": float(iou_thrs[0]) if len(iou_thrs) == 1 else [float(t) for t in iou_thrs],
        "use_07_metric": bool(use_07_metric),
        "difficult": difficult,
        "classes_without_gt": [name for name, n in zip(classes, npos) if n == 0],
    }
    out.update(_threshold_means(aps, iou_thrs))
    if also_all_point:
        ap_cls_all = aps_all_point.mean(axis=0)
        out["all_point"] = {
            "mAP": float(ap_cls_all.mean()),
            "AP": {name: float(a) for name, a in zip(classes, ap_cls_all)},
            **_threshold_means(aps_all_point, iou_thrs),
        }
    return out


def _threshold_means(aps: np.ndarray, iou_thrs: Sequence[float]) -> dict[str, Any]:
    """``"mAP_per_iou"`` and ``"mAP50"`` / ``"mAP75"`` of an ``[iou_thr, class]`` AP table (several thresholds)."""
    if len(iou_thrs) < 2:
        return {}
    per_thr = aps.mean(axis=1)
    out: dict[str, Any] = {"mAP_per_iou": {f"{t:.2f}": float(m) for t, m in zip(iou_thrs, per_thr)}}
    for t, m in zip(iou_thrs, per_thr):
        if abs(t - 0.5) < 1e-9 or abs(t - 0.75) < 1e-9:
            out[f"mAP{round(t * 100)}"] = float(m)
    return out


def _np(x: Any, dtype: Any, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype).reshape((-1, *shape_tail))


def _flatten(
    gts: Mapping[Hashable, Mapping[str, Any]],
    dets: Mapping[Hashable, Mapping[str, Any]],
    n_cls: int,
    unknown_images: str,
) -> tuple[GTArrays, DetArrays, int, int]:
    index = {img: i for i, img in enumerate(gts)}
    g_img, g_lab, g_poly, g_diff = [], [], [], []
    for img, rec in gts.items():
        p = _np(rec["polygons"], np.float64, (8,))
        lab = _np(rec["labels"], np.int64)
        d = _np(rec["difficult"], bool) if rec.get("difficult") is not None else np.zeros(len(lab), bool)
        if not len(p) == len(lab) == len(d):
            raise ValueError(f"gts[{img!r}]: polygons/labels/difficult lengths differ")
        g_img.append(np.full(len(lab), index[img], np.int64))
        g_lab.append(lab), g_poly.append(p), g_diff.append(d)
    d_img, d_lab, d_score, d_poly = [], [], [], []
    unknown = 0
    for img, rec in dets.items():
        p = _np(rec["polygons"], np.float64, (8,))
        lab, s = _np(rec["labels"], np.int64), _np(rec["scores"], np.float64)
        if not len(p) == len(lab) == len(s):
            raise ValueError(f"dets[{img!r}]: polygons/labels/scores lengths differ")
        if img not in index:
            if unknown_images == "error" and len(s):
                raise KeyError(f"dets has image {img!r} which is not in gts (unknown_images='error')")
            unknown += len(s)
            if unknown_images == "ignore":
                continue
        d_img.append(np.full(len(s), index.get(img, -1), np.int64))
        d_lab.append(lab), d_score.append(s), d_poly.append(p)
    gt = _gt_arrays(g_img, g_lab, g_poly, g_diff)
    det = _det_arrays(d_img, d_lab, d_score, d_poly)
    for name, lab in (("gts", gt.label), ("dets", det.label)):
        if len(lab) and (lab.min() < 0 or lab.max() >= n_cls):
            raise ValueError(f"{name} has labels outside [0, {n_cls})")
    if np.isnan(det.score).any():
        raise ValueError("dets has NaN scores")
    return gt, det, len(index), unknown


def _gt_arrays(img: list, lab: list, poly: list, diff: list) -> GTArrays:
    if not img:
        return GTArrays(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 8)), np.zeros(0, bool))
    return GTArrays(np.concatenate(img), np.concatenate(lab), np.concatenate(poly), np.concatenate(diff))


def _det_arrays(img: list, lab: list, score: list, poly: list) -> DetArrays:
    if not img:
        return DetArrays(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 8)))
    return DetArrays(np.concatenate(img), np.concatenate(lab), np.concatenate(score), np.concatenate(poly))


def evaluate_polygons(
    gts: Mapping[Hashable, Mapping[str, Any]],
    dets: Mapping[Hashable, Mapping[str, Any]],
    classes: Sequence[str],
    iou_thr: float = 0.5,
    use_07_metric: bool = True,
    difficult: str = "ignore",
    unknown_images: str = "error",
    iou_fn: PolyIoUFn | None = None,
) -> dict[str, Any]:
    """DOTA Task1 mAP from in-memory arrays (what training metrics use; the file API calls the same core).

    Args:
        gts: image id -> ``{"polygons": [G, 8], "labels": [G] int (index into classes),
            "difficult": [G] bool (optional)}``. Its keys are the image set: list images without
            objects with empty arrays. Arrays may be numpy or torch.
        dets: image id -> ``{"polygons": [D, 8], "scores": [D], "labels": [D] int}``. Tie order =
            iteration order of images, then row order.
        classes: class names; mAP is the plain mean over all of them.
        iou_thr: a hit needs IoU strictly greater than this.
        use_07_metric: VOC07 11-point (devkit grid) if True, else all-point AP.
        difficult: ``"ignore"`` (official v1.0) or ``"normal"`` (v1.5 script, mmrotate).
        unknown_images: detections on images not in ``gts``: ``"error"``, ``"ignore"`` (dropped) or
            ``"fp"`` (counted as false positives); either way counted in ``"num_det_unknown_image"``.
        iou_fn: polygon IoU, default ``gghl.ops.poly_iou``.

    Returns:
        ``{"mAP", "AP": {class: AP}, "protocol", "official", "num_gt" (positives counted in recall),
        "num_difficult", "num_det", "num_images", "classes_without_gt", "num_det_unknown_image", ...}``.
    """
    _check(classes, [iou_thr], difficult, unknown_images)
    gt, det, n_img, unknown = _flatten(gts, dets, len(classes), unknown_images)
    out = _evaluate_arrays(gt, det, n_img, classes, [iou_thr], use_07_metric, difficult, iou_fn)
    out["num_det_unknown_image"] = unknown
    return out


def evaluate_polygons_coco_style(
    gts: Mapping[Hashable, Mapping[str, Any]],
    dets: Mapping[Hashable, Mapping[str, Any]],
    classes: Sequence[str],
    iou_thrs: Sequence[float] = COCO_IOU_THRS,
    use_07_metric: bool = False,
    difficult: str = "ignore",
    unknown_images: str = "error",
    iou_fn: PolyIoUFn | None = None,
    also_all_point: bool = False,
) -> dict[str, Any]:
    """mAP50:95 for oriented polygons: :func:`evaluate_polygons` averaged over ``iou_thrs``.

    AP variant: DOTA matching (argmax-only, IoU strictly > t, difficult per option) at every
    threshold, all-point VOC AP by default (``use_07_metric=True`` for mmrotate-style 11-point). This
    is *not* pycocotools' 101-point AP with its best-free-GT matching and 100-detection cap.
    ``"mAP"`` is the mean over thresholds and classes, ``"AP"`` per class is averaged over
    thresholds; ``"mAP_per_iou"``, ``"mAP50"``, ``"mAP75"`` give the single-threshold means.
    ``also_all_point``: the same keys with the all-point AP under ``"all_point"``, from the same matching.
    """
    _check(classes, iou_thrs, difficult, unknown_images)
    gt, det, n_img, unknown = _flatten(gts, dets, len(classes), unknown_images)
    out = _evaluate_arrays(
        gt, det, n_img, classes, list(iou_thrs), use_07_metric, difficult, iou_fn, also_all_point
    )
    out["num_det_unknown_image"] = unknown
    return out


def _gt_paths(ann_dir: Path, names: Sequence[str], ann_pattern: str) -> list[Path]:
    """GT file of every image (``ann_dir / ann_pattern.format(name)``, extension in any case, as the
    training loader finds them); all missing ones are reported together."""
    if not ann_dir.is_dir():
        raise FileNotFoundError(f"ground-truth folder not found: {ann_dir}")
    by_lower_suffix: dict[tuple[str, str], Path] | None = None
    paths, missing = [], []
    for name in names:
        p = ann_dir / ann_pattern.format(name)
        if not p.is_file():
            if by_lower_suffix is None:  # listed once, only when an exact name is missing
                by_lower_suffix = {(q.stem, q.suffix.lower()): q for q in ann_dir.iterdir() if q.is_file()}
            p = by_lower_suffix.get((p.stem, p.suffix.lower()), p)
            if not p.is_file():
                missing.append(name)
        paths.append(p)
    if missing:
        hint = ""
        if any(Path(n).suffix.lower() in IMAGE_EXTENSIONS for n in missing):
            hint = "; image set names are file stems without extension (P0001, not P0001.png)"
        first = ann_dir / ann_pattern.format(missing[0])
        raise FileNotFoundError(
            f"ground-truth file not found: {first} ({len(missing)} of the {len(names)} images in the image set "
            f"have none in {ann_dir}, e.g. {missing[:5]}){hint}"
        )
    return paths


def _det_paths(
    det_dir: Path, classes: Sequence[str], det_pattern: str
) -> tuple[list[Path | None], list[str]]:
    """Result file of every class (``None`` if missing) and the missing paths; an absent ``det_dir`` or one
    without a single result file is an error (it would score mAP 0 for a typo)."""
    if not det_dir.is_dir():
        raise FileNotFoundError(f"detection folder not found: {det_dir}")
    paths: list[Path | None] = []
    missing: list[str] = []
    for cname in classes:
        p = det_dir / det_pattern.format(cname)
        paths.append(p if p.is_file() else None)
        if not p.is_file():
            missing.append(str(p))
    if all(p is None for p in paths):
        present = sorted(q.name for q in det_dir.iterdir())[:10]
        raise FileNotFoundError(
            f"{det_dir}: no result file for any of the {len(classes)} classes (looked for "
            f"{det_pattern.format(classes[0])!r} ... {det_pattern.format(classes[-1])!r}); "
            f"the folder has {present or 'nothing'}"
        )
    return paths, missing


def _load_task1(
    ann_dir: str | os.PathLike,
    det_dir: str | os.PathLike,
    imageset: str | os.PathLike | Sequence[str],
    classes: Sequence[str],
    det_pattern: str,
    ann_pattern: str,
    unknown_images: str,
) -> tuple[GTArrays, DetArrays, int, dict[str, Any]]:
    names = read_imageset(imageset)
    index = {n: i for i, n in enumerate(names)}
    cls_index = {c: i for i, c in enumerate(classes)}
    det_paths, missing = _det_paths(Path(det_dir), classes, det_pattern)
    g_img, g_lab, g_poly, g_diff = [], [], [], []
    other: Counter[str] = Counter()
    for i, path in enumerate(_gt_paths(Path(ann_dir), names, ann_pattern)):
        cls_names, polys, diff = parse_gt_file(path)
        keep = np.array([c in cls_index for c in cls_names], dtype=bool)
        other.update(c for c in cls_names if c not in cls_index)
        g_img.append(np.full(int(keep.sum()), i, np.int64))
        g_lab.append(np.array([cls_index[c] for c in cls_names if c in cls_index], dtype=np.int64))
        g_poly.append(polys[keep]), g_diff.append(diff[keep])
    if other and not any(len(lab) for lab in g_lab):
        raise ValueError(
            f"none of the {sum(other.values())} ground-truth objects in {ann_dir} is of an evaluated class "
            f"{list(classes)[:5]}...; found {dict(other.most_common(10))} (wrong class list or version?)"
        )
    d_img, d_lab, d_score, d_poly = [], [], [], []
    unknown = 0
    for c, path in enumerate(det_paths):
        if path is None:
            continue
        imgs, scores, polys, linenos = parse_det_file(path)
        idx = np.array([index.get(n, -1) for n in imgs], dtype=np.int64)
        bad = np.flatnonzero(idx < 0)
        if len(bad) and unknown_images == "error":
            raise DotaFormatError(
                path,
                int(linenos[bad[0]]),
                f"image {imgs[bad[0]]!r} is not in the image set ({len(bad)} such lines)",
            )
        unknown += len(bad)
        keep = idx >= 0 if unknown_images == "ignore" else np.ones(len(idx), dtype=bool)
        d_img.append(idx[keep]), d_lab.append(np.full(int(keep.sum()), c, np.int64))
        d_score.append(scores[keep]), d_poly.append(polys[keep])
    gt = _gt_arrays(g_img, g_lab, g_poly, g_diff)
    det = _det_arrays(d_img, d_lab, d_score, d_poly)
    extra = {
        "missing_det_files": missing,
        "num_det_unknown_image": unknown,
        "num_gt_other_classes": dict(sorted(other.items())),
    }
    return gt, det, len(names), extra


def evaluate_task1(
    ann_dir: str | os.PathLike,
    det_dir: str | os.PathLike,
    imageset: str | os.PathLike | Sequence[str],
    classes: Sequence[str],
    iou_thr: float = 0.5,
    use_07_metric: bool = True,
    difficult: str = "ignore",
    det_pattern: str = "Task1_{}.txt",
    ann_pattern: str = "{}.txt",
    unknown_images: str = "error",
    iou_fn: PolyIoUFn | None = None,
) -> dict[str, Any]:
    """DOTA Task1 mAP from files, official v1.0 protocol by default.

    Files are read by the shared DOTA text reader (:mod:`gghl.evaluation.dota_io`): whitespace runs,
    BOM, CRLF accepted; every non-blank line of a GT file is a header or an object, or an error.

    Args:
        ann_dir: folder of ``labelTxt`` files, ``ann_dir / ann_pattern.format(image)`` (extension in any
            case); one must exist for every image in the set.
        det_dir: folder of per-class result files ``det_dir / det_pattern.format(class)``. A missing
            or empty file gives that class AP 0 (missing ones listed in ``"missing_det_files"``); a
            missing folder, or one without a result file for any class, is an error.
        imageset: file with one image name (stem) per line, or a list of names; not empty.
        classes: class names (e.g. ``gghl.data.dota_classes.DOTA_V1_0``); GT of other classes are skipped and counted
            in ``"num_gt_other_classes"`` (an error if no GT object at all is of a listed class).
        iou_thr, use_07_metric, difficult, unknown_images, iou_fn: see :func:`evaluate_polygons`.

    Returns:
        The :func:`evaluate_polygons` dict plus ``"missing_det_files"`` and ``"num_gt_other_classes"``.

    Raises:
        DotaFormatError: malformed line (message ``path:line: ...``), empty image set, or unknown image
            with ``unknown_images="error"``. FileNotFoundError: image set, ``ann_dir``, ``det_dir``, a GT
            file (all missing ones are counted in the message) or every result file missing.
        ValueError: no GT object of the evaluated classes although the GT files have objects.
    """
    _check(classes, [iou_thr], difficult, unknown_images)
    gt, det, n_img, extra = _load_task1(
        ann_dir, det_dir, imageset, classes, det_pattern, ann_pattern, unknown_images
    )
    out = _evaluate_arrays(gt, det, n_img, classes, [iou_thr], use_07_metric, difficult, iou_fn)
    out.update(extra)
    return out


def evaluate_task1_coco_style(
    ann_dir: str | os.PathLike,
    det_dir: str | os.PathLike,
    imageset: str | os.PathLike | Sequence[str],
    classes: Sequence[str],
    iou_thrs: Sequence[float] = COCO_IOU_THRS,
    use_07_metric: bool = False,
    difficult: str = "ignore",
    det_pattern: str = "Task1_{}.txt",
    ann_pattern: str = "{}.txt",
    unknown_images: str = "error",
    iou_fn: PolyIoUFn | None = None,
) -> dict[str, Any]:
    """Task1 files, mAP50:95; AP variant as in :func:`evaluate_polygons_coco_style`."""
    _check(classes, iou_thrs, difficult, unknown_images)
    gt, det, n_img, extra = _load_task1(
        ann_dir, det_dir, imageset, classes, det_pattern, ann_pattern, unknown_images
    )
    out = _evaluate_arrays(gt, det, n_img, classes, list(iou_thrs), use_07_metric, difficult, iou_fn)
    out.update(extra)
    return out


if (
    __name__ == "__main__"
):  # the evaluator's command moved; an old `python -m gghl.evaluation.dota` must not pass silently
    raise SystemExit(
        "error: the DOTA evaluator's command is gghl-dota-eval (or python -m gghl.evaluation.dota_cli)"
    )
