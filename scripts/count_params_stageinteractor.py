#!/usr/bin/env python
"""Parameter count of the dynamic-mixing modules, paper configuration (spec/stageinteractor.md §1.c table).

D=256, G=4, K=8, P0=8 then P=4, R=128, 6 stages, 80 classes. Our modules omit the released code's
``subbox_score_list`` (a softmax over a size-1 axis: constant 1, no gradient; 32,896 parameters per reused
kernel); the table's numbers are reproduced by adding them back.
"""

from __future__ import annotations

import torch

from gghl.models.query.mixing import AdaptiveMixing

SPEC_M = {0: 21.22, 1: 17.01, 2: 15.56, 5: 17.24}  # per-stage mixing params (M) from the spec's table
SPEC_TOTAL = {"stageinteractor": 103.82, "adamixer": 100.86}
DEAD_PER_REUSED = 32_896


def mixing_counts(reuse: bool, num_stages: int = 6, dim: int = 256, groups: int = 4, points: int = 8,
                  out_points: int = 128) -> list[int]:
    """Parameters of each stage's ``AdaptiveMixing`` (built on the meta device: no memory)."""
    counts = []
    with torch.device("meta"):
        for s in range(num_stages):
            sub = (8 if s == 0 else 4) if reuse else 4
            m = AdaptiveMixing(dim, groups, sub, points, out_points, num_reused=max(s - 1, 0) if reuse else 0,
                               dynamic_bias=reuse)
            counts.append(sum(p.numel() for p in m.parameters()))
    return counts


def main() -> None:
    for name, reuse in (("stageinteractor", True), ("adamixer", False)):
        counts = mixing_counts(reuse)
        dead = [DEAD_PER_REUSED * max(s - 1, 0) if reuse else 0 for s in range(len(counts))]
        print(f"{name}: mixing parameters per stage (ours | + dead subbox_score = released | spec)")
        for s, (c, d) in enumerate(zip(counts, dead)):
            spec = SPEC_M.get(s) if reuse else 16.81
            print(f"  stage {s}: {c / 1e6:7.3f}M | {(c + d) / 1e6:7.3f}M | {spec if spec else '-'}")
        print(f"  total  : {sum(counts) / 1e6:7.3f}M | {(sum(counts) + sum(dead)) / 1e6:7.3f}M | {SPEC_TOTAL[name]}M")


if __name__ == "__main__":
    main()
