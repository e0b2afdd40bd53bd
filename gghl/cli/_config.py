"""Locating the Hydra config tree and small helpers shared by the entry points."""

from __future__ import annotations

import logging
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from gghl.config_targets import (  # noqa: F401 - re-exported for the entry points
    CONFIG_DIR,
    DEFAULT_ALLOWED_PREFIXES,
    DENIED_MODULES,
    ConfigError,
    _hydra_cfg,
    check_targets,
    config_errors,
    config_file_for,
    instantiate_at,
    user_config_sources,
)

log = logging.getLogger(__name__)


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
