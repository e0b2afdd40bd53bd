"""OLA targets transform consistently under flips and 180-degree rotation (docs/gghl.md#target-symmetries).

Mirroring exercises the ORC vertex ordering (reflection reverses the vertex cycle), the long-side angle
(theta -> pi - theta) and the window/level logic together. Only the symmetric-window variants qualify:
gghl_alg1's window ``[gx - R, gx + R + 2]`` is asymmetric on purpose. Scenes avoid centres on cell borders
(``snap=False``), where the official ``floor`` is not mirror symmetric.
"""

from __future__ import annotations

import pytest
import torch

from gghl.assigners import GaussianAssigner
from gghl.testing.gaussian_scenes import random_scene

S = 256


def _transform(maps: torch.Tensor, mode: str) -> torch.Tensor:
    """Expected maps ``[G, G, 16+C]`` of the transformed scene, from the original scene's maps."""
    m = maps.clone()
    pos = m[..., 13] > 0
    rect = m[..., 12] > 0.9
    s = m[..., 8:12].clone()
    if mode in ("hflip", "rot180"):
        m = m.flip(1)
        pos, rect, s = pos.flip(1), rect.flip(1), s.flip(1)
    if mode in ("vflip", "rot180"):
        m = m.flip(0)
        pos, rect, s = pos.flip(0), rect.flip(0), s.flip(0)
    l = m[..., 4:8].clone()
    if mode == "hflip":
        m[..., 0] = torch.where(pos, S - m[..., 0], m[..., 0])
        m[..., 4:8] = l[..., [0, 3, 2, 1]]
        new_s = 1 - s[..., [0, 3, 2, 1]]
    elif mode == "vflip":
        m[..., 1] = torch.where(pos, S - m[..., 1], m[..., 1])
        m[..., 4:8] = l[..., [2, 1, 0, 3]]
        new_s = 1 - s[..., [2, 1, 0, 3]]
    else:
        m[..., 0:2] = torch.where(pos[..., None], S - m[..., 0:2], m[..., 0:2])
        m[..., 4:8] = l[..., [2, 3, 0, 1]]
        new_s = s[..., [2, 3, 0, 1]]
    m[..., 8:12] = torch.where((pos & ~rect)[..., None], new_s, torch.zeros_like(new_s))
    return m


@pytest.mark.parametrize("variant", ["gghl_obb", "gghl_fixed"])
@pytest.mark.parametrize("mode", ["hflip", "vflip", "rot180"])
def test_flip_equivariance(variant: str, mode: str) -> None:
    gen = torch.Generator().manual_seed(21)
    scene = random_scene(gen, 40, S, 3, snap=False)
    polys = scene["polygons"].clone().view(-1, 4, 2)
    if mode in ("hflip", "rot180"):
        polys[..., 0] = S - polys[..., 0]
    if mode in ("vflip", "rot180"):
        polys[..., 1] = S - polys[..., 1]
    moved = {**scene, "polygons": polys.reshape(-1, 8)}
    a = GaussianAssigner(3, variant=variant)
    before, after = a.assign([scene], S), a.assign([moved], S)
    n_pos = 0
    for m0, m1 in zip(before, after):
        n_pos += int((m0[0, ..., 13] > 0).sum())
        torch.testing.assert_close(m1[0], _transform(m0[0], mode), rtol=0, atol=1e-9)
    assert n_pos > 40
