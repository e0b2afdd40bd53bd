"""The one checkpoint reader: every command and every weights file goes through this module.

A base module (torch, omegaconf and :mod:`gghl.config` only): models read weights files with it, the tasks
layer rebuilds a task from what it returns (:func:`gghl.tasks.restore.restore_task`), Lightning loads through
it (:class:`gghl.callbacks.AtomicCheckpointIO`). It is the only place in the library that calls ``torch.load``.

Steps, each with its own one-line error that starts with the file name:

1. :func:`read_checkpoint` - is it a torch file at all (zip archive with ``data.pkl``, or the legacy pickle
   format with torch's magic number)? Empty, random, truncated, other zip files, text: :class:`NotACheckpointError`
   ("not a checkpoint"), never the allow-pickle hint. Then ``torch.load(weights_only=True)``; only a real
   torch file that holds pickled classes gets :class:`PickledCheckpointError` with the ``allow_pickle=true``
   opt-in. A stored config is checked before the dict is returned.
   :func:`read_weights` is the same read for weights files (state dicts, other frameworks' checkpoints):
   always ``weights_only``, no opt-in.
2. :func:`stored_config` - the ``gghl_config`` entry passes :func:`gghl.config.check_untrusted_config`
   (plain data, no interpolation, every ``_target_`` an allowed *name*; no import happens to decide and
   ``allow_pickle`` does not lift it).
3. :func:`check_kind` - the kind comes from the model ``_target_`` string (:data:`TASK_KINDS`); a command
   that expects another kind stops with :class:`CheckpointKindError` before anything is built.
4. :func:`check_weights` - the state dict against a model: counts and a few example keys in one line.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import nn

from gghl.config import check_untrusted_config

CONFIG_KEY = "gghl_config"
# torch.save's legacy (non-zip) format starts with the pickled magic number 0x1950a86a20f9469cfc6c.
_LEGACY_MAGIC = bytes.fromhex("8a0a6cfc9c46f9206aa85019")
_PICKLED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


# ------------------------------------------------------------------------------------------ model kinds
# A checkpoint's kind comes from its stored model config's ``_target_`` string: nothing is imported or built to
# know it, so a command refuses a checkpoint of the wrong kind before it instantiates anything.
#: ``_target_`` of each task class -> its kind (a test checks each names its class where it is defined).
TASK_KINDS: dict[str, str] = {
    "gghl.tasks.gghl_detection.GGHLDetectionTask": "gghl",
    "gghl.tasks.query_detection.QueryDetectionTask": "query",
    "gghl.tasks.classification.ClassificationTask": "classifier",
}
KINDS: tuple[str, ...] = ("gghl", "query", "classifier")
#: kind -> its task's ``_target_``.
TASK_TARGETS: dict[str, str] = {kind: target for target, kind in TASK_KINDS.items()}
#: How messages name each kind.
KIND_NAMES: dict[str, str] = {
    "gghl": "a GGHL detector",
    "query": "a query detector",
    "classifier": "a classifier",
}


def kind_of_target(target: Any) -> str | None:
    """The kind of a model config's ``_target_`` (a string), ``None`` for anything that is not a gghl task."""
    return TASK_KINDS.get(target) if isinstance(target, str) else None


def describe(kind: str | None, target: Any = None) -> str:
    """``"a query detector (gghl.tasks.query_detection.QueryDetectionTask)"``; for an unknown kind the
    target itself (``"gghl.x.Y, not a gghl task"``)."""
    if kind in KIND_NAMES:
        return f"{KIND_NAMES[kind]} ({target})" if target else KIND_NAMES[kind]
    return f"{target!s:.120}, not a gghl task" if target else "no model config"


def describe_expected(kinds: Iterable[str]) -> str:
    """``"a GGHL detector"`` / ``"a GGHL detector or a classifier"`` / ``"a GGHL detector, a query detector
    or a classifier"``."""
    names = [KIND_NAMES.get(k, k) for k in kinds]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def normalize_expected(expected: str | Iterable[str] | None) -> tuple[str, ...]:
    """``None`` -> every kind; a kind or an iterable of kinds -> a tuple. ``ValueError`` for an unknown name."""
    if expected is None:
        return KINDS
    kinds = (expected,) if isinstance(expected, str) else tuple(expected)
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"expected_kind must be one or more of {list(KINDS)}, got {expected!r}")
    return kinds


def model_kind(task: Any) -> str:
    """``gghl`` | ``query`` | ``classifier`` for a task instance (subclasses included); ``TypeError`` for
    anything else. Compared by the qualified names of its classes, so nothing is imported to decide."""
    for cls in type(task).__mro__:
        kind = TASK_KINDS.get(f"{cls.__module__}.{cls.__qualname__}")
        if kind is not None:
            return kind
    raise TypeError(
        f"{type(task).__name__} is not a gghl task; supported: GGHL, query detector, classifier tasks"
    )


