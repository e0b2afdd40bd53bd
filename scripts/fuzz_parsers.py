"""Fuzz the DOTA/COCO parsers and result readers with malformed variants of valid files.

Each input must either parse or raise the parser's documented error type; anything else (an
``IndexError`` / ``KeyError`` / ``TypeError`` from deep inside, a failed consistency check) is a failure
and is printed with the input (a hang is not caught).

    python scripts/fuzz_parsers.py --max-seconds 60 [--max-examples N] [--seed 0] [--targets a,b]

Targets and their documented errors:
  dota_labels       gghl.data.dota_labels.read_dota_labels (raise mode)            DotaFormatError
  dota_labels_skip  the same, skip mode                                             DotaFormatError
  dota_gt           gghl.evaluation.dota_io.parse_gt_file                           DotaFormatError
  dota_det          gghl.evaluation.dota_io.parse_det_file (Task1)                  DotaFormatError
  coco_json         gghl.data.coco_json.load_coco_json                              CocoFormatError
  coco_results      gghl.evaluation.coco._check_dets (result lists)                 CocoResultError
  dota_text_agree   the shared DOTA text reader (gghl.data.dota_text): training reader (raise and skip
                    mode), split tool and evaluator must parse a label file identically or refuse it
                    at the same line; accepted values are finite, |coordinate| <= MAX_ABS_COORD, names
                    are single tokens without refused characters                    DotaFormatError
  dota_task1_agree  Task1 reader: numpy fast path == line-by-line path == merge tool's reader; same
                    invariants                                                      DotaFormatError
  dota_imageset     gghl.data.dota_text.read_imageset: unique, non-empty, one-token names DotaFormatError
  dota_write_read   write_dota_labels / write_task1 with hostile values either refuse (ValueError) or
                    write files that read back to the same values                   ValueError
  image_reader      gghl.data.image_io.read_image / read_image_size on mutated PNG/JPEG/BMP/TIFF files
                    (lying width/height, flips, truncation; lying extensions) under a 4 Mpx limit:
                    RGB uint8 of the header's size, or (gghl.testing.image_fuzz)       ImageReadError
  checkpoint        gghl.tasks.restore.restore_task on byte flips, truncation, random bytes, hostile
                    stored configs (_target_ outside the allow-list, nested, _partial_, _args_) and
                    state-dict damage of a real tiny checkpoint (gghl.testing.checkpoint_fuzz)
                                                                CheckpointError, UnsafeConfigError
Mutations: token replace/insert/delete (NaN, inf, 1e308, 1e6+, garbage, empty), line duplication/
truncation, tabs and space runs, BOM (start or inside), CR / CRLF / lone-CR line ends, odd Unicode line
separators and spaces (\x0b \x0c \x1c-\x1e \x85 U+2028 U+2029 NBSP U+3000 ZWSP), header lines
(``imagesource:Google Earth``, ``GSD: 0.5``, unknown keys, duplicates), random bytes, byte flips, file
truncation; for json: deleted keys, wrong types, NaN/inf, duplicate ids.

Adding a target: write ``make(rng, tmp) -> (input_bytes, call)`` (``call()`` runs the parser and may
assert invariants) and add one line ``TARGETS["name"] = (make, (DocumentedError, ...))``.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--max-examples", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default=None, help="comma-separated subset of the targets listed above")
    return ap


if __name__ == "__main__":
    build_parser().parse_args()  # answers --help before torch is imported

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gghl.data.coco_json import CocoFormatError, load_coco_json  # noqa: E402
from gghl.data.dota_labels import read_dota_labels, write_dota_labels  # noqa: E402
from gghl.data.dota_merge import read_task1, write_task1  # noqa: E402
from gghl.data.dota_split import read_labels  # noqa: E402
from gghl.data.dota_task1 import _slow as task1_line_by_line  # noqa: E402
from gghl.data.dota_task1 import read_task1_rows  # noqa: E402
from gghl.data.dota_text import (  # noqa: E402
    MAX_ABS_COORD,
    DotaFormatError,
    check_line,
    read_imageset,
    read_text,
    split_lines,
)
from gghl.evaluation.coco import CocoResultError, _check_dets  # noqa: E402
from gghl.evaluation.dota_io import parse_det_file, parse_gt_file  # noqa: E402

WEIRD_TOKENS = ["nan", "NaN", "inf", "-inf", "1e309", "", " ", "x", "1,5", "0x10", "--1", "1e", "\t", "∞",
                "plane", "9" * 400, "-0", "1_000", "\x00", "ｐｌａｎｅ", ":", "gsd:", "imagesource:",
                "1e308", "-1e308", "1e6", "1000000.5", "-1000001", "1e-400", ".5", "5.", "+3e2", "１０",
                "\ufeff", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e", "\r", "\xa0",
                "\u3000", "\u200b", "\u202e", "P0001.png", "a b"]  # fmt: skip
ODD_SEPARATORS = ["\t", "  ", " \t ", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029",
                  "\xa0", "\u3000", "\u200b", "\r", "\ufeff"]  # fmt: skip
HEADERS = ["imagesource:Google Earth", "imagesource:GoogleEarth", "gsd:0.146", "GSD: 0.5", "gsd:null",
           "gsd:1e400", "gsd:-1", "gsd:abc", "Imagesource : x", "foo:bar", "imagesource:a\tb",
           "source:GF-2", "gsd:", "imagesource:"]  # fmt: skip
WEIRD_JSON: list[Any] = [
    None,
    True,
    "1",
    "",
    [],
    {},
    1.5,
    -1,
    2**70,
    float("nan"),
    float("inf"),
    [1, 2],
    {"a": 1},
]

DOTA_GT = (
    "imagesource:GoogleEarth\ngsd:0.146\n"
    "10 10 50 10 50 30 10 30 plane 0\n"
    "100.5 20 140 25 135 60 98 55 large-vehicle 1\n"
    "0 0 5 0 5 5 0 5 small-vehicle\n"
)
DOTA_DET = (
    "P0001 0.9 10 10 50 10 50 30 10 30\nP0002 0.15 100 20 140 25 135 60 98 55\nP0001 1 0 0 5 0 5 5 0 5\n"
)
COCO_GT: dict[str, Any] = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64},
               {"id": 2, "file_name": "b.jpg", "width": 64, "height": 64}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0},
                    {"id": 2, "image_id": 2, "category_id": 7, "bbox": [5, 5, 3, 4], "area": 12, "iscrowd": 1}],
    "categories": [{"id": 3, "name": "plane"}, {"id": 7, "name": "ship"}],
}  # fmt: skip
COCO_DETS: list[dict[str, Any]] = [
    {"image_id": 1, "category_id": 3, "bbox": [1.0, 2.0, 10.0, 12.0], "score": 0.9},
    {"image_id": 2, "category_id": 7, "bbox": [5.0, 5.0, 3.0, 4.0], "score": 0.3},
]


# ------------------------------------------------------------------------------------------ mutators
def mutate_text(rng: random.Random, text: str) -> bytes:
    """A malformed variant of a text file (possibly not even UTF-8)."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(12)
        i = rng.randrange(len(lines)) if lines else 0
        toks = lines[i].split(" ") if lines else []
        if op == 0 and toks:  # replace a token
            toks[rng.randrange(len(toks))] = rng.choice(WEIRD_TOKENS)
        elif op == 1:  # insert a token
            toks.insert(rng.randint(0, len(toks)), rng.choice(WEIRD_TOKENS))
        elif op == 2 and toks:  # delete a token
            del toks[rng.randrange(len(toks))]
        elif op == 3 and lines:  # duplicate a line
            lines.insert(i, lines[i])
        elif op == 4:  # double spaces / tabs between tokens
            toks = [t + rng.choice(["", " ", "\t"]) for t in toks]
        elif op == 5 and lines:  # drop a line
            del lines[i]
            continue
        elif op == 6:  # blank / whitespace-only line
            lines.insert(i, rng.choice(["", "   ", "\t", "\r"]))
            continue
        elif (
            op == 7 and toks
        ):  # an odd separator (tab run, Unicode line separator, NBSP, CR...) between tokens
            k = rng.randrange(len(toks))
            lines[i] = " ".join(toks[:k]) + rng.choice(ODD_SEPARATORS) + " ".join(toks[k:])
            continue
        elif op == 8:  # a header line, anywhere
            lines.insert(i, rng.choice(HEADERS))
            continue
        if lines and op not in (3,):
            lines[i] = " ".join(toks)
    eol = rng.choice(["\n"] * 6 + ["\r\n", "\r", "\r\r\n", "\u2028", "\x85"])
    out = eol.join(lines) + rng.choice(["", "", eol, "\n", "\r"])
    if rng.random() < 0.15:  # byte-order mark at the start (allowed) or inside (refused)
        k = 0 if rng.random() < 0.7 else rng.randrange(len(out) + 1)
        out = out[:k] + "\ufeff" + out[k:]
    data = out.encode("utf-8", "surrogatepass")
    op = rng.randrange(8)
    if op == 0 and data:  # truncate
        data = data[: rng.randrange(len(data))]
    elif op == 1:  # random bytes inserted
        k = rng.randrange(len(data) + 1)
        data = data[:k] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[k:]
    elif op == 2 and data:  # flip a byte
        k = rng.randrange(len(data))
        data = data[:k] + bytes([data[k] ^ (1 << rng.randrange(8))]) + data[k + 1 :]
    elif op == 3:
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    return data


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def mutate_json(rng: random.Random, obj: Any) -> Any:
    """Deleted keys, wrong types, NaN/inf, duplicated entries (same id) in a deep copy of ``obj``."""
    obj = copy.deepcopy(obj)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(obj) if p]
        if not paths:
            return copy.deepcopy(rng.choice(WEIRD_JSON))
        path = rng.choice(paths)
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        op = rng.randrange(4)
        if op == 0 and isinstance(parent, dict):
            del parent[key]
        elif op == 1 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))  # duplicate entry: duplicate id
        else:
            parent[key] = copy.deepcopy(rng.choice(WEIRD_JSON))
    return obj


