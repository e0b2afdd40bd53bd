"""The vectorised evaluator equals the faithful devkit loop (dota_reference) on random sets, and the
file API, in-memory API and CLI agree with each other."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gghl.evaluation.dota import evaluate_polygons, evaluate_polygons_coco_style, evaluate_task1
from gghl.evaluation.dota_ap import VOC07_GRID, voc_ap
from gghl.evaluation.dota_cli import main
from gghl.testing.dota_reference import as_mappings, devkit_evaluate, make_random_set


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("use07", "difficult", "thr"),
    [(True, "ignore", 0.5), (False, "ignore", 0.5), (True, "normal", 0.3), (False, "normal", 0.75)],
)
def test_equals_devkit_loop_on_random_sets(seed, use07, difficult, thr):
    n_img, n_cls = 12, 4
    gt, det = make_random_set(seed, n_img, n_cls, num_dets=600, gt_per_image=12, image_size=400.0)
    gts, dets, det = as_mappings(gt, det, n_img)
    classes = [f"c{i}" for i in range(n_cls)]
    fast = evaluate_polygons(gts, dets, classes, iou_thr=thr, use_07_metric=use07, difficult=difficult)
    ref_map, ref_aps = devkit_evaluate(gt, det, n_img, n_cls, thr, use07, difficult == "ignore")
    assert [fast["AP"][c] for c in classes] == pytest.approx(ref_aps, abs=1e-9)
    assert fast["mAP"] == pytest.approx(ref_map, abs=1e-9)
    assert 0.05 < fast["mAP"] < 0.95  # a non-trivial set
    assert fast["num_gt"][classes[0]] == int(
        ((gt.label == 0) & ~(gt.difficult & (difficult == "ignore"))).sum()
    )


def test_file_api_equals_in_memory_api_and_cli(tmp_path, write_dota):
    n_img, classes = 6, ["plane", "ship", "harbor"]
    gt, det = make_random_set(5, n_img, 3, num_dets=200, gt_per_image=8, image_size=300.0)
    gts, dets, det = as_mappings(gt, det, n_img)
    fmt = lambda p: " ".join(repr(float(v)) for v in p)  # noqa: E731 - exact round trip
    gt_lines = {
        f"im{i}": ["gsd:0.1"]
        + [f"{fmt(p)} {classes[c]} {int(d)}" for p, c, d in zip(g["polygons"], g["labels"], g["difficult"])]
        for i, g in gts.items()
    }
    det_lines = {
        c: [
            f"im{i} {float(s)!r} {fmt(p)}"
            for i, s, p, lab in zip(det.image, det.score, det.polys, det.label)
            if lab == k
        ]
        for k, c in enumerate(classes)
    }
    ann, det_dir, imageset = write_dota(gt_lines, det_lines)
    mem = evaluate_polygons(gts, dets, classes)
    files = evaluate_task1(ann, det_dir, imageset, classes)
    assert (
        files["AP"] == mem["AP"] and files["num_gt"] == mem["num_gt"] and files["num_det"] == mem["num_det"]
    )
    out = tmp_path / "r.json"
    rc = main(["--ann-dir", str(ann), "--det-dir", str(det_dir), "--imageset", str(imageset),
               "--classes", ",".join(classes), "--json", str(out)])  # fmt: skip
    assert rc == 0 and json.loads(out.read_text())["AP"] == pytest.approx(files["AP"], abs=1e-15)


def test_cli_prints_table_and_version_defaults(write_dota, capsys):
    ann, det, imageset = write_dota(
        {"img": ["0 0 10 0 10 10 0 10 plane 1"]}, {"plane": ["img 0.9 0 0 10 0 10 10 0 10"]}
    )
    args = ["--ann-dir", str(ann), "--det-dir", str(det), "--imageset", str(imageset)]
    main(args)
    text = capsys.readouterr().out
    assert "plane" in text and "difficult=ignore (official)" in text and "missing result file" in text
    main(args + ["--version", "v1.5"])  # the v1.5 script treats difficult objects as normal
    text = capsys.readouterr().out
    assert "difficult=normal" in text and "container-crane" in text
    assert "\nplane       " in text and "   1.0000" in text


def test_in_memory_accepts_tensors_unknown_images_and_coco_style():
    sq = torch.tensor([[0.0, 0, 10, 0, 10, 10, 0, 10]])
    gts = {
        0: {"polygons": sq, "labels": torch.tensor([0])},
        1: {"polygons": torch.zeros(0, 8), "labels": torch.zeros(0)},
    }
    dets = {0: {"polygons": sq, "scores": torch.tensor([0.5]), "labels": torch.tensor([0])},
            7: {"polygons": sq, "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}}  # fmt: skip
    with pytest.raises(KeyError, match="image 7"):
        evaluate_polygons(gts, dets, ["plane"])
    r = evaluate_polygons(gts, dets, ["plane"], unknown_images="fp")
    assert r["AP"]["plane"] == pytest.approx(0.5, abs=1e-12) and r["num_det_unknown_image"] == 1
    r = evaluate_polygons_coco_style(gts, dets, ["plane"], unknown_images="ignore")
    assert r["mAP"] == pytest.approx(1.0, abs=1e-12) and r["mAP75"] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="labels outside"):
        evaluate_polygons(gts, {0: {"polygons": sq, "scores": [0.5], "labels": [3]}}, ["plane"])


@pytest.mark.parametrize("seed", [0, 1])
def test_both_ap_variants_from_one_matching_equal_two_calls(seed):
    n_img, n_cls = 10, 3
    gt, det = make_random_set(seed, n_img, n_cls, num_dets=300, gt_per_image=8, image_size=300.0)
    gts, dets, _ = as_mappings(gt, det, n_img)
    classes = [f"c{i}" for i in range(n_cls)]
    both = evaluate_polygons_coco_style(gts, dets, classes, use_07_metric=True, also_all_point=True)
    voc07 = evaluate_polygons_coco_style(gts, dets, classes, use_07_metric=True)
    all_point = evaluate_polygons_coco_style(gts, dets, classes, use_07_metric=False)
    for key in ("mAP", "mAP50", "mAP75", "AP", "mAP_per_iou"):
        assert both[key] == voc07[key] and both["all_point"][key] == all_point[key], key
    assert both["all_point"]["mAP"] != both["mAP"]  # the variants differ on this set
    assert "all_point" not in voc07
    same = evaluate_polygons_coco_style(gts, dets, classes, use_07_metric=False, also_all_point=True)
    assert same["all_point"]["mAP"] == same["mAP"] == all_point["mAP"]


def test_voc_ap_grid_and_envelope_by_hand():
    assert VOC07_GRID[3] == 0.30000000000000004 and len(VOC07_GRID) == 11
    rec, prec = np.array([0.2, 0.4, 0.4, 0.8]), np.array([1.0, 1.0, 0.5, 0.75])
    # 11-pt: t<=.4 -> 1 (5 pts), .5..0.8 -> .75 (t=0.8 ok: 0.8 >= 0.8), .9, 1.0 -> 0
    assert voc_ap(rec, prec, True) == pytest.approx((5 + 0.75 * 4) / 11, abs=1e-15)
    # all-point: .4 x 1 + .4 x .75 (envelope lifts the .5)
    assert voc_ap(rec, prec, False) == pytest.approx(0.4 + 0.3, abs=1e-15)


def test_module_runs_as_script(write_dota, tmp_path):
    import subprocess
    import sys

    ann, det, imageset = write_dota(
        {"img": ["0 0 10 0 10 10 0 10 plane 0"]}, {"plane": ["img 0.9 0 0 10 0 10 10 0 10"]}
    )
    out = tmp_path / "res.json"
    cmd = [sys.executable, "-m", "gghl.evaluation.dota_cli", "--ann-dir", str(ann), "--det-dir", str(det),
           "--imageset", str(imageset), "--classes", "plane", "--all-point", "--json", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "dota-task1/all-point/iou>0.5/difficult=ignore" in proc.stdout
    assert json.loads(out.read_text())["mAP"] == 1.0
