"""Decoder stages; ``reuse_operators``: AdaMixer <-> StageInteractor (docs/stageinteractor.md#network)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gghl.models.query.mixing import Kernels
from gghl.models.query.stage import DecoderStage


class QueryDecoder(nn.Module):
    """``num_stages`` decoder stages.

    Args:
        num_classes: ``C``; num_stages: ``S``; dim: ``D``; heads; ffn_dim; groups: ``G``; points: ``K``;
        subboxes: ``P`` per stage (int or per-stage list; StageInteractor uses ``[8, 4, 4, ...]``);
        out_points: ``R``; reuse_operators: StageInteractor kernel reuse + dynamic mixing bias + ``(w, h)``
        scaled refinement; False gives AdaMixer; num_levels; dropout.

    ``forward(feats, strides, q [B,N,D], xyzr [B,N,4])`` -> dict with ``cls_logits [S,B,N,C]`` and
    ``boxes [S,B,N,4]`` (abs xyxy). Boxes are detached between stages; queries are not.
    """

    def __init__(
        self,
        num_classes: int,
        num_stages: int = 6,
        dim: int = 256,
        heads: int = 8,
        ffn_dim: int = 2048,
        groups: int = 4,
        points: int = 8,
        subboxes: int | Sequence[int] = 4,
        out_points: int = 128,
        reuse_operators: bool = True,
        num_levels: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        subs = [subboxes] * num_stages if isinstance(subboxes, int) else list(subboxes)
        if len(subs) != num_stages:
            raise ValueError(f"subboxes has {len(subs)} entries for {num_stages} stages")
        self.reuse_operators = reuse_operators
        self.stages = nn.ModuleList(
            DecoderStage(
                num_classes,
                dim,
                heads,
                ffn_dim,
                groups,
                subs[s],
                points,
                out_points,
                num_reused=max(s - 1, 0) if reuse_operators else 0,
                dynamic_bias=reuse_operators,
                scale_xy_by_wh=reuse_operators,
                num_levels=num_levels,
                dropout=dropout,
            )
            for s in range(num_stages)
        )
        if reuse_operators:  # reused S rows are sliced by sub-box: stages >= 1 must agree on P
            if len(set(subs[1:])) > 1:
                raise ValueError("StageInteractor reuse needs the same number of sub-boxes for stages >= 1")

    def forward(self, feats: list[Tensor], strides: list[int], q: Tensor, xyzr: Tensor) -> dict[str, Tensor]:
        logits_all, boxes_all = [], []
        kernels: list[Kernels] = []
        for s, stage in enumerate(self.stages):
            q, logits, xyzr, boxes, own = stage(feats, strides, q, xyzr, kernels if s >= 2 else [])
            # stages 0 and 1 reset the reuse list; later stages append (stage-0 kernels never reused)
            kernels = [own] if s < 2 else kernels + [own]
            xyzr = xyzr.detach()
            logits_all.append(logits)
            boxes_all.append(boxes)
        return {"cls_logits": torch.stack(logits_all), "boxes": torch.stack(boxes_all)}
