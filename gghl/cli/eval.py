"""`gghl-eval` / `python scripts/eval.py ckpt_path=... data=dota data.root=...`: evaluate a checkpoint.

DOTA: every image of ``<data.root>/<split>/images`` is split on the fly into patches, predicted in batches,
merged back with class-wise rotated NMS, written as Task1 files (+ zip), and scored with the official DOTA
protocol when ``labelTxt`` exists. COCO: a detections json with original category ids and the 12 stats.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from gghl.cli._config import CONFIG_DIR, check_targets, config_errors, instantiate_at, prepare_environment


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def evaluate_dota(cfg: DictConfig, task: Any, class_names: list[str], out_dir: Path) -> dict[str, Any]:
    from gghl.data.dota import DotaDataset
    from gghl.data.dota_merge import write_task1
    from gghl.data.tiling import tiled_inference
    from gghl.evaluation.dota import evaluate_task1
    from gghl.models.large_image import tile_detector

    dataset = DotaDataset(cfg.data.root, split=cfg.split, class_names=class_names)
    base = Path(cfg.data.root) / cfg.split
    input_size = cfg.input_size or cfg.data.get("img_size") or cfg.patch_size
    device = _device(cfg.device)
    task.to(device)
    detect = tile_detector(task, cfg.patch_size, int(input_size), device)
    det_by_image = {}
    start = time.time()
    for i in tqdm(range(len(dataset)), desc="eval (DOTA, tiled)", unit="img"):
        sample = dataset[i]
        det_by_image[str(sample["image_id"])] = tiled_inference(
            sample["image"],
            detect,
            size=cfg.patch_size,
            gap=cfg.gap,
            rates=list(cfg.rates),
            pad_value=0.5,
            batch_size=cfg.batch_size,
            iou_thr=cfg.merge_iou_thr,
        )
    elapsed = time.time() - start
    task1_dir = out_dir / "Task1"
    write_task1(det_by_image, task1_dir, class_names, zip_path=out_dir / "Task1.zip" if cfg.zip else None)
    result: dict[str, Any] = {
        "images": len(dataset),
        "seconds": elapsed,
        "images_per_s": len(dataset) / max(elapsed, 1e-9),
    }
    if (base / "labelTxt").is_dir():
        metrics = evaluate_task1(
            base / "labelTxt",
            task1_dir,
            sorted(det_by_image),
            class_names,
            use_07_metric=cfg.use_07_metric,
            difficult=cfg.difficult,
        )
        result.update({"mAP": metrics["mAP"], "AP": metrics["AP"], "protocol": metrics.get("protocol")})
    return result


def evaluate_coco(cfg: DictConfig, task: Any, datamodule: Any, out_dir: Path) -> dict[str, Any]:
    from gghl.evaluation.coco import evaluate

    # Evaluate the split the user asked for (`split=val` by default): a split key of the datamodule or a
    # folder name. The loader and the annotation json must be the same split.
    splits = getattr(datamodule, "splits", None)
    if splits is not None:
        folder = splits.get(cfg.split) or cfg.split
        splits["test"] = folder
    datamodule.setup("test")
    loader = datamodule.test_dataloader()
    device = _device(cfg.device)
    task.to(device)
    to_cat = getattr(datamodule, "contiguous_to_cat_id", None)
    results: list[dict[str, Any]] = []
    start = time.time()
    n = 0
    for images, targets in tqdm(loader, desc="eval (COCO)", unit="batch"):
        preds = task.predict_batch(images.to(device), targets)
        for p, t in zip(preds, targets):
            n += 1
            boxes = p["hbb"] if "hbb" in p else _poly_hbb(p["polygons"])
            for box, score, label in zip(boxes.tolist(), p["scores"].tolist(), p["labels"].tolist()):
                cat = to_cat[label] if to_cat is not None else label
                results.append(
                    {
                        "image_id": int(t["image_id"]),
                        "category_id": int(cat),
                        "score": float(score),
                        "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]],
                    }
                )
    elapsed = time.time() - start
    det_path = out_dir / "detections.json"
    det_path.write_text(json.dumps(results))
    stats = evaluate(
        datamodule.annotation_file("test")
        if hasattr(datamodule, "annotation_file")
        else cfg.data.ann_file,
        results,
    )
    return {
        "images": n,
        "seconds": elapsed,
        "images_per_s": n / max(elapsed, 1e-9),
        "stats": stats,
        "detections": str(det_path),
    }


def _poly_hbb(polys: torch.Tensor) -> torch.Tensor:
    xy = polys.reshape(-1, 4, 2)
    return torch.cat([xy.min(1).values, xy.max(1).values], dim=1)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path``; config errors are raised as ``ConfigError`` naming key and file."""
    with config_errors(cfg):
        check_targets(cfg)  # before anything is instantiated
        return _run(cfg)


def _run(cfg: DictConfig) -> dict[str, Any]:
    from gghl.tasks.checkpoint_config import build_task_from_checkpoint

    task, stored = build_task_from_checkpoint(cfg.ckpt_path, allow_pickle=cfg.allow_pickle)
    if cfg.score_thresh is not None and hasattr(task, "postprocess"):
        task.postprocess.score_thresh = float(cfg.score_thresh)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kind = str(cfg.data.get("_target_", "")).lower()
    class_names = list(stored.get("data", {}).get("class_names") or getattr(task, "class_names", []))
    if "coco" in kind:
        datamodule = instantiate_at(cfg, "data")
        result = evaluate_coco(cfg, task, datamodule, out_dir)
        for k, v in result["stats"].items():
            print(f"{k}={v:.4f}")
    else:
        result = evaluate_dota(cfg, task, class_names, out_dir)
        if "mAP" in result:
            for name, ap in result["AP"].items():
                print(f"{name:>24s} {ap:.4f}")
            print(f"protocol={result['protocol']}")
            print(f"mAP50={result['mAP']:.4f}")
    print(f"images={result['images']} images_per_s={result['images_per_s']:.2f} output={out_dir}")
    (out_dir / "eval_result.json").write_text(json.dumps(result, indent=2, default=str))
    return result


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _main(cfg: DictConfig) -> None:
    run(cfg)


def main() -> None:
    prepare_environment()
    _main()


if __name__ == "__main__":
    main()
