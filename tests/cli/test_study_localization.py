"""``scripts/study_localization.py`` runs end to end on a checkpoint and prints both of its tables."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("tiny_checkpoints", REPO / "tests/export/tiny_checkpoints.py")
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


def test_study_localization_prints_the_threshold_grid_and_box_errors(tmp_path: Path) -> None:
    ckpt = tiny.make_checkpoint("gghl", tmp_path)
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/study_localization.py"),
            "--ckpt",
            str(ckpt),
            "--nms",
            "0.3,0.6",
            "--scores",
            "0.5",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("checkpoint post-processing: nms_thresh=") and "test images" in lines[0]
    grid = [ln for ln in lines if ln.strip().startswith("nms ")]
    assert [ln.split()[1] for ln in grid] == ["0.30", "0.60"] and all("mAP75" in ln for ln in grid)
    assert any(ln.startswith("class ") and "angle err" in ln for ln in lines)