# ------------------------------------------------------------------------------------------ targets
def _text_target(
    fn: Callable[[Path], Any], seed_text: str
) -> Callable[[random.Random, Path], tuple[bytes, Callable]]:
    def make(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
        data = mutate_text(rng, seed_text)
        p = tmp / "input.txt"
        p.write_bytes(data)
        return data, lambda: fn(p)

    return make


def _coco_json(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    if rng.random() < 0.2:
        data = mutate_text(rng, json.dumps(COCO_GT))
    else:
        data = json.dumps(mutate_json(rng, COCO_GT)).encode()
    p = tmp / "instances.json"
    p.write_bytes(data)
    return data, lambda: load_coco_json(p)


def _coco_results(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    dets = mutate_json(rng, COCO_DETS)
    data = json.dumps(dets).encode()
    return data, lambda: _check_dets(dets if isinstance(dets, list) else [dets], {1, 2}, {3, 7}, "fuzz.json")


def _outcome(fn: Callable[[], Any]) -> tuple[Any, tuple[int, str] | None]:
    """``(result, None)`` or ``(None, (line_no, reason))`` of a DotaFormatError."""
    try:
        return fn(), None
    except DotaFormatError as e:
        return None, (e.line_no, e.reason)


def _check_values(names: list[str], polys: np.ndarray, scores: np.ndarray | None = None) -> None:
    """Invariants of everything the shared reader accepts."""
    assert polys.dtype == np.float64 and polys.shape == (len(names), 8), polys.shape
    assert np.isfinite(polys).all() and (np.abs(polys) <= MAX_ABS_COORD).all(), "coordinate out of range"
    if scores is not None:
        assert np.isfinite(scores).all(), "non-finite score accepted"
    for n in names:
        assert n and check_line(n) is None and n.split() == [n], f"bad name accepted: {n!r}"


def _text_agree(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    data = mutate_text(rng, DOTA_GT)
    p = tmp / "agree.txt"
    p.write_bytes(data)

    def call() -> None:
        train, err = _outcome(lambda: read_dota_labels(p))
        gt, err_gt = _outcome(lambda: parse_gt_file(p))
        split, err_split = _outcome(lambda: read_labels(p))
        assert err == err_gt == err_split, f"readers disagree: {err} / {err_gt} / {err_split}"
        skip, err_skip = _outcome(lambda: read_dota_labels(p, on_error="skip"))
        if err is not None:
            if err[0] == 0:  # a whole-file error (not UTF-8) is one in skip mode too
                assert err_skip == err, f"skip mode: {err_skip} != {err}"
            else:
                assert err_skip is None and skip.skipped[0] == err, (
                    f"skip mode: {err_skip} {skip and skip.skipped}"
                )
            raise DotaFormatError(p, err[0], err[1])
        assert err_skip is None and not skip.skipped and skip.objects == train.objects
        names, polys, diff = gt
        assert names == [o.class_name for o in train.objects] and split == train.objects
        assert np.array_equal(polys, train.polygons()) and diff.tolist() == [
            o.difficult != 0 for o in train.objects
        ]
        _check_values(names, polys)
        if train.image_source is not None:
            assert check_line(train.image_source) is None

    return data, call


def _task1_agree(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    data = mutate_text(rng, DOTA_DET)
    p = tmp / "Task1_agree.txt"
    p.write_bytes(data)

    def call() -> None:
        rows, err = _outcome(lambda: read_task1_rows(p))
        slow, err_slow = _outcome(lambda: task1_line_by_line(p, split_lines(read_text(p))))
        merge, err_merge = _outcome(lambda: read_task1(p))
        assert err == err_slow == err_merge, f"paths disagree: {err} / {err_slow} / {err_merge}"
        if err is not None:
            raise DotaFormatError(p, err[0], err[1])
        assert rows.images == slow.images and np.array_equal(rows.line_no, slow.line_no)
        assert np.array_equal(rows.scores, slow.scores) and np.array_equal(rows.polys, slow.polys)
        assert [m[0] for m in merge] == rows.images and [m[2] for m in merge] == rows.polys.tolist()
        _check_values(rows.images, rows.polys, rows.scores)

    return data, call


def _imageset(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    data = mutate_text(rng, "P0001\nP0002\n\nP0003__1__0___824\n")
    p = tmp / "imageset.txt"
    p.write_bytes(data)

    def call() -> None:
        names = read_imageset(p)
        assert names and len(set(names)) == len(names)
        _check_values(names, np.zeros((len(names), 8)))

    return data, call


def _write_read(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    n = rng.randint(0, 4)
    pick = [0.0, 1.5, -3.25, 1e6, -1e6, 1e6 + 1, 1e308, float("nan"), float("inf"), 5e-324, 123456.789]
    polys = np.array([[rng.choice(pick) if rng.random() < 0.2 else rng.uniform(-1e3, 1e4) for _ in range(8)]
                      for _ in range(n)]).reshape(n, 8)  # fmt: skip
    names = [rng.choice(["plane", "small-vehicle", "a b", "", "x\ny", "飞机", "\u200bship", "ship\ufeff"])
             for _ in range(n)]  # fmt: skip
    scores = [rng.choice([0.5, 1.0, 0.0, float("nan"), float("inf"), 1e300]) for _ in range(n)]
    image = rng.choice(["P0001", "P 0001", "P0001\t", "\xa0P1", "图像1", ""])
    source = rng.choice([None, "Google Earth", "GF-2\rJL-1", "x\u2028y"])
    data = repr((polys.tolist(), names, scores, image, source)).encode()

    def call() -> None:
        p = tmp / "w" / "labels.txt"
        try:
            write_dota_labels(p, polys, names, image_source=source)
        except DotaFormatError as e:
            raise AssertionError(f"writer raised a reader error: {e}") from None
        except ValueError:
            pass  # refused up front: fine
        else:
            back, err = _outcome(lambda: read_dota_labels(p))
            assert err is None, f"written labels do not read back: {err}"
            assert np.array_equal(back.polygons(), polys) and [o.class_name for o in back.objects] == names
            assert back.image_source == source
        out = tmp / "w" / "task1"
        classes = [f"c{i}" for i in range(n)]
        dets = {image: (torch.tensor(polys).reshape(-1, 8), torch.tensor(scores, dtype=torch.float64),
                        torch.arange(n, dtype=torch.int64))}  # fmt: skip
        try:
            write_task1(dets, out, classes)
        except DotaFormatError as e:
            raise AssertionError(f"writer raised a reader error: {e}") from None
        for i, c in enumerate(classes):  # ValueError above (allowed) when it could not be read back
            rows, err = _outcome(lambda c=c: read_task1(out / f"Task1_{c}.txt"))
            assert err is None, f"written Task1 file does not read back: {err}"
            assert [r[0] for r in rows] == [image]
            assert np.allclose(rows[0][2], polys[i], atol=0.006) and abs(rows[0][1] - scores[i]) <= 6e-5

    return data, call


TARGETS: dict[str, tuple[Callable, tuple[type[BaseException], ...]]] = {
    "dota_labels": (_text_target(lambda p: read_dota_labels(p), DOTA_GT), (DotaFormatError,)),
    "dota_labels_skip": (
        _text_target(lambda p: read_dota_labels(p, on_error="skip"), DOTA_GT),
        (DotaFormatError,),
    ),
    "dota_gt": (_text_target(parse_gt_file, DOTA_GT), (DotaFormatError,)),
    "dota_det": (_text_target(parse_det_file, DOTA_DET), (DotaFormatError,)),
    "coco_json": (_coco_json, (CocoFormatError,)),
    "coco_results": (_coco_results, (CocoResultError,)),
    "dota_text_agree": (_text_agree, (DotaFormatError,)),
    "dota_task1_agree": (_task1_agree, (DotaFormatError,)),
    "dota_imageset": (_imageset, (DotaFormatError,)),
    "dota_write_read": (_write_read, (ValueError,)),
}
# Checkpoint loader (gghl.tasks.restore.restore_task) on byte/config/state-dict mutations of a real tiny
# checkpoint: restores, or CheckpointError / UnsafeConfigError in one line naming the file (checkpoint_fuzz).
from gghl.testing.checkpoint_fuzz import DOCUMENTED_ERRORS as CHECKPOINT_ERRORS  # noqa: E402
from gghl.testing.checkpoint_fuzz import make_input as checkpoint_input  # noqa: E402

TARGETS["checkpoint"] = (checkpoint_input, CHECKPOINT_ERRORS)
# Image reader on lying / broken image headers; never decodes more than 4 Mpx (gghl.testing.image_fuzz).
from gghl.testing.image_fuzz import DOCUMENTED_ERRORS as IMAGE_ERRORS  # noqa: E402
from gghl.testing.image_fuzz import make_input as image_input  # noqa: E402

TARGETS["image_reader"] = (image_input, IMAGE_ERRORS)


def fuzz(
    max_seconds: float,
    max_examples: int | None,
    seed: int,
    verbose: bool = True,
    targets: list[str] | None = None,
) -> tuple[int, int, dict]:
    """Run round-robin over the targets (all by default); returns ``(tried, failures, per-target counts)``."""
    rng = random.Random(seed)
    tried = failures = 0
    chosen = {name: TARGETS[name] for name in (targets or TARGETS)}
    stats = {name: {"tried": 0, "parsed": 0, "rejected": 0, "failed": 0} for name in chosen}
    deadline = time.monotonic() + max_seconds
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        while time.monotonic() < deadline and (max_examples is None or tried < max_examples):
            for name, (make, allowed) in chosen.items():
                data, call = make(rng, tmp)
                tried += 1
                stats[name]["tried"] += 1
                try:
                    call()
                    stats[name]["parsed"] += 1
                except allowed:
                    stats[name]["rejected"] += 1
                except Exception as e:  # the point of the fuzzer: anything else is a bug
                    failures += 1
                    stats[name]["failed"] += 1
                    if verbose and stats[name]["failed"] <= 3:
                        print(f"FAILURE {name}: {type(e).__name__}: {e}\n  input: {data[:300]!r}")
    return tried, failures, stats


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    names = (
        list(TARGETS) if args.targets is None else [t.strip() for t in args.targets.split(",") if t.strip()]
    )
    unknown = [t for t in names if t not in TARGETS]
    if unknown:
        ap.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    tried, failures, stats = fuzz(args.max_seconds, args.max_examples, args.seed, targets=names)
    for name, s in stats.items():
        print(
            f"{name:18s} tried={s['tried']} parsed={s['parsed']} rejected={s['rejected']} failed={s['failed']}"
        )
    print(f"inputs tried: {tried}, failures: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
