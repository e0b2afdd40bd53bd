"""The official GGHL fixture (tests/data/official_gghl, README there): its key list, the rule that rebuilds its
deterministic weights, and its input. A plain module so that other tests (CLI, export) can build official files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gghl.testing.fixture_weights import fixture_rule_weights

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "official_gghl"


def fixture_meta() -> dict[str, Any]:
    """``keys.json``: ``keys`` = ``[[key, shape, dtype], ...]`` in official order, plus the settings."""
    return json.loads((FIXTURE / "keys.json").read_text())


def fixture_outputs() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "outputs.npz") as d:
        return {k: d[k] for k in d.files}


def official_weights(
    keys: list[list[Any]], seed_offset: int = 0, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """Rebuild the fixture's official state dict from its key list (the README's rule, entry by entry)."""
    return fixture_rule_weights(keys, seed_offset, dtype)


def official_input(batch: int, size: int, input_seed: int) -> Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(input_seed))


def light_official_state(keys: list[list[Any]], seed: int = 0) -> dict[str, Tensor]:
    """The official key list with every float entry a view of ONE random storage (the largest entry's size),
    so that a saved file is ~19 MB instead of 275 MB (torch.save writes a shared storage once). For tests of
    layouts and configs, not of numbers."""
    largest = max(math.prod(shape) for _, shape, _ in keys)
    base = torch.rand(largest, generator=torch.Generator().manual_seed(seed))
    return {
        key: base[: math.prod(shape)].view(shape)
        if dt == "float32"
        else torch.zeros(shape, dtype=getattr(torch, dt))
        for key, shape, dt in keys
    }


def official_training_checkpoint(
    state: dict[str, Tensor], epoch: int = 150, best_map: float = 0.7695
) -> dict[str, Any]:
    """The official train_GGHL.py ``last.pt`` layout: DataParallel ``module.`` keys, SGD state, NumPy best_mAP."""
    return {
        "epoch": epoch,
        "best_mAP": np.float64(best_map),
        "model": {f"module.{k}": v for k, v in state.items()},
        "optimizer": {
            "state": {},
            "param_groups": [{"lr": 2e-4, "momentum": 0.9, "nesterov": True, "params": []}],
        },
    }
