"""ClassificationTask: every target-assignment mode trains on a digits subset; checkpoints reload."""

import functools

import lightning as L
import pytest
import torch

from gghl.data.classification import DigitsDataModule
from gghl.models.classifier import build_classifier
from gghl.tasks.classification import ClassificationTask, load_eval_net


def _dm(**kw):
    return DigitsDataModule(image_size=16, subset=300, batch_size=32, **kw)


def _trainer(tmp_path=None, epochs=1, **kw):
    return L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=tmp_path is not None,
        default_root_dir=tmp_path,
        num_sanity_val_steps=0,
        **kw,
    )


def _task(**kw):
    kw.setdefault("net", build_classifier("small_cnn", 10, width=8))
    return ClassificationTask(10, optimizer=functools.partial(torch.optim.AdamW, lr=3e-3), **kw)


@pytest.mark.parametrize(
    "kw, data_kw",
    [
        ({"assign": "hard"}, {}),
        ({"assign": "smooth", "mixup": {"mixup_alpha": 0.2, "cutmix_alpha": 1.0}}, {}),
        ({"assign": "soft", "ema_decay": 0.9}, {"annotators": [0.9, 0.5, 0.3], "aggregation": "dawid_skene"}),
        ({"assign": "hard", "class_balance_beta": 0.99, "logit_adjust_tau": 1.0}, {}),
    ],
)
def test_modes_train_and_log(kw, data_kw):
    L.seed_everything(0)
    task, dm = _task(**kw), _dm(**data_kw)
    tr = _trainer(epochs=2, limit_train_batches=3, limit_val_batches=1)
    tr.fit(task, dm)
    assert {"val/acc_best", "val/ece", "train/loss"} <= set(tr.callback_metrics)
    out = tr.test(task, dm, verbose=False)[0]
    assert {"test/acc", "test/ece", "test/acc_top5", "test/acc_class/0", "test/nll"} <= set(out)
    if "class_balance_beta" in kw:
        assert task.class_weight.std() > 0 and task.log_prior_c.max() < 0


def test_soft_assignment_uses_batch_target():
    task = _task(assign="soft")
    batch = {"label": torch.tensor([0, 1]), "target": torch.tensor([[0.5, 0.5] + [0.0] * 8] * 2)}
    torch.testing.assert_close(task.targets(batch, "soft"), batch["target"])
    assert task.targets(batch, "hard")[0, 0] == 1.0
    torch.testing.assert_close(task.targets(batch, "smooth")[0, 0], torch.tensor(0.9 + 0.01))


def test_checkpoint_weights_only_and_distill(tmp_path):
    from omegaconf import OmegaConf

    L.seed_everything(0)
    dm = _dm(
        annotators=OmegaConf.create([0.9, 0.6])
    )  # Hydra passes ListConfig; must not reach the checkpoint
    teacher = _task(  # the default net: a plain Lightning checkpoint rebuilds from its hyperparameters
        net=None,
        assign="hard",
        scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1),
        class_names=[f"d{i}" for i in range(10)],
    )
    tr = _trainer(tmp_path, epochs=1, limit_train_batches=3)
    tr.fit(teacher, dm)
    ckpt = tr.checkpoint_callback.last_model_path or tr.checkpoint_callback.best_model_path
    sd = torch.load(ckpt, weights_only=True)  # plain hyperparameters only
    assert sd["hyper_parameters"]["class_names"][0] == "d0"
    assert sd["datamodule_hyper_parameters"]["annotators"] == [0.9, 0.6]
    net = load_eval_net(ckpt)
    assert not any(p.requires_grad for p in net.parameters())
    student = _task(assign="distill", distill={"teacher_ckpt": ckpt, "temperature": 2.0, "alpha": 0.7})
    assert "_teacher" not in dict(student.named_modules())
    assert not any(k.startswith("_teacher") for k in student.state_dict())
    tr2 = _trainer(epochs=1, limit_train_batches=3)
    tr2.fit(student, dm)
    assert torch.isfinite(tr2.callback_metrics["train/loss"])
    with pytest.raises(ValueError, match="teacher_ckpt"):
        _task(assign="distill")


def test_bad_assign():
    with pytest.raises(ValueError, match="assign"):
        _task(assign="fuzzy")
