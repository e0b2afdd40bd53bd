"""Window cells of (object, level) pairs for the batched GGHL OLA (docs/gghl.md#default-variant).

Computes, for a set of (object, level) pairs, the Gaussian value of every window cell and which cells are
eligible (``g > 0.05``, cell centre strictly inside the HBB, alg1 level bounds), with arithmetic that is
bit-identical to ``gaussian_reference.py``. Windows are padded to the largest one in the set, so callers
bucket pairs by window size first. Frame: image pixels, y down; cell ``(i, j)`` centre ``(i*s + s/2, j*s + s/2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gghl.assigners.gaussian_params import ALG1_LT, LN2, THRESH_G, ObjectParams, VariantSpec

__all__ = ["LevelTables", "PairTable", "pair_table", "window_cells"]


class LevelTables:
    """Per-level constants as small lookup tensors, indexed by a per-pair level id."""

    def __init__(
        self,
        strides: tuple[int, ...],
        grids: list[int],
        offsets: list[int],
        dev: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.stride_i = torch.tensor(strides, device=dev)
        self.stride_f = self.stride_i.to(dtype)
        self.grid = torch.tensor(grids, device=dev)
        self.offset = torch.tensor(offsets, device=dev)  # first flat cell of the level in the joint buffer
        self.r_max = torch.tensor([4.0 - k for k in range(3)], device=dev, dtype=dtype)  # obb Rw clip 4-k
        self.lt_lo = torch.tensor(ALG1_LT[:3], device=dev, dtype=dtype)
        self.lt_hi = torch.tensor(ALG1_LT[1:], device=dev, dtype=dtype)


@dataclass
class PairTable:
    """One row per (object, level) pair, all ``[n]``: object id, level id, window centre cell ``(gx, gy)``,
    inclusive window offsets ``[lox, hix] x [loy, hiy]`` around it, radii ``Rw, Rh`` and the area weight ``aw``
    (obb: ln2/ln(sqrt(Rw Rh)+1); alg1: filled per row by ``window_cells``)."""

    obj: Tensor
    k: Tensor
    gx: Tensor
    gy: Tensor
    lox: Tensor
    hix: Tensor
    loy: Tensor
    hiy: Tensor
    Rw: Tensor
    Rh: Tensor

    def extent(self) -> Tensor:
        """Largest window side in cells ``[n]``."""
        return torch.maximum(self.hix - self.lox, self.hiy - self.loy) + 1


def pair_table(p: ObjectParams, obj: Tensor, k: Tensor, lvl: LevelTables, spec: VariantSpec) -> PairTable:
    """Window geometry of the pairs ``(obj[n], k[n])`` (obb: symmetric, clipped to 4-k; alg1: asymmetric)."""
    st = lvl.stride_f[k]
    gx = torch.floor(p.cxr[obj] / st).long()
    gy = torch.floor(p.cyr[obj] / st).long()
    rw_cells, rh_cells = p.w[obj] / (2 * st), p.h[obj] / (2 * st)
    if spec.alg1:
        Rw, Rh = rw_cells.clamp_min(1).floor().long(), rh_cells.clamp_min(1).floor().long()
        return PairTable(obj, k, gx, gy, -Rw, Rw + 2, -Rh, Rh + 2, Rw, Rh)
    r_max = lvl.r_max[k]
    Rw = torch.minimum(rw_cells.clamp_min(1), r_max).floor().long()
    Rh = torch.minimum(rh_cells.clamp_min(1), r_max).floor().long()
    return PairTable(obj, k, gx, gy, -Rw - 1, Rw + 1, -Rh - 1, Rh + 1, Rw, Rh)


def window_cells(
    p: ObjectParams, t: PairTable, rows: Tensor, lvl: LevelTables, spec: VariantSpec
) -> tuple[Tensor, ...]:
    """Eligible cells of the pair rows ``rows`` ``[n]``.

    Returns:
        ``(row, i, j, g, l, thr, aw)``: per eligible cell ``[P]`` its pair row, column ``i``, row ``j``,
        Gaussian value ``g`` and HBB distances ``l`` ``[P, 4]`` (l1 top, l2 right, l3 bottom, l4 left), in
        (pair, j, i) order; and per pair row ``[n]`` the alg1 top-70 % threshold ``thr`` (0 for obb) and
        area weight ``aw``.
    """
    dtype = p.w.dtype
    dev = rows.device
    obj, k = t.obj[rows], t.k[rows]
    gx, gy, lox, hix, loy, hiy = t.gx[rows], t.gy[rows], t.lox[rows], t.hix[rows], t.loy[rows], t.hiy[rows]
    st, sti, G = lvl.stride_f[k], lvl.stride_i[k], lvl.grid[k]
    Wx, Wy = int((hix - lox).max()) + 1, int((hiy - loy).max()) + 1
    ox = torch.arange(Wx, device=dev)
    oy = torch.arange(Wy, device=dev)
    i = (gx + lox)[:, None] + ox  # [n, Wx]
    j = (gy + loy)[:, None] + oy  # [n, Wy]
    vx = (ox <= (hix - lox)[:, None]) & (i >= 0) & (i < G[:, None])
    vy = (oy <= (hiy - loy)[:, None]) & (j >= 0) & (j < G[:, None])
    if spec.subpixel:  # fixed: offsets from the true OBB centre, in cells
        dx = (i.to(dtype) + 0.5) - (p.cxr[obj] / st)[:, None]
        dy = (j.to(dtype) + 0.5) - (p.cyr[obj] / st)[:, None]
    else:  # official: integer cell differences
        dx = (i - gx[:, None]).to(dtype)
        dy = (j - gy[:, None]).to(dtype)
    cos_t, sin_t = torch.cos(p.theta[obj])[:, None], torch.sin(p.theta[obj])[:, None]
    rw = (p.L[obj] / (2 * st) + 1e-16)[:, None, None] ** spec.power
    rh = (p.Sd[obj] / (2 * st) + 1e-16)[:, None, None] ** spec.power
    # g = exp(-1/2 [(2u/rw)^2 + (2v/rh)^2]), u = cos dx + sin dy, v = -sin dx + cos dy. The rotation terms are
    # separable ([n, Wx] and [n, Wy]) and doubling is exact in floating point, so 2u is formed by one
    # broadcast add with the very bits of the reference's 2*(cos*dx + sin*dy).
    a = (2 * (cos_t * dx))[:, None, :] + (2 * (sin_t * dy))[:, :, None]  # 2u, [n, Wy, Wx]
    b = (2 * (-sin_t * dx))[:, None, :] + (2 * (cos_t * dy))[:, :, None]  # 2v
    a.div_(rw).square_()
    b.div_(rh).square_()
    g = a.add_(b).mul_(-0.5).exp_()  # [n, Wy, Wx]

    if spec.alg1:  # top-70 % of the window's g > 0.05 cells (the candidates {0} when there are none)
        cand = vy[:, :, None] & vx[:, None, :] & (g > THRESH_G)
        count = cand.flatten(1).sum(1)
        n_top = torch.ceil(0.7 * count.clamp_min(1).to(torch.float64)).long()
        ranked = torch.where(cand, g, torch.full_like(g, -math.inf)).flatten(1)
        ranked = ranked.sort(dim=1, descending=True).values
        thr = ranked.gather(1, (n_top - 1)[:, None]).squeeze(1)
        thr = torch.where(count > 0, thr, torch.zeros_like(thr))
        aw = 2 * LN2 / torch.log(torch.sqrt(n_top.to(dtype)) + 1)
    else:
        thr = torch.zeros_like(st)
        aw = LN2 / torch.log(torch.sqrt((t.Rw[rows] * t.Rh[rows]).to(dtype)) + 1)

    # Cell-centre distances to the HBB sides are separable: rows give l1, l3, columns l2, l4.
    half_st = (st / 2)[:, None]
    xc = (i * sti[:, None]).to(dtype) + half_st  # [n, Wx]
    yc = (j * sti[:, None]).to(dtype) + half_st  # [n, Wy]
    xmin, ymin, xmax, ymax = p.hbb[obj].unbind(1)
    l1, l3 = yc - ymin[:, None], ymax[:, None] - yc  # [n, Wy]
    l2, l4 = xmax[:, None] - xc, xc - xmin[:, None]  # [n, Wx]
    in_y = vy & (l1 > 0) & (l3 > 0)
    in_x = vx & (l2 > 0) & (l4 > 0)
    elig = in_y[:, :, None] & in_x[:, None, :] & (g > THRESH_G)  # min(l1..l4) > 0, g > 0.05
    if spec.alg1:
        lmax = torch.maximum(torch.maximum(l1, l3)[:, :, None], torch.maximum(l2, l4)[:, None, :])
        elig &= (lmax > lvl.lt_lo[k][:, None, None]) & (lmax < lvl.lt_hi[k][:, None, None])

    n_loc, yy, xx = elig.nonzero(as_tuple=True)
    l = torch.stack([l1[n_loc, yy], l2[n_loc, xx], l3[n_loc, yy], l4[n_loc, xx]], dim=1)
    return rows[n_loc], i[n_loc, xx], j[n_loc, yy], g[n_loc, yy, xx], l, thr, aw
