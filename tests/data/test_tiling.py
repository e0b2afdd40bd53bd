"""Windows, patch names, tiles and per-tile merging (gghl.data.tiling)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from gghl.data.tiling import (
    Detections,
    format_patch_name,
    iter_tiles,
    make_windows,
    nms_merge,
    parse_patch_name,
    rescale_image,
    tile_to_image,
    tiled_inference,
    untile_detections,
)
from gghl.structures import obb_to_poly


def _devkit_windows(width: int, height: int, size: int, gap: int) -> list[tuple[int, int]]:
    """DOTA_devkit ImgSplit.SplitSingle's while loops, restated independently as the oracle."""
    slide, out, left = size - gap, [], 0
    while left < width:
        if left + size >= width:
            left = max(width - size, 0)
        up = 0
        while up < height:
            if up + size >= height:
                up = max(height - size, 0)
            out.append((left, up))
            if up + size >= height:
                break
            up += slide
        if left + size >= width:
            break
        left += slide
    return out


@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    size=st.integers(16, 1100),
    gap_frac=st.floats(0.0, 0.9),
)
def test_windows_cover_image_and_match_devkit(width: int, height: int, size: int, gap_frac: float) -> None:
    gap = int(size * gap_frac)
    wins = make_windows(width, height, size, gap)
    assert wins == _devkit_windows(width, height, size, gap)
    xs = sorted({x for x, _ in wins})
    ys = sorted({y for _, y in wins})
    assert len(wins) == len(xs) * len(ys)
    for starts, length in ((xs, width), (ys, height)):
        assert starts[0] == 0
        if length <= size:
            assert starts == [0]  # one (padded) window
            continue
        assert starts[-1] + size == length  # last flush with the border
        assert all(s + size <= length for s in starts)  # no window leaves the image
        for a, b in zip(starts, starts[1:]):
            assert 0 < b - a <= size - gap  # consecutive windows overlap by >= gap: no pixel uncovered


def test_windows_dota_numbers() -> None:
    # 3000 x 2500 with 1024/200: x starts 0, 824, 1648 and 1976 (flush); y starts 0, 824, 1476.
    wins = make_windows(3000, 2500, 1024, 200)
    assert sorted({x for x, _ in wins}) == [0, 824, 1648, 1976]
    assert sorted({y for _, y in wins}) == [0, 824, 1476]
    assert make_windows(800, 600, 1024, 200) == [(0, 0)]
    assert make_windows(1024, 1024, 1024, 200) == [(0, 0)]
    assert make_windows(1025, 10, 1024, 200) == [(0, 0), (1, 0)]
    with pytest.raises(ValueError, match="size > gap"):
        make_windows(100, 100, 200, 200)


@pytest.mark.parametrize(
    ("image", "rate", "x", "y", "name"),
    [
        ("P0000", 1.0, 0, 824, "P0000__1__0___824"),
        ("P0000", 0.5, 1976, 0, "P0000__0.5__1976___0"),
        ("P1234", 1.5, 12, 3, "P1234__1.5__12___3"),
        ("my__odd_name", 1.0, 5, 6, "my__odd_name__1__5___6"),
        ("P9", 1 / 3, 0, 0, "P9__0.3333333333333333__0___0"),  # exact float round trip
        ("P9", 2.0, 7, 0, "P9__2__7___0"),
    ],
)
def test_patch_name_round_trip(image: str, rate: float, x: int, y: int, name: str) -> None:
    assert format_patch_name(image, rate, x, y) == name
    assert parse_patch_name(name) == (image, rate, x, y)
    assert parse_patch_name(f"/data/split/images/{name}.png") == (image, rate, x, y)


@pytest.mark.parametrize("bad", ["P0000", "P0000__1__0__824", "P0000__x__0___824", "__1__0___0"])
def test_parse_patch_name_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="not a DOTA patch name"):
        parse_patch_name(bad)


def test_iter_tiles_crops_and_pads() -> None:
    img = torch.arange(3 * 70 * 50, dtype=torch.float32).reshape(3, 70, 50)
    tiles = list(iter_tiles(img, size=32, gap=8, pad_value=(1.0, 2.0, 3.0)))
    assert [(x, y) for _, x, y in tiles] == make_windows(50, 70, 32, 8)
    for t, x, y in tiles:
        assert t.shape == (3, 32, 32)
        assert torch.equal(t, img[:, y : y + 32, x : x + 32])
    small = torch.rand(3, 20, 30)
    (t, x, y), *rest = list(iter_tiles(small, size=32, gap=8, pad_value=(1.0, 2.0, 3.0)))
    assert not rest and (x, y) == (0, 0) and t.shape == (3, 32, 32)
    assert torch.equal(t[:, :20, :30], small)
    pad = torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1)
    assert torch.equal(t[:, 20:, :], pad.expand(3, 12, 32))
    assert torch.equal(t[:, :, 30:], pad.expand(3, 32, 2))


def test_tile_to_image_divides_by_rate_after_offset() -> None:
    d = Detections(torch.tensor([[0.0, 0, 10, 0, 10, 4, 0, 4]]), torch.tensor([0.9]), torch.tensor([2]))
    out = tile_to_image(d, x=100, y=50, rate=0.5)
    assert torch.allclose(out.polys, torch.tensor([[200.0, 100, 220, 100, 220, 108, 200, 108]]))
    assert out.labels.tolist() == [2] and out.scores.tolist() == pytest.approx([0.9])


def _rect(cx: float, cy: float, w: float, h: float, a: float) -> list[float]:
    return obb_to_poly(torch.tensor([cx, cy, w, h, a], dtype=torch.float64)).tolist()


