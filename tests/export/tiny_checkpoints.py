"""Tiny checkpoints of the three exportable model types, built from the real Hydra configs (no training:
export parity does not need trained weights, and building takes well under a second each).

A plain module (not a conftest) so tests/cli can load it by path too."""

from __future__ import annotations

from pathlib import Path

import hydra
import torch
from hydra import compose, initialize_config_dir

from gghl.checkpoint import CONFIG_KEY, config_to_store
from gghl.config import CONFIG_DIR

OVERRIDES = {
    # score_thresh 0: every valid candidate reaches the rotated NMS (untrained scores are ~1e-4), so the
    # kept-detections parity compares hundreds of boxes instead of none.
    "gghl": [
        "experiment=gghl_synthetic",
        "data.img_size=128",
        "model.net.backbone=resnet10t",
        "model.net.neck_widths=[16,32,64]",
        "model.net.neck_convs=1",
        "model.postprocess.score_thresh=0.0",
        "model.channels_last=false",
        # the head is re-drawn below, after the task was built: an EMA copy made at construction would keep
        # the near-constant untrained head (and near-ties in NMS)
        "model.ema_decay=null",
    ],
    "query": [
        "experiment=stageinteractor_synthetic",
        "data.img_size=128",
        "model.net.backbone.widths=[8,8,16,16]",
        "model.net.backbone.stem_width=8",
        "model.net.backbone.depth=0",
        "model.net.num_queries=6",
        "model.net.dim=32",
        "model.net.num_stages=2",
        "model.net.heads=2",
        "model.net.ffn_dim=32",
        "model.net.groups=2",
        "model.net.points=2",
        "model.net.subboxes=[2,2]",
        "model.net.out_points=4",
        "model.max_det=10",
    ],
    "classifier": [
        "experiment=classify_digits",
        "+data.num_classes=10",
        "+data.class_names=[d0,d1,d2,d3,d4,d5,d6,d7,d8,d9]",
        "model.net.width=8",
    ],
}


def make_checkpoint(kind: str, out_dir: Path, seed: int = 0) -> Path:
    """Instantiate ``kind``'s task from the configs (random weights, seeded) and save a gghl checkpoint."""
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*OVERRIDES[kind], f"paths.output_dir={out_dir}"])
    torch.manual_seed(seed)
    task = hydra.utils.instantiate(cfg.model, _convert_="all")
    # Untrained heads predict near-constant outputs; spread them so parity compares varied boxes.
    if kind == "gghl":  # cell-sized boxes with ~1e-4 scores -> overlapping boxes, scores ~0.25
        with torch.no_grad():
            for branch in [*task.net.head.loc, *task.net.head.cls]:
                for p in branch.parameters():
                    if p.ndim == 4:  # conv weights: features and scores far apart (no near-ties in NMS)
                        p.normal_(0.0, 0.2)
            for loc, cls in zip(task.net.head.loc, task.net.head.cls):
                loc[-1].weight[0:8].mul_(0.1)  # moderate box sizes and ratios
                loc[-1].bias[0:4].fill_(0.7)  # distances ~2 strides: boxes span several cells
                loc[-1].bias[9].fill_(0.0)
                loc[-1].weight[9].normal_(0.0, 3.0)
                cls[-1].weight.normal_(0.0, 3.0)
                cls[-1].bias.fill_(0.0)
    if kind == "query":  # box deltas are zero-initialised (every box = the whole image)
        with torch.no_grad():
            for stage in task.model.decoder.stages:
                stage.reg_branch[-1].weight.normal_(0.0, 0.05)
    path = out_dir / f"{kind}.ckpt"
    torch.save({"state_dict": task.state_dict(), CONFIG_KEY: config_to_store(cfg)}, path)
    return path
