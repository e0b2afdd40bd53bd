"""YOLOv3-style top-down FPN with SPP on the coarsest level, as in GGHL (docs/gghl.md#head-and-decode)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gghl.models.layers import SPP, ConvBNAct, DropBlock2d


def _conv_set(in_ch: int, mid: int, num_convs: int, drop_prob: float, spp: bool = False) -> nn.Sequential:
    """YOLOv3 "conv set": alternating 1x1 (mid) / 3x3 (2*mid) convs ending on 1x1 (mid).

    Layout of the GGHL neck (``num_convs=5``), index by index as in the official ``nn.Sequential`` so that
    official weights map one to one: ``1x1, [SPP], 3x3, 1x1, DropBlock, 3x3, 1x1``. SPP (with its own 1x1
    fusing conv) follows the first conv; the DropBlock slot follows the third conv (conv ``min(2, n-1)`` for
    fewer convs). With ``num_convs >= 3`` the slot is there also when ``drop_prob = 0`` (then it is the
    identity), so the state-dict indices of the paper layout do not depend on ``drop_prob``; with 2 convs it
    is there only when ``drop_prob > 0``, and ``num_convs=1`` (a single 1x1) has none.
    """
    layers: list[nn.Module] = [ConvBNAct(in_ch, mid, 1)]
    if spp:
        layers.append(SPP(mid))
    ch = mid
    drop_after = min(2, num_convs - 1)
    for i in range(1, num_convs):
        if i % 2 == 1:
            layers.append(ConvBNAct(ch, mid * 2, 3))
            ch = mid * 2
        else:
            layers.append(ConvBNAct(ch, mid, 1))
            ch = mid
        if i == drop_after and (drop_prob > 0 or num_convs >= 3):
            layers.append(DropBlock2d(drop_prob))
    if ch != mid:
        layers.append(ConvBNAct(ch, mid, 1))
    return nn.Sequential(*layers)


class YoloFPN(nn.Module):
    """Top-down FPN over backbone features at strides (8, 16, 32).

    Args:
        in_channels: channels of the backbone features, fine to coarse (``TimmBackbone.channels``).
        widths: output channels per level, fine to coarse (GGHL: 128, 256, 512).
        num_convs: convs per conv set: 5 (YOLOv3 / GGHL) or fewer for a light neck.
        spp: SPP on the coarsest level (after the first conv of its set, as GGHL).
        drop_prob: DropBlock probability inside each conv set (GGHL: 0.1; active in training only).

    ``forward(feats: list[Tensor[B,C_i,H_i,W_i]]) -> list[Tensor[B,widths[i],H_i,W_i]]``, fine to coarse.
    """

    def __init__(
        self,
        in_channels: list[int],
        widths: tuple[int, ...] = (128, 256, 512),
        num_convs: int = 5,
        spp: bool = True,
        drop_prob: float = 0.1,
    ) -> None:
        super().__init__()
        if len(in_channels) != len(widths):
            raise ValueError(f"in_channels {in_channels} and widths {widths} must have the same length")
        n = len(widths)
        self.out_channels = list(widths)
        self.sets = nn.ModuleList()
        self.laterals = nn.ModuleList()
        for i in reversed(range(n)):  # coarse to fine
            extra = 0 if i == n - 1 else widths[i + 1] // 2
            self.sets.append(
                _conv_set(in_channels[i] + extra, widths[i], num_convs, drop_prob, spp=spp and i == n - 1)
            )
            if i > 0:
                self.laterals.append(ConvBNAct(widths[i], widths[i] // 2, 1))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        outs: list[Tensor] = []
        x: Tensor | None = None
        for k, feat in enumerate(reversed(feats)):
            if x is not None:
                up = self.upsample(self.laterals[k - 1](x))
                feat = torch.cat([up, feat], dim=1)
            x = self.sets[k](feat)
            outs.append(x)
        return outs[::-1]
