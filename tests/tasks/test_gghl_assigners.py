"""``model.assigner=atss|tal|simota``: a tiny one-epoch training through the real Hydra configs for each."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gghl.assigners.atss import RotatedATSSAssigner
from gghl.assigners.simota import SimOTAAssigner
from gghl.assigners.tal import TaskAlignedAssigner
from gghl.cli.train import run
from gghl.tasks.gghl_detection import GGHLDetectionTask

from ._train_helpers import compose_train

RUN = [
    "data.train_size=4",
    "data.val_size=2",
    "data.test_size=0",
    "data.num_workers=0",
    "test=false",
    "trainer.max_epochs=1",
    "trainer.precision=32-true",
]
KINDS = {"atss": RotatedATSSAssigner, "tal": TaskAlignedAssigner, "simota": SimOTAAssigner}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_one_epoch_trains_with_each_assigner(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}
    original = GGHLDetectionTask._assign

    def spy(self: GGHLDetectionTask, raw, targets, img_size):  # type: ignore[no-untyped-def]
        maps = original(self, raw, targets, img_size)
        seen["assigner"] = self.assigner
        seen["positives"] = int(seen.get("positives", 0)) + sum(int((m[..., 13] > 0).sum()) for m in maps)
        return maps

    monkeypatch.setattr(GGHLDetectionTask, "_assign", spy)
    metrics = run(compose_train(tmp_path, *RUN, f"model.assigner={name}"))
    assert isinstance(seen["assigner"], KINDS[name])
    assert int(seen["positives"]) > 0
    assert math.isfinite(float(metrics["train/loss_total"]))
    assert 0.0 <= float(metrics["val/mAP50"]) <= 1.0
