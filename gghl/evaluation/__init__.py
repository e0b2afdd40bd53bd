"""gghl.evaluation: DOTA Task1 mAP, COCO stats, Lightning/torchmetrics metric objects.

Submodules are imported lazily, so importing the package stays cheap (``gghl-dota-eval --help`` answers
without loading torch):

* :mod:`gghl.evaluation.dota` - ``evaluate_task1``, ``evaluate_task1_coco_style``, ``evaluate_polygons``;
* :mod:`gghl.evaluation.coco` - ``evaluate`` (pycocotools / faster-coco-eval);
* :mod:`gghl.evaluation.detection_metrics` - ``DOTAMetric``, ``COCOMetric``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "evaluate_task1": "gghl.evaluation.dota",
    "evaluate_task1_coco_style": "gghl.evaluation.dota",
    "evaluate_polygons": "gghl.evaluation.dota",
    "evaluate_polygons_coco_style": "gghl.evaluation.dota",
    "DOTAMetric": "gghl.evaluation.detection_metrics",
    "COCOMetric": "gghl.evaluation.detection_metrics",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gghl.evaluation' has no attribute {name!r}")
