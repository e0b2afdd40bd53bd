"""Validation of COCO instances json (ground truth) before pycocotools sees it.

pycocotools trusts its input: a missing ``bbox`` raises ``KeyError`` deep inside, a duplicate image id
silently replaces the first image, a duplicate annotation id silently hides an object from ``loadAnns``.
:func:`validate_coco` checks the fields gghl reads and raises :class:`CocoFormatError` naming the file and
the json path of the first problem (e.g. ``instances_val.json: annotations[3].bbox: ...``).
"""

from __future__ import annotations

import json
import math
import numbers
import os
from pathlib import Path
from typing import Any

__all__ = ["CocoFormatError", "load_coco_json", "validate_coco"]


class CocoFormatError(ValueError):
    """Malformed COCO json; ``source`` is the file (or ``<dict>``), ``where`` the json path."""

    def __init__(self, source: str, where: str, reason: str) -> None:
        self.source, self.where, self.reason = source, where, reason
        super().__init__(f"{source}: {where}: {reason}" if where else f"{source}: {reason}")


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)  # numpy ints in in-memory dicts too


def _is_num(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _unique_ids(items: list[Any], key: str, src: str) -> set[int]:
    seen: dict[int, int] = {}
    for i, it in enumerate(items):
        if not isinstance(it, dict):
            raise CocoFormatError(src, f"{key}[{i}]", f"must be an object, got {type(it).__name__}")
        if "id" not in it:
            raise CocoFormatError(src, f"{key}[{i}]", "missing field 'id'")
        if not _is_int(it["id"]):
            raise CocoFormatError(src, f"{key}[{i}].id", f"must be an integer, got {it['id']!r}")
        if it["id"] in seen:
            raise CocoFormatError(
                src, f"{key}[{i}].id", f"duplicate id {it['id']} (also {key}[{seen[it['id']]}])"
            )
        seen[it["id"]] = i
    return set(seen)


def validate_coco(
    data: Any, source: str = "<dict>", require_file_name: bool = True, require_area: bool = False
) -> dict[str, Any]:
    """Check a loaded COCO instances dict; returns it unchanged.

    Required: top-level object with lists ``images`` (``id`` int unique, ``file_name`` str), ``categories``
    (``id`` int unique, ``name`` str) and ``annotations`` (``id`` int unique, ``image_id`` and
    ``category_id`` referring to listed entries, ``bbox`` 4 finite numbers, ``iscrowd`` 0/1 if present).
    Zero or negative ``w``/``h`` is *not* an error here (the dataset drops and counts such boxes).
    ``require_file_name=False`` for evaluation-only ground truth (no ``file_name``, no category ``name``); ``require_area=True`` for the COCO
    evaluator, whose area ranges read ``area`` of every annotation.

    Raises:
        CocoFormatError: names ``source`` and the json path of the first problem.
    """
    if not isinstance(data, dict):
        raise CocoFormatError(source, "", f"top level must be an object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise CocoFormatError(source, "", f"missing top-level field {key!r}")
        if not isinstance(data[key], list):
            raise CocoFormatError(source, key, f"must be a list, got {type(data[key]).__name__}")
    img_ids = _unique_ids(data["images"], "images", source)
    cat_ids = _unique_ids(data["categories"], "categories", source)
    _unique_ids(data["annotations"], "annotations", source)
    for i, img in enumerate(data["images"] if require_file_name else []):
        if not isinstance(img.get("file_name"), str):
            raise CocoFormatError(
                source, f"images[{i}].file_name", f"must be a string, got {img.get('file_name')!r}"
            )
    for i, cat in enumerate(data["categories"] if require_file_name else []):
        if not isinstance(cat.get("name"), str):
            raise CocoFormatError(
                source, f"categories[{i}].name", f"must be a string, got {cat.get('name')!r}"
            )
    for i, ann in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        for key in ("image_id", "category_id", "bbox"):
            if key not in ann:
                raise CocoFormatError(source, where, f"missing field {key!r} (annotation id {ann['id']})")
        for key in ("image_id", "category_id"):
            if not _is_int(ann[key]):
                raise CocoFormatError(source, f"{where}.{key}", f"must be an integer, got {ann[key]!r}")
        if ann["image_id"] not in img_ids:
            raise CocoFormatError(
                source, f"{where}.image_id", f"{ann['image_id']!r} is not an id in 'images'"
            )
        if ann["category_id"] not in cat_ids:
            raise CocoFormatError(
                source, f"{where}.category_id", f"{ann['category_id']!r} is not in 'categories'"
            )
        bbox = ann["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_num(v) for v in bbox)):
            raise CocoFormatError(source, f"{where}.bbox", f"must be [x, y, w, h] numbers, got {bbox!r}")
        if not all(math.isfinite(v) for v in bbox):
            raise CocoFormatError(source, f"{where}.bbox", f"non-finite value in {bbox!r}")
        if require_area and not (_is_num(ann.get("area")) and math.isfinite(ann["area"])):
            raise CocoFormatError(
                source, f"{where}.area", f"must be a finite number, got {ann.get('area')!r}"
            )
        if ann.get("iscrowd", 0) not in (0, 1):
            raise CocoFormatError(source, f"{where}.iscrowd", f"must be 0 or 1, got {ann['iscrowd']!r}")
    return data


def load_coco_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read and :func:`validate_coco` a COCO json file (``FileNotFoundError`` if absent)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: COCO annotation file not found")
    try:
        with open(p, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CocoFormatError(str(p), "", f"not valid json ({e})") from e
    except RecursionError as e:  # deeply nested garbage
        raise CocoFormatError(str(p), "", "json nested too deeply") from e
    return validate_coco(data, str(p))
