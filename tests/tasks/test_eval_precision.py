"""Validation and test steps run outside autocast (gghl.tasks.eval_precision): under
``trainer.precision=bf16-mixed`` the printed test mAP is then the float32 number gghl-eval reports."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import nn

from tests.tasks.test_gghl_task import _datamodule, _task


def _record_autocast(module: nn.Module, seen: list[bool]) -> None:
    module.register_forward_pre_hook(lambda m, a: seen.append(torch.is_autocast_enabled("cpu")))


def test_bf16_mixed_trains_in_autocast_and_evaluates_outside_it(tmp_path: Path) -> None:
    task = _task()
    seen: list[bool] = []
    _record_autocast(task.net, seen)
    trainer = L.Trainer(
        accelerator="cpu",
        precision="bf16-mixed",
        max_steps=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    dm = _datamodule()
    trainer.fit(task, datamodule=dm)
    train_calls = list(seen)
    seen.clear()
    trainer.test(task, datamodule=dm, verbose=False)
    assert train_calls and all(train_calls)  # the training forward ran under bf16 autocast (the hook works)
    assert seen and not any(seen)  # validation/test forwards did not
