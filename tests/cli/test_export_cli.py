"""`gghl-export` through the real Hydra config: ONNX + TorchScript files, parity line, config errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR, ConfigError

_spec = importlib.util.spec_from_file_location(
    "export_tiny_checkpoints", Path(__file__).parents[1] / "export" / "tiny_checkpoints.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


def _export(overrides: list[str]) -> dict:
    from gghl.cli.export import run

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return run(compose("export", overrides=overrides))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_cli_writes_model_and_parity(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture) -> None:
    ckpt = tiny.make_checkpoint("gghl", tmp_path)
    result = _export([f"ckpt_path={ckpt}", f"format={fmt}", f"paths.output_dir={tmp_path / 'out'}"])
    out = capsys.readouterr().out
    assert f"parity gghl/{fmt} images=3" in out and "kept_same=True" in out
    path = Path(result["path"])
    assert path == tmp_path / "out" / ("gghl.onnx" if fmt == "onnx" else "gghl.pt") and path.is_file()
    assert result["parity"]["ok"] and result["parity"]["max_abs_boxes"] <= 1e-4
    assert json.loads((tmp_path / "out" / "export_result.json").read_text())["kind"] == "gghl"


def test_export_cli_nms_true(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ckpt = tiny.make_checkpoint("gghl", tmp_path)
    result = _export([f"ckpt_path={ckpt}", "nms=true", "nms_pre=150", f"paths.output_dir={tmp_path / 'out'}"])
    out = capsys.readouterr().out
    assert "parity gghl/onnx nms=true images=3" in out and "kept_same=True" in out
    assert result["parity"]["ok"] and result["parity"]["nms_in_graph"]
    from gghl.export import ExportedModel

    model = ExportedModel(result["path"])
    assert model.nms_in_graph and model.post["nms_pre"] == 150


def test_export_cli_refuses_foreign_target_in_checkpoint(tmp_path: Path) -> None:
    ckpt = tiny.make_checkpoint("classifier", tmp_path)
    state = torch.load(ckpt, weights_only=True)
    state["gghl_config"]["model"]["_target_"] = "os.system"
    torch.save(state, ckpt)
    with pytest.raises(ConfigError, match=r"model\._target_.*os\.system"):
        _export([f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / 'out'}"])


def test_export_cli_bad_format_and_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format"):
        _export([f"ckpt_path={tmp_path / 'x.ckpt'}", "format=tflite", f"paths.output_dir={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="x.ckpt"):
        _export([f"ckpt_path={tmp_path / 'x.ckpt'}", f"paths.output_dir={tmp_path}"])
