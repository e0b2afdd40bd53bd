"""Degenerate input for the IoU and NMS ops: one rule, applied identically on every path.

Rule (documented in ``gghl/ops/README.md``):

* a box is *invalid* when a coordinate is NaN or +-inf, or it has zero area (``w == 0`` or ``h == 0``
  for OBBs, zero or NaN shoelace area for quadrilaterals, e.g. all vertices on one line or point);
* the IoU of any pair with an invalid member is exactly 0 (never NaN, never > 0);
* NMS drops entries whose box has a non-finite coordinate or whose score is NaN before the greedy pass
  (they are never returned and never suppress anything); zero-area boxes stay: their IoU with
  everything is 0, so they are kept and suppress nothing.

Invalid rows are replaced by a harmless unit box before a kernel sees them, so neither the C++, the
Triton nor the pure-torch code ever runs on NaN/inf (no NaN gradients through ``torch.where`` either).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def valid_boxes(boxes: Tensor) -> Tensor:
    """``[N]`` bool: OBB ``[N, 5]`` with finite coordinates and ``w != 0`` and ``h != 0``."""
    wh = boxes[:, 2:4]
    return torch.isfinite(boxes).all(1) & (wh != 0).all(1)


def valid_polys(polys: Tensor) -> Tensor:
    """``[N]`` bool: quads ``[N, 8]`` with finite coordinates and non-zero shoelace area."""
    xy = polys.reshape(-1, 4, 2)
    rel = xy - xy[:, :1]  # around the first vertex: no cancellation from large absolute coordinates
    area = (rel[..., 0] * rel.roll(-1, 1)[..., 1] - rel[..., 1] * rel.roll(-1, 1)[..., 0]).sum(1)
    return torch.isfinite(polys).all(1) & (area != 0) & ~torch.isnan(area)


def _unit(kind: str, x: Tensor) -> Tensor:
    """A harmless stand-in row (unit box at the origin) for invalid entries."""
    row = [0.0, 0.0, 1.0, 1.0, 0.0] if kind == "box" else [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    return torch.tensor(row, dtype=x.dtype, device=x.device)


def guarded_iou(
    kind: str, compute: Callable[[Tensor, Tensor, bool], Tensor], x1: Tensor, x2: Tensor, aligned: bool
) -> Tensor:
    """``compute(x1, x2, aligned)`` with invalid rows replaced and their IoUs set to 0.

    Args:
        kind: ``"box"`` (``[N, 5]`` OBBs) or ``"poly"`` (``[N, 8]`` quads).
        compute: the IoU kernel (reference, C++ or Triton).
        x1, x2: ``[N, D]``, ``[M, D]``.

    Returns:
        ``[N, M]`` (``[N]`` when aligned) IoU; 0 wherever either box is invalid.
    """
    valid = valid_boxes if kind == "box" else valid_polys
    v1, v2 = valid(x1), valid(x2)
    if bool(v1.all()) and bool(v2.all()):  # the common case: no extra passes over the output
        return compute(x1, x2, aligned)
    x1 = torch.where(v1[:, None], x1, _unit(kind, x1))
    x2 = torch.where(v2[:, None], x2, _unit(kind, x2))
    iou = compute(x1, x2, aligned)
    ok = (v1 & v2) if aligned else (v1[:, None] & v2[None, :])
    return torch.where(ok, iou, torch.zeros_like(iou))


def nms_entries(boxes: Tensor, scores: Tensor) -> Tensor | None:
    """``[K]`` int64 indices of NMS entries with finite box coordinates and a non-NaN score, or
    ``None`` when all ``N`` entries qualify (no re-indexing needed)."""
    ok = torch.isfinite(boxes).all(1) & ~torch.isnan(scores)
    if bool(ok.all()):
        return None
    return ok.nonzero().squeeze(1)
