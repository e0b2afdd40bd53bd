"""Log a few validation images with ground truth and predicted oriented boxes drawn.

On the first validation batch of each validation run (rank 0 only), ``pl_module.predict_batch(images)``
gives detections in input pixels (``{"polygons": [K,8], "scores": [K], "labels": [K]}`` per image, the
GGHL task's API); they are drawn with PIL (ground truth green, predictions coloured by class with
``name score``) and sent to every logger in its own way: TensorBoard ``add_image``, W&B ``log_image``,
anything else (CSV, no logger) as PNG files under ``<log dir>/val_images/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

_PALETTE = [
    (230, 25, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 190),
    (0, 128, 128),
]


def draw_polygons(
    image: Tensor,
    det_polygons: Tensor,
    det_scores: Tensor,
    det_labels: Tensor,
    class_names: list[str] | None = None,
    gt_polygons: Tensor | None = None,
    score_thresh: float = 0.3,
) -> Image.Image:
    """RGB ``PIL.Image`` of ``image`` (``[3,H,W]`` float in [0, 1]) with polygons (``[K,8]`` pixels) drawn."""
    arr = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    pil = Image.fromarray(arr)
    draw = ImageDraw.Draw(pil)
    if gt_polygons is not None:
        for poly in gt_polygons.detach().double().cpu().tolist():
            draw.polygon(poly, outline=(0, 255, 0))
    keep = det_scores.detach().cpu() >= score_thresh
    polys, scores, labels = (
        det_polygons.detach().cpu()[keep],
        det_scores.detach().cpu()[keep],
        det_labels.cpu()[keep],
    )
    for poly, score, label in zip(polys.double().tolist(), scores.tolist(), labels.tolist()):
        colour = _PALETTE[int(label) % len(_PALETTE)]
        draw.polygon(poly, outline=colour)
        name = class_names[int(label)] if class_names and int(label) < len(class_names) else str(int(label))
        draw.text((poly[0], poly[1]), f"{name} {score:.2f}", fill=colour)
    return pil


def _polygons(pred: dict[str, torch.Tensor]) -> torch.Tensor:
    """``[K, 8]`` polygons of a prediction: oriented detectors give them, HBB detectors (query models) ``hbb``."""
    if "polygons" in pred:
        return pred["polygons"]
    x0, y0, x1, y1 = pred["hbb"].unbind(-1)
    return torch.stack([x0, y0, x1, y0, x1, y1, x0, y1], -1)


class ValImageLogger(L.Callback):
    """Draw up to ``max_images`` images of the first validation batch every validation run.

    Args:
        max_images: images per validation run. score_thresh: minimum score of drawn detections.
    """

    def __init__(self, max_images: int = 4, score_thresh: float = 0.3) -> None:
        self.max_images = int(max_images)
        self.score_thresh = float(score_thresh)
        self.saved: list[Path] = []  # PNG files written (CSV / no logger), for tests and users

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if batch_idx != 0 or dataloader_idx != 0 or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if self.max_images <= 0 or not callable(getattr(pl_module, "predict_batch", None)):
            return
        images, targets = batch[0][: self.max_images], batch[1][: self.max_images]
        with torch.no_grad():
            preds = pl_module.predict_batch(images)  # input pixels (no affine given)
        names = list(getattr(pl_module, "class_names", []) or [])
        pictures = [
            draw_polygons(
                img, _polygons(p), p["scores"], p["labels"], names, t.get("polygons"), self.score_thresh
            )
            for img, p, t in zip(images, preds, targets)
        ]
        ids = [str(t.get("image_id", i)) for i, t in enumerate(targets)]
        self._log(trainer, pictures, ids)

    def _log(self, trainer: L.Trainer, pictures: list[Image.Image], ids: list[str]) -> None:
        from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

        step, epoch = trainer.global_step, trainer.current_epoch
        to_files = not trainer.loggers
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                for pic, name in zip(pictures, ids):
                    logger.experiment.add_image(
                        f"val_images/{name}", np.asarray(pic), step, dataformats="HWC"
                    )
            elif isinstance(logger, WandbLogger):
                logger.log_image(key="val_images", images=pictures, caption=ids, step=step)
            else:
                to_files = True
        if to_files:
            log_dir = (trainer.loggers[0].log_dir if trainer.loggers else None) or trainer.default_root_dir
            out = Path(log_dir) / "val_images"
            out.mkdir(parents=True, exist_ok=True)
            for pic, name in zip(pictures, ids):
                path = out / f"epoch{epoch:03d}_step{step:06d}_{name}.png"
                pic.save(path)
                self.saved.append(path)


__all__ = ["ValImageLogger", "draw_polygons"]
