"""Geometric transforms: rasterised-mask oracles (exact for flips/quarter turns, IoU for warps) and
the ``affine`` bookkeeping (original polygon coords -> current coords, 1e-6)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.data.transforms import (
    Compose,
    RandomHorizontalFlip,
    RandomRot90,
    RandomRotate,
    RandomVerticalFlip,
    clip_polygons,
    clip_to_image,
    hflip,
    letterbox,
    rot90,
    rotate,
    vflip,
)
from gghl.structures import obb_to_poly, poly_area, poly_area_signed

H, W = 37, 53  # non-square so that H/W mix-ups show


def rasterise(poly: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``[8]`` convex polygon -> ``[h, w]`` bool: pixel (i, j) is on when its centre (i+.5, j+.5) is
    inside (either vertex orientation). An oracle independent of the code under test."""
    pts = poly.reshape(4, 2).to(torch.float64)
    out = torch.zeros(h, w, dtype=torch.bool)
    # Only the polygon's bounding box can be on (keeps the supersampled coverage cheap).
    x0, y0 = max(int(pts[:, 0].min()) - 1, 0), max(int(pts[:, 1].min()) - 1, 0)
    x1, y1 = min(int(pts[:, 0].max()) + 2, w), min(int(pts[:, 1].max()) + 2, h)
    if x0 >= x1 or y0 >= y1:
        return out
    ys, xs = torch.meshgrid(
        torch.arange(y0, y1, dtype=torch.float64) + 0.5,
        torch.arange(x0, x1, dtype=torch.float64) + 0.5,
        indexing="ij",
    )
    crosses = []
    for k in range(4):
        p, q = pts[k], pts[(k + 1) % 4]
        crosses.append((q[0] - p[0]) * (ys - p[1]) - (q[1] - p[1]) * (xs - p[0]))
    c = torch.stack(crosses)
    out[y0:y1, x0:x1] = (c >= 0).all(0) | (c <= 0).all(0)
    return out


def coverage(poly: torch.Tensor, h: int, w: int, k: int = 8) -> torch.Tensor:
    """``[h, w]`` float: fraction of each pixel covered by the polygon (k x k supersampling)."""
    fine = rasterise(poly * k, h * k, w * k).float()
    return torch.nn.functional.avg_pool2d(fine[None, None], k)[0, 0]


def make_sample(polys: torch.Tensor, h: int = H, w: int = W, antialias: bool = False) -> dict:
    """Image whose 3 channels hold the masks (or, antialiased, the pixel coverages) of up to 3
    polygons, one polygon per channel."""
    img = torch.zeros(3, h, w)
    for i, p in enumerate(polys[:3]):
        img[i] = coverage(p, h, w) if antialias else rasterise(p, h, w).float()
    n = polys.shape[0]
    return {
        "image": img,
        "polygons": polys.to(torch.float64),
        "labels": torch.arange(n, dtype=torch.int64),
        "difficult": torch.zeros(n, dtype=torch.bool),
        "weights": torch.ones(n, dtype=torch.float32),
        "image_id": "synthetic",
        "orig_size": (h, w),
        "affine": torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64),
    }


def random_polys(seed: int, n: int = 3, h: int = H, w: int = W) -> torch.Tensor:
    """Rotated rectangles plus one trapezoid, all inside the image, non-integer coordinates."""
    g = torch.Generator().manual_seed(seed)
    obb = torch.rand(n, 5, generator=g, dtype=torch.float64)
    obb[:, 0] = w / 2 + (obb[:, 0] - 0.5) * w * 0.3
    obb[:, 1] = h / 2 + (obb[:, 1] - 0.5) * h * 0.3
    scale = min(h / H, w / W)  # objects grow with the image
    obb[:, 2] = (8 + obb[:, 2] * 12) * scale
    obb[:, 3] = (5 + obb[:, 3] * 8) * scale
    obb[:, 4] = (obb[:, 4] - 0.5) * 2 * math.pi
    polys = obb_to_poly(obb)
    # The irrational offset keeps pixel centres off the edges (ties would make the oracle ambiguous).
    trapezoid = torch.tensor([20.3, 10.7, 33.1, 9.9, 37.2, 25.4, 15.6, 24.8], dtype=torch.float64)
    polys[-1] = trapezoid * scale + math.sqrt(2) * 1e-3
    return polys


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum()) / max(float((a | b).sum()), 1.0)


