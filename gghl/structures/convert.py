"""Converters between our OBB ``(cx, cy, w, h, a)`` and other libraries' rotated-box conventions.

Ours: pixels, radians, positive ``a`` clockwise on screen (y down), canonical le90. The table in
``gghl/structures/__init__.py`` summarises every convention. All functions are pure torch,
``[..., 5] -> [..., 5]``, keep dtype/device. Functions *to* ours return the canonical form.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gghl.structures._checks import check_last_dim
from gghl.structures.obb import canonicalize_obb, wrap_angle

__all__ = [
    "obb_to_tv_cxcywhr",
    "tv_cxcywhr_to_obb",
    "obb_to_detectron2",
    "detectron2_to_obb",
    "obb_to_gghl_longside",
    "gghl_longside_to_obb",
    "obb_to_ultralytics_xywhr",
    "ultralytics_xywhr_to_obb",
    "obb_to_mmrotate_le90",
    "mmrotate_le90_to_obb",
]


def _replace_angle(b: Tensor, a: Tensor) -> Tensor:
    return torch.cat([b[..., :4], a.unsqueeze(-1)], dim=-1)


def obb_to_tv_cxcywhr(obb: Tensor) -> Tensor:
    """Ours -> torchvision ``cxcywhr`` (``tv_tensors.BoundingBoxFormat.CXCYWHR``).

    torchvision uses degrees, counter-clockwise positive on screen, so ``a_tv = -degrees(a)``;
    ``w``/``h`` are passed through unchanged. With this, ``box_convert(b, 'cxcywhr', 'xyxyxyxy')``
    returns exactly our ``obb_to_poly`` corners in the same order (tested).

    Args:
        obb: ``[..., 5]`` ours. Returns ``[..., 5]`` ``(cx, cy, w, h, r_deg)``, ``r_deg`` unwrapped.
    """
    check_last_dim(obb, 5, "obb")
    return _replace_angle(obb, -torch.rad2deg(obb[..., 4]))


def tv_cxcywhr_to_obb(b: Tensor) -> Tensor:
    """torchvision ``cxcywhr`` (degrees, CCW) ``[..., 5]`` -> ours, canonical le90 ``[..., 5]``."""
    check_last_dim(b, 5, "b")
    return canonicalize_obb(_replace_angle(b, -torch.deg2rad(b[..., 4])))


def obb_to_detectron2(obb: Tensor) -> Tensor:
    """Ours -> detectron2 ``RotatedBoxes`` ``(cx, cy, w, h, angle_deg)``: same as torchvision.

    detectron2 recommends angles in ``[-180, 180)``; we return ``-degrees(a)`` of the canonical box,
    which lies in ``(-90, 90]``.
    """
    check_last_dim(obb, 5, "obb")
    return obb_to_tv_cxcywhr(canonicalize_obb(obb))


def detectron2_to_obb(b: Tensor) -> Tensor:
    """detectron2 ``(cx, cy, w, h, angle_deg)`` (CCW positive) ``[..., 5]`` -> ours, canonical."""
    return tv_cxcywhr_to_obb(b)


def obb_to_gghl_longside(obb: Tensor) -> Tensor:
    """Ours -> GGHL long-side form ``(cx, cy, long, short, theta_deg)``, ``theta_deg`` in ``[0, 180)``.

    GGHL's theta (docs/boxes.md#orc-order) is the direction of the long side measured from +x towards +y,
    i.e. clockwise on screen, the same sense as our ``a``: ``theta = degrees(a_le90) mod 180``.
    Squares follow our canonical choice (``a`` in ``[-pi/4, pi/4)``), so theta in
    ``[0, 45) U [135, 180)``; a square reported at 90 by GGHL's tools is 0 here too.
    Note DOTA2Train additionally clamps ``(179, 180]`` to 179; we do not.

    Args:
        obb: ``[..., 5]`` ours, any form. Returns ``[..., 5]`` same dtype/device.
    """
    c = canonicalize_obb(obb)
    theta = wrap_angle(torch.rad2deg(c[..., 4]), 0.0, 180.0)
    return _replace_angle(c, theta)


def gghl_longside_to_obb(b: Tensor) -> Tensor:
    """GGHL ``(cx, cy, long, short, theta_deg)`` ``[..., 5]`` -> ours, canonical le90 ``[..., 5]``."""
    check_last_dim(b, 5, "b")
    return canonicalize_obb(_replace_angle(b, torch.deg2rad(b[..., 4])))


def obb_to_ultralytics_xywhr(obb: Tensor) -> Tensor:
    """Ours -> Ultralytics ``xywhr`` (pixels, radians), regularised as Ultralytics does.

    Ultralytics' ``xywhr2xyxyxyxy`` uses ``vec1 = w/2 (cos r, sin r)``, ``vec2 = h/2 (-sin r, cos r)``:
    the ``w`` axis points along ``(cos r, sin r)`` exactly like ours, so ``r == a`` (radians,
    clockwise on screen); only the corner order differs (their ``pt1..pt4`` are our corners
    3, 2, 1, 4). Their ``xyxyxyxy2xywhr`` (labels) regularises to ``w >= h`` and ``r`` in ``[-pi/4, 3pi/4)``;
    we return that range. Their predictions use another one (``regularize_rboxes``: ``r`` in ``[0, pi/2)``,
    ``w``/``h`` in either order), which :func:`ultralytics_xywhr_to_obb` reads as well.

    Args:
        obb: ``[..., 5]`` ours. Returns ``[..., 5]`` ``(cx, cy, w, h, r)``, ``w >= h``.
    """
    c = canonicalize_obb(obb)
    return _replace_angle(c, wrap_angle(c[..., 4], -math.pi / 4, math.pi))


def ultralytics_xywhr_to_obb(b: Tensor) -> Tensor:
    """Ultralytics ``xywhr`` ``[..., 5]`` (any range) -> ours, canonical le90 ``[..., 5]``."""
    return canonicalize_obb(b)


def obb_to_mmrotate_le90(obb: Tensor) -> Tensor:
    """Ours -> mmrotate ``le90`` rbox: identical corner formula, so just :func:`canonicalize_obb`."""
    return canonicalize_obb(obb)


def mmrotate_le90_to_obb(b: Tensor) -> Tensor:
    """mmrotate rbox (``le90``, ``le135`` or ``oc``: all share the corner formula) -> ours, canonical."""
    return canonicalize_obb(b)
