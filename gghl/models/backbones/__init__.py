"""Backbones (timm feature extractors)."""

from gghl.models.backbones.timm_backbone import TimmBackbone

__all__ = ["TimmBackbone"]
