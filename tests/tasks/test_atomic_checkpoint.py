"""Checkpoints are written atomically: a training process SIGKILLed while it saves leaves a complete
last.ckpt (weights_only-loadable) and the run resumes from it; truncated files fail with a clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gghl.callbacks.atomic_checkpoint import SAVE_DELAY_ENV, AtomicCheckpointIO, atomic_torch_save
from gghl.checkpoint import NotACheckpointError, PickledCheckpointError, read_checkpoint
from gghl.cli.train import run

from ._train_helpers import TINY, compose_train

REPO = Path(__file__).resolve().parents[2]
RUN = [
    "data.train_size=4",
    "data.val_size=2",
    "data.test_size=0",
    "data.num_workers=0",
    "test=false",
    "trainer.precision=32-true",
]


def _wait_for(pred, timeout: float, proc: subprocess.Popen) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"training exited early ({proc.returncode}):\n{out[-3000:]}")
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the checkpoint save")
        time.sleep(0.01)


def test_sigkill_during_save_keeps_last_ckpt_and_resumes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ckpts = run_dir / "checkpoints"
    # Every save sleeps 1 s between writing the temporary file and the rename: a window to kill in.
    env = {**os.environ, SAVE_DELAY_ENV: "1.0", "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    cmd = [
        sys.executable,
        "-m",
        "gghl.cli.train",
        f"hydra.run.dir={run_dir}",
        *TINY,
        *RUN,
        "trainer.max_epochs=5",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait_for(lambda: (ckpts / "last.ckpt").is_file(), 120, proc)  # epoch 0 saved
        # The next save of last.ckpt (epoch 1) is in flight: its temporary file exists, the rename has not run.
        _wait_for(lambda: any(ckpts.glob(".last.ckpt.tmp-*")), 120, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert any(ckpts.glob(".last.ckpt.tmp-*"))  # killed mid-save: the partial file is the temporary one
    last = read_checkpoint(ckpts / "last.ckpt")  # weights_only load of a complete file
    assert last["epoch"] == 0 and last["global_step"] == 2
    print(f"killed during save; last.ckpt intact at epoch {last['epoch']} step {last['global_step']}")

    metrics = run(compose_train(run_dir, *RUN, "trainer.max_epochs=2", "ckpt_path=last"))
    resumed = read_checkpoint(ckpts / "last.ckpt")
    assert (resumed["epoch"], resumed["global_step"]) == (1, 4)
    assert torch.isfinite(torch.tensor(metrics["train/loss_total"]))
    assert not any(ckpts.glob(".last.ckpt.tmp-*"))  # the killed process's temporary was cleaned up
    print(f"resumed to epoch {resumed['epoch']} step {resumed['global_step']}")


def test_atomic_save_replaces_whole_file_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.ckpt"
    atomic_torch_save({"a": torch.arange(3)}, path)
    atomic_torch_save({"a": torch.arange(5)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.arange(5))
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.ckpt"]
    with pytest.raises(
        (TypeError, AttributeError)
    ):  # not serialisable: the old file stays, no temporary left behind
        atomic_torch_save({"a": lambda: 0}, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.ckpt"]
    assert torch.equal(AtomicCheckpointIO().load_checkpoint(path)["a"], torch.arange(5))


def test_truncated_or_pickled_checkpoint_gives_clear_error(tmp_path: Path) -> None:
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(1000)}}, good)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(good.read_bytes()[:500])
    with pytest.raises(NotACheckpointError, match=r"bad\.ckpt: not a checkpoint"):
        AtomicCheckpointIO().load_checkpoint(bad)
    pickled = tmp_path / "pickled.ckpt"
    torch.save({"obj": Path("x")}, pickled)  # a pickled class: refused unless allow_pickle
    with pytest.raises(PickledCheckpointError, match="allow_pickle=true"):
        AtomicCheckpointIO().load_checkpoint(pickled)
    assert AtomicCheckpointIO(allow_pickle=True).load_checkpoint(pickled)["obj"] == Path("x")
