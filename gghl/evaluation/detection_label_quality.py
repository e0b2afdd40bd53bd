"""Label errors in detection datasets (oriented or axis-aligned boxes) from out-of-fold predictions.

Inputs, per image: the annotations (boxes + class labels, possibly wrong) and the detections of a model
that never saw the image (k-fold training: ``gghl-audit-detection``). Boxes may be polygons ``[N, 8]``
(DOTA), oriented boxes ``[N, 5]`` ``(cx, cy, w, h, a)`` or axis-aligned ``[N, 4]`` xyxy (COCO); all are
turned into oriented boxes and compared with the exact rotated IoU of :func:`gghl.ops.box_iou_rotated`
(equal to the ordinary IoU for axis-aligned boxes).

Every candidate error gets an *issue probability* ``P`` in ``[0, 1]`` (quality ``1 - P``; the ranking is
by ``P``). With ``cover(iou) = min(1, iou / match_iou)`` (a prediction covers an annotation fully at
``match_iou``, partly below):

* **overlooked** (per prediction ``m``): ``P = s_m * (1 - max_l cover(IoU(l, m)))`` over the annotations
  of any class - a confident detection where nothing is annotated.
* **swapped** (per annotation ``l`` of class ``k``): with ``e_c = max_{m of class c} s_m cover(IoU(l, m))``
  the evidence for class ``c`` at the annotation's place, ``P = e_other * (1 - e_k)``, ``e_other`` the best
  other class (the suggested label): another class is seen there and the given one is not.
* **badly located** (per annotation): the same-class detection ``m*`` maximising ``s_m IoU(l, m)``; how
  unusual its overlap is for a correct annotation of the class, as a robust z-score
  ``z = (iou_ref - IoU) / iou_scale``, ``P = s_m* tail(z)`` with ``tail(z) = 1 - exp(-(z - 1)_+^2 / 4)``
  (0 within one robust standard deviation, 0.22 at two, 0.63 at three, 0.98 at five).
* **rotated** (oriented data): the annotation turned to the angle of ``m*`` (long sides matched, squares
  both ways); ``iou_shape`` = IoU of the annotation with its turned self (the angle difference alone, free
  of the detection's centre and size errors), ``P_rot = s_m* (1 - iou_shape / shape_ref)``; the turn is
  reported in degrees. A location issue is *rotated* rather than *badly located* when the turned annotation
  (IoU ``iou_rot`` with the detection) wins back at least half of the overlap missing to ``iou_ref``.
* **spurious** (per annotation): no detection of any class supports it: with
  ``support = max_m s_m min(1, 2 IoU(l, m) / match_iou)`` (existence, not placement: a detection at half of
  ``match_iou`` already says something is there), ``P = tail((support_ref - support) / support_scale)``.

References are per class, over the dataset's annotations of the class (most annotations are right, so a
median is what the model reaches on correct labels and 1.4826 MAD its spread, at least 0.02 for IoUs and
0.05 for supports):
``iou_ref`` / ``iou_scale`` and ``shape_ref`` over annotations matched by a detection with score >= 0.5,
``support_ref`` / ``support_scale`` over all; a class with fewer than ``min_ref_count`` such annotations
uses the values over all classes. They make the probabilities of hard classes (a weakly localised or often
missed class) comparable with those of easy ones, so one ranking serves all issue types.

An annotation's issue is its largest ``P`` among swapped / location / spurious; an image's label quality
is ``1 - max P`` over its annotations and its overlooked candidates (the worst object decides).

cleanlab's object-detection scores (ObjectLab: overlooked / swap / badloc) are the reference for axis-aligned
boxes (``scripts/bench_detection_label_quality.py`` compares); this module never imports cleanlab.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

ISSUE_TYPES = ("overlooked", "swapped", "badly_located", "rotated", "spurious")


def boxes_to_obb(boxes: np.ndarray | Sequence, name: str = "boxes") -> tuple[np.ndarray, bool]:
    """Any supported box format to canonical oriented boxes.

    Args:
        boxes: ``[N, 8]`` polygons, ``[N, 5]`` ``(cx, cy, w, h, a)`` (radians) or ``[N, 4]`` xyxy.
        name: how errors name the argument.

    Returns:
        (``float64 [N, 5]`` canonical OBB, ``oriented``: False for xyxy input, whose angle means nothing).

    Raises:
        ValueError: another last dimension, non-finite values, or xyxy with ``x2 < x1`` / ``y2 < y1``.
    """
    from gghl.structures import canonicalize_obb, hbb_to_obb, poly_to_obb

    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        k = arr.shape[-1] if arr.ndim == 2 else 8
        arr = arr.reshape(0, k)
    if arr.ndim != 2 or arr.shape[1] not in (4, 5, 8):
        raise ValueError(
            f"{name}: need [N, 8] polygons, [N, 5] oriented boxes or [N, 4] xyxy, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(
            f"{name}: non-finite coordinates in rows {np.flatnonzero(~np.isfinite(arr).all(1)).tolist()}"
        )
    t = torch.from_numpy(arr)
    if arr.shape[1] == 4:
        bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
        if bad.any():
            raise ValueError(
                f"{name}: xyxy boxes need x2 >= x1 and y2 >= y1 (rows {np.flatnonzero(bad).tolist()})"
            )
        return hbb_to_obb(t).numpy(), False
    if arr.shape[1] == 8:
        return poly_to_obb(t).numpy(), True
    return canonicalize_obb(t).numpy(), True


def rotated_iou(a: np.ndarray, b: np.ndarray, aligned: bool = False) -> np.ndarray:
    """``float64 [N, M]`` (``[N]`` when ``aligned``) exact IoU of oriented boxes ``[N, 5]``, ``[M, 5]`` (``gghl.ops``)."""
    from gghl.ops import box_iou_rotated

    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a)) if aligned else np.zeros((len(a), len(b)))
    return box_iou_rotated(torch.from_numpy(a), torch.from_numpy(b), aligned=aligned).numpy()


def _angle_fix(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the angle of each annotation's matched detection says about it.

    ``gt``, ``pred``: ``[L, 5]`` canonical (``w >= h``) pairs. The annotation is turned to the detection's
    angle (long sides matched; near-square pairs are also tried a quarter turn away, the better kept).
    Returns (``iou_rot [L]``: IoU of the turned annotation with the detection; ``iou_shape [L]``: IoU of the
    annotation with itself turned - the angle's effect alone, free of the detection's centre and size
    errors; ``turn_deg [L]`` in ``[-90, 90)``: the turn to add to the annotation's angle).
    """
    if len(gt) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    best_iou = np.full(len(gt), -1.0)
    best_turn = np.zeros(len(gt))
    for extra in (0.0, math.pi / 2):
        turned = gt.copy()
        turned[:, 4] = pred[:, 4] + extra
        iou = rotated_iou(turned, pred, aligned=True)
        turn = np.remainder(turned[:, 4] - gt[:, 4] + math.pi / 2, math.pi) - math.pi / 2
        better = iou > best_iou + 1e-12
        best_iou = np.where(better, iou, best_iou)
        best_turn = np.where(better, turn, best_turn)
    turned = gt.copy()
    turned[:, 4] = gt[:, 4] + best_turn
    return best_iou, rotated_iou(gt, turned, aligned=True), np.degrees(best_turn)


