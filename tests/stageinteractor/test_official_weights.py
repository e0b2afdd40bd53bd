"""Official StageInteractor weights -> our QueryDetector computes the official function (issue 18).

References (``tests/data/official_stageinteractor/README.md``):
- ``outputs.npz``: the shared fixture, the official R-50 1x network in float32 (seed 0, 128 px, batch 2);
- ``small_f64.npz``: the official code with smaller sizes (ResNet-18, D=64, 12 queries, 7 classes, 6 stages) in
  float64, other seed (5), non-square input (64 x 96), batch 2;
- ``paper_f64_s1000_96x160_b3.npz`` (slow test): the official R-50 1x network in float64, seed 1000, 96 x 160,
  batch 3.

Float32 and chaos: with these random weights every stage amplifies rounding differences by ~10-50x (boxes
drift hundreds of pixels outside the image). The official code itself, rerun here with the fixture's weights
and input (same torch 2.14.1 / mmcv 1.3.3, another CPU), differs from the fixture by 1.2e-6, 5.6e-5, 1.5e-4,
2.0e-4, 6.0e-3, 9.5e-3 (logits, relative to each stage's largest magnitude; 1 vs 2 threads alone: up to
1.0e-3 at stage 5). The fixture is not the exact function either: our float64 forward of the same float32
weights and input (equal to the official float64 to 1e-9) is 1.6e-6, 1.7e-5, 1.6e-4, 9.8e-5, 4.5e-4, 1.07e-3 away
from it. So the float32 fixture is held to 1e-4 where float32 is reproducible (stages 0 and 1) and to the
official code's own spread after that; the float64 references hold every stage to 1e-9.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gghl.models.convert import official_stageinteractor
from gghl.models.convert.gghl_official import OfficialCheckpointError
from gghl.models.convert.stageinteractor_official import IMAGENET_MEAN, IMAGENET_STD, stageinteractor_arch
from gghl.models.query.detector import QueryDetector
from gghl.models.query.postprocess import postprocess

_spec = importlib.util.spec_from_file_location(
    "official_weights", Path(__file__).with_name("official_weights.py")
)
ow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ow)

#: float32 vs the shared fixture, per stage (module docstring): 1e-4 where float32 reproduces the fixture.
F32_TOL = (1e-4, 1e-4, 2e-3, 2e-3, 2e-2, 5e-2)
F64_TOL = 1e-9
#: subbox_score_list: Linear(D, G*P*K) per reused kernel (1 + 2 + 3 + 4 kernels at stages 2..5)
DEAD_PARAMS_PAPER = 10 * (256 * 128 + 128)


def _dead_params(keys: list) -> int:
    return sum(int(np.prod(s)) for k, s, _ in keys if "subbox_score_list" in k)


def _stage_errors(outs: list[dict[str, torch.Tensor]], ref) -> list[tuple[float, float]]:
    """Per stage ``(logits, boxes)`` max abs difference / the reference stage's largest magnitude."""
    errs = []
    for s, o in enumerate(outs):
        e = []
        for ours, theirs in ((o["logits"], ref[f"cls_s{s}"]), (o["boxes"], ref[f"box_s{s}"])):
            theirs = np.asarray(theirs, np.float64)
            e.append(float(np.abs(ours.double().numpy() - theirs).max() / np.abs(theirs).max()))
        errs.append((e[0], e[1]))
    return errs


def _our_dets(outs: list[dict[str, torch.Tensor]], max_det: int) -> list[np.ndarray]:
    dets = postprocess(outs[-1]["logits"], outs[-1]["boxes"], max_det=max_det)
    return [ow.sorted_dets(d["boxes"], d["scores"], d["labels"]) for d in dets]


