"""Label assigners: pure functions of tensors (no dataset or model inside).

Names are resolved lazily so that importing one assigner does not import the others' dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GaussianAssigner": "gghl.assigners.gaussian",
    "RotatedATSSAssigner": "gghl.assigners.atss",
    "TaskAlignedAssigner": "gghl.assigners.tal",
    "SimOTAAssigner": "gghl.assigners.simota",
    "build_dense_assigner": "gghl.assigners.dense",
    "DENSE_ASSIGNERS": "gghl.assigners.dense",
    "hungarian_match": "gghl.assigners.hungarian",
    "hungarian_match_stages": "gghl.assigners.hungarian",
    "HungarianMatcher": "gghl.assigners.hungarian",
    "cross_stage_targets": "gghl.assigners.cross_stage",
    "CrossStageLabelAssigner": "gghl.assigners.cross_stage",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gghl.assigners' has no attribute {name!r}")
