"""Merge detections on DOTA patches back to full images and write DOTA Task1 result files.

Patch names are DOTA_devkit's ``<image>__<rate>__<x>___<y>`` (:func:`gghl.data.tiling.parse_patch_name`).
A patch polygon ``p`` (patch pixels) maps to ``(p + (x, y)) / rate`` in the original image, as DOTA_devkit
``ResultMerge.poly2origpoly``. Merging is class-wise NMS at IoU 0.1 (:func:`gghl.data.tiling.nms_merge`):
rotated NMS of the min-area rectangles by default (mmrotate's ``DOTAMetric`` merge, which scored
AP50 73.73 vs 70.62 for quadrilateral NMS in mmrotate PR #520), or ``nms="poly"`` (DOTA_devkit).
"""

from __future__ import annotations

import os
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch

from gghl.data.dota_task1 import read_task1_rows
from gghl.data.dota_text import MAX_ABS_COORD, DotaFormatError, check_line
from gghl.data.tiling import Detections, nms_merge, parse_patch_name, tile_to_image

__all__ = ["merge_detections", "write_task1", "zip_task1", "read_task1", "merge_task1_files"]


def merge_detections(
    patch_dets: Mapping[str, Detections | tuple] | Iterable[tuple[str, Detections | tuple]],
    iou_thr: float = 0.1,
    nms: str = "rotated",
) -> dict[str, Detections]:
    """Full-image detections from per-patch detections.

    Args:
        patch_dets: ``{patch_name: (polys [K, 8], scores [K], labels [K])}`` or an iterable of
            ``(patch_name, dets)`` pairs (the same patch may appear more than once). Polygons are in patch
            pixels; names may carry a directory or extension.
        iou_thr: class-wise NMS threshold (suppress when IoU > iou_thr); DOTA's 0.1 by default.
        nms: "rotated" (min-area rectangle + rotated IoU) or "poly" (polygon IoU).

    Returns:
        ``{image_name: Detections}`` in original-image pixels, each sorted by decreasing score.
        Every image named by some patch is present, with empty detections if none survived.
    """
    items = patch_dets.items() if isinstance(patch_dets, Mapping) else patch_dets
    per_image: dict[str, list[Detections]] = defaultdict(list)
    for name, dets in items:
        p = parse_patch_name(name)
        per_image[p.image].append(tile_to_image(dets, p.x, p.y, p.rate))
    return {
        img: nms_merge(Detections.cat(ds), iou_thr=iou_thr, nms=nms) for img, ds in sorted(per_image.items())
    }


def _check_name(what: str, name: str) -> None:
    """A Task1 image or class name is one token with only allowed characters (``gghl.data.dota_text``),
    so that the written line reads back: a name with a space would shift every column."""
    problem = check_line(name)
    if problem is None and (not name or len(name.split()) != 1 or name != name.strip()):
        problem = "empty or contains whitespace"
    if problem is not None:
        raise ValueError(f"{what} {name!r} cannot be written to a Task1 file: {problem}")


def _fmt_line(image: str, score: float, poly: Sequence[float]) -> str:
    # mmrotate's DOTAMetric writes score with 4 and coordinates with 2 decimals; we keep that precision.
    return f"{image} {score:.4f} " + " ".join(f"{v:.2f}" for v in poly) + "\n"


