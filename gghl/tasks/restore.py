"""Rebuild a gghl task from its checkpoint: the one place a checkpoint becomes a model.

Every command that runs a checkpoint's own model goes through :func:`restore_task` (eval, export, predict, a
distillation teacher, the checkpoint fuzz target). Reading the file, the stored config's allow-list check, the
kind and the weights comparison are :mod:`gghl.checkpoint`; this module adds what needs the tasks: building
the model from its stored config (on the ``meta`` device first) and loading the weights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gghl.checkpoint import (
    CONFIG_KEY,
    CheckpointBuildError,
    CheckpointWeightsError,
    check_kind,
    check_weights,
    describe,
    hparams_config,
    normalize_expected,
    read_checkpoint,
    stored_config,
)
from gghl.tasks.legacy_model_config import upgrade_stored_config

#: Keys of a stored model config that would make rebuilding read something besides the checkpoint.
_OUTSIDE_READS = {"pretrained": False, "checkpoint_path": None}
#: Elements a rebuilt model may hold beyond the checkpoint's tensors (non-persistent buffers, metric states).
MAX_EXTRA_ELEMENTS = 1 << 26


@dataclass
class RestoredTask:
    """A task rebuilt from a checkpoint (eval mode) and what the commands need to know about it."""

    task: nn.Module
    kind: str  # gghl | query | classifier
    class_names: list[str]  # the data config's, else the task's, else "0".."n-1"
    img_size: int | None  # the training input side (data config), if known
    config: dict[str, Any] = field(default_factory=dict)  # the checked {"model": ..., "data": ...}
    path: str = ""  # the checkpoint file


def _for_rebuild(node: Any) -> Any:
    """A copy of a model config with ``pretrained`` / ``checkpoint_path`` cleared at every level: the weights
    come from the checkpoint, so rebuilding downloads and reads nothing else (a stored path may be gone, or
    point at a pickle)."""
    if isinstance(node, dict):
        return {k: (_OUTSIDE_READS[k] if k in _OUTSIDE_READS else _for_rebuild(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_for_rebuild(v) for v in node]
    return node


def _check_on_meta(path: str | Path, model_cfg: dict[str, Any], state_dict: Any, what: str) -> None:
    """Build the model on the ``meta`` device first (no memory, no initialisation) and compare it with the
    weights: a crafted or mismatched config (``num_classes: 100000000``) is refused before it allocates
    anything, and the real build can then hold no more than the checkpoint's own tensors plus
    :data:`MAX_EXTRA_ELEMENTS` (non-persistent buffers). A config that does not build on ``meta`` is left to
    the real build, which reports its own error."""
    import hydra

    try:
        with torch.device("meta"):
            meta = hydra.utils.instantiate(model_cfg, _convert_="all")
    except Exception:  # noqa: BLE001 - the real build below names the problem
        return
    if not isinstance(meta, nn.Module):
        return
    check_weights(path, state_dict, meta, what, values=False)
    total = sum(t.numel() for t in (*meta.parameters(), *meta.buffers()))
    stored = sum(v.numel() for v in state_dict.values())
    if total > stored + MAX_EXTRA_ELEMENTS:
        raise CheckpointWeightsError(
            path, f"the stored config builds {what} of {total:,} elements, the checkpoint holds {stored:,}"
        )


def _data_facts(path: str | Path, task: nn.Module, data: dict[str, Any]) -> tuple[list[str], int | None]:
    """``(class names, training input side)`` from the stored data config, else the task: the data config's
    ``class_names``, the task's, else ``"0".."n-1"``; ``img_size`` / ``image_size`` or ``None``. A value of
    the wrong type is a :class:`CheckpointBuildError` naming the key, not a crash later in a command."""

    def integer(key: str, value: Any) -> int:
        try:
            return int(value)
        except (TypeError, ValueError, OverflowError) as err:
            raise CheckpointBuildError(
                path, f"'{CONFIG_KEY}.data.{key}' is {value!r:.60}, not an integer"
            ) from err

    names = data.get("class_names") or getattr(task, "class_names", None)
    if names and not isinstance(names, (list, tuple)):
        raise CheckpointBuildError(
            path, f"'{CONFIG_KEY}.data.class_names' is {names!r:.60}, not a list of names"
        )
    if not names:
        # The task's own count (its weights were just checked against it) before the data config's.
        own = getattr(task, "num_classes", 0) or dict(getattr(task, "hparams", {})).get("num_classes")
        n = integer("num_classes", own or data.get("num_classes") or 0)
        names = [str(i) for i in range(n)]
    key = "img_size" if data.get("img_size") else "image_size"
    size = data.get(key)
    return [str(c) for c in names], integer(key, size) if size else None


def restore_task(
    path: str | Path,
    allow_pickle: bool = False,
    expected_kind: str | Iterable[str] | None = None,
    map_location: Any = "cpu",
) -> RestoredTask:
    """Read, check and rebuild the task of a gghl checkpoint with its weights (eval mode).

    Args:
        path: a checkpoint written by ``gghl-train`` / ``gghl-convert``.
        allow_pickle: unpickle classes (trusted files only); the stored-config check still applies.
        expected_kind: the kind(s) the caller can use (``None``: any gghl task). With exactly one kind, a
            plain Lightning checkpoint (no ``gghl_config``) is rebuilt from its ``hyper_parameters``.
        map_location: passed to ``torch.load``.

    Raises:
        FileNotFoundError, NotACheckpointError, PickledCheckpointError
        (:func:`gghl.checkpoint.read_checkpoint`), UnsafeConfigError (the stored config's allow-list check),
        CheckpointKindError, CheckpointBuildError, CheckpointWeightsError - each one line starting with (or
        naming) ``path``.
    """
    import hydra

    ckpt = read_checkpoint(path, allow_pickle, map_location)
    kinds = normalize_expected(expected_kind)
    config = stored_config(ckpt, path, required=len(kinds) > 1)
    if config is None:  # one expected kind: a plain Lightning checkpoint is rebuilt from its hyper_parameters
        config = hparams_config(ckpt, path, kinds[0])
    config = upgrade_stored_config(config)  # model configs of the earlier shapes -> nested _target_s
    kind = check_kind(path, config, expected_kind)
    target = config["model"]["_target_"]
    model_cfg = _for_rebuild(config["model"])
    _check_on_meta(path, model_cfg, ckpt.get("state_dict"), describe(kind, target))
    try:
        task = hydra.utils.instantiate(model_cfg, _convert_="all")
    except Exception as err:  # noqa: BLE001 - a stored config of another version / a crafted one
        text = " ".join(ln.strip() for ln in str(err).splitlines() if ln.strip())
        raise CheckpointBuildError(
            path,
            f"cannot build {describe(kind, target)} from its stored config ({type(err).__name__}: {text[:300]})",
        ) from err
    state_dict = check_weights(path, ckpt.get("state_dict"), task, describe(kind, target))
    task.load_state_dict(state_dict)
    task.eval()
    names, size = _data_facts(path, task, dict(config.get("data") or {}))
    return RestoredTask(task, kind, names, size, config, str(path))
