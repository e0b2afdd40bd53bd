"""Readable reference: a faithful re-implementation of the DOTA devkit's ``voc_eval`` loop.

This is the slow baseline that tests and ``scripts/bench_eval.py`` compare the vectorised evaluator
against. It mirrors ``dota_evaluation_task1.py`` (DOTA_devkit 9938855, L88-267): per class, per
detection in score order, an HBB pre-filter with the VOC ``+1`` convention, polygon IoU against
every kept GT, argmax, then TP / FP / ignored. Differences, all deliberate and result-neutral:
shapely replaces the SWIG ``polyiou`` (they agree to ~1e-8 or better; docs/evaluation.md#matching), ties in
score are sorted stably (the devkit's quicksort is implementation-defined), an empty class gives
AP 0 instead of a crash, and nothing is printed. Needs ``shapely`` (a dev dependency).
"""

from __future__ import annotations

import numpy as np
import torch

from gghl.evaluation.dota_ap import average_precision
from gghl.evaluation.dota_match import DetArrays, GTArrays

__all__ = ["shapely_poly_iou", "devkit_voc_eval", "devkit_evaluate", "make_random_set"]


def shapely_poly_iou(polys1: torch.Tensor, polys2: torch.Tensor, aligned: bool = False) -> torch.Tensor:
    """Polygon IoU with shapely (vectorised GEOS calls), same contract as ``gghl.ops.poly_iou``.

    Args:
        polys1: ``[N, 8]``; polys2: ``[M, 8]`` (``[N, 8]`` when aligned). Any vertex orientation.

    Returns:
        ``[N, M]`` float64 (``[N]`` when aligned). Zero union gives 0.
    """
    import shapely

    a = shapely.polygons(polys1.detach().cpu().double().numpy().reshape(-1, 4, 2))
    b = shapely.polygons(polys2.detach().cpu().double().numpy().reshape(-1, 4, 2))
    if not aligned:
        a, b = a[:, None], b[None, :]
    inter = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - inter
    out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return torch.from_numpy(np.asarray(out, dtype=np.float64))


def _iou_poly(p: np.ndarray, q: np.ndarray) -> float:
    """One polygon pair, like the devkit's ``polyiou.iou_poly``."""
    from shapely.geometry import Polygon

    a, b = Polygon(p.reshape(4, 2)), Polygon(q.reshape(4, 2))
    inter = a.intersection(b).area
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def devkit_voc_eval(
    gt: GTArrays,
    det: DetArrays,
    num_images: int,
    class_index: int,
    ovthresh: float = 0.5,
    use_07_metric: bool = True,
    ignore_difficult: bool = True,
) -> tuple[float, int]:
    """Devkit ``voc_eval`` for one class. Returns ``(AP, npos)``."""
    class_recs = {}
    npos = 0
    for img in range(num_images):
        m = (gt.image == img) & (gt.label == class_index)
        bbox = gt.polys[m]
        difficult = gt.difficult[m] if ignore_difficult else np.zeros(int(m.sum()), dtype=bool)
        npos += int((~difficult).sum())
        class_recs[img] = {"bbox": bbox, "difficult": difficult, "det": [False] * len(bbox)}

    keep = det.label == class_index
    image_ids, confidence, BB = det.image[keep], det.score[keep], det.polys[keep]
    sorted_ind = np.argsort(-confidence, kind="stable")
    BB = BB[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]
    nd = len(image_ids)
    tp, fp = np.zeros(nd), np.zeros(nd)
    for d in range(nd):
        R = class_recs[image_ids[d]]
        bb = BB[d, :].astype(float)
        ovmax = -np.inf
        BBGT = R["bbox"].astype(float)
        if BBGT.size > 0:
            BBGT_xmin, BBGT_ymin = np.min(BBGT[:, 0::2], axis=1), np.min(BBGT[:, 1::2], axis=1)
            BBGT_xmax, BBGT_ymax = np.max(BBGT[:, 0::2], axis=1), np.max(BBGT[:, 1::2], axis=1)
            bb_xmin, bb_ymin = np.min(bb[0::2]), np.min(bb[1::2])
            bb_xmax, bb_ymax = np.max(bb[0::2]), np.max(bb[1::2])
            ixmin, iymin = np.maximum(BBGT_xmin, bb_xmin), np.maximum(BBGT_ymin, bb_ymin)
            ixmax, iymax = np.minimum(BBGT_xmax, bb_xmax), np.minimum(BBGT_ymax, bb_ymax)
            iw = np.maximum(ixmax - ixmin + 1.0, 0.0)
            ih = np.maximum(iymax - iymin + 1.0, 0.0)
            inters = iw * ih
            uni = (
                (bb_xmax - bb_xmin + 1.0) * (bb_ymax - bb_ymin + 1.0)
                + (BBGT_xmax - BBGT_xmin + 1.0) * (BBGT_ymax - BBGT_ymin + 1.0)
                - inters
            )
            overlaps = inters / uni
            BBGT_keep_index_0 = np.where(overlaps > 0)[0]
            BBGT_keep = BBGT[BBGT_keep_index_0, :]
            if len(BBGT_keep) > 0:
                overlaps = np.array([_iou_poly(BBGT_keep[i], bb) for i in range(len(BBGT_keep))])
                ovmax = np.max(overlaps)
                jmax = BBGT_keep_index_0[np.argmax(overlaps)]
        if ovmax > ovthresh:
            if not R["difficult"][jmax]:
                if not R["det"][jmax]:
                    tp[d] = 1.0
                    R["det"][jmax] = 1
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    return average_precision(tp, fp, npos, use_07_metric), npos


