"""Two CPU processes (gloo) through the real CLI: `gghl-train trainer=ddp_cpu` (strategy ddp; Lightning re-launches
the command for rank 1). Checks that training runs on both ranks and that the validation mAP the two processes
compute (the task's DOTAMetric gathers the per-image rows of all ranks and drops DistributedSampler padding
duplicates) equals the single-process value on the same checkpoint exactly."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
from hydra.utils import instantiate

from gghl.checkpoint import CONFIG_KEY, read_checkpoint
from gghl.tasks.restore import restore_task

REPO = Path(__file__).resolve().parents[2]
OVERRIDES = [
    "trainer=ddp_cpu",
    "trainer.max_epochs=1",
    "trainer.check_val_every_n_epoch=1",
    "trainer.precision=32-true",
    "model.net.backbone=test_resnet",
    "model.net.backbone_options=null",
    "model.net.neck_widths=[16,32,64]",
    "model.net.neck_convs=1",
    # An untrained model finds nothing at IoU 0.5; at IoU 0.05 with every candidate kept the AP is non-zero,
    # so the equality below compares real numbers.
    "+model.eval_iou_thr=0.05",
    "model.postprocess.score_thresh=0.0",
    "data.img_size=64",
    "data.batch_size=2",
    "data.num_workers=0",
    "data.train_size=8",
    "data.val_size=7",  # odd: DistributedSampler pads rank 1 with a repeat of image 0
    "data.test_size=0",
    "test=false",
    "callbacks.progress_bar.refresh_rate=0",
]


def _last_val_row(metrics_csv: Path) -> dict[str, float]:
    rows = [r for r in csv.DictReader(metrics_csv.open()) if r.get("val/mAP50")]
    assert rows, f"no val/mAP50 in {metrics_csv}"
    return {k: float(v) for k, v in rows[-1].items() if k.startswith("val/") and v != ""}


def test_two_process_ddp_trains_and_validates_like_one_process(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "1"}
    cmd = [sys.executable, "-m", "gghl.cli.train", f"hydra.run.dir={run_dir}", *OVERRIDES]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Starting with 2 processes" in proc.stdout + proc.stderr
    assert (run_dir / "train_ddp_process_1.log").is_file()  # rank 1 ran (Lightning's Hydra-aware re-launch)

    ckpt_path = run_dir / "checkpoints" / "last.ckpt"
    ckpt = read_checkpoint(ckpt_path)
    assert ckpt["global_step"] == 2  # 8 images / 2 ranks / batch 2: each rank trained 2 steps
    ddp = _last_val_row(next(run_dir.glob("csv/version_*/metrics.csv")))
    assert list((run_dir / "csv").glob("version_*/val_images/*.png")), "no validation images logged"

    task = restore_task(ckpt_path).task
    datamodule = instantiate(ckpt[CONFIG_KEY]["data"])
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    single = {k: float(v) for k, v in trainer.validate(task, datamodule=datamodule)[0].items()}
    print(f"ddp(2 procs) val/mAP50={ddp['val/mAP50']!r} single val/mAP50={single['val/mAP50']!r}")
    assert ddp["val/mAP50"] > 0
    assert single == pytest.approx(ddp, abs=0, rel=0)  # exact, every class
    assert single.keys() == ddp.keys()