def check_affine(orig: torch.Tensor, out: dict, tol: float = 1e-6) -> None:
    a = out["affine"]
    pts = orig.reshape(-1, 4, 2)
    mapped = (pts @ a[:, :2].T + a[:, 2]).reshape(-1, 8)
    # Vertex order may be permuted by flips: compare per-polygon corner sets.
    d = (mapped.reshape(-1, 4, 1, 2) - out["polygons"].reshape(-1, 1, 4, 2)).norm(dim=-1)
    assert float(d.amin(-1).amax()) < tol and float(d.amin(-2).amax()) < tol


EXACT = {
    "hflip": hflip,
    "vflip": vflip,
    "rot90_1": lambda s: rot90(s, 1),
    "rot90_2": lambda s: rot90(s, 2),
    "rot90_3": lambda s: rot90(s, 3),
    "rot90_-1": lambda s: rot90(s, -1),
}


@pytest.mark.parametrize("name", sorted(EXACT))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_transforms_match_masks(name: str, seed: int) -> None:
    polys = random_polys(seed)
    sample = make_sample(polys)
    out = EXACT[name](sample)
    _, h2, w2 = out["image"].shape
    for i in range(3):
        expected = out["image"][i] > 0.5
        got = rasterise(out["polygons"][i], h2, w2)
        assert bool(torch.equal(expected, got)), f"{name}: polygon {i} mask differs"
        assert int(expected.sum()) > 20
    check_affine(polys, out)
    # Orientation is preserved (flips re-list the vertices), so signed areas keep their sign.
    torch.testing.assert_close(poly_area_signed(out["polygons"]), poly_area_signed(polys))
    # The input dict is not modified.
    assert torch.equal(sample["polygons"], polys)


