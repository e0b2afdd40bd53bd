"""gghl.data: detection datasets (DOTA, COCO, synthetic), the sample/batch format, DataModules.

The one sample/batch format is documented in ``gghl.data.collate`` (and ``gghl/data/README.md``).
Every public name is imported lazily (on first attribute access), so that importing one submodule
(``gghl.data.dota_text``, ``gghl.data.image_files``) does not pull in torch or Lightning.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "CocoDetection": "gghl.data.coco",
    "detection_collate": "gghl.data.collate",
    "make_sample": "gghl.data.collate",
    "DotaDataset": "gghl.data.dota",
    "DOTA_V1_0": "gghl.data.dota_classes",
    "DOTA_V1_5": "gghl.data.dota_classes",
    "DOTA_V2_0": "gghl.data.dota_classes",
    "dota_classes": "gghl.data.dota_classes",
    "DotaFormatError": "gghl.data.dota_text",
    "read_dota_labels": "gghl.data.dota_labels",
    "write_dota_labels": "gghl.data.dota_labels",
    "ImageReadError": "gghl.data.image_io",
    "read_image": "gghl.data.image_io",
    "SyntheticGenerator": "gghl.data.synthetic",
    "SyntheticOrientedDataset": "gghl.data.synthetic",
    "synthetic_class_names": "gghl.data.synthetic",
    "DetectionDataModule": "gghl.data.detection_datamodule",
    "SyntheticDataModule": "gghl.data.detection_datamodule",
    "DotaDataModule": "gghl.data.detection_datamodule",
    "CocoDataModule": "gghl.data.detection_datamodule",
    "DetectionSplit": "gghl.data.sample_pipeline",
    "MultiScaleBatchSampler": "gghl.data.multiscale",
    "write_synthetic_dota": "gghl.data.synthetic_export",
    "write_synthetic_coco": "gghl.data.synthetic_export",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gghl.data' has no attribute {name!r}")


__all__ = sorted(_LAZY)
