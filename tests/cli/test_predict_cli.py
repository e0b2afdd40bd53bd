"""`gghl-predict` through the real Hydra config, with a checkpoint and with its exported model.

Acceptance (issue 8): an exported GGHL model run by predict gives the same detections as the checkpoint on 3
synthetic images (here 192 x 256, so each is tiled with 128-px windows and merged, as in evaluation).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR, ConfigError
from gghl.export.parity import match_detections

_spec = importlib.util.spec_from_file_location(
    "export_tiny_checkpoints", Path(__file__).parents[1] / "export" / "tiny_checkpoints.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


def _cli(name: str, overrides: list[str]) -> dict:
    import importlib

    run = importlib.import_module(f"gghl.cli.{name}").run
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return run(compose(name, overrides=overrides))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_dota

    root = tmp_path_factory.mktemp("predict_images")
    return (
        write_synthetic_dota(SyntheticOrientedDataset(3, img_size=(192, 256), seed=11), root, "test")
        / "images"
    )


def _tensors(dets: list[dict]) -> dict[str, torch.Tensor]:
    return {
        "polygons": torch.tensor([d["polygon"] for d in dets], dtype=torch.float64).reshape(-1, 8),
        "scores": torch.tensor([d["score"] for d in dets], dtype=torch.float64),
        "labels": torch.tensor([d["label"] for d in dets]),
    }


def _dets(result: dict) -> dict[str, list]:
    return {r["image"]: r["detections"] for r in result["images"]}


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_predict_exported_gghl_equals_checkpoint(tmp_path: Path, images: Path, fmt: str) -> None:
    ckpt = tiny.make_checkpoint("gghl", tmp_path)
    exported = _cli("export", [f"ckpt_path={ckpt}", f"format={fmt}", f"paths.output_dir={tmp_path / 'exp'}"])
    common = [f"input={images}", "score_thresh=0.2", "paths.output_dir=."]
    ref = _cli("predict", [f"ckpt_path={ckpt}", f"output={tmp_path / 'ckpt'}", *common])
    got = _cli("predict", [f"model_path={exported['path']}", f"output={tmp_path / 'model'}", *common])
    a, b = _dets(ref), _dets(got)
    assert sorted(a) == sorted(b) and len(a) == 3
    n = 0
    for name in a:  # order-free: untrained scores tie to ~1e-8, and ties may swap places between runtimes
        assert len(a[name]) == len(b[name]) > 0, name
        ok, worst = match_detections(_tensors(a[name]), _tensors(b[name]), tol=1e-3)
        assert ok, (name, worst)
        n += len(a[name])
    print(f"predict {fmt}: {n} detections on 3 images identical to the checkpoint's")
    for out in ("ckpt", "model"):
        assert sorted(p.name for p in (tmp_path / out / "images").iterdir()) == sorted(
            p.stem + ".png" for p in images.iterdir()
        )
        task1 = sorted(p.name for p in (tmp_path / out / "Task1").iterdir())
        assert task1 == [
            f"Task1_{c}.txt" for c in sorted(["plane", "vehicle", "ship", "storage-tank", "court"])
        ]
    # Task1 lines: `image score x1 y1 ... x4 y4` (4 and 2 decimals, so both runs write the same text)
    for f in (tmp_path / "ckpt" / "Task1").iterdir():
        lines = f.read_text().splitlines()
        assert len(lines) == len((tmp_path / "model" / "Task1" / f.name).read_text().splitlines())
        assert all(len(line.split()) == 10 and line.split()[0] in a for line in lines)
    saved = json.loads((tmp_path / "model" / "detections.json").read_text())
    assert saved["kind"] == "gghl" and len(saved["images"]) == 3


@pytest.mark.parametrize("kind", ["query", "classifier"])
def test_predict_query_and_classifier(tmp_path: Path, images: Path, kind: str) -> None:
    ckpt = tiny.make_checkpoint(kind, tmp_path)
    exported = _cli("export", [f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / 'exp'}"])
    one = sorted(images.iterdir())[0]
    ref = _cli("predict", [f"ckpt_path={ckpt}", f"input={one}", f"output={tmp_path / 'a'}"])
    got = _cli("predict", [f"model_path={exported['path']}", f"input={one}", f"output={tmp_path / 'b'}"])
    assert (tmp_path / "b" / "images" / f"{one.stem}.png").is_file()
    if kind == "classifier":
        assert [t["label"] for t in ref["images"][0]["top"]] == [t["label"] for t in got["images"][0]["top"]]
        assert (tmp_path / "b" / "predictions.json").is_file()
    else:
        ra, rb = ref["images"][0]["detections"], got["images"][0]["detections"]
        assert len(ra) == len(rb) > 0 and [d["label"] for d in ra] == [d["label"] for d in rb]
        assert (tmp_path / "b" / "Task1").is_dir()


def test_predict_needs_exactly_one_model(tmp_path: Path, images: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one of ckpt_path"):
        _cli("predict", [f"input={images}", f"output={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        _cli(
            "predict",
            [f"input={tmp_path / 'nowhere'}", f"model_path={tmp_path / 'm.onnx'}", f"output={tmp_path}"],
        )
