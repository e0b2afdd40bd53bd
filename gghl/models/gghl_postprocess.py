"""GGHL inference: decode, score, threshold, ORC polygon, class-wise rotated NMS (docs/gghl.md#inference).

No OpenCV: NMS runs on the minimum-area rectangles of the predicted quadrilaterals (as the official
evaluator does with ``cv2.minAreaRect`` + ``NMSBoxesRotated``) through ``gghl.ops.batched_nms_rotated``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.models.coords import apply_affine_to_points, invert_affine
from gghl.ops import batched_nms_rotated
from gghl.structures import poly_to_obb
from gghl.structures.gghl_decode import decode_gghl, decoded_to_polygons


class GGHLPostProcess(torch.nn.Module):
    """Turn raw GGHL outputs into detections per image.

    Args:
        strides: level strides, matching the raw list.
        score_thresh: keep candidates with score > threshold (official: 0.2 at HEAD, 0.005 for best mAP).
        nms_thresh: rotated IoU above which a lower-scored box of the same class is suppressed (official 0.45).
        max_det: detections kept per image after NMS (official 500).
        pre_nms_topk: candidates kept per image before NMS (bounds NMS cost in early training).
        score_mode: ``"product"`` = conf * prob_c (official thresholding score) or ``"sqrt"`` = sqrt(conf * prob_c)
            (the official NMS score); the best class per location is kept either way.
    """

    def __init__(
        self,
        strides: tuple[int, ...] = (8, 16, 32),
        score_thresh: float = 0.05,
        nms_thresh: float = 0.45,
        max_det: int = 500,
        pre_nms_topk: int = 4000,
        score_mode: str = "product",
    ) -> None:
        super().__init__()
        if score_mode not in ("product", "sqrt"):
            raise ValueError(f"score_mode must be 'product' or 'sqrt', got {score_mode!r}")
        self.strides = tuple(strides)
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.max_det = max_det
        self.pre_nms_topk = pre_nms_topk
        self.score_mode = score_mode

    @torch.no_grad()
    def forward(self, raw: list[Tensor], affines: list[Tensor] | None = None) -> list[dict[str, Tensor]]:
        """Args:
            raw: ``list[Tensor[B,10+C,G,G]]`` from ``GGHLDetector``.
            affines: optional per-image ``[2,3]`` original->input affines; when given, outputs are mapped back
                to original image pixels.

        Returns:
            per image ``{"polygons": [K,8], "obb": [K,5], "scores": [K], "labels": [K] int64}``, scores descending.
        """
        decoded = decode_gghl(raw, self.strides).float()
        results = []
        for b in range(decoded.shape[0]):
            results.append(self._single(decoded[b], None if affines is None else affines[b]))
        return results

    def _single(self, pred: Tensor, affine: Tensor | None) -> dict[str, Tensor]:
        conf = pred[:, 13]
        prob, labels = pred[:, 14:].max(dim=1)
        scores = conf * prob
        if self.score_mode == "sqrt":
            scores = scores.clamp(min=0).sqrt()
        keep = (
            (scores > self.score_thresh)
            & torch.isfinite(pred[:, :9]).all(dim=1)
            & (pred[:, 2] > 0)
            & (pred[:, 3] > 0)
        )
        idx = keep.nonzero().squeeze(1)
        if idx.numel() > self.pre_nms_topk:
            # Stable sort, not topk: among tied scores the lower index wins, deterministically (topk's tie order is
            # unspecified), and the exported nms=true graph makes the same choice.
            idx = idx[torch.sort(scores[idx], descending=True, stable=True).indices[: self.pre_nms_topk]]
        polys = decoded_to_polygons(pred[idx])
        if affine is not None:
            polys = apply_affine_to_points(polys, invert_affine(affine))
        obb = poly_to_obb(polys)
        kept = batched_nms_rotated(obb, scores[idx], labels[idx], self.nms_thresh)[: self.max_det]
        return {
            "polygons": polys[kept],
            "obb": obb[kept],
            "scores": scores[idx][kept],
            "labels": labels[idx][kept],
        }
