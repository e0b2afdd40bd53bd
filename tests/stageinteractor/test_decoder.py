"""Decoder pieces: box parameterisation, sampling geometry, mixing/reuse, parameter counts."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from gghl.models.query.boxes import (
    iof_attention_bias,
    position_embedding,
    refine_xyzr,
    whole_image_xyzr,
    xyxy_to_xyzr,
    xyzr_to_xyxy,
)
from gghl.models.query.decoder import QueryDecoder
from gghl.models.query.mixing import AdaptiveMixing
from gghl.models.query.sampler import SubboxSampler

_spec = importlib.util.spec_from_file_location(
    "count_params_stageinteractor", Path(__file__).parents[2] / "scripts" / "count_params_stageinteractor.py"
)
count_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(count_mod)


def test_xyzr_roundtrip_and_refine():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 100.0], [0.0, 0.0, 8.0, 2.0]])
    xyzr = xyxy_to_xyzr(boxes)
    torch.testing.assert_close(xyzr_to_xyxy(xyzr), boxes)
    assert xyzr[0, 2].item() == pytest.approx(math.log2(math.sqrt(40 * 80)))
    assert xyzr[0, 3].item() == pytest.approx(1.0)  # log2(h/w) = log2(2)
    d = torch.tensor([[0.5, -0.25, 1.0, 0.0]] * 2)
    new = refine_xyzr(xyzr, d)  # StageInteractor: x += dx*w, y += dy*h
    assert new[0, 0].item() == pytest.approx(30 + 0.5 * 40) and new[0, 1].item() == pytest.approx(
        60 - 0.25 * 80
    )
    old = refine_xyzr(xyzr, d, scale_xy_by_wh=False)  # AdaMixer: both by 2^z
    assert old[0, 0].item() == pytest.approx(30 + 0.5 * math.sqrt(3200))
    torch.testing.assert_close(
        xyzr_to_xyxy(new)[0, 2:] - xyzr_to_xyxy(new)[0, :2], torch.tensor([80.0, 160.0])
    )
    init = whole_image_xyzr(torch.tensor([[320.0, 200.0]]), 3)
    assert init.shape == (1, 3, 4)
    torch.testing.assert_close(
        xyzr_to_xyxy(init)[0, 0], torch.tensor([0.0, 0.0, 320.0, 200.0]), atol=1e-4, rtol=0
    )


def test_position_embedding_and_iof_bias():
    xyzr = torch.tensor([[[100.0, 200.0, 5.0, 0.5]]])
    pe = position_embedding(xyzr, 256)
    assert pe.shape == (1, 1, 256)
    assert pe[0, 0, 0].item() == pytest.approx(math.sin(0.1)) and pe[0, 0, 1].item() == pytest.approx(
        math.cos(0.1)
    )
    assert pe[0, 0, 128].item() == pytest.approx(math.sin(5.0))  # z is not divided
    boxes = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 5.0, 10.0], [20, 20, 30, 30]]])
    bias = iof_attention_bias(boxes, torch.tensor([1.0, 2.0]))
    assert bias.shape == (2, 3, 3)
    assert bias[0, 0, 1].item() == pytest.approx(math.log(0.5 + 1e-7))  # IoF divides by box i's area
    assert bias[0, 1, 0].item() == pytest.approx(math.log(1 + 1e-7), abs=1e-6)
    assert bias[1, 0, 1].item() == pytest.approx(2 * math.log(0.5 + 1e-7))
    assert bias[0, 0, 2].item() < -16


def test_sampler_geometry_matches_pixel_coordinates():
    """Sampling maps whose value is the pixel-centre x (or y) returns the point's own x (or y)."""
    torch.manual_seed(0)
    dim, g = 8, 2
    s = SubboxSampler(dim, groups=g, subboxes=2, points=3, num_levels=2)
    torch.nn.init.normal_(s.gen_one.weight, std=0.05)
    feats, strides = [], [4, 8]
    for st in strides:
        h = w = 128 // st
        xs = (torch.arange(w) + 0.5) * st
        ys = (torch.arange(h) + 0.5) * st
        f = torch.zeros(1, dim, h, w)
        f[:, 0::2] = xs.view(1, 1, w).expand(1, h, w)[:, None]  # even channels: x, odd: y
        f[:, 1::2] = ys.view(1, h, 1).expand(1, h, w)[:, None]
        feats.append(f)
    q = torch.randn(1, 3, dim)
    xyzr = xyxy_to_xyzr(torch.tensor([[[40.0, 40.0, 80.0, 70.0], [50, 50, 60, 60], [30, 60, 90, 90]]]))
    out = s(feats, q, xyzr, strides)  # [1, 3, G, P*K, Cg]
    px, py, pz = s.point_positions(q, xyzr)
    inside = (px > 4) & (px < 124) & (py > 4) & (py < 124)
    assert inside.all()
    torch.testing.assert_close(out[..., 0], px, rtol=0, atol=1e-3)
    torch.testing.assert_close(out[..., 1], py, rtol=0, atol=1e-3)
    # point formula: x = cx + w*(dx0 + 2^dz0 * dx1)
    o1 = s.gen_one(q).view(1, 3, g, 2, 3)
    o2 = s.gen_two(q).view(1, 3, 3, 3)
    w = 40.0
    exp = 60 + w * (o1[0, 0, 1, 0, 0] + 2 ** o1[0, 0, 1, 0, 2] * o2[0, 0, 2, 0])
    assert px[0, 0, 1, 2].item() == pytest.approx(exp.item(), rel=1e-5)


