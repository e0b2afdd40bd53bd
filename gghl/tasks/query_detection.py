"""LightningModule for query-based detection (AdaMixer / StageInteractor, docs/stageinteractor.md).

Batch format (gghl.data.collate): ``(images [B,3,H,W] float in [0,1], targets)`` with per image ``hbb``
``[N,4]`` xyxy current pixels, ``labels [N]``, ``image_id``, ``orig_size (H0, W0)`` and ``affine [2,3]``
(original -> current). Validation / test detections are mapped back to original pixels and scored with
COCO AP (:class:`gghl.evaluation.detection_metrics.COCOMetric`, ground truth from the batches);
``{val,test}/AP``, ``{val,test}/AP50`` and ``{val,test}/AP75`` are logged.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor

from gghl.evaluation.detection_metrics import COCOMetric
from gghl.losses.set_criterion import SetCriterion
from gghl.models.query.detector import QueryDetector
from gghl.models.query.postprocess import invert_affine_boxes, postprocess
from gghl.tasks.eval_precision import outside_autocast
from gghl.tasks.faults import report_oom


def step_lr_factor(
    step: int,
    steps_per_epoch: int,
    warmup_iters: int,
    warmup_ratio: float,
    lr_steps: Sequence[int],
    gamma: float,
) -> float:
    """mmdet ``step`` policy: linear warm-up from ``warmup_ratio`` over ``warmup_iters`` iterations, then
    ``gamma`` at each epoch in ``lr_steps`` (epoch ``e`` starts at ``e * steps_per_epoch``)."""
    epoch = step // max(steps_per_epoch, 1)
    factor = gamma ** bisect.bisect_right(sorted(lr_steps), epoch)
    if step < warmup_iters:
        factor *= warmup_ratio + (1 - warmup_ratio) * step / warmup_iters
    return factor


class QueryDetectionTask(L.LightningModule):
    """Query detector + set criterion (Hungarian matching, cross-stage labels) + COCO evaluation.

    The network and the criterion come built (Hydra instantiates the nested ``_target_`` entries of
    ``configs/model/stageinteractor.yaml``); only plain settings are hyperparameters, so checkpoints load
    with ``torch.load(weights_only=True)`` and their stored config rebuilds the parts.

    Args:
        num_classes: ``C`` (``${data.num_classes}``); must equal the criterion's.
        net: the :class:`QueryDetector` (kept as ``self.model``: checkpoints hold ``model.*`` weights).
        criterion: the :class:`SetCriterion` (matcher, label assigner, loss weights).
        lr, weight_decay: AdamW; warmup_iters / warmup_ratio / lr_steps (epochs) / lr_gamma: schedule.
        max_det: detections per image at inference (top-k over queries x classes).
        class_names: optional names (for logs only).
    """

    def __init__(
        self,
        num_classes: int,
        net: QueryDetector,
        criterion: SetCriterion,
        lr: float = 2.5e-5,
        weight_decay: float = 1e-4,
        warmup_iters: int = 500,
        warmup_ratio: float = 0.001,
        lr_steps: Sequence[int] = (8, 11),
        lr_gamma: float = 0.1,
        max_det: int = 100,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if criterion.num_classes != num_classes:
            raise ValueError(
                f"criterion.num_classes ({criterion.num_classes}) differs from num_classes ({num_classes})"
            )
        self.save_hyperparameters(
            {
                "num_classes": num_classes,
                "lr": lr,
                "weight_decay": weight_decay,
                "warmup_iters": warmup_iters,
                "warmup_ratio": warmup_ratio,
                "lr_steps": list(lr_steps),
                "lr_gamma": lr_gamma,
                "max_det": max_det,
                "class_names": list(class_names) if class_names else None,
            }
        )
        self.model = net
        self.criterion = criterion
        # One metric per stage, ground truth from the batches; category ids 1..C as in a COCO json.
        self.val_metric = COCOMetric(label_to_cat_id=range(1, num_classes + 1))
        self.test_metric = COCOMetric(label_to_cat_id=range(1, num_classes + 1))

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        return self.model(images)

    @staticmethod
    def _img_wh(images: Tensor) -> Tensor:
        b, _, h, w = images.shape
        return torch.tensor([[w, h]], dtype=torch.float32, device=images.device).expand(b, 2)

    def training_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> Tensor:
        images, targets = batch
        wh = self._img_wh(images)
        self._last_batch = (tuple(images.shape), images.dtype)
        with report_oom("training_step (forward + loss)", *self._last_batch):
            out = self.model(images, wh)
            gtb = [t["hbb"].to(images.device, torch.float32) for t in targets]
            gtl = [t["labels"].to(images.device) for t in targets]
            losses = self.criterion(out["cls_logits"], out["boxes"], gtb, gtl, wh)
        bs = images.shape[0]
        self.log("train/loss", losses["loss"].detach(), batch_size=bs, prog_bar=True)
        s_last = out["cls_logits"].shape[0] - 1
        for k in ("loss_cls", "loss_bbox", "loss_iou"):
            self.log(f"train/s{s_last}.{k}", losses[f"s{s_last}.{k}"].detach(), batch_size=bs)
        self.log("train/cls_pos_last", losses["num_cls_pos"].float(), batch_size=bs)
        return losses["loss"]

    def backward(self, loss: Tensor, *args: Any, **kwargs: Any) -> None:
        with report_oom("backward", *getattr(self, "_last_batch", (None, None))):
            super().backward(loss, *args, **kwargs)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def predict_batch(self, images: Tensor, targets: list[dict] | None = None) -> list[dict[str, Tensor]]:
        """Top-k detections per image: ``{"hbb": [k, 4] xyxy, "boxes": same, "scores": [k], "labels": [k]}``,
        in original pixels when ``targets`` carry ``affine`` / ``orig_size``, else in input pixels."""
        out = self.model(images, self._img_wh(images))
        affines = None if targets is None else [t["affine"] for t in targets]
        sizes = None if targets is None else [tuple(t["orig_size"]) for t in targets]
        dets = postprocess(out["cls_logits"][-1], out["boxes"][-1], affines, sizes, self.hparams.max_det)
        return [{**d, "hbb": d["boxes"]} for d in dets]

    def _eval_step(self, batch: tuple[Tensor, list[dict]], metric: COCOMetric) -> None:
        """Detections and ground truth boxes of the batch, both in original pixels, into ``metric``."""
        images, targets = batch
        with outside_autocast(images.device):
            dets = self.predict_batch(images, targets)
        gts = []
        for t in targets:
            gt = t["hbb"].to(torch.float64)
            gt = invert_affine_boxes(gt, t["affine"]) if gt.numel() else gt.reshape(0, 4)
            gts.append({"image_id": t["image_id"], "boxes": gt, "labels": t["labels"]})
        metric.update(dets, gts)

    def validation_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> None:
        self._eval_step(batch, self.val_metric)

    def test_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> None:
        self._eval_step(batch, self.test_metric)

    def on_validation_epoch_start(self) -> None:
        self.val_metric.reset()

    def on_test_epoch_start(self) -> None:
        self.test_metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_coco("val", self.val_metric)

    def on_test_epoch_end(self) -> None:
        self._log_coco("test", self.test_metric)

    def _log_coco(self, stage: str, metric: COCOMetric) -> None:
        """COCO AP of the epoch over all ranks; nothing is logged for the sanity check or an empty split.

        A stat COCO reports as -1 (no ground truth to score, e.g. a split of empty images) is logged as
        0, so a checkpoint monitor always sees a number it can compare.
        """
        scored = metric.update_called and not self.trainer.sanity_checking
        stats = metric.compute() if scored else {}
        metric.reset()
        for name, prog_bar in (("AP", True), ("AP50", True), ("AP75", False)):
            if name in stats:
                self.log(f"{stage}/{name}", max(float(stats[name]), 0.0), prog_bar=prog_bar, sync_dist=False)

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        opt = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        epochs = max(int(self.trainer.max_epochs or 1), 1)
        per_epoch = max(math.ceil(total / epochs), 1)

        def factor(step: int) -> float:
            return step_lr_factor(step, per_epoch, hp.warmup_iters, hp.warmup_ratio, hp.lr_steps, hp.lr_gamma)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


__all__ = ["QueryDetectionTask", "step_lr_factor"]
