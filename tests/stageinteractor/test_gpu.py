"""CUDA checks (run by the GPU check script): matcher parity and a mixed-precision training step."""

import pytest
import torch

from gghl.assigners.cross_stage import CrossStageLabelAssigner
from gghl.assigners.hungarian import HungarianMatcher, hungarian_match_stages
from gghl.losses.set_criterion import SetCriterion
from gghl.models.query.detector import QueryDetector
from gghl.models.query.tiny_backbone import TinyConvBackbone

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_matcher_cuda_equals_cpu_and_bf16_step():
    g = torch.Generator().manual_seed(0)
    s, b, n, c = 3, 2, 20, 5
    logits = torch.randn(s, b, n, c, generator=g)
    xy = torch.rand(s, b, n, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 5 + torch.rand(s, b, n, 2, generator=g) * 50], -1)
    gtb = [torch.tensor([[10.0, 10, 50, 60], [70, 20, 120, 90]]), torch.zeros(0, 4)]
    gtl = [torch.tensor([1, 4]), torch.zeros(0, dtype=torch.long)]
    wh = torch.tensor([[160.0, 128.0]] * b)
    cpu = hungarian_match_stages(logits, boxes, gtb, gtl, wh)
    gpu = hungarian_match_stages(
        logits.cuda().half(), boxes.cuda(), [t.cuda() for t in gtb], [t.cuda() for t in gtl], wh.cuda()
    )
    assert gpu.device.type == "cuda" and (gpu.cpu() == cpu).float().mean() > 0.9  # fp16 logits may flip ties

    det = QueryDetector(
        c,
        backbone=TinyConvBackbone(),
        num_queries=n,
        dim=64,
        num_stages=3,
        heads=4,
        ffn_dim=128,
        subboxes=[8, 4, 4],
        out_points=32,
    ).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = det(torch.rand(b, 3, 128, 160, device="cuda"))
        losses = SetCriterion(c, HungarianMatcher(), CrossStageLabelAssigner())(
            out["cls_logits"], out["boxes"], [t.cuda() for t in gtb], [t.cuda() for t in gtl], wh.cuda()
        )
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"])
    assert all(torch.isfinite(p.grad).all() for p in det.parameters() if p.grad is not None)
