"""Random GGHL scenes for assigner tests and benchmarks (dense, overlapping, duplicated, border-snapped
objects). Frame: image pixels, y down; polygons ``[N, 8]``."""

from __future__ import annotations

import torch

from gghl.structures.obb import obb_to_poly

__all__ = ["random_scene"]


def random_scene(
    gen: torch.Generator,
    n: int,
    img_size: int,
    num_classes: int,
    dtype: torch.dtype = torch.float64,
    snap: bool = True,
) -> dict[str, torch.Tensor]:
    """``n`` objects: rotated rectangles, skewed quadrilaterals, clusters and exact duplicates.

    With ``snap`` some centres sit exactly on stride-8 cell borders and some boxes are axis aligned (the
    cases where float parity matters); vertex order is shuffled per scene.
    """
    f64 = dict(generator=gen, dtype=torch.float64)
    n_clu = max(1, n // 8)
    centres = torch.rand(n_clu, 2, **f64) * img_size
    which = torch.randint(0, n_clu, (n,), generator=gen)
    c = centres[which] + torch.randn(n, 2, **f64) * img_size / 20
    w = torch.rand(n, **f64) ** 2 * img_size * 0.5 + 3
    h = torch.rand(n, **f64) * 60 + 3
    a = torch.rand(n, **f64) * 7 - 3.5
    if snap:
        on = torch.rand(n, generator=gen) < 0.3
        c = torch.where(on[:, None], (c / 8).round() * 8, c)
        a = torch.where(torch.rand(n, generator=gen) < 0.25, torch.zeros_like(a), a)
    polys = obb_to_poly(torch.stack([c[:, 0], c[:, 1], w, h, a], 1))
    skew = (torch.rand(n, 1, generator=gen) < 0.3).to(torch.float64)
    polys = polys + (torch.rand(n, 8, **f64) - 0.5) * 6 * skew
    dup = torch.rand(n, generator=gen) < 0.15  # exact duplicates of the previous object
    idx = torch.arange(n) - dup.long()
    idx[0] = 0
    polys = polys[idx]
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    labels = torch.where(torch.rand(n, generator=gen) < 0.5, labels[idx], labels)
    perm = torch.randperm(4, generator=gen)
    polys = polys.view(n, 4, 2)[:, perm].reshape(n, 8)
    weights = torch.rand(n, **f64) * 0.8 + 0.2
    return {"polygons": polys.to(dtype), "labels": labels, "weights": weights.to(dtype)}
