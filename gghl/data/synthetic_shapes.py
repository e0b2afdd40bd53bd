"""Object classes of the synthetic oriented dataset: shape masks, colours and aspect ranges.

Each shape is defined in the object's normalised local frame: ``un = u / (w/2)`` along the long side
(``w``), ``vn = v / (h/2)`` along the short side, both in [-1, 1]. The shape touches all four sides
of that rectangle, so the oriented rectangle ``(cx, cy, w, h, a)`` is exactly the object's tight
oriented box (the ground-truth polygon).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# mask_fn(un, vn) -> (mask bool, secondary bool): which pixels belong to the object and which of
# those take the secondary colour (texture).
MaskFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ShapeClass:
    """One synthetic class: ``name``, colours (RGB uint8), long/short aspect range, angle freedom."""

    name: str
    color: tuple[int, int, int]
    secondary: tuple[int, int, int]
    aspect: tuple[float, float]
    mask_fn: MaskFn
    rotation_invariant: bool = False  # drawn axis-aligned (angle 0): its angle is not observable


def _inside(un: np.ndarray, vn: np.ndarray) -> np.ndarray:
    return (np.abs(un) <= 1.0) & (np.abs(vn) <= 1.0)


def _plane(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fuselage = np.abs(vn) <= 0.22
    wings = np.abs(un - 0.1) <= 0.16
    tail = (un <= -0.72) & (np.abs(vn) <= 0.5)
    m = _inside(un, vn) & (fuselage | wings | tail)
    return m, np.zeros_like(m)


def _vehicle(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = _inside(un, vn)
    sec = (np.abs(un) > 0.85) | (np.abs(vn) > 0.7) | ((un > 0.35) & (un < 0.6))
    return m, sec


def _ship(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = un * un + vn * vn <= 1.0
    sec = (np.floor((un + 1.0) * 4.0).astype(np.int64) % 2) == 1
    return m, sec


def _tank(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r2 = un * un + vn * vn
    m = (r2 <= 1.0) & (r2 >= 0.45 * 0.45)
    return m, np.zeros_like(m)


def _court(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = _inside(un, vn)
    cu = np.floor((un + 1.0) * 2.5).astype(np.int64)
    cv = np.floor((vn + 1.0) * 1.5).astype(np.int64)
    return m, ((cu + cv) % 2) == 1


def _arrow(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = _inside(un, vn) & (np.abs(vn) <= (1.0 - un) * 0.5)
    return m, np.zeros_like(m)


def _frame(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = _inside(un, vn) & ((np.abs(un) > 0.65) | (np.abs(vn) > 0.5))
    return m, np.zeros_like(m)


def _dots(un: np.ndarray, vn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = _inside(un, vn)
    fu = (un + 1.0) * 2.0 % 1.0 - 0.5
    fv = (vn + 1.0) * 1.5 % 1.0 - 0.5
    return m, fu * fu + fv * fv < 0.09


SHAPE_CLASSES: tuple[ShapeClass, ...] = (
    ShapeClass("plane", (235, 235, 235), (235, 235, 235), (1.0, 1.5), _plane),
    ShapeClass("vehicle", (205, 40, 40), (90, 15, 15), (1.5, 3.0), _vehicle),
    ShapeClass("ship", (40, 80, 215), (225, 225, 245), (2.5, 8.0), _ship),
    ShapeClass("storage-tank", (235, 205, 40), (235, 205, 40), (1.0, 1.0), _tank, rotation_invariant=True),
    ShapeClass("court", (35, 165, 60), (240, 240, 240), (1.2, 2.2), _court),
    ShapeClass("arrow", (240, 125, 20), (240, 125, 20), (1.0, 2.5), _arrow),
    ShapeClass("frame", (165, 40, 205), (165, 40, 205), (1.0, 2.0), _frame),
    ShapeClass("dots", (20, 205, 205), (15, 60, 60), (1.0, 2.0), _dots),
)
