"""Box sets and a shapely (float64) oracle shared by the CPU and GPU op tests."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from gghl.structures import obb_to_poly

TOL = {torch.float64: 1e-6, torch.float32: 2e-3}


def shapely_iou(p1: np.ndarray, p2: np.ndarray, aligned: bool) -> np.ndarray:
    """IoU of ``[N, 4, 2]`` x ``[M, 4, 2]`` float64 polygons with shapely 2 (vectorized)."""
    import shapely

    a = shapely.polygons(p1)
    b = shapely.polygons(p2)
    if not aligned:
        a, b = a[:, None], b[None, :]
    inter = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def oracle_box_iou(b1: Tensor, b2: Tensor, aligned: bool = False) -> Tensor:
    """Exact IoU of the boxes as given (converted losslessly to float64 first).

    Uses shapely; on a machine without it (e.g. a bare GPU box) falls back to the float64 pure-torch
    reference, which the CPU tests hold to shapely within 1e-6.
    """
    try:
        import shapely  # noqa: F401
    except ImportError:
        from gghl.ops._reference import box_iou_rotated_ref

        return box_iou_rotated_ref(b1.detach().cpu().double(), b2.detach().cpu().double(), aligned)
    p1 = obb_to_poly(b1.detach().cpu().double()).reshape(-1, 4, 2).numpy()
    p2 = obb_to_poly(b2.detach().cpu().double()).reshape(-1, 4, 2).numpy()
    return torch.from_numpy(shapely_iou(p1, p2, aligned))


def random_boxes(n: int, seed: int, img: float = 1024.0, smin: float = 10.0, smax: float = 200.0) -> Tensor:
    """DOTA-like random boxes ``[n, 5]`` float64: centres in an ``img`` square, random sizes and angles."""
    g = torch.Generator().manual_seed(seed)
    c = torch.rand(n, 2, generator=g, dtype=torch.float64) * img
    wh = smin + torch.rand(n, 2, generator=g, dtype=torch.float64) * (smax - smin)
    a = (torch.rand(n, 1, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
    return torch.cat([c, wh, a], 1)


def clustered_boxes(n: int, seed: int, clusters: int = 40) -> tuple[Tensor, Tensor]:
    """``n`` boxes jittered around ``clusters`` objects (a detector's raw output) and random scores."""
    g = torch.Generator().manual_seed(seed)
    base = random_boxes(clusters, seed + 1, img=1024.0, smin=20.0, smax=150.0)
    pick = torch.randint(0, clusters, (n,), generator=g)
    b = base[pick].clone()
    b[:, :2] += torch.randn(n, 2, generator=g, dtype=torch.float64) * 6
    b[:, 2:4] *= 1 + 0.15 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    b[:, 2:4] = b[:, 2:4].abs() + 1
    b[:, 4] += 0.15 * torch.randn(n, generator=g, dtype=torch.float64)
    return b, torch.rand(n, generator=g, dtype=torch.float64)


def _pair(rows: list, b1: list[float], b2: list[float]) -> None:
    rows.append((b1, b2))


def adversarial_pairs() -> tuple[Tensor, Tensor]:
    """Aligned pairs ``([K, 5], [K, 5])`` float64 of hard cases for exact geometry."""
    rows: list = []
    g = torch.Generator().manual_seed(123)
    hp = math.pi / 2
    # Identical boxes, incl. a vs a + k*pi, w < h, and angles outside [-pi, pi].
    for a in (0.0, 0.3, hp, -hp, math.pi, 7.5, -12.0, 1e-7, hp + 1e-7, hp - 1e-7):
        _pair(rows, [50, 60, 40, 12, a], [50, 60, 40, 12, a])
        _pair(rows, [50, 60, 40, 12, a], [50, 60, 40, 12, a + math.pi])
        _pair(rows, [50, 60, 12, 40, a], [50, 60, 40, 12, a + hp])  # w<h, same box
    # Containment (same and different centres).
    for a in (0.0, 0.7, -2.0, hp):
        _pair(rows, [0, 0, 100, 60, a], [0, 0, 30, 10, a + 0.4])
        _pair(rows, [0, 0, 100, 60, a], [5 * math.cos(a), 5 * math.sin(a), 50, 60, a])
    # Touching edges (IoU 0) and edge sharing with overlap.
    for a in (0.0, 0.5, hp, -1.1, 7.5):
        c, s = math.cos(a), math.sin(a)
        _pair(rows, [10, 20, 40, 10, a], [10 + 40 * c, 20 + 40 * s, 40, 10, a])  # share a short edge
        _pair(rows, [10, 20, 40, 10, a], [10 - 10 * s, 20 + 10 * c, 40, 10, a])  # share a long edge
        _pair(rows, [10, 20, 40, 10, a], [10 + 20 * c, 20 + 20 * s, 40, 10, a])  # half overlap
        _pair(rows, [10, 20, 40, 10, a], [10 + 10 * c, 20 + 10 * s, 20, 10, a])  # inner, shared edges
    # Angles at and near multiples of pi/2 (crossing rectangles, nearly parallel edges).
    for k in range(-4, 5):
        for d in (0.0, 1e-7, -1e-7, 1e-4):
            _pair(rows, [100, 100, 80, 30, 0.0], [103, 98, 70, 40, k * hp + d])
            _pair(rows, [100, 100, 80, 30, k * hp], [100, 100, 80, 30, k * hp + d])
    # Tiny boxes (1e-2 px), also far from the origin.
    for off in (0.0, 3999.0):
        _pair(rows, [off + 1, off + 1, 0.01, 0.01, 0.0], [off + 1.003, off + 1.002, 0.01, 0.012, 0.3])
        _pair(rows, [off + 1, off + 1, 0.01, 0.02, 1.0], [off + 1, off + 1, 0.01, 0.02, 1.0 + 1e-7])
    # Aspect 1:50, crossing and nearly parallel.
    for a in (0.0, 0.01, 1e-7, 1.0, hp):
        _pair(rows, [500, 500, 200, 4, 0.0], [500, 501, 200, 4, a])
        _pair(rows, [500, 500, 200, 4, 0.3], [520, 500, 4, 200, a])
    # Coordinates near 4000 px.
    for _ in range(8):
        c = 3900 + 100 * torch.rand(2, generator=g, dtype=torch.float64)
        a = float(torch.rand(1, generator=g) * 6 - 3)
        _pair(
            rows, [c[0].item(), c[1].item(), 60, 20, a], [c[0].item() + 3, c[1].item() - 2, 50, 25, a + 0.2]
        )
    # Degenerate (zero-area) boxes.
    _pair(rows, [0, 0, 0, 10, 0.0], [0, 0, 10, 10, 0.0])
    _pair(rows, [0, 0, 0, 0, 0.0], [0, 0, 0, 0, 0.0])
    _pair(rows, [0, 0, 10, 0, 0.3], [0, 0, 10, 0, 0.3])
    b1 = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    b2 = torch.tensor([r[1] for r in rows], dtype=torch.float64)
    return b1, b2


def stress_pairs(k: int, seed: int) -> tuple[Tensor, Tensor]:
    """``k`` aligned float64 pairs of near-degenerate configurations at random scales (0.02-55 px
    sides, aspect up to 1:55, centres up to 4000 px, any angle): a box and (by ``i % 6``) itself
    turned by a multiple of pi/2 +- 1e-7, a copy touching it, a copy shifted by half its height, a
    half-width copy sharing three edges, a random perturbation, or itself turned by pi/2."""
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    b = torch.empty(k, 5, dtype=f64)
    b[:, :2] = torch.rand(k, 2, generator=g, dtype=f64) * 4000
    b[:, 2] = torch.exp(torch.rand(k, generator=g, dtype=f64) * 8 - 4)
    b[:, 3] = b[:, 2] * torch.exp(torch.rand(k, generator=g, dtype=f64) * 8 - 4)
    b[:, 4] = (torch.rand(k, generator=g, dtype=f64) - 0.5) * 30
    kind = torch.arange(k) % 6
    tiny = (torch.randint(0, 3, (k,), generator=g) - 1).to(f64) * 1e-7
    turns = torch.randint(-3, 4, (k,), generator=g)
    c, s = b[:, 4].cos(), b[:, 4].sin()
    b2 = b.clone()
    m = kind == 0
    b2[m, 4] = b[m, 4] + turns[m] * math.pi / 2 + tiny[m]
    odd = m & (turns % 2 != 0)
    b2[odd, 2], b2[odd, 3] = b[odd, 3], b[odd, 2]
    m = kind == 1
    b2[m, 0], b2[m, 1] = b[m, 0] + b[m, 2] * c[m], b[m, 1] + b[m, 2] * s[m]
    b2[m, 4] += tiny[m]
    m = kind == 2
    b2[m, 0], b2[m, 1] = b[m, 0] - 0.5 * b[m, 3] * s[m], b[m, 1] + 0.5 * b[m, 3] * c[m]
    m = kind == 3
    b2[m, 2] = b[m, 2] / 2
    b2[m, 0], b2[m, 1] = b[m, 0] + b[m, 2] / 4 * c[m], b[m, 1] + b[m, 2] / 4 * s[m]
    m = kind == 4
    noise = torch.randn(int(m.sum()), 5, generator=g, dtype=f64) * torch.tensor(
        [1, 1, 0.5, 0.5, 0.1], dtype=f64
    )
    b2[m] = b[m] + noise * b[m, 2:3]
    b2[m, 2:4] = b2[m, 2:4].abs()
    m = kind == 5
    b2[m, 4] = b[m, 4] + math.pi / 2 + tiny[m]
    return b, b2


def greedy_nms_plain(boxes: Tensor, scores: Tensor, thr: float, idxs: Tensor | None = None) -> list[int]:
    """Textbook greedy NMS with the oracle IoU: visit by decreasing score (ties: lower index first)."""
    iou = oracle_box_iou(boxes, boxes).numpy()
    cat = None if idxs is None else idxs.cpu().numpy()
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep: list[int] = []
    for i in order:
        if all(not (iou[i, k] > thr and (cat is None or cat[i] == cat[k])) for k in keep):
            keep.append(i)
    return keep
