"""The one checkpoint loader: every command that reads a checkpoint (train resume, eval, export, predict,
a distillation teacher, the converter) goes through these functions.

Steps, each with its own one-line error that starts with the file name:

1. :func:`read_checkpoint` - is it a torch file at all (zip archive with ``data.pkl``, or the legacy pickle
   format with torch's magic number)? Empty, random, truncated, other zip files, text: :class:`NotACheckpointError`
   ("not a checkpoint"), never the allow-pickle hint. Then ``torch.load(weights_only=True)``; only a real
   torch file that holds pickled classes gets :class:`PickledCheckpointError` with the ``allow_pickle=true``
   opt-in.
2. :func:`stored_config` - the ``gghl_config`` entry passes :func:`gghl.config_targets.check_untrusted_config`
   (plain data, no interpolation, every ``_target_`` an allowed *name*; no import happens to decide and
   ``allow_pickle`` does not lift it).
3. :func:`check_kind` - the kind comes from the model ``_target_`` string (:mod:`gghl.tasks.model_kinds`);
   a command that expects another kind stops with :class:`CheckpointKindError` before anything is built.
4. :func:`restore_task` - instantiate the model config (``pretrained`` / ``checkpoint_path`` cleared: the
   weights are the checkpoint's, nothing else is read), then :func:`check_weights` compares the state dict
   with the model (counts and a few example keys in one line) and loads it.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gghl.config_targets import check_untrusted_config
from gghl.tasks.legacy_model_config import upgrade_stored_config
from gghl.tasks.model_kinds import (
    TASK_TARGETS,
    describe,
    describe_expected,
    kind_of_target,
    model_kind,
    normalize_expected,
)

CONFIG_KEY = "gghl_config"
# torch.save's legacy (non-zip) format starts with the pickled magic number 0x1950a86a20f9469cfc6c.
_LEGACY_MAGIC = bytes.fromhex("8a0a6cfc9c46f9206aa85019")
_PICKLED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
#: Keys of a stored model config that would make rebuilding read something besides the checkpoint.
_OUTSIDE_READS = {"pretrained": False, "checkpoint_path": None}
#: Elements a rebuilt model may hold beyond the checkpoint's tensors (non-persistent buffers, metric states).
MAX_EXTRA_ELEMENTS = 1 << 26


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
    """The stored model config does not build (arguments of another version, missing entries)."""


class CheckpointWeightsError(CheckpointError):
    """The stored weights do not fit the model (missing / unexpected keys, shapes, non-finite values)."""


# ------------------------------------------------------------------------------------------ 1. read
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
    """The checkpoint dict of ``path``, loaded with ``torch.load(weights_only=True)`` unless ``allow_pickle``.

    Raises:
        FileNotFoundError: no such file.
        NotACheckpointError: not a torch file (empty, random bytes, truncated, a zip of something else, text),
            torch cannot read it, or it holds something other than a dict.
        PickledCheckpointError: a torch file holding pickled classes (e.g. an old Lightning checkpoint):
            the message names the class and the ``allow_pickle=true`` opt-in (trusted files only).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    check_torch_file(
        path
    )  # before torch.load: a non-torch file is never unpickled, not even with allow_pickle
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
    return obj


# ------------------------------------------------------------------------------------ 2. stored config
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
    try:  # only reachable with allow_pickle: OmegaConf containers become plain data, unresolved
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(config, (DictConfig, ListConfig)):
            config = OmegaConf.to_container(config, resolve=False)
    except ImportError:  # pragma: no cover
        pass
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


