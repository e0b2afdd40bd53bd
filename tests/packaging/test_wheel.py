"""A built wheel works without the source tree: the Hydra configs are package data.

The sdist is built from a copy of the sources (no ``build/`` left in the checkout, no stale files from an
earlier build) and the wheel from the sdist (what ``python -m build`` does), so both must carry the yaml
files. The wheel is installed with ``pip install --target`` into a temporary folder and run with only that
folder on ``PYTHONPATH``, from empty working folders: ``gghl-train --help``, a tiny one-epoch training (the user's
own experiment file passed with ``--config-dir``, on top of the packaged configs) and ``gghl-eval`` on its
checkpoint. The venv's editable install of gghl is found after ``PYTHONPATH``; a check makes sure the
installed copy is the one that runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A tiny GGHL on a few synthetic images, one epoch, no logger: what a user's own experiment file looks like.
TINY_EXPERIMENT = """\
# @package _global_
defaults:
  - override /data: synthetic
  - override /model: gghl
  - override /trainer: cpu
  - override /logger: none

task_name: tiny
test: false
data: {train_size: 4, val_size: 2, test_size: 2, img_size: 64, batch_size: 2, num_workers: 0}
model:
  net: {backbone: resnet10t, neck_widths: [16, 32, 64], neck_convs: 1, spp: false}
trainer: {max_epochs: 1, check_val_every_n_epoch: 1, precision: 32-true}
callbacks:
  progress_bar: {refresh_rate: 0}
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """``(site, env)``: the wheel installed into ``site`` and an environment that sees only it."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "gghl", src / "gghl", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    )
    clean_env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR", "GGHL_DEBUG")
    }
    dist = tmp / "dist"
    # No build isolation: the build backend (setuptools, a dev dependency) is taken from this environment,
    # so the test needs no network.
    build_sdist = f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"
    _run([sys.executable, "-c", build_sdist], src, clean_env)
    (sdist,) = dist.glob("gghl-*.tar.gz")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", str(sdist), "--no-deps", "--no-build-isolation", "-w", str(dist)], tmp, clean_env)
    (wheel,) = dist.glob("gghl-*.whl")

    in_tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "gghl" / "configs").rglob("*.yaml")}
    with tarfile.open(sdist) as tar:  # members are gghl-<version>/gghl/configs/...
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if n.endswith(".yaml") and "/gghl/" in n}
    assert in_sdist == in_tree, f"not in the sdist: {sorted(in_tree - in_sdist)}"
    in_wheel = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".yaml")}
    assert in_wheel == in_tree, f"not in the wheel: {sorted(in_tree - in_wheel)}"

    site = tmp / "site"
    _run([*pip, "install", "--no-deps", "--no-compile", "--target", str(site), str(wheel)], tmp, clean_env)
    env = {**clean_env, "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    where = _run(
        [
            sys.executable,
            "-c",
            "import gghl, gghl.configs; print(gghl.__file__); print(gghl.configs.CONFIG_DIR)",
        ],
        tmp,
        env,
    ).stdout.split()
    assert all(Path(p).is_relative_to(site) for p in where), where  # the installed copy, not the checkout
    return site, env


def test_built_wheel_trains_and_evaluates_from_an_empty_folder(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    site, env = installed
    bin_dir = site / "bin"

    help_dir = tmp_path / "help"
    help_dir.mkdir()
    shown = _run([str(bin_dir / "gghl-train"), "--help"], help_dir, env, timeout=60).stdout
    assert "keys (gghl/configs/train.yaml" in shown and "experiment: " in shown and "gghl_synthetic" in shown

    user_configs = tmp_path / "my_configs"
    (user_configs / "experiment").mkdir(parents=True)
    (user_configs / "experiment" / "tiny.yaml").write_text(TINY_EXPERIMENT)
    train_dir = tmp_path / "train"
    train_dir.mkdir()
    trained = _run(
        [str(bin_dir / "gghl-train"), "--config-dir", str(user_configs), "experiment=tiny"], train_dir, env
    )
    ckpts = sorted(train_dir.glob("logs/tiny/runs/*/checkpoints/epoch_*.ckpt"))
    assert ckpts, f"no checkpoint under {train_dir}:\n{trained.stdout[-2000:]}"

    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    evaluated = _run([str(bin_dir / "gghl-eval"), f"ckpt_path={ckpts[0]}"], eval_dir, env)
    assert "mAP50=" in evaluated.stdout, evaluated.stdout[-2000:]
    assert list(eval_dir.glob("logs/eval/runs/*/eval_result.json"))
