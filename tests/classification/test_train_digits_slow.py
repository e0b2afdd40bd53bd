"""End-to-end: `python scripts/train.py experiment=classify_digits` beats 0.97 test accuracy."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.mark.slow
def test_classify_digits_cli(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "scripts/train.py",
            "experiment=classify_digits",
            f"paths.log_dir={tmp_path}",
            "callbacks.progress_bar.refresh_rate=0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    acc = float(re.search(r"^test/acc=([0-9.]+)$", out.stdout, re.M).group(1))
    assert acc > 0.97
