"""Backbones (timm feature extractors) and the readers of their local weights files.

* :mod:`gghl.models.backbones.darknet_weights`: Darknet binary weights (``darknet53.conv.74``) into a backbone.
* :mod:`gghl.models.backbones.weights_format`: which kind of weights file a path holds.

They live here, not in ``gghl.models.convert`` (whole-model converters that build detectors, which import the
backbones): a backbone reading its own weights file must not import the converters.
"""

from gghl.models.backbones.timm_backbone import TimmBackbone

__all__ = ["TimmBackbone"]
