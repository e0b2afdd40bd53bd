"""`gghl-export` / `python scripts/export.py ckpt_path=... format=onnx|torchscript`: export with a parity check.

Prints one ``parity ...`` line (max abs differences of scores and boxes, kept detections) and the written path;
exits non-zero (``ParityError``) when the exported model does not reproduce PyTorch within ``tol``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gghl.cli._entry import checked_command, run_command

if TYPE_CHECKING:
    from omegaconf import DictConfig

SUMMARY = """Export a checkpoint to ONNX or TorchScript with a parity check:
gghl-export ckpt_path=CKPT format=onnx|torchscript [img_size=800] [dynamic_batch=true] [nms=true] [output=m.onnx]"""


@checked_command
def run(cfg: DictConfig) -> dict[str, Any]:
    """Export ``cfg.ckpt_path``; returns ``{"path", "kind", "format", "parity": {...}}``."""
    from gghl.config import ConfigError
    from gghl.export import export_checkpoint
    from gghl.export.pipeline import SUFFIX
    from gghl.tasks.restore import restore_task

    if cfg.format not in SUFFIX:
        raise ConfigError(
            "format", f"must be one of {sorted(SUFFIX)}, got {cfg.format!r}", "gghl/configs/export.yaml"
        )
    # The loader holds the checkpoint's stored config to the _target_ allow-list before anything is imported
    # (allow_pickle does not lift it). nms=true puts GGHL's rotated NMS into the graph: a checkpoint of
    # another kind is refused in one line.
    loaded = restore_task(
        cfg.ckpt_path, allow_pickle=cfg.allow_pickle, expected_kind="gghl" if cfg.nms else None
    )
    out_dir = Path(cfg.paths.output_dir)
    output = Path(cfg.output) if cfg.output else out_dir / f"{Path(cfg.ckpt_path).stem}{SUFFIX[cfg.format]}"
    path, report = export_checkpoint(
        loaded,
        cfg.format,
        output,
        img_size=cfg.img_size,
        dynamic_batch=cfg.dynamic_batch,
        nms=cfg.nms,
        nms_pre=cfg.nms_pre,
        opset=cfg.opset,
        parity_images=cfg.parity_images,
        tol=cfg.tol,
    )
    print(report.line())
    print(f"exported {loaded.kind} -> {path} ({path.stat().st_size / 1e6:.2f} MB)")
    result = {"path": str(path), "kind": loaded.kind, "format": cfg.format, "parity": report.as_dict()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "export_result.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    run_command("export", SUMMARY, run)
