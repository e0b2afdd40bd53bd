"""Official GGHL weights (Shank2358/GGHL, ``modelR/GGHL.py``) <-> our ``GGHLDetector`` state dict.

The official network and ``build_gghl_detector(num_classes)`` (defaults) are the same network: Darknet-53
(LeakyReLU 0.1), the YOLOv3 FPN with SPP after the first conv of the coarsest conv set and DropBlock after the
third, and a decoupled loc/cls head per level. Only the names differ; ``_official_name`` spells out the
correspondence, rule by rule:

==================================================  ==============================================
ours (``GGHLDetector.state_dict()``)                official (``GGHL().state_dict()``)
==================================================  ==============================================
``backbone.body.stem_conv1.{conv,bn}``              ``_GGHL__backnone._Darknet53__conv``
``backbone.body.stages_{s}.conv_down``              ``..._Darknet53__conv_5_{s}``
``backbone.body.stages_{s}.blocks.{b}.conv{j}``     ``..._Darknet53__rb_5_{s}_{b}._Residual_block__conv{j}``
                                                    (stage 0 has one block: ``__rb_5_0``)
``neck.sets.{k}.{i}``  (k = 0 coarsest)             ``_GGHL__fpn._Neck__conv_set_{k}.{i}`` (same index i)
``neck.sets.0.1.out``  (SPP fusing conv)            ``..._Neck__conv_set_0.1._SPP__outconv``
``neck.laterals.{k}``                               ``..._Neck__conv{k}{k+1}up``
``head.{loc,cls}.{l}.0`` / ``.1`` (l = 0 finest)    ``..._Neck__{loc,cls}{2-l}.0`` / ``.1``
conv + BN unit ``{conv|0}.weight``, ``{bn|1}.*``    ``_Convolutional__conv.weight``, ``_Convolutional__norm.*``
==================================================  ==============================================

The expected keys and shapes come from ``build_gghl_detector(C)`` built on the meta device (no memory, no init
cost), with C read from the official class conv. Every key must map: unknown, missing or mis-shaped entries
are one ``OfficialCheckpointError`` listing them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gghl.checkpoint import CheckpointError, read_weights

__all__ = [
    "OfficialCheckpointError",
    "convert_official_gghl",
    "convert_to_official_gghl",
    "load_official_file",
    "official_key_map",
    "official_state_dict",
]

#: Key of the class-logit conv of the official head (its first dimension is C).
_CLASS_CONV = "_GGHL__fpn._Neck__cls0.1.weight"
_BB, _FPN = "_GGHL__backnone._Darknet53__", "_GGHL__fpn._Neck__"
_UNIT = {
    "conv": "_Convolutional__conv",
    "bn": "_Convolutional__norm",
    "0": "_Convolutional__conv",
    "1": "_Convolutional__norm",
}
_RULES: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(r"backbone\.body\.stem_conv1\.(conv|bn)\.(\w+)"),
        lambda m: f"{_BB}conv.{_UNIT[m[1]]}.{m[2]}",
    ),
    (
        re.compile(r"backbone\.body\.stages_(\d)\.conv_down\.(conv|bn)\.(\w+)"),
        lambda m: f"{_BB}conv_5_{m[1]}.{_UNIT[m[2]]}.{m[3]}",
    ),
    (
        re.compile(r"backbone\.body\.stages_(\d)\.blocks\.(\d+)\.conv([12])\.(conv|bn)\.(\w+)"),
        lambda m: _block_name(*m.groups()),
    ),
    (
        re.compile(r"neck\.sets\.(\d)\.(\d+)\.out\.(weight|bias)"),
        lambda m: f"{_FPN}conv_set_{m[1]}.{m[2]}._SPP__outconv.{m[3]}",
    ),
    (
        re.compile(r"neck\.sets\.(\d)\.(\d+)\.([01])\.(\w+)"),
        lambda m: f"{_FPN}conv_set_{m[1]}.{m[2]}.{_UNIT[m[3]]}.{m[4]}",
    ),
    (
        re.compile(r"neck\.laterals\.(\d)\.([01])\.(\w+)"),
        lambda m: f"{_FPN}conv{m[1]}{int(m[1]) + 1}up.{_UNIT[m[2]]}.{m[3]}",
    ),
    (
        re.compile(r"head\.(loc|cls)\.([012])\.0\.([01])\.(\w+)"),
        lambda m: f"{_FPN}{m[1]}{2 - int(m[2])}.0.{_UNIT[m[3]]}.{m[4]}",
    ),
    (
        re.compile(r"head\.(loc|cls)\.([012])\.1\.(weight|bias)"),
        lambda m: f"{_FPN}{m[1]}{2 - int(m[2])}.1.{m[3]}",
    ),
]


def _block_name(stage: str, block: str, conv: str, unit: str, leaf: str) -> str | None:
    """A residual block's key: ``rb_5_{stage}_{block}``, except stage 0 whose single block is ``rb_5_0``."""
    if stage == "0":
        if block != "0":
            return None
        name = "rb_5_0"
    else:
        name = f"rb_5_{stage}_{block}"
    return f"{_BB}{name}._Residual_block__conv{conv}.{_UNIT[unit]}.{leaf}"


