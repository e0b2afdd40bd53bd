"""LightningModule for query-based detection (AdaMixer / StageInteractor, docs/stageinteractor.md).

Batch format (gghl.data.collate): ``(images [B,3,H,W] float in [0,1], targets)`` with per image ``hbb``
``[N,4]`` xyxy current pixels, ``labels [N]``, ``image_id``, ``orig_size (H0, W0)`` and ``affine [2,3]``
(original -> current). Validation / test detections are mapped back to original pixels and scored with
COCO AP (pycocotools); ``{val,test}/AP`` and ``{val,test}/AP50`` are logged.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor

from gghl.losses.set_criterion import SetCriterion
from gghl.models.query.coco_eval import coco_ap
from gghl.models.query.detector import QueryDetector
from gghl.models.query.postprocess import invert_affine_boxes, postprocess
from gghl.tasks.faults import report_oom


def _plain(cfg: Any) -> Any:
    """DictConfig / ListConfig -> plain containers (modules pass through)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, DictConfig | ListConfig):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return cfg


def build_detector(num_classes: int, detector: Mapping[str, Any]) -> QueryDetector:
    """``QueryDetector`` from config kwargs; a ``backbone`` mapping with ``_target_`` is instantiated."""
    kwargs = dict(_plain(detector))
    bb = kwargs.get("backbone")
    if isinstance(bb, Mapping) and "_target_" in bb:
        import hydra

        kwargs["backbone"] = hydra.utils.instantiate(bb)
    return QueryDetector(num_classes=num_classes, **kwargs)


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
    """Query detector + Hungarian / cross-stage assignment + set criterion + COCO evaluation.

    Args:
        num_classes: ``C`` (``${data.num_classes}``).
        detector: kwargs of :class:`QueryDetector` (``backbone`` a timm name or a ``_target_`` mapping).
        criterion: kwargs of :class:`SetCriterion` (``assigner: cross_stage | o2o`` etc.).
        lr, weight_decay: AdamW; warmup_iters / warmup_ratio / lr_steps (epochs) / lr_gamma: schedule.
        max_det: detections per image at inference (top-k over queries x classes).
        class_names: optional names (for logs only).
    """

    def __init__(
        self,
        num_classes: int,
        detector: Mapping[str, Any],
        criterion: Mapping[str, Any] | None = None,
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
        self.save_hyperparameters(
            {
                "num_classes": num_classes,
                "detector": _plain(detector),
                "criterion": _plain(criterion or {}),
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
        self.model = build_detector(num_classes, detector)
        self.criterion = SetCriterion(num_classes, **dict(_plain(criterion or {})))
        self._records: list[dict[str, Any]] = []

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

    def _eval_step(self, batch: tuple[Tensor, list[dict]]) -> None:
        images, targets = batch
        dets = self.predict_batch(images, targets)
        for t, d in zip(targets, dets):
            gt = t["hbb"].to(torch.float64)
            gt = invert_affine_boxes(gt, t["affine"]) if gt.numel() else gt.reshape(0, 4)
            self._records.append(
                {
                    "image_id": str(t["image_id"]),
                    "orig_size": tuple(int(v) for v in t["orig_size"]),
                    "gt_boxes": gt.cpu().float(),
                    "gt_labels": t["labels"].cpu(),
                    "boxes": d["boxes"].cpu(),
                    "scores": d["scores"].cpu(),
                    "labels": d["labels"].cpu(),
                }
            )

    def validation_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch: tuple[Tensor, list[dict]], batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_start(self) -> None:
        self._records = []

    def on_test_epoch_start(self) -> None:
        self._records = []

    def on_validation_epoch_end(self) -> None:
        self._log_coco("val")

    def on_test_epoch_end(self) -> None:
        self._log_coco("test")

    def _gather(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return records
        parts: list[Any] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(parts, records)
        unique: dict[str, dict[str, Any]] = {}
        for part in parts:
            for rec in part or []:
                unique.setdefault(rec["image_id"], rec)  # DistributedSampler pads with repeats
        return list(unique.values())

    def _log_coco(self, stage: str) -> None:
        records = self._gather(self._records)
        self._records = []
        if self.trainer.sanity_checking or not records:
            return
        stats = coco_ap(records, self.hparams.num_classes)
        self.log(f"{stage}/AP", stats["AP"], prog_bar=True, sync_dist=False)
        self.log(f"{stage}/AP50", stats["AP50"], prog_bar=True, sync_dist=False)
        self.log(f"{stage}/AP75", stats["AP75"], sync_dist=False)

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


__all__ = ["QueryDetectionTask", "build_detector", "step_lr_factor"]
