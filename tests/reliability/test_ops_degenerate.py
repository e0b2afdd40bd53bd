"""Degenerate input for the rotated ops (issue 9 part 2): zero-area and NaN/inf boxes give IoU 0 on
every path, and NMS drops NaN/inf boxes and NaN scores (rule: gghl/ops/_degenerate.py, ops README)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.ops import _cpu, _library, batched_nms_rotated, box_iou_rotated, nms_rotated, poly_iou
from gghl.ops._nms_reference import batched_nms_rotated_ref
from gghl.ops._reference import box_iou_rotated_ref, poly_iou_ref

NAN, INF = math.nan, math.inf
GOOD = [[10.0, 10.0, 4.0, 2.0, 0.3], [11.0, 10.0, 4.0, 3.0, -0.2]]
BAD = {  # each is invalid: its IoU with anything must be exactly 0
    "zero_w": [10.0, 10.0, 0.0, 2.0, 0.3],
    "zero_h": [10.0, 10.0, 4.0, 0.0, 0.3],
    "point": [10.0, 10.0, 0.0, 0.0, 0.0],  # used to give 1.0 (C++) and 3.0 (reference) before the guard
    "negzero": [10.0, 10.0, -0.0, 2.0, 0.0],
    "nan_cx": [NAN, 10.0, 4.0, 2.0, 0.3],
    "nan_w": [10.0, 10.0, NAN, 2.0, 0.3],
    "nan_a": [10.0, 10.0, 4.0, 2.0, NAN],
    "inf_cx": [INF, 10.0, 4.0, 2.0, 0.3],
    "ninf_h": [10.0, 10.0, 4.0, -INF, 0.3],
    "inf_a": [10.0, 10.0, 4.0, 2.0, INF],
}
DTYPES = [torch.float32, torch.float64]


def _no_ext(fn: Callable) -> Callable:
    """Run ``fn`` through the public dispatcher with the C++ kernel unavailable (reference fallback)."""

    def wrapped(*args, **kwargs):
        saved = _cpu._lib, _cpu._tried
        _cpu._lib, _cpu._tried = None, True
        try:
            return fn(*args, **kwargs)
        finally:
            _cpu._lib, _cpu._tried = saved

    return wrapped


IOU_PATHS = {
    "cpp": box_iou_rotated,
    "reference": box_iou_rotated_ref,
    "dispatch_no_ext": _no_ext(box_iou_rotated),
}
POLY_PATHS = {"cpp": poly_iou, "reference": poly_iou_ref, "dispatch_no_ext": _no_ext(poly_iou)}
NMS_PATHS = {
    "cpp": batched_nms_rotated,
    "reference": batched_nms_rotated_ref,
    "dispatch_no_ext": _no_ext(batched_nms_rotated),
}


@pytest.mark.parametrize("path", IOU_PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", BAD)
def test_box_iou_degenerate_is_zero(path: str, dtype: torch.dtype, bad: str) -> None:
    fn = IOU_PATHS[path]
    b = torch.tensor([GOOD[0], BAD[bad], GOOD[1]], dtype=dtype)
    iou = fn(b, b)
    assert not iou.isnan().any()
    assert (iou[1] == 0).all() and (iou[:, 1] == 0).all(), iou  # also against itself
    assert iou[0, 0] == pytest.approx(1.0, abs=1e-6) and iou[0, 2] > 0  # valid pairs untouched
    aligned = fn(b, b.flip(0), aligned=True)
    assert aligned[1] == 0 and not aligned.isnan().any()


@pytest.mark.parametrize("path", POLY_PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_poly_iou_degenerate_is_zero(path: str, dtype: torch.dtype) -> None:
    square = [0, 0, 4, 0, 4, 4, 0, 4]
    bad = [
        [0, 0, 0, 0, 0, 0, 0, 0],  # a point
        [0, 0, 1, 1, 2, 2, 3, 3],  # collinear: zero area
        [0, 0, 4, 4, 4, 0, 0, 4],  # symmetric bow-tie: zero signed area
        [NAN, 0, 4, 0, 4, 4, 0, 4],
        [0, 0, INF, 0, 4, 4, 0, 4],
    ]
    p = torch.tensor([square, *bad], dtype=dtype)
    iou = POLY_PATHS[path](p, p)
    assert not iou.isnan().any()
    assert iou[0, 0] == 1.0
    assert (iou[1:] == 0).all() and (iou[:, 1:] == 0).all(), iou


def test_grad_path_gives_zero_and_finite_grads() -> None:
    b = torch.tensor([GOOD[0], BAD["nan_w"], BAD["point"]], dtype=torch.float64, requires_grad=True)
    iou = box_iou_rotated(b, b.detach()[[0, 0, 0]])
    assert (iou[1:] == 0).all() and iou[0, 0].item() == pytest.approx(1.0)
    iou.sum().backward()
    assert torch.isfinite(b.grad).all() and (b.grad[1:] == 0).all()


@pytest.mark.parametrize("path", NMS_PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nms_drops_nan_boxes_and_scores(path: str, dtype: torch.dtype) -> None:
    fn = NMS_PATHS[path]
    boxes = torch.tensor(
        [GOOD[0], BAD["nan_cx"], GOOD[0], BAD["zero_w"], BAD["inf_a"], GOOD[1], GOOD[0]], dtype=dtype
    )
    scores = torch.tensor([0.9, 0.99, 0.8, 0.95, 0.97, 0.5, NAN], dtype=dtype)
    keep = fn(boxes, scores, None, 0.5)
    # 1 (NaN box), 4 (inf angle) and 6 (NaN score) are dropped although they score highest;
    # 3 (zero-area) is kept and suppresses nothing; 2 is a duplicate of 0; 5 overlaps 0 by < 0.5.
    assert keep.tolist() == [3, 0, 5]
    assert keep.dtype == torch.int64
    cats = torch.tensor([0, 0, 1, 0, 0, 1, 0])
    assert fn(boxes, scores, cats, 0.5).tolist() == [3, 0, 2, 5]


@pytest.mark.parametrize("path", NMS_PATHS)
def test_nms_all_invalid_and_inf_scores(path: str) -> None:
    fn = NMS_PATHS[path]
    boxes = torch.tensor([BAD["nan_cx"], BAD["inf_cx"]])
    assert fn(boxes, torch.tensor([0.5, 0.6]), None, 0.5).tolist() == []
    assert fn(torch.tensor(GOOD), torch.tensor([NAN, NAN]), None, 0.5).tolist() == []
    # +-inf scores are ordered values: kept, +inf first, -inf last.
    far = torch.tensor([GOOD[0], [50.0, 50.0, 4.0, 2.0, 0.0], [90.0, 9.0, 4.0, 2.0, 0.0]])
    assert fn(far, torch.tensor([0.5, INF, -INF]), None, 0.5).tolist() == [1, 0, 2]


def test_public_nms_matches_nms_rotated() -> None:
    boxes = torch.tensor([GOOD[0], BAD["nan_cx"], GOOD[0]])
    assert nms_rotated(boxes, torch.tensor([0.5, 0.9, 0.4]), 0.5).tolist() == [0]


@pytest.mark.parametrize("path", IOU_PATHS)
def test_hypothesis_found_cases_stay_fixed(path: str) -> None:
    """Cases hypothesis found at 1500 examples: a 1e-30 px sliver gave 0, 1/3 or 1 by path (now a zero-area
    box: 0 on every path); 1e30 px boxes gave IoU 2.0 in the reference (now clamped to [0, 1])."""
    fn = IOU_PATHS[path]
    sliver = torch.tensor([[0.0, 0.0, 1e-30, 1.0, 0.0]], dtype=torch.float64)
    assert fn(sliver, sliver).tolist() == [[0.0]]
    huge = torch.tensor([[0.0, 0.0, 1e30, 0.5, 0.0]], dtype=torch.float64)
    iou = fn(huge, torch.tensor([[0.0, 0.0, 1e30, 1.0, 0.0]], dtype=torch.float64))
    assert 0.0 <= float(iou) <= 1.0
    # A legitimately small box far from the origin is still a box (2.5e-6 relative, above the 1e-7 rule).
    small = torch.tensor([[4000.0, 4000.0, 1e-2, 1e-2, 0.3]], dtype=torch.float64)
    assert float(fn(small, small)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("path", NMS_PATHS)
def test_point_box_with_infinite_score_suppresses_nothing(path: str) -> None:
    boxes = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    assert NMS_PATHS[path](boxes, torch.tensor([INF, 0.0], dtype=torch.float64), None, 0.0).tolist() == [0, 1]


# ----------------------------------------------------------------------------------- hypothesis
special = st.sampled_from([NAN, INF, -INF, 0.0, -0.0, 1e-30, 1e30, -1e-3])
finite = st.floats(-60.0, 60.0, allow_nan=False, allow_infinity=False)
value = st.one_of(finite, finite, finite, special)  # mostly ordinary numbers, sometimes nasty
box_row = st.lists(value, min_size=5, max_size=5)


def _is_valid(b: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(b).all(1) & (b[:, 2] != 0) & (b[:, 3] != 0)


@settings(max_examples=int(__import__("os").environ.get("GGHL_FUZZ_N", 60)), deadline=None)
@given(st.lists(box_row, min_size=1, max_size=6), st.lists(box_row, min_size=1, max_size=6))
def test_fuzz_box_iou_defined_and_paths_agree(rows1: list, rows2: list) -> None:
    b1, b2 = torch.tensor(rows1, dtype=torch.float64), torch.tensor(rows2, dtype=torch.float64)
    fast, ref = box_iou_rotated(b1, b2), box_iou_rotated_ref(b1, b2)
    for iou in (fast, ref):
        assert torch.isfinite(iou).all() and (iou >= 0).all() and (iou <= 1 + 1e-9).all()
    invalid = ~(_is_valid(b1)[:, None] & _is_valid(b2)[None, :])
    assert (fast[invalid] == 0).all() and (ref[invalid] == 0).all()
    # 1e30-sized boxes lose all precision in float64 differences; compare ordinary ones only.
    ordinary = (b1.abs() < 1e6).all(1)[:, None] & (b2.abs() < 1e6).all(1)[None, :]
    diff = (fast - ref)[ordinary].abs()
    assert diff.numel() == 0 or diff.max() <= 1e-9
    assert (
        torch.equal(fast, box_iou_rotated(b2, b1).T) or (fast - box_iou_rotated(b2, b1).T).abs().max() <= 1e-9
    )


@settings(max_examples=int(__import__("os").environ.get("GGHL_FUZZ_N", 40)), deadline=None)
@given(
    st.lists(
        st.tuples(box_row, st.one_of(st.floats(0, 1), st.just(NAN), st.just(INF))), min_size=1, max_size=10
    ),
    st.floats(0.0, 1.0),
)
def test_fuzz_nms_valid_subset_and_paths_agree(rows: list, thr: float) -> None:
    boxes = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    scores = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    keep = nms_rotated(boxes, scores, thr)
    assert keep.tolist() == batched_nms_rotated_ref(boxes, scores, None, thr).tolist()
    assert len(set(keep.tolist())) == len(keep)
    kb, ks = boxes[keep], scores[keep]
    assert torch.isfinite(kb).all() and not ks.isnan().any()
    assert (ks[:-1] >= ks[1:]).all()  # decreasing score order
    eligible = torch.isfinite(boxes).all(1) & ~scores.isnan()
    if eligible.any():
        assert len(keep) >= 1  # the best eligible entry is always kept


def test_library_dispatch_sees_no_nan() -> None:
    """The kernels themselves never receive invalid rows (they are replaced before the call)."""
    seen = []
    real = _library._dispatch

    def spy(kind, x1, x2, aligned):
        seen.append(bool(torch.isfinite(x1).all() and torch.isfinite(x2).all()))
        return real(kind, x1, x2, aligned)

    _library._dispatch = spy
    try:
        box_iou_rotated(torch.tensor([GOOD[0], BAD["nan_a"]]), torch.tensor([BAD["inf_cx"]]))
    finally:
        _library._dispatch = real
    assert seen == [True]


def test_triton_interpreted_degenerate() -> None:
    """The Triton kernel behind the same guard (TRITON_INTERPRET=1, CPU): zero for invalid rows."""
    pytest.importorskip("triton")
    code = textwrap.dedent(
        """
        import math, torch
        from gghl.ops import _triton
        from gghl.ops._degenerate import guarded_iou
        assert _triton.available(interpret=True)
        nan, inf = math.nan, math.inf
        b = torch.tensor([[10., 10., 4., 2., .3], [nan, 10., 4., 2., .3], [10., 10., 0., 0., 0.],
                          [10., 10., 4., 2., inf], [11., 10., 4., 3., -.2]], dtype=torch.float64)
        tri = lambda x1, x2, al: _triton.pairwise_iou("box", x1, x2, al)
        iou = guarded_iou("box", tri, b, b, False)
        assert not iou.isnan().any() and (iou[1:4] == 0).all() and (iou[:, 1:4] == 0).all(), iou
        assert abs(iou[0, 0].item() - 1) < 1e-9 and iou[0, 4] > 0
        p = torch.tensor([[0, 0, 4, 0, 4, 4, 0, 4], [0, 0, 1, 1, 2, 2, 3, 3], [nan, 0, 4, 0, 4, 4, 0, 4]],
                         dtype=torch.float64)
        ip = guarded_iou("poly", lambda x1, x2, al: _triton.pairwise_iou("poly", x1, x2, al), p, p, False)
        assert ip[0, 0] == 1 and (ip[1:] == 0).all() and (ip[:, 1:] == 0).all(), ip
        print("ok")
        """
    )
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "ok" in res.stdout, res.stdout + res.stderr
