"""Vectorised DOTA Task1 matching: detections to ground truth, all classes and images at once.

The devkit (``voc_eval`` L172-252) walks the detections of a class in score order and, for each one,
computes polygon IoUs against the GT of its image, takes the **argmax** GT and then decides
TP / FP / ignored. The argmax of a detection does not depend on what was matched before it, so
it can be computed up front for every detection. The only sequential part, "the first detection
(in score order) to hit a GT is the TP, later ones are FPs", is a first-occurrence query that numpy
answers with ``np.unique(..., return_index=True)``. No per-detection Python loop and no
per-detection polygon geometry remain; all IoUs come from one batched ``poly_iou(aligned=True)`` call
(chunked to bound memory) over the (detection, same-image same-class GT) pairs.

Frames: polygons are ``[N, 8]`` float64 ``x1 y1 ... x4 y4`` in image pixels, any vertex order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["DetArrays", "GTArrays", "PolyIoUFn", "get_poly_iou", "best_gt_per_detection", "tp_fp_per_class"]

#: ``poly_iou(polys1[N,8], polys2[M,8], aligned=False) -> Tensor`` (``[N]`` when aligned).
PolyIoUFn = Callable[..., torch.Tensor]

_CHUNK = 262_144  # pairs per poly_iou call; bounds peak memory of the batched geometry


def get_poly_iou() -> PolyIoUFn:
    """Return ``gghl.ops.poly_iou`` (imported late so tests and the benchmark can stand in for it)."""
    import gghl.ops as ops

    fn = getattr(ops, "poly_iou", None)
    if fn is None:
        raise ImportError("gghl.ops.poly_iou is not available; pass iou_fn= explicitly")
    return fn


@dataclass(frozen=True)
class GTArrays:
    """Flat ground truth. ``image``/``label``: ``[G]`` int64 (image index, class index);
    ``polys``: ``[G, 8]`` float64; ``difficult``: ``[G]`` bool."""

    image: np.ndarray
    label: np.ndarray
    polys: np.ndarray
    difficult: np.ndarray


@dataclass(frozen=True)
class DetArrays:
    """Flat detections in input order (the tie-break order). ``image``/``label``: ``[D]`` int64;
    ``score``: ``[D]`` float64; ``polys``: ``[D, 8]`` float64. Image index -1 = not in the image set."""

    image: np.ndarray
    label: np.ndarray
    score: np.ndarray
    polys: np.ndarray


def _hbb(polys: np.ndarray) -> np.ndarray:
    """``[N, 8]`` polygons -> ``[N, 4]`` xyxy bounding boxes."""
    xs, ys = polys[:, 0::2], polys[:, 1::2]
    return np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)


def _pairs(gt: GTArrays, det: DetArrays, num_images: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (detection, GT) pairs that share image and class.

    Returns ``(det_idx[P], gt_idx[P], seg_start[D])``: pairs grouped by detection in detection order;
    within a detection its GT appear in input (file) order, which is the devkit's argmax tie-break.
    ``seg_start[d]`` is the first pair of detection ``d`` (meaningless when it has no pairs).
    """
    n_img = max(num_images, 1)
    gt_key = gt.label * n_img + gt.image
    gt_order = np.argsort(gt_key, kind="stable")
    gt_sorted = gt_key[gt_order]
    det_key = np.where(det.image >= 0, det.label * n_img + det.image, -1)
    lo = np.searchsorted(gt_sorted, det_key, side="left")
    hi = np.searchsorted(gt_sorted, det_key, side="right")
    cnt = np.where(det.image >= 0, hi - lo, 0)
    seg_start = np.cumsum(cnt) - cnt
    total = int(cnt.sum())
    det_idx = np.repeat(np.arange(len(cnt)), cnt)
    within = np.arange(total) - np.repeat(seg_start, cnt)
    gt_idx = gt_order[np.repeat(lo, cnt) + within]
    return det_idx, gt_idx, seg_start


def _area(polys: np.ndarray) -> np.ndarray:
    """Shoelace area of ``[N, 8]`` polygons (absolute, any orientation)."""
    x, y = polys[:, 0::2], polys[:, 1::2]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))


