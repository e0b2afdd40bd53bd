"""Host-side end of an exported graph: from its fixed-size outputs to per-image detections.

In the default ``nms=false`` mode the GGHL graph is exported (decoded candidates for every anchor); the threshold,
top-k and class-wise rotated NMS then run here with ``gghl.ops.batched_nms_rotated``, following
``GGHLPostProcess._single`` step by step, so an exported model and its checkpoint give the same
detections (tested in ``tests/export``). With ``nms=true`` the graph already holds that post-processing
(:mod:`gghl.export.graph_nms`) and :func:`graph_detections` only unpads its output.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.ops import batched_nms_rotated
from gghl.structures import hbb_to_poly, poly_to_obb


def gghl_detections(
    polygons: Tensor,
    scores: Tensor,
    labels: Tensor,
    score_thresh: float,
    nms_thresh: float,
    max_det: int,
    pre_nms_topk: int,
) -> dict[str, Tensor]:
    """Detections of one image from GGHL candidates.

    Args:
        polygons: ``[A, 8]`` float, input pixels; scores: ``[A]`` (``-1`` = invalid); labels: ``[A]`` int64.
        score_thresh, nms_thresh, max_det, pre_nms_topk: as ``GGHLPostProcess``.

    Returns:
        ``{"polygons": [K,8], "obb": [K,5], "scores": [K], "labels": [K] int64}``, scores descending.
    """
    polygons, scores, labels = polygons.float(), scores.float(), labels.long()
    idx = (scores > score_thresh).nonzero().squeeze(1)
    if idx.numel() > pre_nms_topk:
        # Stable sort, not topk: among tied scores the lower index wins, deterministically (topk's tie order is
        # unspecified), and the exported nms=true graph makes the same choice.
        idx = idx[torch.sort(scores[idx], descending=True, stable=True).indices[:pre_nms_topk]]
    polys = polygons[idx]
    obb = poly_to_obb(polys)
    kept = batched_nms_rotated(obb, scores[idx], labels[idx], nms_thresh)[:max_det]
    return {
        "polygons": polys[kept],
        "obb": obb[kept],
        "scores": scores[idx][kept],
        "labels": labels[idx][kept],
    }


def graph_detections(
    polygons: Tensor, scores: Tensor, labels: Tensor, num_dets: Tensor, score_thresh: float | None = None
) -> dict[str, Tensor]:
    """Detections of one image from a GGHL graph exported with ``nms=true`` (NMS already done in the graph).

    Args:
        polygons: ``[D, 8]``, scores: ``[D]``, labels: ``[D]``: kept detections in score order, padded;
            num_dets: scalar, how many rows are real.
        score_thresh: optional extra threshold (``scores > score_thresh``). Raising the baked-in threshold
            this way gives what a graph exported with the higher one would (greedy NMS only lets a higher
            score suppress a lower one); a lower value than the exported threshold changes nothing.

    Returns:
        ``{"polygons": [K,8], "obb": [K,5], "scores": [K], "labels": [K] int64}``, scores descending.
    """
    n = int(num_dets)
    polys, scores, labels = polygons[:n].float(), scores[:n].float(), labels[:n].long()
    if score_thresh is not None:
        keep = scores > score_thresh
        polys, scores, labels = polys[keep], scores[keep], labels[keep]
    return {"polygons": polys, "obb": poly_to_obb(polys), "scores": scores, "labels": labels}


def query_detections(
    boxes: Tensor, scores: Tensor, labels: Tensor, score_thresh: float | None = None
) -> dict[str, Tensor]:
    """Detections of one image from the query detector's top-k (``[K,4]``, ``[K]``, ``[K]``).

    Returns ``{"boxes": [K',4], "polygons": [K',8], "scores": [K'], "labels": [K'] int64}`` keeping
    ``scores > score_thresh`` (all when ``None``), in the graph's order (scores descending).
    """
    boxes, scores, labels = boxes.float(), scores.float(), labels.long()
    if score_thresh is not None:
        keep = scores > score_thresh
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    return {"boxes": boxes, "polygons": hbb_to_poly(boxes), "scores": scores, "labels": labels}
