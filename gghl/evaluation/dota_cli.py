"""Command line for DOTA Task1 evaluation: ``gghl-dota-eval --help`` (also ``python -m gghl.evaluation.dota_cli``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from gghl.data.dota_classes import DOTA_CLASSES, dota_classes

__all__ = ["build_parser", "format_table", "main"]

#: ``--version`` choices, one per class list of :mod:`gghl.data.dota_classes`.
VERSIONS = tuple(f"v{v}" for v in DOTA_CLASSES)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ``gghl-dota-eval`` command."""
    p = argparse.ArgumentParser(
        prog="gghl-dota-eval",
        description="DOTA Task1 mAP. Default = official DOTA v1.0 protocol: VOC07 11-point AP "
        "(devkit grid), IoU > 0.5, argmax-only matching, difficult objects ignored.",
        epilog="A data error (malformed line, missing file or folder) prints one line 'error: ...' and exits "
        "with status 1; set GGHL_DEBUG=1 for the traceback.",
    )
    p.add_argument("--ann-dir", required=True, help="folder of labelTxt files (<image>.txt)")
    p.add_argument(
        "--det-dir", required=True, help="folder of Task1_<class>.txt result files (error if it has none)"
    )
    p.add_argument("--imageset", required=True, help="file with one image name (stem) per line")
    cls = p.add_mutually_exclusive_group()
    cls.add_argument("--version", choices=VERSIONS, default="v1.0", help="DOTA class list")
    cls.add_argument("--classes", help="comma-separated class names (instead of --version)")
    p.add_argument("--all-point", action="store_true", help="all-point AP instead of VOC07 11-point")
    p.add_argument("--iou-thr", type=float, default=0.5, help="hit if IoU > this (default 0.5)")
    p.add_argument("--coco-style", action="store_true", help="mAP over IoU 0.50:0.05:0.95 (all-point AP)")
    p.add_argument(
        "--difficult",
        choices=["ignore", "normal"],
        default=None,
        help="difficult objects: 'ignore' (official v1.0/v2.0 default) or 'normal' "
        "(default for --version v1.5, whose official script ignores the flag; also mmrotate)",
    )
    p.add_argument("--unknown-images", choices=["error", "ignore", "fp"], default="error")
    p.add_argument("--det-pattern", default="Task1_{}.txt")
    p.add_argument("--json", dest="json_out", help="write the full result dict here")
    return p


def format_table(result: dict[str, Any]) -> str:
    """Per-class table (AP, positives, difficult, detections) and the mAP line."""
    rows = [f"{'class':<22}{'AP':>9}{'num_gt':>9}{'difficult':>11}{'num_det':>9}"]
    for c, ap in result["AP"].items():
        rows.append(
            f"{c:<22}{ap:>9.4f}{result['num_gt'][c]:>9d}{result['num_difficult'][c]:>11d}{result['num_det'][c]:>9d}"
        )
    rows.append(f"{'mAP':<22}{result['mAP']:>9.4f}")
    rows.append(f"protocol: {result['protocol']}{' (official)' if result.get('official') else ''}")
    for path in result.get("missing_det_files", []):
        rows.append(f"note: missing result file {path} (AP 0)")
    if result.get("classes_without_gt"):
        rows.append(f"note: classes without positives (AP 0): {', '.join(result['classes_without_gt'])}")
    other = result.get("num_gt_other_classes") or {}
    if other:
        rows.append(
            f"note: {sum(other.values())} ground-truth objects of classes not evaluated were skipped: "
            + ", ".join(f"{k} {v}" for k, v in other.items())
        )
    if not sum(result["num_det"].values()):
        rows.append("note: the result files hold no detection at all")
    if result.get("num_det_unknown_image"):
        rows.append(f"note: {result['num_det_unknown_image']} detections on images outside the image set")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation, print the table, optionally write JSON. Returns the exit status.

    A data error (malformed file, missing file or folder, empty image set or result folder) is printed as
    one line ``error: <message>`` on stderr with exit status 1; ``GGHL_DEBUG=1`` re-raises it with its
    traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (FileNotFoundError, ValueError) as e:  # DotaFormatError is a ValueError
        if os.environ.get("GGHL_DEBUG", "") not in ("", "0"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from gghl.evaluation.dota import evaluate_task1, evaluate_task1_coco_style

    classes = (
        [c.strip() for c in args.classes.split(",") if c.strip()]
        if args.classes
        else dota_classes(args.version)
    )
    difficult = args.difficult or ("normal" if not args.classes and args.version == "v1.5" else "ignore")
    common = dict(
        difficult=difficult,
        det_pattern=args.det_pattern,
        unknown_images=args.unknown_images,
        use_07_metric=not args.all_point,
    )
    if args.coco_style:
        common["use_07_metric"] = False  # the COCO-style variant is all-point AP at every threshold
        result = evaluate_task1_coco_style(args.ann_dir, args.det_dir, args.imageset, classes, **common)
    else:
        result = evaluate_task1(
            args.ann_dir, args.det_dir, args.imageset, classes, iou_thr=args.iou_thr, **common
        )
    print(format_table(result))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
