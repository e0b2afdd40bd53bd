"""A complete gghl checkpoint from official GGHL weights (the ``gghl_official`` format of ``gghl-convert``).

The written dict has the layout of ``scripts/train.py`` checkpoints, so ``scripts/eval.py``, ``export.py`` and
``predict.py`` take it like one of ours (``torch.load(weights_only=True)``: plain containers and tensors):
``{"state_dict": {"net.<key>": tensor}, "gghl_config": {"model": ..., "data": ...}, "converted_from": ...}``.

Defaults are the official test settings (``config/config.py`` TEST of Shank2358/GGHL at a82e8a2): input 800,
``CONF_THRESH`` 0.2 on ``conf * max prob``, rotated NMS at IoU 0.45, at most 500 detections; DOTA v1.0 classes
in the official order. The official NMS ranks by ``sqrt(conf * prob)`` and writes that as the score; the
square root keeps the order, so ``score_mode=product`` with threshold 0.2 keeps the same boxes (reported scores
are ``conf * prob``). The official code caps nothing before NMS: ``pre_nms_topk`` defaults to every location
at the stored input size.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gghl.data.dota_classes import DOTA_V1_0
from gghl.models.convert.gghl_official import (
    OfficialCheckpointError,
    convert_official_gghl,
    load_official_file,
)

__all__ = ["OFFICIAL_TEST", "build_gghl_official_checkpoint", "paper_net_config"]

TASK_TARGET = "gghl.tasks.gghl_detection.GGHLDetectionTask"
POSTPROCESS_TARGET = "gghl.models.gghl_postprocess.GGHLPostProcess"
DATA_TARGET = "gghl.data.detection_datamodule.DotaDataModule"
STRIDES = (8, 16, 32)
#: The official test settings (config/config.py TEST): input side, CONF_THRESH, NMS_THRESH, max detections.
OFFICIAL_TEST: dict[str, Any] = {"img_size": 800, "score_thresh": 0.2, "nms_thresh": 0.45, "max_det": 500}


def paper_net_config(num_classes: int) -> dict[str, Any]:
    """The ``model.net`` node of the paper model (every ``build_gghl_detector`` argument spelled out)."""
    return {
        "_target_": "gghl.models.gghl_detector.build_gghl_detector",
        "num_classes": int(num_classes),
        "backbone": "darknet53",
        "pretrained": False,
        "checkpoint_path": None,
        "neck_widths": [128, 256, 512],
        "neck_convs": 5,
        "spp": True,
        "drop_prob": 0.1,
        "head_hidden_ratio": 2.0,
        "prior_prob": None,
        "leaky_slope": 0.1,
        "backbone_options": {},
    }


def _option(options: Mapping[str, Any], key: str, default: Any) -> Any:
    value = options.get(key)
    return default if value is None else value


def build_gghl_official_checkpoint(
    src: str | Path, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read an official GGHL file (plain state dict or training checkpoint) and return a gghl checkpoint dict.

    Args:
        src: the official ``.pt`` file.
        options: (all optional; ``None`` values mean the default)
            ``class_names``: class list in the order of the weights' class outputs (default DOTA v1.0, 15);
            ``img_size``: the input side stored in the data config (800); ``score_thresh`` (0.2),
            ``nms_thresh`` (0.45), ``max_det`` (500), ``pre_nms_topk`` (every location at ``img_size``);
            ``model`` / ``data``: base config nodes to complete (``gghl-convert`` passes the composed
            ``model=gghl`` and ``data=dota`` groups, so the stored config equals a trained checkpoint's);
            without them a minimal config is written (the task's and datamodule's defaults fill the rest).

    Raises:
        OfficialCheckpointError: the file is not an official GGHL network, or ``class_names`` does not match
            its number of classes (the message names the option and both counts).
    """
    options = dict(options or {})
    src = Path(src)
    raw = load_official_file(src)
    state = convert_official_gghl(raw, source=str(src))
    num_classes = int(state["head.cls.0.1.weight"].shape[0])
    names = [str(c) for c in _option(options, "class_names", DOTA_V1_0)]
    if len(names) != num_classes:
        raise OfficialCheckpointError(
            f"{src}: the weights have {num_classes} classes but class_names has {len(names)} "
            f"({names[:4]}...); pass class_names=[...] with {num_classes} names in the order of training"
        )
    img_size = int(_option(options, "img_size", OFFICIAL_TEST["img_size"]))
    topk = int(_option(options, "pre_nms_topk", sum((img_size // s) ** 2 for s in STRIDES)))

    model = copy.deepcopy(dict(options.get("model") or {"_target_": TASK_TARGET}))
    if model.get("_target_") != TASK_TARGET:
        raise OfficialCheckpointError(
            f"format gghl_official needs a GGHL model config (model=gghl), got {model.get('_target_')!r}"
        )
    model.update(
        num_classes=num_classes,
        class_names=names,
        net=paper_net_config(num_classes),
        ema_decay=None,  # plain weights: an EMA copy would be missing from the state dict
        channels_last=False,
    )
    model["postprocess"] = {
        **dict(model.get("postprocess") or {}),
        "_target_": POSTPROCESS_TARGET,
        "strides": list(STRIDES),
        "score_thresh": float(_option(options, "score_thresh", OFFICIAL_TEST["score_thresh"])),
        "nms_thresh": float(_option(options, "nms_thresh", OFFICIAL_TEST["nms_thresh"])),
        "max_det": int(_option(options, "max_det", OFFICIAL_TEST["max_det"])),
        "pre_nms_topk": topk,
        "score_mode": "product",
    }
    data = copy.deepcopy(dict(options.get("data") or {"_target_": DATA_TARGET, "root": "data/dota"}))
    data.update(class_names=names, num_classes=num_classes, img_size=img_size)
    if data.get("_target_") == DATA_TARGET:
        data["version"] = "1.0" if names == list(DOTA_V1_0) else None  # a custom list needs version=null
    origin: dict[str, Any] = {"format": "gghl_official", "source": str(src)}
    if isinstance(raw.get("epoch"), numbers.Integral):
        origin["epoch"] = int(raw["epoch"])
    if isinstance(raw.get("best_mAP"), numbers.Real):  # a NumPy scalar in the official script: store a float
        origin["best_mAP"] = float(raw["best_mAP"])
    return {
        "state_dict": {f"net.{k}": v.contiguous() for k, v in state.items()},
        "gghl_config": {"model": model, "data": data},
        "converted_from": origin,
    }
