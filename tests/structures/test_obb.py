"""canonicalize_obb, obb_to_hbb, hbb_to_obb, obb_to_poly: explicit numbers and properties."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.structures import canonicalize_obb, hbb_to_obb, obb_to_hbb, obb_to_poly, wrap_angle

from ._helpers import corner_set_distance

PI = math.pi


def test_obb_to_poly_explicit_clockwise() -> None:
    # a = +90 deg: the w axis points down (+y), i.e. clockwise on screen.
    poly = obb_to_poly(torch.tensor([10.0, 20.0, 4.0, 2.0, PI / 2], dtype=torch.float64))
    expected = torch.tensor([11.0, 18.0, 11.0, 22.0, 9.0, 22.0, 9.0, 18.0], dtype=torch.float64)
    torch.testing.assert_close(poly, expected)


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((0, 0, 4, 2, 0.0), (0, 0, 4, 2, 0.0)),
        ((0, 0, 2, 4, 0.0), (0, 0, 4, 2, -PI / 2)),  # w < h: swap, +pi/2 wraps to -pi/2
        ((0, 0, 4, 2, PI / 2), (0, 0, 4, 2, -PI / 2)),  # right end of [-pi/2, pi/2) is open
        ((0, 0, 4, 2, 3 * PI + 0.25), (0, 0, 4, 2, 0.25)),
        ((0, 0, 4, 2, -7 * PI - 0.25), (0, 0, 4, 2, -0.25)),
        ((0, 0, 3, 3, PI / 2 - 0.1), (0, 0, 3, 3, -0.1)),  # square: a in [-pi/4, pi/4)
        ((0, 0, 3, 3, PI / 4), (0, 0, 3, 3, -PI / 4)),
        ((0, 0, -4, 2, 0.1), (0, 0, 4, 2, 0.1)),
    ],
)
def test_canonicalize_explicit(box: tuple, expected: tuple) -> None:
    out = canonicalize_obb(torch.tensor(box, dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=0)


def test_wrap_angle_never_hits_open_end() -> None:
    a = torch.tensor([-PI / 2 - 1e-20, PI / 2, -PI / 2, 1e-300], dtype=torch.float64)
    out = wrap_angle(a)
    assert bool(((out >= -PI / 2) & (out < PI / 2)).all())
    a32 = torch.tensor([-PI / 2 - 1e-12, PI / 2], dtype=torch.float32)
    out32 = wrap_angle(a32)
    half = torch.tensor(PI / 2, dtype=torch.float32)
    assert bool(((out32 >= -half) & (out32 < half)).all())


box_st = st.tuples(
    st.floats(-5000, 5000),
    st.floats(-5000, 5000),
    st.floats(0, 800),
    st.floats(0, 800),
    st.floats(-20, 20),
)


@settings(max_examples=200, deadline=None)
@given(box=box_st, k=st.integers(-4, 4), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_canonicalize_properties(box: tuple, k: int, dtype: torch.dtype) -> None:
    obb = torch.tensor(box, dtype=dtype)
    c = canonicalize_obb(obb)
    assert c.dtype == dtype
    assert bool(c[2] >= c[3])
    # Range checked in the tensor's own dtype: float32(pi/2) is not Python's pi/2.
    half, quarter = torch.tensor(PI / 2, dtype=dtype), torch.tensor(PI / 4, dtype=dtype)
    assert bool((c[4] >= -half) & (c[4] < half))
    if bool(c[2] == c[3]):
        assert bool((c[4] >= -quarter) & (c[4] < quarter))
    tol = 1e-6 if dtype == torch.float64 else 2e-2
    # Same rectangle as the input, and a + k*pi gives the same rectangle.
    assert float(corner_set_distance(obb_to_poly(c), obb_to_poly(obb))) < tol
    shifted = obb.clone()
    shifted[4] += k * PI
    assert float(corner_set_distance(obb_to_poly(canonicalize_obb(shifted)), obb_to_poly(c))) < tol
    # Idempotent.
    torch.testing.assert_close(canonicalize_obb(c), c)


@settings(max_examples=100, deadline=None)
@given(box=box_st)
def test_obb_to_hbb_matches_corners(box: tuple) -> None:
    obb = torch.tensor(box, dtype=torch.float64)
    poly = obb_to_poly(obb)
    expected = torch.stack([poly[0::2].min(), poly[1::2].min(), poly[0::2].max(), poly[1::2].max()])
    torch.testing.assert_close(obb_to_hbb(obb), expected, atol=1e-9, rtol=1e-12)


def test_hbb_to_obb() -> None:
    hbb = torch.tensor([[0.0, 0.0, 4.0, 2.0], [1.0, 1.0, 3.0, 7.0]], dtype=torch.float64)
    expected = torch.tensor([[2.0, 1.0, 4.0, 2.0, 0.0], [2.0, 4.0, 6.0, 2.0, -PI / 2]], dtype=torch.float64)
    torch.testing.assert_close(hbb_to_obb(hbb), expected)
    torch.testing.assert_close(obb_to_hbb(hbb_to_obb(hbb)), hbb)


def test_batched_shapes_and_dtype() -> None:
    obb = torch.rand(2, 3, 5, dtype=torch.float32) * 10
    assert canonicalize_obb(obb).shape == (2, 3, 5)
    assert obb_to_hbb(obb).shape == (2, 3, 4)
    assert canonicalize_obb(obb).dtype == torch.float32
    assert canonicalize_obb(torch.zeros(0, 5)).shape == (0, 5)


def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match=r"\[\.\.\., 5\]"):
        canonicalize_obb(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="floating"):
        canonicalize_obb(torch.zeros(3, 5, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        obb_to_hbb([1, 2, 3, 4, 5])  # type: ignore[arg-type]
