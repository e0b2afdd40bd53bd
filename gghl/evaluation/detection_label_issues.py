"""Ranked list of suspected detection label errors with suggested fixes (rows of the audit CSV).

One row per annotation whose largest issue probability reaches ``min_p`` (its issue type is that
largest one, see :mod:`gghl.evaluation.detection_label_quality`) and one row per *overlooked* object:
detections with ``P_overlooked >= min_p``, de-duplicated across classes in each image (a missed object is
often detected once per class; the most probable of detections overlapping by IoU > ``dedup_iou`` stands
for them). Rows are sorted by ``p`` descending (ties: image, object).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gghl.evaluation.detection_label_quality import DetectionAudit, boxes_to_obb, rotated_iou


def _poly_text(boxes: np.ndarray) -> str:
    """Corners ``x1 y1 ... x4 y4`` of one box in any supported format, 1 decimal."""
    import torch

    from gghl.structures import obb_to_poly

    obb, _ = boxes_to_obb(np.asarray(boxes, dtype=np.float64).reshape(1, -1))
    return " ".join(f"{v:.1f}" for v in obb_to_poly(torch.from_numpy(obb))[0].tolist())


def rank_issues(
    audit: DetectionAudit,
    annotations: Sequence[dict],
    predictions: Sequence[dict],
    class_names: Sequence[str],
    min_p: float = 0.05,
    dedup_iou: float = 0.5,
) -> list[dict]:
    """Rows ``{rank, image, object, issue, p, quality, given_class, suggested_class, iou, angle_error_deg,
    fix, box, predicted_box, pred_index, pred_score}`` most suspicious first.

    ``image`` is the image index, ``object`` the annotation index in that image (-1 for overlooked),
    ``box`` / ``predicted_box`` corner strings (the disagreeing detection: of the suggested class for a swap,
    the matched one for a location issue, the detection itself for an overlooked object; none for spurious); ``fix`` a sentence (relabel, replace or rotate the box,
    delete it, add the missing box). ``annotations`` / ``predictions`` as for ``audit_detection_labels``.
    """
    names = list(class_names)
    rows: list[dict] = []
    for a in np.flatnonzero(audit.p_issue >= min_p):
        i, j = int(audit.ann_image[a]), int(audit.ann_object[a])
        kind, lab = str(audit.issue[a]), int(audit.ann_label[a])
        # the disagreeing detection: of the suggested class for a swap, of the same class for a location issue
        m = int(audit.other_pred[a]) if kind == "swapped" else int(audit.match_pred[a])
        box = _poly_text(np.asarray(annotations[i]["boxes"])[j])
        pbox = _poly_text(np.asarray(predictions[i]["boxes"])[m]) if m >= 0 else ""
        pscore = float(np.asarray(predictions[i]["scores"])[m]) if m >= 0 else np.nan
        iou, turn = float(audit.match_iou[a]), float(audit.turn_deg[a])
        sug = int(audit.suggested_label[a])
        if kind == "swapped":
            fix = f"relabel {names[lab]} -> {names[sug]}"
        elif kind == "rotated":
            fix = f"rotate by {turn:+.1f} deg (IoU with the detection {iou:.2f} -> {float(audit.iou_rot[a]):.2f})"
        elif kind == "badly_located":
            fix = f"redraw the box, e.g. as the detection (IoU {iou:.2f})"
        else:
            fix = "delete the annotation (no detection supports it) or check the image"
        rows.append(
            {
                "image": i,
                "object": j,
                "issue": kind,
                "p": float(audit.p_issue[a]),
                "given_class": names[lab],
                "suggested_class": names[sug] if sug >= 0 else "",
                "iou": iou,
                "angle_error_deg": -turn,
                "fix": fix,
                "box": box,
                "predicted_box": pbox if kind != "spurious" else "",
                "pred_index": m if kind != "spurious" else -1,
                "pred_score": pscore if kind != "spurious" else np.nan,
            }
        )
    for i in np.unique(audit.pred_image[audit.p_overlooked >= min_p]):
        sel = np.flatnonzero((audit.pred_image == i) & (audit.p_overlooked >= min_p))
        sel = sel[np.argsort(-audit.p_overlooked[sel], kind="stable")]
        obb, _ = boxes_to_obb(np.asarray(predictions[i]["boxes"])[audit.pred_index[sel]])
        iou = rotated_iou(obb, obb)
        kept: list[int] = []
        for q in range(len(sel)):
            if all(iou[q, k] <= dedup_iou for k in kept):
                kept.append(q)
        for q in kept:
            d = int(sel[q])
            m, lab = int(audit.pred_index[d]), int(audit.pred_label[d])
            pbox = _poly_text(np.asarray(predictions[i]["boxes"])[m])
            rows.append(
                {
                    "image": int(i),
                    "object": -1,
                    "issue": "overlooked",
                    "p": float(audit.p_overlooked[d]),
                    "given_class": "",
                    "suggested_class": names[lab],
                    "iou": np.nan,
                    "angle_error_deg": np.nan,
                    "fix": f"add a {names[lab]} box at the detection (score {float(audit.pred_score[d]):.2f})",
                    "box": "",
                    "predicted_box": pbox,
                    "pred_index": m,
                    "pred_score": float(audit.pred_score[d]),
                }
            )
    rows.sort(key=lambda r: (-r["p"], r["image"], r["object"]))
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank
        r["quality"] = 1.0 - r["p"]
    return rows
