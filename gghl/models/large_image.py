"""Large-image inference the DOTA way: split into patches, predict in batches, map back, class-wise NMS.

Model-agnostic: ``detect(images: Tensor[B,3,S,S]) -> list[{"polygons" [K,8], "scores" [K], "labels" [K]}]``
in input pixels. The same window rule and merge as the offline split (``gghl.data.tiling``), so offline
split + merge and on-the-fly tiling give the same detections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from gghl.data.tiling import Detections, iter_tiles, nms_merge, tile_to_image

DetectFn = Callable[[Tensor], list[dict[str, Tensor]]]


@torch.no_grad()
def predict_large_image(
    detect: DetectFn,
    image: Tensor,
    patch_size: int = 1024,
    gap: int = 200,
    rates: Sequence[float] = (1.0,),
    input_size: int | None = None,
    batch_size: int = 4,
    merge_iou_thr: float = 0.1,
    pad_value: float | Sequence[float] = 0.5,
) -> Detections:
    """Detections of one large image in its own pixels.

    Args:
        detect: batched detector on ``[B,3,S,S]`` float images in [0, 1].
        image: ``Tensor[3,H,W]`` float in [0, 1] (any size).
        patch_size, gap, rates: windows as the DOTA split (``size``, ``gap``, rescale rates).
        input_size: network input side; patches are resized from ``patch_size`` to it (default: no resize).
        batch_size: patches per forward pass.
        merge_iou_thr: class-wise NMS threshold of the merge (DOTA: 0.1).
        pad_value: fill of edge patches that reach past the border.
    """
    input_size = input_size or patch_size
    scale = input_size / patch_size
    per_rate: list[Detections] = []
    for rate in rates:
        img = image
        if rate != 1.0:
            h, w = image.shape[-2:]
            size = (max(round(h * rate), 1), max(round(w * rate), 1))
            img = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        tiles = list(iter_tiles(img, patch_size, gap, pad_value))
        mapped: list[Detections] = []
        for start in range(0, len(tiles), batch_size):
            chunk = tiles[start : start + batch_size]
            batch = torch.stack([t for t, _, _ in chunk])
            if scale != 1.0:
                batch = F.interpolate(batch, size=(input_size, input_size), mode="bilinear", align_corners=False)
            for det, (_, x, y) in zip(detect(batch), chunk):
                polys = det["polygons"].double() / scale
                tile_dets = Detections(polys.cpu(), det["scores"].double().cpu(), det["labels"].long().cpu())
                mapped.append(tile_to_image(tile_dets, x, y, rate))
        per_rate.extend(mapped)
    return nms_merge(Detections.cat(per_rate), iou_thr=merge_iou_thr)
