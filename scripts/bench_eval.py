"""Benchmark: vectorised DOTA Task1 evaluator vs a faithful devkit re-implementation.

The baseline is :func:`gghl.testing.dota_reference.devkit_evaluate`: the devkit's ``voc_eval``
loop (per detection: HBB pre-filter with the ``+1`` convention, shapely polygon IoU per kept GT,
argmax, TP/FP), the same AP code. The fast path is :func:`gghl.evaluation.dota.evaluate_polygons`
(one batched ``gghl.ops.poly_iou`` call over the candidate pairs, no per-detection loop).

It generates 20k detections over 200 images / 15 classes, checks that both give the same per-class
APs (to 1e-9) under several protocols, times both (best of ``--repeat``), and prints the ratio. The
file path (write Task1 files, ``evaluate_task1``) is timed too, for information. Torch runs with
one intra-op thread by default (``--threads``): the devkit loop is single-threaded, and on a shared
machine extra torch threads made the batched geometry slower, not faster.

    .venv/bin/python scripts/bench_eval.py [--dets 20000] [--images 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dets", type=int, default=20_000)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--classes", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (the devkit loop uses one core)"
    )
    return ap


if __name__ == "__main__":
    build_parser().parse_args()  # answers --help before the heavy imports below

import torch  # noqa: E402

from gghl.evaluation.dota import evaluate_polygons, evaluate_task1  # noqa: E402
from gghl.evaluation.dota_match import DetArrays, GTArrays  # noqa: E402
from gghl.testing.dota_reference import as_mappings, devkit_evaluate, make_random_set  # noqa: E402


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _write_task1(root: Path, gt: GTArrays, det: DetArrays, n_img: int, classes: list[str]) -> None:
    (root / "labelTxt").mkdir()
    (root / "dets").mkdir()
    for i in range(n_img):
        m = gt.image == i
        lines = [
            " ".join(f"{v:.6f}" for v in p) + f" {classes[c]} {int(d)}"
            for p, c, d in zip(gt.polys[m], gt.label[m], gt.difficult[m])
        ]
        (root / "labelTxt" / f"img{i}.txt").write_text(
            "imagesource:bench\ngsd:0.1\n" + "".join(x + "\n" for x in lines)
        )
    for c, name in enumerate(classes):
        m = det.label == c
        lines = [
            f"img{i} {s:.2f} " + " ".join(f"{v:.6f}" for v in p)
            for i, s, p in zip(det.image[m], det.score[m], det.polys[m])
        ]
        (root / "dets" / f"Task1_{name}.txt").write_text("".join(x + "\n" for x in lines))
    (root / "imageset.txt").write_text("".join(f"img{i}\n" for i in range(n_img)))


def main() -> None:
    args = build_parser().parse_args()
    torch.set_num_threads(args.threads)
    classes = [f"c{i}" for i in range(args.classes)]
    gt, det = make_random_set(args.seed, args.images, args.classes, args.dets)
    gts, dets, det = as_mappings(gt, det, args.images)
    print(
        f"{len(det.score)} detections, {len(gt.label)} GT ({int(gt.difficult.sum())} difficult), "
        f"{args.images} images, {args.classes} classes, torch threads {torch.get_num_threads()}"
    )

    worst = 0.0
    for use07, diff, thr in ((True, "ignore", 0.5), (False, "ignore", 0.5), (True, "normal", 0.7)):
        fast = evaluate_polygons(gts, dets, classes, iou_thr=thr, use_07_metric=use07, difficult=diff)
        ref_map, ref_aps = devkit_evaluate(gt, det, args.images, args.classes, thr, use07, diff == "ignore")
        diffs = [abs(fast["AP"][c] - r) for c, r in zip(classes, ref_aps)] + [abs(fast["mAP"] - ref_map)]
        worst = max(worst, max(diffs))
        print(
            f"  {fast['protocol']:<45} mAP fast {fast['mAP']:.12f} devkit {ref_map:.12f} max|diff| {max(diffs):.1e}"
        )
    assert worst <= 1e-9, f"fast and devkit disagree by {worst}"

    t_fast, _ = _best(lambda: evaluate_polygons(gts, dets, classes), args.repeat)
    t_ref, _ = _best(lambda: devkit_evaluate(gt, det, args.images, args.classes), max(1, args.repeat - 1))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_task1(root, gt, det, args.images, classes)
        t_file, res = _best(
            lambda: evaluate_task1(root / "labelTxt", root / "dets", root / "imageset.txt", classes),
            args.repeat,
        )
    print(f"devkit-style loop (shapely)    : {t_ref * 1e3:9.1f} ms")
    print(f"vectorised evaluate_polygons   : {t_fast * 1e3:9.1f} ms")
    print(f"evaluate_task1 incl. file I/O  : {t_file * 1e3:9.1f} ms   (mAP {res['mAP']:.6f})")
    print(f"speed-up (in-memory, best of {args.repeat}): {t_ref / t_fast:.1f}x")


if __name__ == "__main__":
    main()
