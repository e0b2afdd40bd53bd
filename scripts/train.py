#!/usr/bin/env python
"""Train (and test) a model: `python scripts/train.py experiment=gghl_synthetic trainer.max_epochs=5`."""

from gghl.cli.train import main

if __name__ == "__main__":
    main()
