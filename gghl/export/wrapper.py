"""The export wrapper of a task rebuilt from its checkpoint, for export and prediction.

Reading, checking and rebuilding the checkpoint is :func:`gghl.tasks.restore.restore_task`, the one loader of
every command (not a file, wrong kind, refused ``_target_``, weights that do not fit: one-line errors naming
the file); this module picks the wrapper of its kind and the post-processing settings stored with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from gghl.export.modules import ClassifierExportModule, GGHLExportModule, QueryExportModule
from gghl.tasks.restore import RestoredTask

__all__ = ["classifier_normalization", "export_module"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def export_module(loaded: RestoredTask) -> tuple[nn.Module, dict[str, Any]]:
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
