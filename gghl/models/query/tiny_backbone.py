"""A few-channel CNN backbone for CPU-sized experiments and tests (not a paper component)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class TinyConvBackbone(nn.Module):
    """Plain conv-BN-ReLU pyramid with outputs at strides 4, 8, 16, 32.

    Args:
        widths: channels of the four returned levels; stem_width: channels of the stride-2 stem;
        depth: 3x3 convs per level after the strided one.

    ``forward(x [B,3,H,W]) -> list[Tensor[B, widths[i], H/strides[i], W/strides[i]]]``; attributes
    ``channels`` and ``strides`` as the project's ``TimmBackbone``.
    """

    def __init__(
        self, widths: Sequence[int] = (32, 64, 96, 128), stem_width: int = 16, depth: int = 1
    ) -> None:
        super().__init__()
        self.stem = _conv_bn(3, stem_width, 2)
        levels, cin = [], stem_width
        for w in widths:
            levels.append(nn.Sequential(_conv_bn(cin, w, 2), *[_conv_bn(w, w, 1) for _ in range(depth)]))
            cin = w
        self.levels = nn.ModuleList(levels)
        self.channels = list(widths)
        self.strides = [4 * 2**i for i in range(len(widths))]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        out = []
        for level in self.levels:
            x = level(x)
            out.append(x)
        return out
