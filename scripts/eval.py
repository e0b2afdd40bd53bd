#!/usr/bin/env python
"""Evaluate a checkpoint: `python scripts/eval.py ckpt_path=PATH data=dota data.root=/data/dota split=val`."""

from gghl.cli.eval import main

if __name__ == "__main__":
    main()
