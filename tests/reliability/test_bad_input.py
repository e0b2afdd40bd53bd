"""Bad input (issue 9 part 1): each row of the "Bad input" table in gghl/data/README.md is pinned here.

Behaviour is either a clear error (a ``ValueError``/``OSError`` subclass naming file and line or json
path) or skip-and-count (``skipped`` counters + one warning), never a crash inside torch.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gghl.data.coco import CocoDetection
from gghl.data.coco_json import CocoFormatError, load_coco_json
from gghl.data.collate import detection_collate
from gghl.data.dota import DotaDataset
from gghl.data.dota_labels import read_dota_labels
from gghl.data.dota_text import DotaFormatError
from gghl.data.image_io import ImageReadError, write_png
from gghl.evaluation.coco import CocoResultError, evaluate
from gghl.evaluation.dota import evaluate_task1
from gghl.evaluation.dota_io import parse_det_file, parse_gt_file

CLASSES = ["plane", "ship"]
GOOD = "10 10 40 10 40 30 10 30 plane 0"


def _label(tmp_path: Path, text: str | bytes, name: str = "a.txt") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


# ------------------------------------------------------------------ DOTA label lines (training reader)
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("10 10 40 10 40 30 10 plane", "expected 9 or 10 tokens"),  # too few
        ("10 10 40 10 40 30 10 30 plane 0 extra", "expected 9 or 10 tokens"),  # too many
        ("10 10 4O 10 40 30 10 30 plane 0", "not a number"),  # letter O
        ("10 10 nan 10 40 30 10 30 plane 0", "not finite"),
        ("10 10 inf 10 40 30 10 30 plane 0", "not finite"),
        ("10 10 40 10 40 30 10 30 plane yes", "difficult flag"),
    ],
)
def test_malformed_dota_line_raises_or_skips(tmp_path: Path, line: str, reason: str) -> None:
    p = _label(tmp_path, f"{GOOD}\n{line}\n")
    with pytest.raises(DotaFormatError, match=rf"a\.txt:2: .*{reason}") as info:
        read_dota_labels(p)
    assert info.value.line_no == 2 and isinstance(info.value, ValueError)
    parsed = read_dota_labels(p, on_error="skip")
    assert len(parsed.objects) == 1 and parsed.skipped[0][0] == 2


def test_non_utf8_label_file(tmp_path: Path) -> None:
    with pytest.raises(DotaFormatError, match="not a UTF-8 text file"):
        read_dota_labels(_label(tmp_path, b"\xff\xfe\x00garbage"))


# ------------------------------------------------------------------ DOTA dataset (layout + geometry)
def _dota(tmp_path: Path, labels: dict[str, str], images: list[str], size: int = 64) -> Path:
    root = tmp_path / "dota"
    (root / "train" / "labelTxt").mkdir(parents=True)
    for stem, text in labels.items():
        (root / "train" / "labelTxt" / f"{stem}.txt").write_text(text)
    for stem in images:
        write_png(root / "train" / "images" / f"{stem}.png", np.zeros((size, size, 3), np.uint8))
    return root


def test_unknown_class_names_file_line_or_skips(tmp_path: Path) -> None:
    root = _dota(tmp_path, {"a": f"{GOOD}\n10 10 40 10 40 30 10 30 helicopter 0\n"}, ["a"])
    with pytest.raises(DotaFormatError, match=r"a\.txt:2: unknown class 'helicopter'"):
        DotaDataset(root, class_names=CLASSES)
    ds = DotaDataset(root, class_names=CLASSES, on_error="skip")
    assert ds.skipped["unknown_class"] == 1 and len(ds.records[0].labels) == 1


def test_degenerate_and_outside_objects_skipped_and_counted(tmp_path: Path, caplog) -> None:
    text = "\n".join(
        [
            GOOD,
            "5 5 5 5 5 5 5 5 plane 0",  # a point
            "0 0 10 10 20 20 30 30 ship 0",  # collinear
            "0 0 20 20 20 0 0 20 ship 0",  # symmetric bow-tie: zero signed area
            "100 100 140 100 140 130 100 130 plane 0",  # entirely outside the 64x64 image
            "-10 -10 20 -10 20 20 -10 20 ship 1",  # partly outside: kept as annotated
            "0 0 30 25 30 0 0 20 ship 0",  # self-intersecting but not zero-area: kept
        ]
    )
    root = _dota(tmp_path, {"a": text}, ["a"])
    with caplog.at_level(logging.WARNING, logger="gghl.data.dota"):
        ds = DotaDataset(root, class_names=CLASSES)  # raise mode: geometry is counted, not raised
    assert dict(ds.skipped) == {"degenerate_polygon": 3, "outside_image": 1}
    assert "degenerate_polygon" in caplog.text  # the one summary line
    assert ds.records[0].labels.tolist() == [0, 1, 1]
    _, targets = detection_collate([ds[0]])
    obb = targets[0]["obb"]
    assert torch.isfinite(obb).all() and (obb[:, 2:4] > 0).all()  # the bow-tie became its min-area rect


def test_empty_label_file_and_image_without_objects(tmp_path: Path) -> None:
    root = _dota(tmp_path, {"a": "", "b": "imagesource:GoogleEarth\ngsd:null\n\n"}, ["a", "b"])
    ds = DotaDataset(root, class_names=CLASSES)
    assert len(ds) == 2 and not ds.skipped
    images, targets = detection_collate([ds[0], ds[1]])
    assert images.shape == (2, 3, 64, 64) and all(t["obb"].shape == (0, 5) for t in targets)


def test_mismatched_image_and_label_names(tmp_path: Path) -> None:
    root = _dota(tmp_path, {"a": GOOD, "orphan_label": GOOD}, ["a", "orphan_image"])
    with pytest.raises(FileNotFoundError, match="orphan_label.txt: no image"):
        DotaDataset(root, class_names=CLASSES)
    ds = DotaDataset(root, class_names=CLASSES, on_error="skip")
    assert dict(ds.skipped) == {"missing_image": 1, "missing_label": 1} and len(ds) == 1


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_image_names_the_file(tmp_path: Path, damage: str) -> None:
    root = _dota(tmp_path, {"a": GOOD, "b": GOOD}, ["a", "b"], size=128)
    img = root / "train" / "images" / "b.png"
    data = img.read_bytes()
    img.write_bytes(
        {"garbage": b"\x89PNG not really" * 50, "truncated": data[: len(data) // 2], "empty": b""}[damage]
    )
    ds = DotaDataset(root, class_names=CLASSES)
    with pytest.raises(ImageReadError, match=r"b\.png: cannot read image") as info:
        ds[1]
    assert isinstance(info.value, OSError)
    ds = DotaDataset(root, class_names=CLASSES, check_images=True, on_error="skip")
    assert ds.skipped["corrupt_image"] == 1 and len(ds) == 1


# ------------------------------------------------------------------ COCO ground truth json
def _coco() -> dict:
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 32, "height": 32}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 3, "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0}
        ],
        "categories": [{"id": 3, "name": "plane"}],
    }


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d["annotations"][0].pop("bbox"), r"annotations\[0\]: missing field 'bbox'"),
        (lambda d: d.pop("images"), "missing top-level field 'images'"),
        (lambda d: d["images"].append(dict(d["images"][0])), r"images\[1\]\.id: duplicate id 1"),
        (
            lambda d: d["annotations"].append(dict(d["annotations"][0])),
            r"annotations\[1\]\.id: duplicate id 5",
        ),
        (lambda d: d["annotations"][0].update(image_id=9), r"annotations\[0\]\.image_id: 9 is not an id"),
        (
            lambda d: d["annotations"][0].update(category_id=[3]),
            r"annotations\[0\]\.category_id: must be an integer",
        ),
        (lambda d: d["annotations"][0].update(bbox=[1, 2, "x", 4]), r"annotations\[0\]\.bbox"),
        (lambda d: d["images"][0].pop("file_name"), r"images\[0\]\.file_name"),
    ],
)
def test_coco_json_errors_name_file_and_path(tmp_path: Path, edit, where: str) -> None:
    data = _coco()
    edit(data)
    p = tmp_path / "inst.json"
    p.write_text(json.dumps(data))
    with pytest.raises(CocoFormatError, match=rf"inst\.json: {where}"):
        load_coco_json(p)
    write_png(tmp_path / "a.png", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(CocoFormatError):  # the dataset refuses the same file, before pycocotools
        CocoDetection(tmp_path, p)


def test_coco_nan_bbox_is_an_error_and_zero_size_is_counted(tmp_path: Path) -> None:
    p = tmp_path / "inst.json"
    data = _coco()
    p.write_text(json.dumps(data).replace("[1, 2, 10, 12]", "[1, 2, NaN, 12]"))
    with pytest.raises(CocoFormatError, match="non-finite"):
        load_coco_json(p)
    data["annotations"][0]["bbox"] = [1, 2, 0, 12]
    p.write_text(json.dumps(data))
    write_png(tmp_path / "a.png", np.zeros((32, 32, 3), np.uint8))
    ds = CocoDetection(tmp_path, p)
    assert ds.skipped["degenerate_box"] == 1 and ds[0]["labels"].numel() == 0


# ------------------------------------------------------------------ COCO result lists
@pytest.mark.parametrize(
    ("det", "msg"),
    [
        ({"image_id": 99, "category_id": 3, "bbox": [1, 2, 3, 4], "score": 0.5}, "image_id 99"),
        ({"image_id": 1, "category_id": 4, "bbox": [1, 2, 3, 4], "score": 0.5}, "category_id 4"),
        ({"image_id": 1, "category_id": 3, "bbox": [1, 2, 3], "score": 0.5}, "bbox must be"),
        ({"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "score": float("nan")}, "score must be"),
        ({"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4]}, r"lacks \['score'\]"),
        ("not a dict", "must be an object"),
    ],
)
def test_coco_result_errors_name_the_file(tmp_path: Path, det, msg: str) -> None:
    p = tmp_path / "dets.json"
    p.write_text(json.dumps([det]))
    with pytest.raises(CocoResultError, match=rf"dets\.json: detection 0.*{msg}"):
        evaluate(_coco(), p, backend="pycocotools")


# ------------------------------------------------------------------ DOTA Task1 result files
def _task1(tmp_path: Path, det_lines: str) -> tuple[Path, Path]:
    ann, det = tmp_path / "labelTxt", tmp_path / "Task1"
    ann.mkdir(), det.mkdir()
    (ann / "P1.txt").write_text(GOOD + "\n")
    (det / "Task1_plane.txt").write_text(det_lines)
    return ann, det


def test_task1_unknown_image_name(tmp_path: Path) -> None:
    ann, det = _task1(tmp_path, "P1 0.9 10 10 40 10 40 30 10 30\nP9 0.8 1 1 5 1 5 5 1 5\n")
    with pytest.raises(DotaFormatError, match=r"Task1_plane\.txt:2: image 'P9' is not in the image set"):
        evaluate_task1(ann, det, ["P1"], ["plane"])
    out = evaluate_task1(ann, det, ["P1"], ["plane"], unknown_images="ignore")
    assert out["num_det_unknown_image"] == 1 and out["mAP"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "line",
    ["P1 0.9 10 10 40 10 40 30 10", "P1 0.9 10 10 40 10 40 30 10 30 x", "P1 nan 10 10 40 10 40 30 10 30",
     "P1 0.9 10 10 inf 10 40 30 10 30", "P1 high 10 10 40 10 40 30 10 30"],
)  # fmt: skip
def test_task1_malformed_line(tmp_path: Path, line: str) -> None:
    _, det = _task1(tmp_path, f"P1 0.9 10 10 40 10 40 30 10 30\n{line}\n")
    with pytest.raises(DotaFormatError, match=r"Task1_plane\.txt:2: "):
        parse_det_file(det / "Task1_plane.txt")


def test_task1_gt_and_det_not_utf8(tmp_path: Path) -> None:
    p = _label(tmp_path, b"P1 0.9 \xff\xfe 10")
    with pytest.raises(DotaFormatError, match="not a UTF-8 text file"):
        parse_det_file(p)
    with pytest.raises(DotaFormatError, match="not a UTF-8 text file"):
        parse_gt_file(p)
