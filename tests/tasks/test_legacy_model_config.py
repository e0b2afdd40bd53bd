"""Checkpoints whose stored model config has an earlier shape (query: ``_recursive_: false`` + plain
``detector`` / ``criterion`` dicts; classifier: a plain ``net`` dict) still restore, through the one upgrade
in :mod:`gghl.tasks.legacy_model_config`.

``OLD_QUERY`` / ``OLD_CLASSIFIER`` are the stored configs that ``gghl-train`` wrote before the change for the
tiny checkpoints of ``tests/export/tiny_checkpoints.py`` (the same overrides, then ``model.detector.*``); the
same seed gave bit-identical weights before and after, so a checkpoint of today with the old config put back
is such an old checkpoint.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from gghl.checkpoint import CONFIG_KEY, CheckpointBuildError
from gghl.config import check_untrusted_config
from gghl.models.convert.stageinteractor_official import RECIPE, _model_config, stageinteractor_arch
from gghl.tasks.legacy_model_config import upgrade_model_config, upgrade_stored_config
from gghl.tasks.restore import restore_task

_spec = importlib.util.spec_from_file_location(
    "legacy_tiny_checkpoints", Path(__file__).parents[1] / "export" / "tiny_checkpoints.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

_OLD_CRITERION = {
    "assigner": "cross_stage",
    "candidates": "prev+future",
    "iou_thr": 0.5,
    "keep_own_positive": False,
    "cost_cls": 2.0,
    "cost_l1": 5.0,
    "cost_giou": 2.0,
    "weight_cls": 2.0,
    "weight_l1": 5.0,
    "weight_giou": 2.0,
}
OLD_QUERY = {
    "_target_": "gghl.tasks.query_detection.QueryDetectionTask",
    "_recursive_": False,
    "num_classes": 5,
    "class_names": ["plane", "vehicle", "ship", "storage-tank", "court"],
    "detector": {
        "backbone": {
            "_target_": "gghl.models.query.tiny_backbone.TinyConvBackbone",
            "widths": [8, 8, 16, 16],
            "stem_width": 8,
            "depth": 0,
        },
        "pretrained": False,
        "checkpoint_path": None,
        "freeze_bn": False,
        "frozen_stages": 0,
        "pixel_mean": None,
        "pixel_std": None,
        "strides": [4, 8, 16, 32],
        "num_queries": 6,
        "dim": 32,
        "num_stages": 2,
        "heads": 2,
        "ffn_dim": 32,
        "groups": 2,
        "points": 2,
        "subboxes": [2, 2],
        "out_points": 4,
        "reuse_operators": True,
        "dropout": 0.0,
    },
    "criterion": _OLD_CRITERION,
    "lr": 0.001,
    "weight_decay": 0.0001,
    "warmup_iters": 100,
    "warmup_ratio": 0.001,
    "lr_steps": [18, 22],
    "lr_gamma": 0.1,
    "max_det": 10,
}
OLD_CLASSIFIER = {
    "_target_": "gghl.tasks.classification.ClassificationTask",
    "num_classes": 10,
    "class_names": [f"d{i}" for i in range(10)],
    "net": {"name": "small_cnn", "pretrained": False, "checkpoint_path": None, "width": 8},
    "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 0.003, "weight_decay": 0.01},
    "scheduler": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR", "_partial_": True, "T_max": 10},
    "assign": "hard",
    "label_smoothing": 0.1,
    "distill": {"teacher_ckpt": None, "temperature": 4.0, "alpha": 0.5, "base": "hard"},
    "class_balance_beta": None,
    "logit_adjust_tau": 0.0,
    "class_counts": None,
    "mixup": None,
    "ema_decay": None,
    "ece_bins": 15,
}
OLD = {"query": OLD_QUERY, "classifier": OLD_CLASSIFIER}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("legacy_ckpts")
    return {kind: tiny.make_checkpoint(kind, out) for kind in OLD}


@pytest.mark.parametrize("kind", list(OLD))
def test_old_config_upgrades_to_the_config_of_today(kind: str, checkpoints: dict[str, Path]) -> None:
    today = torch.load(checkpoints[kind], weights_only=True)[CONFIG_KEY]["model"]
    upgraded = upgrade_model_config(copy.deepcopy(OLD[kind]))
    assert upgraded == today
    check_untrusted_config({"model": upgraded}, "upgraded")  # only allow-listed names were added
    assert upgrade_model_config(today) is today  # today's shape is left alone


@pytest.mark.parametrize("kind", list(OLD))
def test_old_checkpoint_restores_with_the_same_outputs(
    kind: str, checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    ckpt = torch.load(checkpoints[kind], weights_only=True)
    ckpt[CONFIG_KEY]["model"] = copy.deepcopy(OLD[kind])
    torch.save(ckpt, tmp_path / "old.ckpt")
    old = restore_task(tmp_path / "old.ckpt", expected_kind=kind)
    new = restore_task(checkpoints[kind], expected_kind=kind)
    assert old.kind == kind and "net" in old.config["model"]
    x = torch.rand(2, 3, 64, 64) if kind == "query" else torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a, b = old.task(x), new.task(x)
    if kind == "query":
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    else:
        assert torch.equal(a, b)


def test_old_plain_lightning_query_checkpoint_restores_from_hyperparameters(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """No ``gghl_config``: the old query task's hyperparameters held the plain detector / criterion dicts."""
    ckpt = torch.load(checkpoints["query"], weights_only=True)
    old = {k: v for k, v in OLD_QUERY.items() if k not in ("_target_", "_recursive_")}
    torch.save({"state_dict": ckpt["state_dict"], "hyper_parameters": old}, tmp_path / "plain.ckpt")
    restored = restore_task(tmp_path / "plain.ckpt", expected_kind="query")
    assert restored.task.criterion.assigner.candidates == "prev+future"


