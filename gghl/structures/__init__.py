"""Box formats and conversions. One convention everywhere (docs/boxes.md).

OBB ``(cx, cy, w, h, a)``: pixels and radians; corners at local offsets
``(-w/2,-h/2), (+w/2,-h/2), (+w/2,+h/2), (-w/2,+h/2)`` rotated by
``corner = (cx + dx cos a - dy sin a, cy + dx sin a + dy cos a)``: in image coordinates (x right,
y down) a positive ``a`` turns the box **clockwise on screen**. Canonical form "le90": ``w >= h``,
``a`` in ``[-pi/2, pi/2)``; squares get ``a`` in ``[-pi/4, pi/4)``. Polygons ``[N, 8]``
``x1 y1 ... x4 y4``; HBB ``[N, 4]`` xyxy. Everything is pure torch, any dtype/device, batched ``[..., k]``.

Box conventions:

| library | format | angle unit | positive angle (y down) | range / canonical form | corner order vs ours | to ours |
|---|---|---|---|---|---|---|
| **gghl (ours)** | `(cx, cy, w, h, a)` | radians | clockwise on screen | le90: `w >= h`, `a` in `[-pi/2, pi/2)` | corners 1-4 = local `(-,-) (+,-) (+,+) (-,+)` | `canonicalize_obb` |
| mmrotate `le90` | `(cx, cy, w, h, a)` | radians | clockwise on screen | `w >= h`, `a` in `[-pi/2, pi/2)` | same formula and order | `mmrotate_le90_to_obb` (identity + canonicalize) |
| mmrotate `le135` / `oc` | `(cx, cy, w, h, a)` | radians | clockwise on screen | `[-pi/4, 3pi/4)` / `(0, pi/2]` | same formula | `mmrotate_le90_to_obb` (canonicalize) |
| torchvision `cxcywhr` | `(cx, cy, w, h, r)` | degrees | counter-clockwise on screen | none | same order (`box_convert(..., 'xyxyxyxy')`) | `tv_cxcywhr_to_obb`: `a = -radians(r)` |
| detectron2 `RotatedBoxes` | `(cx, cy, w, h, angle)` | degrees | counter-clockwise on screen | recommended `[-180, 180)` | — | `detectron2_to_obb` (as torchvision) |
| GGHL (Shank2358) | `(cx, cy, long, short, theta)` | degrees | clockwise on screen (+x towards +y) | `theta` in `[0, 180)` | ORC order (`gghl.structures.orc`) | `gghl_longside_to_obb`: `a = radians(theta)` |
| Ultralytics `xywhr` | `(cx, cy, w, h, r)` | radians | clockwise on screen (same as ours) | `w >= h`, `r` in `[-pi/4, 3pi/4)` | their `pt1..pt4` = our corners 3, 2, 1, 4 | `ultralytics_xywhr_to_obb` (canonicalize) |

Every "to ours" function accepts any angle and any ``w``/``h`` order and returns the canonical form.
Ultralytics' regularised range changed across versions (ultralytics#24205; outputs are often seen in
``[0, pi/2)``), but its corner formula did not, so ``ultralytics_xywhr_to_obb`` takes any range.
Polygon -> OBB is our own minimum-area rectangle (``poly_to_obb``), never ``cv2.minAreaRect``.
"""

from gghl.structures.convert import (
    detectron2_to_obb,
    gghl_longside_to_obb,
    mmrotate_le90_to_obb,
    obb_to_detectron2,
    obb_to_gghl_longside,
    obb_to_mmrotate_le90,
    obb_to_tv_cxcywhr,
    obb_to_ultralytics_xywhr,
    tv_cxcywhr_to_obb,
    ultralytics_xywhr_to_obb,
)
from gghl.structures.min_area_rect import min_area_rect, poly_to_obb
from gghl.structures.obb import canonicalize_obb, hbb_to_obb, obb_to_hbb, obb_to_poly, wrap_angle
from gghl.structures.orc import area_ratio, long_side_angle, orc_order, orc_ratios, orc_to_poly
from gghl.structures.poly import hbb_to_poly, poly_area, poly_area_signed, poly_to_hbb

__all__ = [
    "obb_to_poly",
    "canonicalize_obb",
    "wrap_angle",
    "obb_to_hbb",
    "hbb_to_obb",
    "poly_to_obb",
    "min_area_rect",
    "poly_to_hbb",
    "hbb_to_poly",
    "poly_area",
    "poly_area_signed",
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
    # GGHL ORC vertex order and ratios (gghl/structures/orc.py, owned by the GGHL area).
    "orc_order",
    "orc_ratios",
    "orc_to_poly",
    "area_ratio",
    "long_side_angle",
]
