"""ORC vertex order, ratios, area ratio and long-side angle (docs/boxes.md#orc-order)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.structures.obb import obb_to_poly
from gghl.structures.orc import (
    area_ratio,
    long_side_angle,
    orc_order,
    orc_ratios,
    orc_to_poly,
)
from gghl.structures.poly import poly_area, poly_to_hbb

DATA = Path(__file__).resolve().parents[1] / "data" / "gghl"


def _touches(ordered: torch.Tensor, tol: float = 1e-9) -> torch.Tensor:
    p = ordered.view(-1, 4, 2)
    xmin, ymin, xmax, ymax = poly_to_hbb(ordered).unbind(1)
    return (
        ((p[:, 0, 1] - ymin).abs() <= tol)
        & ((p[:, 1, 0] - xmax).abs() <= tol)
        & ((p[:, 2, 1] - ymax).abs() <= tol)
        & ((p[:, 3, 0] - xmin).abs() <= tol)
    )


def test_axis_aligned_rectangle_any_order_gives_tl_tr_br_bl() -> None:
    tl, tr, br, bl = (10.0, 20.0), (50.0, 20.0), (50.0, 35.0), (10.0, 35.0)
    want = torch.tensor([[*tl, *tr, *br, *bl]], dtype=torch.float64)
    for perm in itertools.permutations([tl, tr, br, bl]):
        got = orc_order(torch.tensor([[c for v in perm for c in v]], dtype=torch.float64))
        assert torch.equal(got, want), perm
    assert torch.equal(orc_ratios(want), torch.zeros(1, 4, dtype=torch.float64))


def test_float_rendered_90_degree_rectangle_is_near_tie_tl_first() -> None:
    # cos(pi/2) = 6e-17: corners are axis aligned up to float noise; must still come out TL, TR, BR, BL.
    poly = obb_to_poly(torch.tensor([[100.0, 60.0, 40.0, 16.0, math.pi / 2]], dtype=torch.float64))
    out = orc_order(poly).view(4, 2)
    assert out[0, 0] < out[1, 0] and out[0, 1] < out[2, 1]  # p1 left of p2, above p3
    assert torch.allclose(orc_ratios(orc_order(poly)), torch.zeros(1, 4, dtype=torch.float64), atol=1e-12)
    theta, L, Sd = long_side_angle(orc_order(poly))
    assert math.isclose(float(theta), math.pi / 2, abs_tol=1e-12) and float(L) == pytest.approx(40.0)


def test_fixture_rows_are_reproduced_from_shuffled_vertices() -> None:
    for case in "AB":
        rows = np.load(DATA / f"case{case}_input_rows.npy")
        polys = torch.from_numpy(rows[:, 5:13])
        shuffled = polys.view(-1, 4, 2)[:, [2, 0, 3, 1]].reshape(-1, 8)
        ordered = orc_order(shuffled)
        assert torch.equal(ordered, polys)
        assert torch.allclose(area_ratio(ordered), torch.from_numpy(rows[:, 13]), rtol=0, atol=1e-12)
        theta, _, _ = long_side_angle(ordered)
        assert torch.allclose(torch.rad2deg(theta), torch.from_numpy(rows[:, 14]), atol=1e-9)
        assert torch.equal(poly_to_hbb(ordered), torch.from_numpy(rows[:, 0:4]))


def test_right_trapezoid_with_corner_vertex_has_unique_orc_order() -> None:
    poly = torch.tensor([[0.0, 10.0, 0.0, 0.0, 20.0, 10.0, 10.0, 0.0]], dtype=torch.float64)
    out = orc_order(poly)
    assert out.tolist() == [[10.0, 0.0, 20.0, 10.0, 0.0, 10.0, 0.0, 0.0]]
    assert orc_ratios(out).tolist() == [[0.5, 1.0, 1.0, 1.0]]
    assert float(area_ratio(out)) == pytest.approx(0.75)
    assert torch.equal(orc_to_poly(poly_to_hbb(out), orc_ratios(out)), out)


def test_square_angle_is_zero_and_long_side_angle_of_tall_box() -> None:
    sq = torch.tensor([[0.0, 0.0, 8.0, 0.0, 8.0, 8.0, 0.0, 8.0]], dtype=torch.float64)
    theta, L, Sd = long_side_angle(orc_order(sq))
    assert float(theta) == 0.0 and float(L) == float(Sd) == 8.0
    tall = obb_to_poly(torch.tensor([[50.0, 50.0, 10.0, 30.0, math.radians(30)]], dtype=torch.float64))
    theta, L, Sd = long_side_angle(orc_order(tall))
    assert math.degrees(float(theta)) == pytest.approx(120.0) and (float(L), float(Sd)) == pytest.approx(
        (30, 10)
    )


@settings(max_examples=60, deadline=None)
@given(
    cx=st.floats(50, 750),
    cy=st.floats(50, 750),
    w=st.floats(4, 200),
    h=st.floats(4, 200),
    a=st.floats(-7, 7),
    perm=st.permutations(range(4)),
)
def test_rotated_rectangles_properties(
    cx: float, cy: float, w: float, h: float, a: float, perm: list[int]
) -> None:
    poly = obb_to_poly(torch.tensor([[cx, cy, w, h, a]], dtype=torch.float64))
    ordered = orc_order(poly.view(1, 4, 2)[:, perm].reshape(1, 8))
    assert bool(_touches(ordered).all())
    # clockwise on screen (y down): positive shoelace sum
    p = ordered.view(4, 2)
    shoelace = float((p[:, 0] * p[:, 1].roll(-1) - p[:, 0].roll(-1) * p[:, 1]).sum())
    assert shoelace > 0
    assert float(poly_area(ordered)) == pytest.approx(w * h, rel=1e-9)
    assert torch.allclose(orc_to_poly(poly_to_hbb(ordered), orc_ratios(ordered)), ordered, atol=1e-9)
    theta, L, Sd = long_side_angle(ordered)
    assert 0 <= float(theta) < math.pi
    if abs(w - h) > 1e-6:
        want = (a if w > h else a + math.pi / 2) % math.pi
        diff = abs(float(theta) - want)
        assert min(diff, math.pi - diff) < 1e-9
        assert (float(L), float(Sd)) == pytest.approx((max(w, h), min(w, h)), rel=1e-9)


def test_float32_and_empty() -> None:
    poly = torch.tensor([[0.0, 0.0, 4.0, 0.0, 4.0, 2.0, 0.0, 2.0]])
    assert orc_order(poly).dtype == torch.float32
    assert orc_order(torch.zeros(0, 8)).shape == (0, 8)
    with pytest.raises(ValueError):
        orc_order(torch.zeros(3, 6))


@settings(max_examples=60, deadline=None)
@given(
    box=st.tuples(st.floats(-100, 700), st.floats(-100, 700), st.floats(2, 300), st.floats(2, 300)),
    s=st.tuples(*[st.floats(0.01, 0.99)] * 4),
    perm=st.permutations(range(4)),
)
def test_orc_order_inverts_orc_to_poly(box: tuple, s: tuple, perm: list[int]) -> None:
    """Any quadrilateral with one vertex on each HBB side is recovered from any vertex order, with its s."""
    x0, y0, w, h = box
    hbb = torch.tensor([[x0, y0, x0 + w, y0 + h]], dtype=torch.float64)
    s_t = torch.tensor([s], dtype=torch.float64)
    poly = orc_to_poly(hbb, s_t)
    ordered = orc_order(poly.view(1, 4, 2)[:, perm].reshape(1, 8))
    assert torch.equal(ordered, poly)
    torch.testing.assert_close(orc_ratios(ordered), s_t, rtol=0, atol=1e-9)
