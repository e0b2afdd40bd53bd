"""Property tests (hypothesis): symmetry, pi-periodicity, w/h swap, translation, bounds, vs shapely."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_cases import oracle_box_iou

from gghl.ops import box_iou_rotated

coord = st.floats(-50.0, 50.0, allow_nan=False)
size = st.floats(0.01, 80.0, allow_nan=False)
angle = st.floats(-20.0, 20.0, allow_nan=False)
box = st.tuples(coord, coord, size, size, angle)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(box, box), min_size=1, max_size=8), st.floats(-4000.0, 4000.0))
def test_box_iou_properties(pairs, shift):
    b1 = torch.tensor([p[0] for p in pairs], dtype=torch.float64)
    b2 = torch.tensor([p[1] for p in pairs], dtype=torch.float64)
    iou = box_iou_rotated(b1, b2, aligned=True)
    assert torch.all((iou >= 0) & (iou <= 1))
    assert (iou - oracle_box_iou(b1, b2, aligned=True)).abs().max() <= 1e-6
    assert (iou - box_iou_rotated(b2, b1, aligned=True)).abs().max() <= 1e-9
    # a + pi and the w/h swap with a + pi/2 describe the same box.
    flipped = b2.clone()
    flipped[:, 4] += math.pi
    swapped = b2[:, [0, 1, 3, 2, 4]].clone()
    swapped[:, 4] -= math.pi / 2
    assert (iou - box_iou_rotated(b1, flipped, aligned=True)).abs().max() <= 1e-6
    assert (iou - box_iou_rotated(b1, swapped, aligned=True)).abs().max() <= 1e-6
    # Translating both boxes (far from the origin) changes nothing beyond rounding.
    t1, t2 = b1.clone(), b2.clone()
    t1[:, :2] += shift
    t2[:, :2] += shift
    assert (iou - box_iou_rotated(t1, t2, aligned=True)).abs().max() <= 1e-6
