"""Predict on image files with a checkpoint or an exported model: drawn images, JSON, DOTA Task1 files.

Detection: every image goes through :func:`gghl.data.tiling.tiled_inference` with
:func:`gghl.models.large_image.tile_detector` (the evaluation code path): images larger than the patch are
split into overlapping windows, predicted in batches, mapped back and merged with class-wise rotated NMS;
smaller ones are one window padded at the right/bottom (no resizing). Classification: images are resized to
the model input side.

Outputs under ``out_dir``: ``images/<stem>.png`` (boxes, class names and scores drawn),
``detections.json`` (or ``predictions.json`` for a classifier) and ``Task1/Task1_<class>.txt``
(``image score x1 y1 ... x4 y4``, detectors only).
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

from gghl.data.image_io import IMAGE_EXTENSIONS, read_image
from gghl.data.tiling import Detections, tiled_inference
from gghl.export.draw import draw_detections, draw_label


class Predictor(Protocol):
    """What :func:`predict_images` needs: ``CheckpointModel`` and ``ExportedModel`` both are one."""

    kind: str
    class_names: list[str]
    img_size: int

    def predict_batch(self, images: Tensor, targets: Any = None) -> list[dict[str, Tensor]]: ...


def list_images(path: str | Path) -> list[Path]:
    """The image itself, or the images of a folder (sorted, by extension; not recursive)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_EXTENSIONS)
        if not found:
            raise FileNotFoundError(f"{p}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        return found
    raise FileNotFoundError(f"input not found: {p}")


def to_tensor(image: np.ndarray) -> Tensor:
    """uint8 ``[H, W, 3]`` -> float32 ``[3, H, W]`` in ``[0, 1]``."""
    return torch.from_numpy(image).permute(2, 0, 1).float().div(255.0).contiguous()


def detect_image(
    model: Predictor,
    image: Tensor,
    patch_size: int | None = None,
    gap: int | None = None,
    batch_size: int = 4,
    merge_iou_thr: float = 0.1,
) -> Detections:
    """Detections of one image ``[3, H, W]`` in ``[0,1]``, in original pixels, by decreasing score.

    Args:
        patch_size: window side (default: the model input side, so tiles are not resized).
        gap: window overlap (default ``patch_size // 5``, DOTA's 200 at 1024).
    """
    from gghl.models.large_image import tile_detector

    size = int(patch_size or model.img_size)
    overlap = size // 5 if gap is None else int(gap)
    detect = tile_detector(model, size, model.img_size, "cpu")
    return tiled_inference(
        image, detect, size=size, gap=overlap, pad_value=0.5, batch_size=batch_size, iou_thr=merge_iou_thr
    )


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
    patch_size: int | None = None,
    gap: int | None = None,
    batch_size: int = 4,
    merge_iou_thr: float = 0.1,
    draw: bool = True,
    draw_thresh: float = 0.3,
    topk: int = 5,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict every image of ``paths`` and write the outputs (module docstring). Returns the JSON dict."""
    from gghl.data.dota_merge import write_task1

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    names = list(model.class_names)
    records: list[dict[str, Any]] = []
    dets_by_image: dict[str, Detections] = {}
    for path in tqdm(paths, desc=f"predict ({model.kind})", unit="img", disable=not progress):
        array = read_image(path)  # ImageReadError names the file
        image = to_tensor(array)
        rec: dict[str, Any] = {
            "image": path.stem,
            "file": str(path),
            "height": array.shape[0],
            "width": array.shape[1],
        }
        if model.kind == "classifier":
            probs = classify_image(model, image)
            top = probs.topk(min(topk, probs.numel()))
            rec["top"] = [
                {"label": int(i), "class": names[int(i)], "prob": float(p)}
                for p, i in zip(top.values.tolist(), top.indices.tolist())
            ]
            if draw:
                best = rec["top"][0]
                draw_label(array, f"{best['class']} {best['prob']:.2f}").save(
                    out / "images" / f"{path.stem}.png"
                )
        else:
            d = detect_image(model, image, patch_size, gap, batch_size, merge_iou_thr)
            dets_by_image[path.stem] = d
            rec["detections"] = _det_records(d, names)
            if draw:
                draw_detections(
                    array, d.polys.numpy(), d.scores.numpy(), d.labels.numpy(), names, min_score=draw_thresh
                ).save(out / "images" / f"{path.stem}.png")
        records.append(rec)
    result = {"kind": model.kind, "class_names": names, "images": records}
    if model.kind == "classifier":
        (out / "predictions.json").write_text(json.dumps(result, indent=1))
    else:
        write_task1(dets_by_image, out / "Task1", names)
        (out / "detections.json").write_text(json.dumps(result, indent=1))
    return result
