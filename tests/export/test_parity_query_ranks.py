"""Export parity of query detectors: top-K rows are compared after pairing, not by rank (two scores one
float32 ulp apart swap places between runtimes; the paper-size StageInteractor hits this)."""

import torch

from gghl.export.parity import paired_row_diff


def _rows(scores, boxes, labels):
    return {
        "scores": torch.tensor([scores]),
        "boxes": torch.tensor([boxes], dtype=torch.float32),
        "labels": torch.tensor([labels]),
    }


def test_swapped_near_ties_compare_equal_and_real_differences_do_not() -> None:
    boxes = [[0.0, 0.0, 10.0, 10.0], [500.0, 400.0, 700.0, 600.0], [5.0, 5.0, 20.0, 20.0]]
    ref = _rows([0.9, 0.8000001, 0.8], boxes, [1, 2, 2])
    swapped = _rows([0.9, 0.8000001, 0.8], [boxes[0], boxes[2], boxes[1]], [1, 2, 2])  # ranks 2 and 3 swapped
    d_s, d_b = paired_row_diff(ref, swapped, 1e-4, 1e-4 * 1088)
    assert d_s <= 1.2e-7 and d_b == 0.0
    rank_aligned = float((ref["boxes"] - swapped["boxes"]).abs().max())
    assert rank_aligned == 680.0
    moved = _rows([0.9, 0.8000001, 0.8], [boxes[0], boxes[1], [5.0, 5.0, 25.0, 20.0]], [1, 2, 2])
    assert paired_row_diff(ref, moved, 1e-4, 1e-4 * 1088)[1] == 5.0
    relabelled = _rows([0.9, 0.8000001, 0.8], boxes, [1, 2, 3])
    assert paired_row_diff(ref, relabelled, 1e-4, 1e-4 * 1088) == (float("inf"), float("inf"))
