#!/usr/bin/env python
"""Ablate the GGHL label-assignment variants under one budget and print a table.

    python scripts/study_gghl_variants.py [--variants gghl_obb,gghl_alg1,gghl_fixed] [override ...]

Each variant trains `experiment=gghl_synthetic` (plus the given Hydra overrides, e.g. `trainer.max_epochs=6`)
with the same seed and data, then reports the DOTA-protocol mAP50 (VOC07, IoU > 0.5) of the test split
and the wall time.
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Comma-separated (not nargs="+"), so that the Hydra overrides after it are not taken as variant names.
    ap.add_argument(
        "--variants", default="gghl_obb,gghl_alg1,gghl_fixed", help="comma-separated variant names"
    )
    ap.add_argument("overrides", nargs="*", help="Hydra overrides applied to every run")
    args = ap.parse_args()
    from hydra import compose, initialize_config_dir

    from gghl.cli._entry import prepare_environment
    from gghl.cli.train import run
    from gghl.config import CONFIG_DIR

    prepare_environment()

    rows = []
    for variant in args.variants.split(","):
        with tempfile.TemporaryDirectory() as out, initialize_config_dir(CONFIG_DIR, version_base="1.3"):
            cfg = compose(
                "train",
                overrides=[
                    f"model.assigner_variant={variant}",
                    f"paths.output_dir={out}",
                    "callbacks.progress_bar.refresh_rate=0",
                    *args.overrides,
                ],
            )
            start = time.time()
            metrics = run(cfg)
            rows.append((variant, metrics.get("test/mAP50", float("nan")), time.time() - start))
            print(f"[study] {variant}: test mAP50={rows[-1][1]:.4f} in {rows[-1][2]:.0f} s", flush=True)
    print("\n| variant | test mAP50 (VOC07, IoU>0.5) | wall time (s) |\n|---|---|---|")
    for variant, m, t in rows:
        print(f"| {variant} | {m:.4f} | {t:.0f} |")
    print(f"\noverrides: {' '.join(args.overrides) or '(none)'}")


if __name__ == "__main__":
    main()
