"""ONNX and TorchScript export with parity checks, and running exported models.

- :func:`export_checkpoint` writes a task rebuilt from its checkpoint
  (:func:`gghl.tasks.restore.restore_task`) as ONNX / TorchScript
  (decoding inside the graph; GGHL in ``nms=false`` mode) and checks parity against PyTorch.
- :class:`ExportedModel` runs an exported file; :class:`CheckpointModel` runs a checkpoint with the same
  interface (``predict_batch``), which ``gghl-predict`` uses for either.
"""

from gghl.export.checkpoint_model import CheckpointModel
from gghl.export.parity import ParityError, ParityReport, check_parity
from gghl.export.pipeline import export_checkpoint
from gghl.export.runtime import ExportedModel, ExportedModelError

__all__ = [
    "CheckpointModel",
    "ExportedModel",
    "ExportedModelError",
    "ParityError",
    "ParityReport",
    "check_parity",
    "export_checkpoint",
]
