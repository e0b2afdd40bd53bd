#!/usr/bin/env python
"""Timed short GGHL training: images/s, peak memory, AMP dtype. For the GPU check (and CPU sanity).

    python scripts/bench_train.py --device cuda --img-size 800 --batch-size 8 --steps 30 --amp bf16

Uses synthetic oriented images at the requested size, the full training step (forward, batched on-device
Gaussian assignment, JOL loss, backward, SGD step) and reports the median step time after warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto = cuda when available")
    ap.add_argument("--img-size", type=int, default=800)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--backbone", default="darknet53")
    ap.add_argument("--amp", choices=["none", "bf16", "fp16"], default="bf16")
    ap.add_argument("--num-classes", type=int, default=5)
    return ap


if __name__ == "__main__":
    build_parser().parse_args()  # answers --help before the heavy imports below

import torch  # noqa: E402

from gghl.assigners import GaussianAssigner  # noqa: E402
from gghl.data.collate import detection_collate  # noqa: E402
from gghl.data.synthetic import SyntheticOrientedDataset  # noqa: E402
from gghl.losses import JOLLoss  # noqa: E402
from gghl.models.gghl_detector import build_gghl_detector  # noqa: E402


def main() -> None:
    args = build_parser().parse_args()
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(args.device)
    ds = SyntheticOrientedDataset(args.batch_size, img_size=args.img_size, num_classes=args.num_classes)
    images, targets = detection_collate([ds[i] for i in range(args.batch_size)])
    images = images.to(dev)
    targets = [{k: (v.to(dev) if torch.is_tensor(v) else v) for k, v in t.items()} for t in targets]
    net = build_gghl_detector(args.num_classes, backbone=args.backbone).to(dev)
    assigner = GaussianAssigner(args.num_classes)
    criterion = JOLLoss(args.num_classes, nonfinite="ignore")
    opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9, nesterov=True)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    scaler = torch.amp.GradScaler(enabled=args.amp == "fp16")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(args.warmup + args.steps):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            raw = net(images)
        maps = assigner.assign(targets, args.img_size)
        losses = criterion([r.float() for r in raw], maps)
        opt.zero_grad(set_to_none=True)
        scaler.scale(losses["loss"]).backward()
        scaler.step(opt)
        scaler.update()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else float("nan")
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    print(
        f"device={name} backbone={args.backbone} img={args.img_size} batch={args.batch_size} amp={args.amp}"
    )
    print(
        f"step_ms_median={med * 1000:.1f} images_per_s={args.batch_size / med:.1f} peak_mem_gib={peak:.2f} "
        f"loss_last={float(losses['loss']):.3f}"
    )


if __name__ == "__main__":
    main()
