"""3-D sub-box point sampling over the feature pyramid (AdaMixer, docs/stageinteractor.md#network)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SubboxSampler(nn.Module):
    """Sample ``P*K`` points per group and query, each from a soft mixture of pyramid levels.

    Args:
        dim: query width ``D``; groups: ``G``; subboxes: ``P`` sub-box anchors per group; points: ``K``
            points per sub-box; num_levels: pyramid levels (strides ``4 * 2^l`` give the ``z' - 3 - l`` rule).

    ``forward(feats, query[B,N,D], xyzr[B,N,4], strides) -> Tensor[B, N, G, P*K, D/G]``; point index
    ``p*K + k``.
    """

    def __init__(self, dim: int, groups: int, subboxes: int, points: int, num_levels: int = 4) -> None:
        super().__init__()
        self.dim, self.groups, self.subboxes, self.points, self.num_levels = (
            dim,
            groups,
            subboxes,
            points,
            num_levels,
        )
        self.gen_one = nn.Linear(dim, 3 * groups * subboxes)  # (dx0, dy0, dz0) per (g, p)
        self.gen_two = nn.Linear(dim, 3 * points)  # (dx1, dy1, dz1) per k, shared by all (g, p)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.gen_one.weight)
        nn.init.zeros_(self.gen_two.weight)
        b1 = self.gen_one.bias.data.view(self.groups * self.subboxes, 3)
        nn.init.uniform_(b1[:, :2], -0.5, 0.5)
        b1[:, 2] = 0.0
        b2 = self.gen_two.bias.data.view(self.points, 3)
        bound = 0.5 / math.sqrt(2.0)  # 0.354: points spread inside the sub-box, k=0 at its centre
        nn.init.uniform_(b2[:, :2], -bound, bound)
        b2[0, :2] = 0.0
        b2[:, 2] = 0.0

    def point_positions(self, query: Tensor, xyzr: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Absolute ``x, y`` and level coordinate ``z'``, each ``[B, N, G, P*K]``."""
        b, n, _ = query.shape
        g, p, k = self.groups, self.subboxes, self.points
        o1 = self.gen_one(query).view(b, n, g, p, 1, 3)
        o2 = self.gen_two(query).view(b, n, 1, 1, k, 3)
        x, y, z, r = (t.view(b, n, 1, 1, 1) for t in xyzr.unbind(-1))
        scale = torch.pow(2.0, o1[..., 2:3])  # 2^dz0
        w, h = torch.pow(2.0, z - r / 2), torch.pow(2.0, z + r / 2)
        px = x + w * (o1[..., 0] + scale[..., 0] * o2[..., 0])
        py = y + h * (o1[..., 1] + scale[..., 0] * o2[..., 1])
        pz = z + o1[..., 2] + o2[..., 2]
        return px.flatten(-2), py.flatten(-2), pz.flatten(-2)

    def forward(self, feats: list[Tensor], query: Tensor, xyzr: Tensor, strides: list[int]) -> Tensor:
        b, n, _ = query.shape
        g, cg = self.groups, self.dim // self.groups
        px, py, pz = self.point_positions(query, xyzr)  # [B, N, G, PK]
        levels = torch.arange(len(feats), dtype=pz.dtype, device=pz.device)
        lw = torch.softmax(-((pz[..., None] - 3 - levels) ** 2) / 2, dim=-1)  # [B, N, G, PK, L]
        out = query.new_zeros((b * g, cg, n, px.shape[-1]))
        for lvl, (feat, stride) in enumerate(zip(feats, strides)):
            hl, wl = feat.shape[-2:]
            # normalise absolute pixels by the level's extent (align_corners=False convention)
            gx = px / (wl * stride) * 2 - 1
            gy = py / (hl * stride) * 2 - 1
            grid = torch.stack([gx, gy], -1).permute(0, 2, 1, 3, 4).reshape(b * g, n, -1, 2)
            value = feat.reshape(b * g, cg, hl, wl)
            sampled = F.grid_sample(
                value, grid.to(value.dtype), mode="bilinear", padding_mode="zeros", align_corners=False
            )  # [B*G, Cg, N, PK]
            wgt = lw[..., lvl].permute(0, 2, 1, 3).reshape(b * g, 1, n, -1)
            out = out + sampled * wgt
        # -> [B, N, G, PK, Cg]
        return out.view(b, g, cg, n, -1).permute(0, 3, 1, 4, 2).contiguous()
