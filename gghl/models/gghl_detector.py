"""GGHL detector = timm backbone + YOLOv3-style FPN + decoupled dense head (spec gghl.md §1.2)."""

from __future__ import annotations

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
) -> GGHLDetector:
    """Build the GGHL detector. Defaults are the paper model (Darknet53, 68.78 M parameters at C=15).

    A light CPU model: ``backbone="resnet10t", neck_widths=(64, 128, 256), neck_convs=3, spp=False``.
    """
    body = TimmBackbone(backbone, pretrained=pretrained, checkpoint_path=checkpoint_path)
    neck = YoloFPN(body.channels, tuple(neck_widths), num_convs=neck_convs, spp=spp, drop_prob=drop_prob)
    head = GGHLHead(neck.out_channels, num_classes, hidden_ratio=head_hidden_ratio, prior_prob=prior_prob)
    return GGHLDetector(body, neck, head)
