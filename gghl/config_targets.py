"""Which ``_target_`` a config may instantiate, and config errors that name the key and the file.

Library-level (no ``gghl.cli`` import) because checkpoints carry configs too: rebuilding a model from an
untrusted checkpoint (:func:`gghl.tasks.checkpoint_config.build_task_from_checkpoint`) must pass the same
allow-list as a command line, or ``weights_only=True`` loading would be undone by ``_target_: os.system``.
The entry points re-export these names from ``gghl.cli._config``.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

log = logging.getLogger(__name__)

# Configs live at the repository root (`configs/`); editable installs and scripts/ both see them.
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "configs")

# --------------------------------------------------------------------------- `_target_` allow-list
#: Packages whose callables a config from our own tree may instantiate.
DEFAULT_ALLOWED_PREFIXES: tuple[str, ...] = ("gghl.", "torch.", "torchvision.", "lightning.", "timm.")
#: Modules inside the allowed packages that load or run foreign code (pickles, hub repos, C++ sources):
#: never reachable through ``_target_`` without the explicit opt-in.
DENIED_MODULES: tuple[str, ...] = (
    "torch.hub",
    "torch.serialization",
    "torch.package",
    "torch.utils.cpp_extension",
    "torch.jit._serialization",
    "torch.distributed.rpc",
)
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class ConfigError(ValueError):
    """A config problem; the message names the key path and the config file it most likely came from."""

    def __init__(self, key: str, message: str, file: str | None = None) -> None:
        self.key = key
        self.file = file
        where = f" (from {file})" if file else ""
        super().__init__(f"config key {key}{where}: {message}")


def _hydra_cfg(cfg: Any = None) -> DictConfig | None:
    """The running Hydra job's own config, else ``cfg.hydra`` (``compose(..., return_hydra_config=True)``),
    else ``None`` (plain ``compose`` in tests, checkpoint dicts)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get()
    if isinstance(cfg, DictConfig) and "hydra" in cfg:
        return cfg.hydra
    return None


def user_config_sources(hydra_cfg: DictConfig | None = None) -> list[str]:
    """Config folders the user passed on the command line (``--config-dir``, or ``--config-path`` pointing
    away from our ``configs/``). Empty when the run uses only our own tree."""
    hc = hydra_cfg if hydra_cfg is not None else _hydra_cfg()
    if hc is None:
        return []
    out = []
    ours = os.path.realpath(CONFIG_DIR)
    for src in hc.runtime.get("config_sources", []):
        provider, path, schema = src.get("provider"), str(src.get("path", "")), src.get("schema")
        if provider == "command-line":
            out.append(f"{schema}://{path}")
        elif provider == "main" and schema == "file" and os.path.realpath(path) != ours:
            out.append(f"{schema}://{path}")
    return out


def config_file_for(key: str, hydra_cfg: DictConfig | None = None) -> str | None:
    """Best guess of the file that set ``key`` (dotted path): a command-line override, the group file
    (``configs/<group>/<choice>.yaml``) of its first segment, else the primary config file."""
    hc = hydra_cfg if hydra_cfg is not None else _hydra_cfg()
    if hc is None:
        return None
    for ov in hc.overrides.get("task", []):
        name = str(ov).lstrip("+~").split("=", 1)[0]
        if key == name or key.startswith(name + "."):
            return f"command-line override {ov!r}"
    dirs = [str(s.get("path")) for s in hc.runtime.get("config_sources", []) if s.get("schema") == "file"]
    choices = hc.runtime.get("choices", {})
    parts = key.split(".")
    for n in range(len(parts), 0, -1):  # longest group first (nested groups like model/backbone)
        group = "/".join(parts[:n])
        choice = choices.get(group)
        if choice:
            for d in dirs:
                p = Path(d) / group / f"{choice}.yaml"
                if p.is_file():
                    return str(p)
    name = hc.job.get("config_name")
    for d in dirs:
        p = Path(d) / f"{name}.yaml"
        if name and p.is_file():
            return str(p)
    return None


