"""One-to-one matcher: shapes, edge cases, AMP-safety and the single host transfer."""

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

import gghl.assigners.hungarian as hm
from gghl.assigners import hungarian_match
from gghl.structures.hbb import generalized_box_iou


def _rand_boxes(n, size=100.0, g=None):
    xy = torch.rand(n, 2, generator=g) * size * 0.7
    wh = torch.rand(n, 2, generator=g) * size * 0.3 + 2
    return torch.cat([xy, xy + wh], -1)


def _reference_cost(logits, boxes, gtb, gtl, wh):
    """Loop reference of the matching cost (docs/stageinteractor.md#hungarian-matching), float64."""
    n, m = boxes.shape[0], gtb.shape[0]
    p = logits.double().sigmoid()
    whwh = torch.tensor([wh[0], wh[1], wh[0], wh[1]], dtype=torch.float64)
    giou = generalized_box_iou(boxes.double(), gtb.double())
    c = torch.zeros(n, m, dtype=torch.float64)
    for i in range(n):
        for j in range(m):
            pj = p[i, gtl[j]]
            fc = -torch.log(pj + 1e-12) * 0.25 * (1 - pj) ** 2 + torch.log(1 - pj + 1e-12) * 0.75 * pj**2
            l1 = (boxes[i].double() / whwh - gtb[j].double() / whwh).abs().sum()
            c[i, j] = 2 * fc + 5 * l1 - 2 * giou[i, j]
    return c


def test_cost_matches_loop_reference():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 5, generator=g) * 2
    boxes, gtb = _rand_boxes(7, g=g), _rand_boxes(3, g=g)
    gtl = torch.tensor([0, 4, 2])
    c = hm.match_cost(logits, boxes, gtb, gtl, (100.0, 80.0))
    torch.testing.assert_close(
        c.double(), _reference_cost(logits, boxes, gtb, gtl, (100.0, 80.0)), rtol=1e-5, atol=1e-5
    )
    rows, cols = linear_sum_assignment(c.numpy())
    exp = np.full(7, -1)
    exp[rows] = cols
    assert hungarian_match(logits, boxes, gtb, gtl, (100.0, 80.0)).tolist() == exp.tolist()


def test_more_gts_than_queries_and_empty():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 4, generator=g)
    boxes, gtb = _rand_boxes(3, g=g), _rand_boxes(6, g=g)
    gtl = torch.randint(0, 4, (6,), generator=g)
    m = hungarian_match(logits, boxes, gtb, gtl, (100, 100))
    assert (m >= 0).all() and len(set(m.tolist())) == 3  # every query matched, to distinct GTs
    empty = hungarian_match(logits, boxes, gtb[:0], gtl[:0], (100, 100))
    assert empty.tolist() == [-1, -1, -1]
    stages = hm.hungarian_match_stages(
        logits[None, None].expand(2, 1, 3, 4),
        boxes[None, None].expand(2, 1, 3, 4),
        [gtb],
        [gtl],
        torch.tensor([[100.0, 100.0]]),
    )
    assert stages.shape == (2, 1, 3) and (stages[0, 0] == m).all()


def test_non_finite_costs_are_sanitized():
    logits = torch.tensor([[float("nan"), 0.0], [float("inf"), -1.0], [0.5, float("-inf")]])
    boxes = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 12.0]])
    gtb = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30.0]])
    gtl = torch.tensor([0, 1])
    c = hm.match_cost(logits, boxes, gtb, gtl, (50, 50))
    assert torch.isfinite(c).all()
    m = hungarian_match(logits, boxes, gtb, gtl, (50, 50))  # scipy would raise on NaN
    assert sorted(x for x in m.tolist() if x >= 0) == [0, 1]
    # fp16 (AMP) logits that overflow are computed in fp32 and stay finite
    half = torch.full((3, 2), 70000.0).clamp(max=65504).half()
    assert torch.isfinite(hm.match_cost(half, boxes, gtb, gtl, (50, 50))).all()


def test_batched_equals_per_image_and_single_host_transfer(monkeypatch):
    g = torch.Generator().manual_seed(2)
    s, b, n, c = 4, 3, 9, 5
    logits = torch.randn(s, b, n, c, generator=g)
    boxes = torch.stack([torch.stack([_rand_boxes(n, g=g) for _ in range(b)]) for _ in range(s)])
    gtb = [_rand_boxes(k, g=g) for k in (4, 0, 11)]  # includes an empty image and M > N
    gtl = [torch.randint(0, c, (k,), generator=g) for k in (4, 0, 11)]
    wh = torch.tensor([[100.0, 100.0], [90.0, 120.0], [100.0, 80.0]])

    calls = {"to_host": 0, "cpu": 0}
    real_to_host, real_cpu = hm._to_host, torch.Tensor.cpu

    def counting_to_host(t):
        calls["to_host"] += 1
        return real_to_host(t)

    def counting_cpu(self, *a, **k):
        calls["cpu"] += 1
        return real_cpu(self, *a, **k)

    monkeypatch.setattr(hm, "_to_host", counting_to_host)
    monkeypatch.setattr(torch.Tensor, "cpu", counting_cpu)
    out = hm.hungarian_match_stages(logits, boxes, gtb, gtl, wh)
    assert calls == {"to_host": 1, "cpu": 1}
    monkeypatch.undo()
    for si in range(s):
        for bi in range(b):
            ref = hungarian_match(logits[si, bi], boxes[si, bi], gtb[bi], gtl[bi], wh[bi].tolist())
            assert out[si, bi].tolist() == ref.tolist()


def test_invalid_shapes_raise():
    with pytest.raises(RuntimeError):
        hm.match_cost(
            torch.zeros(3, 2), torch.zeros(4, 4), torch.zeros(1, 4), torch.zeros(1, dtype=torch.long), (1, 1)
        )


def test_class_form_and_softmax_cost():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 1, 6, 3, generator=g)
    boxes = torch.stack([torch.stack([_rand_boxes(6, g=g)]) for _ in range(2)])
    gtb, gtl = [_rand_boxes(2, g=g)], [torch.tensor([0, 2])]
    wh = torch.tensor([[100.0, 100.0]])
    m = hm.HungarianMatcher()(logits, boxes, gtb, gtl, wh)
    assert torch.equal(m, hm.hungarian_match_stages(logits, boxes, gtb, gtl, wh))
    c = hm.match_cost(
        logits[0, 0], boxes[0, 0], gtb[0], gtl[0], (100, 100), 1.0, 0.0, 0.0, cls_cost="softmax"
    )
    torch.testing.assert_close(c, -logits[0, 0].softmax(-1)[:, [0, 2]])
    with pytest.raises(ValueError):
        hm.match_cost(logits[0, 0], boxes[0, 0], gtb[0], gtl[0], (100, 100), cls_cost="bogus")
