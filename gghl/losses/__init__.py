"""Losses.

Names are resolved lazily so that importing one loss does not import the others' dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "JOLLoss": "gghl.losses.jol",
    "SetCriterion": "gghl.losses.set_criterion",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gghl.losses' has no attribute {name!r}")
