"""Parity with the official StageInteractor assignment + loss path on the public fixture (case_a)."""

import json
from pathlib import Path

import pytest
import torch

from gghl.assigners import cross_stage_targets, hungarian_match
from gghl.assigners.cross_stage import CrossStageLabelAssigner, candidate_stages
from gghl.assigners.hungarian import HungarianMatcher, hungarian_match_stages
from gghl.losses.set_criterion import SetCriterion, stage_losses

CASE = Path(__file__).parents[1] / "data" / "stageinteractor" / "case_a.json"


@pytest.fixture(scope="module")
def case():
    d = json.loads(CASE.read_text())
    inp = d["inputs"]
    return {
        "S": inp["num_stages"],
        "C": inp["num_classes"],
        "boxes": torch.tensor(inp["pred_boxes_xyxy_abs"], dtype=torch.float32),
        "logits": torch.tensor(inp["cls_logits"], dtype=torch.float32),
        "gtb": [torch.tensor(im["gt_bboxes"], dtype=torch.float32) for im in inp["images"]],
        "gtl": [torch.tensor(im["gt_labels"], dtype=torch.long) for im in inp["images"]],
        "wh": torch.tensor([im["img_wh"] for im in inp["images"]], dtype=torch.float32),
        "exp": d["expected"],
        "rtol": d["tolerance"]["losses_rel"],
    }


def test_matches_per_image(case):
    for s in range(case["S"]):
        for b in range(len(case["gtb"])):
            m = hungarian_match(
                case["logits"][s, b],
                case["boxes"][s, b],
                case["gtb"][b],
                case["gtl"][b],
                case["wh"][b].tolist(),
            )
            assert m.dtype == torch.int64
            assert m.tolist() == case["exp"]["matched_gt_per_stage"][s][b]


def test_matches_batched(case):
    m = hungarian_match_stages(case["logits"], case["boxes"], case["gtb"], case["gtl"], case["wh"])
    assert m.tolist() == case["exp"]["matched_gt_per_stage"]


def test_candidates(case):
    assert [candidate_stages(s, case["S"]) for s in range(case["S"])] == case["exp"]["candidate_stages"]


def test_cls_targets_and_losses(case):
    m = torch.tensor(case["exp"]["matched_gt_per_stage"])
    for s in range(case["S"]):
        t = cross_stage_targets(s, list(m), case["boxes"][s], case["gtb"], case["gtl"], case["C"])
        assert t.reshape(-1, case["C"]).tolist() == case["exp"]["cls_target"][s]
        d = stage_losses(case["logits"][s], case["boxes"][s], t, m[s], case["gtb"], case["wh"])
        assert d["avg_factor_cls"].item() == case["exp"]["avg_factor_cls"][s]
        assert d["num_pos"].item() == case["exp"]["num_reg_targets"][s]
        for k in ("loss_cls", "loss_bbox", "loss_iou"):
            exp = case["exp"]["losses"][f"stage{s}_{k}"]
            assert d[k].item() == pytest.approx(exp, rel=case["rtol"]), (s, k)


def test_criterion_end_to_end(case):
    criterion = SetCriterion(case["C"], HungarianMatcher(), CrossStageLabelAssigner())
    out = criterion(case["logits"], case["boxes"], case["gtb"], case["gtl"], case["wh"])
    exp = case["exp"]["losses"]
    for s in range(case["S"]):
        for k in ("loss_cls", "loss_bbox", "loss_iou"):
            assert out[f"s{s}.{k}"].item() == pytest.approx(exp[f"stage{s}_{k}"], rel=case["rtol"])
    assert out["loss"].item() == pytest.approx(sum(exp.values()), rel=case["rtol"])
