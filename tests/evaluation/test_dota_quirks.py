"""DOTA Task1 known answers, one per devkit quirk (docs/evaluation.md#devkit-quirks), computed by hand."""

from __future__ import annotations

import math

import pytest

from gghl.evaluation.dota import evaluate_task1, evaluate_task1_coco_style

HEADER = ["imagesource:GoogleEarth", "gsd:0.146343590398"]


def sq(x0: float, y0: float, x1: float, y1: float) -> str:
    """Axis-aligned box as a DOTA polygon string (clockwise on screen)."""
    return f"{x0:g} {y0:g} {x1:g} {y0:g} {x1:g} {y1:g} {x0:g} {y1:g}"


def run(write_dota, gt, dets, classes=("plane",), **kw):
    ann, det, imageset = write_dota(gt, dets)
    return evaluate_task1(ann, det, imageset, list(classes), **kw)


def test_eleven_point_grid_quirk(write_dota):
    # 10 GT, 3 perfect detections: recall 0.3 < grid point 0.30000000000000004 -> 3/11, not 4/11.
    boxes = [sq(20 * i, 0, 20 * i + 10, 10) for i in range(10)]
    gt = {"img": HEADER + [f"{b} plane 0" for b in boxes]}
    dets = {"plane": [f"img {0.9 - 0.1 * i:.1f} {boxes[i]}" for i in range(3)]}
    r = run(write_dota, gt, dets)
    assert r["AP"]["plane"] == pytest.approx(3 / 11, abs=1e-12)
    assert r["protocol"] == "dota-task1/voc07-11pt/iou>0.5/difficult=ignore" and r["official"]
    assert r["num_gt"] == {"plane": 10} and r["num_det"] == {"plane": 3}
    r = run(write_dota, gt, dets, use_07_metric=False)
    assert r["AP"]["plane"] == pytest.approx(0.3, abs=1e-12)  # all-point: 3 x (0.1 x precision 1)
    assert r["protocol"] == "dota-task1/all-point/iou>0.5/difficult=ignore" and not r["official"]


def test_iou_exactly_half_is_a_miss(write_dota):
    # det = lower half of the GT square: IoU = 50 / 100 = 0.5 exactly, and the devkit needs > 0.5.
    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0"]}
    dets = {"plane": [f"img 0.9 {sq(0, 0, 10, 5)}"]}
    assert run(write_dota, gt, dets)["AP"]["plane"] == 0.0
    assert run(write_dota, gt, dets, iou_thr=0.49)["AP"]["plane"] == pytest.approx(1.0, abs=1e-12)


def test_argmax_only_matching_gives_fp(write_dota):
    # GT A=[0,10]^2, B=[1,11]x[0,10]. det1 = A (TP). det2 = [0.4,10.4]x[0,10]: IoU 96/104 with A
    # (argmax, already taken) and 94/106 > 0.5 with free B -> still FP. tp=[1,0], rec=[.5,.5],
    # prec=[1,.5]: 11-pt AP = 6/11 (grid 0..0.5), all-point = 0.5. A best-free-GT matcher would give 1.
    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0", f"{sq(1, 0, 11, 10)} plane 0"]}
    dets = {"plane": [f"img 0.9 {sq(0, 0, 10, 10)}", f"img 0.8 {sq(0.4, 0, 10.4, 10)}"]}
    assert run(write_dota, gt, dets)["AP"]["plane"] == pytest.approx(6 / 11, abs=1e-12)
    assert run(write_dota, gt, dets, use_07_metric=False)["AP"]["plane"] == pytest.approx(0.5, abs=1e-12)


def test_difficult_ignored_vs_normal(write_dota):
    # GT1 normal, GT2 difficult. Two detections on GT2 (0.9, 0.8), one on GT1 (0.7).
    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0", f"{sq(50, 50, 60, 60)} plane 1"]}
    dets = {
        "plane": [
            f"img 0.9 {sq(50, 50, 60, 60)}",
            f"img 0.8 {sq(50, 50, 60, 60)}",
            f"img 0.7 {sq(0, 0, 10, 10)}",
        ]
    }
    # ignore: npos=1, dets on the difficult GT count neither way -> AP 1.
    r = run(write_dota, gt, dets)
    assert r["AP"]["plane"] == pytest.approx(1.0, abs=1e-12)
    assert r["num_gt"]["plane"] == 1 and r["num_difficult"]["plane"] == 1
    # normal: npos=2, tp=[1,0,1] fp=[0,1,0]: rec .5,.5,1 prec 1,.5,2/3.
    r = run(write_dota, gt, dets, difficult="normal")
    assert r["AP"]["plane"] == pytest.approx((6 + 5 * 2 / 3) / 11, abs=1e-12)
    assert r["protocol"].endswith("difficult=normal") and r["num_gt"]["plane"] == 2
    r = run(write_dota, gt, dets, difficult="normal", use_07_metric=False)
    assert r["AP"]["plane"] == pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-12)


def test_empty_and_missing_class_files_give_zero(write_dota):
    gt = {
        "img": [f"{sq(0, 0, 10, 10)} plane 0", f"{sq(20, 0, 30, 10)} ship 0", f"{sq(40, 0, 50, 10)} harbor 0"]
    }
    dets = {"plane": [f"img 0.9 {sq(0, 0, 10, 10)}"], "ship": [], "harbor": None}
    r = run(write_dota, gt, dets, classes=("plane", "ship", "harbor"))
    assert r["AP"] == pytest.approx({"plane": 1.0, "ship": 0.0, "harbor": 0.0}, abs=1e-12)
    assert r["mAP"] == pytest.approx(1 / 3, abs=1e-12)
    assert len(r["missing_det_files"]) == 1 and r["missing_det_files"][0].endswith("Task1_harbor.txt")


