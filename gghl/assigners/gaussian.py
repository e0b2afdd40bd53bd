"""GGHL object-adaptive label assignment (OLA) — public entry point.

``GaussianAssigner`` turns oriented ground truth into per-level dense target maps in the channel layout of
docs/gghl.md#ola-label-assignment (frame: image pixels, x right, y down; maps indexed ``[row j, col i, ch]``):

====  =====================================================================
ch    meaning
====  =====================================================================
0-3   HBB cx, cy, w, h (px)
4-7   l1 top, l2 right, l3 bottom, l4 left: cell centre to HBB sides (px)
8-11  ORC ratios s1..s4 (0 when r > 0.9)
12    area ratio r
13    objectness (1; soft values below the top-70 % cut in ``gghl_alg1``)
14    mix weight
15    area-normalisation weight
16..  per-class Gaussian heat (class-score target)
====  =====================================================================

Variants:

* ``"gghl_obb"`` — ``dataloadR/datasets_obb.py`` (what the official ``train_GGHL.py`` uses).
* ``"gghl_alg1"`` — ``dataloadR/datasets_new.py``, the paper's Algorithm 1 per the author.
* ``"gghl_fixed"`` — ``gghl_obb`` with three quirks fixed (docs/gghl.md#variants):
  (1) Gaussian offsets are sub-pixel, measured from the true OBB centre ``((i+.5) - cxr/s, (j+.5) - cyr/s)``
  cells, instead of integer cell differences (peak below 1 unless the centre is a cell centre);
  (2) the small-object filter is ``max(w,h) > 4 or w*h > 80`` (the official code tests ``w*w``);
  (3) ch14 is the mix weight of the object that owns a positive cell and 1 on every other cell of every
  level, so levels without objects keep their background loss (officially: whole map = last object's mix,
  0 on levels with no object).

Images without objects: under the official mix rule (``gghl_obb``, ``gghl_alg1``) an image with no object
on any level has mix 0 on every cell, so it adds exactly nothing to the loss (and the official loader never
trains on background-only patches). With ``empty_background=True`` (default) such an image gets mix 1 on
every level, so its background trains objectness towards 0 (a DOTA split is mostly empty patches; without
this they would teach the detector nothing about false positives). Images with objects are untouched (official
parity: their empty levels keep mix 0). ``empty_background=False`` is the official loader exactly.
``gghl_fixed`` already gives mix 1 to every background cell.

Polygons are ordered (ORC), and HBB, r and the long-side angle are derived in floating point
(``gghl.structures.orc``), never via OpenCV. Float64 inputs are needed for bit parity with the official
maps: object centres often sit exactly on cell borders.

Fidelity notes (where our inputs differ from the official pipeline's rows):

* The official loader reads r and theta from the annotation row, which ``DOTA2Train.py`` computed from
  *integer-truncated* corners (``cv2.contourArea``, ``cv2.minAreaRect``). We take the polygon as given and
  compute both in float, so for integer corners and rectangles the values agree; for float corners r and
  theta are the exact geometric values (as in the reference fixtures, whose rows were derived in float).
* theta is the direction of the longer pair of opposite sides, in [0, pi). It equals the min-area-rectangle
  angle for rectangles; for other quadrilaterals minAreaRect can differ slightly. The ``(179, 180] -> 179``
  degree clamp of the official converter is not reproduced (theta and theta + pi give the same Gaussian).
* Quadrilaterals with a vertex touching no HBB side (the official "refined approximation" RA modifies them
  before training) are used as given: the least-violating ORC rotation is taken and s is read off it.
* The object centre for the Gaussian is the vertex mean summed left to right in ORC order (this decides
  which cell a centre lying exactly on a cell border belongs to).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gghl.assigners.gaussian_params import VARIANTS
from gghl.assigners.gaussian_reference import reference_maps_loop

__all__ = ["GaussianAssigner"]


class GaussianAssigner:
    """GGHL OLA assigner.

    Args:
        num_classes: number of classes ``C``; maps have ``16 + C`` channels.
        strides: exactly three strides (the official level rules are defined for three levels).
        variant: ``"gghl_obb"`` (default, official loader), ``"gghl_alg1"`` or ``"gghl_fixed"``.
        empty_background: images without objects get background weight (mix) 1 on every level instead
            of the official 0 (module docstring).
    """

    needs_predictions = False  # static: the task passes no predictions (``gghl.assigners.dense``)

    def __init__(
        self,
        num_classes: int,
        strides: tuple[int, ...] = (8, 16, 32),
        variant: str = "gghl_obb",
        empty_background: bool = True,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(VARIANTS)}")
        if len(strides) != 3:
            raise ValueError(f"GGHL OLA needs exactly 3 strides, got {strides}")
        self.num_classes = int(num_classes)
        self.strides = tuple(int(s) for s in strides)
        self.variant = variant
        self.spec = VARIANTS[variant]
        self.empty_background = bool(empty_background)

    def reference_maps(
        self, polygons: Tensor, labels: Tensor, img_size: int, weights: Tensor | None = None
    ) -> list[Tensor]:
        """Readable per-object reference for one image.

        Args:
            polygons: ``[N, 8]`` float, pixels, any vertex order (computed in float64).
            labels: ``[N]`` integer class ids in ``[0, C)``.
            img_size: square input size ``S`` (multiple of the largest stride).
            weights: ``[N]`` mix weights (default 1).

        Returns:
            One float64 CPU tensor ``[G_k, G_k, 16 + C]`` per level.
        """
        self._check_labels(labels)
        return reference_maps_loop(
            polygons,
            labels,
            img_size,
            self.num_classes,
            self.strides,
            self.spec,
            weights,
            self.empty_background,
        )

    def assign(
        self, targets: list[dict[str, Tensor]], img_size: int, device: torch.device | str | None = None
    ) -> list[Tensor]:
        """Batched, vectorised training path (no Python loop over objects or cells).

        Args:
            targets: one dict per image with ``"polygons"`` ``[N_b, 8]`` float, ``"labels"`` ``[N_b]`` and
                optional ``"weights"`` ``[N_b]`` (mix weights, default 1). Object order = row order (later
                objects overwrite regression targets, as in the official loop).
            img_size: square input size ``S``.
            device: where to compute (default: the polygons' device).

        Returns:
            One tensor ``[B, G_k, G_k, 16 + C]`` per level, dtype of the polygons (float64 for parity).
        """
        from gghl.assigners.gaussian_batched import assign_batched

        return assign_batched(
            targets, img_size, self.num_classes, self.strides, self.spec, device, self.empty_background
        )

    def _check_labels(self, labels: Tensor) -> None:
        if not isinstance(labels, torch.Tensor):
            raise TypeError(f"labels must be a torch.Tensor [N], got {type(labels).__name__}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes}), got {labels.tolist()}")

    def __repr__(self) -> str:
        return (
            f"GaussianAssigner(num_classes={self.num_classes}, strides={self.strides}, variant={self.variant!r}, "
            f"empty_background={self.empty_background})"
        )
