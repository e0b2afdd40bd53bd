"""The audit and benchmark scripts run end to end (small settings)."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.mark.slow
def test_audit_labels_smoke(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "scripts/audit_labels.py",
            "experiment=classify_digits_noisy",
            "folds=2",
            "top=8",
            "data.subset=300",
            "trainer.max_epochs=2",
            f"out_dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "label audit" in out.stdout
    rows = list(csv.DictReader(open(tmp_path / "label_issues.csv")))
    assert rows and {"given_label", "suggested_label", "quality_score", "flipped"} <= set(rows[0])
    scores = [float(r["quality_score"]) for r in rows]
    assert scores == sorted(scores)
    z = np.load(tmp_path / "oof.npz")
    assert z["pred_probs"].shape == (len(z["labels"]), 10) and (tmp_path / "suspects.png").stat().st_size > 0


@pytest.mark.slow
def test_bench_label_quality_beats_cleanlab():
    pytest.importorskip("cleanlab")
    out = subprocess.run(
        [sys.executable, "scripts/bench_label_quality.py", "--digits", "--seeds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
