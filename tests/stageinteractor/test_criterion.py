"""Set criterion: finite losses without objects, gradients, normalisers and the o2o mode."""

import torch

import gghl.losses.set_criterion as sc
from gghl.losses.set_criterion import SetCriterion


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
    out = SetCriterion(4)(logits, boxes, gtb, gtl, torch.tensor([[100.0, 100.0]] * 2))
    assert torch.isfinite(out["loss"]) and out["loss"] > 0  # focal loss on all-negative targets
    out["loss"].backward()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(boxes.grad).all()
    assert out["s0.loss_bbox"].item() == 0.0


def test_mixed_batch_and_o2o_mode():
    logits, boxes = _inputs()
    gtb = [torch.tensor([[10.0, 10, 40, 40], [50, 50, 80, 90]]), torch.zeros(0, 4)]
    gtl = [torch.tensor([1, 3]), torch.zeros(0, dtype=torch.long)]
    wh = torch.tensor([[100.0, 100.0], [100.0, 100.0]])
    cs = SetCriterion(4)(logits, boxes, gtb, gtl, wh)
    o2o = SetCriterion(4, assigner="o2o")(logits, boxes, gtb, gtl, wh)
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
    out = SetCriterion(4)(logits, boxes, gtb, gtl, torch.tensor([[100.0, 100.0]] * 3))
    monkeypatch.undo()
    assert calls == ["cpu"]  # the stacked [S, B, N, M_max] cost matrix, once per step
    assert torch.isfinite(out["loss"])
