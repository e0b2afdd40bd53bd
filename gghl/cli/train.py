"""`gghl-train` / `python scripts/train.py`: Hydra entry point for training and evaluation.

Flow (lightning-hydra-template style): seed -> datamodule -> model -> callbacks/loggers -> trainer ->
fit -> test on the best (or last) checkpoint -> one summary line per metric, the checkpoint path and wall time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from gghl.cli._config import CONFIG_DIR, checkpoint_config, inject_data_info, prepare_environment
from gghl.tasks.checkpoint_config import ConfigInCheckpoint


def _instantiate_group(cfg: DictConfig | None) -> list[Any]:
    if not cfg:
        return []
    return [hydra.utils.instantiate(c) for c in cfg.values() if c is not None and "_target_" in c]


def _resolve_ckpt(ckpt_path: str | None, output_dir: str) -> str | None:
    if ckpt_path == "last":
        candidates = sorted(Path(output_dir).parent.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise FileNotFoundError(f"ckpt_path=last: no last.ckpt under {Path(output_dir).parent}/*/checkpoints")
        return str(candidates[-1])
    if ckpt_path and not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"ckpt_path does not exist: {ckpt_path}")
    return ckpt_path


def run(cfg: DictConfig) -> dict[str, float]:
    """Train and/or test as configured; returns the final metrics (floats)."""
    import lightning as L

    start = time.time()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.data)
    inject_data_info(cfg, datamodule)
    # _convert_="all": plain lists/dicts in hparams, so checkpoints load with torch.load(weights_only=True).
    model = hydra.utils.instantiate(cfg.model, _convert_="all")
    callbacks = _instantiate_group(cfg.get("callbacks"))
    callbacks.append(ConfigInCheckpoint(checkpoint_config(cfg)))
    loggers = _instantiate_group(cfg.get("logger"))
    if not loggers:  # LearningRateMonitor refuses to run without a logger; nothing to monitor into anyway
        callbacks = [c for c in callbacks if not isinstance(c, L.pytorch.callbacks.LearningRateMonitor)]
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    output_dir = cfg.paths.output_dir

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=_resolve_ckpt(cfg.get("ckpt_path"), output_dir))
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1})
    best = ""
    ckpt_cb = getattr(trainer, "checkpoint_callback", None)
    if ckpt_cb is not None:
        best = ckpt_cb.best_model_path or ckpt_cb.last_model_path or ""
    if cfg.get("test", True):
        test_ckpt = best or (None if cfg.get("train", True) else _resolve_ckpt(cfg.get("ckpt_path"), output_dir))
        results = trainer.test(model, datamodule=datamodule, ckpt_path=test_ckpt or None)
        for r in results:
            metrics.update({k: float(v) for k, v in r.items()})

    if trainer.is_global_zero:
        print("\n==== gghl summary ====")
        for k in sorted(metrics):
            if k.startswith("test/"):
                print(f"{k}={metrics[k]:.4f}")
        if "test/mAP50" in metrics:
            print(f"mAP50={metrics['test/mAP50']:.4f}")
        print(f"checkpoint={best or 'none'}")
        print(f"wall_time_s={time.time() - start:.1f}")
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _main(cfg: DictConfig) -> float | None:
    metrics = run(cfg)
    return metrics.get(str(cfg.get("monitor", "")))


def main() -> None:
    prepare_environment()
    _main()


if __name__ == "__main__":
    main()