class OfficialCheckpointError(ValueError):
    """An official GGHL state dict that does not match the official network (the message lists the keys)."""


def _official_name(ours: str) -> str | None:
    """The official key of one of our ``GGHLDetector`` keys (``None`` when no rule covers it)."""
    for pattern, build in _RULES:
        m = pattern.fullmatch(ours)
        if m:
            return build(m)
    return None


def _listing(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > limit else shown


def _expected(num_classes: int) -> dict[str, torch.Size]:
    """Our paper model's keys and shapes at ``num_classes`` (built on the meta device)."""
    from gghl.models.gghl_detector import build_gghl_detector

    with torch.device("meta"):
        net = build_gghl_detector(num_classes)
    return {k: v.shape for k, v in net.state_dict().items()}


@functools.lru_cache(maxsize=8)
def _key_table(num_classes: int) -> tuple[dict[str, str], dict[str, torch.Size]]:
    """``{official key: our key}`` for the paper model and our shapes (cached: callers must not mutate)."""
    shapes = _expected(num_classes)
    table: dict[str, str] = {}
    for ours in shapes:
        official = _official_name(ours)
        if (
            official is None or official in table
        ):  # a gap or a clash in the rules is a bug here, not user input
            raise RuntimeError(f"no unique official name for {ours!r} (got {official!r})")
        table[official] = ours
    return table, shapes


def official_key_map(num_classes: int = 15) -> dict[str, str]:
    """``{official key: our key}`` of the paper model with ``num_classes`` classes, in our model's order."""
    return dict(_key_table(num_classes)[0])


def official_state_dict(obj: Mapping[str, Any], source: str = "state dict") -> dict[str, Tensor]:
    """The network weights of an official GGHL checkpoint: a plain ``state_dict()``, the training script's
    ``{"model": ..., "optimizer": ..., "epoch": ..., "best_mAP": ...}``, with or without the ``module.``
    prefix of ``DataParallel`` / DDP."""
    if not isinstance(obj, Mapping):
        raise OfficialCheckpointError(f"{source}: expected a dict of tensors, got {type(obj).__name__}")
    if "gghl_config" in obj:
        raise OfficialCheckpointError(
            f"{source}: already a gghl checkpoint (eval / export / predict take it as it is); the converter "
            "reads official GGHL weights"
        )
    if "model" in obj and isinstance(obj["model"], Mapping):
        obj = obj["model"]
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    not_tensors = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if not_tensors or not state:
        raise OfficialCheckpointError(
            f"{source}: not an official GGHL state dict (entries that are not tensors: "
            f"{_listing(not_tensors) or 'none - it is empty'})"
        )
    return state


def convert_official_gghl(state_dict: Mapping[str, Any], source: str = "state dict") -> dict[str, Tensor]:
    """An official GGHL checkpoint -> a state dict that ``build_gghl_detector(C)`` loads with ``strict=True``.

    Args:
        state_dict: see :func:`official_state_dict` for the accepted layouts.
        source: named in error messages (e.g. the file path).

    Returns:
        ``{our key: tensor}`` (the same tensor objects, no copies), C = rows of the official class conv.

    Raises:
        OfficialCheckpointError: unknown keys (not in the official network), missing keys, wrong shapes.
    """
    state = official_state_dict(state_dict, source)
    if _CLASS_CONV not in state or state[_CLASS_CONV].ndim != 4:
        raise OfficialCheckpointError(
            f"{source}: missing the official class conv {_CLASS_CONV!r} (is this an official GGHL checkpoint? "
            f"its keys begin {_listing(sorted(state), 3)})"
        )
    table, shapes = _key_table(int(state[_CLASS_CONV].shape[0]))
    unknown = [k for k in state if k not in table]
    missing = [k for k in table if k not in state]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(shapes[table[k]])})"
        for k in table
        if k in state and state[k].shape != shapes[table[k]]
    ]
    problems = [
        f"{name} ({len(keys)}): {_listing(keys)}"
        for name, keys in (("unknown keys", unknown), ("missing keys", missing), ("wrong shapes", wrong))
        if keys
    ]
    if problems:
        raise OfficialCheckpointError(
            f"{source}: does not match the official GGHL network: " + "; ".join(problems)
        )
    return {table[k]: state[k] for k in state}


