"""Per-object quantities and variant settings for GGHL OLA (docs/gghl.md#variants).

Shared by the per-object reference loop (``gaussian_reference.py``) and the batched path
(``gaussian_batched.py``) so that both see bit-identical object parameters. Frame: image pixels, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gghl.structures.orc import area_ratio, long_side_angle, orc_order, orc_ratios
from gghl.structures.poly import poly_to_hbb

__all__ = ["VariantSpec", "VARIANTS", "ObjectParams", "object_params", "keep_mask", "size_levels"]

THRESH_G = 0.05  # thresh_gh: minimum Gaussian value of a positive cell
R_RECT = 0.9  # r above this: treated as a horizontal box, s = 0
ALG1_LT = (0.0, 64.0, 128.0, math.inf)  # datasets_new per-location level bounds on max(l1..l4), px
LN2 = math.log(2.0)


@dataclass(frozen=True)
class VariantSpec:
    """What distinguishes the assignment variants.

    Attributes:
        power: exponent on ``rw, rh`` in the Gaussian sigma (0.7 obb, 1.0 alg1).
        alg1: datasets_new rules (per-location levels, asymmetric unclipped window, top-70 % soft
            objectness, cross-class overwrite test, 2ln2/ln(sqrt(N)+1) weight, mix on all levels).
        subpixel: Gaussian offsets from the true OBB centre in cell units instead of integer cell offsets.
        wh_filter: keep small objects by ``w*h > 80`` (intended) instead of the official ``w*w > 80``.
        cell_mix: ch14 = mix of the winning object on positive cells and 1 elsewhere, on every level,
            instead of the whole map getting the last object's mix (and 0 on levels without objects).
    """

    power: float
    alg1: bool = False
    subpixel: bool = False
    wh_filter: bool = False
    cell_mix: bool = False


VARIANTS: dict[str, VariantSpec] = {
    "gghl_obb": VariantSpec(power=0.7),
    "gghl_alg1": VariantSpec(power=1.0, alg1=True),
    "gghl_fixed": VariantSpec(power=0.7, subpixel=True, wh_filter=True, cell_mix=True),
}


@dataclass
class ObjectParams:
    """Derived quantities of ``N`` objects, all ``[N]`` unless noted, dtype of the polygons.

    ``hbb`` ``[N, 4]`` xyxy; ``cx, cy`` HBB centre; ``cxr, cyr`` mean of the 4 ORC-ordered vertices (summed
    left to right in ORC order, the order that decides cell-border ties); ``L >= Sd`` mean lengths of the
    long / short pairs of opposite sides; ``theta`` long-side angle, radians in [0, pi); ``r`` area ratio;
    ``s`` ``[N, 4]`` ORC ratios, zeroed where ``r > 0.9``; ``labels`` int64; ``mix`` mix weights.
    """

    hbb: Tensor
    w: Tensor
    h: Tensor
    cx: Tensor
    cy: Tensor
    cxr: Tensor
    cyr: Tensor
    L: Tensor
    Sd: Tensor
    theta: Tensor
    r: Tensor
    s: Tensor
    labels: Tensor
    mix: Tensor


def object_params(polygons: Tensor, labels: Tensor, weights: Tensor | None = None) -> ObjectParams:
    """Order polygons (ORC) and derive every per-object quantity OLA needs.

    Args:
        polygons: ``[N, 8]`` float, any vertex order, image pixels.
        labels: ``[N]`` integer class ids.
        weights: ``[N]`` mix weights, default 1.
    """
    ordered = orc_order(polygons)
    hbb = poly_to_hbb(ordered)
    xmin, ymin, xmax, ymax = hbb.unbind(1)
    xs, ys = ordered[:, 0::2], ordered[:, 1::2]
    # Explicit left-to-right sums: a centre exactly on a cell border must floor the same way every time.
    cxr = (((xs[:, 0] + xs[:, 1]) + xs[:, 2]) + xs[:, 3]) / 4
    cyr = (((ys[:, 0] + ys[:, 1]) + ys[:, 2]) + ys[:, 3]) / 4
    theta, L, Sd = long_side_angle(ordered)
    r = area_ratio(ordered)
    s = orc_ratios(ordered)
    s = torch.where((r > R_RECT).unsqueeze(1), torch.zeros_like(s), s)
    mix = torch.ones_like(xmin) if weights is None else weights.to(polygons)
    return ObjectParams(
        hbb=hbb,
        w=xmax - xmin,
        h=ymax - ymin,
        cx=(xmin + xmax) / 2,
        cy=(ymin + ymax) / 2,
        cxr=cxr,
        cyr=cyr,
        L=L,
        Sd=Sd,
        theta=theta,
        r=r,
        s=s,
        labels=labels.to(device=polygons.device, dtype=torch.long),
        mix=mix,
    )


def keep_mask(p: ObjectParams, spec: VariantSpec) -> Tensor:
    """Objects that survive the size filter ``[N]`` bool (docs/gghl.md#quirk-w-times-w-size-filter)."""
    area_like = p.w * p.h if spec.wh_filter else p.w * p.w  # official: w*w (sic)
    longest = torch.maximum(p.w, p.h)
    if spec.alg1:
        return ((longest > 10) | (area_like > 80)) & (p.w > 4) & (p.h > 4)
    return (longest > 4) | (area_like > 80)


def size_levels(p: ObjectParams, img_size: int) -> Tensor:
    """HBB-size level bands ``[N, 3]`` bool, up to two levels per object (docs/gghl.md#default-variant)."""
    longest = torch.maximum(p.w, p.h)
    t0 = 3 * 16 / 0.7 * img_size / 800
    t1 = 3 * 64 / 0.7 * img_size / 800
    lv0 = longest <= 1.2 * t0
    lv1 = (longest > t0) & (longest <= 1.2 * t1)
    lv2 = longest > t1
    return torch.stack([lv0, lv1, lv2], dim=1)
