"""`gghl-eval` / `python scripts/eval.py ckpt_path=CKPT`: evaluate a checkpoint as it was trained to be evaluated.

With nothing but ``ckpt_path`` the checkpoint is evaluated on the split its training tested on (``split=test``)
with the data config, input size and post-processing stored in it: oriented detectors with the DOTA protocol
(:mod:`gghl.evaluation.dota_tiled`, the ``gghl-predict`` detection path), detectors on COCO-format data with
the 12 COCO stats, classifiers with top-1 accuracy (:mod:`gghl.evaluation.loader_eval`). Command-line data
settings change only what they name (:mod:`gghl.cli.eval_data`); every difference from the checkpoint's input
size or classes is printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gghl.cli._entry import checked_command, run_command

if TYPE_CHECKING:
    from omegaconf import DictConfig

SUMMARY = """Evaluate a checkpoint on the split it was tested on, with the data settings, input size and
post-processing stored in it (DOTA protocol for oriented detectors, COCO stats on COCO-format data, top-1 for
classifiers):
  gghl-eval ckpt_path=CKPT                                   # the checkpoint's own test split
  gghl-eval ckpt_path=CKPT split=val data.test_size=16       # change only what you name
  gghl-eval ckpt_path=CKPT data=dota data.root=DIR split=val patch_size=1024 gap=200   # a DOTA folder, tiled"""

SPLIT_KEYS = ("train", "val", "test")


def _device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _datamodule(data_cfg: dict[str, Any]) -> Any:
    import hydra

    from gghl.config import ConfigError

    try:
        return hydra.utils.instantiate(data_cfg, _convert_="all")
    except Exception as err:  # a wrong key/value of the data config: name it, with the datamodule's message
        cause = err.__cause__ or err
        raise ConfigError("data", f"cannot build {data_cfg.get('_target_')}: {cause}") from err


def _detection_split(datamodule: Any, split: str) -> tuple[Any, str]:
    """``(raw dataset, split key)`` of a detection datamodule; a folder name that is no split key is used as
    the ``test`` split's folder (DOTA/COCO layouts: ``split=val2017``, ``split=test_full``)."""
    from gghl.config import ConfigError

    key = split
    if split not in SPLIT_KEYS:
        splits = getattr(datamodule, "splits", None)
        if not isinstance(splits, dict):
            raise ConfigError(
                "split", f"{type(datamodule).__name__} has splits {list(SPLIT_KEYS)}, got {split!r}"
            )
        splits["test"], key = split, "test"
    raw = datamodule.make_raw(key)
    if raw is None:
        raise ConfigError(
            "split", f"{type(datamodule).__name__} has no {split!r} split (its size or folder is unset)"
        )
    return raw, key


def _protocol(kind: str, datamodule: Any) -> str:
    from gghl.data.detection_datamodule import CocoDataModule

    if kind == "classifier":
        return "top1"
    return "coco" if isinstance(datamodule, CocoDataModule) else "dota"


