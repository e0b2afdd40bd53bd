"""The one reader for DOTA-style text (issue 13 deliverable 2): labels, Task1 results, image sets.

Every bad-input row of gghl/data/README.md for these files is pinned here (``D::`` in the table). The
training reader, the split tool and the evaluator must agree on every file: they share
``gghl.data.dota_text`` and these tests read the same bytes through each of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.data.coco import CocoDetection
from gghl.data.collate import detection_collate, make_sample
from gghl.data.detection_datamodule import CocoDataModule, DotaDataModule
from gghl.data.dota import DotaDataset
from gghl.data.dota_labels import DotaObject, read_dota_labels, write_dota_labels
from gghl.data.dota_merge import merge_task1_files, read_task1, write_task1
from gghl.data.dota_split import read_labels, split_dataset
from gghl.data.dota_task1 import read_task1_rows
from gghl.data.dota_text import (
    MAX_ABS_COORD,
    DotaFormatError,
    parse_coordinate,
    parse_coordinates,
    read_imageset,
)
from gghl.data.image_files import find_image, list_image_files
from gghl.data.image_io import write_png
from gghl.evaluation.dota import evaluate_task1
from gghl.evaluation.dota_cli import main as dota_eval_main
from gghl.evaluation.dota_io import parse_det_file, parse_gt_file

POLY = "10 10 40 10 40 30 10 30"
GOOD = f"{POLY} plane 0"
DET = f"P1 0.9 {POLY}"


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _all_readers(p: Path) -> list:
    """The label file through the training reader, the split tool and the evaluator."""
    return [
        [(o.polygon, o.class_name, o.difficult) for o in read_dota_labels(p).objects],
        [(o.polygon, o.class_name, o.difficult) for o in read_labels(p)],
        [
            (tuple(pl), n, int(d))
            for n, pl, d in zip(*(lambda r: (r[0], r[1].tolist(), r[2]))(parse_gt_file(p)))
        ],
    ]


def _refused_by_all(p: Path, match: str, line_no: int) -> None:
    for read in (read_dota_labels, read_labels, parse_gt_file):
        with pytest.raises(DotaFormatError, match=match) as info:
            read(p)
        assert info.value.line_no == line_no, read
        assert str(info.value).startswith(f"{p}:{line_no}: ")


# ------------------------------------------------------------------ one error class, one object type
def test_one_error_class_and_one_object_type() -> None:
    import gghl.data
    import gghl.data.dota_labels as labels_mod
    import gghl.data.dota_split as split_mod
    import gghl.evaluation
    import gghl.evaluation.dota_io as io_mod

    # one name in one home (gghl.data.dota_text), exported by the data package; no alias anywhere
    assert (
        DotaFormatError.__module__ == "gghl.data.dota_text" and gghl.data.DotaFormatError is DotaFormatError
    )
    assert issubclass(DotaFormatError, ValueError)
    assert not hasattr(io_mod, "DOTAFormatError") and "DOTAFormatError" not in gghl.evaluation.__all__
    assert "DotaFormatError" not in labels_mod.__all__ and "DotaObject" not in split_mod.__all__
    assert DotaObject.__module__ == "gghl.data.dota_labels"
    o = DotaObject(np.arange(8), "plane", 1)  # any 8-number sequence, stored as floats
    assert o.polygon == tuple(float(v) for v in range(8)) and o.line_no == 0
    with pytest.raises(ValueError, match="8 coordinates"):
        DotaObject((1, 2, 3), "plane")


# ------------------------------------------------------------------ separators, encodings, line ends
@pytest.mark.parametrize(
    "data",
    [
        f"{GOOD}\n",
        "10\t10\t40\t10\t40\t30\t10\t30\tplane\t0\n",  # tab-separated (evaluator gave num_gt 0)
        "  10  10 40\t \t10 40 30 10 30   plane 0  \n",  # runs of spaces and tabs, leading/trailing
        f"\ufeff{GOOD}\n",  # UTF-8 BOM
        f"imagesource:GoogleEarth\r\ngsd:0.1\r\n{GOOD}\r\n",  # CRLF
        f"{GOOD}",  # no final line end
        f"{GOOD}\r",  # CRLF file cut after the CR
        f"\n   \n\t\n{GOOD}\n\n",  # blank lines (spaces/tabs only)
    ],
    ids=["plain", "tabs", "runs", "bom", "crlf", "no-eol", "cut-crlf", "blank-lines"],
)
def test_accepted_layouts_read_the_same_everywhere(tmp_path: Path, data: str) -> None:
    p = _write(tmp_path / "a.txt", data)
    want = [((10.0, 10.0, 40.0, 10.0, 40.0, 30.0, 10.0, 30.0), "plane", 0)]
    assert _all_readers(p) == [want, want, want]


def test_tab_separated_ground_truth_is_scored(tmp_path: Path) -> None:
    # issue 13: a tab-separated label file gave num_gt 0, AP 0, exit 0 in the evaluator.
    _write(tmp_path / "ann" / "P1.txt", GOOD.replace(" ", "\t") + "\n")
    _write(tmp_path / "det" / "Task1_plane.txt", DET.replace(" ", "\t") + "\n")
    r = evaluate_task1(tmp_path / "ann", tmp_path / "det", ["P1"], ["plane"])
    assert r["num_gt"] == {"plane": 1} and r["mAP"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("sep", "reason"),
    [
        ("\r", r"carriage return \(U\+000D\) inside a line"),  # old Mac line ends
        ("\x0b", r"U\+000B.* is not a line end here"),
        ("\x0c", r"U\+000C.* is not a line end here"),
        ("\x1c", r"U\+001C.* is not a line end here"),
        ("\x1e", r"U\+001E.* is not a line end here"),
        ("\x85", r"U\+0085.* is not a line end here"),
        ("\u2028", r"U\+2028 LINE SEPARATOR is not a line end here"),
        ("\u2029", r"U\+2029 PARAGRAPH SEPARATOR is not a line end here"),
        ("\xa0", r"U\+00A0 NO-BREAK SPACE is not a separator here"),
        ("\u3000", r"U\+3000 IDEOGRAPHIC SPACE is not a separator here"),
        ("\u200b", r"invisible or control character U\+200B ZERO WIDTH SPACE"),
        ("\x00", r"invisible or control character U\+0000"),
        ("\ufeff", r"byte-order mark \(U\+FEFF\) after the start of the file"),
    ],
    ids=[
        "lone-cr",
        "vt",
        "ff",
        "fs",
        "rs",
        "nel",
        "u2028",
        "u2029",
        "nbsp",
        "ideographic",
        "zwsp",
        "nul",
        "bom",
    ],
)
def test_odd_line_ends_and_invisible_characters_refused(tmp_path: Path, sep: str, reason: str) -> None:
    # str.splitlines would split on most of these and str.split would take some as separators; both
    # would read the file differently from the devkit. We refuse them with file:line and the code point.
    p = _write(tmp_path / "a.txt", f"{GOOD}\n{POLY}{sep}plane 0\n")
    _refused_by_all(p, reason, 2)
    skipped = read_dota_labels(p, on_error="skip")
    assert len(skipped.objects) == 1 and skipped.skipped[0][0] == 2
    q = _write(tmp_path / "Task1_plane.txt", f"{DET}\nP1{sep}0.5 {POLY}\n")
    with pytest.raises(DotaFormatError, match=rf"Task1_plane\.txt:2: {reason}"):
        parse_det_file(q)


def test_old_mac_file_fails_on_line_one_and_crlf_crcr_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path / "mac.txt", f"imagesource:x\r{GOOD}\r{GOOD}\r")
    _refused_by_all(p, "old Mac line endings", 1)
    p = _write(tmp_path / "crcr.txt", f"{GOOD}\r\r\n")
    _refused_by_all(p, "carriage return", 1)


def test_non_utf8_is_a_whole_file_error_in_every_reader(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.txt", f"{GOOD}\n1 2 3 4 5 6 7 8 pl\xe4ne 0\n".encode("latin-1"))
    for read in (read_dota_labels, read_labels, parse_gt_file, parse_det_file, read_imageset):
        with pytest.raises(DotaFormatError, match=r"a\.txt: not a UTF-8 text file \(.* at byte \d+\)"):
            read(p)
    with pytest.raises(DotaFormatError, match="not a UTF-8"):
        read_dota_labels(p, on_error="skip")  # no line to skip


# ------------------------------------------------------------------ headers
def test_headers_by_key_prefix(tmp_path: Path) -> None:
    # issue 13: 'imagesource:Google Earth' (2 tokens... or 9+ with a long source) is a header, never an object.
    long_source = "imagesource:Google Earth 1 2 3 4 5 6 7 8"  # 9 tokens after the key: still a header
    p = _write(tmp_path / "a.txt", f"{long_source}\nGSD : 0.5\n{GOOD}\n")
    parsed = read_dota_labels(p)
    assert parsed.image_source == "Google Earth 1 2 3 4 5 6 7 8" and parsed.gsd == 0.5
    assert len(parsed.objects) == 1 and parsed.objects[0].line_no == 3
    assert _all_readers(p)[2] == _all_readers(p)[0]
    p = _write(tmp_path / "b.txt", f"{GOOD}\nimagesource:late header\ngsd:null\n")  # anywhere in the file
    assert read_dota_labels(p).image_source == "late header" and read_dota_labels(p).gsd is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("source:GF-2", r"unknown header 'source': \(DOTA headers are imagesource: and gsd:\)"),
        ("gsd:abc", r"gsd 'abc' is not a number"),
        ("gsd:-1", r"gsd '-1' is negative"),
        ("gsd:1e400", r"gsd '1e400' overflows float64"),
        ("gsd:nan", r"gsd 'nan' is not finite"),
        ("imagesource:again", r"header imagesource: given twice \(first on line 1\)"),
    ],
)
def test_bad_headers_refused_with_file_line(tmp_path: Path, line: str, reason: str) -> None:
    p = _write(tmp_path / "a.txt", f"imagesource:GoogleEarth\n{line}\n{GOOD}\n")
    _refused_by_all(p, reason, 2)
    assert read_dota_labels(p, on_error="skip").skipped == [(2, read_dota_labels(p, "skip").skipped[0][1])]


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("1e308", r"coordinate '1e308' is outside \+-1e6 px \(MAX_ABS_COORD\)"),  # was an inf training box
        ("-1e308", r"outside \+-1e6 px"),
        ("1000000.5", r"outside \+-1e6 px"),
        ("1e309", r"coordinate '1e309' overflows float64"),
        ("9" * 400, r"overflows float64"),
        ("nan", r"coordinate 'nan' is not finite"),
        ("-inf", r"coordinate '-inf' is not finite"),
        ("1_000", r"coordinate '1_000' is not a plain decimal number"),
        ("１０", r"coordinate '１０' is not a plain decimal number"),
        ("0x10", r"coordinate '0x10' is not a number"),
        ("4O", r"coordinate '4O' is not a number"),
    ],
)
def test_numbers_refused(tmp_path: Path, token: str, reason: str) -> None:
    p = _write(tmp_path / "a.txt", f"{GOOD}\n10 10 {token} 10 40 30 10 30 plane 0\n")
    _refused_by_all(p, reason, 2)
    q = _write(tmp_path / "Task1_plane.txt", f"{DET}\nP1 0.5 10 10 {token} 10 40 30 10 30\n")
    with pytest.raises(DotaFormatError, match=reason):
        parse_det_file(q)


def test_number_bound_and_accepted_syntax(tmp_path: Path) -> None:
    assert MAX_ABS_COORD == 1e6
    p = _write(tmp_path / "a.txt", "1e6 -1000000 .5 5. +3e2 -0 1E-3 007 plane 0\n")
    assert read_dota_labels(p).objects[0].polygon == (1e6, -1e6, 0.5, 5.0, 300.0, -0.0, 1e-3, 7.0)
    # The largest accepted coordinates give a finite float32 training box of the right size.
    corner = [1e6 - 10, 1e6 - 10, 1e6, 1e6 - 10, 1e6, 1e6, 1e6 - 10, 1e6]
    sample = make_sample(np.zeros((8, 8, 3), np.uint8), np.array([corner]), np.array([0]), None, "big")
    _, targets = detection_collate([sample])
    obb = targets[0]["obb"]
    assert torch.isfinite(obb).all() and torch.allclose(obb[0, 2:4], torch.tensor([10.0, 10.0]), atol=0.1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789+-.eE_xni f１", max_size=8), min_size=1, max_size=8))
def test_fast_coordinate_check_equals_the_token_rule(toks: list[str]) -> None:
    # parse_coordinates takes a character-set shortcut; it must accept exactly what parse_coordinate does.
    def one(t: str) -> float | None:
        try:
            return parse_coordinate(t)
        except ValueError:
            return None

    want = [one(t) for t in toks]
    try:
        got = list(parse_coordinates(toks))
    except ValueError:
        assert None in want
    else:
        assert got == want


@pytest.mark.parametrize(("token", "reason"), [("1.0", "not an integer"), ("12345678901", "not an integer"),
                                               ("yes", "not an integer")])  # fmt: skip
def test_difficult_flag_is_a_small_integer(tmp_path: Path, token: str, reason: str) -> None:
    p = _write(tmp_path / "a.txt", f"{POLY} plane {token}\n")
    _refused_by_all(p, f"difficult flag '{token}' is {reason}", 1)


def test_task1_score_must_be_finite(tmp_path: Path) -> None:
    for score in ("nan", "inf", "-inf", "1e309"):
        p = _write(tmp_path / "Task1_plane.txt", f"P1 {score} {POLY}\n")
        with pytest.raises(
            DotaFormatError, match=rf"Task1_plane\.txt:1: score '{score}' (is not finite|overflows)"
        ):
            read_task1_rows(p)


# ------------------------------------------------------------------ token counts
def test_short_non_header_line_is_an_error_not_a_silent_skip(tmp_path: Path) -> None:
    # The devkit drops every line with fewer than 9 tokens; that is how ground truth vanished.
    p = _write(tmp_path / "a.txt", f"{GOOD}\n10 10 40 10 40 30 10 30\n")
    _refused_by_all(p, r"expected 9 or 10 tokens \(8 coordinates, class, \[difficult\]\), got 8", 2)


def test_task1_name_with_space_and_long_lines(tmp_path: Path) -> None:
    p = _write(tmp_path / "Task1_plane.txt", f"P 1 0.9 {POLY}\n")
    with pytest.raises(DotaFormatError, match=r"Task1_plane\.txt:1: expected 10 tokens .*got 11"):
        read_task1(p)  # the merge tool reads with the same rules
    p = _write(tmp_path / "Task1_plane.txt", "x" * 100_000 + "\n")
    with pytest.raises(DotaFormatError) as info:
        parse_det_file(p)
    assert len(str(info.value)) < 400 and str(info.value).endswith("...'")  # the line is shown truncated


def test_fast_and_line_by_line_task1_paths_agree(tmp_path: Path) -> None:
    from gghl.data.dota_task1 import _slow
    from gghl.data.dota_text import read_text, split_lines

    rng = np.random.default_rng(1)
    rows = [f"P{i % 3}{rng.choice([' ', '  ', chr(9)])}{rng.uniform(0, 1):.6f} "
            + " ".join(repr(float(v)) for v in rng.uniform(-1e6, 1e6, 8)) for i in range(40)]  # fmt: skip
    p = _write(tmp_path / "Task1_x.txt", "\ufeff" + "\r\n".join(rows) + "\r\n")
    fast, slow = read_task1_rows(p), _slow(p, split_lines(read_text(p)))
    assert fast.images == slow.images and np.array_equal(fast.polys, slow.polys)
    assert np.array_equal(fast.scores, slow.scores) and fast.line_no.tolist() == list(range(1, 41))


# ------------------------------------------------------------------ writers refuse what readers refuse
def test_writers_refuse_what_cannot_be_read_back(tmp_path: Path) -> None:
    poly = np.array([[10, 10, 40, 10, 40, 30, 10, 30]], dtype=np.float64)
    for bad in (1e308, float("nan"), float("inf"), 1e6 + 1):
        with pytest.raises(ValueError, match=r"object 0 has a coordinate that is not finite or outside"):
            write_dota_labels(tmp_path / "a.txt", np.where(np.arange(8) == 3, bad, poly), ["plane"])
    for name in ("small vehicle", "pla\u200bne", ""):
        with pytest.raises(ValueError, match="class name"):
            write_dota_labels(tmp_path / "a.txt", poly, [name])
    with pytest.raises(ValueError, match="image_source"):
        write_dota_labels(tmp_path / "a.txt", poly, ["plane"], image_source="GF-2\rJL-1")
    det = (torch.tensor(poly), torch.tensor([0.5]), torch.tensor([0]))
    for image in ("P 1", "P1\t", "\xa0P1", ""):
        with pytest.raises(ValueError, match=r"image name .* cannot be written to a Task1 file"):
            write_task1({image: det}, tmp_path / "t1", ["plane"])
    for scores, polys in ((torch.tensor([float("nan")]), det[0]), (det[1], det[0] * 1e300)):
        with pytest.raises(
            ValueError, match=r"image 'P1': detection 0 has a non-finite score or a coordinate"
        ):
            write_task1({"P1": (polys, scores, det[2])}, tmp_path / "t1", ["plane"])
    write_dota_labels(tmp_path / "ok.txt", poly * 1e4, ["飞机"], image_source="Google Earth")  # round trip
    back = read_dota_labels(tmp_path / "ok.txt")
    assert back.image_source == "Google Earth" and back.objects[0].class_name == "飞机"


# ------------------------------------------------------------------ image sets
def test_imageset_bom_crlf_and_errors(tmp_path: Path) -> None:
    p = _write(tmp_path / "set.txt", "\ufeffP0001\r\n\r\n  P0002\t\r\n")
    assert read_imageset(p) == ["P0001", "P0002"]  # BOM not glued into 'P0001'
    for text, reason in [("P0001 P0002\n", r"set\.txt:1: expected one image name per line, got 2 tokens"),
                         ("\n \n", r"set\.txt: the image set names no image"),
                         ("P1\nP\u20281\n", r"set\.txt:2: U\+2028"),
                         ("P1\n\ufeffP2\n", r"set\.txt:2: byte-order mark")]:  # fmt: skip
        with pytest.raises(DotaFormatError, match=reason):
            read_imageset(_write(tmp_path / "set.txt", text))
    with pytest.raises(DotaFormatError, match="may not contain spaces"):
        read_imageset(["P1", "P 2"])


def _eval_dir(tmp_path: Path, gt: dict[str, str], dets: dict[str, str]) -> tuple[Path, Path]:
    for name, text in gt.items():
        _write(tmp_path / "ann" / name, text)
    (tmp_path / "det").mkdir(exist_ok=True)
    for name, text in dets.items():
        _write(tmp_path / "det" / name, text)
    return tmp_path / "ann", tmp_path / "det"


def test_imageset_naming_missing_files_lists_them(tmp_path: Path) -> None:
    ann, det = _eval_dir(tmp_path, {"P1.txt": GOOD + "\n"}, {"Task1_plane.txt": DET + "\n"})
    with pytest.raises(
        FileNotFoundError, match=r"2 of the 3 images in the image set have none in .*'P2', 'P3'"
    ):
        evaluate_task1(ann, det, ["P1", "P2", "P3"], ["plane"])
    with pytest.raises(FileNotFoundError, match="image set names are file stems without extension"):
        evaluate_task1(ann, det, ["P1.png"], ["plane"])
    _write(tmp_path / "ann" / "P4.TXT", GOOD + "\n")  # extension case does not matter (as in the loader)
    r = evaluate_task1(ann, det, ["P1", "P4"], ["plane"], unknown_images="ignore")
    assert r["num_gt"] == {"plane": 2}


# ------------------------------------------------------------------ evaluator: nothing dropped silently
def test_missing_or_empty_det_dir_is_an_error(tmp_path: Path, capsys) -> None:
    ann, det = _eval_dir(tmp_path, {"P1.txt": GOOD + "\n"}, {})
    _write(tmp_path / "set.txt", "P1\n")
    with pytest.raises(FileNotFoundError, match="detection folder not found: .*dets_typo"):
        evaluate_task1(ann, tmp_path / "dets_typo", ["P1"], ["plane"])
    with pytest.raises(
        FileNotFoundError, match=r"no result file for any of the 1 classes .*'Task1_plane\.txt'"
    ):
        evaluate_task1(ann, det, ["P1"], ["plane"])
    for det_dir in (
        tmp_path / "dets_typo",
        det,
    ):  # the command line: one line, exit 1 (was mAP 0.0000, exit 0)
        code = dota_eval_main(["--ann-dir", str(ann), "--det-dir", str(det_dir), "--imageset",
                               str(tmp_path / "set.txt"), "--classes", "plane"])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and err.startswith("error: ") and err.count("\n") == 1 and "mAP" not in err


def test_ground_truth_of_other_classes_is_counted_or_refused(tmp_path: Path, capsys) -> None:
    gt = {"P1.txt": f"{GOOD}\n{POLY} container-crane 0\n", "P2.txt": f"{POLY} Plane 0\n"}
    ann, det = _eval_dir(tmp_path, gt, {"Task1_plane.txt": DET + "\n"})
    r = evaluate_task1(ann, det, ["P1", "P2"], ["plane"])
    assert r["num_gt"] == {"plane": 1} and r["num_gt_other_classes"] == {"Plane": 1, "container-crane": 1}
    _write(tmp_path / "set.txt", "P1\nP2\n")
    assert dota_eval_main(["--ann-dir", str(ann), "--det-dir", str(det), "--imageset", str(tmp_path / "set.txt"),
                           "--classes", "plane"]) == 0  # fmt: skip
    assert (
        "note: 2 ground-truth objects of classes not evaluated were skipped: Plane 1, container-crane 1"
        in (capsys.readouterr().out)
    )
    with pytest.raises(ValueError, match=r"none of the 1 ground-truth objects .* is of an evaluated class"):
        evaluate_task1(ann, det, ["P2"], ["plane"], unknown_images="ignore")  # only 'Plane' (case)


def test_malformed_gt_in_cli_is_one_line(tmp_path: Path, capsys) -> None:
    ann, det = _eval_dir(tmp_path, {"P1.txt": f"{GOOD}\n1 2 3\n"}, {"Task1_plane.txt": DET + "\n"})
    _write(tmp_path / "set.txt", "P1\n")
    code = dota_eval_main(["--ann-dir", str(ann), "--det-dir", str(det), "--imageset", str(tmp_path / "set.txt"),
                           "--classes", "plane"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "P1.txt:2: expected 9 or 10 tokens" in err and err.count("\n") == 1


# ------------------------------------------------------------------ image files: extension case, empty folders
def _dota(root: Path, images: list[str], labels: dict[str, str] | None) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    for name in images:
        write_png(root / "images" / name, np.zeros((64, 64, 3), np.uint8))
    if labels is not None:
        (root / "labelTxt").mkdir(exist_ok=True)
        for name, text in labels.items():
            _write(root / "labelTxt" / name, text)
    return root


def test_image_extension_case_does_not_matter(tmp_path: Path) -> None:
    root = _dota(
        tmp_path / "d" / "train", ["a.PNG", "b.Png", "c.png"], {"a.txt": GOOD, "b.TXT": GOOD, "c.txt": ""}
    )
    ds = DotaDataset(tmp_path / "d", "train", class_names=["plane"])
    assert [r.image_path.name for r in ds.records] == ["a.PNG", "b.Png", "c.png"] and len(
        ds[0]["labels"]
    ) == 1
    assert [p.name for p in list_image_files(root / "images")] == ["a.PNG", "b.Png", "c.png"]
    assert find_image(root / "images", "a").name == "a.PNG" and find_image(root / "images", "z") is None
    totals = split_dataset(root, tmp_path / "out", sizes=(32,), gaps=(0,), num_workers=0, progress=False)
    assert totals["images"] == 3 and totals["objects"] == 2


def test_two_images_for_one_stem_are_refused_or_counted(tmp_path: Path) -> None:
    _dota(tmp_path / "d" / "train", ["a.png", "a.jpg", "b.png"], {"a.txt": GOOD, "b.txt": GOOD})
    with pytest.raises(ValueError, match=r"several images for 'a': \['a.jpg', 'a.png'\]"):
        DotaDataset(tmp_path / "d", "train", class_names=["plane"])
    ds = DotaDataset(tmp_path / "d", "train", class_names=["plane"], on_error="skip")
    assert dict(ds.skipped) == {"ambiguous_image": 1} and [r.image_id for r in ds.records] == ["b"]
    with pytest.raises(ValueError, match="several images for 'a'"):
        find_image(tmp_path / "d" / "train" / "images", "a")


@pytest.mark.parametrize("labels", [None, {}], ids=["no-labelTxt", "empty-labelTxt"])
def test_empty_dota_folder_names_what_was_looked_for(tmp_path: Path, labels) -> None:
    _dota(tmp_path / "d" / "train", [], labels)
    with pytest.raises(
        FileNotFoundError, match=r"train: empty DOTA split: no image files \(\*\.png, .*any case\)"
    ):
        DotaDataset(tmp_path / "d", "train", class_names=["plane"])
    dm = DotaDataModule(str(tmp_path / "d"), version=None, class_names=["plane"], img_size=64,
                        splits={"train": "train", "val": None, "test": None}, num_workers=0)  # fmt: skip
    with pytest.raises(FileNotFoundError, match="empty DOTA split"):  # not torch's num_samples=0
        dm.train_dataloader()


def test_everything_skipped_is_an_error_not_an_empty_dataset(tmp_path: Path) -> None:
    _dota(tmp_path / "d" / "train", ["a.png"], {})
    _write(tmp_path / "d" / "train" / "labelTxt" / "a.txt", b"\xff\xfe garbage")
    with pytest.raises(DotaFormatError, match="not a UTF-8 text file"):
        DotaDataset(tmp_path / "d", "train", class_names=["plane"])
    with pytest.raises(ValueError, match=r"no usable image left .* skipped: \{'unreadable_label': 1\}"):
        DotaDataset(tmp_path / "d", "train", class_names=["plane"], on_error="skip")


def test_empty_coco_split_is_named(tmp_path: Path) -> None:
    cats = [{"id": 1, "name": "plane"}]
    _write(tmp_path / "annotations" / "instances_train.json", json.dumps({"images": [], "annotations": [],
                                                                        "categories": cats}))  # fmt: skip
    (tmp_path / "train").mkdir()
    dm = CocoDataModule(str(tmp_path), splits={"train": "train", "val": None, "test": None}, img_size=64,
                        class_names=["plane"], num_workers=0)  # fmt: skip
    with pytest.raises(
        ValueError, match=r"the 'train' split has no images \(images .*train, annotations .*json\)"
    ):
        dm.train_dataloader()
    one = {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}],
        "annotations": [],
        "categories": cats,
    }
    _write(tmp_path / "annotations" / "instances_train.json", json.dumps(one))
    with pytest.raises(
        FileNotFoundError, match=r"train: none of the first 1 images .* \(e.g. 'a.png'\); the folder is empty"
    ):
        CocoDetection(tmp_path / "train", tmp_path / "annotations" / "instances_train.json")


def test_split_tool_empty_folder_and_orphan_labels(tmp_path: Path, capsys) -> None:
    import importlib.util

    _dota(tmp_path / "src", [], {})
    with pytest.raises(FileNotFoundError, match=r"images: no image files \(\*\.png.*any case\) to split"):
        split_dataset(tmp_path / "src", tmp_path / "out", progress=False)
    _dota(tmp_path / "src", ["a.png"], {"a.txt": GOOD, "b.txt": GOOD})
    with pytest.raises(FileNotFoundError, match=r"1 label files have no image .*b\.txt"):
        split_dataset(tmp_path / "src", tmp_path / "out", progress=False)
    spec = importlib.util.spec_from_file_location(
        "split_cli", Path(__file__).parents[2] / "scripts" / "dota_split.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--src", str(tmp_path / "src"), "--dst", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_merge_tool_names_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path / "p" / "Task1_plane.txt", f"P0001__1__0___0 0.9 {POLY}\nnot_a_patch 0.5 {POLY}\n")
    with pytest.raises(DotaFormatError, match=r"Task1_plane\.txt:2: not a DOTA patch name"):
        merge_task1_files(tmp_path / "p", tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="patch result folder not found"):
        merge_task1_files(tmp_path / "nope", tmp_path / "m")
