"""Official StageInteractor weights (MCG-NJU/StageInteractor 477aa15, an mmdetection 2.12 fork) -> ``QueryDetector``.

The official network (``SubQueryDeformableRCNN``: mmdet ``ResNet``, ``ChannelMapping`` neck,
``SubInitialQueryGenerator``, ``StageInteractorDecoder`` of ``StageInteractorHead`` stages) computes the same
function as :class:`gghl.models.query.detector.QueryDetector` in the paper configuration
(``gghl/configs/model/stageinteractor.yaml`` with a timm ResNet, ImageNet input normalisation). Every official
entry maps one to one onto ours (renamed; the reuse gates' two Linear layers are split per reused kernel),
except these, which the official forward never reads in a way that changes its output:

* ``roi_head.bbox_head.{s}.dynamic_conv.subbox_score_list.{i}`` (``Linear(D, G*P*K)``, 32,896 parameters per
  reused kernel at the paper size, 10 kernels = 328,960): its output is viewed with a last axis of size 1 and
  soft-maxed over that axis, so the factor is exactly 1 for every input;
* ``roi_head.bbox_head.{s}.iou_snyc_statistics.*`` (buffers of an affine-free SyncBatchNorm): training-time
  statistics of a cost-threshold branch that the released configs discard (``use_iou=True``);
* ``rpn_head.init_proposal_bboxes`` (a buffer that is never learned): every row must be the official
  ``(0.5, 0.5, 1, 1)``, the whole image, which is how ``QueryDetector`` builds its initial boxes; any other
  value is refused.

Architecture numbers (queries, stages, classes, widths, groups, points, sub-boxes, ResNet depth) are read from
the shapes, so the released R-50 / R-101 and 100 / 300-query models convert with the same code. Swin-S and
ResNeXt-101-DCN backbones are not supported (the error lists their keys).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gghl.models.convert.gghl_official import OfficialCheckpointError, load_official_file

__all__ = [
    "COCO_CATEGORY_IDS",
    "COCO_CLASSES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DEAD_ENTRIES",
    "build_stageinteractor_official_checkpoint",
    "convert_official_stageinteractor",
    "official_stageinteractor",
    "stageinteractor_arch",
]

#: mmdet ``img_norm_cfg`` of every official config (``mean=[123.675, 116.28, 103.53] std=[58.395, 57.12,
#: 57.375]`` on 0-255 RGB) for our ``[0, 1]`` RGB images.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: COCO 2017 category ids of the 80 classes in the order of the official class outputs (mmdet ``CocoDataset``
#: sorts the categories by id); names are ``gghl/configs/data/coco.yaml``'s ``class_names``.
COCO_CATEGORY_IDS = (
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    27,
    28,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    39,
    40,
    41,
    42,
    43,
    44,
    46,
    47,
    48,
    49,
    50,
    51,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    60,
    61,
    62,
    63,
    64,
    65,
    67,
    70,
    72,
    73,
    74,
    75,
    76,
    77,
    78,
    79,
    80,
    81,
    82,
    84,
    85,
    86,
    87,
    88,
    89,
    90,
)
#: Official entries dropped by the converter (regex over the key, why).
DEAD_ENTRIES = (
    (
        r"roi_head\.bbox_head\.\d+\.dynamic_conv\.subbox_score_list\.\d+\.(weight|bias)",
        "softmax over a size-1 axis: always 1",
    ),
    (
        r"roi_head\.bbox_head\.\d+\.iou_snyc_statistics\.(running_mean|running_var|num_batches_tracked)",
        "training statistics of a discarded branch",
    ),
    (r"rpn_head\.init_proposal_bboxes", "constant whole-image boxes (checked)"),
)
_HEAD = r"roi_head\.bbox_head\.(\d+)\."
#: one-to-one renames: (official pattern, our key template with {0} = stage / index groups)
_RENAMES: tuple[tuple[str, str], ...] = (
    (r"neck\.lateral_convs\.(\d+)\.conv\.(weight|bias)", "neck.convs.{0}.{1}"),
    (r"neck\.gn_out\.(weight|bias)", "neck.norm.{0}"),
    (r"rpn_head\.init_content_features\.weight", "query_embed.weight"),
    (_HEAD + r"iof_tau", "decoder.stages.{0}.iof_tau"),
    (
        _HEAD + r"attention\.attn\.(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)",
        "decoder.stages.{0}.attn.{1}",
    ),
    (_HEAD + r"attention_norm\.(weight|bias)", "decoder.stages.{0}.attn_norm.{1}"),
    (_HEAD + r"feat_extractor\.gen_one_d\.0\.(weight|bias)", "decoder.stages.{0}.sampler.gen_one.{1}"),
    (_HEAD + r"feat_extractor\.gen_double_d\.0\.(weight|bias)", "decoder.stages.{0}.sampler.gen_two.{1}"),
    (_HEAD + r"dynamic_conv\.parameter_generator\.(weight|bias)", "decoder.stages.{0}.mixing.generator.{1}"),
    (_HEAD + r"dynamic_conv\.mix_bias\.(weight|bias)", "decoder.stages.{0}.mixing.bias_gen.{1}"),
    (_HEAD + r"dynamic_conv\.Wv\.(weight|bias)", "decoder.stages.{0}.mixing.out_proj.{1}"),
    (_HEAD + r"dynamic_conv\.Wv_layer_norm\.(weight|bias)", "decoder.stages.{0}.mix_norm.{1}"),
    (
        _HEAD + r"dynamic_conv\.axis_atten_list\.(\d+)\.(weight|bias)",
        "decoder.stages.{0}.mixing.adapters.{1}.axis.{2}",
    ),
    (
        _HEAD + r"dynamic_conv\.subbox_local_list\.(\d+)\.(weight|bias)",
        "decoder.stages.{0}.mixing.adapters.{1}.subbox.{2}",
    ),
    (_HEAD + r"dynamic_conv\.S_score_list\.(weight|bias)", "decoder.stages.{0}.mixing.s_gate_rows.{1}"),
    (_HEAD + r"dynamic_conv\.S_score_list2\.(weight|bias)", "decoder.stages.{0}.mixing.s_gate_points.{1}"),
    (_HEAD + r"ffn\.layers\.0\.0\.(weight|bias)", "decoder.stages.{0}.ffn.0.{1}"),
    (_HEAD + r"ffn\.layers\.1\.(weight|bias)", "decoder.stages.{0}.ffn.3.{1}"),
    (_HEAD + r"ffn_norm\.(weight|bias)", "decoder.stages.{0}.ffn_norm.{1}"),
    (_HEAD + r"cls_fcs\.([01])\.(weight|bias)", "decoder.stages.{0}.cls_branch.{1}.{2}"),
    (_HEAD + r"reg_fcs\.([01])\.(weight|bias)", "decoder.stages.{0}.reg_branch.{1}.{2}"),
    (_HEAD + r"fc_cls\.(weight|bias)", "decoder.stages.{0}.cls_branch.3.{1}"),
    (_HEAD + r"fc_reg\.(weight|bias)", "decoder.stages.{0}.reg_branch.3.{1}"),
    (r"backbone\.(.+)", "backbone.body.{0}"),
)
_M_GATES = re.compile(_HEAD + r"dynamic_conv\.M_score_list\.(weight|bias)")
_M_BETA = re.compile(_HEAD + r"dynamic_conv\.M_score_list_mix_bias\.(weight|bias)")
_WHOLE_IMAGE = (0.5, 0.5, 1.0, 1.0)
#: (bottleneck blocks, blocks per stage) -> timm name; mmdet ``ResNet(style="pytorch")`` = torchvision = timm.
_RESNETS = {
    (False, (2, 2, 2, 2)): "resnet18",
    (False, (3, 4, 6, 3)): "resnet34",
    (True, (3, 4, 6, 3)): "resnet50",
    (True, (3, 4, 23, 3)): "resnet101",
    (True, (3, 8, 36, 3)): "resnet152",
}


def _listing(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > limit else shown


def _state_dict(obj: Mapping[str, Any], source: str) -> dict[str, Tensor]:
    """The network weights of an mmdet checkpoint ``{"meta", "state_dict", "optimizer"}`` or a plain state
    dict, with or without the ``module.`` prefix of (Distributed)DataParallel."""
    if not isinstance(obj, Mapping):
        raise OfficialCheckpointError(f"{source}: expected a dict of tensors, got {type(obj).__name__}")
    if isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    state = dict(obj)
    if state and all(str(k).startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    not_tensors = [str(k) for k, v in state.items() if not isinstance(v, Tensor)]
    if not_tensors or not state:
        raise OfficialCheckpointError(
            f"{source}: not an official StageInteractor state dict (entries that are not tensors: "
            f"{_listing(not_tensors) or 'none - it is empty'})"
        )
    return state


def _shape(state: Mapping[str, Tensor], key: str, source: str) -> tuple[int, ...]:
    if key not in state:
        raise OfficialCheckpointError(
            f"{source}: no {key!r}; not an official StageInteractor state dict (first keys: {_listing(list(state), 6)})"
        )
    return tuple(state[key].shape)


def stageinteractor_arch(state: Mapping[str, Tensor], source: str = "state dict") -> dict[str, Any]:
    """``QueryDetector`` keyword arguments of the network ``state`` holds (read from its shapes).

    ``num_classes`` is included. Raises :class:`OfficialCheckpointError` naming the key when a needed entry
    is missing or the shapes do not fit together.
    """
    head = "roi_head.bbox_head."
    stages = sorted({int(m[1]) for k in state if (m := re.match(_HEAD, k))})
    if not stages or stages != list(range(len(stages))):
        raise OfficialCheckpointError(
            f"{source}: decoder stages {stages}; expected roi_head.bbox_head.0..S-1"
        )
    num_queries, dim = _shape(state, "rpn_head.init_content_features.weight", source)
    num_classes = _shape(state, f"{head}0.fc_cls.weight", source)[0]
    heads = _shape(state, f"{head}0.iof_tau", source)[0]
    ffn_dim = _shape(state, f"{head}0.ffn.layers.0.0.weight", source)[0]
    points = _shape(state, f"{head}0.feat_extractor.gen_double_d.0.weight", source)[0] // 3
    out_points = _shape(state, f"{head}0.dynamic_conv.Wv.weight", source)[1] // dim
    groups = (_shape(state, f"{head}0.dynamic_conv.mix_bias.weight", source)[0] - dim) // max(out_points, 1)
    if groups < 1 or dim % groups:
        raise OfficialCheckpointError(
            f"{source}: cannot read the mixing groups from {head}0.dynamic_conv.mix_bias"
        )
    subboxes = [
        _shape(state, f"{head}{s}.feat_extractor.gen_one_d.0.weight", source)[0] // (3 * groups)
        for s in stages
    ]
    blocks = tuple(
        len({k.split(".")[2] for k in state if k.startswith(f"backbone.layer{i}.")}) for i in range(1, 5)
    )
    bottleneck = "backbone.layer1.0.conv3.weight" in state
    depth = _RESNETS.get((bottleneck, blocks))
    if depth is None:
        other = sorted({".".join(k.split(".")[:2]) for k in state if k.startswith("backbone.")})
        raise OfficialCheckpointError(
            f"{source}: backbone with {'bottleneck' if bottleneck else 'basic'} blocks {list(blocks)} per stage "
            f"is not supported (mmdet ResNet-18/34/50/101/152 are; Swin and ResNeXt-DCN are not): {_listing(other, 6)}"
        )
    return {
        "num_classes": int(num_classes),
        "backbone": depth,
        "num_queries": int(num_queries),
        "dim": int(dim),
        "num_stages": len(stages),
        "heads": int(heads),
        "ffn_dim": int(ffn_dim),
        "groups": int(groups),
        "points": int(points),
        "subboxes": [int(p) for p in subboxes],
        "out_points": int(out_points),
    }


def detector_config(arch: Mapping[str, Any]) -> dict[str, Any]:
    """Every ``QueryDetector`` argument but ``num_classes`` (the ``net`` node) of the official network ``arch``."""
    cfg = {k: v for k, v in arch.items() if k != "num_classes"}
    cfg.update(
        pretrained=False,
        checkpoint_path=None,
        strides=[4, 8, 16, 32],
        reuse_operators=True,
        dropout=0.0,
        freeze_bn=False,
        frozen_stages=0,
        pixel_mean=list(IMAGENET_MEAN),
        pixel_std=list(IMAGENET_STD),
    )
    cfg["subboxes"] = list(cfg["subboxes"])
    return cfg


def _split_gates(key: str, value: Tensor, m: re.Match, groups: int, out: dict[str, Tensor]) -> None:
    """``M_score_list`` rows ``(G, Cg, 2, L)``: slot 0 gates kernel columns (our ``gate_out``), slot 1 rows
    (``gate_in``); ``L`` = reused kernels, oldest first."""
    stage, leaf = m[1], m[2]
    rows = value.shape[0]
    cg_l = rows // (2 * groups)
    num = int(stage) - 1  # stage s reuses the kernels of stages 1..s-1
    if num < 1 or cg_l % num:
        raise OfficialCheckpointError(
            f"{key}: {rows} rows do not fit {groups} groups x 2 gates x {num} kernels"
        )
    cg = cg_l // num
    v = value.reshape(groups, cg, 2, num, *value.shape[1:])
    for i in range(num):
        base = f"decoder.stages.{stage}.mixing.adapters.{i}"
        out[f"{base}.gate_out.{leaf}"] = v[:, :, 0, i].reshape(groups * cg, *value.shape[1:]).clone()
        out[f"{base}.gate_in.{leaf}"] = v[:, :, 1, i].reshape(groups * cg, *value.shape[1:]).clone()


def _split_beta(value: Tensor, m: re.Match, groups: int, out: dict[str, Tensor]) -> None:
    """``M_score_list_mix_bias`` rows ``(G, L, Cg)`` -> one ``beta`` per reused kernel."""
    stage, leaf = m[1], m[2]
    num = int(stage) - 1
    v = value.reshape(groups, num, -1, *value.shape[1:])
    for i in range(num):
        out[f"decoder.stages.{stage}.mixing.adapters.{i}.beta.{leaf}"] = (
            v[:, i].reshape(-1, *value.shape[1:]).clone()
        )


def convert_official_stageinteractor(
    state_dict: Mapping[str, Any], groups: int | None = None, source: str = "state dict"
) -> tuple[dict[str, Tensor], list[str]]:
    """Official entries -> our ``QueryDetector`` keys.

    Args:
        state_dict: a plain official state dict or mmdet's ``{"meta", "state_dict", "optimizer"}``.
        groups: mixing groups ``G`` (default: read from the shapes).
    Returns:
        ``(converted, dropped)``: our entries, and the official keys dropped as :data:`DEAD_ENTRIES`.
    Raises:
        OfficialCheckpointError: keys no rule knows (all listed), or non-whole-image initial boxes.
    """
    state = _state_dict(state_dict, source)
    if groups is None:
        groups = int(stageinteractor_arch(state, source)["groups"])
    out: dict[str, Tensor] = {}
    dropped: list[str] = []
    unknown: list[str] = []
    renames = [(re.compile(p), t) for p, t in _RENAMES]
    dead = [re.compile(p) for p, _ in DEAD_ENTRIES]
    for key, value in state.items():
        if any(d.fullmatch(key) for d in dead):
            if key == "rpn_head.init_proposal_bboxes" and not torch.equal(
                value.float(), value.new_tensor(_WHOLE_IMAGE).float().expand_as(value)
            ):
                raise OfficialCheckpointError(
                    f"{source}: rpn_head.init_proposal_bboxes is not (0.5, 0.5, 1, 1) in every row (first row "
                    f"{value[0].tolist()}); the official code never changes it and QueryDetector starts every "
                    f"query from the whole image"
                )
            dropped.append(key)
        elif m := _M_GATES.fullmatch(key):
            _split_gates(key, value, m, groups, out)
        elif m := _M_BETA.fullmatch(key):
            _split_beta(value, m, groups, out)
        else:
            for pattern, template in renames:
                if m := pattern.fullmatch(key):
                    out[template.format(*m.groups())] = value
                    break
            else:
                unknown.append(key)
    if unknown:
        raise OfficialCheckpointError(
            f"{source}: {len(unknown)} entries are not part of the official StageInteractor network: "
            f"{_listing(unknown)}"
        )
    return out, dropped


def _check_keys(model: nn.Module, converted: Mapping[str, Tensor], source: str) -> None:
    """Missing / unexpected keys and shape mismatches, all listed, before ``load_state_dict``."""
    ours = model.state_dict()
    missing = sorted(set(ours) - set(converted))
    unexpected = sorted(set(converted) - set(ours))
    shapes = [
        f"{k} {tuple(converted[k].shape)} vs ours {tuple(ours[k].shape)}"
        for k in ours
        if k in converted and converted[k].shape != ours[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing (official keys absent for): {_listing(missing)}")
        if unexpected:
            parts.append(f"unexpected: {_listing(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch: {_listing(shapes)}")
        raise OfficialCheckpointError(
            f"{source}: does not match the official StageInteractor layout; " + "; ".join(parts)
        )


def official_stageinteractor(
    state_dict: Mapping[str, Any], num_classes: int = 80, source: str = "state dict"
) -> nn.Module:
    """Our ``QueryDetector`` in the paper configuration with the official weights (eval mode).

    Args:
        state_dict: an official StageInteractor state dict (plain) or mmdet checkpoint
            ``{"meta", "state_dict", "optimizer"}`` (``optimizer`` and ``meta`` are ignored).
        num_classes: the classes the weights were trained for (COCO: 80); checked against ``fc_cls``.
    Returns:
        a :class:`gghl.models.query.detector.QueryDetector` whose tensors are those of ``state_dict`` where
        renamed (no copy; the split reuse gates are new tensors): ``forward(images)`` takes ``[0, 1]`` RGB and
        normalises it as the official test pipeline; ``stage_outputs(x)`` takes an already-normalised ``x``
        and returns per stage ``logits [B,N,C]`` (before the sigmoid) and ``boxes [B,N,4]`` (xyxy pixels).
    Raises:
        OfficialCheckpointError: unknown or missing keys (listed), other shapes, a class-count mismatch.
    """
    from gghl.models.query.detector import QueryDetector

    state = _state_dict(state_dict, source)
    arch = stageinteractor_arch(state, source)
    if int(num_classes) != arch["num_classes"]:
        raise OfficialCheckpointError(
            f"{source}: the weights have {arch['num_classes']} classes (fc_cls) but num_classes={num_classes}"
        )
    converted, _ = convert_official_stageinteractor(state, groups=arch["groups"], source=source)
    # assign=True keeps the given tensors: make them float32 CPU tensors like a freshly built model's
    converted = {
        k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
        for k, v in converted.items()
    }
    config = detector_config(arch)
    with torch.device("meta"):  # no random init of ~137 M parameters: every one is assigned below
        model = QueryDetector(num_classes=arch["num_classes"], **config)
    _check_keys(model, converted, source)
    model.load_state_dict(converted, strict=True, assign=True)
    # non-persistent buffers are not in the state dict: build them for real
    model.pixel_mean = torch.tensor(config["pixel_mean"]).view(1, 3, 1, 1)
    model.pixel_std = torch.tensor(config["pixel_std"]).view(1, 3, 1, 1)
    stray = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if stray:  # a module that keeps state outside its state dict would be silently uninitialised
        raise RuntimeError(f"QueryDetector tensors not covered by the state dict: {stray}")
    return model.eval()


def _option(options: Mapping[str, Any], key: str, default: Any) -> Any:
    value = options.get(key)
    return default if value is None else value


#: COCO's 80 class names in the order of the official class outputs (= ``gghl/configs/data/coco.yaml``).
COCO_CLASSES = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)
TASK_TARGET = "gghl.tasks.query_detection.QueryDetectionTask"
DATA_TARGET = "gghl.data.detection_datamodule.CocoDataModule"
#: Letterbox side of the stored data config. The official test resize keeps the ratio inside (1333, 800):
#: a 4:3 COCO image (the most common shape) becomes 1067 x 800; our datamodules letterbox to a square, and
#: 1088 is that long side rounded up to a multiple of 32 (README: what differs from the official pipeline).
OFFICIAL_IMG_SIZE = 1088
#: The official training recipe (configs/stageinteractor/stageinteractor_r50_1x_coco.py), stored so that
#: fine-tuning a converted checkpoint starts from it.
RECIPE: dict[str, Any] = {
    "lr": 2.5e-5,
    "weight_decay": 1.0e-4,
    "warmup_iters": 500,
    "warmup_ratio": 0.001,
    "lr_steps": [8, 11],
    "lr_gamma": 0.1,
}
DETECTOR_TARGET = "gghl.models.query.detector.QueryDetector"
#: The official criterion (Hungarian costs 2/5/2, cross-stage labels of the released code, loss weights 2/5/2).
CRITERION: dict[str, Any] = {
    "_target_": "gghl.losses.set_criterion.SetCriterion",
    "matcher": {
        "_target_": "gghl.assigners.hungarian.HungarianMatcher",
        "cost_cls": 2.0,
        "cost_l1": 5.0,
        "cost_giou": 2.0,
    },
    "assigner": {
        "_target_": "gghl.assigners.cross_stage.CrossStageLabelAssigner",
        "candidates": "prev+future",
        "iou_thr": 0.5,
        "keep_own_positive": False,
    },
    "weights": {"loss_cls": 2.0, "loss_bbox": 5.0, "loss_iou": 2.0},
}


def _model_config(
    base: Mapping[str, Any] | None, arch: Mapping[str, Any], names: list[str], max_det: int
) -> dict[str, Any]:
    """``QueryDetectionTask`` node: ``base`` (a composed ``model=stageinteractor``) or the paper recipe, with
    the official network and classes."""
    model: dict[str, Any] = {"_target_": TASK_TARGET, **RECIPE, "criterion": copy.deepcopy(CRITERION)}
    if base and base.get("_target_") == TASK_TARGET:
        model.update({k: v for k, v in base.items() if k not in ("net", "num_classes", "class_names")})
    num_classes = len(names)
    model.update(
        num_classes=num_classes,
        class_names=list(names),
        net={"_target_": DETECTOR_TARGET, "num_classes": num_classes, **detector_config(arch)},
        criterion={**model["criterion"], "num_classes": num_classes},
        max_det=int(max_det),
    )
    return model


def _data_config(base: Mapping[str, Any] | None, names: list[str], img_size: int) -> dict[str, Any]:
    """COCO datamodule node: ``base`` (a composed ``data=coco``) or a built-in one, with the classes and size."""
    data: dict[str, Any] = {
        "_target_": DATA_TARGET,
        "root": "data/coco",
        "splits": {"train": "train2017", "val": "val2017", "test": "val2017"},
        "images": "{split}",
        "annotations": "annotations/instances_{split}.json",
        "batch_size": 2,
        "num_workers": 2,
        "hflip": 0.5,
        "hsv": None,
    }
    if base and base.get("_target_") == DATA_TARGET:
        data.update(base)
    data.update(class_names=list(names), num_classes=len(names), img_size=int(img_size))
    return data


def build_stageinteractor_official_checkpoint(
    src: str | Path, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A gghl checkpoint (``scripts/train.py`` layout) from an official StageInteractor file
    (the ``stageinteractor_official`` format of ``gghl-convert``).

    Args:
        src: the official ``.pth``: mmdet ``{"meta", "state_dict", "optimizer"}`` or a plain state dict.
        options: (all optional; ``None`` = default) ``class_names`` (COCO's 80 in the official order);
            ``img_size`` (letterbox side, :data:`OFFICIAL_IMG_SIZE`); ``max_det`` (the number of queries, as
            the official ``max_per_img``); ``model`` / ``data``: base nodes, used when they are a
            ``QueryDetectionTask`` / ``CocoDataModule`` config (``gghl-convert ... model=stageinteractor
            data=coco``), otherwise built-in ones (the official recipe, ``data/coco``).
    Returns:
        ``{"state_dict": {"model.<key>": tensor}, "gghl_config": {"model", "data"}, "converted_from": {...}}``;
        plain containers and tensors only (``torch.load(weights_only=True)``).
    Raises:
        OfficialCheckpointError: not an official StageInteractor file (keys listed), or ``class_names`` of
            another length than the weights' classes.
    """
    options = dict(options or {})
    src = Path(src)
    raw = load_official_file(src)
    state = _state_dict(raw, str(src))
    arch = stageinteractor_arch(state, str(src))
    names = [str(c) for c in _option(options, "class_names", COCO_CLASSES)]
    if len(names) != arch["num_classes"]:
        raise OfficialCheckpointError(
            f"{src}: the weights have {arch['num_classes']} classes but class_names has {len(names)} "
            f"({names[:4]}...); pass class_names=[...] with {arch['num_classes']} names in the order of training"
        )
    model = official_stageinteractor(state, arch["num_classes"], source=str(src))
    img_size = int(_option(options, "img_size", OFFICIAL_IMG_SIZE))
    if img_size % 32:
        raise OfficialCheckpointError(f"img_size must be a multiple of 32 (strides up to 32), got {img_size}")
    max_det = int(_option(options, "max_det", arch["num_queries"]))
    _, dropped = convert_official_stageinteractor(state, groups=arch["groups"], source=str(src))
    origin: dict[str, Any] = {
        "format": "stageinteractor_official",
        "source": str(src),
        "dropped_entries": len(dropped),
        "official_entries": len(state),
    }
    meta = raw.get("meta") if isinstance(raw, Mapping) else None
    if isinstance(meta, Mapping):
        for key in ("epoch", "iter"):
            if isinstance(meta.get(key), int):
                origin[key] = int(meta[key])
    return {
        "state_dict": {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()},
        "gghl_config": {
            "model": _model_config(options.get("model"), arch, names, max_det),
            "data": _data_config(options.get("data"), names, img_size),
        },
        "converted_from": origin,
    }