def best_gt_per_detection(
    gt: GTArrays, det: DetArrays, num_images: int, iou_fn: PolyIoUFn | None = None, min_iou: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Max polygon IoU and its argmax GT for every detection (devkit ``ovmax``/``jmax``).

    Only GT of the same image and class are candidates. Pairs that provably cannot have
    ``IoU > min_iou`` get IoU 0 without polygon geometry: with ``m = min(area_det, area_gt,
    HBB intersection area)``, ``IoU <= m / (area_det + area_gt - m)``. Decisions at any threshold
    ``>= min_iou`` are unchanged (a detection whose best IoU is ``<= thr`` is an FP whatever its
    argmax), so this only saves time, like the devkit's own HBB pre-filter. NaN IoUs (degenerate
    polygons) become 0.

    Returns:
        ``ovmax[D]`` float64 (-inf when the detection has no candidate GT; exact where it is
        ``> min_iou``) and ``jmax[D]`` int64 global GT index (-1 when none; meaningful where
        ``ovmax > min_iou``). Ties go to the first GT in input order.
    """
    iou_fn = iou_fn or get_poly_iou()
    n_det = len(det.score)
    ovmax = np.full(n_det, -np.inf)
    jmax = np.full(n_det, -1, dtype=np.int64)
    det_idx, gt_idx, seg_start = _pairs(gt, det, num_images)
    if len(det_idx) == 0:
        return ovmax, jmax
    dh, gh = _hbb(det.polys)[det_idx], _hbb(gt.polys)[gt_idx]
    iw = np.minimum(dh[:, 2], gh[:, 2]) - np.maximum(dh[:, 0], gh[:, 0])
    ih = np.minimum(dh[:, 3], gh[:, 3]) - np.maximum(dh[:, 1], gh[:, 1])
    da, ga = _area(det.polys)[det_idx], _area(gt.polys)[gt_idx]
    m = np.minimum(np.minimum(da, ga), np.clip(iw, 0, None) * np.clip(ih, 0, None))
    denom = da + ga - m
    # keep pairs whose bound exceeds min_iou (compared without division; small slack for rounding)
    keep = (iw > 0) & (ih > 0) & (m > min_iou * denom * (1 - 1e-9))
    iou = np.zeros(len(det_idx))
    sel = np.flatnonzero(keep)
    for s in range(0, len(sel), _CHUNK):
        part = sel[s : s + _CHUNK]
        a = torch.from_numpy(np.ascontiguousarray(det.polys[det_idx[part]]))
        b = torch.from_numpy(np.ascontiguousarray(gt.polys[gt_idx[part]]))
        iou[part] = iou_fn(a, b, aligned=True).detach().cpu().double().numpy()
    iou = np.nan_to_num(iou, nan=0.0)
    has = np.unique(det_idx)  # detections with >= 1 candidate, ascending = segment order
    starts = seg_start[has]
    seg_max = np.maximum.reduceat(iou, starts)
    pos = np.arange(len(iou))
    first_max = np.minimum.reduceat(
        np.where(iou == seg_max[np.searchsorted(has, det_idx)], pos, len(iou)), starts
    )
    ovmax[has] = seg_max
    jmax[has] = gt_idx[first_max]
    return ovmax, jmax


def tp_fp_per_class(
    det: DetArrays,
    gt_difficult: np.ndarray,
    ovmax: np.ndarray,
    jmax: np.ndarray,
    class_index: int,
    iou_thr: float,
    ignore_difficult: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """TP/FP flags of one class's detections in score order (devkit L244-252).

    Order: score descending, ties in input order (stable sort; the devkit's quicksort leaves ties
    implementation-defined). A hit needs ``IoU > iou_thr`` (strict). The argmax GT alone decides:
    difficult (and ``ignore_difficult``) -> neither TP nor FP; first hit on it -> TP; later -> FP,
    even if another free GT also qualifies.

    Returns:
        ``(tp[Dc], fp[Dc])`` float64 0/1 arrays.
    """
    idx = np.flatnonzero(det.label == class_index)
    idx = idx[np.argsort(-det.score[idx], kind="stable")]
    ov, jm = ovmax[idx], jmax[idx]
    hit = ov > iou_thr
    ignored = np.zeros_like(hit)
    if ignore_difficult and len(gt_difficult):
        ignored = hit & gt_difficult[np.where(jm >= 0, jm, 0)]
    cand = np.flatnonzero(hit & ~ignored)
    tp = np.zeros(len(idx))
    _, first = np.unique(jm[cand], return_index=True)
    tp[cand[first]] = 1.0
    fp = (~ignored).astype(np.float64) - tp
    return tp, fp
