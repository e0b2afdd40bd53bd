"""gghl.evaluation.coco.evaluate vs plain pycocotools, and backend agreement."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest

from gghl.evaluation.coco import STAT_NAMES, available_backends, evaluate

CATS = [1, 5, 90]  # non-contiguous ids


def _dataset(seed: int = 0) -> tuple[dict, list[dict]]:
    """GT with crowd regions and all three area ranges; >100 detections on image 3."""
    rng = np.random.default_rng(seed)
    images = [{"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"} for i in (3, 7, 11, 20)]
    anns, dets = [], []
    for img in images:
        n = 60 if img["id"] == 3 else 12
        for _ in range(n):
            w, h = rng.choice([12.0, 50.0, 150.0]) * rng.uniform(0.6, 1.4, 2)  # small / medium / large
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            cat = int(rng.choice(CATS))
            crowd = int(rng.random() < 0.08)
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "bbox": [x, y, w, h],
                         "area": float(w * h), "iscrowd": crowd})  # fmt: skip
            for _ in range(rng.integers(1, 4)):  # near-duplicates, some with the wrong class
                j = rng.normal(0, 0.08, 4) * [w, h, w, h]
                dets.append({"image_id": img["id"], "category_id": cat if rng.random() < 0.85 else int(rng.choice(CATS)),
                             "bbox": [x + j[0], y + j[1], w + j[2], h + j[3]], "score": float(rng.random())})  # fmt: skip
        for _ in range(20):  # background false positives
            dets.append({"image_id": img["id"], "category_id": int(rng.choice(CATS)),
                         "bbox": list(rng.uniform(0, 300, 4) + [0, 0, 5, 5]), "score": float(rng.random() * 0.5)})  # fmt: skip
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": f"c{c}"} for c in CATS]}
    return gt, dets


def _plain_pycocotools(tmp_path, gt: dict, dets: list[dict]) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(tmp_path / "gt.json"))
        cd = cg.loadRes(str(tmp_path / "dt.json"))
        ev = COCOeval(cg, cd, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return list(ev.stats)


def test_dataset_exercises_crowd_and_maxdets():
    gt, dets = _dataset()
    assert sum(a["iscrowd"] for a in gt["annotations"]) > 0
    assert sum(d["image_id"] == 3 for d in dets) > 100


def test_pycocotools_backend_equals_plain_pycocotools(tmp_path):
    gt, dets = _dataset()
    before = copy.deepcopy((gt, dets))
    ours = evaluate(gt, dets, backend="pycocotools")
    assert list(ours) == list(STAT_NAMES)
    assert list(ours.values()) == _plain_pycocotools(tmp_path, gt, dets)
    assert (gt, dets) == before  # inputs untouched
    assert 0.2 < ours["AP"] < 0.95 and ours["AR1"] < ours["AR10"] <= ours["AR100"]


@pytest.mark.skipif("faster_coco_eval" not in available_backends(), reason="faster-coco-eval not installed")
def test_backends_agree(tmp_path):
    gt, dets = _dataset(1)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    ref = evaluate(gt, dets, backend="pycocotools")
    fast = evaluate(tmp_path / "gt.json", tmp_path / "dt.json", backend="faster_coco_eval")
    assert list(fast) == list(STAT_NAMES)
    for k in STAT_NAMES:
        assert fast[k] == pytest.approx(ref[k], abs=1e-12), k
    assert evaluate(gt, dets, backend="auto") == fast


@pytest.mark.parametrize("backend", available_backends())
def test_empty_detections_give_zeros(backend):
    gt, _ = _dataset()
    assert evaluate(gt, [], backend=backend) == dict.fromkeys(STAT_NAMES, 0.0)


def test_bad_input_messages():
    gt, dets = _dataset()
    with pytest.raises(ValueError, match="image_id 999"):
        evaluate(gt, [{**dets[0], "image_id": 999}])
    with pytest.raises(ValueError, match="lacks \\['score'\\]"):
        evaluate(gt, [{k: v for k, v in dets[0].items() if k != "score"}])
    with pytest.raises(ValueError, match="backend"):
        evaluate(gt, dets, backend="torchmetrics")
    with pytest.raises(FileNotFoundError, match="ground-truth file not found"):
        evaluate("/nonexistent/gt.json", dets)