@checked_command
def run(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path``; config errors are raised as ``ConfigError`` naming key and file."""
    from gghl.cli.eval_data import given_data, resolve_eval_data
    from gghl.config import ConfigError
    from gghl.export import CheckpointModel
    from gghl.models.large_image import TileSettings
    from gghl.tasks.restore import restore_task

    loaded = restore_task(cfg.ckpt_path, allow_pickle=cfg.allow_pickle)
    input_size = int(cfg.input_size) if cfg.input_size else loaded.img_size
    if not input_size:
        raise ConfigError("input_size", f"{cfg.ckpt_path} stores no img_size/image_size; pass input_size=N")
    notes = []
    if loaded.img_size and input_size != loaded.img_size:
        notes.append(
            f"input_size={input_size} differs from the checkpoint's training input size {loaded.img_size}"
        )
    try:
        data_cfg, more = resolve_eval_data(
            loaded.config.get("data") or {}, given_data(cfg.get("data")), loaded.class_names, input_size
        )
    except ValueError as err:
        raise ConfigError("data", str(err)) from err
    notes += more
    datamodule = _datamodule(data_cfg)
    protocol = _protocol(loaded.kind, datamodule)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = TileSettings.from_config(cfg)
    window = settings.window(input_size)
    print(
        f"eval: {cfg.ckpt_path} kind={loaded.kind} protocol={protocol} split={cfg.split} "
        f"data={str(data_cfg['_target_']).rsplit('.', 1)[-1]} input_size={input_size}"
        + (f" patch_size={window[0]} gap={window[1]}" if protocol == "dota" else "")
    )
    for note in notes:
        print(f"note: {note}")
    device = _device(cfg.device)
    if protocol == "dota":
        from gghl.evaluation.dota_tiled import evaluate_oriented

        raw, _ = _detection_split(datamodule, str(cfg.split))
        model = CheckpointModel(
            loaded, img_size=input_size, device=device, fuse_bn=bool(cfg.get("fuse_bn", False))
        )
        if cfg.score_thresh is not None:
            model.score_thresh = float(cfg.score_thresh)
        result = evaluate_oriented(
            model,
            raw,
            out_dir,
            loaded.class_names,
            settings,
            use_07_metric=cfg.use_07_metric,
            difficult=cfg.difficult,
            zip_results=cfg.zip,
        )
    elif protocol == "coco":
        from gghl.evaluation.loader_eval import evaluate_coco_split

        raw, key = _detection_split(datamodule, str(cfg.split))
        task = loaded.task.to(device)
        if cfg.score_thresh is not None and hasattr(task, "postprocess"):
            task.postprocess.score_thresh = float(cfg.score_thresh)
        result = evaluate_coco_split(
            task,
            raw,
            input_size,
            datamodule.annotation_file(key),
            out_dir,
            batch_size=datamodule.batch_size,
            num_workers=datamodule.num_workers,
            device=device,
        )
    else:
        from gghl.evaluation.loader_eval import evaluate_top1

        datamodule.setup("test")
        if cfg.split not in datamodule.splits:
            raise ConfigError(
                "split",
                f"{type(datamodule).__name__} has splits {list(datamodule.splits)}, got {cfg.split!r}",
            )
        dataset = datamodule.make_dataset(cfg.split, datamodule.splits[cfg.split], train=False)
        result = evaluate_top1(
            loaded.task.eval_net().to(device),
            dataset,
            batch_size=datamodule.batch_size,
            num_workers=datamodule.num_workers,
            device=device,
        )
    _report(result, out_dir)
    result.update(
        {
            "checkpoint": str(cfg.ckpt_path),
            "kind": loaded.kind,
            "split": str(cfg.split),
            "input_size": input_size,
            "notes": notes,
            "data": data_cfg,
        }
    )
    (out_dir / "eval_result.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def _report(result: dict[str, Any], out_dir: Path) -> None:
    if "stats" in result:
        for k, v in result["stats"].items():
            print(f"{k}={v:.4f}")
    if "mAP" in result:
        for name, ap in result["AP"].items():
            print(f"{name:>24s} {ap:.4f}")
        print(f"protocol={result['protocol']}")
        print(f"mAP50={result['mAP']:.4f}")
        if "mAP50:95" in result:
            print(
                f"mAP50:95={result['mAP50:95']:.4f} mAP75={result['mAP75']:.4f}  (same matching and AP variant)"
            )
        if "all_point" in result:
            ap = result["all_point"]
            print(
                f"all-point AP: mAP50={ap['mAP50']:.4f} mAP50:95={ap['mAP50:95']:.4f} mAP75={ap['mAP75']:.4f}"
            )
    if "top1" in result:
        print(f"top1={result['top1']:.4f}")
    print(f"images={result['images']} images_per_s={result['images_per_s']:.2f} output={out_dir}")
    bad = result.get("unreadable") or []
    if bad:
        print(f"unreadable images skipped: {len(bad)} (not evaluated)")
        for b in bad:
            print(f"  {b['file']}: {b['reason']}")


def main() -> None:
    run_command("eval", SUMMARY, run)