def devkit_evaluate(
    gt: GTArrays,
    det: DetArrays,
    num_images: int,
    num_classes: int,
    ovthresh: float = 0.5,
    use_07_metric: bool = True,
    ignore_difficult: bool = True,
) -> tuple[float, list[float]]:
    """Devkit ``main()``: ``(mAP, [AP per class])``, mAP the plain mean over all classes."""
    aps = [
        devkit_voc_eval(gt, det, num_images, c, ovthresh, use_07_metric, ignore_difficult)[0]
        for c in range(num_classes)
    ]
    return float(np.mean(aps)) if aps else 0.0, aps


def make_random_set(
    seed: int = 0,
    num_images: int = 200,
    num_classes: int = 15,
    num_dets: int = 20_000,
    gt_per_image: int = 30,
    image_size: float = 1024.0,
) -> tuple[GTArrays, DetArrays]:
    """A random DOTA-like set for tests and benchmarks (any vertex order, rotated rectangles).

    GT: ~``gt_per_image`` rotated rectangles per image, 10% difficult, some overlapping. Detections:
    jittered copies of GT (sometimes with the wrong class), duplicates and random false positives,
    scores rounded to 2 decimals so ties occur. Detections are in a random (input) order.
    """
    rng = np.random.default_rng(seed)

    def rects(n: int, c=None, wh=None, a=None) -> np.ndarray:
        c = rng.uniform(0, image_size, (n, 2)) if c is None else c
        wh = rng.uniform(8, 120, (n, 2)) if wh is None else wh
        a = rng.uniform(-np.pi, np.pi, n) if a is None else a
        dx = np.array([-0.5, 0.5, 0.5, -0.5]) * wh[:, :1]
        dy = np.array([-0.5, -0.5, 0.5, 0.5]) * wh[:, 1:]
        cos, sin = np.cos(a)[:, None], np.sin(a)[:, None]
        pts = np.stack([c[:, :1] + dx * cos - dy * sin, c[:, 1:] + dx * sin + dy * cos], axis=-1)
        flip = rng.random(n) < 0.5  # some counter-clockwise, other start vertex
        pts[flip] = pts[flip][:, ::-1]
        return np.roll(pts, rng.integers(4), axis=1).reshape(n, 8)

    n_gt = int(rng.poisson(gt_per_image, num_images).sum())
    g_c = rng.uniform(0, image_size, (n_gt, 2))
    g_wh = rng.uniform(8, 120, (n_gt, 2))
    g_a = rng.uniform(-np.pi, np.pi, n_gt)
    gt = GTArrays(
        image=np.sort(rng.integers(0, num_images, n_gt)),
        label=rng.integers(0, num_classes, n_gt),
        polys=rects(n_gt, g_c, g_wh, g_a),
        difficult=rng.random(n_gt) < 0.1,
    )
    # detections near a GT: jitter centre, size and angle (always valid rectangles)
    n_tp = min(int(num_dets * 0.7), num_dets)
    src = rng.integers(0, n_gt, n_tp)
    noise = rng.choice([0.02, 0.1, 0.3], n_tp)[:, None]
    d_c = g_c[src] + rng.normal(0, 1, (n_tp, 2)) * noise * g_wh[src]
    d_wh = g_wh[src] * np.exp(rng.normal(0, 1, (n_tp, 2)) * noise)
    d_a = g_a[src] + rng.normal(0, 1, n_tp) * noise[:, 0]
    tp_polys = rects(n_tp, d_c, d_wh, d_a)
    tp_label = np.where(rng.random(n_tp) < 0.9, gt.label[src], rng.integers(0, num_classes, n_tp))
    n_fp = num_dets - n_tp
    image = np.concatenate([gt.image[src], rng.integers(0, num_images, n_fp)])
    label = np.concatenate([tp_label, rng.integers(0, num_classes, n_fp)])
    polys = np.concatenate([tp_polys, rects(n_fp)])
    score = np.round(np.concatenate([rng.uniform(0.2, 1, n_tp), rng.uniform(0, 0.8, n_fp)]), 2)
    perm = rng.permutation(num_dets)
    return gt, DetArrays(image=image[perm], label=label[perm], score=score[perm], polys=polys[perm])


def as_mappings(gt: GTArrays, det: DetArrays, n_img: int) -> tuple[dict, dict, DetArrays]:
    """Flat arrays -> the per-image mappings of ``evaluate_polygons``, plus the flat detections reordered
    by image (stable), so that score ties break in the same order in the devkit loop and the fast path."""
    order = np.argsort(det.image, kind="stable")
    det = DetArrays(det.image[order], det.label[order], det.score[order], det.polys[order])
    gts = {
        i: {
            "polygons": gt.polys[gt.image == i],
            "labels": gt.label[gt.image == i],
            "difficult": gt.difficult[gt.image == i],
        }
        for i in range(n_img)
    }
    dets = {
        i: {
            "polygons": det.polys[det.image == i],
            "labels": det.label[det.image == i],
            "scores": det.score[det.image == i],
        }
        for i in range(n_img)
    }
    return gts, dets, det
