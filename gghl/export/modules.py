"""Export wrappers: one ``nn.Module`` per model type whose graph holds the network *and* its decoding.

Every wrapper takes ``images: Tensor[B, 3, S, S]`` float32 RGB in ``[0, 1]`` (what the detection datasets
yield; the classifier's normalisation is baked into its wrapper) and returns a tuple of tensors, named by
``OUTPUTS[kind]`` (the ONNX output names):

- ``gghl``: ``polygons [B, A, 8]`` ORC quadrilaterals in input pixels, ``scores [B, A]`` (``-1`` where the
  decoded box is not finite or has no area), ``labels [B, A]`` int64, for every anchor ``A = sum_k G_k^2``
  (the ``nms=false`` mode: decoded candidates; :func:`gghl.export.postprocess.gghl_detections` applies the
  threshold, top-k and class-wise rotated NMS of :class:`gghl.models.gghl_postprocess.GGHLPostProcess`).
  With ``nms=true`` the graph also runs the NMS (:class:`gghl.export.graph_nms.GGHLNMSExportModule`):
  ``polygons [B, D, 8]``, ``scores [B, D]`` (``-1`` = padding), ``labels [B, D]``, ``num_dets [B]``.
- ``query``: ``boxes [B, K, 4]`` xyxy input pixels, ``scores [B, K]``, ``labels [B, K]`` int64: the last
  stage's top-K over queries x classes (the model has no NMS), ``K = min(max_det, N*C)``.
- ``classifier``: ``logits [B, C]``, ``probs [B, C]`` (softmax).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gghl.structures.gghl_decode import decode_gghl, decoded_to_polygons

OUTPUTS: dict[str, tuple[str, ...]] = {
    "gghl": ("polygons", "scores", "labels"),
    "query": ("boxes", "scores", "labels"),
    "classifier": ("logits", "probs"),
}
# GGHL exported with ``nms=true`` (:mod:`gghl.export.graph_nms`): kept detections, padded to ``max_det``.
GGHL_NMS_OUTPUTS: tuple[str, ...] = ("polygons", "scores", "labels", "num_dets")


class GGHLExportModule(nn.Module):
    """GGHL network + decode + score, without NMS (see module docstring for the outputs).

    Args:
        net: a ``GGHLDetector`` (``raw = net(images)``).
        strides: level strides of ``net``.
        score_mode: ``"product"`` (conf * prob) or ``"sqrt"``, as ``GGHLPostProcess``.
    """

    def __init__(self, net: nn.Module, strides: Sequence[int], score_mode: str = "product") -> None:
        super().__init__()
        if score_mode not in ("product", "sqrt"):
            raise ValueError(f"score_mode must be 'product' or 'sqrt', got {score_mode!r}")
        self.net = net
        self.strides = tuple(int(s) for s in strides)
        self.score_mode = score_mode

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        decoded = decode_gghl(self.net(images), self.strides).float()  # [B, A, 14+C]
        conf = decoded[..., 13]
        prob, labels = decoded[..., 14:].max(dim=-1)
        scores = conf * prob
        if self.score_mode == "sqrt":
            scores = scores.clamp(min=0).sqrt()
        # The same validity rule as GGHLPostProcess._single; invalid candidates get score -1 so that any
        # threshold >= 0 drops them (a fixed-size output cannot drop rows).
        valid = torch.isfinite(decoded[..., :9]).all(dim=-1) & (decoded[..., 2] > 0) & (decoded[..., 3] > 0)
        scores = torch.where(valid, scores, torch.full_like(scores, -1.0))
        return decoded_to_polygons(decoded), scores, labels


class QueryExportModule(nn.Module):
    """Query detector + last-stage top-k (``gghl.models.query.postprocess.postprocess`` without affines).

    ``img_wh`` is the input tensor's own size, as ``QueryDetectionTask`` passes it for padded batches.
    """

    def __init__(self, model: nn.Module, max_det: int) -> None:
        super().__init__()
        self.model = model
        self.max_det = int(max_det)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out = self.model(images)
        logits, boxes = out["cls_logits"][-1].float(), out["boxes"][-1].float()  # [B, N, C], [B, N, 4]
        n, c = int(logits.shape[1]), int(logits.shape[2])
        k = min(self.max_det or n, n * c)
        scores, idx = logits.sigmoid().flatten(1).topk(k, dim=1)  # [B, K]
        labels = idx % c
        qidx = torch.div(idx, c, rounding_mode="floor")
        picked = torch.gather(boxes, 1, qidx[..., None].expand(-1, -1, 4))
        return picked, scores, labels


class ClassifierExportModule(nn.Module):
    """Normalise ``[0, 1]`` images with ``mean``/``std``, classify, softmax."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.net((images - self.mean) / self.std).float()
        return logits, logits.softmax(dim=-1)
