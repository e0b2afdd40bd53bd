"""CUDA (Triton) ops against exact geometry and the CPU path; run by scripts/gpu_check.sh."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from ops_cases import TOL, adversarial_pairs, clustered_boxes, oracle_box_iou, random_boxes, stress_pairs  # noqa: E402

import gghl.ops as ops  # noqa: E402
from gghl.ops import _triton  # noqa: E402
from gghl.structures import obb_to_poly  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]
DTYPES = [torch.float64, torch.float32]


def test_triton_is_used():
    assert _triton.available(), "Triton missing: CUDA ops would fall back to the pure-torch reference"


@pytest.mark.parametrize("dtype", DTYPES)
def test_adversarial_cuda(dtype):
    a1, a2 = (b.to(dtype) for b in adversarial_pairs())
    want = oracle_box_iou(a1, a2, aligned=True)
    got = ops.box_iou_rotated(a1.cuda(), a2.cuda(), aligned=True)
    assert got.is_cuda and got.dtype == dtype
    assert (got.cpu().double() - want).abs().max() <= TOL[dtype]
    got_pw = ops.box_iou_rotated(a1.cuda(), a2.cuda()).diagonal()
    assert (got_pw.cpu().double() - want).abs().max() <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_stress_cuda(dtype):
    b1, b2 = (b.to(dtype) for b in stress_pairs(3000, seed=9))
    got = ops.box_iou_rotated(b1.cuda(), b2.cuda(), aligned=True).cpu()
    assert (got.double() - oracle_box_iou(b1, b2, aligned=True)).abs().max() <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_cuda_vs_cpu_and_oracle(dtype):
    b1 = random_boxes(400, 31, img=600.0).to(dtype)
    b2 = random_boxes(300, 32, img=600.0).to(dtype)
    want = oracle_box_iou(b1, b2)
    cpu = ops.box_iou_rotated(b1, b2)
    gpu = ops.box_iou_rotated(b1.cuda(), b2.cuda()).cpu()
    assert (gpu.double() - want).abs().max() <= TOL[dtype]
    assert (gpu.double() - cpu.double()).abs().max() <= {torch.float64: 1e-9, torch.float32: 1e-3}[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_poly_iou_cuda(dtype):
    b1 = random_boxes(200, 33, img=400.0)
    b2 = random_boxes(150, 34, img=400.0)
    p1 = obb_to_poly(b1).to(dtype)
    p2 = obb_to_poly(b2).reshape(-1, 4, 2).flip(1).roll(1, dims=1).reshape(-1, 8).to(dtype)
    got = ops.poly_iou(p1.cuda(), p2.cuda()).cpu()
    assert (got.double() - oracle_box_iou(b1, b2)).abs().max() <= TOL[dtype]


@pytest.mark.parametrize("thr", [0.1, 0.5])
def test_nms_cuda_matches_cpu(thr):
    boxes, scores = clustered_boxes(2000, seed=41)
    idxs = torch.randint(0, 5, (2000,), generator=torch.Generator().manual_seed(2))
    for dt in DTYPES:
        b, s = boxes.to(dt), scores.to(dt)
        assert ops.nms_rotated(b.cuda(), s.cuda(), thr).cpu().tolist() == ops.nms_rotated(b, s, thr).tolist()
        got = ops.batched_nms_rotated(b.cuda(), s.cuda(), idxs.cuda(), thr)
        assert got.is_cuda and got.cpu().tolist() == ops.batched_nms_rotated(b, s, idxs, thr).tolist()
    assert ops.nms_rotated(torch.zeros(0, 5, device="cuda"), torch.zeros(0, device="cuda"), 0.5).numel() == 0


def test_triton_nms_path_matches_cpu():
    # The compiler-less CUDA NMS path (IoU matrix on the GPU + greedy pass on its bitmask).
    boxes, scores = clustered_boxes(1500, seed=43)
    idxs = torch.randint(0, 4, (1500,), generator=torch.Generator().manual_seed(4))
    order = torch.sort(scores, descending=True, stable=True).indices
    for thr in (0.1, 0.5):
        keep = _triton.nms_sorted(boxes[order].cuda(), idxs[order].cuda(), thr)
        assert order[keep.cpu()].tolist() == ops.batched_nms_rotated(boxes, scores, idxs, thr).tolist()


def test_large_pairwise_smoke():
    # 4k x 4k DOTA-like: exercises chunking; spot-check a random sub-block against the oracle.
    b1 = random_boxes(4000, 51).float().cuda()
    b2 = random_boxes(3000, 52).float().cuda()
    iou = ops.box_iou_rotated(b1, b2)
    assert iou.shape == (4000, 3000) and torch.isfinite(iou).all()
    rows, cols = slice(1000, 1200), slice(500, 800)
    want = oracle_box_iou(b1[rows].cpu(), b2[cols].cpu())
    assert (iou[rows, cols].cpu().double() - want).abs().max() <= 2e-3


def test_compile_cuda():
    def f(a, b):
        return ops.box_iou_rotated(a, b).amax(dim=1)

    b1, b2 = random_boxes(50, 61).float().cuda(), random_boxes(40, 62).float().cuda()
    got = torch.compile(f, backend="aot_eager", fullgraph=True)(b1, b2)
    assert torch.allclose(got, f(b1, b2))
