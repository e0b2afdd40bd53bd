"""The deterministic weight rule of the official-network fixtures (GGHL and StageInteractor).

The fixtures (``tests/data/official_gghl/README.md``, ``tests/data/official_stageinteractor/README.md``) were
produced by the official code with every state-dict entry ``i`` drawn from ``torch.Generator().manual_seed(i +
seed_offset)`` by one rule; rebuilding the same tensors from the key list lets the tests compare our network
with the official one without shipping hundreds of MB of weights.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def fixture_rule_weights(
    keys: list[list[Any]], seed_offset: int = 0, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """The state dict of a ``[key, shape, dtype]`` list: ``running_var`` = ``0.5 + rand``, ``running_mean`` =
    ``0.1 randn``, 1-D ``weight`` = ``1 + 0.1 randn``, ``bias`` = ``0.05 randn``, anything else
    ``randn * prod(shape[1:]) ** -0.5``; integer entries 0; StageInteractor's initial proposals
    ``(0.5, 0.5, 1, 1)``. Floating entries are cast to ``dtype``."""
    state: dict[str, Tensor] = {}
    for i, (key, shape, stored_dtype) in enumerate(keys):
        shape = tuple(shape)
        if stored_dtype != "float32":
            state[key] = torch.zeros(shape, dtype=getattr(torch, stored_dtype))
            continue
        g = torch.Generator().manual_seed(i + seed_offset)
        if key == "rpn_head.init_proposal_bboxes":
            v = torch.tensor([0.5, 0.5, 1.0, 1.0]).expand(shape).clone()
        elif key.endswith("running_var"):
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
