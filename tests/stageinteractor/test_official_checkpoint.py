"""`gghl-convert format=stageinteractor_official` on a file in mmdet's checkpoint layout, then the converted
checkpoint through `scripts/eval.py` (COCO folder), `scripts/export.py` (parity) and `scripts/predict.py`.

The official network here is the small one of ``tests/data/official_stageinteractor`` (ResNet-18, D=64, 12
queries, 7 classes, 6 stages; its function is checked in float64 by ``test_official_weights.py``). Its rule
weights are tamed (sampling, kernel-generator and box-delta weights x 0.1): with the README rule as it is, the
random network is so chaotic that PyTorch itself (1 vs 2 threads, batch 1 vs 3) moves the last stage's boxes by
~4e-4 of the image side, above the export parity tolerance (1e-4); trained weights are not like that.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR
from gghl.models.convert.gghl_official import OfficialCheckpointError
from gghl.models.convert.stageinteractor_official import (
    COCO_CATEGORY_IDS,
    COCO_CLASSES,
    IMAGENET_MEAN,
    build_stageinteractor_official_checkpoint,
)

_spec = importlib.util.spec_from_file_location(
    "official_weights", Path(__file__).with_name("official_weights.py")
)
ow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ow)

TAMED = (
    "dynamic_conv.parameter_generator.weight",
    "feat_extractor.gen_one_d.0.weight",
    "feat_extractor.gen_double_d.0.weight",
    "fc_reg.weight",
)


def _official_file(path: Path) -> Path:
    state = ow.rule_weights(ow.load_keys("small_keys.json")["keys"], seed_offset=5)
    for key, value in state.items():
        if key.endswith(TAMED):
            value.mul_(0.1)
    torch.save(ow.mmdet_checkpoint(state), path)
    return path


def _coco_folder(root: Path) -> list[str]:
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_coco import write_synthetic_coco

    ds = SyntheticOrientedDataset(length=3, img_size=(96, 128), num_classes=7, seed=3)
    write_synthetic_coco(ds, root / "val2017", root / "annotations" / "instances_val2017.json")
    return list(ds.class_names)


def _run(entry: str, overrides: list[str]) -> dict:
    import importlib

    module = importlib.import_module(f"gghl.cli.{entry}")
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return module.run(compose(entry, overrides=overrides))


def test_coco_class_constants_equal_the_coco_data_config() -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(Path(CONFIG_DIR) / "data" / "coco.yaml")
    assert tuple(cfg.class_names) == COCO_CLASSES and len(COCO_CATEGORY_IDS) == 80
    assert COCO_CATEGORY_IDS[:12] == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13) and COCO_CATEGORY_IDS[-1] == 90


def test_checkpoint_dict_loads_weights_only_and_names_settings(tmp_path: Path) -> None:
    src = _official_file(tmp_path / "official.pth")
    names = [f"c{i}" for i in range(7)]
    ckpt = build_stageinteractor_official_checkpoint(src, {"class_names": names})
    model, data = ckpt["gghl_config"]["model"], ckpt["gghl_config"]["data"]
    assert (
        model["_target_"] == "gghl.tasks.query_detection.QueryDetectionTask" and model["class_names"] == names
    )
    det = model["net"]
    assert det["_target_"] == "gghl.models.query.detector.QueryDetector" and det["num_classes"] == 7
    assert model["criterion"]["num_classes"] == 7 and "_recursive_" not in model
    assert (
        det["backbone"] == "resnet18"
        and det["num_queries"] == 12
        and det["pixel_mean"] == list(IMAGENET_MEAN)
    )
    assert model["max_det"] == 12  # official max_per_img = the number of queries
    assert (
        data["_target_"].endswith("CocoDataModule")
        and data["img_size"] == 1088
        and data["class_names"] == names
    )
    assert (
        ckpt["converted_from"]["dropped_entries"] == 10 * 2 + 6 * 3 + 1
    )  # subbox_score, iou statistics, boxes
    torch.save(ckpt, tmp_path / "si.ckpt")
    loaded = torch.load(tmp_path / "si.ckpt", weights_only=True)
    assert all(k.startswith("model.") for k in loaded["state_dict"])
    with pytest.raises(OfficialCheckpointError, match="7 classes but class_names has 80"):
        build_stageinteractor_official_checkpoint(src, {})  # COCO's 80 names by default


def test_convert_then_eval_on_a_coco_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = _official_file(tmp_path / "official.pth")
    root = tmp_path / "coco"
    names = _coco_folder(root)
    dst = tmp_path / "si.ckpt"
    _run(
        "convert",
        [
            f"src={src}",
            f"dst={dst}",
            "format=stageinteractor_official",
            f"class_names=[{','.join(names)}]",
            "img_size=128",
            f"paths.output_dir={tmp_path / 'conv'}",
        ],
    )
    assert "stageinteractor_official" in capsys.readouterr().out
    result = _run(
        "eval",
        [
            f"ckpt_path={dst}",
            "data=coco",
            f"data.root={root}",
            "split=val",
            "data.num_workers=0",
            f"paths.output_dir={tmp_path / 'eval'}",
        ],
    )
    assert result["images"] == 3 and len(result["stats"]) == 12
    dets = json.loads((tmp_path / "eval" / "detections.json").read_text())
    # top-12 (query, class) pairs per image, no NMS, category ids of the json
    assert len(dets) == 3 * 12 and {d["category_id"] for d in dets} <= set(range(1, 8))


@pytest.mark.slow
def test_converted_checkpoint_exports_with_parity_and_predicts(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "coco"
    _coco_folder(root)
    names = [f"class {i}" for i in range(7)]  # whitespace like COCO's "traffic light": no Task1 file name
    ckpt = build_stageinteractor_official_checkpoint(
        _official_file(tmp_path / "official.pth"), {"class_names": names, "img_size": 128}
    )
    torch.save(ckpt, tmp_path / "si.ckpt")
    exported = _run(
        "export", [f"ckpt_path={tmp_path / 'si.ckpt'}", f"paths.output_dir={tmp_path / 'export'}"]
    )
    assert exported["parity"]["ok"] and exported["parity"]["max_abs_boxes"] <= 1e-4 * 128
    assert "parity query/onnx images=3" in capsys.readouterr().out
    _run(
        "predict",
        [
            f"model_path={exported['path']}",
            f"input={root / 'val2017'}",
            f"paths.output_dir={tmp_path / 'pred'}",
        ],
    )
    pred = json.loads((tmp_path / "pred" / "detections.json").read_text())
    assert pred["kind"] == "query" and len(pred["images"]) == 3 and pred["class_names"] == names
    assert (
        all(len(im["detections"]) == 12 for im in pred["images"])
        and not (tmp_path / "pred" / "Task1").exists()
    )