@pytest.mark.parametrize("nms", ["rotated", "poly"])
def test_nms_merge_is_classwise_and_thresholded(nms: str) -> None:
    polys = torch.tensor(
        [
            _rect(50, 50, 40, 20, 0.3),
            _rect(52, 50, 40, 20, 0.3),  # same class, IoU ~0.9 -> suppressed
            _rect(52, 50, 40, 20, 0.3),  # other class -> kept
            _rect(50 + 38, 50, 40, 20, 0.0),  # same class, small overlap (IoU < 0.1) -> kept
        ],
        dtype=torch.float64,
    )
    d = Detections(
        polys, torch.tensor([0.9, 0.95, 0.5, 0.3], dtype=torch.float64), torch.tensor([0, 0, 1, 0])
    )
    out = nms_merge(d, iou_thr=0.1, nms=nms)
    assert out.scores.tolist() == [0.95, 0.5, 0.3]
    assert out.labels.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="nms must be"):
        nms_merge(d, nms="soft")


def test_untile_detections_recovers_objects_seen_by_several_tiles() -> None:
    # An object at (40, 40) seen whole by every tile that contains it: after the merge it is there once.
    img_w, img_h, size, gap = 100, 90, 64, 32
    obj = torch.tensor(_rect(45, 40, 20, 8, math.radians(30)), dtype=torch.float64)
    pts = obj.view(4, 2)
    per_tile = []
    for _, x, y in iter_tiles(torch.zeros(3, img_h, img_w), size, gap):
        local = pts - torch.tensor([x, y], dtype=torch.float64)
        if bool(((local >= 0) & (local <= size)).all()):
            score = 0.5 + 0.01 * len(per_tile)
            per_tile.append((Detections(local.reshape(1, 8), torch.tensor([score]), torch.tensor([3])), x, y))
    assert len(per_tile) >= 2
    out = untile_detections(per_tile)
    assert len(out.scores) == 1 and out.labels.tolist() == [3]
    assert np.allclose(out.polys[0].numpy(), obj.numpy(), atol=1e-9)


def test_detections_validation() -> None:
    with pytest.raises(ValueError, match=r"\[K, 8\]"):
        tile_to_image((torch.zeros(2, 5), torch.zeros(2), torch.zeros(2)), 0, 0)
    with pytest.raises(ValueError, match="scores and labels"):
        tile_to_image((torch.zeros(2, 8), torch.zeros(3), torch.zeros(2)), 0, 0)


def test_rescale_image_sizes_and_dtype() -> None:
    img = torch.randint(0, 256, (3, 50, 80), dtype=torch.uint8)
    assert rescale_image(img, 1.0) is img
    half = rescale_image(img, 0.5)
    assert half.shape == (3, 25, 40) and half.dtype == torch.uint8
    flat = torch.full((3, 10, 10), 7.0)
    assert torch.allclose(rescale_image(flat, 1.5), torch.full((3, 15, 15), 7.0))


def test_tiled_inference_multi_rate_batches_map_back() -> None:
    # A fake detector that "sees" every ground-truth object lying whole in the tile. It knows tile positions
    # from the documented order (rates, then make_windows order), so this checks batching, offsets, rates
    # and the merge of the copies that overlapping tiles and several rates produce.
    h, w, size, gap = 300, 420, 128, 48
    rates = (0.5, 1.0, 1.5)
    gt = torch.tensor(
        [_rect(60, 70, 30, 12, 0.4), _rect(300, 200, 40, 20, -1.0), _rect(200, 40, 16, 16, 0.0)]
    )
    positions = [(r, x, y) for r in rates for x, y in make_windows(round(w * r), round(h * r), size, gap)]
    calls: list[int] = []

    def detect(batch: Tensor) -> list[Detections]:
        assert batch.shape[1:] == (3, size, size) and batch.shape[0] <= 5
        out = []
        for _ in range(batch.shape[0]):
            r, x, y = positions[len(calls)]
            calls.append(1)
            local = gt.view(-1, 4, 2) * r - torch.tensor([x, y])
            whole = ((local >= 0) & (local <= size)).flatten(1).all(1)
            k = int(whole.sum())
            out.append(
                Detections(local[whole].reshape(-1, 8), torch.full((k,), r), torch.zeros(k, dtype=torch.long))
            )
        return out

    merged = tiled_inference(torch.zeros(3, h, w), detect, size, gap, rates, batch_size=5)
    assert len(calls) == len(positions)
    assert len(merged.scores) == 3 and merged.scores.tolist() == [1.5, 1.5, 1.5]  # best-rate copy of each
    for g in gt:
        assert ((merged.polys - g).abs().amax(1) < 1e-4).any()


def test_one_window_keeps_the_model_detections_and_several_windows_are_merged() -> None:
    # Two same-class boxes overlapping with IoU 1/3 (> the 0.1 merge threshold) from every window.
    boxes = torch.tensor([[20.0, 20.0, 20.0, 10.0, 0.0], [25.0, 20.0, 20.0, 10.0, 0.0]], dtype=torch.float64)
    polys, scores, labels = (
        obb_to_poly(boxes),
        torch.tensor([0.6, 0.9], dtype=torch.float64),
        torch.zeros(2, dtype=torch.int64),
    )

    def detect(tiles: Tensor) -> list[Detections]:
        return [Detections(polys, scores, labels) for _ in range(tiles.shape[0])]

    one = tiled_inference(torch.zeros(3, 64, 64), detect, size=64, gap=12, iou_thr=0.1)
    assert one.scores.tolist() == [0.9, 0.6]  # a single window: sorted, nothing suppressed
    several = tiled_inference(torch.zeros(3, 64, 100), detect, size=64, gap=12, iou_thr=0.1)
    # windows at x = 0 and 36: each window's 0.6 box overlaps a 0.9 box and is merged away
    assert several.scores.tolist() == [0.9, 0.9]
