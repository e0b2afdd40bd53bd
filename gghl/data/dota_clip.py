"""Exact polygon geometry for the DOTA split and merge, in numpy float64.

All points are ``(x, y)`` pixel coordinates of one image frame (x right, y down). These helpers are small
and exact (no rasterisation) so the split's IoF rule and the clipped labels do not depend on shapely,
which is only a development dependency of gghl.

- :func:`clip_polygon`: Sutherland-Hodgman clipping of any simple polygon by a convex polygon.
- :func:`polygon_area`: shoelace area (absolute value).
- :func:`min_area_rect`: minimum-area enclosing rectangle (rotating edges of the convex hull).
- :func:`fit_quad`: turn a clipped polygon (3..8 vertices) back into a DOTA 4-point polygon.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-9


def polygon_area(pts: np.ndarray) -> float:
    """Area of a simple polygon ``pts [K, 2]`` (shoelace, absolute value; 0 for K < 3)."""
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _signed_area(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def clip_polygon(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of ``subject [K, 2]`` inside the convex polygon ``clip [M, 2]``.

    ``subject`` may be any simple polygon (convex or not) in either orientation; ``clip`` must be convex,
    either orientation. Returns ``[P, 2]`` float64 (P = 0 when they do not overlap). For a convex subject
    the result is the exact intersection polygon; for a non-convex subject its area is still exact.
    """
    out = np.asarray(subject, dtype=np.float64)
    clip = np.asarray(clip, dtype=np.float64)
    # Orientation of the clip polygon decides which side of each edge is "inside".
    sign = 1.0 if _signed_area(clip) >= 0 else -1.0
    m = len(clip)
    for i in range(m):
        if len(out) == 0:
            break
        a, b = clip[i], clip[(i + 1) % m]
        ex, ey = b[0] - a[0], b[1] - a[1]
        # side > 0: inside (same side as the polygon's interior)
        side = sign * (ex * (out[:, 1] - a[1]) - ey * (out[:, 0] - a[0]))
        inside = side >= -_EPS
        if inside.all():
            continue
        if not inside.any():
            return np.zeros((0, 2))
        new: list[np.ndarray] = []
        n = len(out)
        for j in range(n):
            p, q = out[j], out[(j + 1) % n]
            sp, sq = side[j], side[(j + 1) % n]
            ip, iq = inside[j], inside[(j + 1) % n]
            if ip:
                new.append(p)
            if ip != iq:
                t = sp / (sp - sq)
                new.append(p + t * (q - p))
        out = np.array(new) if new else np.zeros((0, 2))
    return _dedupe(out)


def _dedupe(pts: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Drop consecutive duplicate vertices (clipping creates them when a vertex lies on a clip edge)."""
    if len(pts) < 2:
        return pts
    keep = [pts[0]]
    for p in pts[1:]:
        if np.abs(p - keep[-1]).max() > tol:
            keep.append(p)
    if len(keep) > 1 and np.abs(keep[0] - keep[-1]).max() <= tol:
        keep.pop()
    return np.array(keep)


def convex_hull(pts: np.ndarray) -> np.ndarray:
    """Convex hull of ``pts [K, 2]`` (Andrew's monotone chain), counter-clockwise in math axes, ``[H, 2]``."""
    p = np.unique(np.asarray(pts, dtype=np.float64), axis=0)
    if len(p) < 3:
        return p

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))

    lower: list[np.ndarray] = []
    for q in p:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0:
            lower.pop()
        lower.append(q)
    upper: list[np.ndarray] = []
    for q in p[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])


def min_area_rect(pts: np.ndarray) -> np.ndarray:
    """Minimum-area rectangle enclosing ``pts [K, 2]``: its 4 corners ``[4, 2]`` in hull order.

    One side of the optimal rectangle lies on a hull edge, so every hull edge direction is tried.
    Degenerate input (all points on a line or one point) gives a zero-width rectangle.
    """
    hull = convex_hull(pts)
    if len(hull) == 1:
        return np.repeat(hull, 4, axis=0)
    best: tuple[float, np.ndarray] | None = None
    n = len(hull)
    for i in range(n if n > 2 else 1):
        e = hull[(i + 1) % n] - hull[i]
        norm = math.hypot(e[0], e[1])
        if norm < _EPS:
            continue
        u = e / norm
        v = np.array([-u[1], u[0]])
        pu, pv = hull @ u, hull @ v
        area = (pu.max() - pu.min()) * (pv.max() - pv.min())
        if best is None or area < best[0] - 1e-12:
            corners = np.array(
                [
                    pu.min() * u + pv.min() * v,
                    pu.max() * u + pv.min() * v,
                    pu.max() * u + pv.max() * v,
                    pu.min() * u + pv.max() * v,
                ]
            )
            best = (area, corners)
    assert best is not None
    return best[1]


def best_start_order(quad: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Rotate the vertex list of ``quad [4, 2]`` so it best matches ``ref [4, 2]`` (least squared distance).

    The orientation is first made equal to ``ref``'s, so a clipped object keeps the vertex order (and thus the
    head/first-vertex meaning) of its source annotation, as DOTA_devkit's ``choose_best_pointorder_fit_another``.
    """
    if (_signed_area(quad) >= 0) != (_signed_area(ref) >= 0):
        quad = quad[::-1]
    cands = [np.roll(quad, -k, axis=0) for k in range(4)]
    d = [float(((c - ref) ** 2).sum()) for c in cands]
    return cands[int(np.argmin(d))]


def fit_quad(clipped: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """A DOTA 4-point polygon ``[4, 2]`` for the clipped part ``clipped [P, 2]`` of the object ``ref [4, 2]``.

    Rule: exactly 4 vertices are kept as they are; any other count (3 or 5..8) is replaced by the
    minimum-area enclosing rectangle of the clipped part (so the label still covers every visible pixel;
    its corners may lie slightly outside the window when the cut is not parallel to the object's sides).
    DOTA_devkit instead merges the shortest edge of a pentagon and drops everything else; mmrotate does not
    clip at all. Vertex order follows :func:`best_start_order`.
    """
    quad = clipped if len(clipped) == 4 else min_area_rect(clipped)
    return best_start_order(quad, ref)
