"""Resume (`ckpt_path=last`): a run interrupted after epoch k and resumed ends exactly like an
uninterrupted one (weights, optimizer state, EMA, metrics), with multi-scale batches, augmentation,
a data-loader worker and the cosine schedule all in play."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gghl.checkpoint import read_checkpoint
from gghl.cli.train import resolve_ckpt_path, run
from gghl.tasks.gghl_detection import GGHLDetectionTask

from ._train_helpers import compose_train

EPOCHS = 3
RUN = [
    "data.train_size=6",
    "data.val_size=2",
    "data.test_size=0",
    "data.num_workers=1",
    "data.multiscale_sizes=[64,96]",
    "data.multiscale_every=1",
    "model.ema_decay=0.9",
    f"trainer.max_epochs={EPOCHS}",
    "test=false",
]


class _Interrupt(RuntimeError):
    pass


def _tensors(tree: object, prefix: str = "") -> dict[str, torch.Tensor]:
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if isinstance(tree, dict):
        return {k2: v2 for k, v in tree.items() for k2, v2 in _tensors(v, f"{prefix}/{k}").items()}
    if isinstance(tree, (list, tuple)):
        return {k2: v2 for i, v in enumerate(tree) for k2, v2 in _tensors(v, f"{prefix}/{i}").items()}
    return {}


def test_resume_from_last_equals_uninterrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref_dir, cut_dir = tmp_path / "reference", tmp_path / "interrupted"
    ref_metrics = run(compose_train(ref_dir, *RUN))

    def crash_in_second_epoch(self: GGHLDetectionTask) -> None:
        if self.current_epoch == 1:  # last.ckpt of epoch 0 is on disk
            raise _Interrupt("simulated crash")

    with monkeypatch.context() as m:
        m.setattr(GGHLDetectionTask, "on_train_epoch_start", crash_in_second_epoch, raising=False)
        with pytest.raises(_Interrupt):
            run(compose_train(cut_dir, *RUN))
    first = read_checkpoint(cut_dir / "checkpoints" / "last.ckpt")
    assert first["epoch"] == 0
    resumed_metrics = run(compose_train(cut_dir, *RUN, "ckpt_path=last"))

    ref = read_checkpoint(ref_dir / "checkpoints" / "last.ckpt")
    res = read_checkpoint(cut_dir / "checkpoints" / "last.ckpt")
    assert (
        (res["epoch"], res["global_step"]) == (ref["epoch"], ref["global_step"]) == (EPOCHS - 1, 3 * EPOCHS)
    )
    ref_t = _tensors({k: ref[k] for k in ("state_dict", "optimizer_states", "lr_schedulers")})
    res_t = _tensors({k: res[k] for k in ("state_dict", "optimizer_states", "lr_schedulers")})
    assert ref_t.keys() == res_t.keys()
    assert any(k.startswith("/state_dict/ema.") for k in ref_t)  # the EMA weights are part of the state
    differ = [k for k in ref_t if not torch.equal(ref_t[k], res_t[k])]
    assert not differ, f"{len(differ)} tensors differ after resume, e.g. {differ[:3]}"
    assert res["lr_schedulers"][0]["last_epoch"] == ref["lr_schedulers"][0]["last_epoch"]
    for key in ("val/mAP50", "train/loss_total"):
        assert resumed_metrics[key] == ref_metrics[key], key
    print(
        f"resume: {len(ref_t)} tensors equal, val/mAP50 {ref_metrics['val/mAP50']:.6f} both runs, "
        f"train/loss_total {ref_metrics['train/loss_total']:.6f}"
    )


def test_ckpt_last_resolves_in_the_given_run_dir(tmp_path: Path) -> None:
    ckpts = tmp_path / "runs" / "2024-01-01_00-00-00" / "checkpoints"
    ckpts.mkdir(parents=True)
    (ckpts / "last.ckpt").write_bytes(b"x")
    assert resolve_ckpt_path("last", ckpts) == str(ckpts / "last.ckpt")
    fresh = tmp_path / "runs" / "2024-01-02_00-00-00" / "checkpoints"
    with pytest.raises(FileNotFoundError, match=r"hydra.run.dir=.*2024-01-01_00-00-00"):
        resolve_ckpt_path("last", fresh)
    with pytest.raises(FileNotFoundError, match="ckpt_path does not exist"):
        resolve_ckpt_path(str(tmp_path / "nope.ckpt"), fresh)
    assert resolve_ckpt_path(None, fresh) is None
