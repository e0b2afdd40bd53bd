"""Training faults (out-of-memory on a batch) and what a run logs: learning rate, GGHL assignment statistics
(positives per object per level) and validation images with boxes drawn, for the csv and tensorboard loggers."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import lightning as L
import pytest
import torch

from gghl.cli.train import run
from gghl.data.detection_datamodule import SyntheticDataModule
from gghl.models.gghl_detector import build_gghl_detector
from gghl.tasks.faults import BatchOutOfMemoryError, report_oom
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


def _task() -> GGHLDetectionTask:
    net = build_gghl_detector(5, backbone="test_resnet", neck_widths=(16, 32, 64), neck_convs=1, spp=False)
    return GGHLDetectionTask(net, 5, optimizer="adamw", lr=1e-3, warmup_epochs=0)


def test_out_of_memory_names_batch_shape_and_hint(tmp_path: Path) -> None:
    task = _task()

    def oom(x: torch.Tensor) -> list[torch.Tensor]:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    task.net.forward = oom  # type: ignore[method-assign]
    dm = SyntheticDataModule(
        num_classes=5, train_size=4, val_size=0, test_size=0, img_size=64, batch_size=2, num_workers=0
    )
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    with pytest.raises(BatchOutOfMemoryError) as info:
        trainer.fit(task, datamodule=dm)
    msg = str(info.value)
    print(msg)
    assert "training_step" in msg and "[2, 3, 64, 64] float32" in msg and "Tried to allocate 2.00 GiB" in msg
    assert "data.batch_size" in msg and "data.img_size" in msg and "bf16-mixed" in msg
    assert isinstance(info.value, torch.OutOfMemoryError)  # callers that catch OOM still do


def test_out_of_memory_in_backward_is_reported_once() -> None:
    with pytest.raises(
        BatchOutOfMemoryError, match=r"in backward on an image batch of shape \[8, 3, 800, 800\]"
    ):
        with report_oom("training_step", (8, 3, 800, 800)):  # the outer context must not re-wrap
            with report_oom("backward", (8, 3, 800, 800), torch.bfloat16):
                raise torch.OutOfMemoryError("out of memory")


def test_csv_logger_gets_lr_assignment_stats_and_val_images(tmp_path: Path) -> None:
    run(compose_train(tmp_path, *RUN, "logger=csv"))
    metrics_csv = next(tmp_path.glob("csv/version_*/metrics.csv"))
    rows = list(csv.DictReader(metrics_csv.open()))
    cols = set(rows[0])
    for col in (
        "lr-AdamW/pg1",
        "train/pos_per_obj_l0",
        "train/pos_per_obj_l1",
        "train/pos_per_obj_l2",
        "train/loss_total",
        "val/mAP50",
    ):
        assert col in cols, f"{col} not logged: {sorted(cols)}"
    per_obj = [
        float(r[f"train/pos_per_obj_l{i}"]) for r in rows for i in range(3) if r[f"train/pos_per_obj_l{i}"]
    ]
    assert per_obj and sum(per_obj) > 0  # every object gets positive cells on some level
    pngs = sorted(metrics_csv.parent.glob("val_images/*.png"))
    assert len(pngs) == 2  # the 2 validation images, drawn
    from PIL import Image

    assert Image.open(pngs[0]).size == (64, 64)


def test_tensorboard_logger_gets_scalars_and_images(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run(compose_train(tmp_path, *RUN, "logger=tensorboard"))
    events = sorted(tmp_path.glob("tensorboard/**/events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(events[0].parent), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    scalars, images = set(acc.Tags()["scalars"]), acc.Tags()["images"]
    assert {"train/pos_per_obj_l0", "train/loss_total", "val/mAP50"} <= scalars
    assert any(t.startswith("lr-") for t in scalars), scalars
    assert len([t for t in images if t.startswith("val_images/")]) == 2


@pytest.mark.slow  # starts the wandb service process (~10 s)
def test_wandb_logger_runs_offline_without_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gghl.cli._entry import prepare_environment

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    prepare_environment()  # what gghl-train does first: offline when there is no key, never a login prompt
    assert os.environ["WANDB_MODE"] == "offline"
    run(compose_train(tmp_path, *RUN, "logger=wandb"))
    runs = list(tmp_path.glob("wandb/offline-run-*"))
    assert runs, "no offline wandb run written"
    assert list(runs[0].glob("files/media/images/val_images*.png"))


def test_last_ckpt_is_written_without_a_validation_loop(tmp_path: Path) -> None:
    # val_size=0 with check_val_every_n_epoch > 1: Lightning's default would save only at validation end, never
    run(compose_train(tmp_path, *RUN, "data.val_size=0", "trainer.check_val_every_n_epoch=4", "logger=none"))
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
