"""DOTA split: exact clipping geometry, the IoF/difficult rule, files, idempotence (gghl.data.dota_split)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from shapely.geometry import Polygon

from gghl.data import dota_clip
from gghl.data.dota_labels import DotaObject
from gghl.data.dota_split import read_labels, split_dataset, window_labels
from gghl.structures import obb_to_poly


def _quad(cx: float, cy: float, w: float, h: float, a: float) -> np.ndarray:
    return obb_to_poly(torch.tensor([cx, cy, w, h, a], dtype=torch.float64)).numpy()


def test_clip_polygon_matches_shapely() -> None:
    rng = np.random.default_rng(0)
    rect = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 80.0], [0.0, 80.0]])
    for _ in range(300):
        q = _quad(*rng.uniform(-30, 130, 2), *rng.uniform(5, 120, 2), rng.uniform(-4, 4)).reshape(4, 2)
        if rng.random() < 0.5:
            q = q[::-1]  # either orientation
        cut = dota_clip.clip_polygon(q, rect)
        want = Polygon(q).intersection(Polygon(rect)).area
        assert dota_clip.polygon_area(cut) == pytest.approx(want, abs=1e-7)
        other = _quad(*rng.uniform(0, 100, 2), *rng.uniform(5, 80, 2), rng.uniform(-4, 4)).reshape(4, 2)
        want = Polygon(q).intersection(Polygon(other)).area  # convex clip polygon, other orientation
        assert dota_clip.polygon_area(dota_clip.clip_polygon(q, other)) == pytest.approx(want, abs=1e-7)


def test_min_area_rect_and_fit_quad() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        pts = rng.uniform(0, 50, (7, 2))
        rect = dota_clip.min_area_rect(pts)
        hull = Polygon(pts).convex_hull
        assert Polygon(rect).buffer(1e-6).contains(hull)
        assert Polygon(rect).area == pytest.approx(Polygon(rect).minimum_rotated_rectangle.area, rel=1e-9)
        assert Polygon(rect).area <= hull.minimum_rotated_rectangle.area * (1 + 1e-9)
    # 4 vertices stay as they are, rotated to start near the source's first vertex.
    ref = np.array([[10.0, 10], [30, 10], [30, 20], [10, 20]])
    clipped = np.array([[30.0, 10], [30, 20], [15, 20], [15, 10]])
    assert np.allclose(dota_clip.fit_quad(clipped, ref), [[15, 10], [30, 10], [30, 20], [15, 20]])


def _obj(poly: np.ndarray, name: str = "plane", diff: int = 0) -> DotaObject:
    return DotaObject(np.asarray(poly, dtype=np.float64).reshape(8), name, diff)


def _parse(line: str) -> tuple[np.ndarray, str, int]:
    t = line.split()
    return np.array([float(v) for v in t[:8]]).reshape(4, 2), t[8], int(t[9])


def test_iof_rule_at_0_7() -> None:
    # A 100 x 10 box crossing the right border of window [0, 1024]: 69 px inside -> out, 71 px -> in.
    out69 = _obj([955, 500, 1055, 500, 1055, 510, 955, 510])
    in71 = _obj([953, 600, 1053, 600, 1053, 610, 953, 610], diff=1)
    whole = _obj([100, 100, 150, 100, 150, 120, 100, 120], "ship", 1)
    lines, kept = window_labels([out69, in71, whole], 0, 0, 1024, 0.7, clip=True)
    assert kept == [1, 2]
    poly, name, diff = _parse(lines[0])
    assert name == "plane" and diff == 2  # truncated -> difficult 2 (mmrotate rule)
    assert np.allclose(poly, [[953, 600], [1024, 600], [1024, 610], [953, 610]])  # clipped to the window
    poly, name, diff = _parse(lines[1])
    assert (name, diff) == ("ship", 1)  # whole objects keep their flag
    assert np.allclose(poly, [[100, 100], [150, 100], [150, 120], [100, 120]])
    # Whole in a window starting at x=900: own flag, offset subtracted.
    lines, _ = window_labels([in71], 900, 0, 1024, 0.7, clip=False)
    assert _parse(lines[0])[2] == 1 and _parse(lines[0])[0][0, 0] == 53
    # clip=False (mmrotate) writes the uncut polygon, still flagged 2.
    lines, _ = window_labels([in71], 0, 0, 1024, 0.7, clip=False)
    assert _parse(lines[0])[2] == 2
    assert np.allclose(_parse(lines[0])[0][:, 0], [953, 1053, 1053, 953])


def test_rotated_cut_gives_covering_rectangle() -> None:
    # A rotated box with one corner cut off by the window border: the clipped part is a pentagon; the label is the
    # min-area rectangle that covers it (and lies inside the original box's neighbourhood).
    q = _quad(1000, 300, 60, 30, 0.5)  # only the corner at x~1033 leaves the window
    lines, kept = window_labels([_obj(q)], 0, 0, 1024, 0.5, clip=True)
    assert kept == [0]
    poly, _, diff = _parse(lines[0])
    assert diff == 2
    window = Polygon([(0, 0), (1024, 0), (1024, 1024), (0, 1024)])
    visible = Polygon(q.reshape(4, 2)).intersection(window)
    assert len(visible.exterior.coords) - 1 == 5
    assert Polygon(poly).buffer(0.01).contains(visible)
    assert Polygon(poly).area < 1.1 * visible.area


def test_read_labels_errors_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("imagesource:GoogleEarth\ngsd:0.1\n1 2 3 4 5 6 7 8 plane 0\n1 2 3 plane\n")
    with pytest.raises(ValueError, match=r"x\.txt:4: expected 9 or 10 tokens"):
        read_labels(p)
    p.write_text("1 2 3 4 5 6 7 eight plane 0\n")
    with pytest.raises(ValueError, match=r"x\.txt:1:"):
        read_labels(p)
    p.write_text("\n1 2 3 4 5 6 7 8 small-vehicle\n")
    (o,) = read_labels(p)
    assert o.class_name == "small-vehicle" and o.difficult == 0 and o.polygon == tuple(range(1, 9))
    assert o.line_no == 2  # the one DotaObject type (gghl.data.dota_labels) keeps its line


def _make_src(root: Path, sizes: dict[str, tuple[int, int]], labels: dict[str, str] | None) -> None:
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name, (w, h) in sizes.items():
        arr = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        Image.fromarray(arr).save(root / "images" / f"{name}.png", compress_level=0)
    if labels is not None:
        (root / "labelTxt").mkdir()
        for name, text in labels.items():
            (root / "labelTxt" / f"{name}.txt").write_text(text)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_split_files_padding_and_idempotence(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    _make_src(src, {"A": (150, 90), "B": (60, 40)}, {"A": "10 10 30 10 30 20 10 20 ship 0\n", "B": ""})
    kw = dict(sizes=(64,), gaps=(16,), padding_value=(1, 2, 3), num_workers=0, progress=False)
    st = split_dataset(src, dst, **kw)
    # A: x starts 0, 48, 86; y starts 0, 26 -> 6 patches; B: one padded patch.
    assert st == {"images": 2, "written": 7, "skipped": 0, "objects": 1, "lost": 0}
    names = sorted(p.name for p in (dst / "images").iterdir())
    assert names == sorted(
        [f"A__1__{x}___{y}.png" for x in (0, 48, 86) for y in (0, 26)] + ["B__1__0___0.png"]
    )
    assert sorted(p.name for p in (dst / "labelTxt").iterdir()) == [n[:-4] + ".txt" for n in names]
    assert (dst / "labelTxt" / "A__1__0___0.txt").read_text() == "10 10 30 10 30 20 10 20 ship 0\n"
    assert (dst / "labelTxt" / "A__1__48___0.txt").read_text() == ""
    src_a = np.asarray(Image.open(src / "images" / "A.png"))
    assert np.array_equal(np.asarray(Image.open(dst / "images" / "A__1__86___26.png")), src_a[26:90, 86:150])
    b = np.asarray(Image.open(dst / "images" / "B__1__0___0.png"))
    assert b.shape == (64, 64, 3)
    assert np.array_equal(b[:40, :60], np.asarray(Image.open(src / "images" / "B.png")))
    assert (b[40:] == [1, 2, 3]).all() and (b[:, 60:] == [1, 2, 3]).all()
    assert json.loads((dst / "split_config.json").read_text())["size"] == 64

    before = _snapshot(dst)
    stale = dst / "images" / ".A__1__0___0.png.999.tmp"  # as left by an interrupted run
    stale.write_bytes(b"partial")
    st2 = split_dataset(src, dst, **kw)
    assert not stale.exists()
    assert st2["written"] == 0 and st2["skipped"] == 7
    assert _snapshot(dst) == before  # nothing rewritten: same bytes, same mtimes

    # A deleted patch is rewritten identically; other files untouched.
    victim = dst / "images" / "A__1__48___26.png"
    data = victim.read_bytes()
    victim.unlink()
    assert split_dataset(src, dst, **kw)["written"] == 1
    assert victim.read_bytes() == data

    with pytest.raises(ValueError, match="other parameters"):
        split_dataset(src, dst, **{**kw, "gaps": (8,)})


def test_split_without_labels_and_missing_label(tmp_path: Path) -> None:
    src = tmp_path / "test"
    _make_src(src, {"T": (70, 70)}, None)
    gray = (np.arange(70 * 70) % 256).astype(np.uint8).reshape(70, 70)
    Image.fromarray(gray).save(src / "images" / "G.png")  # grayscale source -> RGB patches
    st = split_dataset(src, tmp_path / "out", sizes=(64,), gaps=(16,), num_workers=0, progress=False)
    assert st["written"] == 8 and not (tmp_path / "out" / "labelTxt").exists()
    g = np.asarray(Image.open(tmp_path / "out" / "images" / "G__1__6___6.png"))
    assert g.shape == (64, 64, 3) and np.array_equal(g[..., 1], gray[6:, 6:])
    src2 = tmp_path / "bad"
    _make_src(src2, {"U": (70, 70), "V": (10, 10)}, {"U": ""})
    with pytest.raises(FileNotFoundError, match=r"V\.txt is missing"):
        split_dataset(src2, tmp_path / "out2", sizes=(64,), gaps=(16,), num_workers=0, progress=False)


def test_lost_objects_are_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _make_src(src, {"L": (200, 60)}, {"L": "5 5 195 5 195 50 5 50 bridge 0\n"})
    with pytest.warns(UserWarning, match="1 objects are in no patch at some rate"):
        st = split_dataset(src, tmp_path / "dst", sizes=(64,), gaps=(16,), num_workers=0, progress=False)
    assert st["lost"] == 1


def test_workers_give_same_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _make_src(src, {"A": (100, 80), "B": (90, 70)}, {"A": "1 1 20 1 20 9 1 9 ship 0\n", "B": ""})
    kw = dict(sizes=(64,), gaps=(16,), progress=False)
    split_dataset(src, tmp_path / "serial", num_workers=0, **kw)
    split_dataset(src, tmp_path / "pool", num_workers=2, **kw)
    a = {k: v[0] for k, v in _snapshot(tmp_path / "serial").items()}
    b = {k: v[0] for k, v in _snapshot(tmp_path / "pool").items()}
    assert a == b and len(a) == 2 * (4 + 4) + 1  # 4 patches each: images, labels, split_config.json


def _load_script():  # type: ignore[no-untyped-def]
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "dota_split.py"
    spec = importlib.util.spec_from_file_location("dota_split_script", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _load_script()
    ms = script.parse_args(["--src", "a", "--dst", "b", "--preset", "ms"])
    assert (ms.size, ms.gap, ms.rates) == (1024, 500, [0.5, 1.0, 1.5])
    assert script.parse_args(["--src", "a", "--dst", "b", "--gap", "100"]).gap == 100
    src = tmp_path / "src"
    _make_src(src, {"C": (100, 50)}, {"C": "1 1 20 1 20 9 1 9 ship 0\n"})
    argv = [
        "--src",
        str(src),
        "--dst",
        str(tmp_path / "dst"),
        "--size",
        "64",
        "--gap",
        "16",
        "--rates",
        "1",
        "0.5",
    ]
    assert script.main([*argv, "--workers", "0"]) == 0
    assert (
        "1 images -> 3 patches written, 0 already there; 1 objects, 0 in no patch" in capsys.readouterr().out
    )
    assert sorted(p.name for p in (tmp_path / "dst" / "images").iterdir()) == [
        "C__0.5__0___0.png",
        "C__1__0___0.png",
        "C__1__36___0.png",
    ]
