"""Focal-style binary losses used by JOL (docs/gghl.md#jol-loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["focal_bce_with_logits", "safe_logit"]


def focal_bce_with_logits(logits: Tensor, target: Tensor, gamma: float = 2.0, alpha: float = 1.0) -> Tensor:
    """Elementwise ``alpha * BCEWithLogits(x, t) * |t - sigmoid(x)|^gamma`` (no reduction, same shape).

    The modulating factor is not detached (as in the official loss).
    """
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return alpha * bce * (target - torch.sigmoid(logits)).abs() ** gamma


def safe_logit(q: Tensor) -> Tensor:
    """``logit(q)`` as the official JOL writes it: ``-log((1 - q)/(q + 1e-16) + 1e-16)``.

    Finite for ``q`` in ``[0, 1]`` (``q = 1`` gives ``-log(1e-16) = 36.84``); gradients flow into ``q``.
    """
    return -torch.log((1 - q) / (q + 1e-16) + 1e-16)
