"""JOLLoss and the GGHL decode against the official values (tests/data/gghl/loss_results.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gghl.assigners import GaussianAssigner
from gghl.losses import JOLLoss
from gghl.structures.gghl_decode import decode_gghl_level
from gghl.structures.hbb import aligned_iou_cxcywh
from gghl.testing.gaussian_scenes import random_scene

DATA = Path(__file__).resolve().parents[1] / "data" / "gghl"
STRIDES = (8, 16, 32)
KEYS = (
    "loss",
    "loss_fg",
    "loss_bg",
    "loss_pos",
    "loss_neg",
    "loss_iou",
    "loss_cls",
    "loss_s",
    "loss_r",
    "loss_l",
)


def _maps() -> list[torch.Tensor]:
    return [torch.from_numpy(np.load(DATA / f"caseA_obb_stride{s}.npy"))[None] for s in STRIDES]


def _seeded() -> list[torch.Tensor]:
    return [torch.from_numpy(np.load(DATA / f"loss_caseA_raw_pred_stride{s}.npy")) for s in STRIDES]


@pytest.mark.parametrize("name", ["zeros", "seeded"])
def test_matches_official_loss_values(name: str) -> None:
    want = json.loads((DATA / "loss_results.json").read_text())[f"caseA/{name}"]
    raw = _seeded() if name == "seeded" else [torch.zeros_like(r) for r in _seeded()]
    out = JOLLoss(3)(raw, _maps())
    for key in KEYS:
        assert float(out[key]) == pytest.approx(want[key], rel=1e-4), key
    assert float(out["loss"]) == pytest.approx(
        sum(float(out[k]) for k in KEYS[1:] if k != "loss_cls"), rel=1e-6
    )


def test_decode_matches_official() -> None:
    dec = decode_gghl_level(_seeded()[1], 16)
    want = np.load(DATA / "loss_caseA_decoded_pred_stride16.npy")
    assert dec.shape == want.shape == (1, 8, 8, 17)
    np.testing.assert_allclose(dec.numpy(), want, rtol=1e-5, atol=1e-5)
    cell = decode_gghl_level(torch.zeros(1, 13, 8, 8), 16)[0, 2, 2]
    ref = json.loads((DATA / "loss_results.json").read_text())["decode_zeros_stride16_cell(y=2,x=2)"]
    assert cell.tolist() == pytest.approx(ref, abs=1e-6)


def test_decode_r_gate_zeroes_s() -> None:
    raw = torch.zeros(1, 12, 2, 2)
    raw[:, 8] = 3.0  # r_hat = ReLU6(6)/6 = 1 > 0.9
    raw[:, 4:8] = 2.0
    dec = decode_gghl_level(raw, 8)
    assert torch.all(dec[..., 8] == 1.0) and torch.all(dec[..., 4:8] == 0.0)


def test_batch_of_identical_images_equals_single_image() -> None:
    raw1, maps1 = _seeded(), _maps()
    raw2 = [torch.cat([r, r]) for r in raw1]
    maps2 = [torch.cat([m, m]) for m in maps1]
    one, two = JOLLoss(3)(raw1, maps1), JOLLoss(3)(raw2, maps2)
    for key in KEYS:
        assert float(two[key]) == pytest.approx(float(one[key]), rel=1e-6), key


def test_per_image_normalisation_with_different_positive_counts() -> None:
    """N_b is per image: the batch loss is the mean of the single-image losses, not pooled."""
    gen = torch.Generator().manual_seed(0)
    a = GaussianAssigner(4)
    scenes = [random_scene(gen, 3, 256, 4), random_scene(gen, 30, 256, 4)]
    maps = a.assign(scenes, 256)
    raw = [torch.randn(2, 14, 256 // s, 256 // s, generator=gen) for s in STRIDES]
    loss = JOLLoss(4)
    batch = loss(raw, [m.float() for m in maps])
    singles = [loss([r[b : b + 1] for r in raw], [m[b : b + 1].float() for m in maps]) for b in range(2)]
    for key in KEYS:
        assert float(batch[key]) == pytest.approx(
            (float(singles[0][key]) + float(singles[1][key])) / 2, rel=1e-5
        )


def test_gradients_finite_and_w_dyn_option() -> None:
    gen = torch.Generator().manual_seed(1)
    maps = [m.float() for m in GaussianAssigner(4).assign([random_scene(gen, 20, 256, 4)], 256)]
    raw = [torch.randn(1, 14, 256 // s, 256 // s, generator=gen).requires_grad_() for s in STRIDES]
    out = JOLLoss(4)(raw, maps)
    out["loss"].backward()
    assert all(torch.isfinite(r.grad).all() for r in raw)
    assert any(r.grad[:, 10:].abs().sum() > 0 for r in raw)
    # docs/gghl.md#quirk-undetached-dynamic-weight: regression reaches class logits via w_dyn unless detached
    raw2 = [r.detach().clone().requires_grad_() for r in raw]
    for detach, nonzero in ((False, True), (True, False)):
        o = JOLLoss(4, detach_w_dyn=detach)(raw2, maps)
        reg = sum(o[k] for k in ("loss_iou", "loss_s", "loss_r", "loss_l"))
        grads = torch.autograd.grad(reg, raw2)
        cls_grad = sum(float(g[:, 10:].abs().sum()) for g in grads)
        assert (cls_grad > 0) == nonzero


def test_ciou_option_changes_only_iou_dependent_terms() -> None:
    raw, maps = _seeded(), _maps()
    g, c = JOLLoss(3)(raw, maps), JOLLoss(3, iou_type="ciou")(raw, maps)
    assert float(g["loss_iou"]) != pytest.approx(float(c["loss_iou"]), rel=1e-3)
    for key in ("loss_bg", "loss_s", "loss_r", "loss_l", "loss_neg", "loss_cls"):
        assert float(g[key]) == pytest.approx(float(c[key]), rel=1e-6), key
    with pytest.raises(ValueError):
        JOLLoss(3, iou_type="diou")


def test_iou_helpers_known_values() -> None:
    a = torch.tensor([[5.0, 5.0, 10.0, 10.0]])
    b = torch.tensor([[10.0, 5.0, 10.0, 10.0]])  # half overlap, same height
    assert float(aligned_iou_cxcywh(a, b, "iou")) == pytest.approx(50 / 150)
    assert float(aligned_iou_cxcywh(a, b, "giou")) == pytest.approx(50 / 150)  # enclosing box = union
    far = torch.tensor([[25.0, 5.0, 10.0, 10.0]])
    assert float(aligned_iou_cxcywh(a, far, "giou")) == pytest.approx(0 - (300 - 200) / 300)
    ciou = float(aligned_iou_cxcywh(a, b, "ciou"))
    assert ciou == pytest.approx(50 / 150 - 25 / (15**2 + 10**2), rel=1e-6)  # same aspect: v = 0


@pytest.mark.parametrize("where", ["raw", "maps"])
def test_nonfinite_inputs_are_reported(where: str) -> None:
    raw, maps = _seeded(), _maps()
    if where == "raw":
        raw[1] = raw[1].clone()
        raw[1][0, 0, 3, 3] = float("nan")
    else:
        maps[2] = maps[2].clone()
        maps[2][0, 1, 1, 0] = float("inf")
    with pytest.raises(FloatingPointError, match=rf"{where}\[{1 if where == 'raw' else 2}\]"):
        JOLLoss(3)(raw, maps)
    raw = [r.clone().requires_grad_() for r in raw]
    out = JOLLoss(3, nonfinite="flag")(raw, maps)
    assert bool(out["nonfinite"]) and float(out["loss"].detach()) == 0.0
    out["loss"].backward()  # a skipped step still has a graph with zero gradients
    assert all(torch.all(r.grad == 0) for r in raw)
    ok = JOLLoss(3, nonfinite="flag")(_seeded(), _maps())
    assert not bool(ok["nonfinite"])


def test_overflowing_logits_raise_clearly() -> None:
    raw = [torch.zeros_like(r) for r in _seeded()]
    raw[1][0, 0:4] = 200.0  # exp(200) overflows float32 -> inf boxes
    with pytest.raises(FloatingPointError, match="non-finite total"):
        JOLLoss(3)(raw, _maps())


def test_alg1_soft_maps_and_float64() -> None:
    gen = torch.Generator().manual_seed(2)
    maps = GaussianAssigner(3, variant="gghl_alg1").assign([random_scene(gen, 25, 256, 3)], 256)
    assert any(((m[..., 13] > 0) & (m[..., 13] < 1)).any() for m in maps)  # soft objectness present
    raw = [torch.randn(1, 13, 256 // s, 256 // s, generator=gen, dtype=torch.float64) for s in STRIDES]
    out64 = JOLLoss(3)(raw, maps)
    out32 = JOLLoss(3)([r.float() for r in raw], [m.float() for m in maps])
    assert out64["loss"].dtype == torch.float64
    for key in KEYS:
        assert float(out32[key]) == pytest.approx(float(out64[key]), rel=1e-4), key


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    raw, maps = _seeded(), _maps()
    cpu = JOLLoss(3)(raw, maps)
    gpu = JOLLoss(3)([r.cuda() for r in raw], [m.cuda() for m in maps])
    for key in KEYS:
        assert float(gpu[key]) == pytest.approx(float(cpu[key]), rel=1e-5), key


def test_half_precision_logits_are_upcast() -> None:
    raw = [r.to(torch.bfloat16) for r in _seeded()]
    out = JOLLoss(3)(raw, _maps())
    ref = JOLLoss(3)([r.float() for r in raw], _maps())
    assert out["loss"].dtype == torch.float32
    assert float(out["loss"]) == pytest.approx(float(ref["loss"]), rel=1e-6)
