"""Official StageInteractor weights for tests: the deterministic rule of
``tests/data/official_stageinteractor/README.md`` (a plain module, so tests/cli can load it by path too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gghl.testing.fixture_weights import fixture_rule_weights

DATA = Path(__file__).parents[1] / "data" / "official_stageinteractor"


def rule_weights(keys: list[list[Any]], seed_offset: int = 0) -> dict[str, torch.Tensor]:
    """The official state dict rebuilt from its ``[key, shape, dtype]`` list (README rule)."""
    return fixture_rule_weights(keys, seed_offset)


def load_keys(name: str) -> dict[str, Any]:
    """``keys.json`` (paper network, from the shared fixture) or ``small_keys.json``."""
    return json.loads((DATA / name).read_text())


def mmdet_checkpoint(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """``state`` in the layout of an mmdet 2.x ``.pth`` (``mmcv.runner.save_checkpoint``)."""
    meta = {
        "mmdet_version": "2.12.0",
        "CLASSES": ["c"],
        "epoch": 12,
        "iter": 87960,
        "config": "model = dict()",
    }
    return {"meta": meta, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}


def sorted_dets(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Rows ``x1 y1 x2 y2 score label`` by descending score, ties by label (the fixture's order)."""
    rows = torch.cat([boxes.double(), scores.double()[:, None], labels.double()[:, None]], 1).numpy()
    return rows[np.lexsort((rows[:, 5], -rows[:, 4]))]
