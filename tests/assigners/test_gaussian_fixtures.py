"""GaussianAssigner.reference_maps against the official GGHL label maps (tests/data/gghl, cases A and B)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gghl.assigners import GaussianAssigner

DATA = Path(__file__).resolve().parents[1] / "data" / "gghl"
VARIANTS = {"obb": "gghl_obb", "new": "gghl_alg1"}


def _rows(case: str) -> np.ndarray:
    return np.load(DATA / f"case{case}_input_rows.npy")


@pytest.mark.parametrize("case", ["A", "B"])
@pytest.mark.parametrize("tag", ["obb", "new"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_reference_maps_match_official(case: str, tag: str, shuffle: bool) -> None:
    rows = _rows(case)
    polys = torch.from_numpy(rows[:, 5:13])
    if shuffle:  # the assigner must restore the ORC order itself
        polys = polys.view(-1, 4, 2)[:, [3, 1, 0, 2]].reshape(-1, 8)
    assigner = GaussianAssigner(3, variant=VARIANTS[tag])
    maps = assigner.reference_maps(polys, torch.from_numpy(rows[:, 4]).long(), 128)
    for k, s in enumerate((8, 16, 32)):
        want = np.load(DATA / f"case{case}_{tag}_stride{s}.npy")
        assert maps[k].dtype == torch.float64 and maps[k].shape == want.shape
        np.testing.assert_allclose(maps[k].numpy(), want, rtol=0, atol=1e-6, err_msg=f"stride {s}")


@pytest.mark.parametrize("case", ["A", "B"])
@pytest.mark.parametrize("tag", ["obb", "new"])
def test_batched_assign_matches_official(case: str, tag: str) -> None:
    rows = _rows(case)
    t = {"polygons": torch.from_numpy(rows[:, 5:13]), "labels": torch.from_numpy(rows[:, 4]).long()}
    maps = GaussianAssigner(3, variant=VARIANTS[tag]).assign([t, t], 128)
    for k, s in enumerate((8, 16, 32)):
        want = np.load(DATA / f"case{case}_{tag}_stride{s}.npy")
        for b in range(2):
            np.testing.assert_allclose(maps[k][b].numpy(), want, rtol=0, atol=1e-6)


def test_case_a_hand_values() -> None:
    """The hand check of the fixture README: one positive at stride 16, s and r of the 30-degree box."""
    rows = _rows("A")
    maps = GaussianAssigner(3).reference_maps(torch.from_numpy(rows[:, 5:13]), torch.tensor([1]), 128)
    assert [int((m[..., 13] > 0).sum()) for m in maps] == [0, 1, 0]
    cell = maps[1][2, 2]
    assert cell[8:12].tolist() == pytest.approx([0.16139, 0.633975, 0.16139, 0.633975], abs=1e-6)
    assert float(cell[12]) == pytest.approx(0.40927, abs=1e-5)
    assert cell[15] == 1.0 and cell[17] == 1.0
    # docs/gghl.md#quirk-last-object-mix-weight: levels without an object keep mix 0 in the official loader
    assert float(maps[0][..., 14].max()) == 0.0 and float(maps[1][..., 14].min()) == 1.0


def test_fixed_variant_documented_changes() -> None:
    rows = _rows("B")
    polys, labels = torch.from_numpy(rows[:, 5:13]), torch.from_numpy(rows[:, 4]).long()
    obb = GaussianAssigner(3, variant="gghl_obb").reference_maps(polys, labels, 128)
    fixed = GaussianAssigner(3, variant="gghl_fixed").reference_maps(
        polys, labels, 128, torch.tensor([0.3], dtype=torch.float64)
    )
    # per-cell mix: 0.3 on the object's cells, 1 elsewhere and on the empty levels
    for m in fixed:
        pos = m[..., 13] > 0
        assert torch.all(m[..., 14][pos] == 0.3) and torch.all(m[..., 14][~pos] == 1.0)
    # sub-pixel offsets: centre (80, 60) is the corner of 4 stride-16 cells, so no cell reaches g = 1
    assert float(obb[1][..., 16].max()) == 1.0 and float(fixed[1][..., 16].max()) < 1.0
    # w*h filter: a 9x4 box (w*w = 81 > 80, w*h = 36) is kept officially, dropped when fixed
    thin = torch.tensor([[40.0, 40.0, 49.0, 40.0, 49.0, 44.0, 40.0, 44.0]], dtype=torch.float64)
    lab = torch.tensor([0])
    kept = GaussianAssigner(3, variant="gghl_obb").reference_maps(thin, lab, 128)
    dropped = GaussianAssigner(3, variant="gghl_fixed").reference_maps(thin, lab, 128)
    assert float(kept[0][..., 14].max()) == 1.0  # processed on level 0
    assert sum(int((m[..., 13] > 0).sum()) for m in dropped) == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        GaussianAssigner(3, variant="nope")
    with pytest.raises(ValueError):
        GaussianAssigner(3, strides=(8, 16))
    with pytest.raises(ValueError):
        GaussianAssigner(3).reference_maps(torch.zeros(1, 8, dtype=torch.float64), torch.tensor([3]), 128)
