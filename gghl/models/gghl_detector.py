"""GGHL detector = timm backbone + YOLOv3-style FPN + decoupled dense head (docs/gghl.md#head-and-decode)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from gghl.models.backbones import TimmBackbone
from gghl.models.heads import GGHLHead
from gghl.models.necks import YoloFPN


class GGHLDetector(nn.Module):
    """Raw dense predictions at strides 8/16/32.

    ``forward(images: Tensor[B,3,S,S]) -> list[Tensor[B,10+C,S/s,S/s]]`` for s in ``strides`` (the raw channel
    order of ``GGHLHead``). Decoding and NMS live in ``gghl.models.gghl_postprocess`` so the exported graph and
    the training loss share one decoder.
    """

    def __init__(self, backbone: TimmBackbone, neck: YoloFPN, head: GGHLHead) -> None:
        super().__init__()
        if list(backbone.strides) != [8, 16, 32][: len(backbone.strides)]:
            raise ValueError(f"GGHL needs backbone strides (8, 16, 32), got {backbone.strides}")
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.strides: tuple[int, ...] = tuple(backbone.strides)
        self.num_classes = head.num_classes

    def forward(self, images: Tensor) -> list[Tensor]:
        return self.head(self.neck(self.backbone(images)))


#: ``build_gghl_detector`` arguments (or ``TimmBackbone``'s own) that ``backbone_options`` may not override.
_RESERVED_BACKBONE_OPTIONS = frozenset(
    {
        "pretrained",
        "pretrained_cfg",
        "pretrained_cfg_overlay",
        "checkpoint_path",
        "features_only",
        "out_indices",
        "strides",
        "in_chans",
        "leaky_slope",
    }
)


def build_gghl_detector(
    num_classes: int,
    backbone: str = "darknet53",
    pretrained: bool = False,
    checkpoint_path: str | None = None,
    neck_widths: tuple[int, ...] = (128, 256, 512),
    neck_convs: int = 5,
    spp: bool = True,
    drop_prob: float = 0.1,
    head_hidden_ratio: float = 2.0,
    prior_prob: float | None = 0.01,
    leaky_slope: float | None = 0.1,
    backbone_options: Mapping[str, Any] | None = None,
) -> GGHLDetector:
    """Build the GGHL detector. Defaults are the paper model, the official network ``modelR/GGHL.py``:
    Darknet-53 (LeakyReLU 0.1), YOLOv3 FPN with SPP, decoupled head; 68,782,123 parameters and 464 state-dict
    entries at C=15, the same function (``gghl.models.convert.convert_official_gghl`` maps official weights).

    A light CPU model (``make train``): ``backbone="resnet10t", neck_widths=(64, 128, 256), neck_convs=3,
    spp=False, backbone_options={"channels": [32, 64, 128, 256], "stem_width": 16}``.

    Args:
        leaky_slope: negative slope of the backbone's LeakyReLUs (``TimmBackbone``): 0.1 as darknet and the
            official GGHL (timm's ``darknet53`` default is 0.01; use ``None`` to keep timm's value, e.g. with
            timm's own ImageNet weights). No effect on backbones without LeakyReLU (ResNets).
        prior_prob: initial sigmoid output of the objectness/class logits (``None``: the official init).
            Only the initialisation; loaded weights define the function.
        backbone_options: extra ``timm.create_model`` arguments of the backbone, e.g. the widths of a timm
            ResNet ``{"channels": [32, 64, 128, 256], "stem_width": 16}`` (the ``make train`` model: half of
            ``resnet10t``). Lists become tuples (timm compares some of them with tuples).
    """
    if backbone_options is not None and not isinstance(backbone_options, Mapping):
        raise ValueError(f"model.net.backbone_options must be a mapping, got {backbone_options!r}")
    options = {
        str(k): tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
        for k, v in (backbone_options or {}).items()
    }
    reserved = sorted(_RESERVED_BACKBONE_OPTIONS.intersection(options))
    if reserved:
        raise ValueError(
            f"model.net.backbone_options may not set {reserved}: weights come from pretrained/checkpoint_path "
            "and the feature levels from the detector"
        )
    try:
        body = TimmBackbone(
            backbone,
            pretrained=pretrained,
            checkpoint_path=checkpoint_path,
            leaky_slope=leaky_slope,
            **options,
        )
    except TypeError as err:  # an argument the timm model does not take
        raise ValueError(
            f"model.net.backbone_options {sorted(options)} for timm model {backbone!r}: {err} "
            "(another backbone than the experiment's: model.net.backbone_options=null drops them)"
        ) from None
    neck = YoloFPN(body.channels, tuple(neck_widths), num_convs=neck_convs, spp=spp, drop_prob=drop_prob)
    head = GGHLHead(neck.out_channels, num_classes, hidden_ratio=head_hidden_ratio, prior_prob=prior_prob)
    return GGHLDetector(body, neck, head)
