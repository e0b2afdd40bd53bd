"""Set criterion: finite losses without objects, gradients, normalisers, the o2o setting, injected parts."""

import pytest
import torch

import gghl.losses.set_criterion as sc
from gghl.assigners.cross_stage import CrossStageLabelAssigner
from gghl.assigners.hungarian import HungarianMatcher
from gghl.losses.set_criterion import SetCriterion


def _criterion(c: int, **assigner) -> SetCriterion:
    """The paper criterion (Hungarian matcher, cross-stage labels, weights 2/5/2) with assigner options."""
    return SetCriterion(c, HungarianMatcher(), CrossStageLabelAssigner(**assigner))


def _inputs(s=3, b=2, n=5, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(s, b, n, c, generator=g, requires_grad=True)
    xy = torch.rand(s, b, n, 2, generator=g) * 60
    boxes = torch.cat([xy, xy + 10 + torch.rand(s, b, n, 2, generator=g) * 20], -1).requires_grad_()
    return logits, boxes


def test_images_without_objects_finite_loss_and_grad():
    logits, boxes = _inputs()
    gtb = [torch.zeros(0, 4), torch.zeros(0, 4)]
    gtl = [torch.zeros(0, dtype=torch.long)] * 2
    out = _criterion(4)(logits, boxes, gtb, gtl, torch.tensor([[100.0, 100.0]] * 2))
    assert torch.isfinite(out["loss"]) and out["loss"] > 0  # focal loss on all-negative targets
    out["loss"].backward()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(boxes.grad).all()
    assert out["s0.loss_bbox"].item() == 0.0


def test_mixed_batch_and_o2o_mode():
    logits, boxes = _inputs()
    gtb = [torch.tensor([[10.0, 10, 40, 40], [50, 50, 80, 90]]), torch.zeros(0, 4)]
    gtl = [torch.tensor([1, 3]), torch.zeros(0, dtype=torch.long)]
    wh = torch.tensor([[100.0, 100.0], [100.0, 100.0]])
    cs = _criterion(4)(logits, boxes, gtb, gtl, wh)
    o2o = _criterion(4, candidates="none", keep_own_positive=True)(logits, boxes, gtb, gtl, wh)
    for k in ("s0.loss_bbox", "s1.loss_iou"):  # regression is identical: own matches only
        torch.testing.assert_close(cs[k], o2o[k])
    assert o2o["num_cls_pos"].item() == 2  # one-hot on own matches
    cs["loss"].backward()
    assert boxes.grad.abs().sum() > 0


def test_normalisers_are_averaged_over_ranks(monkeypatch):
    class FakeDist:
        @staticmethod
        def is_available():
            return True

        @staticmethod
        def is_initialized():
            return True

        @staticmethod
        def get_world_size():
            return 4

        @staticmethod
        def all_reduce(x):
            x.mul_(4).add_(6.0)  # sum over 4 ranks of (x, x, x, x) + 6 from "other ranks"

    monkeypatch.setattr(sc, "dist", FakeDist)
    assert sc.reduce_mean_clamped(torch.tensor(2.0)).item() == (8 + 6) / 4
    assert sc.reduce_mean_clamped(torch.tensor(0.0)).item() == 6 / 4
    monkeypatch.undo()
    assert sc.reduce_mean_clamped(torch.tensor(0.0)).item() == 1.0  # clamped, no inf


def test_focal_loss_formula():
    x = torch.tensor([[-1.0, 2.0]])
    y = torch.tensor([[0.0, 1.0]])
    p = x.sigmoid()
    exp = -(torch.log(1 - p[0, 0]) * 0.75 * p[0, 0] ** 2) - torch.log(p[0, 1]) * 0.25 * (1 - p[0, 1]) ** 2
    torch.testing.assert_close(sc.sigmoid_focal_loss_sum(x, y), exp)


def test_criterion_step_makes_one_host_transfer(monkeypatch):
    logits, boxes = _inputs(s=4, b=3)
    gtb = [
        torch.tensor([[10.0, 10, 40, 40]]),
        torch.zeros(0, 4),
        torch.tensor([[5.0, 5, 30, 30], [50, 50, 80, 90]]),
    ]
    gtl = [torch.tensor([1]), torch.zeros(0, dtype=torch.long), torch.tensor([0, 3])]
    calls = []
    for name in ("cpu", "item", "tolist"):
        real = getattr(torch.Tensor, name)

        def wrapper(self, *a, _real=real, _name=name, **k):
            calls.append(_name)
            return _real(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    out = _criterion(4)(logits, boxes, gtb, gtl, torch.tensor([[100.0, 100.0]] * 3))
    monkeypatch.undo()
    assert calls == ["cpu"]  # the stacked [S, B, N, M_max] cost matrix, once per step
    assert torch.isfinite(out["loss"])


def test_parts_are_injected_and_weights_named():
    class FixedMatcher:
        def __call__(self, cls_logits, boxes_xyxy, gt_boxes, gt_labels, img_wh):
            return torch.tensor([[[0, -1, -1, -1, -1]]]).expand(3, 1, 5)

    logits, boxes = _inputs(b=1)
    gtb, gtl, wh = [torch.tensor([[10.0, 10, 40, 40]])], [torch.tensor([2])], torch.tensor([[100.0, 100.0]])
    out = SetCriterion(4, FixedMatcher(), CrossStageLabelAssigner())(logits, boxes, gtb, gtl, wh)
    given = SetCriterion(4, HungarianMatcher(), CrossStageLabelAssigner())(
        logits, boxes, gtb, gtl, wh, matches=FixedMatcher()(logits, boxes, gtb, gtl, wh)
    )
    torch.testing.assert_close(out["loss"], given["loss"])
    double = SetCriterion(4, FixedMatcher(), CrossStageLabelAssigner(), weights={"loss_bbox": 10.0})
    torch.testing.assert_close(double(logits, boxes, gtb, gtl, wh)["s1.loss_bbox"], 2 * out["s1.loss_bbox"])
    with pytest.raises(ValueError, match=r"unknown loss names \['loss_l1'\]"):
        SetCriterion(4, FixedMatcher(), CrossStageLabelAssigner(), weights={"loss_l1": 1.0})
    with pytest.raises(TypeError, match="assigner must be callable"):
        SetCriterion(4, FixedMatcher(), "o2o")