@dataclass
class ImageEvidence:
    """What the predictions say about one image's annotations (before dataset-level references).

    Per annotation ``[L]``: ``e_own`` / ``e_other`` evidence for the given / best other class,
    ``other_label`` (-1 if none) and ``other_match`` (the detection behind ``e_other``), ``support`` (any class), ``match`` index of the same-class detection
    ``m*`` (-1 if none), ``match_score``, ``match_iou``, ``iou_rot``, ``iou_shape`` and ``turn_deg`` (see
    ``_angle_fix``; NaN when axis-aligned or unmatched). Per prediction ``[M]``: ``uncovered`` = ``1 - max cover`` over annotations.
    """

    e_own: np.ndarray
    e_other: np.ndarray
    other_label: np.ndarray
    other_match: np.ndarray
    support: np.ndarray
    match: np.ndarray
    match_score: np.ndarray
    match_iou: np.ndarray
    iou_rot: np.ndarray
    iou_shape: np.ndarray
    turn_deg: np.ndarray
    uncovered: np.ndarray


def image_evidence(
    gt_obb: np.ndarray,
    gt_labels: np.ndarray,
    pred_obb: np.ndarray,
    pred_scores: np.ndarray,
    pred_labels: np.ndarray,
    num_classes: int,
    oriented: bool = True,
    match_iou: float = 0.5,
) -> ImageEvidence:
    """Evidence for one image; shapes ``[L, 5]``, ``[L]``, ``[M, 5]``, ``[M]``, ``[M]`` (see the module)."""
    L, M = len(gt_obb), len(pred_obb)
    iou = rotated_iou(gt_obb, pred_obb)  # [L, M]
    cover = np.minimum(1.0, iou / match_iou)
    weighted = cover * pred_scores[None, :]  # [L, M]
    # evidence per class: max over that class's detections (-inf-free: 0 when none)
    ev = np.zeros((L, num_classes))
    for c in np.unique(pred_labels):
        if L:
            ev[:, int(c)] = weighted[:, pred_labels == c].max(1)
    own = ev[np.arange(L), gt_labels]
    if num_classes > 1:
        others = ev.copy()
        others[np.arange(L), gt_labels] = -1.0
        other_label, e_other = others.argmax(1), np.maximum(others.max(1), 0.0)
        other_label = np.where(e_other > 0, other_label, -1)
    else:
        other_label, e_other = np.full(L, -1), np.zeros(L)
    # the detection behind e_other (the disagreeing one drawn next to a swapped annotation)
    of_other = pred_labels[None, :] == other_label[:, None]
    other_match = np.where(of_other, weighted, -1.0).argmax(1) if M else np.full(L, -1)
    other_match = np.where((other_label >= 0) & (e_other > 0), other_match, -1)
    # existence, not placement: a detection overlapping at half of match_iou already says "something is here"
    # (a shifted or turned annotation of a detected object is a location issue, not a spurious one)
    support = (np.minimum(1.0, 2.0 * iou / match_iou) * pred_scores[None, :]).max(1) if M else np.zeros(L)
    # same-class match m* = argmax s * IoU among overlapping detections of the class
    same = (pred_labels[None, :] == gt_labels[:, None]) & (iou > 0)
    key = np.where(same, iou * pred_scores[None, :], -1.0)
    match = key.argmax(1) if M else np.full(L, -1)
    match = np.where(same.any(1), match, -1) if M else match
    has = match >= 0
    m_iou = np.where(has, iou[np.arange(L), np.maximum(match, 0)] if M else 0.0, np.nan)
    m_score = np.where(has, pred_scores[np.maximum(match, 0)] if M else 0.0, 0.0)
    iou_rot, iou_shape, turn = np.full(L, np.nan), np.full(L, np.nan), np.full(L, np.nan)
    if oriented and has.any():
        iou_rot[has], iou_shape[has], turn[has] = _angle_fix(gt_obb[has], pred_obb[match[has]])
    uncovered = 1.0 - (cover.max(0) if L else np.zeros(M))
    return ImageEvidence(
        own,
        e_other,
        other_label,
        other_match,
        support,
        match,
        m_score,
        m_iou,
        iou_rot,
        iou_shape,
        turn,
        uncovered,
    )


