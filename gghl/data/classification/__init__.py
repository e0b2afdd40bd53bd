"""Image classification data: digits, ImageFolder and CSV datamodules with multi-annotator labels.

Batch format: see :mod:`gghl.data.classification.datasets`.
"""

from gghl.data.classification.base import ClassificationDataModule, SplitData
from gghl.data.classification.digits import DigitsDataModule, load_digits_images
from gghl.data.classification.file_datamodules import CSVDataModule, ImageFolderDataModule
from gghl.data.classification.noise import inject_class_conditional_noise, simulate_annotators

__all__ = [
    "CSVDataModule",
    "ClassificationDataModule",
    "DigitsDataModule",
    "ImageFolderDataModule",
    "SplitData",
    "inject_class_conditional_noise",
    "load_digits_images",
    "simulate_annotators",
]
