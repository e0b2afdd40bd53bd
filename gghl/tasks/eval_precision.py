"""Validation and test run in the weights' own precision, outside autocast.

``trainer.precision=bf16-mixed`` (or ``16-mixed``) wraps every step in autocast, test steps included. The
``make train`` checkpoint scored test mAP50 0.8270 under bf16 autocast and 0.8399 in float32 — the number the
training printed was not the number ``gghl-eval`` (float32) reports for the same checkpoint. The evaluation
steps of every task therefore leave autocast off, so the printed and monitored metrics equal what eval,
predict and export compute. Training steps keep the configured precision. With ``*-true`` precisions the
weights themselves are half precision and stay so (nothing is cast).
"""

from __future__ import annotations

import torch


def outside_autocast(device: torch.device) -> torch.autocast:
    """A context that disables autocast on ``device``'s type for the evaluation forward."""
    return torch.autocast(device_type=device.type, enabled=False)
