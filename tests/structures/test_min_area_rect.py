"""poly_to_obb / min_area_rect: round trips, minimality oracle, squares, degenerate, huge coords."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.structures import canonicalize_obb, min_area_rect, obb_to_poly, poly_to_obb

from ._helpers import corner_set_distance

PI = math.pi


def _tol(dtype: torch.dtype, coord: float, size: float) -> float:
    eps = torch.finfo(dtype).eps
    return 64 * eps * (abs(coord) + size + 1)


@settings(max_examples=120, deadline=None)
@given(
    cx=st.floats(-5000, 5000),
    cy=st.floats(-5000, 5000),
    w=st.floats(0, 1000),
    h=st.floats(0, 1000),
    a=st.floats(-4 * PI, 4 * PI),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_round_trip_obb_poly_obb(
    cx: float, cy: float, w: float, h: float, a: float, dtype: torch.dtype
) -> None:
    obb = torch.tensor([cx, cy, w, h, a], dtype=dtype)
    poly = obb_to_poly(obb)
    back = poly_to_obb(poly)
    assert back.dtype == dtype and not bool(back.isnan().any())
    assert bool(back[2] >= back[3])
    half = torch.tensor(PI / 2, dtype=dtype)
    assert bool((back[4] >= -half) & (back[4] < half))
    tol = _tol(dtype, max(abs(cx), abs(cy)), max(w, h))
    # Same corner set (vertex start and order do not matter) and same size.
    assert float(corner_set_distance(obb_to_poly(back), poly)) < 4 * tol
    assert abs(float(back[2]) - max(w, h)) < 4 * tol
    assert abs(float(back[3]) - min(w, h)) < 4 * tol
    # A rectangle's min-area rect is that rectangle: agrees with canonicalize_obb (w/h/a) when
    # the box is clearly non-square and its angle is not at the wrap boundary.
    c = canonicalize_obb(obb.double())
    if (
        dtype == torch.float64
        and abs(w - h) > 1e-3
        and min(w, h) > 1e-3
        and abs(abs(float(c[4])) - PI / 2) > 1e-6
    ):
        torch.testing.assert_close(back, c, atol=1e-6 * (1 + abs(cx) + abs(cy) + w + h), rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("center", [(0.0, 0.0), (4000.0, 3000.0), (1e5, -1e5)])
def test_huge_coordinates_keep_size_precision(dtype: torch.dtype, center: tuple) -> None:
    obb = torch.tensor([[center[0], center[1], 30.0, 10.0, 0.4]], dtype=torch.float64)
    poly = obb_to_poly(obb).to(dtype)
    back = poly_to_obb(poly).double()
    # Sizes and angle are computed relative to the first vertex: float32 rounding of the *input*
    # corners (ulp of 1e5 is 0.0078) is the only error source.
    ulp = float(torch.finfo(dtype).eps) * max(abs(center[0]), abs(center[1]), 1.0)
    assert abs(float(back[0, 2]) - 30.0) < 8 * ulp + 1e-9
    assert abs(float(back[0, 3]) - 10.0) < 8 * ulp + 1e-9
    assert abs(float(back[0, 4]) - 0.4) < 8 * ulp / 10 + 1e-9


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_squares_are_deterministic(dtype: torch.dtype) -> None:
    # The same square given with all four starting vertices, both orientations, at angles that
    # differ by multiples of pi/2: one answer, a in [-pi/4, pi/4).
    base = obb_to_poly(torch.tensor([50.0, 60.0, 20.0, 20.0, 0.3], dtype=torch.float64)).reshape(4, 2)
    variants = []
    for start in range(4):
        for flip in (False, True):
            pts = torch.roll(base, -start, dims=0)
            if flip:
                pts = pts.flip(0)
            variants.append(pts.reshape(8))
    out = poly_to_obb(torch.stack(variants).to(dtype))
    expected = torch.tensor([50.0, 60.0, 20.0, 20.0, 0.3], dtype=dtype)
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    torch.testing.assert_close(out, expected.expand_as(out), atol=tol, rtol=0)
    # 0.3 + pi/2 and 0.3 - pi/2 describe the same square.
    for extra in (PI / 2, -PI / 2, PI, 5 * PI / 2):
        p = obb_to_poly(torch.tensor([50.0, 60.0, 20.0, 20.0, 0.3 + extra], dtype=torch.float64)).to(dtype)
        torch.testing.assert_close(poly_to_obb(p), expected, atol=tol, rtol=0)
    # Exactly at the tie a = pi/4 the smaller angle (-pi/4) wins.
    p = obb_to_poly(torch.tensor([0.0, 0.0, 2.0, 2.0, PI / 4], dtype=torch.float64))
    assert abs(float(poly_to_obb(p)[4]) + PI / 4) < 1e-9


def test_axis_aligned_square_and_rectangles() -> None:
    polys = torch.tensor(
        [
            [0, 0, 4, 0, 4, 4, 0, 4],  # square: a = 0
            [0, 0, 0, 4, 4, 4, 4, 0],  # same square, other orientation
            [0, 0, 2, 0, 2, 6, 0, 6],  # tall rectangle: w = 6, h = 2, a = -pi/2
            [0, 0, 6, 0, 6, 2, 0, 2],  # wide rectangle: a = 0
        ],
        dtype=torch.float64,
    )
    expected = torch.tensor(
        [[2, 2, 4, 4, 0], [2, 2, 4, 4, 0], [1, 3, 6, 2, -PI / 2], [3, 1, 6, 2, 0]], dtype=torch.float64
    )
    torch.testing.assert_close(poly_to_obb(polys), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_degenerate_polygons(dtype: torch.dtype) -> None:
    polys = torch.tensor(
        [
            [3, 4, 3, 4, 3, 4, 3, 4],  # one repeated point
            [0, 0, 1, 1, 2, 2, 3, 3],  # collinear, diagonal
            [0, 0, 4, 0, 4, 0, 0, 0],  # segment with repeated points
            [0, 0, 0, 5, 0, 2, 0, 1],  # vertical segment
            [0, 0, 2, 0, 2, 0, 1, 3],  # triangle (repeated vertex)
        ],
        dtype=dtype,
    )
    out = poly_to_obb(polys)
    assert not bool(out.isnan().any())
    s2 = math.sqrt(2)
    expected = torch.tensor(
        [
            [3, 4, 0, 0, 0],
            [1.5, 1.5, 3 * s2, 0, PI / 4],
            [2, 0, 4, 0, 0],
            [0, 2.5, 5, 0, -PI / 2],
        ],
        dtype=dtype,
    )
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out[:4], expected, atol=tol, rtol=0)
    # Triangle (0,0),(2,0),(1,3): min-area rect has area 6 (base 2 x height 3).
    assert abs(float(out[4, 2] * out[4, 3]) - 6.0) < 1e-4


quad_st = st.lists(st.floats(-300, 300), min_size=8, max_size=8)


def _contains(obb: torch.Tensor, pts: torch.Tensor, tol: float) -> bool:
    cx, cy, w, h, a = obb.unbind(-1)
    d = pts - torch.stack([cx, cy])
    u = d[:, 0] * torch.cos(a) + d[:, 1] * torch.sin(a)
    v = -d[:, 0] * torch.sin(a) + d[:, 1] * torch.cos(a)
    return bool((u.abs() <= w / 2 + tol).all() & (v.abs() <= h / 2 + tol).all())


@settings(max_examples=60, deadline=None)
@given(coords=quad_st)
def test_min_area_rect_is_minimal_and_encloses(coords: list) -> None:
    poly = torch.tensor(coords, dtype=torch.float64)
    obb = poly_to_obb(poly)
    pts = poly.reshape(4, 2)
    assert _contains(obb, pts, 1e-7)
    area = float(obb[2] * obb[3])
    # Oracle: the enclosing rectangle of every direction in a dense sweep (period pi/2).
    t = torch.linspace(0, PI / 2, 1441, dtype=torch.float64)
    u = pts[:, 0:1] * torch.cos(t) + pts[:, 1:2] * torch.sin(t)
    v = -pts[:, 0:1] * torch.sin(t) + pts[:, 1:2] * torch.cos(t)
    sweep = (u.amax(0) - u.amin(0)) * (v.amax(0) - v.amin(0))
    assert area <= float(sweep.min()) + 1e-6 * (1 + float(sweep.min()))
    # And exactly as small as the best pairwise-edge direction (the calipers candidates).
    best = math.inf
    for i in range(4):
        for j in range(i + 1, 4):
            d = pts[j] - pts[i]
            th = math.atan2(float(d[1]), float(d[0]))
            uu = pts[:, 0] * math.cos(th) + pts[:, 1] * math.sin(th)
            vv = -pts[:, 0] * math.sin(th) + pts[:, 1] * math.cos(th)
            best = min(best, float((uu.max() - uu.min()) * (vv.max() - vv.min())))
    assert abs(area - best) <= 1e-9 * (1 + best)


def test_min_area_rect_with_mask_and_many_points() -> None:
    # An octagon-shaped clipped polygon with 2 padded (invalid) slots holding garbage.
    pts = torch.tensor(
        [[[0, 1], [1, 0], [3, 0], [4, 1], [4, 2], [0, 2], [999, 999], [-999, 5]]], dtype=torch.float64
    )
    valid = torch.tensor([[True] * 6 + [False] * 2])
    out = min_area_rect(pts, valid)
    torch.testing.assert_close(out, torch.tensor([[2.0, 1.0, 4.0, 2.0, 0.0]], dtype=torch.float64))


def test_batched_shape_and_errors() -> None:
    polys = torch.rand(2, 3, 8) * 100
    assert poly_to_obb(polys).shape == (2, 3, 5)
    assert poly_to_obb(torch.zeros(0, 8)).shape == (0, 5)
    with pytest.raises(ValueError, match=r"\[\.\.\., 8\]"):
        poly_to_obb(torch.zeros(3, 6))
    with pytest.raises(TypeError, match="floating"):
        poly_to_obb(torch.zeros(3, 8, dtype=torch.int32))
    with pytest.raises(ValueError, match="valid"):
        min_area_rect(torch.zeros(2, 4, 2), torch.ones(2, 3, dtype=torch.bool))