@dataclass
class DetectionAudit:
    """Result of :func:`audit_detection_labels`. Annotation rows ``[A]`` (all images, image order, then
    object order), prediction rows ``[D]``, image rows ``[N]``.

    ``ann_image`` / ``ann_object`` locate an annotation; ``p_swapped``, ``p_badly_located``, ``p_rotated``,
    ``p_location`` (the larger of those two), ``p_spurious``; ``issue`` (one of ``ISSUE_TYPES`` per row, the
    largest ``P``; ``""`` when all are 0), ``p_issue``; ``suggested_label`` (-1 none) and ``other_pred`` (the
    detection of that class, index into the image's predictions), ``match_iou``, ``iou_rot``, ``turn_deg``,
    ``match_pred`` (index into the image's predictions, -1 none) and its ``match_score``. ``pred_image`` / ``pred_index`` /
    ``pred_label`` / ``pred_score`` / ``p_overlooked`` for the predictions. ``image_quality`` ``[N]`` in
    ``[0, 1]`` (low = likely mislabelled). ``iou_ref``, ``iou_scale``, ``shape_ref``, ``support_ref``, ``support_scale`` ``[C]``: the per-class
    references (module docstring).
    """

    ann_image: np.ndarray
    ann_object: np.ndarray
    ann_label: np.ndarray
    p_swapped: np.ndarray
    p_badly_located: np.ndarray
    p_rotated: np.ndarray
    p_location: np.ndarray
    p_spurious: np.ndarray
    issue: np.ndarray
    p_issue: np.ndarray
    suggested_label: np.ndarray
    other_pred: np.ndarray
    match_pred: np.ndarray
    match_score: np.ndarray
    match_iou: np.ndarray
    iou_rot: np.ndarray
    iou_shape: np.ndarray
    turn_deg: np.ndarray
    pred_image: np.ndarray
    pred_index: np.ndarray
    pred_label: np.ndarray
    pred_score: np.ndarray
    p_overlooked: np.ndarray
    image_quality: np.ndarray
    iou_ref: np.ndarray
    iou_scale: np.ndarray
    shape_ref: np.ndarray
    support_ref: np.ndarray
    support_scale: np.ndarray
    oriented: bool
    extras: dict = field(default_factory=dict)


