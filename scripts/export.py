#!/usr/bin/env python
"""Export a checkpoint with a parity check: `python scripts/export.py ckpt_path=PATH format=onnx|torchscript`."""

from gghl.cli.export import main

if __name__ == "__main__":
    main()
