"""Which kind of weights file a path holds, from its first bytes (never from the file name)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from gghl.models.backbones.darknet_weights import is_darknet_file

WeightsFormat = Literal["torch", "safetensors", "darknet"]

__all__ = ["WeightsFormat", "weights_file_format"]


def weights_file_format(path: str | Path) -> WeightsFormat:
    """``"safetensors"`` (u64 header length + JSON), ``"darknet"`` (binary header + float32 body, see
    :mod:`gghl.models.backbones.darknet_weights`) or ``"torch"`` (zip or legacy pickle; anything else is left to
    ``torch.load``, which names the file when it cannot read it)."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        raw = f.read(9)
    if len(raw) == 9 and raw[8:9] == b"{" and int.from_bytes(raw[:8], "little") + 8 <= size:
        return "safetensors"
    if is_darknet_file(path):
        return "darknet"
    return "torch"
