"""Store the resolved model/data config inside every checkpoint, so eval/export/predict rebuild the model
from the checkpoint alone (no pickled classes: the config is plain dicts/lists, loadable with weights_only).

Reading checkpoints lives in :mod:`gghl.tasks.checkpoint` (the one loader); ``load_checkpoint`` and
``build_task_from_checkpoint`` here are its long-standing entry points.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lightning as L

from gghl.tasks.checkpoint import CONFIG_KEY, read_checkpoint, restore_task, stored_config

__all__ = ["CONFIG_KEY", "ConfigInCheckpoint", "build_task_from_checkpoint", "load_checkpoint"]


class ConfigInCheckpoint(L.Callback):
    """Adds ``checkpoint["gghl_config"] = {"model": ..., "data": ...}`` (resolved, plain containers)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CONFIG_KEY] = self.config


def load_checkpoint(
    path: str | Path, allow_pickle: bool = False, map_location: Any = "cpu"
) -> dict[str, Any]:
    """The checkpoint dict (``weights_only`` unless ``allow_pickle``); a stored ``gghl_config`` is checked
    against the ``_target_`` allow-list whatever ``allow_pickle`` says. Used by every Lightning load
    (``gghl.callbacks.AtomicCheckpointIO``: resume, ``trainer.test(ckpt_path=...)``) and by tests.

    Raises:
        FileNotFoundError, NotACheckpointError, PickledCheckpointError, UnsafeConfigError
        (see :mod:`gghl.tasks.checkpoint`).
    """
    ckpt = read_checkpoint(path, allow_pickle, map_location)
    stored_config(ckpt, path, required=False)
    return ckpt


def build_task_from_checkpoint(
    path: str | Path, allow_pickle: bool = False, expected_kind: str | Iterable[str] | None = None
) -> tuple[L.LightningModule, dict[str, Any]]:
    """``(task in eval mode, stored config)`` through :func:`gghl.tasks.checkpoint.restore_task`.

    The stored config's ``_target_`` names pass the allow-list before anything is imported, and
    ``allow_pickle=True`` (a trusted file) only changes how the file is unpickled, not that check.
    """
    restored = restore_task(path, allow_pickle, expected_kind)
    return restored.task, restored.config
