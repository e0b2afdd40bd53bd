"""Synthetic oriented-object images: the embedded default dataset (``data=synthetic``).

Every image is drawn procedurally from ``np.random.default_rng([seed, index])``, so a sample is a
pure function of ``(seed, index, generator settings)``. Objects come from
``gghl.data.synthetic_shapes.SHAPE_CLASSES`` (plane cross, vehicle, striped ship, ring storage tank,
checker court, and up to 3 more); each is drawn at any angle (rotation-invariant rings stay at angle
0, whose true angle is unobservable), long side log-uniform in ``[min_size, max_size]`` (given for a
320 px image and scaled with the image), aspect up to ``max_aspect``, on a textured background with
clutter (lines, blobs) and pixel noise. A pixel belongs to an object when its centre
``(x + 0.5, y + 0.5)`` is inside the shape; the polygon is the exact oriented rectangle of the shape
(``gghl.structures.obb_to_poly`` corner order). ``difficult_prob`` of the objects are drawn faded
(50 % blend) and flagged ``difficult``. Overlap between objects is limited by ``max_overlap``
(intersection over the smaller object's drawn area).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from gghl.data.collate import make_sample
from gghl.data.synthetic_shapes import SHAPE_CLASSES, ShapeClass

REF_SIZE = 320.0


@dataclass
class SyntheticImage:
    """One generated image: ``image`` uint8 [H,W,3] RGB; ``polygons`` float64 [N,8] pixels;
    ``labels`` int64 [N]; ``difficult`` bool [N]; ``obb`` float64 [N,5] ``(cx,cy,w,h,a)`` w >= h."""

    image: np.ndarray
    polygons: np.ndarray
    labels: np.ndarray
    difficult: np.ndarray
    obb: np.ndarray


def synthetic_class_names(num_classes: int = 5) -> list[str]:
    """Names of the first ``num_classes`` synthetic classes (1..8)."""
    if not 1 <= num_classes <= len(SHAPE_CLASSES):
        raise ValueError(f"num_classes must be in 1..{len(SHAPE_CLASSES)}, got {num_classes}")
    return [c.name for c in SHAPE_CLASSES[:num_classes]]


def _obb_corners(cx: float, cy: float, w: float, h: float, a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    dx = np.array([-w / 2, w / 2, w / 2, -w / 2])
    dy = np.array([-h / 2, -h / 2, h / 2, h / 2])
    return np.stack([cx + dx * c - dy * s, cy + dx * s + dy * c], axis=-1).reshape(8)


class SyntheticGenerator:
    """Draws synthetic images. See the module docstring for the content; all sizes in pixels.

    Args:
        img_size: ``S`` (square) or ``(H, W)``.
        num_classes: 1..8 classes (default 5).
        min_objects, max_objects: object count per image (uniform; fewer if placement fails).
        min_size, max_size: long side range for a 320 px image (scaled by ``min(H, W) / 320``).
        max_aspect: largest long/short ratio.
        max_overlap: largest intersection / smaller-area between two objects' drawn pixels.
        difficult_prob: probability that an object is faded and flagged difficult.
        clutter: number range of distractor lines and blobs (``0`` disables).
        noise: std-like amplitude of pixel grain in grey levels.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 320,
        num_classes: int = 5,
        min_objects: int = 3,
        max_objects: int = 12,
        min_size: float = 16.0,
        max_size: float = 120.0,
        max_aspect: float = 8.0,
        max_overlap: float = 0.2,
        difficult_prob: float = 0.05,
        clutter: int = 6,
        noise: int = 8,
    ) -> None:
        self.height, self.width = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.classes: tuple[ShapeClass, ...] = SHAPE_CLASSES[:num_classes]
        self.class_names = synthetic_class_names(num_classes)
        self.num_classes = num_classes
        if not (0 <= min_objects <= max_objects):
            raise ValueError(f"need 0 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
        self.min_objects, self.max_objects = min_objects, max_objects
        scale = min(self.height, self.width) / REF_SIZE
        self.min_size, self.max_size = min_size * scale, max_size * scale
        self.min_short = max(6.0, 8.0 * scale)
        self.max_aspect = max_aspect
        self.max_overlap = max_overlap
        self.difficult_prob = difficult_prob
        self.clutter = clutter
        self.noise = noise

    # ------------------------------------------------------------------ background
    def _background(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Smooth tinted field + pixel grain: (``uint8 [H, W, 3]`` image, ``int16 [H, W]`` grain).

        Cheap by construction (it runs for every sample in the loader workers): the field is a
        bilinear upsampling of a 5x5 random grid, evaluated on a 4x coarser grid without BLAS
        (BLAS calls of these shapes were 10-50x slower on a shared 2-core machine) and repeated
        to full size (its steps are < 2 grey levels, below the grain); the RGB image is one
        table look-up ``lut[field + grain]`` instead of per-channel float arithmetic.
        """
        H, W = self.height, self.width
        hs, ws = -(-H // 4), -(-W // 4)

        def interp(n: int) -> np.ndarray:  # [n, 5] bilinear weights (align_corners=False)
            pos = np.clip((np.arange(n, dtype=np.float64) + 0.5) * 5.0 / n - 0.5, 0.0, 4.0)
            i0 = np.minimum(np.floor(pos).astype(np.int64), 3)
            f = pos - i0
            m = np.zeros((n, 5), dtype=np.float64)
            m[np.arange(n), i0] = 1.0 - f
            m[np.arange(n), i0 + 1] += f
            return m

        amp = 35
        rows = interp(hs).dot(rng.uniform(-amp, amp, size=(5, 5)))  # [hs, 5]
        cols = interp(ws)  # [ws, 5]
        small = sum(rows[:, k, None] * cols[None, :, k] for k in range(5))  # [hs, ws]
        small = np.rint(small).astype(np.int16) + (amp + self.noise)  # in [0, 2 * (amp + noise)]
        idx = np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)[:H, :W]
        grain = (
            rng.integers(-self.noise, self.noise + 1, size=(H, W), dtype=np.int16)
            if self.noise > 0
            else np.zeros((H, W), dtype=np.int16)
        )
        idx += grain
        base = rng.uniform(70, 140) + rng.uniform(-30, 30, size=3)
        levels = np.arange(2 * (amp + self.noise) + 1, dtype=np.float64) - (amp + self.noise)
        lut = np.clip(np.rint(base[None, :] + levels[:, None]), 0, 255).astype(np.uint8)
        return np.take(lut, idx, axis=0), grain

    def _clutter(self, img: np.ndarray, rng: np.random.Generator) -> None:
        H, W = self.height, self.width
        for _ in range(int(rng.integers(0, self.clutter + 1))):  # roads / field edges
            x0, y0, x1, y1 = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0, W), rng.uniform(0, H)
            width = rng.uniform(1.0, 3.5)
            col = rng.integers(40, 201, size=3).astype(np.uint8)
            xa, xb = int(max(min(x0, x1) - width, 0)), int(min(max(x0, x1) + width + 1, W))
            ya, yb = int(max(min(y0, y1) - width, 0)), int(min(max(y0, y1) + width + 1, H))
            if xb <= xa or yb <= ya:
                continue
            xs = np.arange(xa, xb, dtype=np.float32) + 0.5
            ys = np.arange(ya, yb, dtype=np.float32)[:, None] + 0.5
            dx, dy = x1 - x0, y1 - y0
            norm = max(math.hypot(dx, dy), 1e-6)
            dist = np.abs((xs - x0) * dy - (ys - y0) * dx) / norm
            img[ya:yb, xa:xb][dist <= width / 2] = col
        for _ in range(int(rng.integers(0, self.clutter + 1))):  # soft blobs (bushes, shadows)
            r = rng.uniform(2.0, 7.0) * min(H, W) / REF_SIZE
            cx, cy = rng.uniform(0, W), rng.uniform(0, H)
            xa, xb = int(max(cx - r, 0)), int(min(cx + r + 1, W))
            ya, yb = int(max(cy - r, 0)), int(min(cy + r + 1, H))
            if xb <= xa or yb <= ya:
                continue
            xs = np.arange(xa, xb, dtype=np.float32) + 0.5 - cx
            ys = np.arange(ya, yb, dtype=np.float32)[:, None] + 0.5 - cy
            img[ya:yb, xa:xb][xs * xs + ys * ys <= r * r] = rng.integers(20, 91, size=3).astype(np.uint8)

    # ------------------------------------------------------------------ objects
    def _sample_box(
        self, cls: ShapeClass, rng: np.random.Generator
    ) -> tuple[float, float, float, float, float]:
        H, W = self.height, self.width
        long = math.exp(rng.uniform(math.log(self.min_size), math.log(self.max_size)))
        lo, hi = cls.aspect
        aspect = min(
            rng.uniform(lo, min(hi, self.max_aspect)) if hi > lo else lo, max(long / self.min_short, 1.0)
        )
        short = long / aspect
        a = 0.0 if cls.rotation_invariant else rng.uniform(-math.pi / 2, math.pi / 2)
        ex = (long * abs(math.cos(a)) + short * abs(math.sin(a))) / 2
        ey = (long * abs(math.sin(a)) + short * abs(math.cos(a))) / 2
        ex, ey = min(ex, W / 2), min(ey, H / 2)
        return rng.uniform(ex, W - ex), rng.uniform(ey, H - ey), long, short, a

    @staticmethod
    def _rasterize(cls: ShapeClass, box: tuple[float, float, float, float, float], H: int, W: int):
        cx, cy, w, h, a = box
        ex = (w * abs(math.cos(a)) + h * abs(math.sin(a))) / 2
        ey = (w * abs(math.sin(a)) + h * abs(math.cos(a))) / 2
        x0, x1 = max(int(math.floor(cx - ex)), 0), min(int(math.ceil(cx + ex)), W)
        y0, y1 = max(int(math.floor(cy - ey)), 0), min(int(math.ceil(cy + ey)), H)
        # pixel centres relative to the box centre; float32 is ample for the masks (sub-1e-4 px)
        dx = (np.arange(x0, x1, dtype=np.float64) + 0.5 - cx).astype(np.float32)[None, :]
        dy = (np.arange(y0, y1, dtype=np.float64) + 0.5 - cy).astype(np.float32)[:, None]
        c, s = math.cos(a), math.sin(a)
        un = dx * np.float32(c / (w / 2)) + dy * np.float32(s / (w / 2))  # local frame: inverse rotation
        vn = dx * np.float32(-s / (h / 2)) + dy * np.float32(c / (h / 2))
        mask, sec = cls.mask_fn(un, vn)
        return (y0, y1, x0, x1), mask, sec

    @staticmethod
    def _overlap(win_a, mask_a, area_a: float, win_b, mask_b, area_b: float) -> float:
        """Intersection of two drawn masks (given in their windows) over the smaller area."""
        y0, y1 = max(win_a[0], win_b[0]), min(win_a[1], win_b[1])
        x0, x1 = max(win_a[2], win_b[2]), min(win_a[3], win_b[3])
        if y0 >= y1 or x0 >= x1:
            return 0.0
        ma = mask_a[y0 - win_a[0] : y1 - win_a[0], x0 - win_a[2] : x1 - win_a[2]]
        mb = mask_b[y0 - win_b[0] : y1 - win_b[0], x0 - win_b[2] : x1 - win_b[2]]
        return float(np.count_nonzero(ma & mb)) / max(min(area_a, area_b), 1.0)

    def render(self, seed: int, index: int) -> SyntheticImage:
        """Draw image ``index`` of the dataset with ``seed`` (deterministic)."""
        rng = np.random.default_rng([int(seed), int(index)])
        H, W = self.height, self.width
        img, grain = self._background(rng)
        self._clutter(img, rng)
        n_target = int(rng.integers(self.min_objects, self.max_objects + 1))
        placed: list[tuple] = []
        boxes, labels, difficult = [], [], []
        for _ in range(n_target):
            label = int(rng.integers(0, self.num_classes))
            cls = self.classes[label]
            for _try in range(20):
                box = self._sample_box(cls, rng)
                win, mask, sec = self._rasterize(cls, box, H, W)
                area = float(np.count_nonzero(mask))
                if area > 0 and all(
                    self._overlap(win, mask, area, pw, pm, pa) <= self.max_overlap for pw, pm, pa in placed
                ):
                    break
            else:
                continue
            placed.append((win, mask, area))
            jitter = rng.uniform(-22, 22, size=3) + rng.uniform(-15, 15)
            col = np.clip(np.asarray(cls.color) + jitter, 0, 255).astype(np.float32)
            col2 = np.clip(np.asarray(cls.secondary) + jitter, 0, 255).astype(np.float32)
            is_difficult = bool(rng.random() < self.difficult_prob)
            y0, y1, x0, x1 = win
            region = img[y0:y1, x0:x1]
            # paint only the object's pixels (windows of long thin objects are mostly background)
            paint = np.where(sec[mask][:, None], col2, col) + grain[y0:y1, x0:x1][mask][:, None]
            if is_difficult:
                paint = 0.5 * paint + 0.5 * region[mask]
            region[mask] = np.clip(paint, 0, 255).astype(np.uint8)
            boxes.append(box)
            labels.append(label)
            difficult.append(is_difficult)
        out = img
        obb = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
        polys = np.stack([_obb_corners(*b) for b in boxes]) if boxes else np.zeros((0, 8))
        return SyntheticImage(
            image=out,
            polygons=polys.astype(np.float64),
            labels=np.asarray(labels, dtype=np.int64),
            difficult=np.asarray(difficult, dtype=bool),
            obb=obb,
        )


class SyntheticOrientedDataset(Dataset):
    """``length`` synthetic images as gghl samples (see ``gghl.data.collate``); ``image_id`` is
    ``"syn<seed>_<index:06d>"``. Extra keyword arguments go to ``SyntheticGenerator``.

    Args:
        length: number of images. img_size: generated size (``S`` or ``(H, W)``).
        num_classes: 1..8. seed: dataset seed (use different seeds for train/val/test).
        transform: ``sample -> sample`` (augmentation / letterbox), applied in ``__getitem__``.
    """

    def __init__(
        self,
        length: int = 400,
        img_size: int | tuple[int, int] = 320,
        num_classes: int = 5,
        seed: int = 0,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        **generator_kwargs: Any,
    ) -> None:
        self.length = int(length)
        self.seed = int(seed)
        self.generator = SyntheticGenerator(img_size=img_size, num_classes=num_classes, **generator_kwargs)
        self.class_names = self.generator.class_names
        self.num_classes = num_classes
        self.transform = transform

    def __len__(self) -> int:
        return self.length

    def image_id(self, index: int) -> str:
        return f"syn{self.seed}_{index:06d}"

    def render(self, index: int) -> SyntheticImage:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} synthetic images")
        return self.generator.render(self.seed, index)

    def load_raw(self, index: int) -> dict[str, Any]:
        """Untransformed sample (identity ``affine``)."""
        r = self.render(index)
        return make_sample(r.image, r.polygons, r.labels, r.difficult, self.image_id(index))

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``transform(load_raw(index))`` (for letterboxed/augmented views see ``DetectionSplit``)."""
        sample = self.load_raw(int(index))
        return sample if self.transform is None else self.transform(sample)
