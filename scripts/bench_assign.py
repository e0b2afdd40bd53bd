"""Benchmark GGHL OLA label assignment: per-object Python loop vs the batched vectorised path.

Times per 800 px image with 100 objects (C = 15, DOTA-like random scenes from
``gghl.testing.gaussian_scenes.random_scene``):

(a) ``GaussianAssigner.reference_maps`` — the readable per-object, per-cell Python loop (one image at a time);
(b) ``GaussianAssigner.assign`` on CPU, batch of 8 images, reported per image;
(c) the same on ``--device cuda`` (synchronised), when asked for.

Usage: ``python scripts/bench_assign.py [--variant gghl_obb] [--device cpu|cuda] [--dtype float32|float64]
[--threads 1]``. Best and median times are printed; on a shared machine the best is the fairer number.
"""

from __future__ import annotations

import argparse
import statistics
import time


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="gghl_obb", choices=["gghl_obb", "gghl_alg1", "gghl_fixed"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--img-size", type=int, default=800)
    ap.add_argument("--objects", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--classes", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=25)
    ap.add_argument("--loop-images", type=int, default=2, help="images timed for the loop baseline")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 = like a DataLoader worker; default)"
    )
    return ap


if __name__ == "__main__":
    build_parser().parse_args()  # answers --help before the heavy imports below

import torch  # noqa: E402

from gghl.assigners import GaussianAssigner  # noqa: E402
from gghl.testing.gaussian_scenes import random_scene  # noqa: E402


def _time(fn, repeats: int, sync: bool) -> tuple[float, float]:
    """(best, median) wall time of ``fn()`` in seconds over ``repeats`` runs after one warm-up.

    The best time is the least disturbed by other processes on a shared machine; both are printed.
    """
    fn()
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    args = build_parser().parse_args()
    torch.set_num_threads(args.threads)

    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(0)
    scenes = [
        random_scene(gen, args.objects, args.img_size, args.classes, dtype=dtype) for _ in range(args.batch)
    ]
    assigner = GaussianAssigner(args.classes, variant=args.variant)
    print(
        f"variant={args.variant} img={args.img_size} objects/img={args.objects} batch={args.batch} "
        f"C={args.classes} dtype={args.dtype} torch_threads={torch.get_num_threads()}"
    )

    def loop() -> None:
        for t in scenes[: args.loop_images]:
            assigner.reference_maps(t["polygons"], t["labels"], args.img_size, t["weights"])

    n_loop = args.loop_images
    loop_best, loop_med = (x / n_loop for x in _time(loop, args.repeats, sync=False))
    print(
        f"(a) per-object Python loop (reference_maps): best {loop_best * 1e3:8.2f}  median {loop_med * 1e3:8.2f} ms / image"
    )

    def report(tag: str, best: float, med: float) -> None:
        print(
            f"{tag}: best {best * 1e3:7.3f}  median {med * 1e3:7.3f} ms / image   "
            f"speed-up x{loop_best / best:.1f} (best/best), x{loop_med / med:.1f} (median/median)"
        )

    cpu = _time(lambda: assigner.assign(scenes, args.img_size, device="cpu"), args.repeats, sync=False)
    report(f"(b) batched assign, CPU, batch {args.batch}", *(x / args.batch for x in cpu))

    if args.device != "cpu":
        dev_scenes = [{k: v.to(args.device) for k, v in t.items()} for t in scenes]
        sync = args.device.startswith("cuda")
        dev = _time(lambda: assigner.assign(dev_scenes, args.img_size), args.repeats, sync=sync)
        report(f"(c) batched assign, {args.device}, batch {args.batch}", *(x / args.batch for x in dev))
        cpu_maps = assigner.assign(scenes, args.img_size, device="cpu")
        dev_maps = assigner.assign(dev_scenes, args.img_size)
        diff = max(float((a - b.cpu()).abs().max()) for a, b in zip(cpu_maps, dev_maps))
        print(f"    max |{args.device} - cpu| over all maps = {diff:.2e}")


if __name__ == "__main__":
    main()
