"""Rebuild a trained task from its checkpoint and wrap it for export or prediction.

A checkpoint written by ``scripts/train.py`` carries its resolved model/data config
(``gghl.tasks.checkpoint_config``); nothing else is needed. ``check_config`` lets the caller (the CLIs pass
``gghl.cli._config.check_targets``) refuse foreign ``_target_`` values *before* anything is instantiated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from gghl.export.modules import ClassifierExportModule, GGHLExportModule, QueryExportModule

KINDS = ("gghl", "query", "classifier")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class LoadedModel:
    """A task rebuilt from a checkpoint and what export / predict need to know about it."""

    task: nn.Module
    kind: str  # one of KINDS
    class_names: list[str]
    img_size: int | None  # the training input side (data config), if known
    config: dict[str, Any] = field(default_factory=dict)  # the checkpoint's {"model": ..., "data": ...}


def model_kind(task: nn.Module) -> str:
    """``gghl`` | ``query`` | ``classifier`` for a task instance; ``TypeError`` for anything else."""
    from gghl.tasks.classification import ClassificationTask
    from gghl.tasks.gghl_detection import GGHLDetectionTask
    from gghl.tasks.query_detection import QueryDetectionTask

    if isinstance(task, GGHLDetectionTask):
        return "gghl"
    if isinstance(task, QueryDetectionTask):
        return "query"
    if isinstance(task, ClassificationTask):
        return "classifier"
    raise TypeError(
        f"cannot export a {type(task).__name__}; supported: GGHL, query detector, classifier tasks"
    )


def load_task(
    ckpt_path: str | Path,
    allow_pickle: bool = False,
    check_config: Callable[[Mapping[str, Any]], Any] | None = None,
) -> LoadedModel:
    """Load ``ckpt_path`` (``weights_only`` unless ``allow_pickle``), check its config, rebuild the task (eval).

    Raises:
        FileNotFoundError / RuntimeError: missing or unreadable checkpoint (the message names the file).
        KeyError: the checkpoint has no stored config (not written by gghl's train entry point).
    """
    import hydra

    from gghl.tasks.checkpoint_config import CONFIG_KEY, load_checkpoint

    ckpt = load_checkpoint(ckpt_path, allow_pickle)
    config = ckpt.get(CONFIG_KEY)
    if not isinstance(config, Mapping) or "model" not in config:
        raise KeyError(
            f"{ckpt_path}: no '{CONFIG_KEY}' entry; it was not written by gghl's train entry point"
        )
    if check_config is not None:
        check_config({"model": config["model"], "data": config.get("data", {})})
    task = hydra.utils.instantiate(config["model"], _convert_="all")
    task.load_state_dict(ckpt["state_dict"])
    task.eval()
    kind = model_kind(task)
    data = dict(config.get("data") or {})
    names = data.get("class_names") or getattr(task, "class_names", None)
    if not names:
        n = int(getattr(task, "num_classes", 0) or data.get("num_classes") or 0)
        names = [str(i) for i in range(n)]
    size = data.get("img_size") or data.get("image_size")
    return LoadedModel(task, kind, [str(c) for c in names], int(size) if size else None, dict(config))


def classifier_normalization(data_cfg: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(mean, std)`` the classifier was trained with, from its data config.

    The digits set is scaled to ``[-1, 1]`` (mean 0.5, std 0.5, ``gghl.data.classification.digits``); file
    datamodules use ImageNet statistics unless the config names ``mean``/``std``.
    """
    if data_cfg.get("mean") is not None and data_cfg.get("std") is not None:
        return tuple(float(v) for v in data_cfg["mean"]), tuple(float(v) for v in data_cfg["std"])
    if "digits" in str(data_cfg.get("_target_", "")).lower():
        return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    return IMAGENET_MEAN, IMAGENET_STD


def export_module(loaded: LoadedModel) -> tuple[nn.Module, dict[str, Any]]:
    """The export wrapper of ``loaded`` (eval mode) and the post-processing settings stored with it."""
    task, kind = loaded.task, loaded.kind
    post: dict[str, Any] = {}
    if kind == "gghl":
        pp = task.postprocess
        module: nn.Module = GGHLExportModule(task.eval_net(), pp.strides, pp.score_mode)
        post = {
            "score_thresh": float(pp.score_thresh),
            "nms_thresh": float(pp.nms_thresh),
            "max_det": int(pp.max_det),
            "pre_nms_topk": int(pp.pre_nms_topk),
            "score_mode": pp.score_mode,
        }
    elif kind == "query":
        module = QueryExportModule(task.model, int(task.hparams.max_det))
        post = {"max_det": int(task.hparams.max_det)}
    else:
        mean, std = classifier_normalization(loaded.config.get("data") or {})
        module = ClassifierExportModule(task.eval_net(), mean, std)
        post = {"mean": list(mean), "std": list(std)}
    return module.eval(), post
