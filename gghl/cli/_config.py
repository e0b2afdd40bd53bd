"""Locating the Hydra config tree and small helpers shared by the entry points."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

# Configs live at the repository root (`configs/`); editable installs and scripts/ both see them.
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


def prepare_environment() -> None:
    """Run-time defaults that must be set before loggers import: wandb never blocks on a missing key."""
    if not os.environ.get("WANDB_API_KEY") and "WANDB_MODE" not in os.environ:
        os.environ["WANDB_MODE"] = "offline"


def inject_data_info(cfg: DictConfig, datamodule: object) -> None:
    """Expose the datamodule's ``num_classes`` / ``class_names`` to configs as ``${data.num_classes}`` etc."""
    with open_dict(cfg):
        for key in ("num_classes", "class_names"):
            if hasattr(datamodule, key):
                value = getattr(datamodule, key)
                cfg.data[key] = list(value) if key == "class_names" else int(value)


def checkpoint_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved model and data configs as plain containers (stored in checkpoints)."""
    return {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
    }
