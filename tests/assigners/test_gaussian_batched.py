"""Batched GaussianAssigner.assign == per-object reference loop, on random dense scenes."""

from __future__ import annotations

import pytest
import torch

from gghl.assigners import GaussianAssigner
from gghl.assigners.gaussian_scan import (
    segment_starts,
    segmented_exclusive_cummax,
    segmented_exclusive_cumsum,
)
from gghl.testing.gaussian_scenes import random_scene

VARIANTS = ["gghl_obb", "gghl_alg1", "gghl_fixed"]


def _check_equal(assigner: GaussianAssigner, scenes: list[dict], img_size: int, atol: float = 1e-6) -> None:
    out = assigner.assign(scenes, img_size)
    for b, t in enumerate(scenes):
        ref = assigner.reference_maps(t["polygons"], t["labels"], img_size, t.get("weights"))
        for k, m in enumerate(ref):
            got = out[k][b].double()
            diff = (got - m).abs()
            assert float(diff.max()) <= atol, (assigner.variant, b, k, diff.nonzero()[:5].tolist())


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_batched_equals_reference_float64(variant: str, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    scenes = [random_scene(gen, 40, 256, 3) for _ in range(3)]
    a = GaussianAssigner(3, variant=variant)
    _check_equal(a, scenes, 256)
    assert sum(int((m[..., 13] > 0).sum()) for m in a.assign(scenes, 256)) > 100  # scenes are not trivial


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_equals_reference_800px(variant: str) -> None:
    gen = torch.Generator().manual_seed(7)
    _check_equal(GaussianAssigner(5, variant=variant), [random_scene(gen, 60, 800, 5)], 800)


@pytest.mark.parametrize("variant", VARIANTS)
def test_stacked_same_centre_objects(variant: str) -> None:
    """Many objects on one centre: overwrite order, same-class max, alg1 soft/hard objectness interplay."""
    gen = torch.Generator().manual_seed(3)
    n = 24
    w = torch.rand(n, generator=gen, dtype=torch.float64) * 60 + 8
    h = torch.rand(n, generator=gen, dtype=torch.float64) * 30 + 6
    a = torch.rand(n, generator=gen, dtype=torch.float64) * 3
    cx = 64 + torch.randint(-1, 2, (n,), generator=gen).double() * 4
    from gghl.structures.obb import obb_to_poly

    polys = obb_to_poly(torch.stack([cx, cx, w, h, a], 1))
    labels = torch.randint(0, 2, (n,), generator=gen)
    t = {"polygons": polys, "labels": labels, "weights": torch.rand(n, generator=gen, dtype=torch.float64)}
    _check_equal(GaussianAssigner(2, variant=variant), [t, t], 128)


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_float32_close(variant: str) -> None:
    gen = torch.Generator().manual_seed(11)
    scenes64 = [random_scene(gen, 30, 256, 3, snap=False) for _ in range(2)]
    scenes32 = [{k: (v.float() if v.is_floating_point() else v) for k, v in t.items()} for t in scenes64]
    a = GaussianAssigner(3, variant=variant)
    out = a.assign(scenes32, 256)
    for b, t in enumerate(scenes64):
        ref = a.reference_maps(t["polygons"], t["labels"], 256, t["weights"])
        for k, m in enumerate(ref):
            assert out[k].dtype == torch.float32
            torch.testing.assert_close(out[k][b].double(), m, rtol=1e-5, atol=2e-4)


@pytest.mark.parametrize("variant", VARIANTS)
def test_empty_and_outside_objects(variant: str) -> None:
    a = GaussianAssigner(3, variant=variant)
    empty = {"polygons": torch.zeros(0, 8, dtype=torch.float64), "labels": torch.zeros(0, dtype=torch.long)}
    outside = {  # centre left of and above the image: window clipped, nothing may crash
        "polygons": torch.tensor([[-30.0, -20.0, 10.0, -20.0, 10.0, 6.0, -30.0, 6.0]], dtype=torch.float64),
        "labels": torch.tensor([1]),
        "weights": torch.tensor([0.5], dtype=torch.float64),
    }
    _check_equal(a, [empty, outside, empty], 128)
    out = a.assign([empty], 128)
    assert [tuple(m.shape) for m in out] == [(1, 16, 16, 19), (1, 8, 8, 19), (1, 4, 4, 19)]
    # an image without objects trains its background (mix 1) in every variant by default
    assert all(torch.all(m[..., 14] == 1.0) and torch.all(m[..., 13] == 0) for m in out)
    # the official loader (empty_background=False) gives it mix 0: no loss at all
    official = GaussianAssigner(3, variant=variant, empty_background=False)
    _check_equal(official, [empty, outside, empty], 128)
    want_mix = 1.0 if variant == "gghl_fixed" else 0.0
    assert all(torch.all(m[..., 14] == want_mix) for m in official.assign([empty], 128))


def test_segmented_scans_match_loops() -> None:
    gen = torch.Generator().manual_seed(0)
    keys = torch.randint(0, 6, (200,), generator=gen).sort().values
    vals = torch.rand(200, generator=gen, dtype=torch.float64)
    flags = torch.rand(200, generator=gen) < 0.3
    starts = segment_starts(keys)
    cm = segmented_exclusive_cummax(vals, starts, fill=-1.0)
    cs = segmented_exclusive_cumsum(flags, starts)
    for k in range(200):
        same = [q for q in range(k) if keys[q] == keys[k]]
        assert float(cm[k]) == (max(float(vals[q]) for q in same) if same else -1.0)
        assert int(cs[k]) == sum(int(flags[q]) for q in same)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("variant", VARIANTS)
def test_cuda_equals_cpu(variant: str) -> None:
    gen = torch.Generator().manual_seed(5)
    scenes = [random_scene(gen, 100, 800, 15) for _ in range(4)]
    a = GaussianAssigner(15, variant=variant)
    cpu = a.assign(scenes, 800)
    gpu = a.assign(scenes, 800, device="cuda")
    for c, g in zip(cpu, gpu):
        assert g.device.type == "cuda"
        torch.testing.assert_close(g.cpu(), c, rtol=0, atol=1e-9)


@pytest.mark.parametrize("variant", VARIANTS)
def test_degenerate_polygons_are_finite_and_consistent(variant: str) -> None:
    polys = torch.tensor(
        [
            [10.0, 40.0, 30.0, 40.0, 30.0, 40.0, 10.0, 40.0],  # horizontal segment (h = 0)
            [50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0],  # a point
            [60.0, 20.0, 90.0, 20.0, 90.0, 20.0, 60.0, 50.0],  # duplicated vertex (triangle)
            [100.0, 100.0, 100.5, 100.0, 100.5, 100.5, 100.0, 100.5],  # tiny box, filtered
            [20.0, 70.0, 52.0, 70.0, 52.0, 90.0, 20.0, 90.0],  # a normal box on top of them
        ],
        dtype=torch.float64,
    )
    t = {"polygons": polys, "labels": torch.tensor([0, 1, 2, 0, 1])}
    a = GaussianAssigner(3, variant=variant)
    _check_equal(a, [t], 128)
    maps = a.assign([t], 128)
    assert all(torch.isfinite(m).all() for m in maps)
    assert sum(int((m[..., 13] > 0).sum()) for m in maps) > 0


def test_assign_rejects_bad_labels() -> None:
    t = {"polygons": torch.zeros(1, 8, dtype=torch.float64), "labels": torch.tensor([3])}
    with pytest.raises(ValueError, match="labels"):
        GaussianAssigner(3).assign([t], 128)
