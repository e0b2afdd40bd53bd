"""Readable reference: a faithful re-implementation of the DOTA devkit's ``voc_eval`` loop.

This is the slow baseline that tests and ``scripts/bench_eval.py`` compare the vectorised evaluator
against. It mirrors ``dota_evaluation_task1.py`` (DOTA_devkit 9938855, L88-267): per class, per
detection in score order, an HBB pre-filter with the VOC ``+1`` convention, polygon IoU against
every kept GT, argmax, then TP / FP / ignored. Differences, all deliberate and result-neutral:
shapely replaces the SWIG ``polyiou`` (they agree to ~1e-8 or better; spec/dota-eval.md), ties in
score are sorted stably (the devkit's quicksort is implementation-defined), an empty class gives
AP 0 instead of a crash, and nothing is printed. Needs ``shapely`` (a dev dependency).
"""

from __future__ import annotations

import numpy as np
import torch

from gghl.evaluation.dota_ap import average_precision
from gghl.evaluation.dota_match import DetArrays, GTArrays

__all__ = ["shapely_poly_iou", "devkit_voc_eval", "devkit_evaluate"]


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