# ------------------------------------------------------------------------------------------------ errors
class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the one-line message starts with the file."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class NotACheckpointError(CheckpointError):
    """Not a torch checkpoint: empty, random bytes, truncated, another archive, not a dict."""


class PickledCheckpointError(CheckpointError):
    """A torch file whose pickle holds classes ``weights_only`` refuses (the only case for ``allow_pickle``)."""


class CheckpointKindError(CheckpointError):
    """The checkpoint holds another model kind than the command expects (or no gghl model)."""


class CheckpointBuildError(CheckpointError):
    """The stored config does not build a usable task (arguments of another version, missing entries, a data
    config entry of the wrong type)."""


class CheckpointWeightsError(CheckpointError):
    """The stored weights do not fit the model (missing / unexpected keys, shapes, non-finite values)."""


# -------------------------------------------------------------------------------------------- 1. read
def check_torch_file(path: str | Path) -> None:
    """Raise :class:`NotACheckpointError` unless ``path`` has the structure of a ``torch.save`` file (zip with
    ``data.pkl``, or the legacy format's magic number); reads only the header and the zip directory. For every
    reader of ``.pt``/``.ckpt`` files, before ``torch.load`` (whose message for random bytes suggests
    ``weights_only=False``)."""
    path = Path(path)
    if path.is_dir():
        raise NotACheckpointError(path, "not a checkpoint: a directory")
    size = path.stat().st_size
    if size == 0:
        raise NotACheckpointError(path, "not a checkpoint: the file is empty")
    with open(path, "rb") as f:
        head = f.read(16)
    names = None
    # zipfile raises many types on hostile directories (BadZipFile from is_zipfile itself for "span multiple
    # disks", NotImplementedError for "zip file version 6.4", struct / Unicode errors ...): any is "not a zip".
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
    except Exception as err:  # noqa: BLE001
        raise NotACheckpointError(path, f"not a checkpoint: unreadable zip archive ({err})") from err
    if names is not None:
        if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            raise NotACheckpointError(
                path, f"not a checkpoint: a zip archive without torch's data.pkl ({len(names)} entries)"
            )
        return
    if head.startswith(b"PK\x03\x04"):
        raise NotACheckpointError(
            path, f"not a checkpoint: a truncated or corrupt zip archive ({size} bytes, no zip directory)"
        )
    if len(head) >= 14 and head[0] == 0x80 and head[2:14] == _LEGACY_MAGIC:
        return
    raise NotACheckpointError(
        path, f"not a checkpoint: neither a torch zip archive nor torch's legacy format (starts {head[:8]!r})"
    )


