"""Polygons ``[..., 2K]`` (``x1 y1 ... xK yK`` pixels) and axis-aligned boxes ``[..., 4]`` xyxy."""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.structures._checks import check_last_dim

__all__ = ["poly_to_hbb", "hbb_to_poly", "poly_area", "poly_area_signed"]


def _check_poly(poly: Tensor) -> None:
    if not isinstance(poly, torch.Tensor) or poly.dim() == 0 or poly.shape[-1] < 2 or poly.shape[-1] % 2:
        shape = tuple(poly.shape) if isinstance(poly, torch.Tensor) else type(poly).__name__
        raise ValueError(f"poly must have shape [..., 2K] (x1 y1 ... xK yK), got {shape}")
    if not poly.is_floating_point():
        raise TypeError(f"poly must be floating point, got {poly.dtype}")


def poly_to_hbb(poly: Tensor) -> Tensor:
    """Axis-aligned hull of polygons.

    Args:
        poly: ``[..., 2K]`` ``x1 y1 ... xK yK`` pixels (``K = 4`` for DOTA quadrilaterals).

    Returns:
        ``[..., 4]`` ``(xmin, ymin, xmax, ymax)``, same dtype/device.
    """
    _check_poly(poly)
    xs, ys = poly[..., 0::2], poly[..., 1::2]
    return torch.stack([xs.amin(-1), ys.amin(-1), xs.amax(-1), ys.amax(-1)], dim=-1)


def hbb_to_poly(hbb: Tensor) -> Tensor:
    """Corners of axis-aligned boxes, in :func:`gghl.structures.obb_to_poly` order for ``a = 0``.

    Args:
        hbb: ``[..., 4]`` ``(xmin, ymin, xmax, ymax)``.

    Returns:
        ``[..., 8]`` ``TL, TR, BR, BL`` = ``x1 y1 x2 y1 x2 y2 x1 y2`` (clockwise on screen).
    """
    check_last_dim(hbb, 4, "hbb")
    x1, y1, x2, y2 = hbb.unbind(-1)
    return torch.stack([x1, y1, x2, y1, x2, y2, x1, y2], dim=-1)


def poly_area_signed(poly: Tensor) -> Tensor:
    """Signed shoelace area ``sum(x_i y_{i+1} - x_{i+1} y_i) / 2``.

    Args:
        poly: ``[..., 2K]`` pixels.

    Returns:
        ``[...]``. In image coordinates (y down) a polygon listed **clockwise on screen** (e.g. the
        output of ``obb_to_poly``: TL, TR, BR, BL) has a **positive** signed area; counter-clockwise
        is negative. Computed relative to the first vertex, so large coordinates do not cancel badly.
    """
    _check_poly(poly)
    xs, ys = poly[..., 0::2], poly[..., 1::2]
    xs = xs - xs[..., :1]
    ys = ys - ys[..., :1]
    xn, yn = torch.roll(xs, -1, dims=-1), torch.roll(ys, -1, dims=-1)
    return (xs * yn - xn * ys).sum(-1) / 2


def poly_area(poly: Tensor) -> Tensor:
    """Unsigned polygon area ``|poly_area_signed(poly)|``, ``[..., 2K] -> [...]`` (simple polygons)."""
    return poly_area_signed(poly).abs()