def _walk_targets(node: Any, path: str) -> list[tuple[str, Any]]:
    """``(key path of the _target_, raw value)`` for every ``_target_`` in a plain container tree."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            sub = f"{path}.{k}" if path else str(k)
            if k == "_target_":
                found.append((sub, v))
            else:
                found.extend(_walk_targets(v, sub))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found.extend(_walk_targets(v, f"{path}[{i}]" if path else f"[{i}]"))
    return found


def _denied(module: str) -> bool:
    return any(module == d or module.startswith(d + ".") for d in DENIED_MODULES)


def _check_one(key: str, target: Any, prefixes: Sequence[str], file: str | None) -> None:
    if not isinstance(target, str) or not _DOTTED.match(target) or "__" in target:
        raise ConfigError(key, f"_target_ must be a dotted import path without dunders, got {target!r}", file)
    roots = tuple(p.rstrip(".") for p in prefixes)
    if not any(target == r or target.startswith(r + ".") for r in roots):
        raise ConfigError(
            key,
            f"_target_ {target!r} is outside the allowed packages {list(prefixes)}; pass your own config "
            "with --config-dir/--config-path or set allow_external_targets=true to instantiate it",
            file,
        )
    # A prefix alone is not enough: `torch.os.system` starts with "torch." but is os.system. Resolve the
    # path (imports only, nothing is called) and check where the object was really defined.
    from hydra._internal.utils import _locate

    try:
        obj = _locate(target)
    except Exception as e:  # ImportError, AttributeError...: a typo in the config, name the key
        raise ConfigError(key, f"cannot import _target_ {target!r} ({type(e).__name__}: {e})", file) from e
    module = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", None)
    if not isinstance(module, str) or not any(module == r or module.startswith(r + ".") for r in roots):
        raise ConfigError(
            key,
            f"_target_ {target!r} resolves to an object from module {module!r}, outside {list(prefixes)}",
            file,
        )
    if _denied(module) or _denied(target):
        raise ConfigError(key, f"_target_ {target!r} loads or runs foreign code ({module}); refused", file)


def check_targets(
    cfg: DictConfig | Mapping[str, Any],
    allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES,
    allow_external: bool | None = None,
) -> list[str]:
    """Refuse ``_target_`` values outside our packages before anything is instantiated.

    Every ``_target_`` in ``cfg`` (a composed Hydra config or a plain dict, e.g. the config stored in a
    checkpoint) must be a dotted path starting with one of ``allowed_prefixes`` that resolves to an object
    defined in those packages, and not in :data:`DENIED_MODULES` (pickle/hub/C++ loaders).

    Opt-in (checks skipped, a warning lists the external targets): ``allow_external=True``; or, when
    ``allow_external`` is ``None``, the config's top-level ``allow_external_targets: true``
    (``+allow_external_targets=true`` on the command line) or a config folder the user passed himself
    (``--config-dir`` / ``--config-path``, see :func:`user_config_sources`).

    Returns:
        key paths of all ``_target_`` entries that were checked (or allowed by opt-in).

    Raises:
        ConfigError: names the key path (e.g. ``model.detector.backbone._target_``) and the config file.
    """
    if isinstance(cfg, (DictConfig, ListConfig)):
        raw = OmegaConf.to_container(cfg, resolve=False)  # walk without resolving unrelated keys
    else:
        raw = dict(cfg)
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "hydra"}  # Hydra's own launcher/sweeper targets
    hc = _hydra_cfg(cfg)
    if allow_external is None:
        flag = raw.get("allow_external_targets", False) if isinstance(raw, dict) else False
        allow_external = bool(flag is True or str(flag).lower() == "true")
        user_src = user_config_sources(hc)
        if user_src and not allow_external:
            log.warning("config from user folder(s) %s: _target_ allow-list not enforced", user_src)
            allow_external = True
    targets = _walk_targets(raw, "")
    checked = []
    for key, value in targets:
        if isinstance(value, str) and "${" in value and isinstance(cfg, DictConfig):
            try:  # an interpolated target: check what it resolves to
                value = OmegaConf.select(cfg, key, throw_on_missing=True)
            except Exception as e:
                raise ConfigError(
                    key, f"cannot resolve _target_ ({type(e).__name__}: {e})", config_file_for(key, hc)
                ) from e
        if allow_external:
            roots = tuple(p.rstrip(".") for p in allowed_prefixes)
            if not (isinstance(value, str) and value.startswith(tuple(r + "." for r in roots))):
                log.warning("instantiating external _target_ %r at %s (opted in)", value, key)
        else:
            _check_one(key, value, allowed_prefixes, config_file_for(key, hc))
        checked.append(key)
    return checked


@contextmanager
def config_errors(cfg: DictConfig | None = None) -> Iterator[None]:
    """Re-raise OmegaConf/Hydra config errors as :class:`ConfigError` naming the key and the file.

    ``with config_errors(cfg): run(cfg)`` turns e.g. ``MissingMandatoryValue`` for ``ckpt_path: ???``
    into ``config key ckpt_path (from configs/eval.yaml): missing mandatory value ...``.
    """
    from hydra.errors import InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except ConfigError:
        raise
    except OmegaConfBaseException as e:
        key = str(getattr(e, "full_key", "") or getattr(e, "key", "") or "?")
        raise ConfigError(
            key, f"{type(e).__name__}: {getattr(e, 'msg', None) or e}", config_file_for(key, _hydra_cfg(cfg))
        ) from e
    except InstantiationException as e:
        raise ConfigError("?", f"instantiation failed: {e}", None) from e


def instantiate_at(cfg: DictConfig, key: str, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate(cfg.<key>, **kwargs)`` whose errors name ``key`` and its config file."""
    import hydra
    from hydra.errors import InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    try:
        node = OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as e:
        raise ConfigError(
            key, f"{type(e).__name__}: {getattr(e, 'msg', None) or e}", config_file_for(key, _hydra_cfg(cfg))
        ) from e
    if node is None:
        raise ConfigError(key, "missing (nothing to instantiate)", config_file_for(key, _hydra_cfg(cfg)))
    try:
        return hydra.utils.instantiate(node, **kwargs)
    except (InstantiationException, OmegaConfBaseException) as e:
        raise ConfigError(key, f"{type(e).__name__}: {e}", config_file_for(key, _hydra_cfg(cfg))) from e
