"""Draw predictions on images with PIL (no OpenCV): oriented / horizontal boxes, class names, scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

# Distinct, readable colours (tab10); class i gets PALETTE[i % 10].
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip


def draw_detections(
    image: np.ndarray,
    polygons: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    min_score: float = 0.0,
    width: int = 2,
) -> Image.Image:
    """``image`` uint8 ``[H, W, 3]`` with each detection's quadrilateral (``[K, 8]`` pixels; an HBB is a
    quadrilateral too) outlined in its class colour and ``"name score"`` at its first corner.

    Only detections with ``score >= min_score`` are drawn (the files keep all of them).
    """
    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    for poly, score, label in zip(polygons, scores, labels):
        if float(score) < min_score or not np.isfinite(poly).all():
            continue
        colour = PALETTE[int(label) % len(PALETTE)]
        pts = [(float(poly[2 * i]), float(poly[2 * i + 1])) for i in range(4)]
        draw.line([*pts, pts[0]], fill=colour, width=width)
        name = class_names[int(label)] if 0 <= int(label) < len(class_names) else str(int(label))
        text = f"{name} {float(score):.2f}"
        x, y = min(p[0] for p in pts), min(p[1] for p in pts)
        box = draw.textbbox((x, y), text)
        ty = y - (box[3] - box[1]) - 2 if y - (box[3] - box[1]) - 2 >= 0 else y  # above the box when it fits
        box = draw.textbbox((x, ty), text)
        draw.rectangle(box, fill=colour)
        draw.text((x, ty), text, fill=(255, 255, 255))
    return img


def draw_label(image: np.ndarray, text: str) -> Image.Image:
    """``image`` with ``text`` (e.g. the top class and probability) on a dark band at the top-left."""
    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    draw = ImageDraw.Draw(img)
    box = draw.textbbox((2, 2), text)
    draw.rectangle(box, fill=(0, 0, 0))
    draw.text((2, 2), text, fill=(255, 255, 0))
    return img