def test_old_converter_and_o2o_criteria() -> None:
    """The converter's old stored config (official weights) upgrades to what it writes today; AdaMixer's
    ``assigner: o2o`` becomes the label assigner's one-to-one setting."""
    keys_file = Path(__file__).parents[1] / "data" / "official_stageinteractor" / "small_keys.json"
    keys = json.loads(keys_file.read_text())["keys"]
    arch = stageinteractor_arch({k: torch.empty(shape, device="meta") for k, shape, _ in keys})
    names = [f"c{i}" for i in range(arch["num_classes"])]
    today = _model_config(None, arch, names, 12)
    old = {
        "_target_": today["_target_"],
        "_recursive_": False,
        **{k: today[k] for k in RECIPE},
        "criterion": dict(_OLD_CRITERION),
        "num_classes": len(names),
        "class_names": names,
        "detector": {k: v for k, v in today["net"].items() if k not in ("_target_", "num_classes")},
        "max_det": 12,
    }
    assert upgrade_model_config(old) == today
    o2o = upgrade_model_config({**old, "criterion": {"assigner": "o2o", "weight_l1": 4.0, "alpha": 0.3}})
    assert o2o["criterion"]["assigner"] == {
        "_target_": "gghl.assigners.cross_stage.CrossStageLabelAssigner",
        "candidates": "none",
        "keep_own_positive": True,
    }
    assert o2o["criterion"]["weights"] == {"loss_bbox": 4.0} and o2o["criterion"]["alpha"] == 0.3


def test_other_configs_are_left_alone(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    gghl = {"_target_": "gghl.tasks.gghl_detection.GGHLDetectionTask", "net": {"_target_": "x"}}
    odd_criterion = {**OLD_QUERY, "criterion": [1, 2]}
    for model in (gghl, odd_criterion, None, "text", {"detector": {}}):
        assert upgrade_model_config(model) is model
    assert upgrade_stored_config({"data": {}}) == {"data": {}}
    # an unknown old assigner mode reaches SetCriterion, which refuses it by value
    ckpt = torch.load(checkpoints["query"], weights_only=True)
    ckpt[CONFIG_KEY]["model"] = {**OLD_QUERY, "criterion": {"assigner": "hungarian_only"}}
    torch.save(ckpt, tmp_path / "odd.ckpt")
    with pytest.raises(CheckpointBuildError, match="assigner must be callable.*hungarian_only"):
        restore_task(tmp_path / "odd.ckpt")
