"""Synthetic oriented objects: determinism, exact tight polygons, size/aspect/overlap limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gghl.data.synthetic import SyntheticGenerator, SyntheticOrientedDataset, synthetic_class_names
from gghl.data.synthetic_shapes import SHAPE_CLASSES
from gghl.structures import canonicalize_obb, obb_to_poly, poly_to_obb


def test_deterministic_per_seed_and_index() -> None:
    a = SyntheticOrientedDataset(4, img_size=128, seed=7)
    b = SyntheticOrientedDataset(4, img_size=128, seed=7)
    c = SyntheticOrientedDataset(4, img_size=128, seed=8)
    for i in (3, 0):  # access order does not matter
        ra, rb, rc = a.render(i), b.render(i), c.render(i)
        assert np.array_equal(ra.image, rb.image) and np.array_equal(ra.polygons, rb.polygons)
        assert np.array_equal(ra.labels, rb.labels) and np.array_equal(ra.difficult, rb.difficult)
        assert not np.array_equal(ra.image, rc.image)
    assert not np.array_equal(a.render(0).image, a.render(1).image)


def test_polygons_are_the_oriented_boxes() -> None:
    g = SyntheticGenerator(img_size=(240, 320), num_classes=8)
    for i in range(5):
        r = g.render(1, i)
        assert r.image.shape == (240, 320, 3) and r.image.dtype == np.uint8
        torch.testing.assert_close(torch.from_numpy(r.polygons), obb_to_poly(torch.from_numpy(r.obb)))
        fitted = poly_to_obb(torch.from_numpy(r.polygons))
        torch.testing.assert_close(fitted, canonicalize_obb(torch.from_numpy(r.obb)), atol=1e-6, rtol=0)
        xy = r.polygons.reshape(-1, 4, 2)
        assert (xy[..., 0] >= -1e-9).all() and (xy[..., 0] <= 320 + 1e-9).all()
        assert (xy[..., 1] >= -1e-9).all() and (xy[..., 1] <= 240 + 1e-9).all()


@pytest.mark.parametrize("cls", SHAPE_CLASSES, ids=lambda c: c.name)
def test_shapes_touch_all_four_sides_of_their_box(cls) -> None:
    # tightness: the drawn shape reaches each side of its local rectangle (so the polygon is exact)
    t = np.linspace(-1, 1, 401)
    un, vn = np.meshgrid(t, t)
    mask, _ = cls.mask_fn(un, vn)
    assert mask.any()
    assert un[mask].min() < -0.98 and un[mask].max() > 0.98
    assert vn[mask].min() < -0.98 and vn[mask].max() > 0.98


def test_sizes_counts_aspect_and_rotation_invariant_class() -> None:
    g = SyntheticGenerator(img_size=320, min_objects=3, max_objects=12, max_aspect=8.0)
    n_total, labels_seen, n_diff = 0, set(), 0
    for i in range(30):
        r = g.render(0, i)
        assert len(r.labels) <= 12
        n_total += len(r.labels)
        labels_seen |= set(r.labels.tolist())
        n_diff += int(r.difficult.sum())
        w, h, a = r.obb[:, 2], r.obb[:, 3], r.obb[:, 4]
        assert (w >= h - 1e-9).all() and (w >= 16 - 1e-6).all() and (w <= 120 + 1e-6).all()
        assert (w / h <= 8.0 + 1e-6).all() and (h >= 6.0 - 1e-9).all()
        tank = r.labels == 3
        assert np.all(a[tank] == 0.0) and np.allclose(w[tank], h[tank])
    assert labels_seen == set(range(5))
    assert 3 * 30 * 0.8 <= n_total and n_diff < n_total * 0.2
    assert synthetic_class_names(5) == ["plane", "vehicle", "ship", "storage-tank", "court"]
    with pytest.raises(ValueError):
        synthetic_class_names(9)


def test_objects_are_drawn_where_the_polygon_is() -> None:
    g = SyntheticGenerator(img_size=256, min_objects=1, max_objects=1, clutter=0, noise=0, difficult_prob=0.0)
    for i in range(6):
        r = g.render(5, i)
        cx, cy, w, h, a = r.obb[0]
        ys, xs = np.mgrid[0:256, 0:256] + 0.5
        u = (xs - cx) * math.cos(a) + (ys - cy) * math.sin(a)
        v = -(xs - cx) * math.sin(a) + (ys - cy) * math.cos(a)
        inside = (np.abs(u) <= w / 2 - 1) & (np.abs(v) <= h / 2 - 1)
        outside = (np.abs(u) >= w / 2 + 1) | (np.abs(v) >= h / 2 + 1)
        col = np.asarray(SHAPE_CLASSES[int(r.labels[0])].color, dtype=np.float64)
        dist = np.abs(r.image.astype(np.float64) - col).sum(-1)
        near = dist < 80  # pixels of the object's main colour (jitter <= 37 per channel)
        assert near[inside].any(), "object colour inside its polygon"
        assert near[outside].mean() < 0.02, "object colour barely outside its polygon"


def test_overlap_is_limited() -> None:
    g = SyntheticGenerator(img_size=200, min_objects=12, max_objects=12, max_overlap=0.0, clutter=0)
    for i in range(3):
        r = g.render(2, i)
        assert len(r.labels) >= 3
        # with max_overlap 0 the drawn masks are disjoint: re-rasterize and check
        masks = np.zeros((200, 200), dtype=np.int64)
        for k, box in enumerate(r.obb):
            (y0, y1, x0, x1), m, _ = g._rasterize(g.classes[int(r.labels[k])], tuple(box), 200, 200)
            masks[y0:y1, x0:x1] += m
        assert masks.max() <= 1


def test_dataset_sample_format() -> None:
    ds = SyntheticOrientedDataset(3, img_size=96, seed=1)
    s = ds[2]
    assert s["image"].shape == (3, 96, 96) and s["image"].dtype == torch.float32
    assert 0.0 <= float(s["image"].min()) and float(s["image"].max()) <= 1.0
    assert s["image_id"] == "syn1_000002" and s["orig_size"] == (96, 96)
    with pytest.raises(IndexError):
        ds.render(3)
