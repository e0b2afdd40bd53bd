"""Feature pyramid necks."""

from gghl.models.necks.yolo_fpn import YoloFPN

__all__ = ["YoloFPN"]
