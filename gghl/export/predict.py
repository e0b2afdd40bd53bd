"""Predict on image files with a checkpoint or an exported model: drawn images, JSON, DOTA Task1 files.

Detection: every image goes through :func:`gghl.models.large_image.detect_image` (the evaluation code path,
so ``gghl-eval`` gives the same detections for the same image and settings): images larger than the patch
are split into overlapping windows, predicted in batches, mapped back and merged with class-wise rotated
NMS; smaller ones are one window padded at the right/bottom (no resizing). Classification: images are
resized to the model input side.

Names: :func:`gghl.data.output_names.output_names` (the file stem; the file name when stems collide; a
name with whitespace is refused before any image is read). Unreadable images (missing, truncated, corrupt,
not an image) are skipped, counted, listed in the JSON (``"unreadable"``) and the outputs of the others
are written.

Outputs under ``out_dir``: ``images/<name>.png`` (boxes, class names and scores drawn),
``detections.json`` (or ``predictions.json`` for a classifier) and ``Task1/Task1_<class>.txt``
(``name score x1 y1 ... x4 y4``, detectors only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from gghl.data.image_io import ImageReadError, read_image
from gghl.data.output_names import output_names
from gghl.data.tiling import Detections
from gghl.export.draw import draw_detections, draw_label
from gghl.models.large_image import TileSettings
from gghl.models.large_image import detect_image as _detect_image


class Predictor(Protocol):
    """What :func:`predict_images` needs: ``CheckpointModel`` and ``ExportedModel`` both are one."""

    kind: str
    class_names: list[str]
    img_size: int

    def predict_batch(self, images: Tensor, targets: Any = None) -> list[dict[str, Tensor]]: ...


def list_images(path: str | Path) -> list[Path]:
    """The image itself, or the images of a folder (sorted; any extension case, ``.PNG`` too; hidden files
    ignored; not recursive: :func:`gghl.data.image_files.list_image_files`)."""
    from gghl.data.image_files import describe_exts, list_image_files

    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        found = list_image_files(p)
        if not found:
            raise FileNotFoundError(f"{p}: no images ({describe_exts()}) in this folder")
        return found
    raise FileNotFoundError(f"input not found: {p}")


def to_tensor(image: np.ndarray) -> Tensor:
    """uint8 ``[H, W, 3]`` -> float32 ``[3, H, W]`` in ``[0, 1]`` (as ``gghl.data.collate.make_sample``)."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255.0).contiguous()


def detect_image(
    model: Predictor,
    image: Tensor,
    patch_size: int | None = None,
    gap: int | None = None,
    batch_size: int = 4,
    merge_iou_thr: float = 0.1,
) -> Detections:
    """:func:`gghl.models.large_image.detect_image` with the settings as arguments (kept for callers)."""
    return _detect_image(model, image, TileSettings(patch_size, gap, (1.0,), batch_size, merge_iou_thr))


def classify_image(model: Predictor, image: Tensor) -> Tensor:
    """Class probabilities ``[C]`` of one image ``[3, H, W]`` resized to the model input side."""
    x = F.interpolate(
        image[None],
        size=(model.img_size, model.img_size),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    return model.predict_batch(x)[0]["probs"].float()


def _det_records(d: Detections, class_names: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for poly, score, label in zip(d.polys.tolist(), d.scores.tolist(), d.labels.tolist()):
        xs, ys = poly[0::2], poly[1::2]
        out.append(
            {
                "label": int(label),
                "class": class_names[int(label)],
                "score": float(score),
                "polygon": [float(v) for v in poly],
                "bbox": [min(xs), min(ys), max(xs), max(ys)],
            }
        )
    return out


def predict_images(
    model: Predictor,
    paths: Sequence[Path],
    out_dir: str | Path,
    settings: TileSettings | None = None,
    draw: bool = True,
    draw_thresh: float = 0.3,
    topk: int = 5,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict every image of ``paths`` and write the outputs (module docstring). Returns the JSON dict:
    ``{"kind", "class_names", "images": [{"image" (output name), "file", "height", "width", "detections"
    | "top"}], "unreadable": [{"file", "reason"}]}``.

    Raises:
        ImageNameError: before any image is read, for a name the output rule refuses.
    """
    from gghl.data.dota_merge import write_task1

    paths = [Path(p) for p in paths]
    names = output_names(paths)  # refuses whitespace / colliding names before any inference
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    classes = list(model.class_names)
    records: list[dict[str, Any]] = []
    unreadable: list[dict[str, str]] = []
    dets_by_image: dict[str, Detections] = {}
    for path, name in tqdm(
        list(zip(paths, names)), desc=f"predict ({model.kind})", unit="img", disable=not progress
    ):
        try:
            array = read_image(path)
        except ImageReadError as err:  # counted and listed; the other images still get their outputs
            unreadable.append({"file": str(path), "reason": err.reason})  # too large (pixel limit) included
            continue
        image = to_tensor(array)
        rec: dict[str, Any] = {
            "image": name,
            "file": str(path),
            "height": array.shape[0],
            "width": array.shape[1],
        }
        if model.kind == "classifier":
            probs = classify_image(model, image)
            top = probs.topk(min(topk, probs.numel()))
            rec["top"] = [
                {"label": int(i), "class": classes[int(i)], "prob": float(p)}
                for p, i in zip(top.values.tolist(), top.indices.tolist())
            ]
            if draw:
                best = rec["top"][0]
                draw_label(array, f"{best['class']} {best['prob']:.2f}").save(out / "images" / f"{name}.png")
        else:
            d = _detect_image(model, image, settings, name)
            dets_by_image[name] = d
            rec["detections"] = _det_records(d, classes)
            if draw:
                draw_detections(
                    array, d.polys.numpy(), d.scores.numpy(), d.labels.numpy(), classes, min_score=draw_thresh
                ).save(out / "images" / f"{name}.png")
        records.append(rec)
    result = {"kind": model.kind, "class_names": classes, "images": records, "unreadable": unreadable}
    if model.kind == "classifier":
        (out / "predictions.json").write_text(json.dumps(result, indent=1))
    else:
        # DOTA Task1 files are named by class; a class name with whitespace (COCO's "traffic light") has no
        # Task1 file name, so such models get detections.json only.
        if all(c and len(c.split()) == 1 for c in classes):
            write_task1(dets_by_image, out / "Task1", classes)
        (out / "detections.json").write_text(json.dumps(result, indent=1))
    return result
