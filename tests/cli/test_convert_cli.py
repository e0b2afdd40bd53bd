"""gghl-convert: official GGHL weights -> a gghl checkpoint that eval / export / predict take.

Fast tests use an official-layout file whose tensors share one storage (19 MB instead of 275 MB); the slow test
runs the whole chain on real-size random weights: gghl-convert, scripts/eval.py on a DOTA-layout folder and
scripts/export.py with its parity check.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from gghl.config import CONFIG_DIR, ConfigError, check_targets
from gghl.data.dota_classes import DOTA_V1_0
from gghl.models.convert import OfficialCheckpointError
from gghl.models.convert.gghl_checkpoint import build_gghl_official_checkpoint, paper_net_config
from gghl.models.gghl_detector import build_gghl_detector

_spec = importlib.util.spec_from_file_location(
    "official_gghl_weights", Path(__file__).parents[1] / "models" / "official_gghl_weights.py"
)
_weights = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_weights)
fixture_meta, official_weights = _weights.fixture_meta, _weights.official_weights
light_official_state, official_training_checkpoint = (
    _weights.light_official_state,
    _weights.official_training_checkpoint,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def official_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("official") / "last.pt"
    torch.save(official_training_checkpoint(light_official_state(fixture_meta()["keys"])), path)
    return path


def _convert(tmp: Path, *overrides: str) -> dict:
    from gghl.cli.convert import run

    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("convert", overrides=list(overrides))
    return run(cfg)


def test_builder_writes_our_layout_with_the_official_test_settings(official_file: Path) -> None:
    ckpt = build_gghl_official_checkpoint(official_file)
    with torch.device("meta"):
        expected = build_gghl_detector(15).state_dict()
    assert set(ckpt["state_dict"]) == {f"net.{k}" for k in expected}
    model, data = ckpt["gghl_config"]["model"], ckpt["gghl_config"]["data"]
    assert model["_target_"] == "gghl.tasks.gghl_detection.GGHLDetectionTask"
    assert model["net"] == paper_net_config(15) and model["ema_decay"] is None
    post = model["postprocess"]
    assert (post["score_thresh"], post["nms_thresh"], post["max_det"], post["score_mode"]) == (
        0.2,
        0.45,
        500,
        "product",
    )
    assert (
        post["pre_nms_topk"] == 100**2 + 50**2 + 25**2
    )  # every location at 800: the official code caps nothing
    assert model["class_names"] == data["class_names"] == list(DOTA_V1_0) and data["num_classes"] == 15
    assert data["img_size"] == 800 and data["version"] == "1.0"
    assert ckpt["converted_from"] == {
        "format": "gghl_official",
        "source": str(official_file),
        "epoch": 150,
        "best_mAP": 0.7695,
    }
    assert type(ckpt["converted_from"]["best_mAP"]) is float  # not the NumPy scalar: weights_only loads it
    check_targets({"model": model, "data": data})


def test_builder_options_and_class_count_errors(official_file: Path) -> None:
    names = [f"c{i}" for i in range(15)]
    ckpt = build_gghl_official_checkpoint(
        official_file, {"class_names": names, "img_size": 640, "score_thresh": 0.005}
    )
    data = ckpt["gghl_config"]["data"]
    assert data["class_names"] == names and data["version"] is None and data["img_size"] == 640
    assert ckpt["gghl_config"]["model"]["postprocess"]["score_thresh"] == 0.005
    with pytest.raises(OfficialCheckpointError, match="the weights have 15 classes but class_names has 1"):
        build_gghl_official_checkpoint(official_file, {"class_names": ["ship"]})
    with pytest.raises(OfficialCheckpointError, match="needs a GGHL model config"):
        build_gghl_official_checkpoint(
            official_file, {"model": {"_target_": "gghl.tasks.classification.ClassificationTask"}}
        )


def test_cli_writes_a_weights_only_checkpoint(official_file: Path, tmp_path: Path) -> None:
    dst = tmp_path / "gghl_dota.ckpt"
    result = _convert(tmp_path, f"src={official_file}", f"dst={dst}")
    assert result["entries"] == 464 and result["parameters"] == 68_782_123
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt["gghl_config"]["model"]["net"]["backbone"] == "darknet53"
    # the stored config is the composed model=gghl / data=dota groups, completed: same keys as a trained one
    assert {"optimizer", "lr", "assigner_variant"} <= set(ckpt["gghl_config"]["model"])
    assert {"root", "splits", "on_error"} <= set(ckpt["gghl_config"]["data"])
    with pytest.raises(ConfigError, match="exists; pass overwrite=true"):
        _convert(tmp_path, f"src={official_file}", f"dst={dst}")
    with pytest.raises(OfficialCheckpointError, match="gghl_dota.ckpt: already a gghl checkpoint"):
        _convert(tmp_path, f"src={dst}", f"dst={tmp_path / 'again.ckpt'}")
    with pytest.raises(ConfigError, match="unknown format 'nope'"):
        _convert(tmp_path, f"src={official_file}", f"dst={tmp_path / 'x.ckpt'}", "format=nope")
    assert not (tmp_path / "x.ckpt").exists()


def test_unreadable_or_pickled_official_files_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "pickled.pt"
    torch.save({"model": {}, "extra": Path("x")}, bad)  # a pickled class: refused by weights_only
    with pytest.raises(OfficialCheckpointError, match="pickled.pt: could not be read with torch.load"):
        build_gghl_official_checkpoint(bad)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(OfficialCheckpointError, match="junk.pt: not a torch checkpoint file"):
        build_gghl_official_checkpoint(junk)
    darknet = tmp_path / "darknet53.conv.74"
    darknet.write_bytes(bytes(12) + bytes(8) + bytes(4 * 10))  # header v0.0 + ten float zeros
    with pytest.raises(
        OfficialCheckpointError, match="darknet53.conv.74: not a torch checkpoint file \\(Darknet binary"
    ):
        build_gghl_official_checkpoint(darknet)
    plain = tmp_path / "plain.pt"
    torch.save({"a.weight": torch.zeros(2)}, plain)
    with pytest.raises(OfficialCheckpointError, match="missing the official class conv"):
        build_gghl_official_checkpoint(plain)


@pytest.mark.slow
def test_convert_then_eval_and_export_end_to_end(tmp_path: Path) -> None:
    """Acceptance of issue 14: official training checkpoint -> gghl-convert -> eval (DOTA folder) -> export."""
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_dota

    state = official_weights(fixture_meta()["keys"])
    for k in state:  # small box regressions: the fixture's rule gives exp(30)-pixel boxes at 256 px
        if "_Neck__loc" in k and ".1." in k:
            state[k] = state[k] * (0.02 if k.endswith("weight") else 0.0)
    src = tmp_path / "last.pt"
    torch.save(official_training_checkpoint(state), src)
    base = write_synthetic_dota(
        SyntheticOrientedDataset(length=2, img_size=256, num_classes=5, seed=7), tmp_path / "dota", "val"
    )
    for txt in (base / "labelTxt").glob("*.txt"):  # synthetic names -> DOTA v1.0 names
        txt.write_text(
            txt.read_text().replace(" vehicle ", " small-vehicle ").replace(" court ", " tennis-court ")
        )
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR",)}
    dst = tmp_path / "gghl_dota.ckpt"

    def run(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, timeout=1800, cwd=tmp_path, env=env
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    run(str(ROOT / "scripts/convert_checkpoint.py"), f"src={src}", "format=gghl_official", f"dst={dst}")
    out = run(
        str(ROOT / "scripts/eval.py"),
        f"ckpt_path={dst}",
        "data=dota",
        f"data.root={tmp_path / 'dota'}",
        "split=val",
        "input_size=256",
        "patch_size=256",
        "device=cpu",
    )
    assert "mAP50=" in out and "images=2" in out
    print("\n".join(ln for ln in out.splitlines() if ln.startswith(("mAP50=", "images="))))  # shown with -s
    out = run(
        str(ROOT / "scripts/export.py"),
        f"ckpt_path={dst}",
        "format=onnx",
        "img_size=256",
        f"output={tmp_path / 'm.onnx'}",
    )
    assert "kept_same=True" in out
    print("\n".join(ln for ln in out.splitlines() if "parity" in ln or "kept_same" in ln))


@pytest.mark.parametrize(
    "numpy_module", [b"numpy._core.multiarray", b"numpy.core.multiarray"], ids=["numpy2", "numpy1"]
)
def test_numpy_scalars_of_official_checkpoints_load_weights_only(tmp_path: Path, numpy_module: bytes) -> None:
    """The official script stores best_mAP as a NumPy scalar; files written under NumPy 1 name its module
    ``numpy.core.multiarray`` (rewritten here in the pickle of a file saved under NumPy 2)."""
    import zipfile

    import numpy as np

    from gghl.models.convert import load_official_file

    src = tmp_path / "np.pt"
    torch.save({"best_mAP": np.float64(0.5), "model": {"a": torch.zeros(2)}}, src)
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    pkl = next(n for n in files if n.endswith("data.pkl"))
    files[pkl] = files[pkl].replace(b"numpy._core.multiarray", numpy_module)
    out = tmp_path / "np_named.pt"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for n, data in files.items():
            z.writestr(n, data)
    assert float(load_official_file(out)["best_mAP"]) == 0.5
