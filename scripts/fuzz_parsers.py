"""Fuzz the DOTA/COCO parsers and result readers with malformed variants of valid files.

Each input must either parse or raise the parser's documented error type; anything else (an
``IndexError`` / ``KeyError`` / ``TypeError`` from deep inside, a hang is not caught) is a failure and is
printed with the input.

    python scripts/fuzz_parsers.py --max-seconds 60 [--max-examples N] [--seed 0]

Targets and their documented errors:
  dota_labels   gghl.data.dota_labels.read_dota_labels (both modes)  DotaFormatError
  dota_gt       gghl.evaluation.dota_io.parse_gt_file                DOTAFormatError
  dota_det      gghl.evaluation.dota_io.parse_det_file (Task1)       DOTAFormatError
  coco_json     gghl.data.coco_json.load_coco_json                   CocoFormatError
  coco_results  gghl.evaluation.coco._check_dets (result lists)      CocoResultError
Mutations: token replace/insert/delete (NaN, inf, garbage, empty), line duplication/truncation, random
bytes, byte flips, file truncation; for json: deleted keys, wrong types, NaN/inf, duplicate ids.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gghl.data.coco_json import CocoFormatError, load_coco_json  # noqa: E402
from gghl.data.dota_labels import DotaFormatError, read_dota_labels  # noqa: E402
from gghl.evaluation.coco import CocoResultError, _check_dets  # noqa: E402
from gghl.evaluation.dota_io import DOTAFormatError, parse_det_file, parse_gt_file  # noqa: E402

WEIRD_TOKENS = ["nan", "NaN", "inf", "-inf", "1e309", "", " ", "x", "1,5", "0x10", "--1", "1e", "\t", "∞",
                "plane", "9" * 400, "-0", "1_000", "\x00", "ｐｌａｎｅ", ":", "gsd:", "imagesource:"]  # fmt: skip
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
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(9)
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
        if lines and op not in (3,):
            lines[i] = " ".join(toks)
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    op = rng.randrange(6)
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


TARGETS: dict[str, tuple[Callable, tuple[type[BaseException], ...]]] = {
    "dota_labels": (_text_target(lambda p: read_dota_labels(p), DOTA_GT), (DotaFormatError,)),
    "dota_labels_skip": (
        _text_target(lambda p: read_dota_labels(p, on_error="skip"), DOTA_GT),
        (DotaFormatError,),
    ),
    "dota_gt": (_text_target(parse_gt_file, DOTA_GT), (DOTAFormatError,)),
    "dota_det": (_text_target(parse_det_file, DOTA_DET), (DOTAFormatError,)),
    "coco_json": (_coco_json, (CocoFormatError,)),
    "coco_results": (_coco_results, (CocoResultError,)),
}


def fuzz(
    max_seconds: float, max_examples: int | None, seed: int, verbose: bool = True
) -> tuple[int, int, dict]:
    """Run round-robin over the targets; returns ``(tried, failures, per-target counts)``."""
    rng = random.Random(seed)
    tried = failures = 0
    stats = {name: {"tried": 0, "parsed": 0, "rejected": 0, "failed": 0} for name in TARGETS}
    deadline = time.monotonic() + max_seconds
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        while time.monotonic() < deadline and (max_examples is None or tried < max_examples):
            for name, (make, allowed) in TARGETS.items():
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--max-examples", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    tried, failures, stats = fuzz(args.max_seconds, args.max_examples, args.seed)
    for name, s in stats.items():
        print(
            f"{name:18s} tried={s['tried']} parsed={s['parsed']} rejected={s['rejected']} failed={s['failed']}"
        )
    print(f"inputs tried: {tried}, failures: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
