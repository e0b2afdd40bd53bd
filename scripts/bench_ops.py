"""Benchmark gghl.ops against torchvision's rotated box_iou and shapely (prints times and ratios).

    python scripts/bench_ops.py                 # CPU: 1000x1000 IoU, NMS on 2000 clustered boxes
    python scripts/bench_ops.py --device cuda   # GPU: 10k x 10k IoU vs torchvision CUDA, NMS

Boxes are DOTA-like: centres in a 1024 x 1024 image, sides 10-200 px, random angles (radians, our
convention); torchvision gets ``cxcywhr`` with ``a_tv = -degrees(a)``.  Every competitor is checked
against ours numerically before it is timed.  Times are medians of repeats.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=10000, help="boxes per side for the CUDA IoU benchmark")
    ap.add_argument("--tune", action="store_true", help="with --device cuda: time Triton block sizes first")
    return ap


if __name__ == "__main__":
    build_parser().parse_args()  # answers --help before the heavy imports below

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gghl.ops import box_iou_rotated, nms_rotated  # noqa: E402
from gghl.structures import obb_to_poly  # noqa: E402


def dota_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    c = torch.rand(n, 2, generator=g) * 1024
    wh = 10 + torch.rand(n, 2, generator=g) * 190
    a = (torch.rand(n, 1, generator=g) * 2 - 1) * math.pi
    return torch.cat([c, wh, a], 1)


def clustered(n: int, seed: int, clusters: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    base = dota_boxes(clusters, seed + 1)
    b = base[torch.randint(0, clusters, (n,), generator=g)].clone()
    b[:, :2] += torch.randn(n, 2, generator=g) * 6
    b[:, 2:4] = (b[:, 2:4] * (1 + 0.15 * torch.randn(n, 2, generator=g))).abs() + 1
    b[:, 4] += 0.15 * torch.randn(n, generator=g)
    return b, torch.rand(n, generator=g)


def timeit(fn, repeats: int, sync: bool = False, warmup: bool = True) -> float:
    """Median seconds of ``repeats`` calls (after one warm-up call unless ``warmup=False``)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def to_tv(b: torch.Tensor) -> torch.Tensor:
    out = b.clone()
    out[:, 4] = -torch.rad2deg(b[:, 4])
    return out


def tv_box_iou():
    try:
        from torchvision.ops import box_iou

        box_iou(torch.zeros(1, 5), torch.zeros(1, 5), fmt="cxcywhr")
        return box_iou
    except (ImportError, TypeError, ValueError) as e:
        print(f"torchvision rotated box_iou unavailable: {e}")
        return None


def greedy(iou: torch.Tensor, order: torch.Tensor, thr: float) -> torch.Tensor:
    """Greedy NMS on a precomputed IoU matrix (boxes already in score order)."""
    sup = (iou > thr).cpu().numpy()
    removed = np.zeros(len(sup), dtype=bool)
    keep = []
    for i in range(len(sup)):
        if not removed[i]:
            keep.append(i)
            removed |= sup[i]
    return order[torch.tensor(keep, dtype=torch.int64, device=order.device)]


def shapely_iou_matrix(b1: torch.Tensor, b2: torch.Tensor) -> np.ndarray:
    import shapely

    p1 = shapely.polygons(obb_to_poly(b1.double()).reshape(-1, 4, 2).numpy())
    p2 = shapely.polygons(obb_to_poly(b2.double()).reshape(-1, 4, 2).numpy())
    inter = shapely.area(shapely.intersection(p1[:, None], p2[None, :]))
    union = shapely.area(p1)[:, None] + shapely.area(p2)[None, :] - inter
    return inter / union


def shapely_nms(b: torch.Tensor, s: torch.Tensor, thr: float) -> torch.Tensor:
    """Greedy NMS with shapely IoUs; an STRtree limits the exact intersections to overlapping pairs."""
    import shapely

    order = torch.sort(s, descending=True, stable=True).indices
    p = shapely.polygons(obb_to_poly(b[order].double()).reshape(-1, 4, 2).numpy())
    ii, jj = shapely.STRtree(p).query(p, predicate="intersects")
    inter = shapely.area(shapely.intersection(p[ii], p[jj]))
    area = shapely.area(p)
    iou = np.zeros((len(p), len(p)))
    iou[ii, jj] = inter / (area[ii] + area[jj] - inter)
    return greedy(torch.from_numpy(iou), order, thr)


