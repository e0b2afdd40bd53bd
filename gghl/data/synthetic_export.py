"""Write synthetic images to disk in the real DOTA and COCO layouts (for tests, benches, the split tool).

DOTA: ``<root>/<split>/images/<id>.png`` + ``<root>/<split>/labelTxt/<id>.txt`` with
``imagesource:synthetic`` / ``gsd:<gsd>`` headers; coordinates written bit-exactly (shortest repr),
difficult flags as drawn. COCO: ``<images_dir>/<id>.png`` + an instances json whose boxes are the
polygons' axis-aligned extents (HBB), ``category_id = category_ids[label]`` (non-contiguous ids allowed).

CLI: ``python -m gghl.data.synthetic_export OUT --format dota|coco --num 100 --size 800 --seed 0 --split train``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gghl.data.dota_labels import write_dota_labels
from gghl.data.image_io import write_png
from gghl.data.synthetic import SyntheticOrientedDataset


def write_synthetic_dota(
    dataset: SyntheticOrientedDataset,
    root: str | Path,
    split: str = "train",
    indices: Sequence[int] | None = None,
    gsd: float | None = 0.5,
) -> Path:
    """Render ``indices`` (default all) of ``dataset`` into DOTA layout; returns ``<root>/<split>``."""
    base = Path(root) / split
    (base / "images").mkdir(parents=True, exist_ok=True)
    (base / "labelTxt").mkdir(parents=True, exist_ok=True)
    names = dataset.class_names
    for i in range(len(dataset)) if indices is None else indices:
        r = dataset.render(int(i))
        stem = dataset.image_id(int(i))
        write_png(base / "images" / f"{stem}.png", r.image)
        write_dota_labels(
            base / "labelTxt" / f"{stem}.txt",
            r.polygons,
            [names[k] for k in r.labels],
            r.difficult.astype(int),
            image_source="synthetic",
            gsd=gsd,
        )
    return base


def write_synthetic_coco(
    dataset: SyntheticOrientedDataset,
    images_dir: str | Path,
    ann_file: str | Path,
    indices: Sequence[int] | None = None,
    category_ids: Sequence[int] | None = None,
) -> dict:
    """Render images and write a COCO instances json (HBB ``bbox``, ``segmentation`` = polygon).

    Args:
        category_ids: COCO id per class (default ``1..C``); use gaps to test non-contiguous ids.

    Returns:
        the json dict that was written. Image ids are ``index + 1``; annotation ids count from 1.
    """
    names = dataset.class_names
    cat_ids = list(range(1, len(names) + 1)) if category_ids is None else [int(c) for c in category_ids]
    if len(cat_ids) != len(names):
        raise ValueError(f"{len(names)} classes but {len(cat_ids)} category ids")
    images_dir = Path(images_dir)
    images, annotations = [], []
    for i in range(len(dataset)) if indices is None else indices:
        r = dataset.render(int(i))
        file_name = f"{dataset.image_id(int(i))}.png"
        write_png(images_dir / file_name, r.image)
        h, w = r.image.shape[:2]
        img_id = int(i) + 1
        images.append({"id": img_id, "file_name": file_name, "width": int(w), "height": int(h)})
        xy = r.polygons.reshape(-1, 4, 2)
        for poly, pts, label in zip(r.polygons, xy, r.labels):
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": img_id,
                    "category_id": cat_ids[int(label)],
                    "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                    "area": float((x1 - x0) * (y1 - y0)),
                    "iscrowd": 0,
                    "segmentation": [np.asarray(poly, dtype=np.float64).tolist()],
                }
            )
    data = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": n, "supercategory": "synthetic"} for c, n in zip(cat_ids, names)],
    }
    Path(ann_file).parent.mkdir(parents=True, exist_ok=True)
    Path(ann_file).write_text(json.dumps(data), encoding="utf-8")
    return data


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write a synthetic oriented-object set in DOTA or COCO layout.")
    ap.add_argument("out", help="output root")
    ap.add_argument("--format", choices=("dota", "coco"), default="dota")
    ap.add_argument("--num", type=int, default=100, help="number of images")
    ap.add_argument("--size", type=int, default=800, help="image size (square)")
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="train", help="split folder (DOTA) / images folder + json name (COCO)")
    args = ap.parse_args(argv)
    ds = SyntheticOrientedDataset(args.num, img_size=args.size, num_classes=args.classes, seed=args.seed)
    if args.format == "dota":
        print(write_synthetic_dota(ds, args.out, args.split))
    else:
        out = Path(args.out)
        ann = out / "annotations" / f"instances_{args.split}.json"
        write_synthetic_coco(ds, out / args.split, ann)
        print(ann)


if __name__ == "__main__":
    main()
