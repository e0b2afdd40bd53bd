"""Rotated ATSS, TAL and SimOTA on the dense GGHL head: batched path == readable reference, hand-made cases."""

from __future__ import annotations

import pytest
import torch

from gghl.assigners.atss import RotatedATSSAssigner
from gghl.assigners.dense import build_dense_assigner
from gghl.assigners.gaussian import GaussianAssigner
from gghl.assigners.simota import SimOTAAssigner
from gghl.assigners.tal import TaskAlignedAssigner
from gghl.structures.gghl_decode import decode_gghl_level
from gghl.structures.obb import obb_to_poly
from gghl.testing.gaussian_scenes import random_scene

C = 4
STRIDES = (8, 16, 32)
NAMES = ("atss", "tal", "simota")


def _assigner(name: str):
    return build_dense_assigner(name, C, STRIDES)


def _predictions(gen: torch.Generator, batch: int, img_size: int) -> list[torch.Tensor]:
    """Decoded random predictions: boxes of a few strides around each cell, random scores."""
    out = []
    for s in STRIDES:
        g = img_size // s
        raw = torch.randn(batch, 10 + C, g, g, generator=gen, dtype=torch.float64)
        raw[:, 0:4] = raw[:, 0:4] * 0.5 + 1.0
        out.append(decode_gghl_level(raw, s))
    return out


def _empty() -> dict[str, torch.Tensor]:
    return {"polygons": torch.zeros(0, 8, dtype=torch.float64), "labels": torch.zeros(0, dtype=torch.long)}


def _box(cx: float, cy: float, w: float, h: float, a: float = 0.0, label: int = 0) -> dict[str, torch.Tensor]:
    poly = obb_to_poly(torch.tensor([[cx, cy, w, h, a]], dtype=torch.float64))
    return {"polygons": poly, "labels": torch.tensor([label])}


def _cat(*scenes: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: torch.cat([s[k] for s in scenes]) for k in ("polygons", "labels")}


