"""Cross-stage assigner (docs/stageinteractor.md#cross-stage-assigner): edge cases and a loop reference."""

import pytest
import torch

from gghl.assigners import cross_stage_targets
from gghl.assigners.cross_stage import candidate_stages, one_to_one_targets
from gghl.structures.hbb import aligned_box_iou

GT = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 70.0, 70.0]])]
LBL = [torch.tensor([1, 2])]


def _m(*rows):
    return [torch.tensor([r]) for r in rows]  # one image per stage


def test_candidate_sets_released():
    assert [candidate_stages(s, 6) for s in range(6)] == [
        [1, 2, 3, 4, 5],
        [0, 2, 3, 4, 5],
        [1, 3, 4, 5],
        [2, 4, 5],
        [3, 5],
        [4],
    ]
    assert candidate_stages(2, 4, "all") == [0, 1, 3]
    assert candidate_stages(2, 4, "none") == []
    with pytest.raises(ValueError):
        candidate_stages(0, 2, "bogus")


def test_iou_exactly_half_is_inclusive():
    # q0: IoU exactly 0.5 with GT0 (inter 50, union 100); q1: just below
    boxes = torch.tensor(
        [[[0.0, 0.0, 10.0, 5.0], [0.0, 0.0, 10.0, 4.99], [50, 50, 70, 70], [90, 90, 99, 99]]]
    )
    assert aligned_box_iou(boxes[0, 0], GT[0][0]).item() == 0.5
    matches = _m([0, -1, 1, -1], [-1, 0, 1, -1])
    t0 = cross_stage_targets(0, matches, boxes, GT, LBL, 3)
    assert t0[0, 0].tolist() == [0, 1, 0]  # own match at exactly 0.5 kept
    assert t0[0, 1].tolist() == [0, 0, 0]  # gathered from stage 1 but IoU < 0.5
    assert t0[0, 2].tolist() == [0, 0, 1]
    assert cross_stage_targets(0, matches, boxes, GT, LBL, 3, iou_thr=0.51)[0, 0].sum() == 0


def test_queries_swapping_gts_give_multi_hot():
    # a query that sits on both GTs' overlap: stage 0 matches it to GT0 (cls 1), stage 1 to GT1 (cls 2)
    gt = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 9.0]])]
    boxes = torch.tensor([[[0.0, 0.0, 10.0, 9.5], [0.0, 0.0, 10.0, 10.0]]])
    matches = _m([0, 1], [1, 0])
    t = cross_stage_targets(0, matches, boxes, gt, LBL, 3)
    assert t[0, 0].tolist() == [0, 1, 1] and t[0, 1].tolist() == [0, 1, 1]
    # same labels: swapping GTs of one class gives a single positive class per query
    t_same = cross_stage_targets(0, matches, boxes, gt, [torch.tensor([1, 1])], 3)
    assert t_same[0].tolist() == [[0, 1, 0], [0, 1, 0]]


def test_high_iou_query_never_matched_stays_negative():
    boxes = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [50, 50, 70, 70]]])
    matches = _m([0, -1, 1], [0, -1, 1], [0, -1, 1])
    for s in range(3):
        t = cross_stage_targets(s, matches, boxes, GT, LBL, 3, candidates="all")
        assert t[0, 1].sum() == 0  # IoU 1.0 with GT0, never matched
        assert t[0, 0].tolist() == [0, 1, 0]


def test_own_low_iou_positive_dropped_and_prev_only():
    boxes = torch.tensor([[[0.0, 0.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]]])
    # stage 2's candidates are stage 1 (and later); stage 0's match of q1 is NOT gathered at stage 2
    matches = _m([-1, 0], [-1, -1], [0, -1])
    t = cross_stage_targets(2, matches, boxes, GT, LBL, 3)
    assert t.sum() == 0  # own q0 has IoU 1/9 -> dropped; q1 only matched at stage 0 (s-2) -> not gathered
    assert cross_stage_targets(2, matches, boxes, GT, LBL, 3, candidates="all")[0, 1, 1] == 1
    assert cross_stage_targets(2, matches, boxes, GT, LBL, 3, keep_own_positive=True)[0, 0, 1] == 1


