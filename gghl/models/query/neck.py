"""ChannelMapping neck (StageInteractor ``identity_fpn``): a 1x1 conv per level + one shared GroupNorm."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class ChannelMapping(nn.Module):
    """Map backbone levels ``[B, C_l, H_l, W_l]`` to ``[B, D, H_l, W_l]``; no top-down path.

    The GroupNorm(32, D) is shared by all levels (one set of affine parameters). Convs use Xavier-uniform.
    """

    def __init__(self, in_channels: Sequence[int], dim: int = 256, num_groups: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c, dim, kernel_size=1) for c in in_channels)
        self.norm = nn.GroupNorm(min(num_groups, dim), dim)
        for conv in self.convs:
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, feats: Sequence[Tensor]) -> list[Tensor]:
        return [self.norm(conv(f)) for conv, f in zip(self.convs, feats)]
