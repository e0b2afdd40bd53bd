"""Small building blocks shared by necks and heads."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ConvBNAct(nn.Sequential):
    """``Conv2d(k, stride, same padding, no bias) -> BatchNorm2d -> LeakyReLU(0.1)`` (the YOLOv3 unit)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1, negative_slope: float = 0.1
    ) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.LeakyReLU(negative_slope, inplace=True),
        )


class SPP(nn.Module):
    """Spatial pyramid pooling as in GGHL's neck: concat of the input and stride-1 max-pools (5, 9, 13), then a
    plain 1x1 convolution with bias (no BatchNorm, no activation) back to ``channels``.

    ``forward(x: Tensor[B,channels,H,W]) -> Tensor[B,channels,H,W]``. The fusing conv is ``self.out``; the
    official module holds the same single ``Conv2d(4*channels, channels, 1)`` (``_SPP__outconv``).
    """

    def __init__(self, channels: int, kernels: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        self.pools = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernels)
        self.out = nn.Conv2d(channels * (len(kernels) + 1), channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.cat([x] + [p(x) for p in self.pools], dim=1))


class DropBlock2d(nn.Module):
    """DropBlock (Ghiasi et al. 2018) with a fixed drop probability, active in training only.

    GGHL's neck uses block 3, p = 0.1 (its linear schedule is never stepped, so p stays constant).
    """

    def __init__(self, drop_prob: float = 0.1, block_size: int = 3) -> None:
        super().__init__()
        self.drop_prob = drop_prob
        self.block_size = block_size

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_prob <= 0:
            return x
        _, _, h, w = x.shape
        gamma = (
            self.drop_prob
            / self.block_size**2
            * (h * w)
            / max((h - self.block_size + 1) * (w - self.block_size + 1), 1)
        )
        seeds = (torch.rand_like(x[:, :1]) < gamma).to(x.dtype)
        block = torch.nn.functional.max_pool2d(seeds, self.block_size, stride=1, padding=self.block_size // 2)
        keep = 1.0 - block
        return x * keep * (keep.numel() / keep.sum().clamp(min=1.0))
