#!/usr/bin/env python
"""Convert published weights into a gghl checkpoint:
`python scripts/convert_checkpoint.py src=official.pth format=gghl_official dst=gghl_dota.ckpt`."""

from gghl.cli.convert import main

if __name__ == "__main__":
    main()
