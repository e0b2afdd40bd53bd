"""`gghl-convert` / `python scripts/convert_checkpoint.py src=... format=... dst=...`: published weights -> a
gghl checkpoint that eval / export / predict take like one of ours.

Formats: :data:`FORMATS` maps a format name to the import path of its builder in ``gghl.models.convert``
(a path, not the function, so that ``--help`` imports nothing heavy), called as
``builder(src: Path, options: dict) -> checkpoint dict`` where ``options`` is the resolved convert config
(``class_names``, ``img_size``, thresholds, the ``model`` and ``data`` groups as plain dicts, ...); each builder
reads the keys it needs. The dict must have ``state_dict`` and ``gghl_config = {"model", "data"}`` with only
plain containers and tensors (it is saved as is and loaded with ``weights_only=True``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gghl.cli._entry import checked_command, run_command

if TYPE_CHECKING:
    from omegaconf import DictConfig

SUMMARY = """Convert published weights into a gghl checkpoint:
  gghl-convert src=official.pth format=gghl_official dst=gghl_dota.ckpt [class_names=[...]] [img_size=800]
Then: gghl-eval ckpt_path=gghl_dota.ckpt data=dota data.root=/data/dota split=val"""

#: format name -> import path of ``builder(src, options) -> checkpoint dict``.
FORMATS: dict[str, str] = {
    "gghl_official": "gghl.models.convert.gghl_checkpoint.build_gghl_official_checkpoint",
    "stageinteractor_official": "gghl.models.convert.stageinteractor_official.build_stageinteractor_official_checkpoint",
}

Builder = Callable[[Path, Mapping[str, Any]], dict[str, Any]]


def builder(fmt: str) -> Builder:
    """The builder function registered for ``fmt`` (imported on use)."""
    import importlib

    module, _, name = FORMATS[fmt].rpartition(".")
    return getattr(importlib.import_module(module), name)


@checked_command
def run(cfg: DictConfig) -> dict[str, Any]:
    """Convert ``cfg.src`` to ``cfg.dst``; returns ``{"dst", "format", "entries", "parameters", "seconds"}``."""
    import torch
    from omegaconf import OmegaConf

    from gghl.checkpoint import check_torch_file, stored_config
    from gghl.config import ConfigError

    start = time.time()
    if cfg.format not in FORMATS:
        raise ConfigError(
            "format", f"unknown format {cfg.format!r}; known: {sorted(FORMATS)}", "gghl/configs/convert.yaml"
        )
    src, dst = Path(str(cfg.src)), Path(str(cfg.dst))
    if not src.is_file():
        raise FileNotFoundError(f"src does not exist: {src}")
    check_torch_file(src)  # random bytes, other archives: one line naming the file, before torch.load
    if dst.exists() and not cfg.overwrite:
        raise ConfigError(
            "dst", f"{dst} exists; pass overwrite=true to replace it", "gghl/configs/convert.yaml"
        )
    # Only the builder's inputs are resolved (paths.* needs a running Hydra job; the builder never reads it).
    skip = ("src", "dst", "format", "overwrite", "paths", "hydra", "task_name")
    options: dict[str, Any] = {}
    for key in cfg:
        if key not in skip:
            node = cfg[key]
            options[str(key)] = (
                OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
            )
    ckpt = builder(str(cfg.format))(src, options)
    # The stored config must pass the check every reader applies (gghl.checkpoint.stored_config: plain data,
    # allow-listed targets): a converter never writes a checkpoint the loader would refuse.
    stored_config(ckpt, dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(dst)  # never a half-written dst
    state = ckpt["state_dict"]
    result = {
        "dst": str(dst),
        "format": str(cfg.format),
        "entries": len(state),
        "parameters": int(
            sum(
                v.numel()
                for k, v in state.items()
                if v.is_floating_point() and not k.endswith(("running_mean", "running_var"))
            )
        ),
        "seconds": time.time() - start,
    }
    model = ckpt["gghl_config"]["model"]
    post = model.get("postprocess") or {}
    print(
        f"converted {src} ({cfg.format}) -> {dst}: {result['entries']} entries, {result['parameters']:,} parameters"
    )
    print(
        f"classes={model.get('num_classes')} img_size={ckpt['gghl_config'].get('data', {}).get('img_size')} "
        f"score_thresh={post.get('score_thresh')} nms_thresh={post.get('nms_thresh')} max_det={post.get('max_det', model.get('max_det'))}"
    )
    return result


def main() -> None:
    run_command("convert", SUMMARY, run)
