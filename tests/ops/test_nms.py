"""Rotated NMS against a plain greedy loop over exact (shapely) IoUs."""

from __future__ import annotations

import pytest
import torch
from ops_cases import clustered_boxes, greedy_nms_plain

from gghl.ops import batched_nms_rotated, nms_rotated
from gghl.ops._nms_reference import batched_nms_rotated_ref


@pytest.mark.parametrize("thr", [0.1, 0.5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_plain_greedy(thr, dtype):
    boxes, scores = clustered_boxes(400, seed=7)
    want = greedy_nms_plain(boxes, scores, thr)
    for fn in (nms_rotated, lambda b, s, t: batched_nms_rotated_ref(b, s, None, t)):
        keep = fn(boxes.to(dtype), scores.to(dtype), thr)
        assert keep.dtype == torch.int64
        assert keep.tolist() == want
    assert len(want) < 300  # clustered: NMS really removes boxes
    s = scores[keep]
    assert bool((s[:-1] >= s[1:]).all())


def test_threshold_is_strict():
    # IoU of these two boxes is exactly 1/2 (intersection 2/3 of each, union 4/3): kept at 0.5.
    b = torch.tensor([[0.0, 0.0, 3.0, 1.0, 0.0], [1.0, 0.0, 3.0, 1.0, 0.0]], dtype=torch.float64)
    s = torch.tensor([0.9, 0.8], dtype=torch.float64)
    assert nms_rotated(b, s, 0.5).tolist() == [0, 1]
    assert nms_rotated(b, s, 0.4999).tolist() == [0]
    assert nms_rotated(b.float(), s.float(), 0.5).tolist() == [0, 1]


def test_only_kept_boxes_suppress():
    # 0 suppresses 1; 1 would suppress 2, but 1 is gone, so 2 survives.
    b = torch.tensor([[0.0, 0, 10, 10, 0], [4.0, 0, 10, 10, 0], [8.0, 0, 10, 10, 0]])
    s = torch.tensor([0.9, 0.8, 0.7])
    assert nms_rotated(b, s, 0.3).tolist() == [0, 2]


def test_ties_are_stable():
    b = torch.tensor([[0.0, 0, 10, 10, 0], [0.0, 0, 10, 10, 0], [50.0, 0, 10, 10, 0], [50.0, 0, 10, 10, 0]])
    s = torch.tensor([0.5, 0.5, 0.5, 0.5])
    assert nms_rotated(b, s, 0.5).tolist() == [0, 2]


def test_empty():
    keep = nms_rotated(torch.zeros(0, 5), torch.zeros(0), 0.5)
    assert keep.dtype == torch.int64 and keep.shape == (0,)
    keep = batched_nms_rotated(torch.zeros(0, 5), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)
    assert keep.dtype == torch.int64 and keep.shape == (0,)


@pytest.mark.parametrize("thr", [0.1, 0.5])
def test_batched_never_crosses_categories(thr):
    boxes, scores = clustered_boxes(300, seed=11)
    idxs = torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(3))
    want = greedy_nms_plain(boxes, scores, thr, idxs)
    assert batched_nms_rotated(boxes, scores, idxs, thr).tolist() == want
    # Identical boxes in two categories at huge coordinates are both kept.
    b = torch.tensor([[1e7, 1e7, 20.0, 10.0, 0.3]] * 2)
    assert batched_nms_rotated(b, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), 0.5).tolist() == [0, 1]
    assert batched_nms_rotated(b, torch.tensor([0.9, 0.8]), torch.tensor([2, 2]), 0.5).tolist() == [0]
