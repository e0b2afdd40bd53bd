#!/usr/bin/env python
"""Parameter counts of the StageInteractor paper model (against the paper's table and the official network).

1. Dynamic-mixing modules per stage: D=256, G=4, K=8, P0=8 then P=4, R=128, 6 stages, 80 classes. Our modules
   omit the released code's ``subbox_score_list`` (a softmax over a size-1 axis: constant 1; 32,896 parameters
   per reused kernel); adding them back gives the paper's table.
2. The whole network (ResNet-50, ChannelMapping neck, 100 queries, 6 stages; built on the meta device):
   ours = the official 137,277,256 (``configs/stageinteractor/stageinteractor_r50_1x_coco.py``) minus those
   dead layers (10 reused kernels x 32,896 = 328,960), i.e. 136,948,296.
"""

from __future__ import annotations

import argparse

if __name__ == "__main__":
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()

import torch  # noqa: E402

from gghl.models.query.mixing import AdaptiveMixing  # noqa: E402

SPEC_M = {0: 21.22, 1: 17.01, 2: 15.56, 5: 17.24}  # per-stage mixing params (M) from the spec's table
SPEC_TOTAL = {"stageinteractor": 103.82, "adamixer": 100.86}
DEAD_PER_REUSED = 32_896
OFFICIAL_TOTAL = (
    137_277_256  # official state_dict() parameters (tests/data/official_stageinteractor/keys.json)
)


def mixing_counts(
    reuse: bool, num_stages: int = 6, dim: int = 256, groups: int = 4, points: int = 8, out_points: int = 128
) -> list[int]:
    """Parameters of each stage's ``AdaptiveMixing`` (built on the meta device: no memory)."""
    counts = []
    with torch.device("meta"):
        for s in range(num_stages):
            sub = (8 if s == 0 else 4) if reuse else 4
            m = AdaptiveMixing(
                dim,
                groups,
                sub,
                points,
                out_points,
                num_reused=max(s - 1, 0) if reuse else 0,
                dynamic_bias=reuse,
            )
            counts.append(sum(p.numel() for p in m.parameters()))
    return counts


def paper_model_count() -> tuple[int, int]:
    """``(parameters, state-dict entries)`` of ``QueryDetector`` in the paper configuration."""
    from gghl.models.query.detector import QueryDetector

    with torch.device("meta"):
        model = QueryDetector(80, backbone="resnet50", num_queries=100, num_stages=6)
    return sum(p.numel() for p in model.parameters()), len(model.state_dict())


def main() -> None:
    for name, reuse in (("stageinteractor", True), ("adamixer", False)):
        counts = mixing_counts(reuse)
        dead = [DEAD_PER_REUSED * max(s - 1, 0) if reuse else 0 for s in range(len(counts))]
        print(f"{name}: mixing parameters per stage (ours | + dead subbox_score = released | spec)")
        for s, (c, d) in enumerate(zip(counts, dead)):
            spec = SPEC_M.get(s) if reuse else 16.81
            print(f"  stage {s}: {c / 1e6:7.3f}M | {(c + d) / 1e6:7.3f}M | {spec if spec else '-'}")
        print(
            f"  total  : {sum(counts) / 1e6:7.3f}M | {(sum(counts) + sum(dead)) / 1e6:7.3f}M | {SPEC_TOTAL[name]}M"
        )
    params, entries = paper_model_count()
    dead = DEAD_PER_REUSED * sum(max(s - 1, 0) for s in range(6))
    print(
        f"paper model (R-50, 100 queries, 6 stages, 80 classes): ours {params:,} parameters, {entries} entries; "
        f"official {OFFICIAL_TOTAL:,} = ours + {dead:,} (dead subbox_score_list)"
        f"{'' if params + dead == OFFICIAL_TOTAL else '  MISMATCH'}"
    )


if __name__ == "__main__":
    main()
