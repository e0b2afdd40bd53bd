"""Benchmark: CPU inference images/s of a GGHL checkpoint, batch 1, decoding and rotated NMS included.

Each image of the checkpoint's own test split (the synthetic set of ``make train`` by default) is passed
alone through ``gghl.export.CheckpointModel.predict_batch`` (the path of ``gghl-predict`` and ``gghl-eval``):
network, decoding, score threshold, class-wise rotated NMS. Variants, timed in one run, alternating:

* ``fp32``: the checkpoint as trained (channels-last when its config says so);
* ``fp32 fused``: conv + batch norm folded (``fuse_bn=True``, ``gghl.export.fuse``); the detections are
  checked against ``fp32`` (same count, boxes within 1e-3 px); for a channels-last checkpoint also the folded
  network in the contiguous layout (PyTorch picks other convolution kernels for small batch-1 maps);
* ``bf16 fused``: the fused network under bf16 autocast, only on a CPU with native bfloat16;
* ``ultralytics``: when ``ultralytics`` is installed, YOLO11n-obb built from its yaml (random weights, so its
  NMS sees an arbitrary number of boxes) through ``YOLO.predict`` at the same size, for a side-by-side ratio.

    .venv/bin/python scripts/bench_infer.py --ckpt logs/gghl_synthetic/runs/<time>/checkpoints/epoch_011.ckpt
        [--images 64] [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True, help="a GGHL checkpoint (e.g. the make train one)")
    ap.add_argument("--images", type=int, default=64, help="test images timed per pass")
    ap.add_argument("--repeat", type=int, default=3, help="passes per variant (median image time)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    ap.add_argument(
        "--no-ultralytics", action="store_true", help="skip the Ultralytics side even if installed"
    )
    return ap


def _time_images(fn: Callable[[object], object], images: list, warmup: int = 3) -> list[float]:
    for img in images[:warmup]:
        fn(img)
    out = []
    for img in images:
        t = time.perf_counter()
        fn(img)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    args = build_parser().parse_args()
    import torch

    from gghl.cli.train import cpu_has_native_bf16
    from gghl.export import CheckpointModel
    from gghl.tasks.restore import restore_task

    torch.set_num_threads(args.threads)
    loaded = restore_task(args.ckpt, expected_kind="gghl")
    plain = CheckpointModel(loaded)
    fused = CheckpointModel(loaded, fuse_bn=True)
    size = plain.img_size

    import hydra

    dm = hydra.utils.instantiate(loaded.config["data"])
    dm.setup("test")
    batches = []
    for images, _ in dm.test_dataloader():
        batches.extend(images[i : i + 1] for i in range(images.shape[0]))
        if len(batches) >= args.images:
            break
    batches = batches[: args.images]
    print(
        f"CPU: torch {torch.__version__}, {torch.get_num_threads()} threads, native bf16: {cpu_has_native_bf16()}"
    )
    print(f"{len(batches)} test images at {size} px, batch 1, decoding + rotated NMS included")

    # the fused network must give the same detections
    worst = 0.0
    for x in batches:
        a, b = plain.predict_batch(x)[0], fused.predict_batch(x)[0]
        if a["polygons"].shape != b["polygons"].shape or not torch.equal(a["labels"], b["labels"]):
            raise SystemExit(f"fused detections differ: {a['polygons'].shape[0]} vs {b['polygons'].shape[0]}")
        if a["polygons"].numel():
            worst = max(worst, float((a["polygons"] - b["polygons"]).abs().max()))
    print(f"  check: fused == plain detections on all images, max |box diff| = {worst:.2e} px")
    if worst > 1e-3:
        raise SystemExit("fused boxes differ by more than 1e-3 px")

    variants: dict[str, Callable[[object], object]] = {
        "fp32": plain.predict_batch,
        "fp32 fused": fused.predict_batch,
    }
    if loaded.task.channels_last:  # at batch 1 the contiguous layout may be the faster one: time both
        from gghl.export.fuse import fuse_conv_bn

        contiguous = fuse_conv_bn(loaded.task.eval_net()).to(memory_format=torch.contiguous_format)
        post = loaded.task.postprocess

        def fused_contiguous(x: object) -> object:
            return post(contiguous(x))

        variants["fp32 fused, contiguous"] = fused_contiguous
    if cpu_has_native_bf16():

        def bf16(x: object) -> object:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return fused.predict_batch(x)

        variants["bf16 fused"] = bf16
    if not args.no_ultralytics:
        try:
            from ultralytics import YOLO
        except ImportError:
            print("  (ultralytics not installed: no side-by-side row)")
        else:
            yolo = YOLO("yolo11n-obb.yaml")
            arrays = {
                id(x): (x[0].permute(1, 2, 0).numpy() * 255).astype("uint8")[..., ::-1].copy()
                for x in batches
            }

            def ultra(x: object) -> object:
                return yolo.predict(arrays[id(x)], imgsz=size, device="cpu", verbose=False)

            variants["ultralytics YOLO11n-obb"] = ultra

    times: dict[str, list[float]] = {k: [] for k in variants}
    with torch.inference_mode():
        for _ in range(args.repeat):
            for name, fn in variants.items():
                times[name].append(statistics.median(_time_images(fn, batches)))
    base = min(times["fp32"])
    for name, ts in times.items():
        best = min(ts)
        print(
            f"  {name:<26s} {1000 * best:7.2f} ms/img  {1 / best:7.1f} img/s   speed-up vs fp32 x{base / best:.2f}"
        )


if __name__ == "__main__":
    main()
