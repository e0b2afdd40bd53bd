"""Weights from other code bases into gghl models, and back.

* :mod:`gghl.models.convert.gghl_official`: the official GGHL network (Shank2358/GGHL) <-> ``GGHLDetector``.
* :mod:`gghl.models.convert.darknet`: Darknet binary weights (``darknet53.conv.74``) into a backbone.
* :mod:`gghl.models.convert.formats`: which kind of weights file a path holds.
* :mod:`gghl.models.convert.checkpoint`: builders of complete gghl checkpoints (``gghl-convert``).
"""

from gghl.models.convert.darknet import load_darknet_weights
from gghl.models.convert.formats import weights_file_format
from gghl.models.convert.gghl_official import (
    OfficialCheckpointError,
    convert_official_gghl,
    convert_to_official_gghl,
    load_official_file,
    official_key_map,
    official_state_dict,
)
from gghl.models.convert.stageinteractor_official import official_stageinteractor

__all__ = [
    "OfficialCheckpointError",
    "convert_official_gghl",
    "convert_to_official_gghl",
    "load_darknet_weights",
    "load_official_file",
    "official_key_map",
    "official_stageinteractor",
    "official_state_dict",
    "weights_file_format",
]
