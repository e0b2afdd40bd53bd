"""DOTA class lists (devkit / mmrotate order).

Kept here rather than imported from ``gghl.data.dota`` on purpose: the evaluator is the judge and must
not depend on the training loaders. The lists are copied from the devkit scripts and mmrotate's
``DOTADataset`` / ``DOTAv15Dataset`` / ``DOTAv2Dataset``.
"""

from __future__ import annotations

__all__ = ["DOTA_V1_0_CLASSES", "DOTA_V1_5_CLASSES", "DOTA_V2_0_CLASSES", "DOTA_CLASSES"]

DOTA_V1_0_CLASSES: tuple[str, ...] = (
    "plane", "baseball-diamond", "bridge", "ground-track-field", "small-vehicle", "large-vehicle",
    "ship", "tennis-court", "basketball-court", "storage-tank", "soccer-ball-field", "roundabout",
    "harbor", "swimming-pool", "helicopter",
)  # fmt: skip
DOTA_V1_5_CLASSES: tuple[str, ...] = DOTA_V1_0_CLASSES + ("container-crane",)
DOTA_V2_0_CLASSES: tuple[str, ...] = DOTA_V1_5_CLASSES + ("airport", "helipad")

#: version -> classes, for the CLI's ``--version``.
DOTA_CLASSES: dict[str, tuple[str, ...]] = {
    "v1.0": DOTA_V1_0_CLASSES,
    "v1.5": DOTA_V1_5_CLASSES,
    "v2.0": DOTA_V2_0_CLASSES,
}
