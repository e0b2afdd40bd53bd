"""Every experiment config composes and instantiates: datamodule, model, callbacks, loggers and trainer, as
``gghl-train`` builds them before it trains (nothing is trained, no data is read).

The experiment list is read from the config folder the entry points use (``CONFIG_DIR``), so a new file in
``experiment/`` is covered without editing this test. Each experiment is built at its own sizes; only what
this CPU machine cannot provide is replaced: GPU / DDP trainer settings by one CPU device, and the distillation
teacher's checkpoint by a path (it is read at the first training step, not when the task is built).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import lightning as L
import pytest
from hydra import compose, initialize_config_dir

from gghl.cli._arguments import check_arguments
from gghl.config import CONFIG_DIR, check_targets, inject_data_info

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))

# What a CPU test machine cannot provide, per experiment (keys the experiment's config sets).
CPU_TRAINER = [
    "trainer.accelerator=cpu",
    "trainer.devices=1",
    "trainer.strategy=auto",
    "trainer.sync_batchnorm=false",
]
EXTRA = {"classify_digits_distill": ["model.distill.teacher_ckpt=teacher-is-read-at-the-first-step.ckpt"]}


def test_every_experiment_file_is_listed() -> None:
    assert len(EXPERIMENTS) >= 9 and "gghl_dota" in EXPERIMENTS and "gghl_synthetic" in EXPERIMENTS


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_instantiates(experiment: str, tmp_path: Path) -> None:
    overrides = [
        f"experiment={experiment}",
        f"paths.output_dir={tmp_path}",
        *CPU_TRAINER,
        *EXTRA.get(experiment, []),
    ]
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    assert cfg.task_name == experiment  # the experiment file was applied, not only the defaults
    check_targets(cfg)
    check_arguments(cfg)
    datamodule = hydra.utils.instantiate(cfg.data)
    inject_data_info(cfg, datamodule)
    model = hydra.utils.instantiate(cfg.model, _convert_="all")
    callbacks = [hydra.utils.instantiate(c) for c in cfg.callbacks.values() if c and "_target_" in c]
    loggers = [
        hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values() if c and "_target_" in c
    ]
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    assert isinstance(datamodule, L.LightningDataModule)
    assert isinstance(model, L.LightningModule)
    assert isinstance(trainer, L.Trainer)
    assert trainer.max_epochs == cfg.trainer.max_epochs
    assert sum(p.numel() for p in model.parameters()) > 0
