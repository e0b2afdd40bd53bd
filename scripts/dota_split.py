#!/usr/bin/env python
"""Split DOTA images into patches: ``python scripts/dota_split.py --src DOTA/train --dst split/train``.

``--src`` holds ``images/`` (and ``labelTxt/`` unless it is the test set); ``--dst`` receives
``images/<name>__<rate>__<x>___<y>.png``, ``labelTxt/`` and ``split_config.json``. Re-running the same
command only writes what is missing. Presets (mmrotate's split configs): ``--preset ss`` = size 1024,
gap 200, rate 1.0; ``--preset ms`` = size 1024, gap 500, rates 0.5 1.0 1.5. Explicit flags override them.
Rules and their sources: ``gghl/data/dota_split.py``. Image extensions are matched in any case
(``P0001.PNG``). A data error prints one line ``error: ...`` (exit 1); ``GGHL_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

PRESETS = {"ss": dict(size=1024, gap=200, rates=[1.0]), "ms": dict(size=1024, gap=500, rates=[0.5, 1.0, 1.5])}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help="source root with images/ [and labelTxt/]")
    p.add_argument("--dst", required=True, help="destination root")
    p.add_argument("--preset", choices=sorted(PRESETS), default="ss", help="ss (default) or ms")
    p.add_argument("--size", type=int, default=None, help="patch size in pixels (1024)")
    p.add_argument(
        "--gap", type=int, default=None, help="overlap between neighbouring patches (200; ms: 500)"
    )
    p.add_argument(
        "--rates", type=float, nargs="+", default=None, help="rescale rates (1.0; ms: 0.5 1.0 1.5)"
    )
    p.add_argument("--iof-thr", type=float, default=0.7, help="keep objects with inside-area / area >= this")
    p.add_argument("--img-rate-thr", type=float, default=0.6, help="mmrotate's window filter threshold")
    p.add_argument(
        "--padding-value", type=int, nargs="+", default=[104, 116, 124], help="RGB (or one) pad value"
    )
    p.add_argument(
        "--no-clip", action="store_true", help="write truncated objects uncut (mmrotate) instead of clipped"
    )
    p.add_argument("--ext", choices=[".png", ".jpg"], default=".png")
    p.add_argument("--png-compress-level", type=int, default=1, help="zlib level 0-9 (1: fast)")
    p.add_argument(
        "--workers", type=int, default=None, help="processes (default min(8, cpus); 0 = in-process)"
    )
    args = p.parse_args(argv)
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    """Split, print the totals. A data error (missing or empty folder, malformed label line with its
    file:line, unreadable image) prints one line ``error: ...`` and returns 1 (``GGHL_DEBUG=1``: traceback)."""
    args = parse_args(argv)
    try:
        return _run(args)
    except (OSError, ValueError) as e:  # FileNotFoundError, ImageReadError, DotaFormatError
        if os.environ.get("GGHL_DEBUG", "") not in ("", "0"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from gghl.data.dota_split import split_dataset

    totals = split_dataset(
        args.src,
        args.dst,
        sizes=(args.size,),
        gaps=(args.gap,),
        rates=tuple(args.rates),
        iof_thr=args.iof_thr,
        img_rate_thr=args.img_rate_thr,
        padding_value=tuple(args.padding_value),
        num_workers=args.workers,
        clip_truncated=not args.no_clip,
        ext=args.ext,
        png_compress_level=args.png_compress_level,
    )
    print(
        f"{totals['images']} images -> {totals['written']} patches written, {totals['skipped']} already there; "
        f"{totals['objects']} objects, {totals['lost']} in no patch"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
