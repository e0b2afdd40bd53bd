"""Adaptive (dynamic) mixing with StageInteractor operator reuse (docs/stageinteractor.md#operator-reuse).

Per query and group, sampled features ``x [P*K, Cg]`` are mixed by query-generated kernels:
channel mixing ``M [Cg, Cg]`` then spatial mixing ``S [R, P*K]`` (AdaMixer). With ``reuse=True`` a stage
``s >= 2`` also runs the channel kernels of stages ``1..s-1`` (oldest first) blended with its own through
zero-initialised adapters and sigmoid gates, and builds the second half of its ``S`` rows from the
previous stage's ``S``. Reused kernels are not detached: gradients reach earlier stages' generators.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Kernels(NamedTuple):
    """Dynamic kernels of one stage: ``M [B, N, G, Cg, Cg]`` and ``S [B, N, G, R, P*K]``."""

    M: Tensor
    S: Tensor


def _ln_relu(t: Tensor) -> Tensor:
    """Parameter-free LayerNorm over the last two dims, then ReLU (AdaMixer)."""
    # Plain ints: the normalised shape is fixed by the model (Cg, P*K...), and the ONNX exporter needs a constant.
    return F.relu(F.layer_norm(t, (int(t.shape[-2]), int(t.shape[-1]))))


class ReuseAdapter(nn.Module):
    """Adapters and gates for one reused channel kernel (all zero-initialised).

    ``axis``: Linear over ``(K, P*Cg)``; ``subbox``: Linear over ``(P, K*Cg)``; ``gate_in`` / ``gate_out``:
    per-group sigmoid gates over kernel rows / columns; ``beta``: per-group bias of the mixed output.
    """

    def __init__(self, dim: int, groups: int, subboxes: int, points: int) -> None:
        super().__init__()
        cg = dim // groups
        self.shape = (groups, subboxes, points, cg)
        self.axis = nn.Linear(subboxes * cg, subboxes * cg)
        self.subbox = nn.Linear(points * cg, points * cg)
        self.gate_in = nn.Linear(dim, groups * cg)
        self.gate_out = nn.Linear(dim, groups * cg)
        self.beta = nn.Linear(dim, groups * cg)
        for m in (self.axis, self.subbox, self.gate_in, self.gate_out, self.beta):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, h: Tensor, r: Tensor, q: Tensor, m_old: Tensor, m_own: Tensor) -> tuple[Tensor, Tensor]:
        """``h, r [B,N,G,P*K,Cg]``, ``q [B,N,D]``, kernels ``[B,N,G,Cg,Cg]`` -> ``(out, pre)``, both
        ``[B,N,G,P*K,Cg]``: ``pre = axis(h) + subbox(h) + r`` is the next adapter's residual ``r`` (official
        ``feat_res``: the sum before the kernel, not ``out``)."""
        b, n = q.shape[:2]
        g, p, k, cg = self.shape
        h5 = h.view(b, n, g, p, k, cg)
        along_p = (
            self.axis(h5.transpose(3, 4).reshape(b, n, g, k, p * cg)).view(b, n, g, k, p, cg).transpose(3, 4)
        )
        along_k = self.subbox(h5.reshape(b, n, g, p, k * cg)).view(b, n, g, p, k, cg)
        pre = (along_p + along_k).reshape(b, n, g, p * k, cg) + r
        g1 = torch.sigmoid(self.gate_in(q)).view(b, n, g, cg, 1)
        g2 = torch.sigmoid(self.gate_out(q)).view(b, n, g, 1, cg)
        mixed = (m_old * g1 + m_own * (1 - g1)) * g2 + m_own * (1 - g2)
        beta = self.beta(q).view(b, n, g, 1, cg)
        return _ln_relu(pre @ mixed + beta), pre


class AdaptiveMixing(nn.Module):
    """Dynamic channel + spatial mixing of one stage.

    Args:
        dim: ``D``; groups: ``G``; subboxes: ``P``; points: ``K``; out_points: ``R`` output points;
        num_reused: number of earlier kernels this stage reuses (``s - 1`` for StageInteractor stage
            ``s >= 2``, else 0). When ``> 0`` only ``R/2`` spatial rows are generated, the rest come from the
            previous stage's ``S``; dynamic_bias: generate ``bM [Cg]`` and ``bS [R]`` per group from the query.

    ``forward(x [B,N,G,P*K,Cg], q [B,N,D], prev: list[Kernels]) -> (out [B,N,D], Kernels)``.
    """

    def __init__(
        self,
        dim: int = 256,
        groups: int = 4,
        subboxes: int = 4,
        points: int = 8,
        out_points: int = 128,
        num_reused: int = 0,
        dynamic_bias: bool = False,
    ) -> None:
        super().__init__()
        self.dim, self.groups, self.cg = dim, groups, dim // groups
        self.subboxes, self.points, self.in_points = subboxes, points, subboxes * points
        self.out_points, self.num_reused = out_points, num_reused
        self.gen_rows = out_points // 2 if num_reused > 0 else out_points
        self.m_size = self.cg * self.cg
        self.s_size = self.gen_rows * self.in_points
        self.generator = nn.Linear(dim, groups * (self.m_size + self.s_size))
        self.bias_gen = nn.Linear(dim, groups * (self.cg + out_points)) if dynamic_bias else None
        self.adapters = nn.ModuleList(ReuseAdapter(dim, groups, subboxes, points) for _ in range(num_reused))
        if num_reused > 0:
            self.s_gate_rows = nn.Linear(dim, groups * self.gen_rows)
            self.s_gate_points = nn.Linear(dim, groups * self.in_points)
            for m in (self.s_gate_rows, self.s_gate_points):
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
        self.out_proj = nn.Linear(groups * out_points * self.cg, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # zero generator weights: every query starts from the same (bias-defined) kernels, as AdaMixer
        nn.init.zeros_(self.generator.weight)
        if self.bias_gen is not None:
            nn.init.zeros_(self.bias_gen.weight)
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor, q: Tensor, prev: list[Kernels]) -> tuple[Tensor, Kernels]:
        b, n = q.shape[:2]
        g, cg, pk = self.groups, self.cg, self.in_points
        theta = self.generator(q).view(b, n, g, self.m_size + self.s_size)
        m_own = theta[..., : self.m_size].view(b, n, g, cg, cg)
        s_own = theta[..., self.m_size :].view(b, n, g, self.gen_rows, pk)
        if self.bias_gen is not None:
            bias = self.bias_gen(q).view(b, n, g, cg + self.out_points)
            b_m, b_s = bias[..., None, :cg], bias[..., cg:, None]
        else:
            b_m = b_s = 0.0
        h = _ln_relu(x @ m_own + b_m)  # [B, N, G, PK, Cg]
        if self.num_reused > 0:
            if len(prev) != self.num_reused:
                raise ValueError(f"stage expects {self.num_reused} earlier kernels, got {len(prev)}")
            r = x  # the first adapter's residual is the raw sampled features
            for adapter, old in zip(self.adapters, prev):  # oldest first
                h, r = adapter(h, r, q, old.M, m_own)
            s_prev = prev[-1].S[..., : self.gen_rows, :]  # first rows = the previous stage's own S
            u1 = torch.sigmoid(self.s_gate_rows(q)).view(b, n, g, self.gen_rows, 1)
            u2 = torch.sigmoid(self.s_gate_points(q)).view(b, n, g, 1, pk)
            s_mix = (s_prev * u1 + s_own * (1 - u1)) * u2 + s_own * (1 - u2)
            s_full = torch.cat([s_own, s_mix], dim=-2)  # [B, N, G, R, PK]
        else:
            s_full = s_own
        o = _ln_relu(s_full @ h + b_s)  # [B, N, G, R, Cg]
        return self.out_proj(o.reshape(b, n, -1)), Kernels(m_own, s_full)
