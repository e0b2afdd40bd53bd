"""GGHL LightningModule: a real (tiny) fit/validate loop, non-finite loss handling, checkpoint config."""

from pathlib import Path

import lightning as L
import pytest
import torch

from gghl.callbacks.config_in_checkpoint import ConfigInCheckpoint
from gghl.checkpoint import CONFIG_KEY, read_checkpoint
from gghl.data.detection_datamodule import SyntheticDataModule
from gghl.tasks.gghl_detection import GGHLDetectionTask, NonFiniteLossError
from gghl.testing.tiny import tiny_gghl_net


def _task(num_classes: int = 5, max_bad_steps: int = 20) -> GGHLDetectionTask:
    net = tiny_gghl_net(num_classes, backbone="resnet10t", neck_widths=(16, 32, 64))
    return GGHLDetectionTask(
        net, num_classes, optimizer="adamw", lr=1e-3, warmup_epochs=0, max_bad_steps=max_bad_steps
    )


def _datamodule() -> SyntheticDataModule:
    return SyntheticDataModule(
        num_classes=5, train_size=4, val_size=2, test_size=2, img_size=96, batch_size=2, num_workers=0
    )


def test_fit_validate_logs_dota_map(tmp_path: Path) -> None:
    task = _task()
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=_datamodule())
    metrics = trainer.callback_metrics
    assert "train/loss_total" in metrics and torch.isfinite(metrics["train/loss_total"])
    assert 0.0 <= float(metrics["val/mAP50"]) <= 1.0
    assert trainer.global_step == 2


def test_non_finite_loss_is_skipped_then_stops(tmp_path: Path) -> None:
    task = _task(max_bad_steps=2)
    original = task.net.forward
    task.net.forward = lambda x: [r * float("nan") for r in original(x)]  # type: ignore[method-assign]
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    with pytest.raises(NonFiniteLossError, match="2 consecutive non-finite losses"):
        trainer.fit(task, datamodule=_datamodule())
    assert task.skipped_steps == 2
    # No optimizer step ran, so the weights are unchanged and finite.
    assert all(torch.isfinite(p).all() for p in task.net.parameters())


def test_checkpoint_carries_model_config_and_loads_weights_only(tmp_path: Path) -> None:
    task = _task()
    # read_checkpoint holds the stored config to the _target_ allow-list: a real name
    cfg = {
        "model": {"_target_": "gghl.tasks.gghl_detection.GGHLDetectionTask"},
        "data": {"class_names": ["a"]},
    }
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        callbacks=[ConfigInCheckpoint(cfg)],
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=_datamodule())
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    ckpt = read_checkpoint(path)
    assert ckpt[CONFIG_KEY] == cfg
    assert "net.head.cls.0.1.weight" in ckpt["state_dict"]


def test_ema_weights_are_used_for_prediction(tmp_path: Path) -> None:
    net = tiny_gghl_net(5, backbone="resnet10t", neck_widths=(16, 32, 64))
    task = GGHLDetectionTask(net, 5, optimizer="adamw", lr=1e-2, warmup_epochs=0, ema_decay=0.5)
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=_datamodule())
    assert task.eval_net() is task.ema.module
    ema_w = task.ema.module.head.cls[0][1].weight
    assert not torch.equal(ema_w, task.net.head.cls[0][1].weight)  # the average lags the trained weights
    assert "ema.module.head.cls.0.1.weight" in task.state_dict()
    # never trained by the optimizer: no parameter of the average asks for a gradient (DDP refuses unused ones)
    assert not any(p.requires_grad for p in task.ema.parameters())