def test_mixing_shapes_and_reuse_zero_init():
    torch.manual_seed(0)
    b, n, g, p, k, d = 2, 3, 2, 2, 4, 32
    m1 = AdaptiveMixing(d, g, p, k, out_points=8, num_reused=0, dynamic_bias=True)
    m2 = AdaptiveMixing(d, g, p, k, out_points=8, num_reused=1, dynamic_bias=True)
    for m in (m1, m2):
        torch.nn.init.normal_(m.generator.weight, std=0.1)
        torch.nn.init.normal_(m.out_proj.weight, std=0.1)
    x = torch.randn(b, n, g, p * k, d // g)
    q = torch.randn(b, n, d)
    out1, k1 = m1(x, q, [])
    assert out1.shape == (b, n, d) and k1.M.shape == (b, n, g, 16, 16) and k1.S.shape == (b, n, g, 8, p * k)
    out2, k2 = m2(x, q, [k1])
    assert k2.S.shape == (b, n, g, 8, p * k)
    # zero-init gates = 0.5: the second half of S is the mean of the previous and own rows
    torch.testing.assert_close(k2.S[..., 4:, :], 0.75 * k2.S[..., :4, :] + 0.25 * k1.S[..., :4, :])
    out2.sum().backward()
    assert m1.generator.weight.grad.abs().sum() > 0  # reused kernels are not detached
    with pytest.raises(ValueError):
        m2(x, q, [])


@pytest.mark.parametrize("reuse", [True, False])
def test_decoder_init_state_and_gradients(reuse):
    torch.manual_seed(0)
    s, b, n, c, d = 4, 2, 5, 3, 32
    dec = QueryDecoder(
        c,
        s,
        d,
        heads=4,
        ffn_dim=64,
        groups=2,
        points=4,
        subboxes=[4, 2, 2, 2] if reuse else 2,
        out_points=8,
        reuse_operators=reuse,
    )
    feats = [torch.randn(b, d, 64 // st, 64 // st) for st in (4, 8, 16, 32)]
    xyzr = whole_image_xyzr(torch.tensor([[64.0, 64.0]] * b), n)
    out = dec(feats, [4, 8, 16, 32], torch.randn(b, n, d), xyzr)
    assert out["cls_logits"].shape == (s, b, n, c) and out["boxes"].shape == (s, b, n, 4)
    # zero-initialised box branch: every stage still predicts the whole image; cls prior 0.01
    torch.testing.assert_close(
        out["boxes"], torch.tensor([0.0, 0.0, 64.0, 64.0]).expand(s, b, n, 4), atol=1e-4, rtol=0
    )
    assert out["cls_logits"].sigmoid().mean().item() == pytest.approx(0.01, rel=0.5)
    out["cls_logits"][-1].sum().backward()
    gen1 = dec.stages[1].mixing.generator.weight.grad
    # stage 3 reuses stage 1's kernels (StageInteractor); without reuse only the query path carries grads
    assert gen1 is not None
    assert len(dec.stages[3].mixing.adapters) == (2 if reuse else 0)


def test_paper_mixing_parameter_counts():
    si = count_mod.mixing_counts(reuse=True)
    am = count_mod.mixing_counts(reuse=False)
    dead = [count_mod.DEAD_PER_REUSED * max(s - 1, 0) for s in range(6)]
    for s, spec in count_mod.SPEC_M.items():
        assert abs((si[s] + dead[s]) / 1e6 - spec) < 0.01, s
    assert abs((sum(si) + sum(dead)) / 1e6 - 103.82) < 0.01
    assert abs(sum(am) / 1e6 - 100.86) < 0.01 and abs(am[0] / 1e6 - 16.81) < 0.01
    # exact numbers of our modules (released layout minus the dead subbox_score Linear)
    assert si[:3] == [21_218_304, 17_007_616, 15_526_784] and si[5] == 17_104_256
