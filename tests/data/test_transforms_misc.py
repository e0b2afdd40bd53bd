"""HSV jitter, mixup, multi-scale sizes, random scale and Compose: exact numbers and determinism."""

from __future__ import annotations

import colorsys

import pytest
import torch

from gghl.data.transforms import (
    GGHL_PAD_VALUE,
    Compose,
    MultiScale,
    RandomHSV,
    RandomMixup,
    RandomScale,
    hsv_jitter,
    hsv_to_rgb,
    letterbox,
    mixup,
    rgb_to_hsv,
    sample_beta,
)


def sample(n: int, h: int = 16, w: int = 16, seed: int = 0, image_id: str = "a") -> dict:
    g = torch.Generator().manual_seed(seed)
    polys = torch.rand(n, 8, generator=g, dtype=torch.float64) * min(h, w)
    return {
        "image": torch.rand(3, h, w, generator=g),
        "polygons": polys,
        "labels": torch.arange(n, dtype=torch.int64),
        "difficult": torch.zeros(n, dtype=torch.bool),
        "weights": torch.ones(n, dtype=torch.float32),
        "image_id": image_id,
        "orig_size": (h, w),
        "affine": torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64),
    }


def test_rgb_hsv_matches_colorsys_and_round_trips() -> None:
    img = torch.rand(3, 8, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    img[:, 0, 0] = torch.tensor([0.2, 0.2, 0.2], dtype=torch.float64)  # grey: s = 0, h = 0
    img[:, 0, 1] = 0.0  # black
    hsv = rgb_to_hsv(img)
    for j, i in [(0, 0), (0, 1), (3, 4), (7, 8), (5, 2)]:
        expected = colorsys.rgb_to_hsv(*img[:, j, i].tolist())
        assert hsv[:, j, i].tolist() == pytest.approx(expected, abs=1e-12)
    torch.testing.assert_close(hsv_to_rgb(hsv), img, atol=1e-12, rtol=0)


def test_hsv_jitter_values() -> None:
    img = torch.rand(3, 5, 5, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(hsv_jitter(img, (1.0, 1.0, 1.0)), img, atol=1e-6, rtol=0)
    # Value gain 0.5 on a pure colour halves every channel; saturation gain 0 gives grey = max.
    red = torch.tensor([0.8, 0.2, 0.4]).view(3, 1, 1)
    torch.testing.assert_close(hsv_jitter(red, (1.0, 1.0, 0.5)), red * 0.5, atol=1e-6, rtol=0)
    torch.testing.assert_close(
        hsv_jitter(red, (1.0, 0.0, 1.0)), torch.full((3, 1, 1), 0.8), atol=1e-6, rtol=0
    )
    # Hue wraps around: gain 1 + 1/h0 turns hue h0 into h0 + 1 == h0.
    h0 = float(rgb_to_hsv(red)[0])
    torch.testing.assert_close(hsv_jitter(red, (1.0 + 1.0 / h0, 1.0, 1.0)), red, atol=1e-5, rtol=0)


def test_random_hsv_is_image_only_and_deterministic() -> None:
    s = sample(3)
    t = RandomHSV()  # GGHL gains .015 / .7 / .4
    a = t(s, torch.Generator().manual_seed(5))
    b = t(s, torch.Generator().manual_seed(5))
    assert torch.equal(a["image"], b["image"])
    assert not torch.equal(a["image"], s["image"])
    assert float(a["image"].min()) >= 0 and float(a["image"].max()) <= 1
    for key in ("polygons", "labels", "affine", "weights"):
        assert torch.equal(a[key], s[key])
    assert t.gains == (0.015, 0.7, 0.4)


def test_mixup_blends_and_weights() -> None:
    a, b = sample(2, seed=1, image_id="a"), sample(3, seed=2, image_id="b")
    b["weights"] = torch.tensor([1.0, 0.5, 1.0])
    out = mixup(a, b, 0.3)
    torch.testing.assert_close(out["image"], 0.3 * a["image"] + 0.7 * b["image"])
    assert out["polygons"].shape == (5, 8)
    torch.testing.assert_close(out["polygons"], torch.cat([a["polygons"], b["polygons"]]))
    assert out["labels"].tolist() == [0, 1, 0, 1, 2]
    torch.testing.assert_close(out["weights"], torch.tensor([0.3, 0.3, 0.7, 0.35, 0.7]))
    assert out["weights"].dtype == torch.float32
    assert out["image_id"] == "a" and torch.equal(out["affine"], a["affine"])
    assert a["polygons"].shape == (2, 8)  # inputs untouched
    with pytest.raises(ValueError, match="same shape"):
        mixup(a, sample(1, h=8), 0.5)
    with pytest.raises(ValueError, match="lam"):
        mixup(a, b, 1.5)


def test_random_mixup_policy_gghl() -> None:
    a, b = sample(1, seed=1), sample(1, seed=2)
    t = RandomMixup()  # p = 0.7, Beta(1.5, 1.5)
    g = torch.Generator().manual_seed(0)
    lams = []
    for _ in range(400):
        out = t(a, b, g)
        lams.append(float(out["weights"][0]) if out["polygons"].shape[0] == 2 else None)
    mixed = [x for x in lams if x is not None]
    assert 0.62 < len(mixed) / len(lams) < 0.78  # ~70 % mixed (binomial sd 2.3 %)
    # Beta(1.5, 1.5): mean 0.5, variance 1/16.
    m = sum(mixed) / len(mixed)
    var = sum((x - m) ** 2 for x in mixed) / len(mixed)
    assert abs(m - 0.5) < 0.05 and abs(var - 0.0625) < 0.015
    # Same seed, same decisions and lambdas.
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert all(torch.equal(t(a, b, g1)["image"], t(a, b, g2)["image"]) for _ in range(5))
    assert sample_beta(1.5, 1.5, torch.Generator().manual_seed(9)) == sample_beta(
        1.5, 1.5, torch.Generator().manual_seed(9)
    )


def test_multiscale_sizes() -> None:
    ms = MultiScale()  # GGHL: 736..864, new size every 10 batches
    sizes = [ms.size_for_batch(i) for i in range(400)]
    assert set(sizes) <= {736, 768, 800, 832, 864}
    assert len(set(sizes)) == 5
    for block in range(40):
        assert len(set(sizes[block * 10 : block * 10 + 10])) == 1
    assert sizes == [MultiScale(seed=0)(i) for i in range(400)]  # pure function of (seed, epoch, i)
    assert sizes != [MultiScale(seed=1)(i) for i in range(400)]
    assert sizes != [ms.size_for_batch(i, epoch=1) for i in range(400)]
    batch = ms.letterbox_batch([sample(1, h=20, w=30), sample(2, h=40, w=10)], batch_idx=13)
    assert {tuple(s["image"].shape) for s in batch} == {(3, ms.size_for_batch(13), ms.size_for_batch(13))}
    with pytest.raises(ValueError, match="multiples of 32"):
        MultiScale(sizes=(800, 801))


def test_random_scale_and_compose_determinism() -> None:
    s = sample(2, h=20, w=30)
    pipe = Compose([RandomScale((0.5, 1.5)), RandomHSV(), lambda x: letterbox(x, 32)])
    a = pipe(s, torch.Generator().manual_seed(4))
    b = pipe(s, torch.Generator().manual_seed(4))
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["polygons"], b["polygons"])
    assert a["image"].shape == (3, 32, 32)
    # Exact affine through the chain: original polygons map to the current ones.
    m = a["affine"]
    mapped = (s["polygons"].reshape(-1, 4, 2) @ m[:, :2].T + m[:, 2]).reshape(-1, 8)
    torch.testing.assert_close(mapped, a["polygons"], atol=1e-9, rtol=0)
    assert GGHL_PAD_VALUE == pytest.approx(128 / 255)
