"""Box formats and conversions. One convention everywhere (see README "Box conventions").

OBB ``(cx, cy, w, h, a)``: pixels and radians; corners at local offsets
``(-w/2,-h/2), (+w/2,-h/2), (+w/2,+h/2), (-w/2,+h/2)`` rotated by ``a`` (clockwise on screen, y down).
"""

from gghl.structures.obb import obb_to_poly

__all__ = ["obb_to_poly"]
