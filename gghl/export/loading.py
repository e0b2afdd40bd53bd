"""Wrap a task rebuilt from its checkpoint for export or prediction.

Reading and checking the checkpoint is :func:`gghl.tasks.checkpoint.restore_task`, the loader of every
command (not a file, wrong kind, refused ``_target_``, weights that do not fit: one-line errors naming the
file); this module adds what export and predict need: class names, input size, the export wrapper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from gghl.export.modules import ClassifierExportModule, GGHLExportModule, QueryExportModule
from gghl.tasks.model_kinds import KINDS, model_kind

__all__ = ["KINDS", "LoadedModel", "classifier_normalization", "export_module", "load_task", "model_kind"]

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
    path: str = ""  # the checkpoint file


def load_task(
    ckpt_path: str | Path,
    allow_pickle: bool = False,
    check_config: Callable[[Mapping[str, Any]], Any] | None = None,
    expected_kind: str | Iterable[str] | None = None,
) -> LoadedModel:
    """Load ``ckpt_path`` through :func:`gghl.tasks.checkpoint.restore_task` and describe it for export.

    Args:
        ckpt_path: a gghl checkpoint.
        allow_pickle: unpickle classes (trusted files only); the stored config's ``_target_`` check stays.
        check_config: an extra check of the stored ``{"model", "data"}`` config, called after the built-in
            allow-list check and before anything is instantiated (kept for callers that passed
            ``check_targets``; it can only add refusals).
        expected_kind: ``"gghl"`` / ``"query"`` / ``"classifier"`` or several; ``None`` = any of them.

    Raises:
        FileNotFoundError, :class:`gghl.tasks.checkpoint.CheckpointError` subclasses (not a checkpoint, pickled,
        kind, build, weights), :class:`gghl.config_targets.UnsafeConfigError` - one line each.
    """
    from gghl.tasks.checkpoint import restore_task

    restored = restore_task(ckpt_path, allow_pickle, expected_kind, check_config=check_config)
    task, config = restored.task, restored.config
    data = dict(config.get("data") or {})
    names = data.get("class_names") or getattr(task, "class_names", None)
    if not names:
        n = int(getattr(task, "num_classes", 0) or data.get("num_classes") or 0)
        names = [str(i) for i in range(n)]
    size = data.get("img_size") or data.get("image_size")
    return LoadedModel(
        task,
        restored.kind,
        [str(c) for c in names],
        int(size) if size else None,
        dict(config),
        str(ckpt_path),
    )


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