# ---------------------------------------------------------------------------------- 3. build + weights
def _for_rebuild(node: Any) -> Any:
    """A copy of a model config with ``pretrained`` / ``checkpoint_path`` cleared at every level: the weights
    come from the checkpoint, so rebuilding downloads and reads nothing else (a stored path may be gone, or
    point at a pickle)."""
    if isinstance(node, dict):
        return {k: (_OUTSIDE_READS[k] if k in _OUTSIDE_READS else _for_rebuild(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_for_rebuild(v) for v in node]
    return node


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


def _check_on_meta(path: str | Path, model_cfg: dict[str, Any], state_dict: Any, what: str) -> None:
    """Build the model on the ``meta`` device first (no memory, no initialisation) and compare it with the
    weights: a crafted or mismatched config (``num_classes: 100000000``) is refused before it allocates
    anything, and the real build can then hold no more than the checkpoint's own tensors plus
    :data:`MAX_EXTRA_ELEMENTS` (non-persistent buffers). A config that does not build on ``meta`` is left to
    the real build, which reports its own error."""
    import hydra

    try:
        with torch.device("meta"):
            meta = hydra.utils.instantiate(model_cfg, _convert_="all")
    except Exception:  # noqa: BLE001 - the real build below names the problem
        return
    if not isinstance(meta, nn.Module):
        return
    check_weights(path, state_dict, meta, what, values=False)
    total = sum(t.numel() for t in (*meta.parameters(), *meta.buffers()))
    stored = sum(v.numel() for v in state_dict.values())
    if total > stored + MAX_EXTRA_ELEMENTS:
        raise CheckpointWeightsError(
            path, f"the stored config builds {what} of {total:,} elements, the checkpoint holds {stored:,}"
        )


@dataclass
class RestoredTask:
    """A task rebuilt from a checkpoint (eval mode) and what the checkpoint said about it."""

    task: nn.Module
    kind: str  # gghl | query | classifier
    config: dict[str, Any] = field(default_factory=dict)  # the checked {"model": ..., "data": ...}
    path: str = ""


def restore_task(
    path: str | Path,
    allow_pickle: bool = False,
    expected_kind: str | Iterable[str] | None = None,
    map_location: Any = "cpu",
    check_config: Callable[[Mapping[str, Any]], Any] | None = None,
) -> RestoredTask:
    """Read, check and rebuild the task of a gghl checkpoint with its weights (eval mode).

    Args:
        path: a checkpoint written by ``gghl-train`` / ``gghl-convert``.
        allow_pickle: unpickle classes (trusted files only); the stored-config check still applies.
        expected_kind: the kind(s) the caller can use (``None``: any gghl task). With exactly one kind, a
            plain Lightning checkpoint (no ``gghl_config``) is rebuilt from its ``hyper_parameters``.
        map_location: passed to ``torch.load``.
        check_config: an extra check of ``{"model": ..., "data": ...}`` run after the allow-list check and
            before anything is built (it can add refusals, never lift one).

    Raises:
        FileNotFoundError, NotACheckpointError, PickledCheckpointError (:func:`read_checkpoint`),
        UnsafeConfigError (:func:`stored_config`), CheckpointKindError, CheckpointBuildError,
        CheckpointWeightsError - each one line starting with (or naming) ``path``.
    """
    import hydra

    ckpt = read_checkpoint(path, allow_pickle, map_location)
    kinds = normalize_expected(expected_kind)
    config = stored_config(ckpt, path, required=len(kinds) > 1)
    if config is None:  # one expected kind: a plain Lightning checkpoint is rebuilt from its hyper_parameters
        config = hparams_config(ckpt, path, kinds[0])
    config = upgrade_stored_config(config)  # model configs of the earlier shapes -> nested _target_s
    if check_config is not None:
        check_config({"model": config.get("model", {}), "data": config.get("data", {})})
    kind = check_kind(path, config, expected_kind)
    target = config["model"]["_target_"]
    model_cfg = _for_rebuild(config["model"])
    _check_on_meta(path, model_cfg, ckpt.get("state_dict"), describe(kind, target))
    try:
        task = hydra.utils.instantiate(model_cfg, _convert_="all")
    except Exception as err:  # noqa: BLE001 - a stored config of another version / a crafted one
        text = " ".join(ln.strip() for ln in str(err).splitlines() if ln.strip())
        raise CheckpointBuildError(
            path,
            f"cannot build {describe(kind, target)} from its stored config ({type(err).__name__}: {text[:300]})",
        ) from err
    state_dict = check_weights(path, ckpt.get("state_dict"), task, describe(kind, target))
    task.load_state_dict(state_dict)
    task.eval()
    return RestoredTask(task, kind, config, str(path))


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
