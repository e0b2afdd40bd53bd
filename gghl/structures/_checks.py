"""Input validation shared by the box functions: clear errors instead of deep torch failures."""

from __future__ import annotations

import torch
from torch import Tensor


def check_last_dim(x: Tensor, k: int, name: str) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``x`` is a floating tensor of shape ``[..., k]``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] != k:
        raise ValueError(f"{name} must have shape [..., {k}], got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")


def check_same_device(first: tuple[str, Tensor], *others: tuple[str, Tensor]) -> None:
    """``ValueError`` naming every argument and its device unless all share ``first``'s device."""
    dev = first[1].device
    if any(t.device != dev for _, t in others):
        where = ", ".join(f"{n} on {t.device}" for n, t in (first, *others))
        raise ValueError(f"tensors must be on one device, got {where}; move them with .to(device)")
