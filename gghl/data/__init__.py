"""gghl.data: detection datasets (DOTA, COCO, synthetic), the sample/batch format, DataModules.

The one sample/batch format is documented in ``gghl.data.collate`` (and ``gghl/data/README.md``).
DataModules (``SyntheticDataModule``, ``DotaDataModule``, ``CocoDataModule``) are imported lazily
so that ``import gghl.data`` does not pull in Lightning.
"""

from __future__ import annotations

from typing import Any

from gghl.data.coco import CocoDetection
from gghl.data.collate import detection_collate, make_sample
from gghl.data.dota import DotaDataset
from gghl.data.dota_classes import DOTA_V1_0, DOTA_V1_5, DOTA_V2_0, dota_classes
from gghl.data.dota_labels import DotaFormatError, read_dota_labels, write_dota_labels
from gghl.data.image_io import ImageReadError, read_image
from gghl.data.synthetic import SyntheticGenerator, SyntheticOrientedDataset, synthetic_class_names

_LAZY = {
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


__all__ = [
    "CocoDetection",
    "DotaDataset",
    "DotaFormatError",
    "ImageReadError",
    "SyntheticGenerator",
    "SyntheticOrientedDataset",
    "DOTA_V1_0",
    "DOTA_V1_5",
    "DOTA_V2_0",
    "detection_collate",
    "dota_classes",
    "make_sample",
    "read_dota_labels",
    "read_image",
    "synthetic_class_names",
    "write_dota_labels",
    *_LAZY,
]
