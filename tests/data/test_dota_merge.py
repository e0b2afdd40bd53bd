"""Patch-to-image merge and DOTA Task1 files (gghl.data.dota_merge)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from gghl.data import dota_merge
from gghl.data.dota_merge import merge_detections, merge_task1_files, write_task1
from gghl.data.tiling import Detections, nms_merge
from gghl.structures import obb_to_poly


def _det(polys: list[list[float]], scores: list[float], labels: list[int]) -> Detections:
    return Detections(
        torch.tensor(polys, dtype=torch.float64),
        torch.tensor(scores, dtype=torch.float64),
        torch.tensor(labels),
    )


SQ = [0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0]


def test_merge_maps_offsets_and_rates_per_image() -> None:
    pairs = [
        ("A__1__100___200", _det([SQ], [0.9], [0])),
        ("A__0.5__50___100", _det([SQ], [0.8], [0])),  # (0..10 + 50) / 0.5 = 100..120: overlaps the first
        ("B__1.5__0___0.png", _det([SQ], [0.7], [1])),
        ("C__1__0___0", Detections.empty()),
    ]
    out = merge_detections(pairs, iou_thr=0.1)
    assert list(out) == ["A", "B", "C"]
    assert torch.allclose(
        out["A"].polys, torch.tensor([[100.0, 200, 110, 200, 110, 210, 100, 210]], dtype=torch.float64)
    )
    assert out["A"].scores.tolist() == [0.9]  # IoU(10x10, 20x20 sharing a corner) = 0.25 > 0.1
    assert torch.allclose(out["B"].polys, torch.tensor([SQ], dtype=torch.float64) / 1.5)
    assert len(out["C"].scores) == 0
    with pytest.raises(ValueError, match="not a DOTA patch name"):
        merge_detections({"A_1_0_0": _det([SQ], [0.5], [0])})


def _oracle_nms(d: Detections, thr: float) -> list[int]:
    """Greedy class-wise NMS with shapely IoU, written out plainly."""
    polys = [Polygon(p.reshape(4, 2)) for p in d.polys.numpy()]
    order = sorted(range(len(polys)), key=lambda i: (-float(d.scores[i]), i))
    keep: list[int] = []
    for i in order:
        same = [k for k in keep if int(d.labels[k]) == int(d.labels[i])]
        if all(polys[i].intersection(polys[k]).area / polys[i].union(polys[k]).area <= thr for k in same):
            keep.append(i)
    return keep


@pytest.mark.parametrize("nms", ["rotated", "poly"])
def test_nms_merge_matches_shapely_oracle(nms: str) -> None:
    rng = np.random.default_rng(0)
    obb = torch.tensor(
        np.column_stack([rng.uniform(0, 200, (80, 2)), rng.uniform(10, 60, (80, 2)), rng.uniform(-3, 3, 80)])
    )
    scores = torch.tensor(rng.integers(0, 20, 80) / 20.0)  # ties included
    d = Detections(obb_to_poly(obb), scores, torch.tensor(rng.integers(0, 3, 80)))
    got = nms_merge(d, 0.1, nms)
    want = _oracle_nms(d, 0.1)
    assert torch.equal(got.polys, d.polys[want]) and torch.equal(got.labels, d.labels[want])


def test_write_task1_format_and_zip(tmp_path: Path) -> None:
    dets = {
        "P2": _det([SQ, [1.234, 2, 3, 4, 5, 6, 7, 8.005]], [0.5, 0.91234], [1, 1]),
        "P1": _det([SQ], [0.25], [0]),
    }
    paths = write_task1(
        dets, tmp_path / "task1", ["plane", "ship", "storage-tank"], zip_path=tmp_path / "sub.zip"
    )
    assert [p.name for p in paths] == ["Task1_plane.txt", "Task1_ship.txt", "Task1_storage-tank.txt"]
    assert paths[0].read_text() == "P1 0.2500 0.00 0.00 10.00 0.00 10.00 10.00 0.00 10.00\n"
    assert paths[1].read_text().splitlines() == [
        "P2 0.9123 1.23 2.00 3.00 4.00 5.00 6.00 7.00 8.01",
        "P2 0.5000 0.00 0.00 10.00 0.00 10.00 10.00 0.00 10.00",
    ]
    assert paths[2].read_text() == ""  # every class gets a file
    with zipfile.ZipFile(tmp_path / "sub.zip") as zf:
        assert sorted(zf.namelist()) == sorted(p.name for p in paths)
        assert zf.read("Task1_ship.txt").decode() == paths[1].read_text()
    first = [p.read_bytes() for p in paths]
    write_task1(dets, tmp_path / "task1", ["plane", "ship", "storage-tank"])
    assert [p.read_bytes() for p in paths] == first
    with pytest.raises(ValueError, match=r"image 'P2': label 5 outside the 2 class names"):
        write_task1({"P2": _det([SQ], [0.5], [5])}, tmp_path / "t2", ["a", "b"])


def test_merge_task1_files_devkit_workflow(tmp_path: Path) -> None:
    src = tmp_path / "patches"
    src.mkdir()
    (src / "Task1_plane.txt").write_text(
        "P1__1__100___0 0.9 0 0 10 0 10 10 0 10\n"
        "P1__1__0___0 0.8 100 0 110 0 110 10 100 10\n"  # the same object seen by a second patch
        "P1__0.5__0___0 0.7 0 0 5 0 5 5 0 5\n"
    )
    (src / "Task1_ship.txt").write_text("P2__1__0___0 0.6 1 1 4 1 4 3 1 3\n")
    paths = merge_task1_files(src, tmp_path / "out", zip_path=tmp_path / "s.zip")
    assert [p.name for p in paths] == ["Task1_plane.txt", "Task1_ship.txt"]
    assert paths[0].read_text().splitlines() == [
        "P1 0.9000 100.00 0.00 110.00 0.00 110.00 10.00 100.00 10.00",
        "P1 0.7000 0.00 0.00 10.00 0.00 10.00 10.00 0.00 10.00",
    ]
    assert paths[1].read_text() == "P2 0.6000 1.00 1.00 4.00 1.00 4.00 3.00 1.00 3.00\n"
    assert dota_merge.main(["--src", str(src), "--dst", str(tmp_path / "cli"), "--nms", "poly"]) == 0
    assert (tmp_path / "cli" / "Task1_plane.txt").read_text() == paths[0].read_text()
    (src / "Task1_ship.txt").write_text("P2__1__0___0 0.6 1 1 4 1 4 3 1\n")
    with pytest.raises(ValueError, match=r"Task1_ship\.txt:1: expected 10 tokens"):
        merge_task1_files(src, tmp_path / "out")
