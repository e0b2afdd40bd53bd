"""Store the resolved model/data config inside every checkpoint, so eval/export/predict rebuild the model
from the checkpoint alone (no pickled classes: the config is plain dicts/lists, loadable with weights_only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch

CONFIG_KEY = "gghl_config"


class ConfigInCheckpoint(L.Callback):
    """Adds ``checkpoint["gghl_config"] = {"model": ..., "data": ...}`` (resolved, plain containers)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = self.config


def load_checkpoint(path: str | Path, allow_pickle: bool = False, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely: ``torch.load(weights_only=True)`` unless ``allow_pickle`` (trusted old files).

    Used by every gghl load path: eval/export/predict (``build_task_from_checkpoint``) and, through
    ``gghl.callbacks.AtomicCheckpointIO``, Lightning's resume and ``trainer.test(ckpt_path=...)``.
    """
    import pickle

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=not allow_pickle)
    except pickle.UnpicklingError as err:  # weights_only refused a pickled class (long torch message)
        if allow_pickle:
            raise
        raise RuntimeError(
            f"{path}: could not be loaded with weights_only=True ({type(err).__name__}). If you trust this file, "
            "pass allow_pickle=true to load it with full pickle (it can run code)."
        ) from err
    except (RuntimeError, EOFError, OSError) as err:  # truncated / not a torch zip archive
        raise RuntimeError(f"{path}: not a readable torch checkpoint (corrupt or truncated?): {err}") from err


def build_task_from_checkpoint(path: str | Path, allow_pickle: bool = False) -> tuple[L.LightningModule, dict[str, Any]]:
    """Rebuild the LightningModule saved by ``scripts/train.py`` and load its weights (eval mode).

    The stored config's ``_target_`` entries pass the same allow-list as a command line
    (:func:`gghl.config_targets.check_targets`): ``weights_only=True`` keeps pickles from running code, and
    this keeps a crafted ``_target_: os.system`` from doing it instead. ``allow_pickle=True`` (a trusted
    file) lifts both checks.
    """
    import hydra

    from gghl.config_targets import ConfigError, check_targets

    ckpt = load_checkpoint(path, allow_pickle)
    config = ckpt.get(CONFIG_KEY)
    if config is None:
        raise KeyError(f"{path}: no '{CONFIG_KEY}' entry; it was not written by gghl's train entry point")
    try:
        check_targets({"model": config.get("model")}, allow_external=True if allow_pickle else False)
    except ConfigError as err:
        raise ConfigError(err.key, f"{err} (refused in checkpoint {path}; pass allow_pickle=true only if you trust it)",
                          str(path)) from err
    model = hydra.utils.instantiate(config["model"], _convert_="all")
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, config
