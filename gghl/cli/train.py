"""`gghl-train` / `python scripts/train.py`: Hydra entry point for training and evaluation.

Flow (lightning-hydra-template style): check ``_target_``s -> seed -> datamodule -> model -> callbacks/loggers
-> trainer (atomic checkpoint IO) -> fit (optionally resumed) -> test on the best (or last) checkpoint ->
one summary line per metric, the checkpoint path and wall time.

Resume: ``ckpt_path=last hydra.run.dir=<previous run dir>`` (or ``paths.output_dir=<previous run dir>``)
continues ``<run dir>/checkpoints/last.ckpt`` in the same folder: optimizer, scheduler, epoch, step, EMA,
RNG states and data order (``gghl.callbacks.ExactResume``), so the result equals an uninterrupted run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gghl.cli._entry import checked_command, run_command

if TYPE_CHECKING:
    from omegaconf import DictConfig

SUMMARY = """Train (and test) a model: gghl-train [experiment=NAME] [key=value ...].
The default is experiment=gghl_synthetic (make train): GGHL on the synthetic oriented set, on CPU.
Examples: gghl-train experiment=gghl_dota data.root=/data/dota_split trainer=ddp trainer.devices=2
          gghl-train ckpt_path=last hydra.run.dir=<previous run dir>   (resume that run in place)"""
MAIN_KEYS = (
    ("data.root", "dataset folder (dota, coco, imagefolder, csv)"),
    ("data.img_size", "network input side in pixels (multiple of 32)"),
    ("data.batch_size", "images per device and step"),
    ("data.num_workers", "data loader processes"),
    ("model.lr", "base learning rate (model.optimizer: sgd | adamw)"),
    ("model.net.backbone", "timm backbone name (model.net.checkpoint_path: local weights)"),
    ("trainer.max_epochs", "training length"),
    ("trainer.devices", "devices (trainer=ddp for several GPUs)"),
    ("trainer.precision", "32-true | bf16-mixed | 16-mixed"),
    ("bf16_fallback", "true: bf16 on a CPU without native bfloat16 runs as 32-true (10x faster there)"),
    ("logger", "csv | tensorboard | wandb | none"),
)


def _instantiate_group(cfg: DictConfig | None) -> list[Any]:
    import hydra

    if not cfg:
        return []
    return [hydra.utils.instantiate(c) for c in cfg.values() if c is not None and "_target_" in c]


def resolve_ckpt_path(ckpt_path: str | None, checkpoint_dir: str | Path) -> str | None:
    """``"last"`` -> ``<checkpoint_dir>/last.ckpt`` of the run being resumed; other paths must exist.

    Args:
        ckpt_path: ``None``, ``"last"`` or a file path.
        checkpoint_dir: the run's checkpoint folder (``<run dir>/checkpoints``: where ``ModelCheckpoint`` writes).
    """
    if not ckpt_path:
        return None
    if ckpt_path == "last":
        last = Path(checkpoint_dir) / "last.ckpt"
        if last.is_file():
            return str(last)
        runs = Path(checkpoint_dir).parent.parent
        recent = sorted(runs.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)[-3:]
        hint = "".join(f"\n  hydra.run.dir={p.parent.parent}" for p in reversed(recent))
        raise FileNotFoundError(
            f"ckpt_path=last: {last} does not exist. Resume a run by pointing at its folder, e.g. "
            f"`ckpt_path=last hydra.run.dir=<previous run dir>`" + (f"; recent runs:{hint}" if hint else "")
        )
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"ckpt_path does not exist: {ckpt_path}")
    return str(ckpt_path)


def _checkpoint_dir(callbacks: list[Any], output_dir: str) -> str:
    import lightning as L

    for cb in callbacks:
        if isinstance(cb, L.pytorch.callbacks.ModelCheckpoint) and cb.dirpath:
            return str(cb.dirpath)
    return str(Path(output_dir) / "checkpoints")


def check_trainer_config(cfg: DictConfig) -> None:
    """Fail early, naming the key, on trainer settings that would only fail after the processes start."""
    import torch

    from gghl.config import ConfigError, config_file_for

    tr = cfg.get("trainer") or {}
    if tr.get("sync_batchnorm") and (tr.get("accelerator") == "cpu" or not torch.cuda.is_available()):
        raise ConfigError(
            "trainer.sync_batchnorm",
            "SyncBatchNorm needs GPUs (torch DDP refuses it for CPU modules); set trainer.sync_batchnorm=false",
            config_file_for("trainer.sync_batchnorm"),
        )


def cpu_has_native_bf16() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (oneDNN's AVX512 / AMX kernels)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN: no fast bf16 path either
        return False


def resolve_precision(cfg: DictConfig) -> str | None:
    """Apply ``bf16_fallback``: bf16 on a CPU run without native bfloat16 becomes ``32-true``.

    Without AVX512 the bf16 kernels are emulated: a forward+backward of the ``make train`` backbone took 20.7 s
    in bf16 against 2.0 s in fp32 on an AVX2 machine, so the embedded default would run for hours instead of
    minutes. Returns the note to print (``None`` when nothing changed); the stored config records what ran.
    """
    import torch
    from omegaconf import open_dict

    tr = cfg.get("trainer") or {}
    precision = str(tr.get("precision", ""))
    accelerator = str(tr.get("accelerator", "auto"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if not (cfg.get("bf16_fallback", True) and on_cpu and precision.startswith("bf16")):
        return None
    if cpu_has_native_bf16():
        return None
    with open_dict(cfg):
        cfg.trainer.precision = "32-true"
    return (
        f"note: trainer.precision={precision} -> 32-true: this CPU has no native bfloat16 (no AVX512), where bf16 "
        "autocast is emulated and about 10x slower (bf16_fallback=false keeps it)"
    )


@checked_command
def run(cfg: DictConfig) -> dict[str, float]:
    """Train and/or test as configured; returns the final metrics (floats)."""
    from gghl.cli._arguments import check_arguments

    check_arguments(cfg)
    check_trainer_config(cfg)
    note = resolve_precision(cfg)
    if note:
        print(note, flush=True)
    return _run(cfg)


def _run(cfg: DictConfig) -> dict[str, float]:
    import hydra
    import lightning as L

    from gghl.callbacks import AtomicCheckpointIO
    from gghl.callbacks.config_in_checkpoint import ConfigInCheckpoint
    from gghl.checkpoint import config_to_store
    from gghl.config import inject_data_info

    start = time.time()
    early = None  # a checkpoint file given by path fails here, before anything is built (one line)
    if cfg.get("ckpt_path") not in (None, "", "last"):
        from gghl.checkpoint import check_resume_file, kind_of_target

        early = check_resume_file(
            str(cfg.ckpt_path),
            kind_of_target(cfg.model.get("_target_")),
            bool(cfg.get("allow_pickle", False)),
        )
    L.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.data)
    inject_data_info(cfg, datamodule)
    # _convert_="all": plain lists/dicts in hparams, so checkpoints load with torch.load(weights_only=True).
    model = hydra.utils.instantiate(cfg.model, _convert_="all")
    callbacks = _instantiate_group(cfg.get("callbacks"))
    callbacks.append(ConfigInCheckpoint(config_to_store(cfg)))
    loggers = _instantiate_group(cfg.get("logger"))
    if not loggers:  # LearningRateMonitor refuses to run without a logger; nothing to monitor into anyway
        callbacks = [c for c in callbacks if not isinstance(c, L.pytorch.callbacks.LearningRateMonitor)]
    # Atomic saves (temp file + os.replace) and weights_only loads on every path, resume included.
    ckpt_io = AtomicCheckpointIO(allow_pickle=bool(cfg.get("allow_pickle", False)))
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[ckpt_io]
    )
    output_dir = cfg.paths.output_dir
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), _checkpoint_dir(callbacks, output_dir))
    if (
        ckpt_path
    ):  # not a checkpoint / refused target / another model kind / weights that do not fit: one line
        from gghl.checkpoint import check_resume

        check_resume(ckpt_path, model, allow_pickle=bool(cfg.get("allow_pickle", False)), ckpt=early)
        early = None

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1})
    best = ""
    ckpt_cb = getattr(trainer, "checkpoint_callback", None)
    if ckpt_cb is not None:
        best = ckpt_cb.best_model_path or ckpt_cb.last_model_path or ""
    if cfg.get("test", True):
        test_ckpt = best or (None if cfg.get("train", True) else ckpt_path)
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


def _task(cfg: DictConfig) -> float | None:
    metrics = run(cfg)
    return metrics.get(str(cfg.get("monitor", "")))


def main() -> None:
    run_command("train", SUMMARY, _task, main_keys=MAIN_KEYS)


if __name__ == "__main__":
    main()
