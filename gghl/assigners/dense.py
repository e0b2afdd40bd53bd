"""Choice of the assigner of the dense GGHL head: ``gaussian`` (OLA, default) | ``atss`` | ``tal`` | ``simota``.

All four write the same target layout (``GaussianAssigner``'s channel table), so the network, JOL, the
decoder and the evaluation are shared. ``atss`` is static like ``gaussian``; ``tal`` and ``simota`` read the
detached decoded predictions of the batch (``needs_predictions``).
"""

from __future__ import annotations

from typing import Any, Protocol

from torch import Tensor

from gghl.assigners.atss import RotatedATSSAssigner
from gghl.assigners.gaussian import GaussianAssigner
from gghl.assigners.simota import SimOTAAssigner
from gghl.assigners.tal import TaskAlignedAssigner

__all__ = ["DENSE_ASSIGNERS", "DenseAssigner", "build_dense_assigner"]

DENSE_ASSIGNERS = ("gaussian", "atss", "tal", "simota")


class DenseAssigner(Protocol):
    """What the GGHL task calls: per-level maps ``[B, G_k, G_k, 16 + C]`` from a batch's targets."""

    needs_predictions: bool

    def assign(self, targets: list[dict[str, Tensor]], img_size: int, **kwargs: Any) -> list[Tensor]: ...


def build_dense_assigner(
    name: str,
    num_classes: int,
    strides: tuple[int, ...],
    variant: str = "gghl_obb",
    empty_background: bool = True,
    options: dict[str, Any] | None = None,
) -> DenseAssigner:
    """The assigner ``name``.

    Args:
        variant, empty_background: options of the Gaussian assigner (its variants ``gghl_obb | gghl_alg1 |
            gghl_fixed``); the other assigners give background weight 1 everywhere and have no variants.
        options: keyword options of the chosen non-Gaussian assigner (``topk``, ``anchor_scale`` for
            ``atss``; ``topk``, ``alpha``, ``beta`` for ``tal``; ``radius`` for ``simota``).
    """
    options = dict(options or {})
    if name == "gaussian":
        if options:
            raise ValueError(f"the gaussian assigner takes no assigner_options, got {sorted(options)}")
        return GaussianAssigner(
            num_classes, strides=strides, variant=variant, empty_background=empty_background
        )
    classes = {"atss": RotatedATSSAssigner, "tal": TaskAlignedAssigner, "simota": SimOTAAssigner}
    if name not in classes:
        raise ValueError(f"unknown assigner {name!r}; expected one of {list(DENSE_ASSIGNERS)}")
    return classes[name](num_classes, strides=strides, **options)
