"""Degenerate input for the IoU and NMS ops: one rule, applied identically on every path.

Rule (documented in ``gghl/ops/README.md``):

* a box is *invalid* when a coordinate is NaN or +-inf, or it has (numerically) zero area: for OBBs
  ``min(|w|, |h|) <= REL_TOL * max(1, |cx|, |cy|, |w|, |h|)``, for quadrilaterals a shoelace area
  ``<= REL_TOL**2 * max(1, extent)**2`` (all vertices on one line or point). A side that small relative
  to the box's position or size is below what the polygon clipping can resolve (a 1e-30 px wide box
  gave IoU 0, 1/3 or 1 depending on the path);
* the IoU of any pair with an invalid member is exactly 0 (never NaN, never > 0), and every IoU is
  clamped to ``[0, 1]`` (rounding with 1e15-px coordinates can push the clipped area past the union);
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

# Relative size below which a side counts as zero: ~ float32 epsilon. The smallest boxes that matter
# (1e-2 px at 4000 px from the origin) are 2.5e-6 relative, well above it.
REL_TOL = 1e-7


def valid_boxes(boxes: Tensor) -> Tensor:
    """``[N]`` bool: OBB ``[N, 5]`` with finite coordinates and both sides above ``REL_TOL`` x scale."""
    a = boxes[:, :4].abs()
    scale = a.amax(1).clamp_min(1.0)
    return torch.isfinite(boxes).all(1) & (a[:, 2:4].amin(1) > REL_TOL * scale)


def valid_polys(polys: Tensor) -> Tensor:
    """``[N]`` bool: quads ``[N, 8]`` with finite coordinates and a shoelace area above
    ``REL_TOL**2`` x scale**2 (scale = max(1, largest absolute coordinate))."""
    xy = polys.reshape(-1, 4, 2)
    rel = xy - xy[:, :1]  # around the first vertex: no cancellation from large absolute coordinates
    area = (rel[..., 0] * rel.roll(-1, 1)[..., 1] - rel[..., 1] * rel.roll(-1, 1)[..., 0]).sum(1).abs()
    scale = polys.abs().amax(1).clamp_min(1.0)
    return torch.isfinite(polys).all(1) & (area > (REL_TOL * scale) ** 2) & ~torch.isnan(area)


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
        return compute(x1, x2, aligned).clamp(0.0, 1.0)
    x1 = torch.where(v1[:, None], x1, _unit(kind, x1))
    x2 = torch.where(v2[:, None], x2, _unit(kind, x2))
    iou = compute(x1, x2, aligned)
    ok = (v1 & v2) if aligned else (v1[:, None] & v2[None, :])
    return torch.where(ok, iou, torch.zeros_like(iou)).clamp(0.0, 1.0)


def nms_entries(boxes: Tensor, scores: Tensor) -> Tensor | None:
    """``[K]`` int64 indices of NMS entries with finite box coordinates and a non-NaN score, or
    ``None`` when all ``N`` entries qualify (no re-indexing needed)."""
    ok = torch.isfinite(boxes).all(1) & ~torch.isnan(scores)
    if bool(ok.all()):
        return None
    return ok.nonzero().squeeze(1)


def nms_on_subset(
    nms: Callable[[Tensor, Tensor, Tensor | None, float], Tensor],
    boxes: Tensor,
    scores: Tensor,
    idxs: Tensor | None,
    iou_threshold: float,
    subset: Tensor,
) -> Tensor:
    """``nms`` run on the entries ``subset`` (``[K]`` int64) only; returns indices into the full input."""
    sub = nms(
        boxes.index_select(0, subset),
        scores.index_select(0, subset),
        None if idxs is None else idxs.index_select(0, subset),
        iou_threshold,
    )
    return subset[sub]
