"""``detect_image``: detections no DOTA file can hold are dropped with a warning, the others kept."""

from __future__ import annotations

import logging

import pytest
import torch

from gghl.models.large_image import detect_image


class _Diverged:
    """A model returning one good, one huge, one NaN-score and one inf-coordinate detection per window."""

    img_size = 64

    def predict_batch(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        good = torch.tensor([10.0, 10, 20, 10, 20, 20, 10, 20])
        polys = torch.stack([good, good * 2e5, good + 30, good.clone().fill_(float("inf"))])
        scores = torch.tensor([0.9, 0.8, float("nan"), 0.7])
        return [
            {"polygons": polys, "scores": scores, "labels": torch.tensor([0, 1, 2, 3])}
            for _ in range(len(images))
        ]


def test_diverged_detections_are_dropped_and_named(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gghl.models.large_image"):
        dets = detect_image(_Diverged(), torch.rand(3, 64, 64), name="P0001")
    assert dets.scores.tolist() == pytest.approx([0.9])
    assert dets.labels.tolist() == [0]
    assert "P0001: 3 of 4 detections dropped" in caplog.text


def test_diverged_detections_never_reach_the_merge_of_several_windows() -> None:
    dets = detect_image(_Diverged(), torch.rand(3, 64, 120), name="wide")
    assert len(dets.scores) >= 1 and torch.isfinite(dets.scores).all() and (dets.polys.abs() < 1e6).all()