def _run(name: str, scenes: list[dict], img_size: int, gen: torch.Generator):
    assigner = _assigner(name)
    preds = _predictions(gen, len(scenes), img_size) if assigner.needs_predictions else None
    return assigner, preds, assigner.assign(scenes, img_size, predictions=preds)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_equals_reference_on_random_scenes(name: str, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    img = 128
    scenes = [random_scene(gen, n, img, C) for n in (1, 9, 17)] + [_empty()]
    assigner, preds, maps = _run(name, scenes, img, gen)
    worst, positives = 0.0, 0
    for b, scene in enumerate(scenes):
        own = None if preds is None else [p[b] for p in preds]
        ref = assigner.reference_maps(scene["polygons"], scene["labels"], img, scene.get("weights"), own)
        for k in range(3):
            assert maps[k].shape == (len(scenes), img // STRIDES[k], img // STRIDES[k], 16 + C)
            assert torch.equal(maps[k][b, ..., 13] > 0, ref[k][..., 13] > 0)
            worst = max(worst, float((maps[k][b] - ref[k]).abs().max()))
            positives += int((ref[k][..., 13] > 0).sum())
    assert positives > 0
    assert worst <= 1e-12, worst


@pytest.mark.parametrize("name", NAMES)
def test_empty_image_is_background_everywhere(name: str) -> None:
    _, _, maps = _run(name, [_empty(), _empty()], 64, torch.Generator().manual_seed(0))
    for m in maps:
        assert bool((m[..., 14] == 1).all())
        assert not bool(m[..., :14].any()) and not bool(m[..., 15:].any())


@pytest.mark.parametrize("name", NAMES)
def test_one_object_targets_are_its_geometry(name: str) -> None:
    scene = _box(52.0, 44.0, 40.0, 20.0, a=0.3, label=2)
    _, _, maps = _run(name, [scene], 96, torch.Generator().manual_seed(1))
    n_pos = 0
    for m, s in zip(maps, STRIDES):
        j, i = (m[0, ..., 13] > 0).nonzero(as_tuple=True)
        n_pos += i.numel()
        cell = m[0, j, i]
        hbb = scene["polygons"].view(4, 2)
        xmin, ymin = hbb.min(0).values.tolist()
        xmax, ymax = hbb.max(0).values.tolist()
        assert torch.allclose(cell[:, 2:4], torch.tensor([xmax - xmin, ymax - ymin], dtype=torch.float64))
        xc, yc = (i * s + s / 2).double(), (j * s + s / 2).double()
        assert torch.allclose(cell[:, 4], yc - ymin) and torch.allclose(cell[:, 7], xc - xmin)
        assert bool((cell[:, 14] == 1).all()) and bool((cell[:, 15] == 1).all())
        assert not bool(cell[:, [16, 17, 19]].any())  # only the object's class channel
        if name == "atss":
            assert bool((cell[:, 18] == 1).all())
        else:
            assert bool(((cell[:, 18] >= 0) & (cell[:, 18] <= 1)).all())
        if name != "simota":  # ATSS and TAL positives have their centre inside the OBB
            assert bool(((cell[:, 4:8]) > 0).all())
    assert n_pos > 0
    if name == "tal":
        assert n_pos <= 13


@pytest.mark.parametrize("name", NAMES)
def test_two_overlapping_objects_share_no_cell(name: str) -> None:
    scene = _cat(_box(40.0, 40.0, 48.0, 24.0, a=0.5, label=0), _box(48.0, 44.0, 40.0, 28.0, a=-0.4, label=1))
    _, _, maps = _run(name, [scene], 96, torch.Generator().manual_seed(2))
    owners = set()
    for m in maps:
        pos = m[0, ..., 13] > 0
        assert bool(((m[0, ..., 16:] != 0).sum(-1) <= 1).all())
        owners |= {round(float(w), 6) for w in m[0, ..., 2][pos]}  # HBB width tells the owner apart
    assert len(owners) == 2


@pytest.mark.parametrize("name", NAMES)
def test_tiny_object(name: str) -> None:
    """A 2 px object contains no cell centre: ATSS and TAL give it no cell, SimOTA's centre prior does."""
    _, _, maps = _run(name, [_box(10.0, 10.0, 2.0, 2.0)], 64, torch.Generator().manual_seed(3))
    n_pos = sum(int((m[..., 13] > 0).sum()) for m in maps)
    if name == "simota":
        assert n_pos >= 1
    else:
        assert n_pos == 0


def test_tal_best_cell_gets_the_best_iou() -> None:
    gen = torch.Generator().manual_seed(4)
    scene = _box(48.0, 48.0, 56.0, 40.0, a=0.2)
    assigner = TaskAlignedAssigner(C, STRIDES)
    preds = _predictions(gen, 1, 96)
    maps = assigner.assign([scene], 96, predictions=preds)
    values = torch.cat([m[0, ..., 16][m[0, ..., 13] > 0] for m in maps])
    assert values.numel() and float(values.max()) > 0 and float(values.max()) <= 1


def test_dynamic_assigners_need_predictions() -> None:
    for assigner in (TaskAlignedAssigner(C), SimOTAAssigner(C)):
        with pytest.raises(ValueError, match="predictions"):
            assigner.assign([_box(10, 10, 8, 8)], 64)


def test_build_dense_assigner_names_and_options() -> None:
    assert isinstance(build_dense_assigner("gaussian", C, STRIDES), GaussianAssigner)
    atss = build_dense_assigner("atss", C, STRIDES, options={"topk": 5, "anchor_scale": 4})
    assert isinstance(atss, RotatedATSSAssigner) and atss.topk == 5 and atss.anchor_scale == 4
    with pytest.raises(ValueError, match="unknown assigner"):
        build_dense_assigner("fcos", C, STRIDES)
    with pytest.raises(ValueError, match="no assigner_options"):
        build_dense_assigner("gaussian", C, STRIDES, options={"topk": 3})


@pytest.mark.parametrize("high", [1, 3, 50, 10_000])
def test_atss_closest_cells_break_distance_ties_by_index(high: int) -> None:
    """The topk shortcut equals a full stable sort, also with large groups of equal distances."""
    from gghl.assigners.atss import _closest

    d2 = torch.randint(0, high, (6, 200), generator=torch.Generator().manual_seed(high)).double()
    for k in (1, 9, 13):
        assert torch.equal(_closest(d2, k), torch.sort(d2, dim=-1, stable=True).indices[..., :k])