def write_task1(
    det_by_image: Mapping[str, Detections | tuple],
    out_dir: str | os.PathLike,
    class_names: Sequence[str],
    zip_path: str | os.PathLike | None = None,
) -> list[Path]:
    """Write DOTA Task1 files ``Task1_<class>.txt``: lines ``imgname score x1 y1 x2 y2 x3 y3 x4 y4``.

    One file per class in ``class_names`` (empty when the class has no detection, as the server expects all
    of them). Images are written in sorted order, detections by decreasing score, so reruns give identical
    files. Everything written reads back with the shared reader: a label outside ``range(len(class_names))``,
    an image or class name that is empty or has whitespace or refused characters, a non-finite score or a
    coordinate outside ``+-MAX_ABS_COORD`` raise ``ValueError`` naming the image, before anything is written.
    With ``zip_path`` the files are also packed into a submission zip (:func:`zip_task1`).
    Returns the written paths.
    """
    for name in class_names:
        _check_name("class name", name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines: list[list[str]] = [[] for _ in class_names]
    for image in sorted(det_by_image):
        _check_name("image name", image)
        polys, scores, labels = (torch.as_tensor(v).detach().cpu() for v in det_by_image[image])
        bad = labels[(labels < 0) | (labels >= len(class_names))]
        if len(bad):
            raise ValueError(
                f"image {image!r}: label {int(bad[0])} outside the {len(class_names)} class names"
            )
        ok = torch.isfinite(scores.double()) & (polys.double().abs() <= MAX_ABS_COORD).all(dim=-1)
        if not bool(ok.all()):
            i = int((~ok).nonzero()[0])
            raise ValueError(
                f"image {image!r}: detection {i} has a non-finite score or a coordinate outside "
                f"+-{MAX_ABS_COORD:g} px (score {float(scores[i])}, polygon {polys[i].tolist()}); "
                "a Task1 file could not be read back"
            )
        order = torch.sort(scores.double(), descending=True, stable=True).indices
        for i in order.tolist():
            lines[int(labels[i])].append(_fmt_line(image, float(scores[i]), polys[i].double().tolist()))
    paths = []
    for name, ls in zip(class_names, lines):
        path = out / f"Task1_{name}.txt"
        tmp = path.with_suffix(".txt.tmp")
        tmp.write_text("".join(ls), encoding="utf-8")
        os.replace(tmp, path)
        paths.append(path)
    if zip_path is not None:
        zip_task1(paths, zip_path)
    return paths


def zip_task1(paths: Sequence[str | os.PathLike], zip_path: str | os.PathLike) -> Path:
    """Pack Task1 files into a flat zip (file names only, no folders), the DOTA server's submission form."""
    zp = Path(zip_path)
    zp.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in paths:
            zf.write(p, arcname=Path(p).name)
    return zp


def read_task1(path: str | os.PathLike) -> list[tuple[str, float, list[float]]]:
    """Rows ``(name, score, [x1, y1, ..., y4])`` of one Task1 file, read by the shared reader
    (:func:`gghl.data.dota_task1.read_task1_rows`, the evaluator's): malformed lines raise
    ``DotaFormatError`` (a ``ValueError``) naming file and line."""
    rows = read_task1_rows(path)
    return [(n, float(s), p.tolist()) for n, s, p in zip(rows.images, rows.scores, rows.polys)]


def merge_task1_files(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    iou_thr: float = 0.1,
    nms: str = "rotated",
    zip_path: str | os.PathLike | None = None,
) -> list[Path]:
    """DOTA_devkit ``ResultMerge`` workflow: patch-level ``Task1_<class>.txt`` -> full-image ones.

    ``src_dir`` holds one ``Task1_<class>.txt`` per class whose lines name patches
    (``P0000__1__0___824 0.93 x1 y1 ... y4``). Writes the same file names into ``dst_dir`` (+ optional zip).
    """
    if not Path(src_dir).is_dir():
        raise FileNotFoundError(f"{src_dir}: patch result folder not found")
    files = sorted(Path(src_dir).glob("Task1_*.txt"))
    if not files:
        raise FileNotFoundError(f"no Task1_<class>.txt files in {src_dir}")
    classes = [f.stem[len("Task1_") :] for f in files]
    rows: dict[str, tuple[list[list[float]], list[float], list[int]]] = defaultdict(lambda: ([], [], []))
    for label, f in enumerate(files):
        t1 = read_task1_rows(f)
        for name, score, poly, line_no in zip(t1.images, t1.scores, t1.polys, t1.line_no):
            try:
                parse_patch_name(name)
            except ValueError as e:
                raise DotaFormatError(f, int(line_no), str(e)) from None
            r = rows[name]
            r[0].append(poly.tolist())
            r[1].append(float(score))
            r[2].append(label)
    per_patch = {
        name: Detections(
            torch.tensor(polys, dtype=torch.float64),
            torch.tensor(scores, dtype=torch.float64),
            torch.tensor(labels, dtype=torch.int64),
        )
        for name, (polys, scores, labels) in rows.items()
    }
    merged = merge_detections(per_patch, iou_thr=iou_thr, nms=nms)
    return write_task1(merged, dst_dir, classes, zip_path=zip_path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gghl.data.dota_merge --src patch_results/ --dst merged/ [--zip submission.zip]``."""
    import argparse

    p = argparse.ArgumentParser(description=merge_task1_files.__doc__)
    p.add_argument("--src", required=True, help="folder with patch-level Task1_<class>.txt")
    p.add_argument("--dst", required=True, help="output folder for full-image Task1_<class>.txt")
    p.add_argument("--iou-thr", type=float, default=0.1)
    p.add_argument("--nms", choices=["rotated", "poly"], default="rotated")
    p.add_argument("--zip", default=None, help="also write this submission zip")
    a = p.parse_args(argv)
    paths = merge_task1_files(a.src, a.dst, iou_thr=a.iou_thr, nms=a.nms, zip_path=a.zip)
    print(f"wrote {len(paths)} Task1 files to {a.dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
