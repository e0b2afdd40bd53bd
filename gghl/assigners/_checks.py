"""Argument checks of the GGHL assigner: one object list ``(polygons, labels, weights)`` per image.

Errors name the argument (``targets[1]['labels']``) and the shapes, instead of a silent
``reshape(-1, 8)`` of a ``[N, 4]`` tensor into half as many objects or an index error in a scatter.
Metadata only (no device sync).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["check_objects", "check_targets"]


def check_objects(polygons: object, labels: object, weights: object, where: str = "") -> None:
    """``polygons [N, 8]`` floating, ``labels [N]`` integer, ``weights [N]`` real or None.

    Args:
        where: prefix of the argument names in messages, e.g. ``"targets[1]"`` -> ``targets[1]['labels']``.
    """

    def name(key: str) -> str:
        return f"{where}[{key!r}]" if where else key

    if not isinstance(polygons, torch.Tensor):
        raise TypeError(f"{name('polygons')} must be a torch.Tensor [N, 8], got {type(polygons).__name__}")
    if polygons.dim() != 2 or polygons.shape[1] != 8:
        raise ValueError(f"{name('polygons')} must have shape [N, 8], got {tuple(polygons.shape)}")
    if not polygons.is_floating_point():
        raise TypeError(f"{name('polygons')} must be floating point, got {polygons.dtype}")
    n = polygons.shape[0]
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name('labels')} must be a torch.Tensor [N], got {type(labels).__name__}")
    if labels.dim() != 1 or labels.shape[0] != n:
        raise ValueError(
            f"{name('labels')} has shape {tuple(labels.shape)} but {name('polygons')} has shape "
            f"{tuple(polygons.shape)}: expected one label per polygon, [{n}]"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name('labels')} must hold integer class ids, got {labels.dtype}")
    if weights is not None:
        if not isinstance(weights, torch.Tensor):
            raise TypeError(
                f"{name('weights')} must be a torch.Tensor [N] or None, got {type(weights).__name__}"
            )
        if weights.dim() != 1 or weights.shape[0] != n:
            raise ValueError(
                f"{name('weights')} has shape {tuple(weights.shape)} but {name('polygons')} has shape "
                f"{tuple(polygons.shape)}: expected one weight per polygon, [{n}]"
            )


def check_targets(targets: object) -> None:
    """A non-empty list of per-image dicts with ``polygons``, ``labels`` and optional ``weights``."""
    if not isinstance(targets, list | tuple) or len(targets) == 0:
        kind = (
            f"an empty {type(targets).__name__}"
            if isinstance(targets, list | tuple)
            else type(targets).__name__
        )
        raise ValueError(f"targets must be a non-empty list of per-image dicts, got {kind}")
    for b, t in enumerate(targets):
        if not isinstance(t, Mapping):
            raise TypeError(f"targets[{b}] must be a dict, got {type(t).__name__}")
        for key in ("polygons", "labels"):
            if key not in t:
                raise KeyError(f"targets[{b}] has no {key!r} (keys: {sorted(t)})")
        check_objects(t["polygons"], t["labels"], t.get("weights"), f"targets[{b}]")
