"""One AdaMixer / StageInteractor decoder stage (docs/stageinteractor.md#network)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gghl.models.query.boxes import iof_attention_bias, position_embedding, refine_xyzr, xyzr_to_xyxy
from gghl.models.query.mixing import AdaptiveMixing, Kernels
from gghl.models.query.sampler import SubboxSampler


class DecoderStage(nn.Module):
    """Self-attention with IoF bias -> sub-box sampling -> adaptive mixing -> FFN -> cls / box heads.

    Args:
        num_classes: ``C``; dim: ``D``; heads: attention heads; ffn_dim: FFN hidden width;
        groups/subboxes/points/out_points: ``G, P, K, R`` of sampling and mixing;
        num_reused: earlier kernels reused by the mixing (StageInteractor); dynamic_bias: mixing bias
        generator; scale_xy_by_wh: StageInteractor box refinement (else AdaMixer ``2^z``);
        num_levels: pyramid levels; dropout: attention / FFN dropout (0 in the papers).

    ``forward(feats, strides, q [B,N,D], xyzr [B,N,4], prev: list[Kernels])`` returns
    ``q [B,N,D]``, ``logits [B,N,C]``, ``xyzr_new [B,N,4]``, ``boxes [B,N,4]`` xyxy and this stage's ``Kernels``.
    """

    def __init__(
        self,
        num_classes: int,
        dim: int = 256,
        heads: int = 8,
        ffn_dim: int = 2048,
        groups: int = 4,
        subboxes: int = 4,
        points: int = 8,
        out_points: int = 128,
        num_reused: int = 0,
        dynamic_bias: bool = False,
        scale_xy_by_wh: bool = True,
        num_levels: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.scale_xy_by_wh = scale_xy_by_wh
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attn_norm = nn.LayerNorm(dim)
        self.iof_tau = nn.Parameter(torch.empty(heads))
        self.sampler = SubboxSampler(dim, groups, subboxes, points, num_levels)
        self.mixing = AdaptiveMixing(dim, groups, subboxes, points, out_points, num_reused, dynamic_bias)
        self.mix_norm = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(ffn_dim, dim),
            nn.Dropout(dropout),
        )
        self.ffn_norm = nn.LayerNorm(dim)
        self.cls_branch = nn.Sequential(
            nn.Linear(dim, dim), nn.LayerNorm(dim), nn.ReLU(inplace=True), nn.Linear(dim, num_classes)
        )
        self.reg_branch = nn.Sequential(
            nn.Linear(dim, dim), nn.LayerNorm(dim), nn.ReLU(inplace=True), nn.Linear(dim, 4)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Xavier on every >1-D weight, then the module-specific (zero / prior) inits on top
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        nn.init.uniform_(self.iof_tau, 0.0, 4.0)
        self.sampler.reset_parameters()
        self.mixing.reset_parameters()
        for a in self.mixing.adapters:
            for m in (a.axis, a.subbox, a.gate_in, a.gate_out, a.beta):
                nn.init.zeros_(m.weight)
        if self.mixing.num_reused > 0:
            nn.init.zeros_(self.mixing.s_gate_rows.weight)
            nn.init.zeros_(self.mixing.s_gate_points.weight)
        nn.init.constant_(self.cls_branch[-1].bias, -math.log((1 - 0.01) / 0.01))  # prior 0.01
        nn.init.zeros_(self.reg_branch[-1].weight)
        nn.init.zeros_(self.reg_branch[-1].bias)

    def forward(
        self, feats: list[Tensor], strides: list[int], q: Tensor, xyzr: Tensor, prev: list[Kernels]
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Kernels]:
        # position-aware self-attention; the residual adds the position-augmented query (as released)
        qa = q + position_embedding(xyzr, self.dim).to(q.dtype)
        bias = iof_attention_bias(xyzr_to_xyxy(xyzr), self.iof_tau).to(q.dtype)
        q = self.attn_norm(qa + self.attn(qa, qa, qa, attn_mask=bias, need_weights=False)[0])
        x = self.sampler(feats, q, xyzr, strides)
        mixed, kernels = self.mixing(x, q, prev)
        q = self.mix_norm(q + mixed)
        q = self.ffn_norm(q + self.ffn(q))
        logits = self.cls_branch(q)
        delta = self.reg_branch(q)
        # boxes in at least float32 (bf16 / fp16 autocast would round pixel coordinates), float64 stays
        delta = delta.to(torch.promote_types(delta.dtype, torch.float32))
        xyzr_new = refine_xyzr(xyzr, delta, self.scale_xy_by_wh)
        return q, logits, xyzr_new, xyzr_to_xyxy(xyzr_new), kernels
