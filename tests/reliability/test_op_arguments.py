"""Bad arguments to the ops, structures and assigners (issue 13, deliverable 7): a ``TypeError`` /
``ValueError`` naming the argument and its shape, dtype or device, never uninitialised memory, a bare
``IndexError`` or a silent reshape.

A second device is the ``meta`` device (no GPU needed); with CUDA the same is checked against ``cuda``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gghl.assigners import GaussianAssigner
from gghl.assigners.cross_stage import CrossStageLabelAssigner
from gghl.assigners.hungarian import HungarianMatcher, hungarian_match, hungarian_match_stages
from gghl.losses.set_criterion import SetCriterion
from gghl.ops import batched_nms_rotated, box_iou_rotated, nms_rotated, poly_iou
from gghl.structures import min_area_rect, orc_to_poly

BOXES = torch.tensor([[10.0, 10, 5, 3, 0.1], [11, 10, 5, 3, 0.2], [30, 30, 4, 4, 0.0]])
SCORES = torch.tensor([0.9, 0.8, 0.7])
POLYS = torch.tensor([[0.0, 0, 4, 0, 4, 4, 0, 4], [1, 1, 5, 1, 5, 5, 1, 5]])
OTHER_DEVICES = ["meta"] + (["cuda"] if torch.cuda.is_available() else [])


# ------------------------------------------------------------------ IoU ops
@pytest.mark.parametrize("device", OTHER_DEVICES)
@pytest.mark.parametrize("fn,x", [(box_iou_rotated, BOXES), (poly_iou, POLYS)], ids=["box", "poly"])
def test_iou_tensors_on_two_devices(fn, x: torch.Tensor, device: str) -> None:
    n1, n2 = ("boxes1", "boxes2") if fn is box_iou_rotated else ("polys1", "polys2")
    with pytest.raises(ValueError, match=rf"one device.*{n1} on cpu, {n2} on {device}"):
        fn(x, x.to(device))
    with pytest.raises(ValueError, match=rf"{n1} on {device}, {n2} on cpu"):
        fn(x.to(device), x)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (([[10.0, 10, 5, 3, 0.1]], BOXES), {}, TypeError, r"boxes1 must be a torch.Tensor, got list"),
        ((BOXES[0], BOXES), {}, ValueError, r"boxes1 must have shape \[N, 5\], got \(5,\)"),
        ((BOXES, BOXES[:, :4]), {}, ValueError, r"boxes2 must have shape \[N, 5\], got \(3, 4\)"),
        ((BOXES.long(), BOXES), {}, TypeError, r"boxes1 must be a floating-point tensor, got torch.int64"),
        ((BOXES, BOXES), {"aligned": "yes"}, TypeError, r"aligned must be a bool, got str"),
        ((BOXES, BOXES[:2]), {"aligned": True}, ValueError, r"aligned=True needs N == M.*\(3, 5\).*\(2, 5\)"),
    ],
)
def test_box_iou_argument_errors(args, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        box_iou_rotated(*args, **kwargs)


def test_valid_iou_calls_unchanged() -> None:
    iou = box_iou_rotated(BOXES, BOXES.double())  # dtypes are promoted, not refused
    assert iou.dtype == torch.float64 and iou.shape == (3, 3)
    torch.testing.assert_close(box_iou_rotated(BOXES, BOXES, aligned=1), torch.ones(3))
    assert poly_iou(POLYS, POLYS).shape == (2, 2)


# ------------------------------------------------------------------ NMS
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"idxs": torch.tensor([0, 1])},
            ValueError,
            r"idxs must have shape \[3\] \(one entry per row of boxes\), got \(2,\)",
        ),
        ({"idxs": torch.tensor([0, 1, 0, 1])}, ValueError, r"idxs must have shape \[3\].*got \(4,\)"),
        ({"idxs": torch.tensor([[0], [1], [0]])}, ValueError, r"idxs must have shape \[3\].*got \(3, 1\)"),
        (
            {"idxs": torch.tensor([0.0, 1.0, 0.0])},
            TypeError,
            r"idxs must be an integer tensor.*torch.float32",
        ),
        ({"idxs": [0, 1, 0]}, TypeError, r"idxs must be a torch.Tensor, got list"),
        ({"scores": SCORES[:2]}, ValueError, r"scores must have shape \[3\].*got \(2,\)"),
        ({"scores": SCORES[:, None]}, ValueError, r"scores must have shape \[3\].*got \(3, 1\)"),
        (
            {"scores": torch.tensor([True, False, True])},
            TypeError,
            r"scores must hold real numbers, got torch.bool",
        ),
        ({"boxes": BOXES[:, :4]}, ValueError, r"boxes must have shape \[N, 5\], got \(3, 4\)"),
        ({"boxes": BOXES.numpy()}, TypeError, r"boxes must be a torch.Tensor, got ndarray"),
        ({"iou_threshold": float("nan")}, ValueError, r"iou_threshold must be finite, got nan"),
        ({"iou_threshold": float("inf")}, ValueError, r"iou_threshold must be finite, got inf"),
        ({"iou_threshold": -float("inf")}, ValueError, r"iou_threshold must be finite, got -inf"),
        ({"iou_threshold": torch.tensor(float("nan"))}, ValueError, r"iou_threshold must be finite"),
        ({"iou_threshold": "0.5"}, TypeError, r"iou_threshold must be a real number, got str"),
        ({"iou_threshold": None}, TypeError, r"iou_threshold must be a real number, got NoneType"),
        (
            {"iou_threshold": torch.tensor([0.5, 0.6])},
            TypeError,
            r"iou_threshold must be a real number.*shape \(2,\)",
        ),
    ],
)
def test_batched_nms_argument_errors(kwargs, error, message) -> None:
    args = {"boxes": BOXES, "scores": SCORES, "idxs": torch.tensor([0, 1, 0]), "iou_threshold": 0.5, **kwargs}
    with pytest.raises(error, match=message):
        batched_nms_rotated(**args)


@pytest.mark.parametrize("device", OTHER_DEVICES)
def test_nms_tensors_on_two_devices(device: str) -> None:
    idxs = torch.tensor([0, 1, 0])
    with pytest.raises(ValueError, match=rf"boxes on cpu, scores on {device}"):
        nms_rotated(BOXES, SCORES.to(device), 0.5)
    with pytest.raises(ValueError, match=rf"boxes on cpu, scores on cpu, idxs on {device}"):
        batched_nms_rotated(BOXES, SCORES, idxs.to(device), 0.5)
    with pytest.raises(ValueError, match=rf"boxes on {device}, scores on cpu"):
        nms_rotated(BOXES.to(device), SCORES, 0.5)


def test_valid_nms_calls_unchanged() -> None:
    want = nms_rotated(BOXES, SCORES, 0.5)
    assert want.tolist() == [0, 2]
    for thr in (np.float32(0.5), torch.tensor(0.5), 1):  # numpy / 0-d tensor / int thresholds
        assert nms_rotated(BOXES, SCORES, thr).tolist() == ([0, 1, 2] if thr == 1 else [0, 2])
    for idxs in (torch.tensor([0, 1, 0], dtype=torch.int32), torch.tensor([True, False, True])):
        assert batched_nms_rotated(BOXES, SCORES, idxs, 0.5).tolist() == [0, 1, 2]
    assert nms_rotated(BOXES.long(), torch.tensor([3, 2, 1]), 0.5).tolist() == [0, 2]  # real dtypes work
    assert nms_rotated(torch.zeros(0, 5), torch.zeros(0), 0.5).shape == (0,)
    with pytest.raises(ValueError, match="iou_threshold must be finite"):  # checked even with no boxes
        nms_rotated(torch.zeros(0, 5), torch.zeros(0), float("nan"))


# ------------------------------------------------------------------ structures
@pytest.mark.parametrize("device", OTHER_DEVICES)
def test_structures_tensors_on_two_devices(device: str) -> None:
    pts = torch.rand(2, 4, 2)
    with pytest.raises(ValueError, match=rf"points on cpu, valid on {device}"):
        min_area_rect(pts, torch.ones(2, 4, dtype=torch.bool, device=device))
    with pytest.raises(ValueError, match=rf"hbb on cpu, s on {device}"):
        orc_to_poly(torch.rand(2, 4), torch.rand(2, 4, device=device))


def test_orc_to_poly_shapes() -> None:
    with pytest.raises(ValueError, match=r"s must have shape \[\.\.\., 4\], got \(2, 3\)"):
        orc_to_poly(torch.rand(2, 4), torch.rand(2, 3))
    with pytest.raises(ValueError, match=r"hbb and s must have the same shape, got \(2, 4\) and \(3, 4\)"):
        orc_to_poly(torch.rand(2, 4), torch.rand(3, 4))


# ------------------------------------------------------------------ GGHL assigner
def _target(n_poly: int = 2, n_lab: int = 2, **extra) -> dict:
    polys = torch.tensor([[8.0, 8, 40, 8, 40, 24, 8, 24]], dtype=torch.float64).repeat(n_poly, 1)
    return {"polygons": polys, "labels": torch.zeros(n_lab, dtype=torch.long), **extra}


@pytest.mark.parametrize(
    ("targets", "error", "message"),
    [
        (
            [_target(), _target(2, 3)],
            ValueError,
            r"targets\[1\]\['labels'\] has shape \(3,\) but targets\[1\]\['polygons'\] has shape \(2, 8\)",
        ),
        ([_target(n_lab=1)], ValueError, r"targets\[0\]\['labels'\] has shape \(1,\).*\(2, 8\).*\[2\]"),
        (
            [
                {
                    "polygons": torch.zeros(4, 4, dtype=torch.float64),
                    "labels": torch.zeros(4, dtype=torch.long),
                }
            ],
            ValueError,
            r"targets\[0\]\['polygons'\] must have shape \[N, 8\], got \(4, 4\)",
        ),
        (
            [_target(weights=torch.ones(3))],
            ValueError,
            r"targets\[0\]\['weights'\] has shape \(3,\).*\(2, 8\)",
        ),
        (
            [{**_target(), "labels": torch.zeros(2)}],
            TypeError,
            r"targets\[0\]\['labels'\] must hold integer class ids",
        ),
        (
            [{**_target(), "polygons": torch.zeros(2, 8, dtype=torch.long)}],
            TypeError,
            r"targets\[0\]\['polygons'\] must be floating point",
        ),
        ([{"polygons": torch.zeros(0, 8)}], KeyError, r"targets\[0\] has no 'labels'"),
        ([], ValueError, r"targets must be a non-empty list of per-image dicts, got an empty list"),
        ([(1, 2)], TypeError, r"targets\[0\] must be a dict, got tuple"),
    ],
)
def test_gaussian_assigner_argument_errors(targets, error, message) -> None:
    with pytest.raises(error, match=message):
        GaussianAssigner(3).assign(targets, 64)


def test_gaussian_reference_argument_errors() -> None:
    a = GaussianAssigner(3)
    with pytest.raises(ValueError, match=r"labels has shape \(3,\) but polygons has shape \(2, 8\)"):
        a.reference_maps(_target()["polygons"], torch.zeros(3, dtype=torch.long), 64)
    with pytest.raises(ValueError, match=r"img_size must be at least the largest stride 32, got 16"):
        a.assign([_target()], 16)


# ------------------------------------------------------------------ query assigners / criterion
def test_query_ground_truth_count_errors() -> None:
    logits, boxes = torch.zeros(2, 2, 4, 3), torch.rand(2, 2, 4, 4) * 10
    wh = torch.tensor([[64.0, 64.0]]).expand(2, 2)
    one = [torch.tensor([[1.0, 1, 9, 9]])]
    criterion = SetCriterion(3, HungarianMatcher(), CrossStageLabelAssigner())
    with pytest.raises(
        ValueError, match=r"gt_labels\[1\] has shape \(2,\) but gt_boxes\[1\] has shape \(1, 4\)"
    ):
        hungarian_match_stages(logits, boxes, one * 2, [torch.tensor([0]), torch.tensor([0, 1])], wh)
    with pytest.raises(
        ValueError, match=r"gt_boxes has 1 images and gt_labels 1 \(predictions hold 2 images\)"
    ):
        criterion(logits, boxes, one, [torch.tensor([0])], wh)
    with pytest.raises(TypeError, match=r"gt_labels\[0\] must hold integer class ids, got torch.float32"):
        hungarian_match(logits[0, 0], boxes[0, 0], one[0], torch.tensor([0.0]), (64, 64))
    with pytest.raises(ValueError, match=r"boxes_xyxy \[S, B, N, 4\], got \(2, 2, 4, 3\) and \(2, 2, 4, 5\)"):
        criterion(logits, torch.zeros(2, 2, 4, 5), one * 2, [torch.tensor([0])] * 2, wh)
