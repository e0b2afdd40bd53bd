"""Shared overrides for tiny end-to-end trainings through the real Hydra configs (tests only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR

TINY = [
    "model.net.backbone=test_resnet",
    "model.net.backbone_options=null",
    "model.net.neck_widths=[16,32,64]",
    "model.net.neck_convs=1",
    "data.img_size=64",
    "data.batch_size=2",
    "data.hflip=0.5",
    "data.rot90=0.5",
    "callbacks.progress_bar.refresh_rate=0",
    "trainer.check_val_every_n_epoch=1",
    "trainer.log_every_n_steps=1",
]


def compose_train(out: Path, *overrides: str) -> Any:
    """The ``train`` config with tiny-model overrides and ``paths.output_dir=out``."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=[f"paths.output_dir={out}", *TINY, *overrides])
