"""Weights from other code bases into gghl models, and back.

* :mod:`gghl.models.convert.gghl_official`: the official GGHL network (Shank2358/GGHL) <-> ``GGHLDetector``.
* :mod:`gghl.models.convert.stageinteractor_official`: the official StageInteractor weights -> ``QueryDetector``.
* :mod:`gghl.models.convert.gghl_checkpoint`: builders of complete gghl checkpoints (``gghl-convert``).

Local backbone weights files (Darknet, safetensors, torch) are read by ``gghl.models.backbones``.
"""

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
    "load_official_file",
    "official_key_map",
    "official_stageinteractor",
    "official_state_dict",
]
