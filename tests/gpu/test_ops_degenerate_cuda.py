"""CUDA mirror of tests/reliability/test_ops_degenerate.py: zero-area and NaN/inf boxes give IoU 0 and are
dropped by NMS on the GPU exactly as on the CPU (run by scripts/gpu_check.sh)."""

from __future__ import annotations

import math

import pytest
import torch

from gghl.ops import batched_nms_rotated, box_iou_rotated, poly_iou

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
NAN, INF = math.nan, math.inf
GOOD = [[10.0, 10.0, 4.0, 2.0, 0.3], [11.0, 10.0, 4.0, 3.0, -0.2]]
BAD = [
    [10.0, 10.0, 0.0, 2.0, 0.3],
    [10.0, 10.0, 0.0, 0.0, 0.0],
    [NAN, 10.0, 4.0, 2.0, 0.3],
    [10.0, 10.0, NAN, 2.0, 0.3],
    [10.0, 10.0, 4.0, 2.0, INF],
    [INF, 10.0, 4.0, 2.0, 0.3],
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_box_iou_degenerate_cuda(dtype: torch.dtype) -> None:
    b = torch.tensor([GOOD[0], *BAD, GOOD[1]], dtype=dtype)
    got = box_iou_rotated(b.cuda(), b.cuda())
    assert got.is_cuda and not got.isnan().any()
    assert (got[1:-1] == 0).all() and (got[:, 1:-1] == 0).all()
    assert torch.allclose(got.cpu(), box_iou_rotated(b, b), atol=1e-4)
    al = box_iou_rotated(b.cuda(), b.flip(0).cuda(), aligned=True)
    assert torch.equal(al.cpu() == 0, box_iou_rotated(b, b.flip(0), aligned=True) == 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_poly_iou_degenerate_cuda(dtype: torch.dtype) -> None:
    p = torch.tensor(
        [
            [0, 0, 4, 0, 4, 4, 0, 4],
            [0, 0, 1, 1, 2, 2, 3, 3],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [NAN, 0, 4, 0, 4, 4, 0, 4],
        ],
        dtype=dtype,
    )
    got = poly_iou(p.cuda(), p.cuda()).cpu()
    assert got[0, 0] == 1 and (got[1:] == 0).all() and (got[:, 1:] == 0).all()


def test_nms_degenerate_cuda() -> None:
    boxes = torch.tensor([GOOD[0], BAD[2], GOOD[0], BAD[0], BAD[4], GOOD[1], GOOD[0]])
    scores = torch.tensor([0.9, 0.99, 0.8, 0.95, 0.97, 0.5, NAN])
    keep = batched_nms_rotated(boxes.cuda(), scores.cuda(), None, 0.5)
    assert keep.is_cuda and keep.cpu().tolist() == [3, 0, 5]
    cats = torch.tensor([0, 0, 1, 0, 0, 1, 0])
    assert batched_nms_rotated(boxes.cuda(), scores.cuda(), cats.cuda(), 0.5).cpu().tolist() == [3, 0, 2, 5]
