"""DOTA annotation files: reader/writer round trip, headers, tolerant whitespace, malformed lines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gghl.data.dota_classes import DOTA_V1_0, DOTA_V1_5, DOTA_V2_0, dota_classes
from gghl.data.dota_labels import read_dota_labels, write_dota_labels
from gghl.data.dota_text import DotaFormatError


def test_class_lists_exact() -> None:
    assert len(DOTA_V1_0) == 15 and len(DOTA_V1_5) == 16 and len(DOTA_V2_0) == 18
    assert DOTA_V1_5[-1] == "container-crane" and DOTA_V2_0[-2:] == ("airport", "helipad")
    assert "baseball-diamond" in DOTA_V1_0 and "ground-track-field" in DOTA_V1_0
    assert dota_classes("2.0") == list(DOTA_V2_0)
    with pytest.raises(ValueError, match="unknown DOTA version"):
        dota_classes("3.0")


def test_write_read_round_trip_is_bit_exact(tmp_path) -> None:
    rng = np.random.default_rng(0)
    polys = rng.uniform(0, 4000, size=(7, 8))
    names = ["plane", "ship", "small-vehicle", "plane", "harbor", "helicopter", "bridge"]
    diff = [0, 1, 0, 0, 1, 0, 0]
    path = tmp_path / "labelTxt" / "P0001.txt"
    write_dota_labels(path, polys, names, diff, image_source="GoogleEarth", gsd=0.146343590398)
    lines = path.read_text().splitlines()
    assert lines[0] == "imagesource:GoogleEarth" and lines[1] == "gsd:0.146343590398"
    parsed = read_dota_labels(path)
    assert parsed.image_source == "GoogleEarth" and parsed.gsd == pytest.approx(0.146343590398)
    assert np.array_equal(parsed.polygons(), polys)  # shortest repr reads back exactly
    assert [o.class_name for o in parsed.objects] == names
    assert [o.difficult for o in parsed.objects] == diff
    assert [o.line_no for o in parsed.objects] == list(range(3, 10))


def test_official_style_lines(tmp_path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(
        "imagesource:GoogleEarth\ngsd:null\n"
        "2753 2408 2861 2385 2888 2468 2805 2502 plane 0\n"
        "3445.0  3391.0 3484 3409 3478 3422 3437 3402 large-vehicle\n"  # double space, no difficult
        "\n"
        "1 2 3 4 5 6 7 8 ship 1\n"
    )
    parsed = read_dota_labels(path)
    assert parsed.gsd is None and parsed.image_source == "GoogleEarth"
    assert [o.class_name for o in parsed.objects] == ["plane", "large-vehicle", "ship"]
    assert [o.difficult for o in parsed.objects] == [0, 0, 1]
    assert parsed.polygons()[1, 0] == 3445.0


def test_empty_file_has_no_objects(tmp_path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("")
    assert read_dota_labels(path).polygons().shape == (0, 8)
    write_dota_labels(tmp_path / "w.txt", np.zeros((0, 8)), [], [])
    assert read_dota_labels(tmp_path / "w.txt").objects == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("1 2 3 4 5 6 7 plane", "expected 9 or 10 tokens"),
        ("1 2 3 4 5 6 7 plane 0", "coordinate 'plane' is not a number"),
        ("1 2 3 4 5 6 7 8 plane 0 extra", "expected 9 or 10 tokens"),
        ("1 2 3 x 5 6 7 8 plane 0", "coordinate 'x' is not a number"),
        ("1 2 3 nan 5 6 7 8 plane 0", "not finite"),
        ("1 2 3 4 5 6 7 8 plane yes", "difficult flag 'yes' is not an integer"),
        ("gsd:abc", "gsd 'abc' is not a number"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, line: str, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"imagesource:x\n1 2 3 4 5 6 7 8 plane 0\n{line}\n1 2 3 4 5 6 7 8 ship 0\n")
    with pytest.raises(DotaFormatError, match=reason) as info:
        read_dota_labels(path)
    assert f"{path}:3:" in str(info.value)
    assert info.value.line_no == 3 and info.value.path == str(path)
    skipped = read_dota_labels(path, on_error="skip")
    assert [o.class_name for o in skipped.objects] == ["plane", "ship"]
    assert [ln for ln, _ in skipped.skipped] == [3]


def test_missing_file_and_bad_options(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_dota_labels(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="on_error"):
        read_dota_labels(tmp_path / "nope.txt", on_error="ignore")
    with pytest.raises(ValueError, match="whitespace"):
        write_dota_labels(tmp_path / "x.txt", np.zeros((1, 8)), ["small vehicle"])


coords = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False, allow_infinity=False)
names = st.sampled_from(list(DOTA_V2_0))


@settings(max_examples=40, deadline=None)
@given(
    objs=st.lists(st.tuples(st.lists(coords, min_size=8, max_size=8), names, st.integers(0, 1)), max_size=6),
    source=st.one_of(st.none(), st.sampled_from(["GoogleEarth", "GF-2", "JL-1"])),
    gsd=st.one_of(st.none(), st.floats(min_value=0.01, max_value=10)),
)
def test_round_trip_property(tmp_path_factory, objs, source, gsd) -> None:
    path = tmp_path_factory.mktemp("rt") / "x.txt"
    polys = np.asarray([o[0] for o in objs], dtype=np.float64).reshape(-1, 8)
    write_dota_labels(path, polys, [o[1] for o in objs], [o[2] for o in objs], image_source=source, gsd=gsd)
    parsed = read_dota_labels(path)
    assert np.array_equal(parsed.polygons(), polys)
    assert [(o.class_name, o.difficult) for o in parsed.objects] == [(o[1], o[2]) for o in objs]
    assert parsed.image_source == source
    assert parsed.gsd == (gsd if source is not None or gsd is not None else None)


def test_crlf_and_bom(tmp_path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbfimagesource:GoogleEarth\r\ngsd:0.5\r\n1 2 3 4 5 6 7 8 plane 1\r\n")
    parsed = read_dota_labels(path)
    assert parsed.image_source == "GoogleEarth" and parsed.gsd == 0.5
    assert [(o.class_name, o.difficult, o.line_no) for o in parsed.objects] == [("plane", 1, 3)]
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("1 2 3 4 5 6 7 8 pl\xe4ne 0\n".encode("latin-1"))
    with pytest.raises(DotaFormatError, match="not a UTF-8 text file"):
        read_dota_labels(bad)
