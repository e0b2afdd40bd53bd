"""`gghl-predict` / `python scripts/predict.py ckpt_path=...|model_path=model.onnx input=img_or_dir output=dir`.

Writes drawn images, ``detections.json`` and DOTA Task1 files (see :mod:`gghl.export.predict`); large images
are tiled and merged as in evaluation. A checkpoint and its exported model give the same detections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig

from gghl.cli._config import CONFIG_DIR, ConfigError, check_targets, config_errors, prepare_environment


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def load_predictor(cfg: DictConfig) -> Any:
    """A ``CheckpointModel`` (``ckpt_path``) or an ``ExportedModel`` (``model_path``): exactly one is given."""
    from gghl.export import CheckpointModel, ExportedModel, load_task

    if bool(cfg.ckpt_path) == bool(cfg.model_path):
        raise ConfigError(
            "ckpt_path", "give exactly one of ckpt_path=... or model_path=...", "configs/predict.yaml"
        )
    if cfg.model_path:
        model = ExportedModel(cfg.model_path)
    else:
        loaded = load_task(cfg.ckpt_path, allow_pickle=cfg.allow_pickle, check_config=check_targets)
        model = CheckpointModel(loaded, img_size=cfg.img_size, device=_device(cfg.device))
    if cfg.score_thresh is not None:
        model.score_thresh = float(cfg.score_thresh)
    return model


def run(cfg: DictConfig) -> dict[str, Any]:
    """Predict ``cfg.input``; returns the JSON dict written to the output folder."""
    with config_errors(cfg):
        check_targets(cfg)
        return _run(cfg)


def _run(cfg: DictConfig) -> dict[str, Any]:
    from gghl.export.predict import list_images, predict_images

    paths = list_images(cfg.input)
    model = load_predictor(cfg)
    out_dir = Path(cfg.output) if cfg.output else Path(cfg.paths.output_dir)
    result = predict_images(
        model,
        paths,
        out_dir,
        patch_size=cfg.patch_size,
        gap=cfg.gap,
        batch_size=cfg.batch_size,
        merge_iou_thr=cfg.merge_iou_thr,
        draw=cfg.draw,
        draw_thresh=cfg.draw_thresh,
    )
    if model.kind == "classifier":
        n = len(result["images"])
        print(f"images={n} kind=classifier output={out_dir}")
    else:
        n_det = sum(len(r["detections"]) for r in result["images"])
        print(f"images={len(result['images'])} detections={n_det} kind={model.kind} output={out_dir}")
    return result


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def _main(cfg: DictConfig) -> None:
    run(cfg)


def main() -> None:
    prepare_environment()
    _main()


if __name__ == "__main__":
    main()
