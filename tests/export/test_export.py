"""Export of the three model types to ONNX and TorchScript, parity numbers, host-side post-processing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gghl.export import (
    ExportedModel,
    ExportedModelError,
    ParityError,
    check_parity,
    export_checkpoint,
)
from gghl.export.checkpoint_model import CheckpointModel
from gghl.export.parity import assert_parity, synthetic_images
from gghl.export.postprocess import gghl_detections
from gghl.export.wrapper import export_module
from gghl.tasks.restore import restore_task

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("kind", ["gghl", "query", "classifier"])
def test_export_parity(checkpoints: dict[str, Path], tmp_path: Path, kind: str, fmt: str) -> None:
    loaded = restore_task(checkpoints[kind])
    path, report = export_checkpoint(loaded, fmt, tmp_path / f"m{SUFFIX[fmt]}", dynamic_batch=True)
    print(report.line())  # the numbers of the closing note (pytest -s)
    assert report.ok and report.kept_same
    assert report.max_abs_scores <= 1e-4 and report.max_abs_boxes <= 1e-4
    assert report.kept_torch == report.kept_export > 0
    model = ExportedModel(path)
    assert model.kind == kind and model.class_names == loaded.class_names
    # dynamic batch: 2 images in one call give the same as one by one
    images = synthetic_images(2, model.img_size, seed=5)
    both = model.run(images)
    first = model.run(images[:1])
    for name in model.output_names:
        torch.testing.assert_close(both[name][:1], first[name], atol=1e-4, rtol=0)


def test_gghl_host_postprocess_equals_task(checkpoints: dict[str, Path]) -> None:
    """The exported graph's candidates + gghl_detections == GGHLDetectionTask.predict_batch, exactly in PyTorch."""
    loaded = restore_task(checkpoints["gghl"])
    module, post = export_module(loaded)
    images = synthetic_images(2, 128, seed=1)
    with torch.no_grad():
        polys, scores, labels = module(images)
        ref = loaded.task.predict_batch(images)
    assert (scores == -1).sum() == 0 and scores.max() > post["score_thresh"]
    for b in range(2):
        got = gghl_detections(
            polys[b],
            scores[b],
            labels[b],
            post["score_thresh"],
            post["nms_thresh"],
            post["max_det"],
            post["pre_nms_topk"],
        )
        assert 0 < len(got["scores"]) < polys.shape[1]  # NMS suppressed some, kept some
        for key in ("polygons", "obb", "scores", "labels"):
            assert torch.equal(got[key], ref[b][key]), key


def test_gghl_invalid_candidates_are_dropped() -> None:
    polys = torch.tensor([[0.0, 0, 10, 0, 10, 10, 0, 10], [float("nan")] * 8, [1.0, 1, 11, 1, 11, 11, 1, 11]])
    out = gghl_detections(polys, torch.tensor([0.9, -1.0, 0.8]), torch.tensor([0, 0, 1]), 0.05, 0.45, 10, 100)
    assert out["labels"].tolist() == [0, 1] and out["scores"].tolist() == pytest.approx([0.9, 0.8])


def test_parity_check_fails_loudly_on_a_wrong_model(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    from .tiny_checkpoints import make_checkpoint

    loaded = restore_task(checkpoints["gghl"])
    path, _ = export_checkpoint(loaded, "onnx", tmp_path / "m.onnx")
    other = restore_task(make_checkpoint("gghl", tmp_path, seed=1))  # different weights
    module, _ = export_module(other)
    report = check_parity(module, CheckpointModel(other), ExportedModel(path), synthetic_images(2, 128))
    assert not report.ok
    with pytest.raises(ParityError, match="scores differ by .* boxes differ by .* kept detections differ"):
        assert_parity(report)


def test_bad_requests_are_refused(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    loaded = restore_task(checkpoints["gghl"])
    with pytest.raises(ValueError, match="nms_pre"):
        export_checkpoint(loaded, "onnx", tmp_path / "m.onnx", nms=True, nms_pre=0)
    with pytest.raises(ValueError, match="multiple of 32"):
        export_checkpoint(loaded, "onnx", tmp_path / "m.onnx", img_size=100)
    with pytest.raises(ValueError, match="format"):
        export_checkpoint(loaded, "tflite", tmp_path / "m.tflite")


def test_exported_model_errors_name_the_file(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ExportedModelError, match="junk.onnx"):
        ExportedModel(bad)
    with pytest.raises(ExportedModelError, match="suffix"):
        ExportedModel(checkpoints["gghl"])  # a .ckpt is not an exported model
    path, _ = export_checkpoint(
        restore_task(checkpoints["classifier"]), "onnx", tmp_path / "c.onnx", check=False
    )
    with pytest.raises(ValueError, match=r"c.onnx: expects images \[B, 3, 32, 32\]"):
        ExportedModel(path).run(torch.rand(1, 3, 64, 64))


def test_draw_detections_outlines_in_class_colour() -> None:
    from gghl.export.draw import PALETTE, draw_detections

    image = np.zeros((64, 64, 3), dtype=np.uint8)
    poly = np.array([[10.0, 20, 50, 20, 50, 40, 10, 40]])
    out = np.asarray(draw_detections(image, poly, np.array([0.9]), np.array([2]), ["a", "b", "c"]))
    assert tuple(out[30, 10]) == PALETTE[2] and tuple(out[30, 30]) == (
        0,
        0,
        0,
    )  # edge drawn, inside untouched
    low = np.asarray(
        draw_detections(image, poly, np.array([0.1]), np.array([2]), ["a", "b", "c"], min_score=0.3)
    )
    assert low.max() == 0
