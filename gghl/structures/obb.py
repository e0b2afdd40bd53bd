"""Oriented boxes ``(cx, cy, w, h, a)`` (pixels, radians) and their corner polygons.

Frame: image pixels, x right, y down; a positive ``a`` turns the box clockwise on screen
(docs/boxes.md#oriented-boxes-obb). Every function here is pure torch, keeps dtype and device, and accepts any
leading batch shape ``[...]``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gghl.structures._checks import check_last_dim

__all__ = ["obb_to_poly", "canonicalize_obb", "wrap_angle", "obb_to_hbb", "hbb_to_obb"]


def obb_to_poly(obb: Tensor) -> Tensor:
    """Corners of oriented boxes.

    Args:
        obb: ``[..., 5]`` ``(cx, cy, w, h, a)``, pixels and radians, any angle, any ``w``/``h`` order.

    Returns:
        ``[..., 8]`` ``x1 y1 x2 y2 x3 y3 x4 y4`` for the local offsets ``(-w/2,-h/2), (+w/2,-h/2),
        (+w/2,+h/2), (-w/2,+h/2)`` in that order, ``corner = (cx + dx cos a - dy sin a, cy + dx sin a + dy cos a)``
        (mmcv/mmrotate corner formula; positive ``a`` turns clockwise on screen). Same dtype and device.
    """
    cx, cy, w, h, a = obb.unbind(-1)
    cos, sin = torch.cos(a), torch.sin(a)
    hw, hh = w / 2, h / 2
    dx = torch.stack([-hw, hw, hw, -hw], dim=-1)
    dy = torch.stack([-hh, -hh, hh, hh], dim=-1)
    xs = cx.unsqueeze(-1) + dx * cos.unsqueeze(-1) - dy * sin.unsqueeze(-1)
    ys = cy.unsqueeze(-1) + dx * sin.unsqueeze(-1) + dy * cos.unsqueeze(-1)
    return torch.stack([xs, ys], dim=-1).flatten(-2)


def wrap_angle(a: Tensor, low: float = -math.pi / 2, period: float = math.pi) -> Tensor:
    """Wrap angles into the half-open interval ``[low, low + period)``.

    Args:
        a: any shape, floating point (radians or degrees; ``low`` and ``period`` in the same unit).

    Returns:
        Same shape/dtype. Guards the float edge case where ``remainder`` rounds up to exactly
        ``period`` (e.g. ``a = low - 1e-20``), which would otherwise land on the open end.
    """
    out = torch.remainder(a - low, period) + low
    return torch.where(out >= low + period, out - period, out)


def canonicalize_obb(obb: Tensor) -> Tensor:
    """Canonical "le90" form of oriented boxes: ``w >= h`` and ``a`` in ``[-pi/2, pi/2)``.

    Args:
        obb: ``[..., 5]`` ``(cx, cy, w, h, a)``, any angle (``a`` and ``a + k*pi`` are the same box),
            ``w < h`` allowed (swapped, and ``pi/2`` added to ``a``). Negative ``w``/``h`` are taken
            as their absolute values (a box of extent ``|w|``).

    Returns:
        ``[..., 5]`` same dtype/device, the same rectangle. Squares (``w == h`` exactly) have a
        four-fold symmetry; they get the representative with ``a`` in ``[-pi/4, pi/4)`` so the
        result is unique (this matches GGHL's "a square reported at 90 deg becomes 0").
    """
    check_last_dim(obb, 5, "obb")
    cx, cy, w, h, a = obb.unbind(-1)
    w, h = w.abs(), h.abs()
    swap = w < h
    w2 = torch.where(swap, h, w)
    h2 = torch.where(swap, w, h)
    a2 = wrap_angle(torch.where(swap, a + math.pi / 2, a))
    square = w2 == h2
    a2 = torch.where(square, wrap_angle(a2, -math.pi / 4, math.pi / 2), a2)
    return torch.stack([cx, cy, w2, h2, a2], dim=-1)


def obb_to_hbb(obb: Tensor) -> Tensor:
    """Axis-aligned hull of oriented boxes.

    Args:
        obb: ``[..., 5]`` ``(cx, cy, w, h, a)``, any angle.

    Returns:
        ``[..., 4]`` ``(xmin, ymin, xmax, ymax)`` pixels, same dtype/device (closed form, equal to
        the min/max over :func:`obb_to_poly` corners).
    """
    check_last_dim(obb, 5, "obb")
    cx, cy, w, h, a = obb.unbind(-1)
    cos, sin = torch.cos(a).abs(), torch.sin(a).abs()
    hx = (w.abs() * cos + h.abs() * sin) / 2
    hy = (w.abs() * sin + h.abs() * cos) / 2
    return torch.stack([cx - hx, cy - hy, cx + hx, cy + hy], dim=-1)


def hbb_to_obb(hbb: Tensor) -> Tensor:
    """Axis-aligned boxes as canonical oriented boxes.

    Args:
        hbb: ``[..., 4]`` ``(xmin, ymin, xmax, ymax)`` pixels (``xmax >= xmin``, ``ymax >= ymin``).

    Returns:
        ``[..., 5]`` canonical ``(cx, cy, w, h, a)``: ``a = 0`` for wide boxes, ``-pi/2`` for tall ones.
    """
    check_last_dim(hbb, 4, "hbb")
    x1, y1, x2, y2 = hbb.unbind(-1)
    obb = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, torch.zeros_like(x1)], dim=-1)
    return canonicalize_obb(obb)