def read_checkpoint(
    path: str | Path, allow_pickle: bool = False, map_location: Any = "cpu"
) -> dict[str, Any]:
    """The checkpoint dict of ``path``, loaded with ``torch.load(weights_only=True)`` unless ``allow_pickle``;
    its stored config (if any) has passed :func:`stored_config`. The one read of every checkpoint: the
    commands, train resume, Lightning's loads (:class:`gghl.callbacks.AtomicCheckpointIO`) and tests.

    Raises:
        FileNotFoundError: no such file.
        NotACheckpointError: not a torch file (empty, random bytes, truncated, a zip of something else, text),
            torch cannot read it, or it holds something other than a dict.
        PickledCheckpointError: a torch file holding pickled classes (e.g. an old Lightning checkpoint):
            the message names the class and the ``allow_pickle=true`` opt-in (trusted files only).
        UnsafeConfigError, CheckpointKindError: the stored config (:func:`stored_config`).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    # Before torch.load: a non-torch file is never unpickled, not even with allow_pickle.
    check_torch_file(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=not allow_pickle)
    except Exception as err:  # noqa: BLE001 - every failure of a corrupt file ends in one of our two errors
        found = _PICKLED_GLOBAL.search(str(err))
        if found and not allow_pickle:
            raise PickledCheckpointError(
                path,
                f"holds pickled Python objects ({found.group(1)}) that weights_only loading refuses; if you "
                "trust this file, pass allow_pickle=true (full unpickling can run code)",
            ) from err
        first = next((ln.strip() for ln in str(err).splitlines() if ln.strip()), "")
        raise NotACheckpointError(
            path, f"not a checkpoint torch can read ({type(err).__name__}: {first[:160]})"
        ) from err
    if not isinstance(obj, dict):
        raise NotACheckpointError(path, f"not a checkpoint: holds a {type(obj).__name__}, not a dict")
    stored_config(obj, path, required=False)  # allow_pickle or not, the allow-list holds
    return obj


def read_weights(path: str | Path, safe_globals: Iterable[Any] = ()) -> dict[str, Any]:
    """The dict of a weights file (a state dict, another framework's checkpoint, a gghl checkpoint), read
    with ``torch.load(weights_only=True)`` whatever its origin: a weights file never runs code.

    Args:
        path: the file.
        safe_globals: classes the file may hold besides containers and tensors (data only, e.g. NumPy
            scalars of a foreign training script), passed to ``torch.serialization.safe_globals``.

    Raises:
        FileNotFoundError: no such file.
        NotACheckpointError: not a torch file (:func:`check_torch_file`), torch cannot read it ("could not be
            read with torch.load(weights_only=True): ..."), or it holds something other than a dict.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file not found: {path}")
    check_torch_file(path)
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - an unpickling refusal or a corrupt file: name the file
        raise NotACheckpointError(
            path,
            f"could not be read with torch.load(weights_only=True): {' '.join(str(err).split())[:300]}",
        ) from err
    if not isinstance(obj, dict):
        raise NotACheckpointError(path, f"holds a {type(obj).__name__}, not a dict of weights")
    return obj


# ------------------------------------------------------------------------------------- 2. stored config
def stored_config(ckpt: Mapping[str, Any], path: str | Path, required: bool = True) -> dict[str, Any] | None:
    """The checked ``gghl_config`` (``{"model": ..., "data": ...}``) of a loaded checkpoint.

    Raises:
        CheckpointKindError: ``required`` and there is no stored config (not written by gghl).
        UnsafeConfigError: a target outside the allow-list, an interpolation, non-plain data (names the key).
    """
    config = ckpt.get(CONFIG_KEY)
    if config is None:
        if not required:
            return None
        raise CheckpointKindError(
            path,
            f"no '{CONFIG_KEY}' entry, so no gghl model: not written by gghl-train or gghl-convert (a plain "
            "state dict or another framework's checkpoint? convert it with gghl-convert)",
        )
    if isinstance(config, (DictConfig, ListConfig)):  # only with allow_pickle: plain data, unresolved
        config = OmegaConf.to_container(config, resolve=False)
    check_untrusted_config(config, f"checkpoint {path}")
    for part in ("model", "data"):
        if part in config and not isinstance(config[part], dict):
            raise CheckpointKindError(
                path, f"'{CONFIG_KEY}.{part}' is a {type(config[part]).__name__}, not a mapping"
            )
    return config


def hparams_config(ckpt: Mapping[str, Any], path: str | Path, kind: str) -> dict[str, Any]:
    """The stored config of a plain Lightning checkpoint (no ``gghl_config``, e.g. ``Trainer.fit`` outside
    gghl-train) of a task whose kind the caller knows: ``{"model": {"_target_": <kind's task>,
    **hyper_parameters}}`` (``save_hyperparameters`` stores the task's arguments), checked like any stored
    config; weights that do not fit that task are refused by :func:`check_weights`."""
    hparams = ckpt.get("hyper_parameters")
    if not isinstance(hparams, dict):
        stored_config(ckpt, path)  # raises: no gghl_config and nothing to rebuild from
    config = {"model": {"_target_": TASK_TARGETS[kind], **hparams}}
    check_untrusted_config(config, f"checkpoint {path} (hyper_parameters)")
    return config


def config_to_store(cfg: DictConfig) -> dict[str, Any]:
    """What a checkpoint stores under :data:`CONFIG_KEY`: the resolved model and data configs as plain
    containers (no pickled classes, so the file loads with ``weights_only``; no interpolation left)."""
    return {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
    }


# ---------------------------------------------------------------------------------------------- 3. kind
def checkpoint_kind(config: Mapping[str, Any] | None) -> str | None:
    """``gghl`` | ``query`` | ``classifier`` from the stored model config's ``_target_`` (nothing imported)."""
    model = (config or {}).get("model")
    return kind_of_target(model.get("_target_")) if isinstance(model, Mapping) else None


def check_kind(
    path: str | Path, config: Mapping[str, Any] | None, expected: str | Iterable[str] | None
) -> str:
    """The checkpoint's kind; :class:`CheckpointKindError` in one line when it is not one of ``expected``
    (``None``: any gghl task), e.g. ``x.ckpt: checkpoint holds a query detector
    (gghl.tasks.query_detection.QueryDetectionTask); this command expects a GGHL detector``."""
    kinds = normalize_expected(expected)
    kind = checkpoint_kind(config)
    if kind not in kinds:
        model = (config or {}).get("model")
        target = model.get("_target_") if isinstance(model, Mapping) else None
        if isinstance(model, Mapping) and target is None:
            raise CheckpointKindError(path, f"the stored model config ({CONFIG_KEY}.model) has no _target_")
        raise CheckpointKindError(
            path,
            f"checkpoint holds {describe(kind, target)}; this command expects {describe_expected(kinds)}",
        )
    return kind


def refuse_gghl_checkpoint(ckpt: Mapping[str, Any], path: str | Path, expected: str) -> None:
    """For readers of foreign weights (``gghl-convert``): a gghl checkpoint (it has ``gghl_config``) given where
    ``expected`` (e.g. ``"official GGHL weights"``) belongs is named in one line by its kind."""
    if isinstance(ckpt, Mapping) and CONFIG_KEY in ckpt:
        config = ckpt[CONFIG_KEY] if isinstance(ckpt[CONFIG_KEY], Mapping) else {}
        model = config.get("model") if isinstance(config.get("model"), Mapping) else {}
        target = model.get("_target_")
        raise CheckpointKindError(
            path,
            f"checkpoint holds {describe(kind_of_target(target), target)}, already a gghl checkpoint; "
            f"this command expects {expected}",
        )


# ------------------------------------------------------------------------------------------- 4. weights
def _examples(keys: list[str], n: int = 3) -> str:
    """The first ``n`` of ``keys`` on one line (control characters of crafted keys escaped)."""
    shown = ", ".join(k if k.isprintable() else repr(k) for k in keys[:n])
    return shown + (", ..." if len(keys) > n else "")


def check_weights(
    path: str | Path, state_dict: Any, model: nn.Module, what: str = "the model", values: bool = True
) -> dict[str, Any]:
    """Compare a checkpoint's ``state_dict`` with ``model``'s; returns it when every key, shape and (``values``)
    value fits.

    Raises:
        CheckpointWeightsError: one line with the counts of missing / unexpected / differently shaped entries
            and up to three example keys each, or the tensors holding NaN/inf.
    """
    if not isinstance(state_dict, dict) or not state_dict:
        raise CheckpointWeightsError(path, "no weights: the 'state_dict' entry is missing or empty")
    wrong = [f"{k!s:.80} ({type(v).__name__})" for k, v in state_dict.items()
             if not isinstance(k, str) or not isinstance(v, torch.Tensor)]  # fmt: skip
    if wrong:
        raise CheckpointWeightsError(
            path, f"{len(wrong)} 'state_dict' entries are not named tensors: {_examples(wrong)}"
        )
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} {list(state_dict[k].shape)} vs {list(own[k].shape)}" for k in own
              if k in state_dict and state_dict[k].shape != own[k].shape]  # fmt: skip
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing ({_examples(missing)})" if missing else "",
                 f"{len(unexpected)} unexpected ({_examples(unexpected)})" if unexpected else "",
                 f"{len(shapes)} of another shape (checkpoint vs model: {_examples(shapes)})" if shapes else ""]  # fmt: skip
        raise CheckpointWeightsError(
            path,
            f"weights do not fit {what}: " + ", ".join(p for p in parts if p) + f" of {len(own)} entries",
        )
    bad = [
        k
        for k, v in state_dict.items()
        if values and v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise CheckpointWeightsError(path, f"{len(bad)} weight tensors hold NaN or inf ({_examples(bad)})")
    return state_dict


# ------------------------------------------------------------------------------------------ train resume
def check_resume_file(
    path: str | Path, expected_kind: str | None, allow_pickle: bool = False
) -> dict[str, Any]:
    """The first half of :func:`check_resume`, before any model exists: the file is a checkpoint, its stored
    config (if any) passes the allow-list and holds ``expected_kind`` (``None``: not compared). Returns the
    checkpoint dict for :func:`check_resume`."""
    ckpt = read_checkpoint(path, allow_pickle)
    config = stored_config(ckpt, path, required=False)
    if config is not None and expected_kind is not None:
        check_kind(path, config, expected_kind)
    return ckpt


def check_resume(
    path: str | Path, model: nn.Module, allow_pickle: bool = False, ckpt: dict[str, Any] | None = None
) -> None:
    """Before ``trainer.fit(ckpt_path=path)``: the file is a checkpoint, its stored config passes the
    allow-list, it holds ``model``'s kind and its weights fit ``model`` - one-line errors instead of
    Lightning's multi-KB state-dict message. ``ckpt``: the dict :func:`check_resume_file` returned (not read
    again). (Lightning then reads the file once more through :class:`gghl.callbacks.AtomicCheckpointIO`.)"""
    try:
        own = model_kind(model)
    except TypeError:  # a user's own LightningModule: no kind to compare
        own = None
    if ckpt is None:
        ckpt = check_resume_file(path, own, allow_pickle)
    what = f"the configured model ({describe(own)})" if own else "the configured model"
    check_weights(path, ckpt.get("state_dict"), model, what)
