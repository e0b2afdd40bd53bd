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

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "official_gghl"


def fixture_meta() -> dict[str, Any]:
    """``keys.json``: ``keys`` = ``[[key, shape, dtype], ...]`` in official order, plus the settings."""
    return json.loads((FIXTURE / "keys.json").read_text())


def fixture_outputs() -> dict[str, np.ndarray]:
    with np.load(FIXTURE / "outputs.npz") as d:
        return {k: d[k] for k in d.files}


def official_weights(keys: list[list[Any]], seed_offset: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, Tensor]:
    """Rebuild the fixture's official state dict from its key list (the README's rule, entry by entry)."""
    state: dict[str, Tensor] = {}
    for i, (key, shape, dt) in enumerate(keys):
        if dt != "float32":
            state[key] = torch.zeros(shape, dtype=getattr(torch, dt))
            continue
        g = torch.Generator().manual_seed(i + seed_offset)
        if key.endswith("running_var"):
            v = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith("running_mean"):
            v = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1 and key.endswith("weight"):
            v = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif key.endswith("bias"):
            v = 0.05 * torch.randn(shape, generator=g)
        else:
            v = torch.randn(shape, generator=g) * (1 / math.prod(shape[1:])) ** 0.5
        state[key] = v.to(dtype)
    return state


def official_input(batch: int, size: int, input_seed: int) -> Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(input_seed))
