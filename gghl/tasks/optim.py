"""Optimiser and schedule helpers shared by the detection tasks."""

from __future__ import annotations

import math

from torch import nn


def split_decay_params(module: nn.Module, weight_decay: float) -> list[dict]:
    """Two parameter groups: conv/linear weights with ``weight_decay``; norms and biases without.

    GGHL's recipe applies weight decay 5e-4 to conv/linear weights only (docs/gghl.md#training-recipe).
    """
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int, final_ratio: float) -> float:
    """LR multiplier: linear warm-up from 0 over ``warmup_steps``, then cosine down to ``final_ratio``.

    Per iteration, as GGHL does (lr 2e-4 -> 1e-6 over training with a 5-epoch linear warm-up).
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(max(step - warmup_steps, 0) / max(total_steps - warmup_steps, 1), 1.0)
    return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
