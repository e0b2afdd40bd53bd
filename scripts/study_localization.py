#!/usr/bin/env python
"""Where a GGHL checkpoint's boxes lose IoU: post-processing thresholds and per-class box errors.

    python scripts/study_localization.py --ckpt logs/gghl_synthetic/runs/<time>/checkpoints/last.ckpt

On the checkpoint's own test split (the ``make train`` synthetic set by default), in fp32:

1. **Thresholds**: VOC07 mAP50 and the all-point AP50 / mAP50:95 / mAP75 (DOTA matching) for a grid of NMS IoU
   and score thresholds, so a looser-than-necessary NMS shows up as a change of mAP75.
2. **Box errors**: for every ground-truth object whose best same-class detection has IoU >= 0.3, the IoU, the
   share above 0.75, the IoU with the centre replaced by the ground truth's, with width/height replaced (the
   detection's angle error kept), and the mean absolute angle error (modulo 180 degrees), per class.
"""

from __future__ import annotations

import argparse
import math


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True, help="a GGHL checkpoint")
    ap.add_argument("--nms", default="0.1,0.2,0.3,0.45,0.6", help="comma-separated NMS IoU thresholds")
    ap.add_argument("--scores", default="0.05,0.01", help="comma-separated score thresholds")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = ap.parse_args()

    import hydra
    import torch

    from gghl.evaluation.dota import evaluate_polygons_coco_style
    from gghl.ops.boxes import poly_iou
    from gghl.structures.min_area_rect import poly_to_obb
    from gghl.structures.obb import obb_to_poly, wrap_angle
    from gghl.tasks.gghl_detection import original_ground_truth
    from gghl.tasks.restore import restore_task

    torch.set_num_threads(args.threads)
    loaded = restore_task(args.ckpt, expected_kind="gghl")
    task, post = loaded.task, loaded.task.postprocess
    dm = hydra.utils.instantiate(loaded.config["data"])
    dm.setup("test")
    batches = list(dm.test_dataloader())
    gts = {t["image_id"]: original_ground_truth(t) for _, targets in batches for t in targets}
    classes = list(task.class_names)

    def detect() -> dict:
        with torch.inference_mode():
            return {
                t["image_id"]: p
                for images, targets in batches
                for t, p in zip(targets, task.predict_batch(images, targets))
            }

    stored = (post.nms_thresh, post.score_thresh)
    print(
        f"checkpoint post-processing: nms_thresh={stored[0]} score_thresh={stored[1]} ({len(gts)} test images)"
    )
    for nms in (float(v) for v in args.nms.split(",")):
        for score in (float(v) for v in args.scores.split(",")):
            post.nms_thresh, post.score_thresh = nms, score
            r = evaluate_polygons_coco_style(gts, detect(), classes, use_07_metric=True, also_all_point=True)
            a = r["all_point"]
            print(
                f"  nms {nms:.2f} score {score:.2f}: VOC07 mAP50 {r['mAP50']:.4f} | all-point AP50 {a['mAP50']:.4f}"
                f" mAP50:95 {a['mAP']:.4f} mAP75 {a['mAP75']:.4f}"
            )
    post.nms_thresh, post.score_thresh = stored

    rows: dict[str, list[tuple[float, float, float, float]]] = {c: [] for c in classes}
    for name, det in detect().items():
        gt = gts[name]
        if len(gt["labels"]) == 0 or len(det["labels"]) == 0:
            continue
        g_poly, d_poly = gt["polygons"].float(), det["polygons"].float()
        iou = poly_iou(g_poly, d_poly) * (gt["labels"][:, None] == det["labels"][None, :])
        best, idx = iou.max(1)
        g_obb, d_obb = poly_to_obb(g_poly), poly_to_obb(d_poly[idx])
        turn = wrap_angle(d_obb[:, 4] - g_obb[:, 4], -math.pi / 2, math.pi)  # angle error modulo 180 degrees
        centred, sized = d_obb.clone(), d_obb.clone()
        centred[:, :2] = g_obb[:, :2]
        sized[:, 2:4], sized[:, 4] = g_obb[:, 2:4], g_obb[:, 4] + turn
        iou_c = poly_iou(g_poly, obb_to_poly(centred), aligned=True)
        iou_s = poly_iou(g_poly, obb_to_poly(sized), aligned=True)
        for k in torch.nonzero(best >= 0.3).flatten().tolist():
            rows[classes[int(gt["labels"][k])]].append(
                (float(best[k]), float(iou_c[k]), float(iou_s[k]), abs(float(turn[k])) * 180 / math.pi)
            )
    print("class          objects  IoU    IoU>0.75  IoU(GT centre)  IoU(GT size)  |angle err| deg")
    for c, r in rows.items():
        if r:
            t = torch.tensor(r)
            print(
                f"  {c:13s} {len(r):5d}  {t[:, 0].mean():.3f}  {(t[:, 0] > 0.75).float().mean():.3f}"
                f"     {t[:, 1].mean():.3f}           {t[:, 2].mean():.3f}         {t[:, 3].mean():5.1f}"
            )


if __name__ == "__main__":
    main()
