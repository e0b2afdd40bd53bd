"""Darknet binary weights (``darknet53.conv.74``, ``darknet53_448.weights``) into a PyTorch module.

File layout (pjreddie/darknet ``load_weights``): a header of three int32 ``major, minor, revision`` and a
``seen`` counter that is int64 when ``10 * major + minor >= 2`` (and both < 1000; 20 header bytes = "5 x
int32", the files GGHL starts from) or int32 otherwise (16 bytes); then float32 values, per convolution in
network order: with batch norm ``BN bias (beta), BN weight (gamma), running mean, running var``, without
``conv bias``; then the conv weight ``[out, in, k, k]`` in row-major order (PyTorch's layout).

The network order of a module is the order of its ``nn.Conv2d`` submodules in ``named_modules()``; a conv's
batch norm is the ``BatchNorm2d`` that comes right after it (timm's ``ConvNormAct`` and our ``ConvBNAct``).
For timm ``darknet53`` that is the darknet cfg order: stem, then per stage the stride-2 conv and the residual
blocks' 1x1 and 3x3 convs - the 52 convolutions the official GGHL recipe loads (``cutoff=52``). Values after
the last convolution (the ImageNet classifier of ``darknet53_448.weights``) are ignored and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

__all__ = ["DarknetHeader", "conv_units", "is_darknet_file", "load_darknet_weights", "read_darknet_header"]


@dataclass(frozen=True)
class DarknetHeader:
    major: int
    minor: int
    revision: int
    seen: int
    nbytes: int  # header size in bytes (16 or 20)


def read_darknet_header(raw: bytes) -> DarknetHeader:
    """Parse the header of a darknet weights file from its first bytes (at least 20)."""
    if len(raw) < 16:
        raise ValueError(f"a darknet weights file starts with at least 16 header bytes, got {len(raw)}")
    major, minor, revision = (int(v) for v in np.frombuffer(raw[:12], dtype="<i4"))
    if major * 10 + minor >= 2 and major < 1000 and minor < 1000:
        if len(raw) < 20:
            raise ValueError(
                "darknet header version >= 0.2 has an int64 'seen' counter: 20 header bytes needed"
            )
        seen, nbytes = int(np.frombuffer(raw[12:20], dtype="<i8")[0]), 20
    else:
        seen, nbytes = int(np.frombuffer(raw[12:16], dtype="<i4")[0]), 16
    return DarknetHeader(major, minor, revision, seen, nbytes)


def is_darknet_file(path: str | Path) -> bool:
    """True when ``path`` looks like darknet binary weights: a plausible header (version numbers < 1000, a
    non-negative revision) and a float32 body, and none of the torch (zip / pickle) or safetensors signatures.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        raw = f.read(24)
    if len(raw) < 20 or raw[:4] == b"PK\x03\x04" or raw[:1] == b"\x80":
        return False
    if raw[8:9] == b"{":  # safetensors: u64 header length, then a JSON object
        return False
    try:
        head = read_darknet_header(raw)
    except ValueError:
        return False
    plausible = 0 <= head.major < 1000 and 0 <= head.minor < 1000 and 0 <= head.revision < 1_000_000
    return plausible and head.seen >= 0 and (size - head.nbytes) % 4 == 0 and size > head.nbytes


def conv_units(module: nn.Module) -> list[tuple[str, nn.Conv2d, nn.BatchNorm2d | None]]:
    """``(name, conv, batch norm or None)`` of every convolution of ``module`` in network order."""
    units: list[tuple[str, nn.Conv2d, nn.BatchNorm2d | None]] = []
    pending: tuple[str, nn.Conv2d] | None = None
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            if pending is not None:
                units.append((*pending, None))
            pending = (name, m)
        elif (
            isinstance(m, nn.BatchNorm2d)
            and pending is not None
            and m.num_features == pending[1].out_channels
        ):
            units.append((*pending, m))
            pending = None
    if pending is not None:
        units.append((*pending, None))
    return units


def load_darknet_weights(module: nn.Module, path: str | Path) -> dict[str, int]:
    """Copy darknet binary weights into every convolution (and its batch norm) of ``module``, in network order.

    Returns:
        ``{"convs", "floats_read", "floats_ignored", "major", "minor", "revision", "seen"}``.

    Raises:
        ValueError: naming the file: no convolutions, a conv without batch norm and without bias, or a file too
            short for the module (which conv, how many values it has and needs).
    """
    path = Path(path)
    data = path.read_bytes()
    head = read_darknet_header(data[:20])
    body = data[head.nbytes :]
    if len(body) % 4:
        raise ValueError(
            f"{path}: darknet weights body of {len(body)} bytes is not a whole number of float32"
        )
    values = torch.from_numpy(np.frombuffer(body, dtype="<f4").copy())
    units = conv_units(module)
    if not units:
        raise ValueError(f"{path}: the module has no convolution to load darknet weights into")
    ptr = 0
    with torch.no_grad():
        for i, (name, conv, bn) in enumerate(units):
            if bn is not None:
                targets = [bn.bias, bn.weight, bn.running_mean, bn.running_var, conv.weight]
            elif conv.bias is not None:
                targets = [conv.bias, conv.weight]
            else:
                raise ValueError(
                    f"{path}: conv #{i} {name!r} has neither batch norm nor bias; the darknet layout cannot fill it"
                )
            need = sum(int(t.numel()) for t in targets)
            if ptr + need > values.numel():
                raise ValueError(
                    f"{path}: darknet weights end after {values.numel()} values, but conv #{i} {name!r} "
                    f"(of {len(units)}) needs values {ptr}..{ptr + need}: the file is truncated or for another network"
                )
            for t in targets:
                n = int(t.numel())
                t.copy_(values[ptr : ptr + n].view_as(t))
                ptr += n
    ignored = int(values.numel()) - ptr
    if ignored:
        log.info(
            "%s: %d convolutions loaded, %d trailing values ignored (e.g. a classifier)",
            path,
            len(units),
            ignored,
        )
    return {
        "convs": len(units),
        "floats_read": ptr,
        "floats_ignored": ignored,
        "major": head.major,
        "minor": head.minor,
        "revision": head.revision,
        "seen": head.seen,
    }
