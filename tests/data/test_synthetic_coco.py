"""SyntheticCocoDataModule: the synthetic set written in COCO layout, read back by the COCO loader."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from gghl.configs import CONFIG_DIR
from gghl.data.detection_datamodule import SyntheticDataModule
from gghl.data.synthetic_coco import STAMP, SyntheticCocoDataModule

SMALL = dict(
    train_size=4,
    val_size=2,
    test_size=0,
    batch_size=2,
    num_workers=0,
    img_size=96,
    hflip=0.0,
    vflip=0.0,
    rot90=0.0,
    hsv=None,
)


def test_writes_coco_layout_once_and_matches_in_memory_set(tmp_path: Path) -> None:
    dm = SyntheticCocoDataModule(root=str(tmp_path), **SMALL)
    assert dm.num_classes == 5 and dm.class_names[0] == "plane"
    dm.prepare_data()
    ann = json.loads((tmp_path / "annotations" / "instances_train.json").read_text())
    assert len(ann["images"]) == 4 and (tmp_path / "train" / ann["images"][0]["file_name"]).is_file()
    assert not (tmp_path / "annotations" / "instances_test.json").exists()  # test_size=0: no split
    stamp_mtime = (tmp_path / STAMP).stat().st_mtime_ns
    dm.prepare_data()  # same settings: nothing rewritten
    assert (tmp_path / STAMP).stat().st_mtime_ns == stamp_mtime

    # The COCO path yields the same images and HBB targets as the in-memory synthetic set (PNG is lossless).
    dm.setup("fit")
    mem = SyntheticDataModule(**SMALL)
    mem.setup("fit")
    images, targets = next(iter(dm.val_dataloader()))
    images_m, targets_m = next(iter(mem.val_dataloader()))
    assert torch.equal(images, images_m)
    for t, tm in zip(targets, targets_m):
        assert torch.equal(t["labels"], tm["labels"])
        torch.testing.assert_close(t["hbb"], tm["hbb"], atol=1e-4, rtol=0)


def test_changed_settings_rewrite_the_set(tmp_path: Path) -> None:
    SyntheticCocoDataModule(root=str(tmp_path), **SMALL).prepare_data()
    bigger = {**SMALL, "train_size": 6}
    dm = SyntheticCocoDataModule(root=str(tmp_path), **bigger)
    dm.prepare_data()
    ann = json.loads((tmp_path / "annotations" / "instances_train.json").read_text())
    assert len(ann["images"]) == 6


def test_stageinteractor_synthetic_experiment_reads_coco_format() -> None:
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("train.yaml", overrides=["experiment=stageinteractor_synthetic"])
    assert cfg.data._target_ == "gghl.data.synthetic_coco.SyntheticCocoDataModule"
