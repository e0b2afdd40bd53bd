"""Batched, on-device GGHL OLA: the same maps as ``gaussian_reference.py`` without Python loops over
objects or cells (docs/gghl.md#two-implementations).

Work is vectorised over (object, level, window cell) triples of all images and all three levels at once,
written into one flat buffer that holds every level's maps (the returned per-level maps are contiguous
views of it). The only Python loops are over the 3 levels for buffer set-up, the window-size buckets
(alg1) and the ``log2(#objects)`` steps of the segmented scan.

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

import torch
from torch import Tensor

from gghl.assigners._checks import check_targets
from gghl.assigners.gaussian_cells import LevelTables, pair_table, window_cells
from gghl.assigners.gaussian_params import (
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

# Window sides (cells) that split (object, level) pairs into separately padded buckets. obb windows are at
# most 11 cells, one bucket is fastest; alg1 windows grow with the object, bucketing pays (measured).
_BUCKET_EDGES = {False: (), True: (5, 9, 17)}


def assign_batched(
    targets: list[dict[str, Tensor]],
    img_size: int,
    num_classes: int,
    strides: tuple[int, ...],
    spec: VariantSpec,
    device: torch.device | str | None = None,
    empty_background: bool = True,
) -> list[Tensor]:
    """Per-level maps ``[B, G_k, G_k, 16 + C]`` for a batch; see ``GaussianAssigner.assign``."""
    if len(strides) != 3:
        raise ValueError("GGHL OLA level rules are defined for exactly 3 levels")
    check_targets(targets)
    if int(img_size) < max(strides):
        raise ValueError(f"img_size must be at least the largest stride {max(strides)}, got {img_size}")
    B = len(targets)
    dev = torch.device(device) if device is not None else targets[0]["polygons"].device
    dtype = targets[0]["polygons"].dtype
    if not dtype.is_floating_point:
        raise TypeError(f"polygons must be floating point, got {dtype}")
    polys = torch.cat([t["polygons"].reshape(-1, 8) for t in targets]).to(dev, dtype)
    labels = torch.cat([t["labels"].reshape(-1) for t in targets]).to(dev)
    if labels.numel() and bool(((labels < 0) | (labels >= num_classes)).any()):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.unique().tolist()}")
    if all(t.get("weights") is None for t in targets):
        weights = None
    else:
        weights = torch.cat(
            [
                t["weights"].reshape(-1).to(dev, dtype)
                if t.get("weights") is not None
                else torch.ones(t["labels"].numel(), device=dev, dtype=dtype)
                for t in targets
            ]
        )
    counts = torch.tensor([t["labels"].numel() for t in targets], device=dev)
    bidx = torch.repeat_interleave(torch.arange(B, device=dev), counts)
    p = object_params(polys, labels, weights)
    keep = keep_mask(p, spec)
    sel = keep[:, None].expand(-1, 3) if spec.alg1 else keep[:, None] & size_levels(p, img_size)  # [M, 3]

    grids = [img_size // s for s in strides]
    sizes = [B * g * g for g in grids]
    offsets = [0, sizes[0], sizes[0] + sizes[1]]
    buf = _base_maps(p, bidx, sel, B, grids, offsets, sum(sizes), num_classes, spec, empty_background)
    lvl = LevelTables(strides, grids, offsets, dev, dtype)
    _write_cells(buf, p, bidx, sel, lvl, num_classes, spec)
    return [buf[o : o + n].view(B, g, g, 16 + num_classes) for o, n, g in zip(offsets, sizes, grids)]


def _base_maps(
    p: ObjectParams,
    bidx: Tensor,
    sel: Tensor,
    B: int,
    grids: list[int],
    offsets: list[int],
    total: int,
    C: int,
    spec: VariantSpec,
    empty_background: bool = True,
) -> Tensor:
    """Flat buffer ``[sum_k B*G_k^2, 16 + C]`` of background cells (zeros, ch14 = mix rule).

    ``empty_background``: an image with no object on any level (official rule: mix 0 everywhere, so no
    loss at all) gets mix 1 on every level instead (see ``GaussianAssigner``).
    """
    dev, dtype = p.w.device, p.w.dtype
    base = torch.zeros(B, 3, 16 + C, device=dev, dtype=dtype)  # one background cell per image and level
    if spec.cell_mix:  # fixed: background weight 1 everywhere; positive cells get their winner's mix later
        base[:, :, 14] = 1.0
    elif sel.numel():  # official: whole map = mix of the last object processed on that level (0 if none)
        o, k = sel.nonzero(as_tuple=True)
        last = torch.full((B * 3,), -1, device=dev, dtype=torch.long)
        last.scatter_reduce_(0, bidx[o] * 3 + k, o, "amax")
        mixv = torch.where(last >= 0, p.mix[last.clamp_min(0)], torch.zeros((), device=dev, dtype=dtype))
        base[:, :, 14] = mixv.view(B, 3)
    if empty_background and not spec.cell_mix:
        # scatter, not boolean indexing: no device->host sync on CUDA
        has = torch.zeros(B, device=dev, dtype=torch.long)
        has.scatter_reduce_(0, bidx, sel.any(1).long(), "amax")
        base[:, :, 14] = torch.where(has.bool()[:, None], base[:, :, 14], torch.ones_like(base[:, :, 14]))
    buf = torch.empty(total, 16 + C, device=dev, dtype=dtype)
    for k, g in enumerate(grids):
        n = B * g * g
        buf[offsets[k] : offsets[k] + n].view(B, g * g, 16 + C).copy_(
            base[:, k : k + 1].expand(B, g * g, 16 + C)
        )
    return buf


def _write_cells(
    buf: Tensor, p: ObjectParams, bidx: Tensor, sel: Tensor, lvl: LevelTables, C: int, spec: VariantSpec
) -> None:
    """Gaussian, eligibility, overwrite replay and writes for all (object, level) pairs at once."""
    dev, dtype = buf.device, buf.dtype
    if spec.alg1:  # speed only: a cell strictly inside the HBB has max(w,h)/2 <= max(l1..l4) < max(w,h), so
        # (object, level) pairs outside (LT_lo, 2 LT_hi) can never be eligible; margins absorb rounding
        longest = torch.maximum(p.w, p.h)[:, None]
        sel = sel & (longest / 2 < lvl.lt_hi * (1 + 1e-9) + 1e-9) & (longest > lvl.lt_lo * (1 - 1e-9) - 1e-9)
    obj, k = sel.nonzero(as_tuple=True)  # object-major: row order inside every level
    if obj.numel() == 0:
        return
    table = pair_table(p, obj, k, lvl, spec)
    # Windows are padded to the largest in a call, and most objects are small: bucket pairs by window size.
    edges = _BUCKET_EDGES[spec.alg1]
    bucket = torch.bucketize(table.extent(), torch.tensor(edges, device=dev, dtype=torch.long))
    n_pairs = obj.numel()
    thr_all = torch.zeros(n_pairs, device=dev, dtype=dtype)
    aw_all = torch.zeros(n_pairs, device=dev, dtype=dtype)
    parts = []
    for bk in range(len(edges) + 1):
        rows = (bucket == bk).nonzero().squeeze(1) if edges else torch.arange(n_pairs, device=dev)
        if rows.numel():
            *cells, thr_all[rows], aw_all[rows] = window_cells(p, table, rows, lvl, spec)
            parts.append(cells)
    row, i, j, gp, ls = (torch.cat(c) for c in zip(*parts))
    if row.numel() == 0:
        return
    if len(parts) > 1:  # back to (object, level)-major = row order, which the overwrite replay relies on
        order = torch.sort(row, stable=True).indices
        row, i, j, gp, ls = row[order], i[order], j[order], gp[order], ls[order]
    o = obj[row]
    cls = p.labels[o]
    Gp = lvl.grid[k[row]]
    flat = lvl.offset[k[row]] + bidx[o] * Gp * Gp + j * Gp + i
    thr = thr_all[row]
    passed, w_pair = _resolve_writes(flat, cls, gp, thr, C, spec)

    cells = flat[w_pair]
    wo, wr = o[w_pair], row[w_pair]
    if spec.alg1:
        gw = gp[w_pair]
        obj_mask = torch.where(gw >= thr[w_pair], torch.ones_like(gw), gw)
    else:
        obj_mask = torch.ones_like(wr, dtype=dtype)
    mix = p.mix[wo] if spec.cell_mix else buf[cells, 14]
    vals = torch.cat(  # channels 0..15 of every written cell, written with a single index_put
        [
            torch.stack([p.cx[wo], p.cy[wo], p.w[wo], p.h[wo]], dim=1),
            ls[w_pair],
            p.s[wo],
            torch.stack([p.r[wo], obj_mask, mix, aw_all[wr]], dim=1),
        ],
        dim=1,
    )
    buf[cells, :16] = vals
    # heat: max g of each class's writers, scattered straight into the (zero) heat channels; g > 0.05 > 0
    nch = buf.shape[1]
    buf.view(-1).scatter_reduce_(0, (flat * nch + 16 + cls)[passed], gp[passed], "amax")


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
