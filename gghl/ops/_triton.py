"""Triton kernels for the CUDA path (placeholder until the kernel lands: reports unavailable)."""

from __future__ import annotations

from torch import Tensor


def available() -> bool:
    return False


def pairwise_iou(kind: str, x1: Tensor, x2: Tensor, aligned: bool) -> Tensor:
    raise NotImplementedError


def nms_sorted(boxes: Tensor, cats: Tensor | None, iou_threshold: float) -> Tensor:
    raise NotImplementedError
