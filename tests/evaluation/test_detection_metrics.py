"""DOTAMetric / COCOMetric: accumulation, DDP merge with a DistributedSampler duplicate, dedup."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gghl.evaluation.coco import STAT_NAMES, available_backends, evaluate
from gghl.evaluation.detection_metrics import COCOMetric, DOTAMetric, image_key
from gghl.evaluation.dota import evaluate_polygons
from gghl.testing.dota_reference import make_random_set

CLASSES = ["a", "b", "c"]


def _dota_records(n_img: int = 6):
    gt, det = make_random_set(3, n_img, len(CLASSES), num_dets=150, gt_per_image=8, image_size=300.0)
    preds, targets = [], []
    for i in range(n_img):
        g, d = gt.image == i, det.image == i
        targets.append({"polygons": torch.from_numpy(gt.polys[g]).float(), "labels": torch.from_numpy(gt.label[g]),
                        "difficult": torch.from_numpy(gt.difficult[g]), "image_id": f"P{i:04d}"})  # fmt: skip
        preds.append({"polygons": torch.from_numpy(det.polys[d]), "scores": torch.from_numpy(det.score[d]),
                      "labels": torch.from_numpy(det.label[d])})  # fmt: skip
    return preds, targets


def _merge_like_ddp(rank0, rank1) -> None:
    """Make ``rank0.compute()`` go through torchmetrics' real sync path with a fake all-gather that
    returns ``[rank0 state, rank1 state]`` for every state (in the order torchmetrics gathers them)."""
    others = iter([torch.cat(getattr(rank1, a)) for a in rank1._reductions])
    rank0.dist_sync_fn = lambda t, group=None: [t, next(others)]
    rank0.distributed_available_fn = lambda: True


def test_dota_metric_equals_evaluator():
    preds, targets = _dota_records()
    m = DOTAMetric(CLASSES)
    m.update(preds[:4], targets[:4])
    m.update(preds[4:], targets[4:])
    out = m.compute()
    # the metric evaluates images in image-key order (score ties broken by key, then row)
    order = sorted(range(len(targets)), key=lambda i: image_key(targets[i]["image_id"]))
    gts = {targets[i]["image_id"]: targets[i] for i in order}
    dets = {targets[i]["image_id"]: preds[i] for i in order}
    ref = evaluate_polygons(gts, dets, CLASSES)
    assert out["mAP"].item() == pytest.approx(ref["mAP"], abs=1e-12) and 0.1 < ref["mAP"] < 0.95
    assert {k[3:]: v.item() for k, v in out.items() if k.startswith("AP/")} == pytest.approx(
        ref["AP"], abs=1e-12
    )


def test_dota_metric_two_ranks_with_padding_duplicate_equals_one_rank():
    preds, targets = _dota_records()
    single = DOTAMetric(CLASSES)
    single.update(preds, targets)
    expected = single.compute()
    # DistributedSampler over 6 images and 4 ranks... here 2 ranks with image 2 repeated on rank 1.
    r0, r1 = DOTAMetric(CLASSES), DOTAMetric(CLASSES)
    r0.update(preds[0:3], targets[0:3])
    r1.update(preds[3:6], targets[3:6])
    r1.update(preds[2:3], targets[2:3])  # padding duplicate
    _merge_like_ddp(r0, r1)
    merged = r0.compute()
    assert merged.keys() == expected.keys()
    for k in expected:
        assert merged[k].item() == pytest.approx(expected[k].item(), abs=1e-12), k
    assert r0.last_result["num_images"] == 6
    assert r0.last_result["num_det"] == single.last_result["num_det"]


def test_dota_metric_reset_and_coco_style():
    preds, targets = _dota_records()
    m = DOTAMetric(CLASSES, coco_style=True)
    m.update(preds, targets)
    out = m.compute()
    assert set(out) >= {"mAP", "mAP50", "mAP75"} and out["mAP"] < out["mAP50"]
    m.reset()
    m.update(preds[:1], targets[:1])
    assert m.compute()["mAP"].item() != out["mAP"].item()


def test_image_key_stable():
    assert image_key(7) == 7 == image_key(torch.tensor(7))
    assert image_key("P0001") == image_key("P0001") != image_key("P0002")
    assert 0 <= image_key("P0001") < 2**63
    with pytest.raises(TypeError):
        image_key(1.5)


def _coco_records():
    rng = np.random.default_rng(0)
    preds, targets, anns = [], [], []
    for img in (4, 9, 12, 30):
        gb = rng.uniform(0, 200, (10, 2))
        gb = np.concatenate([gb, gb + rng.uniform(5, 80, (10, 2))], 1)
        gl = rng.integers(0, 3, 10)
        crowd = (np.arange(10) == 0).astype(np.uint8)
        db = np.concatenate([gb + rng.normal(0, 3, gb.shape), rng.uniform(0, 200, (5, 4)).cumsum(1)])
        dl = np.concatenate([gl, rng.integers(0, 3, 5)])
        preds.append(
            {
                "boxes": torch.from_numpy(db),
                "scores": torch.from_numpy(rng.random(15)),
                "labels": torch.from_numpy(dl),
            }
        )
        targets.append({"image_id": str(img), "boxes": torch.from_numpy(gb), "labels": torch.from_numpy(gl),
                        "iscrowd": torch.from_numpy(crowd)})  # fmt: skip
        for b, lab, c in zip(gb, gl, crowd):
            anns.append({"id": len(anns) + 1, "image_id": img, "category_id": [1, 7, 42][lab], "iscrowd": int(c),
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1])})  # fmt: skip
    gt = {"images": [{"id": i} for i in (4, 9, 12, 30, 99)], "annotations": anns,
          "categories": [{"id": c} for c in (1, 7, 42)]}  # fmt: skip
    return preds, targets, gt


def test_coco_metric_from_json_and_from_targets_match_evaluate():
    preds, targets, gt = _coco_records()
    dets = [{"image_id": int(t["image_id"]), "category_id": [1, 7, 42][lab], "score": s,
             "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
            for p, t in zip(preds, targets)
            for b, s, lab in zip(p["boxes"].tolist(), p["scores"].tolist(), p["labels"].tolist())]  # fmt: skip
    ref = evaluate(gt, dets, backend="pycocotools", image_ids=[4, 9, 12, 30])  # image 99 never seen
    for kw in ({"gt_json": gt}, {}):
        m = COCOMetric(label_to_cat_id=[1, 7, 42], backend="pycocotools", **kw)
        r0, r1 = COCOMetric(label_to_cat_id=[1, 7, 42], backend="pycocotools", **kw), None
        m.update(preds, targets)
        out = {k: v.item() for k, v in m.compute().items()}
        assert list(out) == list(STAT_NAMES)
        assert out == pytest.approx(ref, abs=1e-12) and ref["AP"] > 0.3
        # two ranks, image 9 repeated on rank 1 by the sampler
        r1 = COCOMetric(label_to_cat_id=[1, 7, 42], backend="pycocotools", **kw)
        r0.update(preds[:2], targets[:2])
        r1.update(preds[2:] + preds[1:2], targets[2:] + targets[1:2])
        _merge_like_ddp(r0, r1)
        assert {k: v.item() for k, v in r0.compute().items()} == pytest.approx(ref, abs=1e-12)


def test_coco_metric_ground_truth_from_batches_accepts_any_image_id():
    """No json: the GT is built from the batches under :func:`image_key`, so ids need not be numbers (the
    synthetic set's ``"<seed>_<idx>"``), and the stats equal those of the json with the numeric ids."""
    preds, targets, gt = _coco_records()
    ref = COCOMetric(gt_json=gt, label_to_cat_id=[1, 7, 42], backend="pycocotools")
    ref.update(preds, targets)
    named = [{**t, "image_id": f"0_{t['image_id']}"} for t in targets]
    m = COCOMetric(label_to_cat_id=[1, 7, 42], backend="pycocotools")
    m.update(preds, named)
    assert {k: v.item() for k, v in m.compute().items()} == {k: v.item() for k, v in ref.compute().items()}


def test_coco_metric_empty_predictions():
    _, targets, gt = _coco_records()
    m = COCOMetric(gt_json=gt)
    empty = {
        "boxes": torch.zeros(0, 4),
        "scores": torch.zeros(0),
        "labels": torch.zeros(0, dtype=torch.int64),
    }
    m.update([empty] * 4, targets)
    assert all(v.item() == 0.0 for v in m.compute().values())


def test_dota_metric_accepts_obb():
    obb = torch.tensor([[50.0, 40.0, 30.0, 10.0, 0.3], [120.0, 80.0, 20.0, 20.0, -1.0]])
    from gghl.structures import obb_to_poly

    target = {"polygons": obb_to_poly(obb.double()), "labels": torch.tensor([0, 1]), "image_id": 0}
    m = DOTAMetric(CLASSES[:2])
    m.update([{"obb": obb, "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([0, 1])}], [target])
    assert m.compute()["mAP"].item() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(KeyError, match="'polygons'"):
        m.update([{"scores": torch.tensor([0.9]), "labels": torch.tensor([0])}], [target])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_metrics_with_cuda_states_equal_cpu():
    preds, targets = _dota_records()
    cpu = DOTAMetric(CLASSES)
    cpu.update(preds, targets)
    gpu = DOTAMetric(CLASSES).to("cuda")
    to_cuda = lambda d: {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in d.items()}  # noqa: E731
    gpu.update([to_cuda(p) for p in preds], [to_cuda(t) for t in targets])
    assert gpu.meta[0].device.type == "cuda"
    assert gpu.compute()["mAP"].item() == cpu.compute()["mAP"].item()
    if not available_backends():  # the GPU image has no COCO evaluator installed
        return
    cp, ct, gt = _coco_records()
    c_cpu, c_gpu = (
        COCOMetric(gt_json=gt, label_to_cat_id=[1, 7, 42]),
        COCOMetric(gt_json=gt, label_to_cat_id=[1, 7, 42]).to("cuda"),
    )
    c_cpu.update(cp, ct)
    c_gpu.update([to_cuda(p) for p in cp], ct)
    assert {k: v.item() for k, v in c_gpu.compute().items()} == {
        k: v.item() for k, v in c_cpu.compute().items()
    }
