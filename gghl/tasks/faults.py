"""Training faults turned into actionable messages: out-of-memory on a batch.

``torch.OutOfMemoryError`` from deep inside a convolution says how many bytes failed, not which batch or
what to change. ``report_oom`` re-raises it as :class:`BatchOutOfMemoryError` (still a
``torch.OutOfMemoryError``, so callers that catch OOM keep working) naming the stage, the batch shape and
dtype, and the settings that reduce memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

OOM_HINT = (
    "reduce data.batch_size (per device) or data.img_size / data.multiscale_sizes, train with "
    "trainer.precision=bf16-mixed, or spread the batch over devices (trainer.devices=N trainer.strategy=ddp)"
)


class BatchOutOfMemoryError(torch.OutOfMemoryError):
    """Out of memory while processing one batch; the message names the batch shape and a hint."""


def describe_batch(shape: tuple[int, ...] | None, dtype: torch.dtype | None = None) -> str:
    """``"[8, 3, 800, 800] float32"`` style text for messages (``"unknown"`` when no batch was seen)."""
    if shape is None:
        return "unknown"
    return f"[{', '.join(str(int(s)) for s in shape)}]" + (
        f" {str(dtype).removeprefix('torch.')}" if dtype else ""
    )


@contextmanager
def report_oom(stage: str, shape: tuple[int, ...] | None, dtype: torch.dtype | None = None) -> Iterator[None]:
    """Re-raise ``torch.OutOfMemoryError`` inside the block as :class:`BatchOutOfMemoryError`.

    Args:
        stage: e.g. ``"training_step"`` or ``"backward"``. shape, dtype: of the image batch ``[B,3,H,W]``.
    """
    try:
        yield
    except BatchOutOfMemoryError:
        raise
    except torch.OutOfMemoryError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BatchOutOfMemoryError(
            f"out of memory in {stage} on an image batch of shape {describe_batch(shape, dtype)}: {first}. "
            f"Hint: {OOM_HINT}."
        ) from err


__all__ = ["OOM_HINT", "BatchOutOfMemoryError", "describe_batch", "report_oom"]
