"""StageInteractor end to end through the real configs on the synthetic set in COCO format: train a tiny
decoder two steps, then `scripts/eval.py ckpt_path=CKPT` (nothing else: the data config and test split stored
in the checkpoint) writes detections json and the 12 COCO stats, equal to what the task logged at test time."""

from pathlib import Path

from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR

TINY = [
    "model.net.num_queries=8",
    "model.net.dim=32",
    "model.net.num_stages=2",
    "model.net.heads=2",
    "model.net.ffn_dim=64",
    "model.net.subboxes=[4,2]",
    "model.net.out_points=8",
    "model.net.backbone.widths=[8,16,16,16]",
    "model.net.backbone.stem_width=8",
]


def test_train_then_eval_on_synthetic_coco(tmp_path: Path) -> None:
    from gghl.cli.eval import run as eval_run
    from gghl.cli.train import run as train_run

    root = tmp_path / "synthetic_coco"
    data = [
        f"data.root={root}",
        "data.train_size=4",
        "data.val_size=2",
        "data.test_size=3",
        "data.img_size=64",
        "data.batch_size=2",
        "data.num_workers=0",
    ]
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=stageinteractor_synthetic",
                f"paths.output_dir={tmp_path / 'train'}",
                *data,
                *TINY,
                "trainer.max_epochs=1",
                "trainer.check_val_every_n_epoch=1",
                "logger=none",
                "callbacks.progress_bar.refresh_rate=0",
            ],
        )
        metrics = train_run(cfg)
    ckpt = sorted((tmp_path / "train" / "checkpoints").glob("epoch_*.ckpt"))[0]
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        # The checkpoint alone: its stored synthetic_coco data config and its test split.
        cfg = compose("eval", overrides=[f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / 'eval'}"])
        result = eval_run(cfg)
    assert result["images"] == 3
    assert (tmp_path / "eval" / "detections.json").is_file()
    assert list(result["stats"])[:3] == ["AP", "AP50", "AP75"] and len(result["stats"]) == 12
    # The CLI evaluates the json it wrote with the official protocol; the task logged the same numbers.
    assert abs(result["stats"]["AP50"] - metrics["test/AP50"]) < 1e-6
    assert abs(result["stats"]["AP"] - metrics["test/AP"]) < 1e-6
