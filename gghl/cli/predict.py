"""`gghl-predict` / `python scripts/predict.py ckpt_path=...|model_path=model.onnx input=img_or_dir output=dir`.

Writes drawn images, ``detections.json`` and DOTA Task1 files (see :mod:`gghl.export.predict`); large images
are tiled and merged by the evaluation code path (``gghl-eval`` gives the same detections for the same image,
checkpoint and tiling settings). A checkpoint and its exported model give the same detections. Unreadable
images are skipped and listed at the end; names with whitespace are refused before any inference.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gghl.cli._entry import checked_command, run_command

if TYPE_CHECKING:
    from omegaconf import DictConfig

SUMMARY = """Predict images with a checkpoint or an exported model (drawn images, detections.json, Task1 files):
  gghl-predict ckpt_path=CKPT|model_path=model.onnx input=IMAGE_OR_FOLDER [output=DIR] [score_thresh=0.2]"""


def _device(name: str) -> str:
    if name == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def load_predictor(cfg: DictConfig) -> Any:
    """A ``CheckpointModel`` (``ckpt_path``) or an ``ExportedModel`` (``model_path``): exactly one is given."""
    from gghl.config import ConfigError
    from gghl.export import CheckpointModel, ExportedModel
    from gghl.tasks.restore import restore_task

    if bool(cfg.ckpt_path) == bool(cfg.model_path):
        raise ConfigError(
            "ckpt_path", "give exactly one of ckpt_path=... or model_path=...", "gghl/configs/predict.yaml"
        )
    if cfg.model_path:
        model = ExportedModel(cfg.model_path)
    else:
        loaded = restore_task(cfg.ckpt_path, allow_pickle=cfg.allow_pickle)
        model = CheckpointModel(
            loaded, img_size=cfg.img_size, device=_device(cfg.device), fuse_bn=bool(cfg.get("fuse_bn", False))
        )
    if cfg.score_thresh is not None:
        model.score_thresh = float(cfg.score_thresh)
    return model


@checked_command
def run(cfg: DictConfig) -> dict[str, Any]:
    """Predict ``cfg.input``; returns the JSON dict written to the output folder."""
    from gghl.data.output_names import output_names
    from gghl.export.predict import list_images, predict_images
    from gghl.models.large_image import TileSettings

    paths = list_images(cfg.input)
    output_names(paths)  # a name the output rule refuses fails here, before the model is loaded
    model = load_predictor(cfg)
    out_dir = Path(cfg.output) if cfg.output else Path(cfg.paths.output_dir)
    result = predict_images(
        model, paths, out_dir, TileSettings.from_config(cfg), draw=cfg.draw, draw_thresh=cfg.draw_thresh
    )
    if model.kind == "classifier":
        print(f"images={len(result['images'])} kind=classifier output={out_dir}")
    else:
        n_det = sum(len(r["detections"]) for r in result["images"])
        print(f"images={len(result['images'])} detections={n_det} kind={model.kind} output={out_dir}")
    bad = result["unreadable"]
    if bad:
        print(f"unreadable images skipped: {len(bad)} (no outputs for them)")
        for b in bad:
            print(f"  {b['file']}: {b['reason']}")
    return result


def main() -> None:
    run_command("predict", SUMMARY, run)
