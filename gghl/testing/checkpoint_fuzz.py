"""Malformed variants of a real (tiny) gghl checkpoint for ``scripts/fuzz_parsers.py`` (target ``checkpoint``).

:func:`make_input` returns ``(bytes, call)``; ``call()`` runs :func:`gghl.tasks.restore.restore_task` on the
file and asserts the loader's contract: it restores a classifier in eval mode, or raises one of
:data:`DOCUMENTED_ERRORS` whose message is one line naming the file, and only
:class:`~gghl.checkpoint.PickledCheckpointError` mentions ``allow_pickle``. Anything else is a finding.

Mutations: the file's bytes (flips, truncation, inserted / overwritten runs, random or empty files, other
headers), the stored config (deleted keys, wrong types, NaN/inf, huge numbers, refused targets, interpolations,
deep nesting, non-string keys), the state dict (missing / extra / reshaped / non-tensor / NaN entries) and the
top level (not a dict, entries missing or of the wrong type). Byte-mutated files are never loaded with
``allow_pickle`` (a flipped opcode could name any global); structured ones sometimes are.
"""

from __future__ import annotations

import copy
import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gghl.checkpoint import CONFIG_KEY, CheckpointError, PickledCheckpointError
from gghl.config import UnsafeConfigError
from gghl.models.classifier import build_classifier
from gghl.tasks.classification import ClassificationTask  # imported here: the first example stays fast
from gghl.tasks.restore import restore_task

DOCUMENTED_ERRORS: tuple[type[BaseException], ...] = (CheckpointError, UnsafeConfigError)

_CONFIG = {
    "model": {
        "_target_": "gghl.tasks.classification.ClassificationTask",
        "num_classes": 3,
        "class_names": ["a", "b", "c"],
        "net": {
            "_target_": "gghl.models.classifier.build_classifier",
            "num_classes": 3,
            "name": "small_cnn",
            "width": 2,
            "pretrained": False,
            "checkpoint_path": None,
        },
        "optimizer": {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 0.001},
    },
    "data": {"_target_": "gghl.data.classification.DigitsDataModule", "image_size": 16, "batch_size": 4},
}
_WEIRD: list[Any] = [None, True, "", "x", -1, 0, 2**40, 1e308, float("nan"), float("inf"), [], {}, [1, "a"],
                     {"_target_": "os.system"}, "os.system", "torch.utils.collect_env.run", "${oc.env:HOME}",
                     "${oc.create:'{_target_: builtins.eval}'}", "gghl.tasks.gghl_detection.GGHLDetectionTask",
                     "torch.nn.Identity", "hf-hub:timm/x", {"a": {"b": {"c": {}}}}]  # fmt: skip
_base: dict[str, Any] = {}


def _base_checkpoint() -> dict[str, Any]:
    """The tiny classifier checkpoint (built once; ~20 k weights)."""
    if not _base:
        torch.manual_seed(0)
        model = dict(_CONFIG["model"])
        net = build_classifier(**{k: v for k, v in model["net"].items() if k != "_target_"})
        task = ClassificationTask(model["num_classes"], net, class_names=model["class_names"])
        _base.update(state_dict=task.state_dict(), **{CONFIG_KEY: copy.deepcopy(_CONFIG)})
    return _base


def _nodes(obj: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _nodes(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _nodes(v, (*path, i))
    return out


def _mutate_tree(rng: random.Random, tree: dict) -> None:
    """Delete, replace or nest one node of ``tree`` (in place)."""
    paths = [p for p in _nodes(tree) if p]
    if not paths:  # an earlier mutation emptied it
        tree[rng.choice(["model", "data", "x"])] = copy.deepcopy(rng.choice(_WEIRD))
        return
    path = rng.choice(paths)
    parent = tree
    for k in path[:-1]:
        parent = parent[k]
    key, op = path[-1], rng.randrange(5)
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 1 and isinstance(parent, dict):  # a non-string key next to it
        parent[rng.choice([1, 2.5, None, (1, 2)])] = 0
    elif op == 2:  # deep nesting
        deep: Any = 0
        for _ in range(rng.choice([5, 70, 150])):
            deep = [deep]
        parent[key] = deep
    else:
        parent[key] = copy.deepcopy(rng.choice(_WEIRD))


def _mutate_weights(rng: random.Random, sd: dict) -> None:
    key = rng.choice(list(sd))
    op = rng.randrange(6) if isinstance(sd[key], torch.Tensor) else 0
    if op == 0:
        del sd[key]
    elif op == 1:
        sd[f"extra.{key}"] = sd[key]
    elif op == 2:
        sd[key] = torch.zeros(rng.choice([(1,), (3, 3), (0,), ()]))
    elif op == 3:
        sd[key] = rng.choice([[1.0], 1, "w", None])
    elif op == 4 and sd[key].is_floating_point() and sd[key].numel():
        sd[key] = sd[key].clone().flatten().index_fill(0, torch.tensor([0]), float("nan")).view_as(sd[key])
    else:
        sd[key] = sd[key].to(torch.int64)


def _structured(rng: random.Random) -> Any:
    ckpt = copy.deepcopy(_base_checkpoint())
    op = rng.randrange(10)
    if op < 5:
        for _ in range(rng.randint(1, 3)):
            _mutate_tree(rng, ckpt[CONFIG_KEY])
    elif op < 8:
        for _ in range(rng.randint(1, 3)):
            _mutate_weights(rng, ckpt["state_dict"])
    elif op == 8:
        ckpt[rng.choice(["state_dict", CONFIG_KEY])] = copy.deepcopy(rng.choice(_WEIRD))
    else:
        return rng.choice([[ckpt], torch.zeros(2), "checkpoint", None, {}])
    return ckpt


def _bytes(rng: random.Random, data: bytes) -> bytes:
    op = rng.randrange(7)
    if op == 0:  # flip bytes
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if op == 1:
        return data[: rng.randrange(len(data))]
    if op == 2:
        k = rng.randrange(len(data))
        return data[:k] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[k:]
    if op == 3:
        k = rng.randrange(len(data))
        return data[:k] + bytes(rng.randint(1, 4096)) + data[k + 4096 :]
    if op == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 256)))
    if op == 5:  # a plausible header, then garbage
        head = rng.choice([b"PK\x03\x04", b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19", b"\x89PNG\r\n", b"{"])
        return head + bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    return b""


def make_input(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    """One malformed checkpoint file in ``tmp`` and the call that loads and checks it."""
    buf = io.BytesIO()
    structured = rng.random() < 0.6
    torch.save(_structured(rng) if structured else _base_checkpoint(), buf)
    data = buf.getvalue() if structured else _bytes(rng, buf.getvalue())
    path = tmp / "fuzz.ckpt"
    path.write_bytes(data)
    allow_pickle = structured and rng.random() < 0.3

    def call() -> None:
        try:
            restored = restore_task(path, allow_pickle=allow_pickle)
        except DOCUMENTED_ERRORS as err:
            msg = str(err)
            assert "\n" not in msg and str(path) in msg, f"not one line naming the file: {msg[:300]!r}"
            assert "allow_pickle" not in msg or isinstance(err, PickledCheckpointError), msg[:300]
            raise
        assert restored.kind == "classifier" and not restored.task.training

    return data, call