def _obb_many(arrays: list[np.ndarray], name: str) -> list[tuple[np.ndarray, bool]]:
    """:func:`boxes_to_obb` of many arrays with one conversion per box format (a conversion call costs
    far more than its rows; a dataset has thousands of small arrays)."""
    out: list[tuple[np.ndarray, bool]] = [(np.zeros((0, 5)), True)] * len(arrays)
    groups: dict[int, list[int]] = {}
    for i, a in enumerate(arrays):
        a = np.asarray(a, dtype=np.float64)
        k = a.shape[-1] if a.ndim == 2 else (8 if a.size == 0 else -1)
        if a.ndim != 2 and a.size:
            boxes_to_obb(a, f"{name}[{i}].boxes")  # raises with the image index
        groups.setdefault(k, []).append(i)
    for _k, idx in groups.items():
        parts = [np.asarray(arrays[i], dtype=np.float64).reshape(-1, _k) for i in idx]
        try:
            obb, oriented = boxes_to_obb(np.concatenate(parts), name)
        except ValueError:  # find the image for the message
            for i in idx:
                boxes_to_obb(arrays[i], f"{name}[{i}].boxes")
            raise
        splits = np.split(obb, np.cumsum([len(p) for p in parts])[:-1])
        for i, o in zip(idx, splits):
            out[i] = (o, oriented)
    return out


def _check_labels(
    i: int, gt_obb: np.ndarray, gt: dict, pr_obb: np.ndarray, pred: dict, num_classes: int
) -> tuple:
    gl = np.asarray(gt["labels"]).reshape(-1)
    ps = np.asarray(pred["scores"], dtype=np.float64).reshape(-1)
    pl = np.asarray(pred["labels"]).reshape(-1)
    for what, arr, n in (("annotations", gl, len(gt_obb)), ("predictions", pl, len(pr_obb))):
        if arr.shape[0] != n:
            raise ValueError(f"{what}[{i}]: {n} boxes but {arr.shape[0]} labels")
        if n and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(
                f"{what}[{i}].labels: need integers in [0, {num_classes}), got {arr.tolist()[:8]}"
            )
    if ps.shape[0] != len(pr_obb):
        raise ValueError(f"predictions[{i}]: {len(pr_obb)} boxes but {ps.shape[0]} scores")
    if len(ps) and (not np.isfinite(ps).all() or ps.min() < 0 or ps.max() > 1):
        raise ValueError(f"predictions[{i}].scores: need probabilities in [0, 1]")
    return gl.astype(np.int64), ps, pl.astype(np.int64)


