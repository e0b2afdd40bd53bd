"""Evaluation tests: use ``gghl.ops.poly_iou`` when present, else the shapely stand-in."""

from __future__ import annotations

import pytest

import gghl.ops


@pytest.fixture(autouse=True)
def _poly_iou_available(monkeypatch: pytest.MonkeyPatch) -> None:
    if getattr(gghl.ops, "poly_iou", None) is None:
        from gghl.evaluation.dota_reference import shapely_poly_iou

        monkeypatch.setattr(gghl.ops, "poly_iou", shapely_poly_iou, raising=False)
