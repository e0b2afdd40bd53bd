"""Readable per-object, per-cell reference of GGHL OLA (docs/gghl.md#variants).

A literal Python loop in float64 over objects (row order) and window cells. It is the oracle the batched
path (``gaussian_batched.py``) is tested against and the "loop" baseline of ``scripts/bench_assign.py``.
Maps are indexed ``[row j, col i, channel]``; cell ``(i, j)`` has centre ``(i*s + s/2, j*s + s/2)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gghl.assigners._checks import check_objects
from gghl.assigners.gaussian_params import (
    ALG1_LT,
    LN2,
    THRESH_G,
    VariantSpec,
    keep_mask,
    object_params,
    size_levels,
)

__all__ = ["reference_maps_loop"]


def _gauss(dx: float, dy: float, cos_t: float, sin_t: float, rw: float, rh: float, power: float) -> float:
    u = cos_t * dx + sin_t * dy
    v = -sin_t * dx + cos_t * dy
    return math.exp(-0.5 * ((2 * u / rw**power) ** 2 + (2 * v / rh**power) ** 2))


def reference_maps_loop(
    polygons: Tensor,
    labels: Tensor,
    img_size: int,
    num_classes: int,
    strides: tuple[int, ...],
    spec: VariantSpec,
    weights: Tensor | None = None,
    empty_background: bool = True,
) -> list[Tensor]:
    """Per-level label maps ``[G_k, G_k, 16 + C]`` float64 (CPU) for one image, in the OLA channel layout.

    ``empty_background``: when no object reaches any level, ch14 is 1 everywhere instead of the official 0
    (background loss for images without objects; ``GaussianAssigner``).
    """
    if len(strides) != 3:
        raise ValueError("GGHL OLA level rules are defined for exactly 3 levels")
    check_objects(polygons, labels, weights)
    polys64 = polygons.detach().to("cpu", torch.float64)
    p = object_params(polys64, labels.detach().cpu(), None if weights is None else weights.detach().cpu())
    keep = keep_mask(p, spec).tolist()
    levels = size_levels(p, img_size).tolist()
    cols = {k: getattr(p, k).tolist() for k in ("w", "h", "cx", "cy", "cxr", "cyr", "L", "Sd", "theta", "r")}
    hbb, s, lab, mix = p.hbb.tolist(), p.s.tolist(), p.labels.tolist(), p.mix.tolist()

    grids = [img_size // st for st in strides]
    maps = [[[[0.0] * (16 + num_classes) for _ in range(g)] for _ in range(g)] for g in grids]
    any_level = False  # did any object reach any level (official mix rule then writes ch14 somewhere)
    for n in range(len(lab)):
        if not keep[n]:
            continue
        w, h = cols["w"][n], cols["h"][n]
        xmin, ymin, xmax, ymax = hbb[n]
        cos_t, sin_t = math.cos(cols["theta"][n]), math.sin(cols["theta"][n])
        c = lab[n]
        for k, st in enumerate(strides):
            if not spec.alg1 and not levels[n][k]:
                continue
            any_level = True
            G = grids[k]
            lab_map = maps[k]
            gx, gy = math.floor(cols["cxr"][n] / st), math.floor(cols["cyr"][n] / st)
            rw = cols["L"][n] / (2 * st) + 1e-16
            rh = cols["Sd"][n] / (2 * st) + 1e-16
            if spec.alg1:
                Rw, Rh = int(max(w / (2 * st), 1)), int(max(h / (2 * st), 1))
                irange = range(max(gx - Rw, 0), min(gx + Rw + 2, G - 1) + 1)
                jrange = range(max(gy - Rh, 0), min(gy + Rh + 2, G - 1) + 1)
            else:
                Rw = int(min(max(w / (2 * st), 1), 4 - k))
                Rh = int(min(max(h / (2 * st), 1), 4 - k))
                irange = range(max(gx - Rw - 1, 0), min(gx + Rw + 1, G - 1) + 1)
                jrange = range(max(gy - Rh - 1, 0), min(gy + Rh + 1, G - 1) + 1)

            # fixed: offsets from the true OBB centre, in cells; official: integer cell differences
            ocx, ocy = cols["cxr"][n] / st, cols["cyr"][n] / st
            gvals = {}
            for j in jrange:
                for i in irange:
                    dx, dy = (
                        ((i + 0.5) - ocx, (j + 0.5) - ocy)
                        if spec.subpixel
                        else (float(i - gx), float(j - gy))
                    )
                    gvals[(i, j)] = _gauss(dx, dy, cos_t, sin_t, rw, rh, spec.power)
            if spec.alg1:
                cand = sorted((g for g in gvals.values() if g > THRESH_G), reverse=True) or [0.0]
                n_top = math.ceil(0.7 * len(cand))
                thr = cand[n_top - 1]
                aw = 2 * LN2 / math.log(math.sqrt(n_top) + 1)
            else:
                thr = 0.0
                aw = LN2 / math.log(math.sqrt(Rw * Rh) + 1)
            for (i, j), g in gvals.items():
                xc, yc = i * st + st / 2, j * st + st / 2
                l1, l2, l3, l4 = yc - ymin, xmax - xc, ymax - yc, xc - xmin
                cell = lab_map[j][i]
                if not (g > THRESH_G and min(l1, l2, l3, l4) > 0):
                    continue
                if spec.alg1:
                    if not ALG1_LT[k] < max(l1, l2, l3, l4) < ALG1_LT[k + 1]:
                        continue
                    if not max(cell[16 + c], cell[13]) <= g:
                        continue
                elif not cell[16 + c] <= g:
                    continue
                cell[0:4] = [cols["cx"][n], cols["cy"][n], w, h]
                cell[4:8] = [l1, l2, l3, l4]
                cell[8:12] = s[n]
                cell[12] = cols["r"][n]
                cell[13] = (1.0 if g >= thr else g) if spec.alg1 else 1.0
                cell[15] = aw
                cell[16 + c] = g
                if spec.cell_mix:
                    cell[14] = mix[n]
            if not spec.cell_mix:  # official: the whole map gets this object's mix weight
                for row in lab_map:
                    for cell in row:
                        cell[14] = mix[n]
    out = [torch.tensor(m, dtype=torch.float64) for m in maps]
    if empty_background and not spec.cell_mix and not any_level:  # image without objects: background mix 1
        for m in out:
            m[..., 14] = 1.0
    if spec.cell_mix:  # levels without objects, and cells never positive, get background weight 1
        for m in out:
            m[..., 14] = torch.where(m[..., 13] > 0, m[..., 14], torch.ones_like(m[..., 14]))
    return out
