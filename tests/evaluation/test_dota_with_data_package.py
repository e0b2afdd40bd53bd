"""The evaluator on files written by the data package's synthetic DOTA writer."""

from __future__ import annotations

import numpy as np
import pytest

from gghl.evaluation.dota import evaluate_task1
from gghl.evaluation.dota_match import DetArrays, GTArrays
from gghl.testing.dota_reference import devkit_evaluate


def test_synthetic_dota_layout(tmp_path):
    synth = pytest.importorskip("gghl.data.synthetic")
    export = pytest.importorskip("gghl.data.synthetic_export")
    ds = synth.SyntheticOrientedDataset(length=4, img_size=160, num_classes=3, seed=1, difficult_prob=0.3)
    base = export.write_synthetic_dota(ds, tmp_path, split="val")
    names = [ds.image_id(i) for i in range(len(ds))]
    classes = list(ds.class_names)
    renders = [ds.render(i) for i in range(len(ds))]
    rng = np.random.default_rng(0)
    det_dir = tmp_path / "dets"
    det_dir.mkdir()
    # detections: every GT, jittered by up to 3 px per vertex; 30% dropped; plus a few random FPs
    rows = {c: [] for c in classes}
    for name, r in zip(names, renders):
        for poly, lab in zip(r.polygons, r.labels):
            if rng.random() < 0.3:
                continue
            p = poly + rng.uniform(-3, 3, 8)
            rows[classes[lab]].append((name, float(rng.random()), p))
        for _ in range(2):
            p = renders[0].polygons[0] + rng.uniform(40, 60)
            rows[classes[rng.integers(3)]].append((name, float(rng.random()), p))
    for c, lines in rows.items():
        text = "".join(f"{n} {s!r} " + " ".join(repr(float(v)) for v in p) + "\n" for n, s, p in lines)
        (det_dir / f"Task1_{c}.txt").write_text(text)
    res = evaluate_task1(base / "labelTxt", det_dir, names, classes)
    assert sum(res["num_difficult"].values()) > 0 and 0.2 < res["mAP"] < 1.0

    gt = GTArrays(
        image=np.concatenate([np.full(len(r.labels), i) for i, r in enumerate(renders)]),
        label=np.concatenate([r.labels for r in renders]).astype(np.int64),
        polys=np.concatenate([r.polygons for r in renders]).astype(np.float64),
        difficult=np.concatenate([r.difficult for r in renders]).astype(bool),
    )
    flat = [(names.index(n), k, s, p) for k, c in enumerate(classes) for n, s, p in rows[c]]
    det = DetArrays(
        image=np.array([f[0] for f in flat]),
        label=np.array([f[1] for f in flat]),
        score=np.array([f[2] for f in flat]),
        polys=np.array([f[3] for f in flat]),
    )
    ref_map, _ = devkit_evaluate(gt, det, len(names), len(classes))
    assert res["mAP"] == pytest.approx(ref_map, abs=1e-9)