def audit_detection_labels(
    annotations: Sequence[dict],
    predictions: Sequence[dict],
    num_classes: int,
    match_iou: float = 0.5,
    min_ref_count: int = 20,
) -> DetectionAudit:
    """Score every annotation and every prediction of a dataset for label errors.

    Args:
        annotations: per image ``{"boxes": [L, 8|5|4], "labels": int [L]}`` (the given labels).
        predictions: per image (same order) ``{"boxes": [M, 8|5|4], "scores": [M] in [0, 1],
            "labels": int [M]}``: out-of-fold detections (a model that never saw the image), with a low
            score threshold (e.g. 0.05): weak detections are evidence too.
        num_classes: C.
        match_iou: IoU at which a detection fully covers an annotation (0.5, the detection metric's).
        min_ref_count: classes with fewer usable annotations use the references over all classes.

    Returns:
        :class:`DetectionAudit`. Images without annotations or without predictions are fine (every
        annotation of an image without predictions is spurious-like; every prediction of an image without
        annotations is overlooked-like).

    Raises:
        ValueError: different numbers of images, a bad box shape, labels outside ``[0, C)``, scores
            outside ``[0, 1]``; the message names the image index and field.
    """
    if len(annotations) != len(predictions):
        raise ValueError(f"{len(annotations)} annotated images but {len(predictions)} prediction entries")
    if not 0 < match_iou <= 1:
        raise ValueError(f"match_iou must be in (0, 1], got {match_iou}")
    rows, oriented_all = [], []
    gts = _obb_many([g["boxes"] for g in annotations], "annotations")
    prs = _obb_many([p["boxes"] for p in predictions], "predictions")
    for i, (gt, pred) in enumerate(zip(annotations, predictions)):
        (gt_obb, oriented), (pr_obb, _) = gts[i], prs[i]
        gl, ps, pl = _check_labels(i, gt_obb, gt, pr_obb, pred, num_classes)
        if len(gt_obb):
            oriented_all.append(oriented)
        ev = image_evidence(gt_obb, gl, pr_obb, ps, pl, num_classes, oriented, match_iou)
        rows.append((gt_obb, gl, ps, pl, ev))
    oriented = bool(oriented_all) and all(oriented_all)

    def cat(get, dtype=np.float64) -> np.ndarray:
        return (
            np.concatenate([np.asarray(get(i, r), dtype=dtype) for i, r in enumerate(rows)])
            if rows
            else np.zeros(0, dtype)
        )

    ann_image = cat(lambda i, r: np.full(len(r[1]), i), np.int64)
    ann_object = cat(lambda i, r: np.arange(len(r[1])), np.int64)
    ann_label = cat(lambda i, r: r[1], np.int64)
    e_own, e_other = cat(lambda i, r: r[4].e_own), cat(lambda i, r: r[4].e_other)
    other_label = cat(lambda i, r: r[4].other_label, np.int64)
    other_match = cat(lambda i, r: r[4].other_match, np.int64)
    support = cat(lambda i, r: r[4].support)
    m_iou, m_score = cat(lambda i, r: r[4].match_iou), cat(lambda i, r: r[4].match_score)
    match = cat(lambda i, r: r[4].match, np.int64)
    iou_rot, turn = cat(lambda i, r: r[4].iou_rot), cat(lambda i, r: r[4].turn_deg)
    iou_shape = cat(lambda i, r: r[4].iou_shape)

    # dataset references per class: what clean annotations reach (medians: most annotations are right)
    has = match >= 0
    confident = has & (m_score >= 0.5)
    iou_ref, iou_scale = _class_medians(
        m_iou, ann_label, confident, num_classes, min_ref_count, with_scale=True
    )
    shape_ref = _class_medians(
        iou_shape, ann_label, confident & np.isfinite(iou_shape), num_classes, min_ref_count
    )
    support_ref, support_scale = _class_medians(
        support,
        ann_label,
        np.ones(len(support), dtype=bool),
        num_classes,
        min_ref_count,
        with_scale=True,
        min_scale=0.05,
    )

    p_swap = e_other * (1.0 - e_own)
    miou0 = np.where(has, m_iou, 0.0)
    z = (iou_ref[ann_label] - miou0) / iou_scale[ann_label]  # robust z-score of the missing overlap
    p_loc = np.where(has, m_score * _tail(z), 0.0)
    angle = has & np.isfinite(iou_shape)
    shape0 = np.where(angle, iou_shape, 1.0)
    p_rot = np.where(
        angle, m_score * np.clip(1.0 - shape0 / np.maximum(shape_ref[ann_label], 1e-9), 0.0, 1.0), 0.0
    )
    p_spur = _tail((support_ref[ann_label] - support) / support_scale[ann_label])
    p_location = np.maximum(p_loc, p_rot)
    # rotated when turning the annotation to the detection's angle wins back at least half the missing overlap
    gain = np.where(has & np.isfinite(iou_rot), np.nan_to_num(iou_rot) - miou0, 0.0)
    deficit = np.maximum(iou_ref[ann_label] - miou0, 0.0)
    loc_kind = np.where((gain > 0) & (gain >= 0.5 * deficit), "rotated", "badly_located")
    stacked = np.stack([p_swap, p_location, p_spur]) if len(ann_label) else np.zeros((3, 0))
    which = stacked.argmax(0)
    p_issue = stacked.max(0) if len(ann_label) else np.zeros(0)
    issue = np.where(which == 0, "swapped", np.where(which == 1, loc_kind, "spurious")).astype(object)
    issue[p_issue <= 0] = ""
    suggested = np.where(which == 0, other_label, -1)

    pred_image = cat(lambda i, r: np.full(len(r[2]), i), np.int64)
    pred_index = cat(lambda i, r: np.arange(len(r[2])), np.int64)
    pred_label = cat(lambda i, r: r[3], np.int64)
    pred_score = cat(lambda i, r: r[2])
    p_over = pred_score * cat(lambda i, r: r[4].uncovered)

    worst = np.zeros(len(rows))
    np.maximum.at(worst, ann_image, p_issue)
    np.maximum.at(worst, pred_image, p_over)
    return DetectionAudit(
        ann_image=ann_image,
        ann_object=ann_object,
        ann_label=ann_label,
        p_swapped=p_swap,
        p_badly_located=p_loc,
        p_rotated=p_rot,
        p_location=p_location,
        p_spurious=p_spur,
        issue=issue,
        p_issue=p_issue,
        suggested_label=suggested,
        other_pred=other_match,
        match_pred=match,
        match_score=m_score,
        match_iou=m_iou,
        iou_rot=iou_rot,
        iou_shape=iou_shape,
        turn_deg=turn,
        pred_image=pred_image,
        pred_index=pred_index,
        pred_label=pred_label,
        pred_score=pred_score,
        p_overlooked=p_over,
        image_quality=1.0 - worst,
        iou_ref=iou_ref,
        iou_scale=iou_scale,
        shape_ref=shape_ref,
        support_ref=support_ref,
        support_scale=support_scale,
        oriented=oriented,
    )


