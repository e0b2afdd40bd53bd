"""Image classification LightningModule with configurable target assignment.

``assign`` decides what each prediction learns from (batch format: :mod:`gghl.data.classification.datasets`):

- ``hard``: one-hot of ``batch["label"]`` (majority vote for multi-annotator data).
- ``smooth``: one-hot smoothed by ``label_smoothing``.
- ``soft``: ``batch["target"]``, the aggregated annotator distribution (aggregation is chosen by the
  datamodule, see :mod:`gghl.data.classification.soft_labels`).
- ``distill``: a frozen teacher's tempered softmax mixed with the ground-truth target
  (``distill.teacher_ckpt``, ``distill.temperature``, ``distill.alpha``, ``distill.base`` = target kind
  of the ground-truth term).

Every option ends in :func:`gghl.losses.soft_targets.soft_cross_entropy`. Optional extras: mixup/cutmix
(timm ``Mixup``, applied to images and to the target distribution alike), class-balanced weights
(``class_balance_beta``), logit adjustment (``logit_adjust_tau``), EMA weights for evaluation.
Logged: ``train/loss``, ``{val,test}/{loss,acc,acc_top5,ece,nll,brier,balanced_acc}``, ``val/acc_best``,
``test/acc_class/<name>``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric

from gghl.evaluation.classification_metrics import ClassificationMetrics
from gghl.losses.distill import distillation_loss
from gghl.losses.soft_targets import (
    class_balanced_weights,
    log_prior,
    logit_adjustment,
    smooth_one_hot,
    soft_cross_entropy,
)
from gghl.models.classifier import build_classifier
from gghl.tasks.eval_precision import outside_autocast
from gghl.tasks.faults import report_oom

ASSIGN_MODES = ("hard", "smooth", "soft", "distill")


class ClassificationTask(L.LightningModule):
    """See module docstring.

    Args:
        num_classes: C.
        net: the classifier ``[B, 3, H, W] -> [B, C]`` (configs: a nested ``_target_`` of
            :func:`gghl.models.classifier.build_classifier`); None builds the default ``small_cnn``.
        optimizer: ``params -> Optimizer`` (Hydra ``_partial_``); default AdamW(lr=1e-3, wd=0.05).
        scheduler: ``optimizer -> LRScheduler`` (``_partial_``), stepped per epoch; None for constant LR.
        assign: one of ``hard | smooth | soft | distill``.
        label_smoothing: epsilon for ``assign=smooth`` (and for the ground-truth term of distill when
            ``distill.base=smooth``).
        distill: ``{teacher_ckpt: path, temperature: 4.0, alpha: 0.5, base: hard|smooth|soft}``.
        class_balance_beta: if set, effective-number class weights from the training class counts.
        logit_adjust_tau: if > 0, the training loss sees ``logits + tau * log(prior)``.
        class_counts: training class counts ``[C]``; default: ``trainer.datamodule.class_counts``.
        mixup: timm ``Mixup`` kwargs (``mixup_alpha``, ``cutmix_alpha``, ``prob``, ``switch_prob``), or None.
        ema_decay: if set, keep an EMA of the weights (timm ``ModelEmaV3``) and evaluate with it.
        class_names: names for per-class metrics (default: ids).
        ece_bins: bins of the expected calibration error.
    """

    def __init__(
        self,
        num_classes: int,
        net: nn.Module | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        assign: str = "hard",
        label_smoothing: float = 0.1,
        distill: Mapping[str, Any] | None = None,
        class_balance_beta: float | None = None,
        logit_adjust_tau: float = 0.0,
        class_counts: Sequence[int] | None = None,
        mixup: Mapping[str, Any] | None = None,
        ema_decay: float | None = None,
        class_names: Sequence[str] | None = None,
        ece_bins: int = 15,
    ) -> None:
        super().__init__()
        if assign not in ASSIGN_MODES:
            raise ValueError(f"assign must be one of {ASSIGN_MODES}, got {assign!r}")
        # Plain containers only (not DictConfig/partials/modules) so checkpoints load with
        # torch.load(weights_only=True); the net and the optimizer/scheduler factories are attributes instead
        # of hyperparameters (a checkpoint's stored config rebuilds the net).
        distill, mixup = _plain(distill), _plain(mixup)
        class_names = list(class_names) if class_names is not None else None
        class_counts = [int(c) for c in class_counts] if class_counts is not None else None
        self.save_hyperparameters(logger=False, ignore=["net", "optimizer", "scheduler"])
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.net = net if net is not None else build_classifier("small_cnn", num_classes)
        self.num_classes = num_classes
        self.assign = assign
        self.class_names = [str(c) for c in (class_names or range(num_classes))]
        # Buffers so weights/priors travel with the module and the checkpoint.
        self.register_buffer("class_weight", torch.ones(num_classes))
        self.register_buffer("log_prior_c", torch.zeros(num_classes))
        self._counts_ready = False
        if class_counts is not None:
            self._set_class_counts(class_counts)
        self.distill_cfg = {"temperature": 4.0, "alpha": 0.5, "base": "hard", **dict(distill or {})}
        self._teacher: list[nn.Module] = []  # in a list: not a submodule, so not saved or optimised
        if assign == "distill":
            ckpt = self.distill_cfg.get("teacher_ckpt")
            if not ckpt:
                raise ValueError("assign=distill needs distill.teacher_ckpt")
            # Read at the first training step, not here: rebuilding a trained student (eval/export/predict)
            # needs only its own checkpoint, and the teacher file may be gone by then.
        self.mixup = None
        if mixup:
            from timm.data import Mixup

            # label_smoothing=0: smoothing is part of the target assignment here, not of mixup.
            self.mixup = Mixup(
                **{**dict(mixup), "label_smoothing": 0.0, "num_classes": num_classes, "mode": "batch"}
            )
        self.ema = None
        if ema_decay:
            from timm.utils import ModelEmaV3

            self.ema = ModelEmaV3(self.net, decay=ema_decay)
            # updated by lerp, never by the optimizer: without this, DDP sees parameters that get no gradient
            self.ema.requires_grad_(False)
        self.val_metrics = ClassificationMetrics(num_classes, ece_bins)
        self.test_metrics = ClassificationMetrics(num_classes, ece_bins)
        self.val_acc_best = MaxMetric()

    # -- setup ----------------------------------------------------------------------------------
    def _set_class_counts(self, counts: Sequence[int]) -> None:
        counts_t = torch.as_tensor(list(counts), dtype=torch.float64)
        if len(counts_t) != self.num_classes:
            raise ValueError(f"class_counts has {len(counts_t)} entries, expected {self.num_classes}")
        if self.hparams.class_balance_beta is not None:
            self.class_weight.copy_(class_balanced_weights(counts_t, self.hparams.class_balance_beta))
        self.log_prior_c.copy_(log_prior(counts_t.clamp(min=1)))
        self._counts_ready = True

    def setup(self, stage: str) -> None:
        needs = self.hparams.class_balance_beta is not None or self.hparams.logit_adjust_tau > 0
        if needs and not self._counts_ready and stage == "fit":
            dm = getattr(self.trainer, "datamodule", None)
            if dm is None or not hasattr(dm, "class_counts"):
                raise ValueError(
                    "class_balance_beta/logit_adjust_tau need class_counts or a datamodule with them"
                )
            self._set_class_counts(dm.class_counts.tolist())

    # -- forward --------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, C]`` of the trained net for images ``[B, 3, H, W]``."""
        return self.net(x)

    def eval_net(self) -> nn.Module:
        """The EMA net when EMA is on, else the trained net."""
        return self.ema.module if self.ema is not None else self.net

    def targets(self, batch: Mapping[str, Tensor], kind: str) -> Tensor:
        """Target distribution ``[B, C]`` for ``kind`` in ``hard | smooth | soft``."""
        if kind == "soft":
            return batch["target"].float()
        eps = self.hparams.label_smoothing if kind == "smooth" else 0.0
        return smooth_one_hot(batch["label"], self.num_classes, eps)

    def backward(self, loss: Tensor, *args: Any, **kwargs: Any) -> None:
        with report_oom("backward", *getattr(self, "_last_batch", (None, None))):
            super().backward(loss, *args, **kwargs)

    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor:
        x = batch["image"]
        base = self.distill_cfg["base"] if self.assign == "distill" else self.assign
        q = self.targets(batch, base)
        if self.mixup is not None and x.shape[0] > 1:
            x = x.clone()
            # timm's batch-mode mixing: mixes x in place with x.flip(0) and returns lambda; the target
            # distribution gets the same convex combination (works for soft targets too).
            lam = self.mixup._mix_batch(x)
            q = lam * q + (1.0 - lam) * q.flip(0)
        self._last_batch = (tuple(x.shape), x.dtype)
        with report_oom("training_step (forward)", *self._last_batch):
            logits = self.net(x)
        train_logits = logits
        if self.hparams.logit_adjust_tau > 0:
            train_logits = logit_adjustment(logits, self.log_prior_c, self.hparams.logit_adjust_tau)
        weight = self.class_weight if self.hparams.class_balance_beta is not None else None
        if self.assign == "distill":
            if not self._teacher:
                self._teacher.append(load_eval_net(self.distill_cfg["teacher_ckpt"]))
            teacher = self._teacher[0].to(x.device)
            with torch.no_grad():
                t_logits = teacher(x)
            loss = distillation_loss(
                train_logits, t_logits, q, self.distill_cfg["temperature"], self.distill_cfg["alpha"], weight
            )
        else:
            loss = soft_cross_entropy(train_logits, q, weight=weight)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=x.shape[0])
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update(self.net, step=self.global_step)

    # -- evaluation -----------------------------------------------------------------------------
    def _eval_step(self, batch: Mapping[str, Tensor], stage: str) -> None:
        with outside_autocast(batch["image"].device):
            logits = self.eval_net()(batch["image"])
        loss = F.cross_entropy(logits.float(), batch["label"])
        self.log(
            f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=logits.shape[0], sync_dist=True
        )
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics.update(logits.float().softmax(1), batch["label"])

    def _eval_epoch_end(self, stage: str) -> dict[str, Tensor]:
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        out = metrics.compute()
        metrics.reset()
        per_class = out.pop("per_class_acc")
        for k, v in out.items():
            self.log(f"{stage}/{k}", v, prog_bar=k == "acc")
        if stage == "test":
            for name, v in zip(self.class_names, per_class):
                if not torch.isnan(v):
                    self.log(f"test/acc_class/{name}", v)
        return out

    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        out = self._eval_epoch_end("val")
        if not self.trainer.sanity_checking:
            self.val_acc_best(out["acc"])
            self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def test_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def predict_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """``{"probs": [B, C], "index": [B]}``."""
        probs = self.eval_net()(batch["image"]).float().softmax(1)
        return {"probs": probs, "index": batch["index"]}

    def configure_optimizers(self) -> Any:
        params = [p for p in self.net.parameters() if p.requires_grad]
        opt_fn = self.optimizer_factory
        optimizer = (
            opt_fn(params) if opt_fn is not None else torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
        )
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer), "interval": "epoch"},
        }


def _plain(cfg: Any) -> Any:
    """DictConfig/ListConfig -> dict/list (resolved); other values unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return cfg
    if isinstance(cfg, (DictConfig, ListConfig)):
        return OmegaConf.to_container(cfg, resolve=True)
    if isinstance(cfg, Mapping):
        return {k: _plain(v) for k, v in cfg.items()}
    return cfg


def load_eval_net(ckpt_path: str) -> nn.Module:
    """Frozen eval-mode net (EMA weights when the run kept them) from a ClassificationTask checkpoint."""
    from gghl.tasks.restore import restore_task  # the one loader: allow-list, kind, weights checks

    task = restore_task(ckpt_path, expected_kind="classifier").task
    net = copy.deepcopy(task.eval_net()).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
