"""Reading labelled image lists from disk: CSV files and ImageFolder trees.

Errors name the file and line (CSV) or the folder (ImageFolder), so a bad dataset is fixed quickly.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


@dataclass
class FileList:
    """Image paths with raw (string) labels: ``labels[i]`` lists the annotators' labels of ``paths[i]``."""

    paths: list[str]
    labels: list[list[str]]
    sources: list[str]  # "file:line" or folder, for error messages


def read_label_csv(csv_path: str, root: str | None = None, check_files: bool = True) -> FileList:
    """Parse a ``path,label`` CSV; ``label`` may list several annotators' labels as ``a|b|a``.

    An optional header row ``path,label`` is skipped; blank lines and lines starting with ``#`` are
    ignored. Relative paths are resolved against ``root`` (default: the CSV's folder).
    The k-th label of a row is treated as annotator k (this matters for Dawid-Skene).

    Raises:
        FileNotFoundError: the CSV or an image is missing (message names ``csv:line``).
        ValueError: malformed row (message names ``csv:line``).
    """
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"label CSV not found: {csv_path}")
    base = root if root is not None else os.path.dirname(os.path.abspath(csv_path))
    out = FileList([], [], [])
    with open(csv_path, newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            where = f"{csv_path}:{lineno}"
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 2:
                raise ValueError(f"{where}: expected 2 columns 'path,label', got {len(row)}: {row!r}")
            path, label = row[0].strip(), row[1].strip()
            if lineno == 1 and path.lower() == "path" and label.lower() in ("label", "labels"):
                continue
            if not path:
                raise ValueError(f"{where}: empty image path")
            labels = [s.strip() for s in label.split("|")]
            if not label or any(not s for s in labels):
                raise ValueError(f"{where}: empty label in {label!r}")
            full = path if os.path.isabs(path) else os.path.join(base, path)
            if check_files and not os.path.isfile(full):
                raise FileNotFoundError(f"{where}: image not found: {full}")
            out.paths.append(full)
            out.labels.append(labels)
            out.sources.append(where)
    if not out.paths:
        raise ValueError(f"{csv_path}: no rows")
    return out


def scan_image_folder(root: str) -> tuple[FileList, list[str]]:
    """``root/<class>/<image>`` -> (file list, sorted class names). Hidden files are skipped."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"image folder not found: {root}")
    classes = sorted(
        d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")
    )
    if not classes:
        raise ValueError(f"{root}: no class sub-folders (expected root/<class>/<image>)")
    out = FileList([], [], [])
    for c in classes:
        folder = os.path.join(root, c)
        for dirpath, _, files in sorted(os.walk(folder)):
            for name in sorted(files):
                if name.startswith(".") or not name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                out.paths.append(os.path.join(dirpath, name))
                out.labels.append([c])
                out.sources.append(folder)
    if not out.paths:
        raise ValueError(f"{root}: no images with extensions {IMAGE_EXTENSIONS}")
    return out, classes


def encode_labels(files: FileList, class_names: Sequence[str]) -> np.ndarray:
    """String labels -> int64 annotations ``[N, A]`` (-1 pads rows with fewer labels).

    Raises:
        ValueError: a label not in ``class_names`` (message names its source line).
    """
    index = {c: i for i, c in enumerate(class_names)}
    width = max(len(ls) for ls in files.labels)
    ann = np.full((len(files.paths), width), -1, dtype=np.int64)
    for i, (ls, src) in enumerate(zip(files.labels, files.sources)):
        for k, s in enumerate(ls):
            if s not in index:
                raise ValueError(f"{src}: unknown label {s!r}; known classes: {list(class_names)}")
            ann[i, k] = index[s]
    return ann
