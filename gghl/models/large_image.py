"""Adapter from a detection task to ``gghl.data.tiling.tiled_inference`` (large-image inference, DOTA way).

``tiled_inference`` owns the window rule, rescaling and merge (shared with the offline split/merge); this
module only turns a task's ``predict_batch`` into the ``detect(tiles) -> list[Detections]`` it expects,
resizing tiles from the patch size to the network input size and back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gghl.data.tiling import Detections


def tile_detector(task: Any, patch_size: int, input_size: int | None = None,
                  device: torch.device | str = "cpu") -> Callable[[Tensor], list[Detections]]:
    """``detect(tiles [B,3,patch,patch] in [0,1]) -> list[Detections]`` in tile pixels.

    ``task.predict_batch(images)`` must return per image ``{"polygons" [K,8], "scores" [K], "labels" [K]}`` in
    input pixels (``GGHLDetectionTask`` does).
    """
    input_size = input_size or patch_size
    scale = input_size / patch_size

    @torch.no_grad()
    def detect(tiles: Tensor) -> list[Detections]:
        batch = tiles.to(device)
        if scale != 1.0:
            batch = F.interpolate(batch, size=(input_size, input_size), mode="bilinear", align_corners=False)
        return [
            Detections(p["polygons"].double().cpu() / scale, p["scores"].double().cpu(), p["labels"].long().cpu())
            for p in task.predict_batch(batch)
        ]

    return detect
