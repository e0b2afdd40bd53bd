"""Multi-level GGHL decode and the decoded-prediction -> ORC polygon conversion."""

from __future__ import annotations

import torch

from gghl.assigners.gaussian_params import object_params
from gghl.structures.gghl_decode import decode_gghl, decode_gghl_level, decoded_to_polygons
from gghl.structures.orc import orc_order


def test_decode_gghl_concatenates_levels_row_major() -> None:
    gen = torch.Generator().manual_seed(0)
    raw = [torch.randn(2, 13, 64 // s, 64 // s, generator=gen) for s in (8, 16, 32)]
    out = decode_gghl(raw, (8, 16, 32))
    assert out.shape == (2, 64 + 16 + 4, 17)
    lvl1 = decode_gghl_level(raw[1], 16)
    assert torch.equal(out[:, 64 : 64 + 16], lvl1.flatten(1, 2))
    assert torch.equal(out[1, 64 + 4 * 1 + 2], lvl1[1, 1, 2])  # row j=1, col i=2


def test_decoded_polygon_round_trips_assigner_targets() -> None:
    """A decoded cell carrying a target's HBB and s gives back the ORC-ordered polygon."""
    poly = torch.tensor([[29.5, 28.2, 55.5, 43.2, 50.5, 51.8, 24.5, 36.8]], dtype=torch.float64)
    p = object_params(poly, torch.tensor([0]))
    dec = torch.zeros(1, 17, dtype=torch.float64)
    dec[0, 0:4] = torch.stack([p.cx, p.cy, p.w, p.h], 1)[0]
    dec[0, 4:8] = p.s[0]
    assert float(p.r[0]) < 0.9
    torch.testing.assert_close(decoded_to_polygons(dec), orc_order(poly))


def test_rectangular_prediction_gives_hbb_corners() -> None:
    raw = torch.zeros(1, 13, 2, 2)
    raw[:, 8] = 3.0  # r_hat = 1 > 0.9 -> s = 0
    dec = decode_gghl_level(raw, 16)[0, 0, 0]
    poly = decoded_to_polygons(dec)
    # cell centre (8, 8), l = 16 on every side: HBB [-8, 24]^2, vertices TL, TR, BR, BL
    assert poly.tolist() == [-8.0, -8.0, 24.0, -8.0, 24.0, 24.0, -8.0, 24.0]