def _assert_dets_equal(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Same labels in the same order; scores and boxes equal up to our float32 detection output."""
    np.testing.assert_array_equal(ours[:, 5], theirs[:, 5])
    np.testing.assert_allclose(ours[:, 4], theirs[:, 4], rtol=0, atol=1e-7)
    np.testing.assert_allclose(ours[:, :4], theirs[:, :4], rtol=0, atol=1e-6 * np.abs(theirs[:, :4]).max())


@pytest.fixture(scope="module")
def paper_model() -> torch.nn.Module:
    keys = ow.load_keys("keys.json")["keys"]
    return official_stageinteractor(ow.mmdet_checkpoint(ow.rule_weights(keys)), num_classes=80)


@pytest.fixture(scope="module")
def small_state() -> dict[str, torch.Tensor]:
    return ow.rule_weights(ow.load_keys("small_keys.json")["keys"], seed_offset=5)


def test_paper_network_parameters(paper_model: torch.nn.Module) -> None:
    info = ow.load_keys("keys.json")
    assert info["num_params"] == 137_277_256 and len(info["keys"]) == 662
    ours = sum(p.numel() for p in paper_model.parameters())
    # every official parameter maps one to one except the dead subbox_score_list Linear layers
    assert _dead_params(info["keys"]) == DEAD_PARAMS_PAPER == 328_960
    assert ours == info["num_params"] - DEAD_PARAMS_PAPER == 136_948_296
    assert isinstance(paper_model, QueryDetector) and not paper_model.training


def test_fixture_forward_float32(paper_model: torch.nn.Module) -> None:
    ref = np.load(ow.DATA / "outputs.npz")
    with torch.no_grad():
        outs = paper_model.stage_outputs(torch.from_numpy(ref["x"]))
    assert (
        len(outs) == 6 and outs[0]["logits"].shape == (2, 100, 80) and outs[0]["boxes"].shape == (2, 100, 4)
    )
    errs = _stage_errors(outs, ref)
    print("float32 vs fixture (logits, boxes) per stage:", [f"{a:.2e}/{b:.2e}" for a, b in errs])
    for s, (cls_err, box_err) in enumerate(errs):
        assert cls_err <= F32_TOL[s] and box_err <= F32_TOL[s], (s, cls_err, box_err)
    # Final detections: equal up to what the last stage's deviation allows (sigmoid is 1/4-Lipschitz);
    # detections within that margin of the 100th score may swap with the next candidate.
    dev_logit = float((outs[-1]["logits"].double() - torch.from_numpy(ref["cls_s5"]).double()).abs().max())
    dev_box = float((outs[-1]["boxes"].double() - torch.from_numpy(ref["box_s5"]).double()).abs().max())
    score_tol, box_tol = dev_logit / 4 + 1e-6, dev_box + 1e-4
    for b, ours in enumerate(_our_dets(outs, 100)):
        theirs = ref[f"dets_img{b}"].astype(np.float64)
        cutoff = theirs[-1, 4] + score_tol
        unmatched = [
            row
            for row in theirs
            if row[4] > cutoff
            and not np.any(
                (ours[:, 5] == row[5])
                & (np.abs(ours[:, 4] - row[4]) <= score_tol)
                & (np.abs(ours[:, :4] - row[:4]).max(1) <= box_tol)
            )
        ]
        assert (theirs[:, 4] > cutoff).sum() >= 90 and not unmatched, (b, len(unmatched))


@pytest.mark.slow
def test_fixture_is_the_exact_function_plus_float32_rounding(paper_model: torch.nn.Module) -> None:
    """The exact function of the fixture's weights (float64) is as far from the float32 fixture as our float32
    forward is: the tolerances after stage 1 measure the fixture's own rounding, not a difference of function."""
    import copy

    ref = np.load(ow.DATA / "outputs.npz")
    with torch.no_grad():
        exact = copy.deepcopy(paper_model).double().stage_outputs(torch.from_numpy(ref["x"]).double())
    errs = _stage_errors(exact, ref)
    print("float64 (exact) vs float32 fixture per stage:", [f"{a:.2e}/{b:.2e}" for a, b in errs])
    assert max(errs[5]) > 1e-4  # the fixture's rounding alone is above 1e-4 at the last stage
    for s, (cls_err, box_err) in enumerate(errs):
        assert cls_err <= F32_TOL[s] and box_err <= F32_TOL[s], (s, cls_err, box_err)


def test_small_official_network_float64(small_state: dict[str, torch.Tensor]) -> None:
    """Every stage within 1e-9 and the detections equal: the official code in float64, other sizes/seed."""
    info = ow.load_keys("small_keys.json")
    model = official_stageinteractor(
        {f"module.{k}": v for k, v in small_state.items()}, num_classes=7
    ).double()
    assert sum(p.numel() for p in model.parameters()) == info["num_params"] - _dead_params(info["keys"])
    ref = np.load(ow.DATA / "small_f64.npz")
    with torch.no_grad():
        outs = model.stage_outputs(torch.from_numpy(ref["x"]))
    errs = _stage_errors(outs, ref)
    assert max(max(e) for e in errs) <= F64_TOL, errs
    for b, ours in enumerate(_our_dets(outs, 12)):
        theirs = ref[f"dets_img{b}"]
        assert ours.shape == theirs.shape == (12, 6)
        _assert_dets_equal(ours, theirs)


def test_forward_normalises_like_the_official_pipeline(small_state: dict[str, torch.Tensor]) -> None:
    model = official_stageinteractor(small_state, num_classes=7)
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    x = (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        out = model(images)
        ref = model.stage_outputs(x)
    torch.testing.assert_close(out["cls_logits"][-1], ref[-1]["logits"], rtol=1e-5, atol=1e-5)
    assert not any("pixel" in k for k in model.state_dict())  # the config defines the normalisation


def test_architecture_is_read_from_the_shapes(small_state: dict[str, torch.Tensor]) -> None:
    arch = stageinteractor_arch(small_state)
    assert arch == {
        "num_classes": 7,
        "backbone": "resnet18",
        "num_queries": 12,
        "dim": 64,
        "num_stages": 6,
        "heads": 8,
        "ffn_dim": 96,
        "groups": 4,
        "points": 4,
        "subboxes": [4, 2, 2, 2, 2, 2],
        "out_points": 16,
    }


def test_unknown_missing_and_wrong_entries_are_listed(small_state: dict[str, torch.Tensor]) -> None:
    extra = dict(small_state)
    extra["roi_head.bbox_head.0.new_layer.weight"] = torch.zeros(3)
    extra["neck.fpn_convs.0.conv.weight"] = torch.zeros(3)
    with pytest.raises(
        OfficialCheckpointError, match=r"2 entries are not part.*new_layer\.weight.*fpn_convs"
    ):
        official_stageinteractor(extra, num_classes=7)
    missing = {
        k: v for k, v in small_state.items() if not k.startswith("roi_head.bbox_head.3.dynamic_conv.M_score")
    }
    missing.pop("roi_head.bbox_head.0.fc_cls.bias")
    with pytest.raises(OfficialCheckpointError, match=r"missing .*cls_branch\.3\.bias.*adapters\.0\.beta"):
        official_stageinteractor(missing, num_classes=7)
    with pytest.raises(OfficialCheckpointError, match=r"7 classes \(fc_cls\) but num_classes=80"):
        official_stageinteractor(small_state, num_classes=80)
    moved = dict(small_state)
    moved["rpn_head.init_proposal_bboxes"] = moved["rpn_head.init_proposal_bboxes"] * 0.5
    with pytest.raises(OfficialCheckpointError, match=r"init_proposal_bboxes is not \(0\.5, 0\.5, 1, 1\)"):
        official_stageinteractor(moved, num_classes=7)
    with pytest.raises(OfficialCheckpointError, match="not tensors: meta"):
        official_stageinteractor({"meta": {}, "model": small_state}, num_classes=7)
    swin = {
        re.sub(r"^backbone\.layer3\.\d+\.", "backbone.stages.2.blocks.", k)
        if k.startswith("backbone.layer3")
        else k: v
        for k, v in small_state.items()
    }
    with pytest.raises(OfficialCheckpointError, match=r"blocks \[2, 2, 0, 2\].*not supported"):
        official_stageinteractor(swin, num_classes=7)


@pytest.mark.slow
def test_paper_network_float64_other_seed_size_batch() -> None:
    """The paper network in float64 against the official code: seed 1000, 96 x 160, batch 3 (~1 GB, ~1 min)."""
    keys = ow.load_keys("keys.json")["keys"]
    model = official_stageinteractor(ow.rule_weights(keys, seed_offset=1000)).double()
    ref = np.load(ow.DATA / "paper_f64_s1000_96x160_b3.npz")
    with torch.no_grad():
        outs = model.stage_outputs(torch.from_numpy(ref["x"]))
    errs = _stage_errors(outs, ref)
    print("float64 vs official float64 per stage:", [f"{a:.1e}/{b:.1e}" for a, b in errs])
    assert max(max(e) for e in errs) <= F64_TOL, errs
    for b, ours in enumerate(_our_dets(outs, 100)):
        theirs = ref[f"dets_img{b}"]
        _assert_dets_equal(ours, theirs)


def test_half_precision_file_gives_a_float32_model(small_state: dict[str, torch.Tensor]) -> None:
    half = {k: v.half() if v.is_floating_point() else v for k, v in small_state.items()}
    model = official_stageinteractor(half, num_classes=7)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 64))["cls_logits"].dtype == torch.float32
