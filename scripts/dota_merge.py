#!/usr/bin/env python
"""Merge patch-level DOTA Task1 results into full-image results:
``python scripts/dota_merge.py --src patch_task1/ --dst task1/ [--zip submission.zip]``.

Patch names ``<image>__<rate>__<x>___<y>`` (as written by ``scripts/dota_split.py``) are mapped back to the
original image, then class-wise rotated NMS (IoU 0.1 by default) removes the duplicates of overlapping patches.
A data error prints one line ``error: ...`` (exit 1); ``GGHL_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help="folder with patch-level Task1_<class>.txt")
    p.add_argument("--dst", required=True, help="output folder for full-image Task1_<class>.txt")
    p.add_argument("--iou-thr", type=float, default=0.1, help="class-wise NMS threshold (default 0.1)")
    p.add_argument("--nms", choices=["rotated", "poly"], default="rotated", help="NMS geometry")
    p.add_argument("--zip", default=None, help="also write this submission zip")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help answers before torch is imported
    from gghl.data.dota_merge import merge_task1_files

    try:
        paths = merge_task1_files(args.src, args.dst, iou_thr=args.iou_thr, nms=args.nms, zip_path=args.zip)
    except (OSError, ValueError) as err:
        if os.environ.get("GGHL_DEBUG", "") not in ("", "0"):
            raise
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    print(f"wrote {len(paths)} Task1 files to {args.dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