def convert_to_official_gghl(
    state_dict: Mapping[str, Tensor], source: str = "state dict"
) -> dict[str, Tensor]:
    """The inverse: our paper-model weights -> the official ``GGHL().state_dict()`` layout (for the official code).

    Accepts a ``GGHLDetector`` state dict, or a ``GGHLDetectionTask`` one (``net.*``; when it holds EMA weights
    ``ema.module.*``, those are taken: they are what the task evaluates with), or a gghl checkpoint dict with
    ``state_dict``. Entries come out in the official network's order.

    Raises:
        OfficialCheckpointError: keys that are not the paper model's, missing keys, wrong shapes.
    """
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], Mapping):
        state_dict = state_dict["state_dict"]  # type: ignore[assignment]
    state = dict(state_dict)
    for prefix in ("ema.module.", "net."):
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            break
    cls = "head.cls.2.1.weight"
    if cls not in state:
        raise OfficialCheckpointError(
            f"{source}: missing {cls!r}: not the weights of a paper-model GGHLDetector"
        )
    table, shapes = _key_table(int(state[cls].shape[0]))
    inverse = {ours: official for official, ours in table.items()}
    unknown = [k for k in state if k not in inverse]
    missing = [k for k in shapes if k not in state]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(shapes[k])})"
        for k in shapes
        if k in state and state[k].shape != shapes[k]
    ]
    problems = [
        f"{name} ({len(keys)}): {_listing(keys)}"
        for name, keys in (
            ("keys not in the paper model", unknown),
            ("missing keys", missing),
            ("wrong shapes", wrong),
        )
        if keys
    ]
    if problems:
        raise OfficialCheckpointError(
            f"{source}: not the paper GGHL model (build_gghl_detector defaults): " + "; ".join(problems)
        )
    order = sorted(shapes, key=_official_order)  # stable: our order within each block is the official one
    return {inverse[k]: state[k] for k in order}


def _official_order(ours: str) -> tuple[int, int]:
    """Where an entry of ours sits in the official ``state_dict()`` (module registration order): the backbone
    in our order, then ``conv_set_0, conv01up, conv_set_1, conv12up, conv_set_2, loc0, cls0, loc1, cls1, loc2,
    cls2`` (our neck lists all sets before the laterals, our head all loc branches before the cls ones)."""
    m = re.match(r"(neck\.sets|neck\.laterals|head\.loc|head\.cls)\.(\d)\.", ours)
    if m is None:
        return (0, 0)
    k = int(m[2])
    block = {
        "neck.sets": 2 * k,
        "neck.laterals": 2 * k + 1,
        "head.loc": 5 + 2 * (2 - k),
        "head.cls": 6 + 2 * (2 - k),
    }
    return (1, block[m[1]])


def load_official_file(path: str | Path) -> dict[str, Any]:
    """Read an official GGHL ``.pt`` file through :func:`gghl.checkpoint.read_weights` (``weights_only``).

    The training script's checkpoints hold ``best_mAP`` as a NumPy scalar; the NumPy scalar/dtype
    reconstructors (data only, no code) are allowed for this load, under their NumPy 1 and 2 names.
    """
    import numpy as np

    from gghl.models.backbones.weights_format import weights_file_format

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"official checkpoint not found: {path}")
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04" and head[:1] != b"\x80":  # torch's zip archive or its legacy pickle format
        kind = weights_file_format(path) if path.stat().st_size >= 20 else "torch"
        hint = {
            "darknet": " (Darknet binary weights: use model.net.checkpoint_path=FILE for a backbone)",
            "safetensors": " (a safetensors file)",
        }.get(kind, "")
        raise OfficialCheckpointError(
            f"{path}: not a torch checkpoint file{hint}; official GGHL weights are .pt files"
        )
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    allowed = [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
        *{type(np.dtype(c)) for c in "fdilqb?"},
    ]
    try:
        return read_weights(path, safe_globals=allowed)
    except (
        CheckpointError
    ) as err:  # an unpickling refusal, a corrupt file, not a dict: one line naming the file
        raise OfficialCheckpointError(str(err)) from err
