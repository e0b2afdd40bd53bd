"""Argument checks of the public ops: a ``TypeError``/``ValueError`` naming the argument, its shape,
dtype or device, instead of an ``IndexError`` deep in a kernel or, for tensors on two devices, a C++
kernel reading memory it does not own.

Every check reads metadata only (type, ``dim``, ``shape``, ``dtype``, ``device``): O(1), no device
sync, traceable by ``torch.compile``.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from gghl.structures._checks import check_same_device

__all__ = ["check_tensor", "check_rows", "check_vector", "check_same_device", "check_flag", "check_threshold"]


def check_tensor(x: object, name: str) -> Tensor:
    """``x`` itself, or ``TypeError`` when it is not a ``torch.Tensor``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_rows(x: object, k: int, name: str, floating: bool = True) -> Tensor:
    """``x`` as ``[N, k]``: a tensor of that shape, floating point (or any real dtype with ``floating=False``)."""
    t = check_tensor(x, name)
    if t.dim() != 2 or t.shape[1] != k:
        raise ValueError(f"{name} must have shape [N, {k}], got {tuple(t.shape)}")
    if floating and not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if not floating and (t.is_complex() or t.dtype == torch.bool):
        raise TypeError(f"{name} must hold real numbers, got {t.dtype}")
    return t


def check_vector(x: object, n: int, name: str, of: str, integer: bool = False) -> Tensor:
    """``x`` as ``[n]`` (one entry per row of the argument named ``of``); integers when ``integer``."""
    t = check_tensor(x, name)
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(f"{name} must have shape [{n}] (one entry per row of {of}), got {tuple(t.shape)}")
    if integer and (t.is_floating_point() or t.is_complex()):
        raise TypeError(f"{name} must be an integer tensor (category ids), got {t.dtype}")
    if not integer and (t.is_complex() or t.dtype == torch.bool):
        raise TypeError(f"{name} must hold real numbers, got {t.dtype}")
    return t


def check_flag(value: object, name: str) -> bool:
    """A Python ``bool`` (or the int 0/1); a string or tensor would be a guess."""
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")


def check_threshold(value: object, name: str) -> float:
    """A finite real number (Python/numpy scalar or one-element tensor) as a ``float``."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex() or value.dtype == torch.bool:
            raise TypeError(
                f"{name} must be a real number, got a {value.dtype} tensor of shape {tuple(value.shape)}"
            )
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {out}")
    return out
