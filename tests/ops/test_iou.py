"""Rotated-box and polygon IoU against exact geometry (shapely, float64)."""

from __future__ import annotations

import math

import pytest
import torch
from ops_cases import TOL, adversarial_pairs, oracle_box_iou, random_boxes, shapely_iou, stress_pairs

from gghl.ops import box_iou_rotated, poly_iou
from gghl.ops._reference import box_iou_rotated_ref, poly_iou_ref
from gghl.structures import obb_to_poly

DTYPES = [torch.float64, torch.float32]


def _max_err(got: torch.Tensor, want: torch.Tensor) -> float:
    assert not torch.isnan(got).any()
    return (got.double() - want).abs().max().item()


@pytest.mark.parametrize("fn", [box_iou_rotated_ref, box_iou_rotated], ids=["reference", "public"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adversarial_pairs(fn, dtype):
    b1, b2 = (b.to(dtype) for b in adversarial_pairs())
    want = oracle_box_iou(b1, b2, aligned=True)
    got = fn(b1, b2, aligned=True)
    assert got.dtype == dtype and got.shape == (b1.shape[0],)
    assert _max_err(got, want) <= TOL[dtype]
    # The same pairs through the pairwise (non-aligned) path: the diagonal.
    assert _max_err(fn(b1, b2).diagonal(), want) <= TOL[dtype]


@pytest.mark.parametrize("fn", [box_iou_rotated_ref, box_iou_rotated], ids=["reference", "public"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_pairwise(fn, dtype):
    # Dense scene: many overlapping pairs, sizes 10-200 px in a 300 px square.
    b1 = random_boxes(120, 1, img=300.0).to(dtype)
    b2 = random_boxes(90, 2, img=300.0).to(dtype)
    want = oracle_box_iou(b1, b2)
    got = fn(b1, b2)
    assert got.shape == (120, 90)
    assert (want > 0).sum() > 2000  # the test is about overlapping pairs
    assert _max_err(got, want) <= TOL[dtype]


@pytest.mark.parametrize("fn", [box_iou_rotated_ref, box_iou_rotated], ids=["reference", "public"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_stress_near_degenerate(fn, dtype):
    # Found a too-wide boundary tolerance once (float32 error 1.8e-3 on thin shared-edge pairs).
    b1, b2 = (b.to(dtype) for b in stress_pairs(1200, seed=7))
    assert _max_err(fn(b1, b2, aligned=True), oracle_box_iou(b1, b2, aligned=True)) <= TOL[dtype]


def test_known_values():
    b = torch.tensor(
        [[0.0, 0.0, 10.0, 10.0, 0.0], [5.0, 0.0, 10.0, 10.0, 0.0], [0.0, 0.0, 10.0, 10.0, math.pi / 4]]
    )
    iou = box_iou_rotated(b, b).double()
    assert iou[0, 1].item() == pytest.approx(1 / 3, abs=1e-6)
    # Square vs the same square turned 45 degrees: intersection is a regular octagon.
    octagon = 2 * (math.sqrt(2) - 1) * 100
    assert iou[0, 2].item() == pytest.approx(octagon / (200 - octagon), abs=1e-6)
    assert torch.equal(iou.diagonal(), torch.ones(3, dtype=torch.float64))


def test_degenerate_and_empty():
    z = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 5.0, 0.2]], dtype=torch.float64)
    iou = box_iou_rotated(z, z)
    assert torch.equal(iou, torch.zeros(2, 2, dtype=torch.float64))
    assert box_iou_rotated(z[:0], z).shape == (0, 2)
    assert box_iou_rotated(z, z[:0]).shape == (2, 0)
    assert box_iou_rotated(z[:0], z[:0], aligned=True).shape == (0,)


def test_input_validation():
    with pytest.raises(ValueError):
        box_iou_rotated(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError):
        box_iou_rotated(torch.zeros(3, 5), torch.zeros(2, 5), aligned=True)


def test_gradcheck_reference():
    b1 = torch.tensor([[10.0, 12.0, 30.0, 14.0, 0.3], [0.0, 0.0, 8.0, 20.0, -1.0]], dtype=torch.float64)
    b2 = torch.tensor([[14.0, 10.0, 20.0, 25.0, 1.1], [2.0, 1.0, 10.0, 10.0, 0.2]], dtype=torch.float64)
    b1.requires_grad_(True)
    b2.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, y: box_iou_rotated(x, y, aligned=True), (b1, b2))
    assert torch.autograd.gradcheck(lambda x, y: box_iou_rotated(x, y), (b1, b2))


def test_gradcheck_poly_reference():
    p1 = obb_to_poly(torch.tensor([[10.0, 12.0, 30.0, 14.0, 0.3]], dtype=torch.float64))
    p2 = (
        obb_to_poly(torch.tensor([[14.0, 10.0, 20.0, 25.0, 1.1]], dtype=torch.float64))
        .reshape(1, 4, 2)
        .flip(1)
    )
    p1.requires_grad_(True)
    p2 = p2.reshape(1, 8).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, y: poly_iou(x, y, aligned=True), (p1, p2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_poly_iou_orientation_and_start(dtype):
    b1 = random_boxes(60, 3, img=200.0)
    b2 = random_boxes(50, 4, img=200.0)
    p1 = obb_to_poly(b1).reshape(-1, 4, 2)
    p2 = obb_to_poly(b2).reshape(-1, 4, 2)
    # Scramble: reverse orientation of half of them and rotate the start vertex.
    p1 = torch.where((torch.arange(60) % 2 == 0)[:, None, None], p1.flip(1), p1).roll(1, dims=1)
    p2 = torch.where((torch.arange(50) % 3 == 0)[:, None, None], p2.flip(1), p2).roll(2, dims=1)
    want = torch.from_numpy(shapely_iou(p1.numpy(), p2.numpy(), aligned=False))
    for fn in (poly_iou_ref, poly_iou):
        got = fn(p1.reshape(-1, 8).to(dtype), p2.reshape(-1, 8).to(dtype))
        assert got.dtype == dtype and got.shape == (60, 50)
        assert _max_err(got, want) <= TOL[dtype]
    # Polygons of boxes give the box IoU.
    got = poly_iou(p1.reshape(-1, 8)[:50], p2.reshape(-1, 8), aligned=True)
    assert _max_err(got, oracle_box_iou(b1[:50], b2, aligned=True)) <= 1e-6


def test_poly_iou_general_quads():
    # Convex quadrilaterals that are not rectangles (DOTA annotations are arbitrary convex quads).
    g = torch.Generator().manual_seed(5)
    n = 80
    ang = torch.sort(torch.rand(n, 4, generator=g, dtype=torch.float64) * 2 * math.pi, dim=1).values
    rad = 20 + 30 * torch.rand(n, 1, generator=g, dtype=torch.float64)
    c = torch.rand(n, 1, 2, generator=g, dtype=torch.float64) * 100
    p = c + rad[..., None] * torch.stack([ang.cos(), ang.sin()], -1)  # on a circle: convex
    want = torch.from_numpy(shapely_iou(p.numpy(), p.numpy(), aligned=False))
    got = poly_iou(p.reshape(n, 8), p.reshape(n, 8))
    assert _max_err(got, want) <= 1e-6


def test_identical_boxes_iou_never_exceeds_one() -> None:
    # Found by hypothesis in CI: inter / union of these identical boxes rounded to 1 + 1 ulp in float64.
    b = torch.tensor([[0.0, 0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 32.5, 9.0, 4.375]], dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        iou = box_iou_rotated(b.to(dtype), b.to(dtype), aligned=True)
        assert torch.all(iou <= 1.0) and torch.allclose(iou, torch.ones_like(iou))