def test_rot90_explicit() -> None:
    poly = torch.tensor([[1.0, 2.0, 5.0, 2.0, 5.0, 3.0, 1.0, 3.0]])
    out = rot90(make_sample(poly), 1)  # clockwise: (x, y) -> (H - y, x)
    assert out["image"].shape == (3, W, H)
    expected = torch.tensor([[H - 2.0, 1.0, H - 2.0, 5.0, H - 3.0, 5.0, H - 3.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(out["polygons"], expected)
    flipped = hflip(make_sample(poly))
    torch.testing.assert_close(
        flipped["polygons"],
        torch.tensor([[W - 1.0, 2.0, W - 1.0, 3.0, W - 5.0, 3.0, W - 5.0, 2.0]], dtype=torch.float64),
    )


@pytest.mark.parametrize("deg", [17.0, -35.0, 90.0, 133.0])
def test_rotate_matches_nearest_warp(deg: float) -> None:
    # Polygons near the centre of a larger canvas stay inside: compare exact polygon vs warped mask.
    # Objects of >= 30 px per side: nearest-neighbour resampling plus the oracle's own rasterisation
    # each misplace up to half a pixel along the boundary (a 20x6 px box alone loses ~0.1 IoU), with
    # no bias: the mask centroids agree to ~0.1 px.
    h, w = 128, 160
    obb = torch.tensor(
        [[80.0, 64.0, 60.0, 36.0, 0.3], [75.0, 61.0, 45.0, 45.0, -0.2], [85.0, 67.0, 66.0, 30.0, 1.1]],
        dtype=torch.float64,
    )
    polys = obb_to_poly(obb)
    sample = make_sample(polys, h, w)
    out = rotate(sample, math.radians(deg), mode="nearest", fill=0.0, min_visible=0.5)
    assert out["polygons"].shape[0] == 3
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    for i in range(3):
        got = rasterise(out["polygons"][i], h, w)
        warped = out["image"][i] > 0.5
        assert iou(warped, got) > 0.95
        for grid in (xs, ys):
            centroid_gap = (grid * warped).sum() / warped.sum() - (grid * got).sum() / got.sum()
            assert abs(float(centroid_gap)) < 0.2
    check_affine(polys, out)  # unclipped polygons are rotated exactly
    torch.testing.assert_close(poly_area(out["polygons"]), poly_area(polys))


def test_rotate_expand_keeps_everything() -> None:
    polys = torch.tensor([[0.5, 0.5, 10.0, 0.5, 10.0, 6.0, 0.5, 6.0]], dtype=torch.float64)  # in a corner
    sample = make_sample(polys)
    out = rotate(sample, math.radians(30), expand=True, mode="nearest", fill=0.0)
    _, h2, w2 = out["image"].shape
    assert (h2, w2) == (
        math.ceil(H * math.cos(math.pi / 6) + W * 0.5),
        math.ceil(W * math.cos(math.pi / 6) + H * 0.5),
    )
    assert out["polygons"].shape[0] == 1
    check_affine(polys, out)
    assert iou(out["image"][0] > 0.5, rasterise(out["polygons"][0], h2, w2)) > 0.85  # small object


def test_rotate_clips_and_drops() -> None:
    # A box straddling the right edge: ~60 % visible after a 180 deg turn it is at the left edge;
    # a box almost fully outside after rotation is dropped.
    h, w = 40, 40
    polys = torch.tensor(
        [
            [28.0, 10.0, 44.0, 10.0, 44.0, 20.0, 28.0, 20.0],  # 12/16 = 75 % inside
            [37.0, 25.0, 57.0, 25.0, 57.0, 35.0, 37.0, 35.0],  # 3/20 = 15 % inside
            [10.0, 10.0, 20.0, 10.0, 20.0, 20.0, 10.0, 20.0],  # fully inside
        ],
        dtype=torch.float64,
    )
    sample = make_sample(polys, h, w)
    out = clip_to_image(sample, min_visible=0.5)
    assert out["labels"].tolist() == [0, 2]
    assert out["weights"].shape == (2,) and out["difficult"].shape == (2,)
    # The clipped box is re-fitted to its visible part [28, 40] x [10, 20].
    xs, ys = out["polygons"][0, 0::2], out["polygons"][0, 1::2]
    assert (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())) == pytest.approx(
        (28, 40, 10, 20)
    )
    torch.testing.assert_close(out["polygons"][1], polys[2])
    assert clip_to_image(sample, min_visible=0.1)["labels"].tolist() == [0, 1, 2]
    rotated = rotate(sample, math.pi, min_visible=0.5)
    assert rotated["labels"].tolist() == [0, 2]


def test_clip_polygons_octagon_and_area() -> None:
    # A diamond around the image centre larger than the image: clipped to 8 vertices.
    diamond = torch.tensor([[5.0, -3.0, 13.0, 5.0, 5.0, 13.0, -3.0, 5.0]], dtype=torch.float64)
    pts, cnt = clip_polygons(diamond, 10, 10)
    assert int(cnt[0]) == 8
    # Square minus 4 corner triangles of legs 2: 100 - 4 * 2 = 92.
    assert float(poly_area(pts.reshape(1, -1))) == pytest.approx(92.0)
    outside = torch.tensor([[20.0, 20.0, 30.0, 20.0, 30.0, 30.0, 20.0, 30.0]], dtype=torch.float64)
    _, cnt = clip_polygons(outside, 10, 10)
    assert int(cnt[0]) == 0


# Upscaling (x1.2) and downscaling (x0.4, antialiased) with objects >= 20 px after resizing.
@pytest.mark.parametrize(("h", "w", "size"), [(74, 106, 128), (106, 74, 128), (240, 180, 96)])
def test_letterbox_geometry(h: int, w: int, size: int) -> None:
    polys = random_polys(3, h=h, w=w)
    # Coverage images: thresholding the resampled coverage at 0.5 puts the boundary where the
    # polygon edge is (a binary input image would add its own half-pixel quantisation).
    sample = make_sample(polys, h, w, antialias=True)
    out = letterbox(sample, size, pad_value=0.25)
    assert out["image"].shape == (3, size, size)
    check_affine(polys, out)
    a = out["affine"]
    r = min(size / w, size / h)
    assert float(a[0, 0]) == pytest.approx(r, rel=0.02) and float(a[1, 1]) == pytest.approx(r, rel=0.02)
    # Centred padding with the requested value.
    nw, nh = round(w * r), round(h * r)
    dx, dy = (size - nw) // 2, (size - nh) // 2
    assert (float(a[0, 2]), float(a[1, 2])) == (dx, dy)
    if dx > 0:
        assert torch.all(out["image"][:, :, :dx] == 0.25)
    if dy > 0:
        assert torch.all(out["image"][:, :dy, :] == 0.25)
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    for i in range(3):
        resized = out["image"][i] > 0.5
        got = rasterise(out["polygons"][i], size, size)
        assert iou(resized, got) > 0.97
        for grid in (xs, ys):  # no half-pixel bias between image and polygons
            centroid_gap = (grid * resized).sum() / resized.sum() - (grid * got).sum() / got.sum()
            assert abs(float(centroid_gap)) < 0.15


def test_compose_chain_affine_and_determinism() -> None:
    polys = random_polys(5)
    sample = make_sample(polys)
    pipeline = Compose(
        [
            RandomVerticalFlip(0.5),
            RandomHorizontalFlip(0.5),
            RandomRot90(0.5),
            lambda s: letterbox(s, 96),
            RandomRotate(1.0, degrees=(-10, 10), expand=True, min_visible=0.0),
        ]
    )
    outs = [pipeline(sample, torch.Generator().manual_seed(s)) for s in (7, 7, 8)]
    assert torch.equal(outs[0]["image"], outs[1]["image"])
    assert torch.equal(outs[0]["polygons"], outs[1]["polygons"])
    for out in outs:
        assert out["polygons"].shape[0] == 3  # expand=True: nothing is clipped
        check_affine(polys, out)
        # The inverse affine maps current polygons back to the original file exactly.
        a = out["affine"]
        inv = torch.linalg.inv(a[:, :2])
        back = ((out["polygons"].reshape(-1, 4, 2) - a[:, 2]) @ inv.T).reshape(-1, 8)
        d = (back.reshape(-1, 4, 1, 2) - polys.reshape(-1, 1, 4, 2)).norm(dim=-1)
        assert float(d.amin(-1).amax()) < 1e-6


def test_bad_samples_raise_clear_errors() -> None:
    with pytest.raises(KeyError, match="polygons"):
        hflip({"image": torch.zeros(3, 4, 4)})
    with pytest.raises(ValueError, match=r"Tensor\[N, 8\]"):
        hflip({"image": torch.zeros(3, 4, 4), "polygons": torch.zeros(2, 4)})
    with pytest.raises(ValueError, match="entries"):
        vflip({"image": torch.zeros(3, 4, 4), "polygons": torch.zeros(2, 8), "labels": torch.zeros(3)})
    with pytest.raises(ValueError, match="image"):
        rot90({"image": torch.zeros(4, 4), "polygons": torch.zeros(0, 8)})


@settings(max_examples=60, deadline=None)
@given(
    cx=st.floats(-20, 60),
    cy=st.floats(-20, 50),
    w=st.floats(0.5, 60),
    h=st.floats(0.5, 40),
    a=st.floats(-math.pi, math.pi),
)
def test_clip_area_matches_shapely(cx: float, cy: float, w: float, h: float, a: float) -> None:
    shapely = pytest.importorskip("shapely.geometry")
    poly = obb_to_poly(torch.tensor([[cx, cy, w, h, a]], dtype=torch.float64))
    pts, cnt = clip_polygons(poly, H, W)
    expected = shapely.Polygon(poly.reshape(4, 2).tolist()).intersection(shapely.box(0, 0, W, H)).area
    assert float(poly_area(pts.reshape(1, -1))) == pytest.approx(expected, abs=1e-9)
    assert int(cnt[0]) <= 8
    # Every clipped vertex lies in the image.
    v = pts[0, : int(cnt[0])]
    assert bool(
        ((v[:, 0] >= -1e-9) & (v[:, 0] <= W + 1e-9) & (v[:, 1] >= -1e-9) & (v[:, 1] <= H + 1e-9)).all()
    )
    # clip_to_image keeps the object iff at least min_visible of its area is inside.
    frac = expected / (w * h)
    out = clip_to_image(make_sample(poly), min_visible=0.5)
    if abs(frac - 0.5) > 1e-6:
        assert (out["polygons"].shape[0] == 1) == (frac >= 0.5)
