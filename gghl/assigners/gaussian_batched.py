"""Batched, on-device GGHL OLA: the same maps as ``gaussian_reference.py`` without Python loops over
objects or cells (spec/gghl.md §1.3, §1.4, §1.10).

Work is vectorised over (object x window cell) pairs of all images at once; only the 3 levels and
``log2(#objects)`` scan steps are Python loops.

The official loop visits objects in row order and writes a cell iff it passes its test *given what earlier
objects wrote*. Closed forms used here (per level, per cell):

* obb / fixed: object k (class c) writes iff it is eligible (``g > 0.05``, cell centre strictly inside the
  HBB) and ``g_k >= H_c``, the running class-c heat. A writer sets ``H_c = g_k``; a failing eligible object
  has ``g_j < H_c`` and leaves it, so ``H_c`` before k equals the **exclusive cumulative max of eligible g**
  of earlier class-c objects at that cell (segmented scan, exact).
* alg1: the test is ``g_k >= max(H_c, M)`` with ``M`` the objectness channel. ``M`` never decreases and every
  write leaves ``M >= H_c'`` for all classes, so the test is ``g_k >= M``. While no "hard" writer (objectness
  1, ``g >= thr``) has written, ``M`` = exclusive cummax of eligible g over *all* classes (same argument).
  After the first hard writer ``M = 1`` and only ``g_k >= 1`` passes.
* Regression channels, objectness and ch15 come from the last writer of the cell (largest object index);
  each heat channel from the max g of that class's writers (writers' g never decrease).

Apart from allocating the zero maps and the official whole-map mix fill, all work is on the pair list.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gghl.assigners.gaussian_params import (
    ALG1_LT,
    LN2,
    THRESH_G,
    ObjectParams,
    VariantSpec,
    keep_mask,
    object_params,
    size_levels,
)
from gghl.assigners.gaussian_scan import (
    segment_starts,
    segmented_exclusive_cummax,
    segmented_exclusive_cumsum,
)

__all__ = ["assign_batched"]


def assign_batched(
    targets: list[dict[str, Tensor]],
    img_size: int,
    num_classes: int,
    strides: tuple[int, ...],
    spec: VariantSpec,
    device: torch.device | str | None = None,
) -> list[Tensor]:
    """Per-level maps ``[B, G_k, G_k, 16 + C]`` for a batch; see ``GaussianAssigner.assign``."""
    if len(strides) != 3:
        raise ValueError("GGHL OLA level rules are defined for exactly 3 levels")
    B = len(targets)
    if B == 0:
        raise ValueError("targets must hold at least one image")
    dev = torch.device(device) if device is not None else targets[0]["polygons"].device
    dtype = targets[0]["polygons"].dtype
    if not dtype.is_floating_point:
        raise TypeError(f"polygons must be floating point, got {dtype}")
    polys = torch.cat([t["polygons"].to(dev, dtype).reshape(-1, 8) for t in targets])
    labels = torch.cat([t["labels"].to(dev).reshape(-1) for t in targets])
    weights = torch.cat(
        [
            t["weights"].to(dev, dtype).reshape(-1)
            if t.get("weights") is not None
            else torch.ones(t["labels"].numel(), device=dev, dtype=dtype)
            for t in targets
        ]
    )
    counts = torch.tensor([t["labels"].numel() for t in targets], device=dev)
    bidx = torch.repeat_interleave(torch.arange(B, device=dev), counts)
    p = object_params(polys, labels, weights)
    keep = keep_mask(p, spec)
    lv = size_levels(p, img_size)
    return [
        _assign_level(p, bidx, keep if spec.alg1 else keep & lv[:, k], k, st, img_size // st, B, num_classes, spec)
        for k, st in enumerate(strides)
    ]


def _windows(p: ObjectParams, obj: Tensor, k: int, st: int, spec: VariantSpec) -> tuple[Tensor, ...]:
    """Window of each object: centre cell ``(gx, gy)``, inclusive offset bounds and radii ``Rw, Rh``."""
    gx = torch.floor(p.cxr[obj] / st).long()
    gy = torch.floor(p.cyr[obj] / st).long()
    if spec.alg1:
        Rw = (p.w[obj] / (2 * st)).clamp_min(1).floor().long()
        Rh = (p.h[obj] / (2 * st)).clamp_min(1).floor().long()
        return gx, gy, -Rw, Rw + 2, -Rh, Rh + 2, Rw, Rh
    Rw = (p.w[obj] / (2 * st)).clamp(1, 4 - k).floor().long()
    Rh = (p.h[obj] / (2 * st)).clamp(1, 4 - k).floor().long()
    return gx, gy, -Rw - 1, Rw + 1, -Rh - 1, Rh + 1, Rw, Rh


def _assign_level(
    p: ObjectParams, bidx: Tensor, sel: Tensor, k: int, st: int, G: int, B: int, C: int, spec: VariantSpec
) -> Tensor:
    dev, dtype = p.w.device, p.w.dtype
    M = sel.numel()
    base = torch.zeros(B, 1, 16 + C, device=dev, dtype=dtype)  # one background cell per image
    if spec.cell_mix:  # fixed: background weight 1; positive cells get their winner's mix in _write_cells
        base[:, 0, 14] = 1.0
    elif M:  # official: whole map = mix of the last object processed on this level (0 if none)
        last = torch.full((B,), -1, device=dev, dtype=torch.long)
        last.scatter_reduce_(0, bidx[sel], torch.arange(M, device=dev)[sel], "amax")
        base[:, 0, 14] = torch.where(last >= 0, p.mix[last.clamp_min(0)], torch.zeros((), device=dev, dtype=dtype))
    maps = base.expand(B, G * G, 16 + C).contiguous().view(B * G * G, 16 + C)  # single pass over the map
    cand = sel
    if spec.alg1:  # speed only: a cell inside the HBB has max(l) >= max(w,h)/2, so these can never be eligible
        cand = sel & (torch.maximum(p.w, p.h) / 2 < ALG1_LT[k + 1] * (1 + 1e-9) + 1e-9)
    obj = cand.nonzero().squeeze(1)
    if obj.numel():
        _write_cells(maps, p, bidx, obj, k, st, G, C, spec)
    return maps.view(B, G, G, 16 + C)


def _write_cells(
    maps: Tensor, p: ObjectParams, bidx: Tensor, obj: Tensor, k: int, st: int, G: int, C: int, spec: VariantSpec
) -> None:
    dev, dtype = maps.device, maps.dtype
    gx, gy, lox, hix, loy, hiy, Rw, Rh = _windows(p, obj, k, st, spec)
    Wx, Wy = int((hix - lox).max()) + 1, int((hiy - loy).max()) + 1
    ox = torch.arange(Wx, device=dev)
    oy = torch.arange(Wy, device=dev)
    i = gx[:, None] + lox[:, None] + ox  # [n, Wx]
    j = gy[:, None] + loy[:, None] + oy  # [n, Wy]
    vx = (ox <= (hix - lox)[:, None]) & (i >= 0) & (i <= G - 1)
    vy = (oy <= (hiy - loy)[:, None]) & (j >= 0) & (j <= G - 1)
    valid = vy[:, :, None] & vx[:, None, :]  # [n, Wy, Wx]
    if spec.subpixel:
        dx = (i.to(dtype) + 0.5) - (p.cxr[obj] / st)[:, None]
        dy = (j.to(dtype) + 0.5) - (p.cyr[obj] / st)[:, None]
    else:
        dx = (i - gx[:, None]).to(dtype)
        dy = (j - gy[:, None]).to(dtype)
    cos_t, sin_t = torch.cos(p.theta[obj])[:, None, None], torch.sin(p.theta[obj])[:, None, None]
    dx3, dy3 = dx[:, None, :], dy[:, :, None]
    u = cos_t * dx3 + sin_t * dy3
    v = -sin_t * dx3 + cos_t * dy3
    rw = (p.L[obj] / (2 * st) + 1e-16)[:, None, None] ** spec.power
    rh = (p.Sd[obj] / (2 * st) + 1e-16)[:, None, None] ** spec.power
    g = torch.exp(-0.5 * ((2 * u / rw) ** 2 + (2 * v / rh) ** 2))  # [n, Wy, Wx]

    if spec.alg1:
        cand = valid & (g > THRESH_G)
        count = cand.flatten(1).sum(1)
        n_top = torch.ceil(0.7 * count.clamp_min(1).to(torch.float64)).long()
        ranked = torch.where(cand, g, torch.full_like(g, -math.inf)).flatten(1).sort(dim=1, descending=True).values
        thr = ranked.gather(1, (n_top - 1)[:, None]).squeeze(1)
        thr = torch.where(count > 0, thr, torch.zeros_like(thr))
        aw = 2 * LN2 / torch.log(torch.sqrt(n_top.to(dtype)) + 1)
    else:
        thr = torch.zeros_like(p.w[obj])
        aw = LN2 / torch.log(torch.sqrt((Rw * Rh).to(dtype)) + 1)

    # Cell-centre distances to the HBB sides are separable: rows give l1, l3, columns l2, l4.
    xc = (i * st).to(dtype) + st / 2  # [n, Wx]
    yc = (j * st).to(dtype) + st / 2  # [n, Wy]
    xmin, ymin, xmax, ymax = (p.hbb[obj, q] for q in range(4))
    l1, l3 = yc - ymin[:, None], ymax[:, None] - yc  # [n, Wy]
    l2, l4 = xmax[:, None] - xc, xc - xmin[:, None]  # [n, Wx]
    in_y = vy & (l1 > 0) & (l3 > 0)
    in_x = vx & (l2 > 0) & (l4 > 0)
    elig = in_y[:, :, None] & in_x[:, None, :] & (g > THRESH_G)  # min(l1..l4) > 0, g > 0.05
    if spec.alg1:
        lmax = torch.maximum(torch.maximum(l1, l3)[:, :, None], torch.maximum(l2, l4)[:, None, :])
        elig &= (lmax > ALG1_LT[k]) & (lmax < ALG1_LT[k + 1])

    n_loc, yy, xx = elig.nonzero(as_tuple=True)  # object-major = row order
    if n_loc.numel() == 0:
        return
    o = obj[n_loc]
    cls = p.labels[o]
    gp = g[n_loc, yy, xx]
    flat = bidx[o] * (G * G) + j[n_loc, yy] * G + i[n_loc, xx]
    passed, w_pair = _resolve_writes(flat, cls, gp, thr[n_loc], C, spec)

    cells = flat[w_pair]
    wo, wn = o[w_pair], n_loc[w_pair]
    maps[cells, 0:4] = torch.stack([p.cx[wo], p.cy[wo], p.w[wo], p.h[wo]], dim=1)
    wy, wx = yy[w_pair], xx[w_pair]
    maps[cells, 4:8] = torch.stack([l1[wn, wy], l2[wn, wx], l3[wn, wy], l4[wn, wx]], dim=1)
    maps[cells, 8:12] = p.s[wo]
    maps[cells, 12] = p.r[wo]
    if spec.alg1:
        gw = gp[w_pair]
        maps[cells, 13] = torch.where(gw >= thr[wn], torch.ones_like(gw), gw)
    else:
        maps[cells, 13] = 1.0
    maps[cells, 15] = aw[wn]
    if spec.cell_mix:
        maps[cells, 14] = p.mix[wo]
    # heat: max g of each class's writers, scattered straight into the (zero) heat channels; g > 0.05 > 0
    nch = maps.shape[1]
    maps.view(-1).scatter_reduce_(0, (flat * nch + 16 + cls)[passed], gp[passed], "amax")


def _resolve_writes(
    flat: Tensor, cls: Tensor, g: Tensor, thr: Tensor, C: int, spec: VariantSpec
) -> tuple[Tensor, Tensor]:
    """Replay the official sequential overwrite rule on eligible pairs given in row order.

    Args:
        flat: ``[P]`` int64 cell id ``b*G*G + j*G + i``; cls: ``[P]`` class; g: ``[P]`` Gaussian value;
            thr: ``[P]`` alg1 top-70 % threshold of the pair's object.

    Returns:
        ``passed`` ``[P]`` bool (the pair writes the cell) and ``winners`` ``[W]`` int64: for every written
        cell the index of its last writer (it owns the regression channels).
    """
    key = flat if spec.alg1 else flat * C + cls
    key_sorted, perm = torch.sort(key, stable=True)  # stable: row order kept inside each cell group
    starts = segment_starts(key_sorted)
    gs = g[perm]
    prev = segmented_exclusive_cummax(gs, starts, fill=-1.0)
    ok = gs >= prev
    if spec.alg1:
        hard_writer = ok & (gs >= thr[perm])
        hard_before = segmented_exclusive_cumsum(hard_writer, starts)
        ok = torch.where(hard_before == 0, ok, gs >= 1)
    passed = torch.empty_like(ok)
    passed[perm] = ok
    # Sorted keys group cells contiguously (class is the minor key), so compact cell ids are a cumsum.
    cell_sorted = key_sorted if spec.alg1 else torch.div(key_sorted, C, rounding_mode="floor")
    new_cell = torch.ones_like(ok)
    new_cell[1:] = cell_sorted[1:] != cell_sorted[:-1]
    cid = torch.cumsum(new_cell, 0) - 1
    last = torch.full_like(perm, -1)
    last.scatter_reduce_(0, cid[ok], perm[ok], "amax")  # pair index grows with row order
    return passed, last[last >= 0]
