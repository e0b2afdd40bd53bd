#!/usr/bin/env python
"""Assigner ablation: one-to-one labels vs the cross-stage assigner, same seed and budget.

Runs ``scripts/train.py experiment=stageinteractor_synthetic`` twice (one-to-one labels:
``model.criterion.assigner.candidates=none model.criterion.assigner.keep_own_positive=true``; and the
cross-stage assigner of the config), concurrently by default, and prints test AP / AP50 of both. Extra arguments are passed
to both runs as Hydra overrides, e.g.::

    python scripts/bench_stageinteractor.py trainer=gpu trainer.max_epochs=40 data.num_workers=6
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Assigner variants: name -> Hydra overrides. ``cross_stage_own`` keeps each stage's own one-to-one positive
# in the classification target whatever its IoU (not released; docs/stageinteractor.md#cross-stage-assigner).
VARIANTS: dict[str, list[str]] = {
    "o2o": ["model.criterion.assigner.candidates=none", "model.criterion.assigner.keep_own_positive=true"],
    "cross_stage": ["model.criterion.assigner.candidates=prev+future"],
    "cross_stage_own": [
        "model.criterion.assigner.candidates=prev+future",
        "model.criterion.assigner.keep_own_positive=true",
    ],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiment", default="stageinteractor_synthetic")
    ap.add_argument(
        "--assigners", default="o2o,cross_stage", help=f"comma-separated among {sorted(VARIANTS)}"
    )
    ap.add_argument("--threads", type=int, default=None, help="OMP/torch threads per run (default: torch's)")
    ap.add_argument(
        "--sequential", action="store_true", help="run one after the other (default: concurrently)"
    )
    ap.add_argument("--log-dir", default=None, help="write each run's full log here")
    args, overrides = ap.parse_known_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    if args.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    procs, logs = {}, {}
    t0 = time.time()
    for name in args.assigners.split(","):
        cmd = [
            sys.executable,
            str(ROOT / "scripts" / "train.py"),
            f"experiment={args.experiment}",
            *VARIANTS[name],
            f"task_name=si_bench_{name}",
            *overrides,
        ]
        log = Path(args.log_dir or ROOT / "logs") / f"bench_stageinteractor_{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        logs[name] = log
        fh = open(log, "w")  # noqa: SIM115 - closed when the process ends
        procs[name] = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        if args.sequential:
            procs[name].wait()
    results = {}
    for name, p in procs.items():
        rc = p.wait()
        text = logs[name].read_text(errors="replace")
        stats = dict(re.findall(r"^(test/\w+)=([0-9.]+)$", text, flags=re.M))
        results[name] = (rc, stats)
    print(
        f"assigner ablation ({args.experiment}; overrides: {' '.join(overrides) or '-'}); {time.time() - t0:.0f}s"
    )
    for name, (rc, stats) in results.items():
        print(
            f"  {name:12s} rc={rc} test/AP={stats.get('test/AP', 'n/a')} test/AP50={stats.get('test/AP50', 'n/a')}"
            f"  log={logs[name]}"
        )


if __name__ == "__main__":
    main()
