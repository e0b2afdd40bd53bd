"""Split a synthetic large image, use its patch labels as perfect detections, merge: objects come back."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from shapely.geometry import Polygon

from gghl.data.dota_merge import merge_detections
from gghl.data.dota_split import split_dataset
from gghl.data.tiling import Detections, parse_patch_name
from gghl.structures import obb_to_poly

CLASSES = ["plane", "ship", "small-vehicle"]


def _scene(
    width: int, height: int, n: int, max_w: float, max_h: float, seed: int
) -> list[tuple[np.ndarray, str, int]]:
    """Random non-overlapping oriented rectangles (polygon, class, difficult) inside the image."""
    rng = np.random.default_rng(seed)
    objs: list[tuple[np.ndarray, str, int]] = []
    shapes: list[Polygon] = []
    while len(objs) < n:
        w, h = rng.uniform(12, max_w), rng.uniform(8, max_h)
        obb = torch.tensor([*rng.uniform([0, 0], [width, height]), w, h, rng.uniform(-math.pi, math.pi)])
        poly = obb_to_poly(obb.double()).numpy().round(1)
        xy = poly.reshape(4, 2)
        if xy.min() < 0 or xy[:, 0].max() > width or xy[:, 1].max() > height:
            continue
        shp = Polygon(xy)
        if any(shp.distance(s) < 2 for s in shapes):
            continue
        shapes.append(shp)
        objs.append((poly, CLASSES[int(rng.integers(len(CLASSES)))], int(rng.integers(2))))
    return objs


def _write_src(
    root: Path, name: str, width: int, height: int, objs: list[tuple[np.ndarray, str, int]]
) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labelTxt").mkdir(parents=True, exist_ok=True)
    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[..., 0] = np.arange(width, dtype=np.uint32)[None, :] % 251  # cheap structure, compresses fast
    Image.fromarray(img).save(root / "images" / f"{name}.png", compress_level=1)
    lines = ["imagesource:synthetic\n", "gsd:null\n"]
    lines += [" ".join(f"{v:g}" for v in p) + f" {c} {d}\n" for p, c, d in objs]
    (root / "labelTxt" / f"{name}.txt").write_text("".join(lines))


def _patch_labels_as_detections(dst: Path) -> dict[str, Detections]:
    """Each patch label becomes a detection; whole objects score 1.0, truncated pieces (flag 2) 0.5."""
    out = {}
    for f in sorted((dst / "labelTxt").glob("*.txt")):
        rows = [line.split() for line in f.read_text().splitlines() if line.strip()]
        polys = torch.tensor([[float(v) for v in r[:8]] for r in rows], dtype=torch.float64).reshape(-1, 8)
        scores = torch.tensor([0.5 if r[9] == "2" else 1.0 for r in rows], dtype=torch.float64)
        labels = torch.tensor([CLASSES.index(r[8]) for r in rows], dtype=torch.int64)
        out[f.stem] = Detections(polys, scores, labels)
    return out


def _assert_recovered(merged: Detections, objs: list[tuple[np.ndarray, str, int]]) -> None:
    assert len(merged.scores) == len(objs), "every object exactly once"
    dets = [Polygon(p.reshape(4, 2)) for p in merged.polys.numpy()]
    used: set[int] = set()
    for poly, cls, _ in objs:
        gt = Polygon(poly.reshape(4, 2))
        ious = [gt.intersection(d).area / gt.union(d).area for d in dets]
        j = int(np.argmax(ious))
        assert ious[j] > 0.99 and j not in used
        assert merged.labels[j].item() == CLASSES.index(cls)
        assert merged.scores[j].item() == 1.0  # the whole copy won, not a truncated piece
        used.add(j)


def test_split_then_merge_reproduces_objects_3000x2500(tmp_path: Path) -> None:
    # Objects' extents (< 165 px) are below the 200 px gap, so each is whole in some patch.
    objs = _scene(3000, 2500, 60, max_w=150, max_h=60, seed=0)
    _write_src(tmp_path / "src", "P0042", 3000, 2500, objs)
    st = split_dataset(tmp_path / "src", tmp_path / "dst", num_workers=0, progress=False)
    assert st == {"images": 1, "written": 12, "skipped": 0, "objects": 60, "lost": 0}
    dets = _patch_labels_as_detections(tmp_path / "dst")
    n_labels = sum(len(d.scores) for d in dets.values())
    assert n_labels > len(objs)  # objects in the overlaps are seen more than once
    for nms in ("rotated", "poly"):
        merged = merge_detections(dets, iou_thr=0.1, nms=nms)
        assert list(merged) == ["P0042"]
        _assert_recovered(merged["P0042"], objs)


def test_multi_rate_split_names_and_merge(tmp_path: Path) -> None:
    objs = _scene(1200, 1000, 25, max_w=70, max_h=40, seed=1)
    _write_src(tmp_path / "src", "P7", 1200, 1000, objs)
    rates = (0.5, 1.0, 1.5)
    st = split_dataset(
        tmp_path / "src",
        tmp_path / "dst",
        sizes=(512,),
        gaps=(200,),
        rates=rates,
        num_workers=0,
        progress=False,
    )
    assert st["lost"] == 0
    names = sorted(p.stem for p in (tmp_path / "dst" / "images").glob("*.png"))
    parsed = [parse_patch_name(n) for n in names]
    assert {p.rate for p in parsed} == set(rates)
    assert all(p.image == "P7" for p in parsed)
    # At rate 0.5 the image is 600 x 500 -> x starts 0, 88; y starts 0 only (500 <= 512, padded).
    assert sorted((p.x, p.y) for p in parsed if p.rate == 0.5) == [(0, 0), (88, 0)]
    assert Image.open(tmp_path / "dst" / "images" / "P7__0.5__0___0.png").size == (512, 512)
    # At rate 1.5 (1800 x 1500) the last windows are flush: x 1288, y 988.
    assert max(p.x for p in parsed if p.rate == 1.5) == 1800 - 512
    assert max(p.y for p in parsed if p.rate == 1.5) == 1500 - 512
    merged = merge_detections(_patch_labels_as_detections(tmp_path / "dst"))
    _assert_recovered(merged["P7"], objs)


@pytest.mark.slow
def test_split_then_merge_many_objects_two_workers(tmp_path: Path) -> None:
    objs = _scene(3000, 2500, 400, max_w=150, max_h=60, seed=5)
    _write_src(tmp_path / "src", "P0100", 3000, 2500, objs)
    split_dataset(tmp_path / "src", tmp_path / "dst", rates=(1.0, 0.5), num_workers=2, progress=False)
    _assert_recovered(merge_detections(_patch_labels_as_detections(tmp_path / "dst"))["P0100"], objs)
