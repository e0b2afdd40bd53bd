"""Detection heads."""

from gghl.models.heads.gghl_head import GGHLHead

__all__ = ["GGHLHead"]
