"""LightningModule for GGHL: model + label assignment (Gaussian OLA by default, or rotated ATSS / TAL / SimOTA) +
JOL loss + DOTA metric + SGD/cosine recipe."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from gghl.assigners.dense import build_dense_assigner
from gghl.evaluation.detection_metrics import DOTAMetric
from gghl.losses import JOLLoss
from gghl.models.coords import apply_affine_to_points, invert_affine
from gghl.models.gghl_detector import GGHLDetector
from gghl.models.gghl_postprocess import GGHLPostProcess
from gghl.structures.gghl_decode import decode_gghl_level
from gghl.tasks.eval_precision import outside_autocast
from gghl.tasks.faults import report_oom
from gghl.tasks.optim import split_decay_params, warmup_cosine_factor


def original_ground_truth(target: dict) -> dict[str, Any]:
    """A loader target's ground truth in original image pixels (float64 polygons), as the DOTA metric takes it:
    ``{"image_id", "polygons" [N, 8], "labels", "difficult"}``."""
    return {
        "image_id": target["image_id"],
        "polygons": apply_affine_to_points(
            target["polygons"].to(torch.float64), invert_affine(target["affine"])
        ),
        "labels": target["labels"],
        "difficult": target["difficult"],
    }


class NonFiniteLossError(RuntimeError):
    """Raised after too many consecutive training steps with a non-finite loss."""


class GGHLDetectionTask(L.LightningModule):
    """Train and evaluate a GGHL oriented detector.

    Args:
        net: a ``GGHLDetector`` (``raw = net(images)``).
        num_classes: C.
        class_names: names for the metric tables (defaults to ``class_0..``).
        assigner_variant: variant of the Gaussian assigner: ``"gghl_obb"`` (official default), ``"gghl_alg1"``
            (paper Algorithm 1) or ``"gghl_fixed"``.
        empty_image_background: images without objects train their background (objectness -> 0) instead of
            adding nothing to the loss as in the official loader (``GaussianAssigner(empty_background=...)``).
        loss_kwargs: extra ``JOLLoss`` options (``iou_type``, ``detach_w_dyn``).
        postprocess: inference post-processing (thresholds, NMS).
        lr, momentum, weight_decay, nesterov: SGD (docs/gghl.md#training-recipe: 2e-4, 0.9, 5e-4, Nesterov).
        warmup_epochs, final_lr_ratio: linear warm-up then per-iteration cosine to ``lr * final_lr_ratio``.
        optimizer: ``"sgd"`` (paper) or ``"adamw"`` (faster from scratch on small CPU runs).
        max_bad_steps: consecutive non-finite losses tolerated (each skipped and counted) before stopping.
        eval_iou_thr, use_07_metric, difficult: DOTA protocol of the validation metric.
        channels_last: run the network in channels-last memory format (faster convolutions with oneDNN on
            CPU, especially with ``trainer.precision=bf16-mixed``, and with cuDNN under AMP).
        ema_decay: if set, keep an exponential moving average of the weights (timm ``ModelEmaV3``, with its
            warm-up) and validate/predict with it (the recipe's optional EMA).
        assigner: ``"gaussian"`` (GGHL OLA, default), ``"atss"`` (rotated ATSS), ``"tal"`` (task-aligned, as
            YOLOv8/11) or ``"simota"`` (YOLOX); all write JOL's target layout (``gghl.assigners.dense``). ``tal``
            and ``simota`` get the batch's detached predictions, decoded like the loss decodes them.
        assigner_options: keyword options of a non-Gaussian assigner (e.g. ``{"topk": 10}``).
    """

    def __init__(
        self,
        net: GGHLDetector,
        num_classes: int,
        class_names: list[str] | None = None,
        assigner_variant: str = "gghl_obb",
        loss_kwargs: dict[str, Any] | None = None,
        postprocess: GGHLPostProcess | None = None,
        optimizer: str = "sgd",
        lr: float = 2e-4,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        nesterov: bool = True,
        warmup_epochs: float = 5.0,
        final_lr_ratio: float = 0.005,
        max_bad_steps: int = 20,
        eval_iou_thr: float = 0.5,
        use_07_metric: bool = True,
        difficult: str = "ignore",
        channels_last: bool = False,
        ema_decay: float | None = None,
        empty_image_background: bool = True,
        assigner: str = "gaussian",
        assigner_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "postprocess"])
        self.net = net
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else [f"class_{i}" for i in range(num_classes)]
        strides = tuple(net.strides)
        self.assigner = build_dense_assigner(
            assigner,
            num_classes,
            strides,
            variant=assigner_variant,
            empty_background=empty_image_background,
            options=dict(assigner_options or {}),
        )
        # The task checks the total itself (one sync) and skips non-finite steps; the loss need not check too.
        self.criterion = JOLLoss(
            num_classes, strides=strides, **{"nonfinite": "ignore", **(loss_kwargs or {})}
        )
        self.postprocess = postprocess or GGHLPostProcess(strides=strides)
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.ema = None
        if ema_decay:
            from timm.utils import ModelEmaV3

            self.ema = ModelEmaV3(self.net, decay=ema_decay, use_warmup=True)
            # updated by lerp, never by the optimizer: without this, DDP sees parameters that get no gradient
            self.ema.requires_grad_(False)
        self.bad_steps = 0
        self.skipped_steps = 0
        self._last_batch: tuple[tuple[int, ...], torch.dtype] | None = None  # for out-of-memory messages
        # One metric per stage: the images of an epoch, gathered over ranks in ``compute``.
        self.val_metric = DOTAMetric(self.class_names, eval_iou_thr, use_07_metric, difficult)
        self.test_metric = DOTAMetric(self.class_names, eval_iou_thr, use_07_metric, difficult)

    # ----------------------------------------------------------------- training
    def forward(self, images: Tensor) -> list[Tensor]:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)

    def eval_net(self) -> nn.Module:
        """The EMA weights when EMA is on, else the trained network."""
        return self.ema.module if self.ema is not None else self.net

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.ema is not None:
            self.ema.update(self.net, step=self.global_step)

    def training_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> Tensor | None:
        images, targets = batch
        self._last_batch = (tuple(images.shape), images.dtype)
        with report_oom("training_step (forward + loss)", *self._last_batch):
            raw = self(images)
            with torch.no_grad():
                maps = self._assign(raw, targets, images.shape[-1])
            losses = self.criterion([r.float() for r in raw], maps)
        loss = losses["loss"]
        if not torch.isfinite(loss):
            return self._skip_non_finite(losses, targets)
        self.bad_steps = 0
        bs = images.shape[0]
        self.log_dict({f"train/{k}": v.detach() for k, v in losses.items()}, batch_size=bs, prog_bar=False)
        self.log("train/loss_total", loss.detach(), batch_size=bs, prog_bar=True)
        self._log_assignment(maps, targets, bs)
        return loss

    def _assign(self, raw: list[Tensor], targets: list[dict], img_size: int) -> list[Tensor]:
        """Target maps of the batch; dynamic assigners see the detached predictions (fp32 decode)."""
        if not self.assigner.needs_predictions:
            return self.assigner.assign(targets, img_size=img_size)
        decoded = [decode_gghl_level(r.detach().float(), s) for r, s in zip(raw, self.net.strides)]
        return self.assigner.assign(targets, img_size=img_size, predictions=decoded)

    def _log_assignment(self, maps: list[Tensor], targets: list[dict], bs: int) -> None:
        """Assignment statistics from the label maps ``[B,G,G,16+C]`` (channel 13 = positive cell).

        ``train/positives_s{stride}``: positive cells per image; ``train/pos_per_obj_l{level}``: positive
        cells of that level per ground-truth object of the batch (how many cells supervise an object;
        a level near 0 for all objects means the scale ranges miss the data).
        """
        n_obj = max(sum(int(t["labels"].numel()) for t in targets), 1)
        with torch.no_grad():
            for level, (s, m) in enumerate(zip(self.net.strides, maps)):
                pos = (m[..., 13] > 0).sum(dtype=torch.float32)
                self.log(f"train/positives_s{s}", pos / bs, batch_size=bs)
                self.log(f"train/pos_per_obj_l{level}", pos / n_obj, batch_size=bs)
        self.log("train/objects_per_img", n_obj / bs, batch_size=bs)

    def backward(self, loss: Tensor, *args: Any, **kwargs: Any) -> None:
        # Most out-of-memory errors happen here (activations of the whole batch are alive).
        with report_oom("backward", *(self._last_batch or (None, None))):
            super().backward(loss, *args, **kwargs)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Counters of skipped steps survive a resume (plain ints: weights_only-loadable).
        checkpoint["gghl_fault_counters"] = {"bad_steps": self.bad_steps, "skipped_steps": self.skipped_steps}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        counters = checkpoint.get("gghl_fault_counters", {})
        self.bad_steps = int(counters.get("bad_steps", 0))
        self.skipped_steps = int(counters.get("skipped_steps", 0))

    def _skip_non_finite(self, losses: dict[str, Tensor], targets: list[dict]) -> None:
        self.bad_steps += 1
        self.skipped_steps += 1
        bad = {k: float(v) for k, v in losses.items() if not torch.isfinite(v)}
        ids = [t.get("image_id") for t in targets]
        self.print(
            f"[gghl] non-finite loss at step {self.global_step} (images {ids}): {bad}; step skipped "
            f"({self.bad_steps} in a row, {self.skipped_steps} in total)"
        )
        self.log("train/skipped_steps", float(self.skipped_steps))
        if self.bad_steps >= self.hparams.max_bad_steps:
            raise NonFiniteLossError(
                f"{self.bad_steps} consecutive non-finite losses (last: {bad}); lower the learning rate, enable "
                "gradient clipping (trainer.gradient_clip_val) or check the labels of the images named above"
            )
        return None

    # ----------------------------------------------------------------- evaluation
    def predict_batch(
        self, images: Tensor, targets: list[dict] | None = None, net: nn.Module | None = None
    ) -> list[dict[str, Tensor]]:
        """Detections in original image pixels (when ``targets`` carry ``affine``), else in input pixels.

        ``net``: another module computing the same raw outputs (e.g. the conv + BN folded copy of
        ``gghl.export.fuse``); default ``eval_net()``.
        """
        affines = None if targets is None else [t["affine"] for t in targets]
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.postprocess((net or self.eval_net())(images), affines)

    def validation_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> None:
        self._eval_step(batch, self.val_metric)

    def test_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> None:
        self._eval_step(batch, self.test_metric)

    def _eval_step(self, batch: tuple[Tensor, list[dict]], metric: DOTAMetric) -> None:
        """Detections and ground truth of the batch, both in original image pixels, into ``metric``."""
        images, targets = batch
        with outside_autocast(images.device):
            preds = self.predict_batch(images, targets)
        metric.update(preds, [original_ground_truth(t) for t in targets])

    def on_validation_epoch_start(self) -> None:
        self.val_metric.reset()

    def on_test_epoch_start(self) -> None:
        self.test_metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_dota("val", self.val_metric)

    def on_test_epoch_end(self) -> None:
        self._log_dota("test", self.test_metric)

    def _log_dota(self, stage: str, metric: DOTAMetric) -> None:
        """DOTA mAP of the epoch over all ranks (the metric gathers and de-duplicates the images)."""
        result = metric.compute()
        metric.reset()
        self.log(f"{stage}/mAP50", float(result["mAP"]), prog_bar=True, rank_zero_only=False, sync_dist=False)
        for name in self.class_names:
            self.log(f"{stage}/AP50_{name}", float(result[f"AP/{name}"]), sync_dist=False)

    # ----------------------------------------------------------------- optimisation
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        groups = split_decay_params(self.net, hp.weight_decay)
        if hp.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                groups, lr=hp.lr, momentum=hp.momentum, nesterov=hp.nesterov
            )
        elif hp.optimizer == "adamw":
            opt = torch.optim.AdamW(groups, lr=hp.lr)
        else:
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {hp.optimizer!r}")
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        epochs = max(int(self.trainer.max_epochs or 1), 1)
        warmup = int(total * min(hp.warmup_epochs / epochs, 0.5))

        def factor(step: int) -> float:
            return warmup_cosine_factor(step, total, warmup, hp.final_lr_ratio)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


__all__ = ["GGHLDetectionTask", "NonFiniteLossError"]
