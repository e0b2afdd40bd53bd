"""Store the resolved model/data config inside every checkpoint, so eval/export/predict rebuild the model from
the checkpoint alone (no pickled classes: the config is plain dicts/lists, loadable with ``weights_only``)."""

from __future__ import annotations

from typing import Any

import lightning as L

from gghl.checkpoint import CONFIG_KEY


class ConfigInCheckpoint(L.Callback):
    """Adds ``checkpoint["gghl_config"] = {"model": ..., "data": ...}`` (resolved, plain containers: see
    :func:`gghl.checkpoint.config_to_store`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CONFIG_KEY] = self.config
