"""DOTA class lists, exact DOTA spelling and official order (as in DOTA_devkit / mmrotate)."""

from __future__ import annotations

DOTA_V1_0: tuple[str, ...] = (
    "plane",
    "baseball-diamond",
    "bridge",
    "ground-track-field",
    "small-vehicle",
    "large-vehicle",
    "ship",
    "tennis-court",
    "basketball-court",
    "storage-tank",
    "soccer-ball-field",
    "roundabout",
    "harbor",
    "swimming-pool",
    "helicopter",
)
DOTA_V1_5: tuple[str, ...] = DOTA_V1_0 + ("container-crane",)
DOTA_V2_0: tuple[str, ...] = DOTA_V1_5 + ("airport", "helipad")

DOTA_CLASSES: dict[str, tuple[str, ...]] = {"1.0": DOTA_V1_0, "1.5": DOTA_V1_5, "2.0": DOTA_V2_0}


def dota_classes(version: str | float = "1.0") -> list[str]:
    """Class names of DOTA ``version`` (``"1.0"`` 15, ``"1.5"`` 16, ``"2.0"`` 18 classes)."""
    key = {"1": "1.0", "2": "2.0", "v1.0": "1.0", "v1.5": "1.5", "v2.0": "2.0"}.get(
        str(version), str(version)
    )
    if key not in DOTA_CLASSES:
        raise ValueError(f"unknown DOTA version {version!r}; known: {sorted(DOTA_CLASSES)}")
    return list(DOTA_CLASSES[key])
