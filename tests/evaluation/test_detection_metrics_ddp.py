"""Real two-process (gloo) DDP run of DOTAMetric / COCOMetric (json GT and GT from the batches) with a
DistributedSampler duplicate."""

from __future__ import annotations

import json
import os

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from gghl.evaluation.detection_metrics import COCOMetric, DOTAMetric

from .test_detection_metrics import CLASSES, _coco_records, _dota_records


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        preds, targets = _dota_records()
        # DistributedSampler(shuffle=False) over 7 -> 8 samples: rank r gets indices r, r+2, ...; the
        # padding repeats index 0 (image P0000) on rank 1. Here 6 images + 2 repeats, uneven batches.
        idx = [0, 2, 4] if rank == 0 else [1, 3, 5, 0]
        m = DOTAMetric(CLASSES)
        for i in idx:
            m.update([preds[i]], [targets[i]])
        dota = m.compute()
        cp, ct, gt = _coco_records()
        c = COCOMetric(gt_json=gt, label_to_cat_id=[1, 7, 42], backend="pycocotools")
        cidx = [0, 2] if rank == 0 else [1, 3, 0]
        c.update([cp[i] for i in cidx], [ct[i] for i in cidx])
        coco = c.compute()
        # ground truth from the batches (no json), string image ids as the gghl sample format gives them
        b = COCOMetric(label_to_cat_id=[1, 7, 42], backend="pycocotools")
        b.update([cp[i] for i in cidx], [{**ct[i], "image_id": f"0_{ct[i]['image_id']}"} for i in cidx])
        batches = b.compute()
        res = {
            "dota": {k: v.item() for k, v in dota.items()},
            "coco": {k: v.item() for k, v in coco.items()},
            "coco_from_batches": {k: v.item() for k, v in batches.items()},
        }
        with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
            json.dump(res, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_equal_single_process(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    preds, targets = _dota_records()
    single = DOTAMetric(CLASSES)
    single.update(preds, targets)
    expected = {k: v.item() for k, v in single.compute().items()}
    cp, ct, gt = _coco_records()
    c = COCOMetric(gt_json=gt, label_to_cat_id=[1, 7, 42], backend="pycocotools")
    c.update(cp, ct)
    expected_coco = {k: v.item() for k, v in c.compute().items()}
    for rank in (0, 1):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert got["dota"] == pytest.approx(expected, abs=1e-12)
        assert got["coco"] == pytest.approx(expected_coco, abs=1e-12)
        assert got["coco_from_batches"] == pytest.approx(expected_coco, abs=1e-12)