def test_class_without_positives_is_zero_and_counted(write_dota):
    # 'ship' has only a difficult GT: npos = 0. The devkit divides by zero; we define AP = 0.
    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0", f"{sq(20, 0, 30, 10)} ship 1"]}
    dets = {"plane": [f"img 0.9 {sq(0, 0, 10, 10)}"], "ship": [f"img 0.9 {sq(20, 0, 30, 10)}"]}
    for use07 in (True, False):
        r = run(write_dota, gt, dets, classes=("plane", "ship"), use_07_metric=use07)
        assert r["AP"]["ship"] == 0.0 and not math.isnan(r["mAP"])
        assert r["classes_without_gt"] == ["ship"] and r["mAP"] == pytest.approx(0.5, abs=1e-12)


def test_unknown_image_error_ignore_fp(write_dota):
    from gghl.data.dota_text import DotaFormatError

    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0"]}
    dets = {"plane": [f"img 0.5 {sq(0, 0, 10, 10)}", f"nope 0.9 {sq(0, 0, 10, 10)}"]}
    with pytest.raises(DotaFormatError, match=r"Task1_plane\.txt:2: image 'nope' is not in the image set"):
        run(write_dota, gt, dets)
    r = run(write_dota, gt, dets, unknown_images="ignore")
    assert r["AP"]["plane"] == pytest.approx(1.0, abs=1e-12) and r["num_det_unknown_image"] == 1
    # kept as an FP ranked first: tp=[0,1] -> prec [0, .5], rec [0, 1] -> 11-pt AP 0.5
    r = run(write_dota, gt, dets, unknown_images="fp")
    assert r["AP"]["plane"] == pytest.approx(0.5, abs=1e-12) and r["num_det"]["plane"] == 2


def test_ties_sorted_stably_in_file_order(write_dota):
    # Same score; file order decides. FP first: prec [0, .5] -> 0.5. TP first: prec [1, .5] -> 1.
    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0"]}
    hit, miss = f"img 0.5 {sq(0, 0, 10, 10)}", f"img 0.5 {sq(100, 100, 110, 110)}"
    assert run(write_dota, gt, {"plane": [miss, hit]})["AP"]["plane"] == pytest.approx(0.5, abs=1e-12)
    assert run(write_dota, gt, {"plane": [hit, miss]})["AP"]["plane"] == pytest.approx(1.0, abs=1e-12)


def test_gt_of_other_classes_and_vertex_order_do_not_matter(write_dota):
    # det given counter-clockwise from another start vertex; a 'ship' GT on the same spot is not a candidate.
    gt = {"img": [f"{sq(0, 0, 10, 10)} ship 0", f"{sq(0, 0, 10, 10)} plane 0"]}
    dets = {"plane": ["img 0.9 10 10 10 0 0 0 0 10"]}
    r = run(write_dota, gt, dets)
    assert r["AP"]["plane"] == pytest.approx(1.0, abs=1e-12) and r["num_gt"] == {"plane": 1}


def test_imageset_as_list_and_images_without_objects(write_dota):
    gt = {"a": [f"{sq(0, 0, 10, 10)} plane 0"], "b": HEADER}
    ann, det, _ = write_dota(gt, {"plane": [f"b 0.9 {sq(0, 0, 10, 10)}", f"a 0.8 {sq(0, 0, 10, 10)}"]})
    r = evaluate_task1(ann, det, ["a", "b"], ["plane"])
    assert r["num_images"] == 2 and r["AP"]["plane"] == pytest.approx(0.5, abs=1e-12)


def test_coco_style_is_mean_over_thresholds(write_dota):
    # det shifted by 1 px: IoU = 90/110 = 0.818 -> hit for t in .50..0.80, miss for .85..0.95.
    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0"]}
    ann, det, imageset = write_dota(gt, {"plane": [f"img 0.9 {sq(1, 0, 11, 10)}"]})
    r = evaluate_task1_coco_style(ann, det, imageset, ["plane"])
    assert r["mAP"] == pytest.approx(0.7, abs=1e-12)
    assert r["mAP50"] == pytest.approx(1.0) and r["mAP75"] == pytest.approx(1.0)
    assert (
        r["mAP_per_iou"]["0.85"] == 0.0 and "all-point" in r["protocol"] and "0.50:0.05:0.95" in r["protocol"]
    )
    for t in (0.5, 0.8, 0.85):
        single = evaluate_task1(ann, det, imageset, ["plane"], iou_thr=t, use_07_metric=False)["mAP"]
        assert r["mAP_per_iou"][f"{t:.2f}"] == pytest.approx(single, abs=1e-15)


def test_bad_options_rejected(write_dota):
    gt = {"img": [f"{sq(0, 0, 10, 10)} plane 0"]}
    for kw in ({"difficult": "hard"}, {"iou_thr": 1.0}, {"unknown_images": "skip"}, {"classes": ()}):
        with pytest.raises(ValueError):
            run(write_dota, gt, {"plane": []}, **kw)
