"""Malformed DOTA files: clear errors naming file and line (where the devkit crashes or misreads)."""

from __future__ import annotations

import numpy as np
import pytest

from gghl.data.dota_text import DotaFormatError, read_imageset
from gghl.evaluation.dota import evaluate_task1
from gghl.evaluation.dota_io import parse_det_file, parse_gt_file

POLY = "0 0 10 0 10 10 0 10"


def test_gt_headers_skipped_and_difficult_parsed(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(
        f"imagesource:GoogleEarth\ngsd:0.146343590398\n{POLY} plane 0\n{POLY} ship 1\n{POLY} ship\r\n\n"
    )
    names, polys, diff = parse_gt_file(p)
    assert names == ["plane", "ship", "ship"]
    assert diff.tolist() == [False, True, False]
    np.testing.assert_array_equal(polys[0], [0, 0, 10, 0, 10, 10, 0, 10])


@pytest.mark.parametrize(
    ("line", "msg"),
    [
        (f"{POLY} plane 0 extra", r"a\.txt:2: expected 9 or 10 tokens .*got 11"),
        (f"{POLY} plane x", r"a\.txt:2: difficult flag 'x' is not an integer"),
        ("0 0 ten 0 10 10 0 10 plane", r"a\.txt:2: coordinate 'ten' is not a number"),
        ("0 0 inf 0 10 10 0 10 plane", r"a\.txt:2: coordinate 'inf' is not finite"),
        # The devkit silently skips lines of fewer than 9 tokens; only key: headers may be short now.
        ("0 0 10 0 10 10 0 10", r"a\.txt:2: expected 9 or 10 tokens .*got 8"),
        ("0\t0\t10\t0\t10\t10\t0\t10", r"a\.txt:2: expected 9 or 10 tokens .*got 8"),
    ],
)
def test_gt_errors_name_file_and_line(tmp_path, line, msg):
    p = tmp_path / "a.txt"
    p.write_text(f"gsd:0.1\n{line}\n")
    with pytest.raises(DotaFormatError, match=msg):
        parse_gt_file(p)


@pytest.mark.parametrize(
    ("line", "msg"),
    [
        (f"img 0.9 {POLY} 1", r"Task1_plane\.txt:2: expected 10 tokens .*got 11"),
        ("img 0.9 0 0 10 0 10 10 0", r"Task1_plane\.txt:2: expected 10 tokens .*got 9"),
        (f"img nan {POLY}", r"Task1_plane\.txt:2: score 'nan' is not finite"),
        (f"img inf {POLY}", r"Task1_plane\.txt:2: score 'inf' is not finite"),
        (f"img high {POLY}", r"Task1_plane\.txt:2: score 'high' is not a number"),
    ],
)
def test_det_errors_name_file_and_line(tmp_path, line, msg):
    p = tmp_path / "Task1_plane.txt"
    p.write_text(f"img 0.5 {POLY}\n{line}\n")
    with pytest.raises(DotaFormatError, match=msg):
        parse_det_file(p)


def test_whitespace_runs_tabs_bom_crlf_accepted(tmp_path):
    # The devkit raises ValueError on a double space (empty token); the shared reader takes any run of
    # spaces/tabs, a BOM and CRLF, and reads the same numbers as the canonical file.
    gt = tmp_path / "a.txt"
    gt.write_bytes(b"\xef\xbb\xbfimagesource:Google Earth\r\ngsd:0.1\r\n0 0  10\t0 10 10 0 10\tplane\t1\r\n")
    names, polys, diff = parse_gt_file(gt)
    assert names == ["plane"] and diff.tolist() == [True] and polys.tolist() == [[0, 0, 10, 0, 10, 10, 0, 10]]
    det = tmp_path / "Task1_plane.txt"
    det.write_bytes(b"\xef\xbb\xbfimg 0.9  0 0 10 0 10 10 0 10\r\nimg\t0.5\t" + POLY.encode() + b"\n")
    imgs, scores, polys, lines = parse_det_file(det)
    assert imgs == ["img", "img"] and scores.tolist() == [0.9, 0.5] and lines.tolist() == [1, 2]
    assert polys.tolist() == [[0, 0, 10, 0, 10, 10, 0, 10]] * 2


def test_det_file_order_lines_and_blank_lines(tmp_path):
    p = tmp_path / "Task1_plane.txt"
    p.write_text(f"b 0.5 {POLY}\n\na 0.7 {POLY}\n")
    imgs, scores, polys, lines = parse_det_file(p)
    assert imgs == ["b", "a"] and scores.tolist() == [0.5, 0.7] and lines.tolist() == [1, 3]
    assert polys.shape == (2, 8)


def test_imageset_file_and_list(tmp_path):
    p = tmp_path / "set.txt"
    p.write_text(" a \n\nb\n")
    assert read_imageset(p) == ["a", "b"] == read_imageset(["a", "b"])
    p.write_text("a\nb\na\n")
    with pytest.raises(DotaFormatError, match=r"set\.txt:3: image 'a' is listed twice"):
        read_imageset(p)
    with pytest.raises(FileNotFoundError, match="image set file not found"):
        read_imageset(tmp_path / "missing.txt")


def test_evaluate_reports_malformed_gt_and_missing_gt(write_dota):
    ann, det, imageset = write_dota({"img": [f"{POLY} plane 0 0"]}, {"plane": []})
    with pytest.raises(DotaFormatError, match=r"img\.txt:1: expected 9 or 10 tokens .*got 11"):
        evaluate_task1(ann, det, imageset, ["plane"])
    with pytest.raises(FileNotFoundError, match=r"ground-truth file not found: .*other\.txt"):
        evaluate_task1(ann, det, ["other"], ["plane"])


def test_det_fast_path_equals_python_floats(tmp_path):
    # the numpy fast path must give exactly float() of every token (and keep names, order, lines)
    rng = np.random.default_rng(0)
    vals = rng.normal(0, 1e3, (50, 9)) * rng.choice([1e-9, 1, 1e2], (50, 9))  # |coordinates| <= 1e6
    toks = [
        [f"img_{i % 7}"] + [repr(float(v)) if j % 2 else f"{v:.6e}" for j, v in enumerate(row)]
        for i, row in enumerate(vals)
    ]
    text = "".join(" ".join(t) + ("\r\n" if i % 3 else "  \n\n") for i, t in enumerate(toks))
    p = tmp_path / "Task1_x.txt"
    p.write_text(text)
    imgs, scores, polys, lines = parse_det_file(p)
    assert imgs == [t[0] for t in toks]
    np.testing.assert_array_equal(scores, [float(t[1]) for t in toks])
    np.testing.assert_array_equal(polys, [[float(x) for x in t[2:]] for t in toks])
    assert lines.tolist() == [i + 1 + sum(1 for k in range(i) if k % 3 == 0) for i in range(50)]
