#!/usr/bin/env python
"""Predict and draw: `python scripts/predict.py ckpt_path=PATH|model_path=model.onnx input=IMG_OR_DIR output=DIR`."""

from gghl.cli.predict import main

if __name__ == "__main__":
    main()
