"""Losses against soft targets, and class-imbalance corrections.

- :func:`soft_cross_entropy`: ``-sum_c q_c log softmax(z)_c`` with optional per-class weights.
- :func:`smooth_one_hot`: label smoothing (``(1-eps)`` on the label, ``eps/C`` everywhere).
- :func:`class_balanced_weights`: Cui et al. 2019, "Class-Balanced Loss Based on Effective Number of
  Samples": ``w_c ∝ (1-beta) / (1-beta^{n_c})``, normalised to mean 1.
- :func:`logit_adjustment`: Menon et al. 2021, "Long-tail learning via logit adjustment": train on
  ``z + tau * log(prior)``, predict with plain ``z``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def smooth_one_hot(labels: Tensor, num_classes: int, smoothing: float = 0.0) -> Tensor:
    """float32 ``[B, C]``: one-hot of ``labels [B]`` mixed with the uniform distribution."""
    out = F.one_hot(labels.long(), num_classes).float()
    if smoothing > 0:
        out = out * (1.0 - smoothing) + smoothing / num_classes
    return out


def soft_cross_entropy(
    logits: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy against a target distribution.

    Args:
        logits: ``[B, C]``.
        target: ``[B, C]`` rows summing to 1.
        weight: optional ``[C]`` class weights; the per-row loss is ``-sum_c w_c q_c log p_c`` and
            the mean is normalised by ``sum_b sum_c w_c q_bc`` (like ``F.cross_entropy`` with weights,
            to which this reduces for one-hot targets).
        reduction: ``mean | sum | none``.
    """
    logp = F.log_softmax(logits.float(), dim=1)
    q = target.float()
    if weight is not None:
        q = q * weight.to(q)[None, :]
    per_row = -(q * logp).sum(1)
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    denom = q.sum() if weight is not None else torch.tensor(float(len(per_row)), device=logits.device)
    return per_row.sum() / denom.clamp(min=1e-12)


def class_balanced_weights(class_counts: np.ndarray | Tensor, beta: float = 0.999) -> Tensor:
    """float32 ``[C]`` effective-number weights, mean 1 (classes with 0 samples get weight 0)."""
    n = torch.as_tensor(np.asarray(class_counts), dtype=torch.float64)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    eff = 1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), n)
    w = torch.where(n > 0, (1.0 - beta) / eff.clamp(min=1e-12), torch.zeros_like(n))
    present = n > 0
    w = w / w[present].mean()
    return w.float()


def log_prior(class_counts: np.ndarray | Tensor, eps: float = 1e-12) -> Tensor:
    """float32 ``[C]``: ``log(n_c / sum n)``."""
    n = torch.as_tensor(np.asarray(class_counts), dtype=torch.float64)
    return torch.log((n / n.sum()).clamp(min=eps)).float()


def logit_adjustment(logits: Tensor, log_prior_c: Tensor, tau: float = 1.0) -> Tensor:
    """``logits + tau * log_prior`` (``[B, C]``), used inside the training loss only."""
    return logits + tau * log_prior_c.to(logits)[None, :]
