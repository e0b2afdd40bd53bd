"""End to end through the real Hydra configs: train a tiny GGHL, then evaluate the checkpoint on a
synthetic DOTA-layout set of large images (tiled inference, merge, Task1 files, zip, official mAP)."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR

TINY_MODEL = [
    "model.net.backbone=resnet10t",
    "model.net.neck_widths=[16,32,64]",
    "model.net.neck_convs=1",
]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gghl.cli.train import run

    out = tmp_path_factory.mktemp("train")
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"paths.output_dir={out}",
                "data.train_size=4",
                "data.val_size=2",
                "data.test_size=2",
                "data.img_size=96",
                "data.batch_size=2",
                "data.num_workers=0",
                "trainer.max_epochs=1",
                "trainer.check_val_every_n_epoch=1",
                "callbacks.progress_bar.refresh_rate=0",
                *TINY_MODEL,
            ],
        )
        metrics = run(cfg)
    assert 0.0 <= metrics["test/mAP50"] <= 1.0
    ckpts = sorted(out.glob("checkpoints/*.ckpt"))
    assert ckpts, "training wrote no checkpoint"
    return ckpts[0]


def test_eval_dota_large_images_end_to_end(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """`data=dota data.root=... split=val`: a DOTA folder of large images, tiled with 192-px windows resized to
    the checkpoint's input size (96, not the 800 of configs/data/dota.yaml); classes are the checkpoint's."""
    from gghl.cli.eval import run
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_dota

    root = tmp_path / "dota"
    write_synthetic_dota(SyntheticOrientedDataset(2, img_size=(300, 420), seed=3), root, split="val")
    out = tmp_path / "eval"
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "eval",
            overrides=[
                f"ckpt_path={tiny_checkpoint}",
                "data=dota",
                f"data.root={root}",
                "split=val",
                "patch_size=192",
                "gap=64",
                f"paths.output_dir={out}",
            ],
        )
        result = run(cfg)
    assert result["images"] == 2
    assert result["input_size"] == 96  # the checkpoint's, not data=dota's img_size 800
    assert any("img_size=800" in n and "96" in n for n in result["notes"])
    assert 0.0 <= result["mAP"] <= 1.0
    assert "VOC07" in result["protocol"] or "11" in result["protocol"]
    assert "labelTxt" in result["scored_from"]
    task1 = sorted(p.name for p in (out / "Task1").iterdir())
    assert task1 == sorted(f"Task1_{c}.txt" for c in ["plane", "vehicle", "ship", "storage-tank", "court"])
    assert (out / "Task1.zip").is_file()


def test_eval_checkpoint_alone_uses_its_test_split(tiny_checkpoint: Path, tmp_path: Path) -> None:
    """`eval.py ckpt_path=CKPT` with nothing else: the stored synthetic datamodule, its held-out test split
    (2 images here, as trained), its input size, the DOTA protocol on in-memory ground truth."""
    from gghl.cli.eval import run

    out = tmp_path / "eval"
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        result = run(compose("eval", overrides=[f"ckpt_path={tiny_checkpoint}", f"paths.output_dir={out}"]))
    assert result["split"] == "test" and result["images"] == 2 and result["input_size"] == 96
    assert result["data"]["_target_"].endswith("SyntheticDataModule") and result["data"]["test_size"] == 2
    assert result["notes"] == []
    assert 0.0 <= result["mAP"] <= 1.0 and result["scored_from"].startswith("in-memory")
    # the stricter numbers come with it (same matching and AP variant, IoU 0.50:0.95); never above mAP50
    assert (
        0.0 <= result["mAP75"] <= result["mAP"] + 1e-12 and 0.0 <= result["mAP50:95"] <= result["mAP"] + 1e-12
    )
    assert set(result["all_point"]) == {"mAP50", "mAP50:95", "mAP75"}
    assert (out / "Task1" / "Task1_plane.txt").is_file()


def test_eval_coco_end_to_end(tiny_checkpoint: Path, tmp_path: Path) -> None:
    import json

    from gghl.cli.eval import run
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_coco

    root = tmp_path / "coco"
    ann = root / "annotations" / "instances_val2017.json"
    ann.parent.mkdir(parents=True)
    write_synthetic_coco(
        SyntheticOrientedDataset(3, img_size=128, seed=5),
        root / "val2017",
        ann,
        category_ids=[1, 5, 9, 12, 40],
    )
    out = tmp_path / "eval"
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "eval",
            overrides=[
                f"ckpt_path={tiny_checkpoint}",
                "data=coco",
                f"data.root={root}",
                "data.class_names=null",
                "data.num_classes=null",
                "data.img_size=96",
                "data.batch_size=2",
                "data.num_workers=0",
                "split=val",
                f"paths.output_dir={out}",
            ],
        )
        result = run(cfg)
    assert result["images"] == 3
    assert list(result["stats"])[:3] == ["AP", "AP50", "AP75"] and len(result["stats"]) == 12
    dets = json.loads((out / "detections.json").read_text())
    assert {d["category_id"] for d in dets} <= {1, 5, 9, 12, 40}
    assert {d["image_id"] for d in dets} <= {img["id"] for img in json.loads(ann.read_text())["images"]}


def test_gghl_coco_hbb_mode_trains(tmp_path: Path) -> None:
    """experiment=gghl_coco: GGHL on COCO-format data (axis-aligned polygons: theta 0, s 0, r 1)."""
    from gghl.cli.train import run
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_coco

    root = tmp_path / "coco"
    for split, seed in (("train2017", 1), ("val2017", 2)):
        ann = root / "annotations" / f"instances_{split}.json"
        ann.parent.mkdir(parents=True, exist_ok=True)
        write_synthetic_coco(
            SyntheticOrientedDataset(4, img_size=128, seed=seed),
            root / split,
            ann,
            category_ids=[1, 5, 9, 12, 40],
        )
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=gghl_coco",
                "trainer=cpu",
                f"paths.output_dir={tmp_path / 'out'}",
                f"data.root={root}",
                "data.class_names=null",
                "data.num_classes=null",
                "data.img_size=96",
                "data.batch_size=2",
                "data.num_workers=0",
                "trainer.max_epochs=1",
                "callbacks.progress_bar.refresh_rate=0",
                *TINY_MODEL,
            ],
        )
        metrics = run(cfg)
    assert 0.0 <= metrics["test/mAP50"] <= 1.0
    assert metrics["train/positives_s8"] + metrics["train/positives_s16"] + metrics["train/positives_s32"] > 0
