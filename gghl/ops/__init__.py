"""Rotated-box and polygon IoU / NMS in the style of ``torchvision.ops``.

Boxes are ``(cx, cy, w, h, a)`` in pixels and radians (docs/boxes.md); polygons are ``[N, 8]``
convex quadrilaterals in any vertex order and orientation.  Each op has a pure-torch reference
(``gghl.ops._reference``) that is also the fallback when no fast kernel is available.
"""

from gghl.ops.boxes import box_iou_rotated, poly_iou
from gghl.ops.nms import batched_nms_rotated, nms_rotated

__all__ = ["batched_nms_rotated", "box_iou_rotated", "nms_rotated", "poly_iou"]
