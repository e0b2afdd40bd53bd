"""Model configs stored by checkpoints of the earlier shapes, rewritten into today's one shape.

Today every model config is a task ``_target_`` whose parts are nested ``_target_`` entries that Hydra
instantiates (``configs/model/*.yaml``). Checkpoints written before that store two other shapes:

- query detector: ``_recursive_: false``, a plain ``detector`` dict (``QueryDetector`` arguments) and a plain
  ``criterion`` dict (``assigner: cross_stage | o2o``, ``cost_*``, ``weight_*``, cross-stage options) that
  the task built itself;
- classifier: a plain ``net`` dict (``build_classifier`` arguments).

:func:`upgrade_model_config` turns them into the nested shape (same network, same criterion settings, so
the same weights load and the same numbers come out); :func:`gghl.tasks.restore.restore_task` applies it
to every stored config before building, so eval / export / predict / distillation teachers keep reading
old checkpoints. Any other config, or one that does not have exactly an old shape, is returned unchanged
(the build then reports what is wrong). Only names of the allow-list are added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

QUERY_TASK = "gghl.tasks.query_detection.QueryDetectionTask"
CLASSIFIER_TASK = "gghl.tasks.classification.ClassificationTask"
QUERY_DETECTOR = "gghl.models.query.detector.QueryDetector"
CLASSIFIER_NET = "gghl.models.classifier.build_classifier"
SET_CRITERION = "gghl.losses.set_criterion.SetCriterion"
MATCHER = "gghl.assigners.hungarian.HungarianMatcher"
LABEL_ASSIGNER = "gghl.assigners.cross_stage.CrossStageLabelAssigner"

#: Old ``criterion`` keys -> (part of the new criterion, its key there).
_CRITERION_KEYS: dict[str, tuple[str, str]] = {
    "cost_cls": ("matcher", "cost_cls"),
    "cost_l1": ("matcher", "cost_l1"),
    "cost_giou": ("matcher", "cost_giou"),
    "iou_thr": ("assigner", "iou_thr"),
    "candidates": ("assigner", "candidates"),
    "keep_own_positive": ("assigner", "keep_own_positive"),
    "inclusive": ("assigner", "inclusive"),
    "weight_cls": ("weights", "loss_cls"),
    "weight_l1": ("weights", "loss_bbox"),
    "weight_giou": ("weights", "loss_iou"),
}


def _criterion(num_classes: Any, old: Mapping[str, Any]) -> dict[str, Any]:
    """The nested ``SetCriterion`` node of an old plain ``criterion`` dict."""
    parts: dict[str, dict[str, Any]] = {
        "matcher": {"_target_": MATCHER},
        "assigner": {"_target_": LABEL_ASSIGNER},
        "weights": {},
    }
    node: dict[str, Any] = {"_target_": SET_CRITERION, "num_classes": num_classes}
    for key, value in old.items():
        if key in _CRITERION_KEYS:
            part, new_key = _CRITERION_KEYS[key]
            parts[part][new_key] = value
        elif key != "assigner":
            node[key] = value  # alpha / gamma, or an unknown key that the build then names
    mode = old.get("assigner", "cross_stage")
    if mode == "o2o":  # one-to-one labels: the assigner with no candidate stages, own positives kept
        parts["assigner"].update(candidates="none", keep_own_positive=True)
    node.update(parts)
    if mode not in ("cross_stage", "o2o"):
        node["assigner"] = mode  # not an assigner: SetCriterion refuses it and names the value
    return node


def upgrade_model_config(model: Any) -> Any:
    """``model`` in today's nested shape when it has an old one (module docstring), else ``model`` itself."""
    if not isinstance(model, Mapping):
        return model
    target = model.get("_target_")
    if target == QUERY_TASK and isinstance(model.get("detector"), Mapping) and "net" not in model:
        criterion = model.get("criterion")
        if criterion is None:
            criterion = {}
        if not isinstance(criterion, Mapping) or "_target_" in criterion:
            return model
        new = {k: v for k, v in model.items() if k not in ("_recursive_", "detector", "criterion")}
        num_classes = model.get("num_classes")
        detector = {k: v for k, v in model["detector"].items() if k != "_target_"}
        new["net"] = {"_target_": QUERY_DETECTOR, "num_classes": num_classes, **detector}
        new["criterion"] = _criterion(num_classes, criterion)
        return new
    net = model.get("net")
    if target == CLASSIFIER_TASK and isinstance(net, Mapping) and "_target_" not in net:
        return {**model, "net": {"_target_": CLASSIFIER_NET, "num_classes": model.get("num_classes"), **net}}
    return model


def upgrade_stored_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's ``{"model": ..., "data": ...}`` with the model config upgraded."""
    if "model" not in config:
        return dict(config)
    return {**config, "model": upgrade_model_config(config["model"])}
