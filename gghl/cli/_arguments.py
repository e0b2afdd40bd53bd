"""Refuse config keys that the instantiated class does not take, naming the key and the closest valid one.

``+trainer.max_epoch=1`` adds a key Hydra cannot know is wrong; without this check it surfaces as a
``TypeError`` deep inside ``hydra.utils.instantiate`` (``config key ?``). Run after
:func:`gghl.config.check_targets`: resolving a ``_target_`` imports it.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from gghl.config import ConfigError, config_file_for

#: Hydra's own keys in a ``_target_`` node.
_HYDRA_KEYS = frozenset({"_target_", "_partial_", "_convert_", "_recursive_", "_args_"})


def _accepted(target: str) -> tuple[set[str], bool] | None:
    """``(parameter names, takes **kwargs)`` of the callable ``target``; ``None`` when not introspectable."""
    from hydra._internal.utils import _locate

    try:
        obj = _locate(target)
        sig = inspect.signature(obj)
    except Exception:  # not importable or no signature (builtins): instantiate reports it
        return None
    params = sig.parameters.values()
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    names = {
        p.name
        for p in params
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }
    return names, var_kw


def _walk(node: Any, path: str, cfg: DictConfig) -> None:
    if isinstance(node, dict):
        target = node.get("_target_")
        if isinstance(target, str) and "${" in target:
            target = OmegaConf.select(cfg, f"{path}._target_" if path else "_target_", default=None)
        if isinstance(target, str):
            accepted = _accepted(target)
            if accepted is not None and not accepted[1]:
                names = accepted[0]
                for key in node:
                    if key in _HYDRA_KEYS or key in names:
                        continue
                    full = f"{path}.{key}" if path else str(key)
                    close = difflib.get_close_matches(str(key), sorted(names), n=1, cutoff=0.6)
                    hint = f"; did you mean {(path + '.' if path else '') + close[0]!r}?" if close else ""
                    raise ConfigError(
                        full, f"{target} takes no argument {key!r}{hint}", config_file_for(full)
                    )
        for key, value in node.items():
            if key != "_target_":
                _walk(value, f"{path}.{key}" if path else str(key), cfg)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{path}[{i}]", cfg)


def check_arguments(
    cfg: DictConfig, sections: tuple[str, ...] = ("data", "model", "trainer", "callbacks", "logger")
) -> None:
    """Every key of every ``_target_`` node under ``sections`` must be a parameter of its target (unless the
    target takes ``**kwargs``).

    Raises:
        ConfigError: the key path, the target, and the closest parameter name.
    """
    for section in sections:
        node = cfg.get(section) if isinstance(cfg, DictConfig) else None
        if isinstance(node, (DictConfig, ListConfig)):
            _walk(OmegaConf.to_container(node, resolve=False), section, cfg)
