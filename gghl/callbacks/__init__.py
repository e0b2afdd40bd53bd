"""Lightning callbacks and plugins used by ``gghl-train``: atomic checkpoint IO, exact resume,
validation images."""

from gghl.callbacks.atomic_checkpoint import AtomicCheckpointIO, atomic_torch_save
from gghl.callbacks.exact_resume import ExactResume
from gghl.callbacks.val_images import ValImageLogger, draw_polygons

__all__ = ["AtomicCheckpointIO", "ExactResume", "ValImageLogger", "atomic_torch_save", "draw_polygons"]
