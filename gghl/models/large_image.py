"""Adapter from a detection task to ``gghl.data.tiling.tiled_inference`` (large-image inference, DOTA way).

``tiled_inference`` owns the window rule, rescaling and merge (shared with the offline split/merge); this
module turns a model's ``predict_batch`` into the ``detect(tiles) -> list[Detections]`` it expects (resizing
tiles from the patch size to the network input size and back), and holds :func:`detect_image`, the one
per-image detection path of ``gghl-predict`` and ``gghl-eval`` (so both give the same detections for the same
image, checkpoint and :class:`TileSettings`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gghl.data.dota_text import MAX_ABS_COORD
from gghl.data.tiling import Detections, tiled_inference

log = logging.getLogger(__name__)
#: Fill of tile pixels beyond the image border (mid grey, as the letterbox of the data pipeline).
PAD_VALUE = 0.5


def tile_detector(
    task: Any, patch_size: int, input_size: int | None = None, device: torch.device | str = "cpu"
) -> Callable[[Tensor], list[Detections]]:
    """``detect(tiles [B,3,patch,patch] in [0,1]) -> list[Detections]`` in tile pixels.

    ``task.predict_batch(images)`` must return per image ``{"polygons" [K,8], "scores" [K], "labels" [K]}`` in
    input pixels (``GGHLDetectionTask``, ``CheckpointModel`` and ``ExportedModel`` do).
    """
    input_size = input_size or patch_size
    scale = input_size / patch_size

    @torch.no_grad()
    def detect(tiles: Tensor) -> list[Detections]:
        batch = tiles.to(device)
        if scale != 1.0:
            batch = F.interpolate(batch, size=(input_size, input_size), mode="bilinear", align_corners=False)
        return [
            Detections(
                p["polygons"].double().cpu() / scale, p["scores"].double().cpu(), p["labels"].long().cpu()
            )
            for p in task.predict_batch(batch)
        ]

    return detect


@dataclass(frozen=True)
class TileSettings:
    """How an image is tiled, predicted and merged (the ``patch_size gap rates batch_size merge_iou_thr``
    keys of ``gghl/configs/eval.yaml`` and ``predict.yaml``, same defaults in both).

    Attributes:
        patch_size: window side in image pixels; ``None`` = the network input side (tiles are not resized).
            DOTA models trained on 1024-px split patches letterboxed to 800 want ``patch_size=1024``.
        gap: overlap of neighbouring windows; ``None`` = ``patch_size // 5`` (DOTA's 200 at 1024, rounded).
        rates: image rescale rates (multi-scale test: ``[0.5, 1.0, 1.5]``).
        batch_size: windows per forward.
        merge_iou_thr: class-wise rotated NMS of the merged windows' detections (DOTA merge: 0.1).
    """

    patch_size: int | None = None
    gap: int | None = None
    rates: tuple[float, ...] = (1.0,)
    batch_size: int = 4
    merge_iou_thr: float = 0.1

    @staticmethod
    def from_config(cfg: Any) -> TileSettings:
        """From a config/mapping with the keys above (missing ones keep their defaults)."""
        get = cfg.get if hasattr(cfg, "get") else lambda k, d=None: getattr(cfg, k, d)
        rates = get("rates", None)
        return TileSettings(
            patch_size=None if get("patch_size", None) is None else int(get("patch_size")),
            gap=None if get("gap", None) is None else int(get("gap")),
            rates=(1.0,) if rates is None else tuple(float(r) for r in rates),
            batch_size=int(get("batch_size", 4) or 4),
            merge_iou_thr=float(get("merge_iou_thr", 0.1)),
        )

    def window(self, input_size: int) -> tuple[int, int]:
        """``(patch_size, gap)`` in pixels for a network of input side ``input_size``."""
        size = int(self.patch_size or input_size)
        return size, size // 5 if self.gap is None else int(self.gap)


def detect_image(
    model: Any, image: Tensor, settings: TileSettings | None = None, name: str = ""
) -> Detections:
    """Detections of one image ``[3, H, W]`` in ``[0,1]``, in original pixels, by decreasing score.

    The image is cut into :meth:`TileSettings.window` windows (one window, padded at the right/bottom with
    :data:`PAD_VALUE`, when it is smaller), each window resized to ``model.img_size`` when the patch differs,
    predicted in batches, mapped back and merged by class-wise rotated NMS (``merge_iou_thr``).

    Detections with a non-finite score or coordinate, or a coordinate beyond ``+-MAX_ABS_COORD`` px (what a
    diverged or untrained model produces; no DOTA file can hold them), are dropped with a warning naming the
    image and the count, so that the other detections are still written and scored.

    Args:
        model: has ``img_size`` and ``predict_batch(images [B,3,S,S]) -> list[dict]`` (see
            :func:`tile_detector`); its ``predict_batch`` moves the batch to its own device.
        name: the image's name for the warning.
    """
    s = settings or TileSettings()
    size, gap = s.window(int(model.img_size))
    detect = tile_detector(model, size, int(model.img_size), "cpu")
    dropped = [0, 0]  # [dropped, seen]: filtered per window, before the merge NMS sees a NaN or an inf

    def detect_finite(tiles: Tensor) -> list[Detections]:
        out = []
        for d in detect(tiles):
            ok = torch.isfinite(d.scores) & (d.polys.abs() <= MAX_ABS_COORD).all(dim=-1)  # NaN fails both
            dropped[0] += int((~ok).sum())
            dropped[1] += len(ok)
            out.append(d if bool(ok.all()) else Detections(d.polys[ok], d.scores[ok], d.labels[ok]))
        return out

    dets = tiled_inference(
        image,
        detect_finite,
        size=size,
        gap=gap,
        rates=list(s.rates),
        pad_value=PAD_VALUE,
        batch_size=s.batch_size,
        iou_thr=s.merge_iou_thr,
    )
    if dropped[0]:
        log.warning(
            "%s: %d of %d detections dropped: non-finite or beyond +-%g px (diverged or untrained model?)",
            name or "image",
            dropped[0],
            dropped[1],
            MAX_ABS_COORD,
        )
    return dets


__all__: Sequence[str] = ["PAD_VALUE", "TileSettings", "detect_image", "tile_detector"]