def row(name: str, t: float, compare: bool = False) -> None:
    """Print a timing; with ``compare``, also how many times faster ours (the last ``t_ours``) is."""
    ratio = f"   ratio (this / ours) = {t / t_ours_ref[0]:.1f}x" if compare else ""
    print(f"  {name:<36s} {t * 1e3:10.2f} ms{ratio}")


t_ours_ref = [1.0]


def bench_cpu(repeats: int) -> None:
    print(f"CPU: torch {torch.__version__}, {torch.get_num_threads()} threads")
    b1, b2 = dota_boxes(1000, 0), dota_boxes(1000, 1)
    ours = box_iou_rotated(b1, b2)
    print(
        f"1000 x 1000 pairwise IoU (float32, {(ours > 0).float().mean().item() * 100:.1f}% overlapping pairs)"
    )
    box_iou = tv_box_iou()
    t_ours = timeit(lambda: box_iou_rotated(b1, b2), repeats)
    t_ours_ref[0] = t_ours
    row("gghl.ops.box_iou_rotated", t_ours)
    if box_iou is not None:
        ref = box_iou(to_tv(b1), to_tv(b2), fmt="cxcywhr")
        print(f"    check vs torchvision: max |diff| = {(ref - ours).abs().max().item():.2e}")
        row(
            "torchvision box_iou(cxcywhr)",
            timeit(lambda: box_iou(to_tv(b1), to_tv(b2), fmt="cxcywhr"), repeats),
            True,
        )
    sh = shapely_iou_matrix(b1[:200], b2)
    print(
        f"    check vs shapely (200 rows): max |diff| = {np.abs(sh - ours[:200].double().numpy()).max():.2e}"
    )
    row("shapely 2 vectorized (1 run)", timeit(lambda: shapely_iou_matrix(b1, b2), 1, warmup=False), True)

    boxes, scores = clustered(2000, 2)
    for thr in (0.1, 0.5):
        keep = nms_rotated(boxes, scores, thr)
        print(f"NMS on 2000 clustered boxes, threshold {thr} (keeps {keep.numel()})")
        t_ours = timeit(lambda thr=thr: nms_rotated(boxes, scores, thr), repeats)
        t_ours_ref[0] = t_ours
        row("gghl.ops.nms_rotated", t_ours)
        if box_iou is not None:

            def tv_nms(thr=thr):
                order = torch.sort(scores, descending=True, stable=True).indices
                tb = to_tv(boxes[order])
                return greedy(box_iou(tb, tb, fmt="cxcywhr"), order, thr)

            same = tv_nms().tolist() == keep.tolist()
            print(f"    check: torchvision-IoU greedy keeps the same boxes: {same}")
            row("torchvision box_iou + greedy", timeit(tv_nms, max(1, repeats // 2)), True)
        t0 = time.perf_counter()
        same = shapely_nms(boxes, scores, thr).tolist() == keep.tolist()
        t_sh = time.perf_counter() - t0
        print(f"    check: shapely greedy keeps the same boxes: {same}")
        row("shapely STRtree + greedy (1 run)", t_sh, True)


def bench_cuda(repeats: int, n: int) -> None:
    print(f"CUDA: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    b1, b2 = dota_boxes(n, 0).cuda(), dota_boxes(n, 1).cuda()
    ours = box_iou_rotated(b1, b2)
    print(
        f"{n} x {n} pairwise IoU (float32, {(ours > 0).float().mean().item() * 100:.2f}% overlapping pairs)"
    )
    t_ours = timeit(lambda: box_iou_rotated(b1, b2), repeats, sync=True)
    t_ours_ref[0] = t_ours
    row("gghl.ops.box_iou_rotated", t_ours)
    box_iou = tv_box_iou()
    if box_iou is not None:
        ref = box_iou(to_tv(b1), to_tv(b2), fmt="cxcywhr")
        print(f"    check vs torchvision: max |diff| = {(ref - ours).abs().max().item():.2e}")
        del ref
        row(
            "torchvision box_iou(cxcywhr) CUDA",
            timeit(lambda: box_iou(to_tv(b1), to_tv(b2), fmt="cxcywhr"), repeats, sync=True),
            True,
        )
    cpu = box_iou_rotated(b1[:300].cpu(), b2.cpu())
    print(
        f"    check vs our CPU path (300 rows): max |diff| = {(cpu - ours[:300].cpu()).abs().max().item():.2e}"
    )
    t64 = timeit(lambda: box_iou_rotated(b1.double(), b2.double()), max(1, repeats // 2), sync=True)
    print(f"  {'gghl.ops.box_iou_rotated float64':<34s} {t64 * 1e3:10.2f} ms")
    del ours
    for m in (2000, 10000):
        boxes, scores = clustered(m, 2, clusters=max(60, m // 30))
        boxes, scores = boxes.cuda(), scores.cuda()
        keep = nms_rotated(boxes, scores, 0.1)
        same = keep.cpu().tolist() == nms_rotated(boxes.cpu(), scores.cpu(), 0.1).tolist()
        print(f"NMS on {m} clustered boxes, threshold 0.1 (keeps {keep.numel()}, same as CPU path: {same})")
        t_ours = timeit(
            lambda boxes=boxes, scores=scores: nms_rotated(boxes, scores, 0.1), repeats, sync=True
        )
        t_ours_ref[0] = t_ours
        row("gghl.ops.nms_rotated CUDA", t_ours)
        if box_iou is not None:

            def tv_nms(boxes=boxes, scores=scores):
                order = torch.sort(scores, descending=True, stable=True).indices
                tb = to_tv(boxes[order])
                return greedy(box_iou(tb, tb, fmt="cxcywhr"), order, 0.1)

            row("torchvision box_iou + greedy", timeit(tv_nms, repeats, sync=True), True)


def tune_cuda(n: int = 4000) -> None:
    """Time the Triton IoU kernel (sort and rank variants) for several block sizes on n x n boxes."""
    from gghl.ops import _triton

    b1, b2 = dota_boxes(n, 0).cuda(), dota_boxes(n, 1).cuda()
    saved = (_triton._SORT, _triton._BLOCK, _triton._BLOCK_RANK, _triton._WARPS)
    print(
        f"Triton kernel tuning, {n} x {n} float32 (defaults: sort={saved[0]}, BLOCK={saved[1]}, "
        f"BLOCK_RANK={saved[2]}, warps={saved[3]})"
    )
    base = None
    for sort, blk, warps in [
        (True, 16, 4),
        (True, 32, 4),
        (True, 64, 4),
        (True, 64, 8),
        (False, 4, 4),
        (False, 8, 4),
        (False, 32, 4),
    ]:
        _triton._SORT, _triton._WARPS = sort, warps
        if sort:
            _triton._BLOCK = blk
        else:
            _triton._BLOCK_RANK = blk
        try:
            out = _triton.pairwise_iou("box", b1, b2, False)
        except Exception as e:  # report and go on: tuning must not stop the benchmark
            print(f"  sort={sort!s:<5} BLOCK={blk:<3d} warps={warps}: failed ({type(e).__name__}: {e})")
            continue
        base = out if base is None else base
        t = timeit(lambda: _triton.pairwise_iou("box", b1, b2, False), 3, sync=True)
        print(
            f"  sort={_triton._SORT!s:<5} BLOCK={blk:<3d} warps={warps}: {t * 1e3:9.2f} ms  "
            f"(max |diff| vs first {(out - base).abs().max().item():.1e})"
        )
    _triton._SORT, _triton._BLOCK, _triton._BLOCK_RANK, _triton._WARPS = saved


def main() -> None:
    args = build_parser().parse_args()
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("--device cuda: no CUDA device")
        if args.tune:
            tune_cuda()
        bench_cuda(args.repeats, args.n)
    else:
        bench_cpu(args.repeats)


if __name__ == "__main__":
    main()
