"""Average precision exactly as the DOTA devkit computes it (``voc_ap``, ``voc_eval`` L54-85, L261-267).

Everything here works on one class: the per-detection ``tp``/``fp`` flags in score order and the
number of positives ``npos``. The arithmetic (and its order) follows the devkit so that numbers match
published ones bit for bit where possible and to ~1e-15 otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["VOC07_GRID", "voc_ap", "precision_recall", "average_precision"]

#: The devkit's 11-point grid, ``np.arange(0., 1.1, 0.1)``. Kept on purpose with its float quirks:
#: it holds 0.30000000000000004, 0.6000000000000001 and 0.7000000000000001, so a recall of exactly
#: 0.3/0.6/0.7 falls *below* its grid point (docs/evaluation.md#devkit-quirk-eleven-point-grid). mmdet's
#: ``11points`` mode produces the same values.
VOC07_GRID: np.ndarray = np.arange(0.0, 1.1, 0.1)


def voc_ap(rec: np.ndarray, prec: np.ndarray, use_07_metric: bool = True) -> float:
    """VOC AP from recall/precision curves (devkit ``voc_ap``).

    Args:
        rec: ``[D]`` float64 recall after each detection (score order), non-decreasing.
        prec: ``[D]`` float64 precision after each detection.
        use_07_metric: True for VOC07 11-point AP on :data:`VOC07_GRID`; False for all-point
            (area under the monotone precision envelope, VOC2010+).

    Returns:
        AP as a Python float. The 11-point sum can reach 1.0000000000000002, as in the devkit.
    """
    rec = np.asarray(rec, dtype=np.float64)
    prec = np.asarray(prec, dtype=np.float64)
    if use_07_metric:
        ap = 0.0
        for t in VOC07_GRID:
            above = rec >= t
            p = float(np.max(prec[above])) if above.any() else 0.0
            ap = ap + p / 11.0  # same accumulation order as the devkit
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    # Envelope: precision at recall r = max precision at any recall >= r (exact, order-free).
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def precision_recall(tp: np.ndarray, fp: np.ndarray, npos: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative recall and precision (devkit L261-267).

    Args:
        tp, fp: ``[D]`` 0/1 flags per detection in score order. A detection ignored because its
            best GT is difficult has both flags 0 and stays in the arrays, as in the devkit.
        npos: number of (non-ignored) ground-truth objects; must be > 0.

    Returns:
        ``(rec, prec)``, both ``[D]`` float64.
    """
    if npos <= 0:
        raise ValueError("precision_recall needs npos > 0")
    ctp = np.cumsum(np.asarray(tp, dtype=np.float64))
    cfp = np.cumsum(np.asarray(fp, dtype=np.float64))
    rec = ctp / float(npos)
    prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    return rec, prec


def average_precision(tp: np.ndarray, fp: np.ndarray, npos: int, use_07_metric: bool = True) -> float:
    """AP of one class, NaN-free.

    Defined cases the devkit does not handle:
      * no detections: AP = 0 (the devkit crashes on an empty result file);
      * ``npos == 0`` (no non-ignored GT of this class): AP = 0. The devkit divides by zero; its
        11-point AP then happens to be 0 and its all-point AP is NaN. The class still counts in
        the mAP mean, like every listed class in the official script.
    """
    if npos <= 0 or len(tp) == 0:
        return 0.0
    rec, prec = precision_recall(tp, fp, npos)
    return voc_ap(rec, prec, use_07_metric)
