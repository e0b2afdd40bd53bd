"""``torch.library`` registration of the ops, so ``torch.compile`` and ``torch.export`` see them as opaque
custom ops (with fake implementations for shape propagation) instead of tracing into ctypes/Triton.

Dispatch inside each op: CPU -> C++ kernel (``_cpu``) or, without a compiler, the pure-torch
reference; CUDA -> Triton kernel (``_triton``) or, without Triton, the reference.  NMS on CUDA
inputs runs its greedy pass in the C++ kernel when available (see ``batched_nms_rotated_op``).  These ops are not
differentiable: the public functions call the reference directly when an input requires grad.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.ops import _cpu, _reference, _triton
from gghl.ops._degenerate import guarded_iou, nms_entries, nms_on_subset, valid_boxes
from gghl.ops._nms_reference import batched_nms_rotated_ref, score_order


def _dispatch(kind: str, x1: Tensor, x2: Tensor, aligned: bool) -> Tensor:
    if x1.device.type == "cpu" and _cpu.get_lib() is not None:
        return _cpu.pairwise_iou(kind, x1, x2, aligned)
    if x1.device.type == "cuda" and _triton.available():
        return _triton.pairwise_iou(kind, x1, x2, aligned)
    ref = _reference.box_iou_rotated_ref if kind == "box" else _reference.poly_iou_ref
    return ref(x1, x2, aligned)


def _pairwise(kind: str, x1: Tensor, x2: Tensor, aligned: bool) -> Tensor:
    # NaN/inf and zero-area boxes -> IoU 0 on every path (the kernels never see them).
    iou = guarded_iou(kind, lambda a, b, al: _dispatch(kind, a, b, al), x1, x2, aligned)
    # inter / union of identical boxes can round to 1 + 1 ulp; IoU is a ratio in [0, 1] by definition.
    return iou.clamp_(0.0, 1.0)


@torch.library.custom_op("gghl::box_iou_rotated", mutates_args=())
def box_iou_rotated_op(boxes1: Tensor, boxes2: Tensor, aligned: bool) -> Tensor:
    """``[N, 5]`` x ``[M, 5]`` same-dtype float32/float64 boxes -> ``[N, M]`` (``[N]`` aligned) IoU."""
    return _pairwise("box", boxes1, boxes2, aligned)


@torch.library.custom_op("gghl::poly_iou", mutates_args=())
def poly_iou_op(polys1: Tensor, polys2: Tensor, aligned: bool) -> Tensor:
    """``[N, 8]`` x ``[M, 8]`` convex quads -> ``[N, M]`` (``[N]`` aligned) IoU."""
    return _pairwise("poly", polys1, polys2, aligned)


@box_iou_rotated_op.register_fake
@poly_iou_op.register_fake
def _iou_fake(x1: Tensor, x2: Tensor, aligned: bool) -> Tensor:
    return x1.new_empty((x1.shape[0],) if aligned else (x1.shape[0], x2.shape[0]))


@torch.library.custom_op("gghl::batched_nms_rotated", mutates_args=())
def batched_nms_rotated_op(
    boxes: Tensor, scores: Tensor, idxs: Tensor | None, iou_threshold: float
) -> Tensor:
    """Greedy per-category rotated NMS -> ``[K]`` int64 kept indices in decreasing score order."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    entries = nms_entries(boxes, scores)
    if entries is not None:  # NaN/inf boxes and NaN scores are dropped before the greedy pass
        return nms_on_subset(batched_nms_rotated_op, boxes, scores, idxs, iou_threshold, entries)
    zero_area = ~valid_boxes(boxes)
    if bool(zero_area.any()):
        # Zero-area boxes have IoU 0 with everything (the IoU rule): they are always kept and suppress
        # nothing. The kernels below compute their own IoUs, so keep such boxes away from them.
        rest = (~zero_area).nonzero().squeeze(1)
        kept_rest = nms_on_subset(batched_nms_rotated_op, boxes, scores, idxs, iou_threshold, rest)
        kept = torch.cat([kept_rest, zero_area.nonzero().squeeze(1)]).sort().values
        return kept[score_order(scores.index_select(0, kept))]
    order = score_order(scores)
    # index_select: advanced indexing was 2000x slower here on a busy 2-core CPU (thread-pool stalls).
    b = boxes.index_select(0, order)
    c = None if idxs is None else idxs.index_select(0, order)
    if _cpu.get_lib() is not None:
        # The greedy pass is sequential; on CUDA inputs it is faster to copy the [N, 5] boxes to the
        # C++ kernel (which only computes the IoUs the greedy pass asks for) than to build an N x N
        # IoU matrix on the GPU (H100: 2000 boxes 60 ms, 10000 boxes 1.2 s that way).
        keep = _cpu.nms_sorted(b.cpu(), None if c is None else c.cpu(), iou_threshold)
        return order[keep.to(boxes.device)]
    if boxes.device.type == "cuda" and _triton.available():
        # No compiler: IoU matrix on the GPU, then the greedy pass on the CPU bitmask.
        return order[_triton.nms_sorted(b, c, iou_threshold)]
    return batched_nms_rotated_ref(boxes, scores, idxs, iou_threshold)


@batched_nms_rotated_op.register_fake
def _nms_fake(boxes: Tensor, scores: Tensor, idxs: Tensor | None, iou_threshold: float) -> Tensor:
    k = torch.library.get_ctx().new_dynamic_size()
    return boxes.new_empty((k,), dtype=torch.int64)
