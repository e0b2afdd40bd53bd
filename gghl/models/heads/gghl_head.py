"""GGHL decoupled dense head: per location ``10 + C`` raw outputs (docs/gghl.md#head-and-decode)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gghl.models.layers import ConvBNAct


class _Branch(nn.Sequential):
    def __init__(self, in_ch: int, hidden: int, out_ch: int) -> None:
        super().__init__(ConvBNAct(in_ch, hidden, 3), nn.Conv2d(hidden, out_ch, 1))


class GGHLHead(nn.Module):
    """Decoupled localisation / classification branches on every pyramid level.

    Raw channel order (the contract of ``JOLLoss`` and of the decoder ``gghl.structures.gghl_decode``):
    ``[0:4] t_l`` (distances top, right, bottom, left, log-space), ``[4:8] t_s`` (ORC ratio logits), ``[8] t_r``
    (area ratio), ``[9] t_conf``, ``[10:] t_cls``.

    Args:
        in_channels: channels per level (the neck's ``out_channels``).
        num_classes: C.
        hidden_ratio: hidden width of each branch = in_channels * ratio (GGHL: 2, the YOLOv3 3x3 doubling).
        prior_prob: initial sigmoid output of the objectness and class logits. ``None`` keeps GGHL's init
            (all conv weights N(0, 0.01), biases 0, i.e. 0.5); a small prior (0.01) stabilises training from
            scratch, as in RetinaNet.

    ``forward(feats: list[Tensor[B,Ci,G,G]]) -> list[Tensor[B,10+C,G,G]]``.
    """

    def __init__(
        self,
        in_channels: list[int],
        num_classes: int,
        hidden_ratio: float = 2.0,
        prior_prob: float | None = 0.01,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.loc = nn.ModuleList(_Branch(c, int(c * hidden_ratio), 10) for c in in_channels)
        self.cls = nn.ModuleList(_Branch(c, int(c * hidden_ratio), num_classes) for c in in_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if prior_prob is not None:
            bias = -math.log((1 - prior_prob) / prior_prob)
            for loc, cls in zip(self.loc, self.cls):
                nn.init.constant_(loc[-1].bias[9:10], bias)
                nn.init.constant_(cls[-1].bias, bias)

    def forward(self, feats: list[Tensor]) -> list[Tensor]:

        return [torch.cat([loc(f), cls(f)], dim=1) for f, loc, cls in zip(feats, self.loc, self.cls)]
