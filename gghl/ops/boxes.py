"""Public rotated-box IoU and convex-quadrilateral IoU."""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.ops import _library, _reference
from gghl.ops._checks import check_flag, check_rows, check_same_device


def _check_pair(x1: object, x2: object, k: int, names: tuple[str, str], aligned: object) -> bool:
    """Shapes, dtypes and devices of the two inputs of an IoU op; returns ``aligned`` as a bool."""
    t1, t2 = check_rows(x1, k, names[0]), check_rows(x2, k, names[1])
    # The C++ kernel reads raw pointers: a tensor on another device would be read as host memory.
    check_same_device((names[0], t1), (names[1], t2))
    al = check_flag(aligned, "aligned")
    if al and t1.shape[0] != t2.shape[0]:
        raise ValueError(
            f"aligned=True needs N == M, got {names[0]} {tuple(t1.shape)} and {names[1]} {tuple(t2.shape)}"
        )
    return al


def _common_dtype(a: Tensor, b: Tensor) -> torch.dtype:
    dt = torch.promote_types(a.dtype, b.dtype)
    # Half precision cannot hold pixel coordinates; compute in float32 and cast back.
    return dt if dt in (torch.float32, torch.float64) else torch.float32


def box_iou_rotated(boxes1: Tensor, boxes2: Tensor, aligned: bool = False) -> Tensor:
    """Exact IoU of oriented boxes.

    Args:
        boxes1: ``[N, 5]`` ``(cx, cy, w, h, a)``: pixels and radians, any angle (``a`` and
            ``a + k*pi`` are the same box), any ``w``/``h`` order; float32 or float64, CPU or CUDA.
        boxes2: ``[M, 5]`` same format and device (dtypes are promoted).
        aligned: if True, ``N == M`` and only the IoU of ``boxes1[i]`` with ``boxes2[i]`` is computed.

    Returns:
        ``[N, M]`` IoU (``[N]`` when aligned) in the promoted dtype.  Zero-area boxes give 0.
        Differentiable (through the pure-torch reference) when an input requires grad.

    Raises:
        TypeError: an input is not a floating-point tensor, or ``aligned`` is not a bool.
        ValueError: a shape is not ``[*, 5]``, the inputs are on different devices, or ``aligned`` with
            ``N != M``; the message names the argument.
    """
    aligned = _check_pair(boxes1, boxes2, 5, ("boxes1", "boxes2"), aligned)
    out_dtype = torch.promote_types(boxes1.dtype, boxes2.dtype)
    dt = _common_dtype(boxes1, boxes2)
    b1, b2 = boxes1.to(dt), boxes2.to(dt)
    if b1.requires_grad or b2.requires_grad:
        return _reference.box_iou_rotated_ref(b1, b2, aligned).to(out_dtype)
    return _library.box_iou_rotated_op(b1, b2, aligned).to(out_dtype)


def poly_iou(polys1: Tensor, polys2: Tensor, aligned: bool = False) -> Tensor:
    """Exact IoU of convex quadrilaterals (DOTA polygons).

    Args:
        polys1: ``[N, 8]`` ``x1 y1 x2 y2 x3 y3 x4 y4`` in pixels; vertices in either orientation and
            from any start vertex (negative-area polygons are reversed, as the DOTA devkit's polyiou).
        polys2: ``[M, 8]`` same format.
        aligned: if True, ``N == M`` and the result is ``[N]``.

    Returns:
        ``[N, M]`` (or ``[N]``) IoU; non-convex (e.g. self-intersecting) inputs are not supported.

    Raises:
        TypeError / ValueError: as :func:`box_iou_rotated` (shape ``[*, 8]``).
    """
    aligned = _check_pair(polys1, polys2, 8, ("polys1", "polys2"), aligned)
    out_dtype = torch.promote_types(polys1.dtype, polys2.dtype)
    dt = _common_dtype(polys1, polys2)
    p1, p2 = polys1.to(dt), polys2.to(dt)
    if p1.requires_grad or p2.requires_grad:
        return _reference.poly_iou_ref(p1, p2, aligned).to(out_dtype)
    return _library.poly_iou_op(p1, p2, aligned).to(out_dtype)
