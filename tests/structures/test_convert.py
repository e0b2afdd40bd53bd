"""Converters to/from torchvision, detectron2, GGHL long-side, Ultralytics xywhr, mmrotate le90."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.structures import (
    canonicalize_obb,
    detectron2_to_obb,
    gghl_longside_to_obb,
    hbb_to_poly,
    mmrotate_le90_to_obb,
    obb_to_detectron2,
    obb_to_gghl_longside,
    obb_to_mmrotate_le90,
    obb_to_poly,
    obb_to_tv_cxcywhr,
    obb_to_ultralytics_xywhr,
    poly_area,
    poly_area_signed,
    poly_to_hbb,
    tv_cxcywhr_to_obb,
    ultralytics_xywhr_to_obb,
)

from ._helpers import corner_set_distance

PI = math.pi
box_st = st.tuples(
    st.floats(-2000, 2000),
    st.floats(-2000, 2000),
    st.floats(0.5, 500),
    st.floats(0.5, 500),
    st.floats(-10, 10),
)


def _ultralytics_corners(b: torch.Tensor) -> torch.Tensor:
    """Oracle written from Ultralytics' documented xywhr2xyxyxyxy: vec1 = w/2 (cos r, sin r),
    vec2 = h/2 (-sin r, cos r); corners ctr+v1+v2, ctr+v1-v2, ctr-v1-v2, ctr-v1+v2."""
    ctr, w, h, r = b[..., :2], b[..., 2:3], b[..., 3:4], b[..., 4:5]
    v1 = torch.cat([w / 2 * torch.cos(r), w / 2 * torch.sin(r)], -1)
    v2 = torch.cat([-h / 2 * torch.sin(r), h / 2 * torch.cos(r)], -1)
    return torch.stack([ctr + v1 + v2, ctr + v1 - v2, ctr - v1 - v2, ctr - v1 + v2], -2).flatten(-2)


def test_torchvision_box_convert_agrees_exactly() -> None:
    box_convert = pytest.importorskip("torchvision.ops").box_convert
    g = torch.Generator().manual_seed(0)
    obb = torch.rand(64, 5, generator=g, dtype=torch.float64) * torch.tensor(
        [800, 800, 200, 100, 20]
    ) - torch.tensor([0, 0, 0, 0, 10])
    tv = obb_to_tv_cxcywhr(obb)
    try:
        corners = box_convert(tv, "cxcywhr", "xyxyxyxy")
    except (ValueError, NotImplementedError):  # torchvision < 0.23 has no rotated formats
        pytest.skip("torchvision without rotated box_convert")
    # Same corners in the same order, not just the same set.
    torch.testing.assert_close(corners, obb_to_poly(obb), atol=1e-9, rtol=0)
    back = tv_cxcywhr_to_obb(tv)
    assert float(corner_set_distance(obb_to_poly(back), obb_to_poly(obb)).max()) < 1e-9
    # And torchvision's own inverse (xyxyxyxy -> cxcywhr) lands on the same rectangle.
    tv2 = box_convert(corners, "xyxyxyxy", "cxcywhr")
    assert float(corner_set_distance(obb_to_poly(tv_cxcywhr_to_obb(tv2)), obb_to_poly(obb)).max()) < 1e-6


def test_torchvision_explicit_number() -> None:
    # torchvision 30 deg CCW == ours -30 deg (pi/6 counter-clockwise on screen).
    torch.testing.assert_close(
        tv_cxcywhr_to_obb(torch.tensor([10.0, 20.0, 8.0, 4.0, 30.0], dtype=torch.float64)),
        torch.tensor([10.0, 20.0, 8.0, 4.0, -PI / 6], dtype=torch.float64),
    )


@settings(max_examples=100, deadline=None)
@given(box=box_st)
def test_detectron2_round_trip(box: tuple) -> None:
    obb = torch.tensor(box, dtype=torch.float64)
    d2 = obb_to_detectron2(obb)
    assert -90.0 < float(d2[4]) <= 90.0 + 1e-9
    torch.testing.assert_close(detectron2_to_obb(d2), canonicalize_obb(obb), atol=1e-9, rtol=0)
    # detectron2 corners == torchvision corners == ours.
    assert float(corner_set_distance(obb_to_poly(detectron2_to_obb(d2)), obb_to_poly(obb))) < 1e-9


@pytest.mark.parametrize(
    ("obb", "gghl"),
    [
        ((0, 0, 4, 2, 0.0), (0, 0, 4, 2, 0.0)),
        ((0, 0, 4, 2, PI / 6), (0, 0, 4, 2, 30.0)),  # clockwise on screen == GGHL theta direction
        ((0, 0, 4, 2, -PI / 6), (0, 0, 4, 2, 150.0)),
        ((0, 0, 2, 4, 0.0), (0, 0, 4, 2, 90.0)),  # tall box: long side vertical
        ((0, 0, 3, 3, PI / 2), (0, 0, 3, 3, 0.0)),  # square at 90 -> 0, as GGHL's tools do
        ((0, 0, 4, 2, PI), (0, 0, 4, 2, 0.0)),
    ],
)
def test_gghl_longside_explicit(obb: tuple, gghl: tuple) -> None:
    out = obb_to_gghl_longside(torch.tensor(obb, dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor(gghl, dtype=torch.float64), atol=1e-9, rtol=0)


@settings(max_examples=100, deadline=None)
@given(box=box_st, dtype=st.sampled_from([torch.float32, torch.float64]))
def test_gghl_longside_round_trip(box: tuple, dtype: torch.dtype) -> None:
    obb = torch.tensor(box, dtype=dtype)
    g = obb_to_gghl_longside(obb)
    assert bool(g[2] >= g[3])
    assert 0.0 <= float(g[4]) < 180.0
    back = gghl_longside_to_obb(g)
    tol = 1e-6 if dtype == torch.float64 else 5e-2
    assert float(corner_set_distance(obb_to_poly(back), obb_to_poly(obb))) < tol
    # Long-side direction really is theta, measured from +x towards +y.
    p = obb_to_poly(back.double()).reshape(4, 2)
    e = p[1] - p[0]  # the w (long) edge
    theta = math.degrees(math.atan2(float(e[1]), float(e[0]))) % 180.0
    diff = abs(theta - float(g[4])) % 180.0
    assert min(diff, 180.0 - diff) < (1e-6 if dtype == torch.float64 else 1e-2) or float(g[2] - g[3]) < 1e-3


@settings(max_examples=100, deadline=None)
@given(box=box_st)
def test_ultralytics_same_rotation_sense(box: tuple) -> None:
    obb = torch.tensor(box, dtype=torch.float64)
    u = obb_to_ultralytics_xywhr(obb)
    assert bool(u[2] >= u[3])
    assert -PI / 4 <= float(u[4]) < 3 * PI / 4
    # Their corner formula applied to our box (r == a) gives our corners 3, 2, 1, 4.
    ours = obb_to_poly(obb).reshape(4, 2)
    theirs = _ultralytics_corners(obb).reshape(4, 2)
    torch.testing.assert_close(theirs, ours[[2, 1, 0, 3]], atol=1e-9, rtol=0)
    assert float(corner_set_distance(_ultralytics_corners(u), obb_to_poly(obb))) < 1e-9
    torch.testing.assert_close(ultralytics_xywhr_to_obb(u), canonicalize_obb(obb), atol=1e-9, rtol=0)


@settings(max_examples=100, deadline=None)
@given(box=box_st)
def test_ultralytics_prediction_range_reads_back(box: tuple) -> None:
    """Ultralytics 8.4 predictions (``regularize_rboxes``): the angle folded into ``[0, pi/2)``, ``w`` and ``h``
    swapped where a half-turn was removed, so ``w < h`` happens (written from that documented rule)."""
    obb = torch.tensor(box, dtype=torch.float64)
    u = obb_to_ultralytics_xywhr(obb)
    swap = bool(u[4] % PI >= PI / 2)
    pred = torch.stack([u[0], u[1], u[3] if swap else u[2], u[2] if swap else u[3], u[4] % (PI / 2)])
    assert 0 <= float(pred[4]) < PI / 2
    assert float(corner_set_distance(_ultralytics_corners(pred), obb_to_poly(obb))) < 1e-6
    torch.testing.assert_close(ultralytics_xywhr_to_obb(pred), canonicalize_obb(obb), atol=1e-6, rtol=0)


def test_mmrotate_le90_is_canonical_form() -> None:
    obb = torch.tensor([[5.0, 6.0, 2.0, 8.0, 0.2], [1.0, 1.0, 8.0, 2.0, -1.2]], dtype=torch.float64)
    torch.testing.assert_close(obb_to_mmrotate_le90(obb), canonicalize_obb(obb))
    torch.testing.assert_close(mmrotate_le90_to_obb(obb), canonicalize_obb(obb))


def test_poly_helpers() -> None:
    obb = torch.tensor([[10.0, 20.0, 4.0, 2.0, 0.0], [0.0, 0.0, 6.0, 6.0, PI / 4]], dtype=torch.float64)
    poly = obb_to_poly(obb)
    torch.testing.assert_close(poly_area_signed(poly), torch.tensor([8.0, 36.0], dtype=torch.float64))
    # Reversed vertex order (counter-clockwise on screen) -> negative signed area.
    rev = poly.reshape(2, 4, 2).flip(1).reshape(2, 8)
    torch.testing.assert_close(poly_area_signed(rev), torch.tensor([-8.0, -36.0], dtype=torch.float64))
    torch.testing.assert_close(poly_area(rev), torch.tensor([8.0, 36.0], dtype=torch.float64))
    r = 3 * math.sqrt(2)
    torch.testing.assert_close(
        poly_to_hbb(poly), torch.tensor([[8.0, 19.0, 12.0, 21.0], [-r, -r, r, r]], dtype=torch.float64)
    )
    hbb = torch.tensor([[1.0, 2.0, 5.0, 3.0]])
    torch.testing.assert_close(hbb_to_poly(hbb), torch.tensor([[1.0, 2.0, 5.0, 2.0, 5.0, 3.0, 1.0, 3.0]]))
    # Large coordinates: area computed relative to the first vertex stays exact in float32.
    big = obb_to_poly(torch.tensor([[1e5, 1e5, 4.0, 2.0, 0.0]], dtype=torch.float64)).float()
    torch.testing.assert_close(poly_area(big), torch.tensor([8.0]))
    with pytest.raises(ValueError, match="2K"):
        poly_area(torch.zeros(3, 7))