def test_images_without_objects_and_more_gts_than_queries():
    boxes = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [50, 50, 70, 70]]] * 2)
    gtb = [torch.zeros(0, 4), torch.tensor([[0.0, 0, 10, 10], [50, 50, 70, 70], [1, 1, 9, 9]])]
    gtl = [torch.zeros(0, dtype=torch.long), torch.tensor([0, 1, 2])]
    # stage 0 leaves GT1 unmatched, stage 1 leaves GT0 unmatched: the official GT-by-GT pairing assumes otherwise
    matches = [torch.tensor([[-1, -1], [0, 2]]), torch.tensor([[-1, -1], [2, 1]])]
    t0 = cross_stage_targets(0, matches, boxes, gtb, gtl, 3)
    assert t0[0].sum() == 0
    assert t0[1, 0].tolist() == [1, 0, 1]  # GT0 own (IoU 1), GT2 from stage 1 (IoU .64)
    assert t0[1, 1].tolist() == [0, 1, 0]  # stage 1's match of q1 to GT1
    assert torch.equal(one_to_one_targets(matches[0], gtl, 3)[1], torch.tensor([[1.0, 0, 0], [0, 0, 1]]))


def _loop_reference(stage, matches, boxes, gtb, gtl, c, thr, cand):
    b, n, _ = boxes.shape
    table = torch.zeros(b, n, c)
    for t in [stage] + candidate_stages(stage, len(matches), cand):
        for bi in range(b):
            for q in range(n):
                j = int(matches[t][bi, q])
                if j >= 0:
                    iou = aligned_box_iou(gtb[bi][j], boxes[bi, q]).item()
                    table[bi, q, gtl[bi][j]] = max(table[bi, q, gtl[bi][j]].item(), iou)
    return (table >= thr).float()


@pytest.mark.parametrize("cand", ["prev+future", "all", "none"])
def test_vectorised_equals_loop_reference(cand):
    g = torch.Generator().manual_seed(3)
    for _ in range(20):
        s, b, n, c = 4, 2, 6, 3
        ms = [int(torch.randint(0, 8, (1,), generator=g)) for _bi in range(b)]  # up to 8 > N GTs
        gtb = []
        for m in ms:
            xy = torch.randint(0, 20, (m, 2), generator=g).float()
            gtb.append(torch.cat([xy, xy + 10], -1))
        gtl = [torch.randint(0, c, (m,), generator=g) for m in ms]
        boxes = torch.randint(0, 20, (b, n, 2), generator=g).float()
        boxes = torch.cat([boxes, boxes + torch.randint(5, 15, (b, n, 2), generator=g)], -1)
        matches = []
        for _t in range(s):
            mt = torch.full((b, n), -1)
            for bi in range(b):
                perm = torch.randperm(n, generator=g)[: min(n, ms[bi])]
                mt[bi, perm] = torch.arange(len(perm))
            matches.append(mt)
        for st in range(s):
            got = cross_stage_targets(st, matches, boxes, gtb, gtl, c, candidates=cand)
            assert torch.equal(got, _loop_reference(st, matches, boxes, gtb, gtl, c, 0.5, cand))


def test_class_form_and_exclusive_threshold():
    from gghl.assigners.cross_stage import CrossStageLabelAssigner

    boxes = torch.tensor([[[0.0, 0.0, 10.0, 5.0], [50, 50, 70, 70]]])  # q0 IoU exactly 0.5 with GT0
    matches = torch.tensor([[[0, 1]], [[0, 1]]])
    both = torch.stack([boxes[0], boxes[0]])[:, None]
    inc = CrossStageLabelAssigner()(matches, both, GT, LBL, 3)
    exc = CrossStageLabelAssigner(inclusive=False)(matches, both, GT, LBL, 3)
    assert len(inc) == 2 and inc[0][0, 0, 1] == 1 and exc[0][0, 0, 1] == 0 and exc[1][0, 1, 2] == 1
    with pytest.raises(ValueError):
        CrossStageLabelAssigner(candidates="x")
