"""Tiny models for fast tests: the smallest networks that still run every code path."""

from __future__ import annotations

from torch import nn


def tiny_gghl_net(
    num_classes: int, backbone: str = "test_resnet", neck_widths: tuple[int, int, int] = (8, 16, 32)
) -> nn.Module:
    """A GGHL detector with one conv per neck level, no SPP or dropout, a slim head and a focal prior (so an
    untrained net predicts few objects)."""
    from gghl.models.gghl_detector import build_gghl_detector

    return build_gghl_detector(
        num_classes,
        backbone=backbone,
        neck_widths=neck_widths,
        neck_convs=1,
        spp=False,
        drop_prob=0.0,
        head_hidden_ratio=1.0,
        prior_prob=0.01,
    )