def _tail(z: np.ndarray) -> np.ndarray:
    """Robust z-score to ``[0, 1)``: ``1 - exp(-(z - 1)_+^2 / 4)`` (0 within one robust standard deviation,
    0.22 at two, 0.63 at three, 0.98 at five)."""
    return 1.0 - np.exp(-(np.maximum(np.asarray(z, dtype=np.float64) - 1.0, 0.0) ** 2) / 4.0)


def _class_medians(
    values: np.ndarray,
    labels: np.ndarray,
    use: np.ndarray,
    num_classes: int,
    min_count: int,
    with_scale: bool = False,
    min_scale: float = 0.02,
):
    """``[C]`` median of ``values[use]`` per class (and with ``with_scale`` the robust standard deviation
    ``1.4826 * MAD``, at least ``min_scale``); classes with fewer than ``min_count`` items get the values over
    all classes, and a median of 1.0 when nothing is usable at all."""

    def stats(x: np.ndarray) -> tuple[float, float]:
        med = float(np.median(x))
        return med, max(1.4826 * float(np.median(np.abs(x - med))), min_scale)

    overall = stats(values[use]) if use.any() else (1.0, min_scale)
    med = np.full(num_classes, overall[0] if overall[0] > 0 else 1.0)
    scale = np.full(num_classes, overall[1])
    for c in range(num_classes):
        sel = use & (labels == c)
        if sel.sum() >= min_count and np.median(values[sel]) > 0:
            med[c], scale[c] = stats(values[sel])
    return (med, scale) if with_scale else med
