"""Oriented boxes ``(cx, cy, w, h, a)`` (pixels, radians) and their corner polygons."""

from __future__ import annotations

import torch
from torch import Tensor


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
