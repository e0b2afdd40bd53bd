"""GGHL model shapes, parameter count against the official model, ORC polygons and coordinate mapping."""

import math

import pytest
import torch

from gghl.models.coords import apply_affine_to_points, invert_affine
from gghl.models.gghl_detector import build_gghl_detector
from gghl.models.heads import GGHLHead


def test_light_model_raw_shapes() -> None:
    net = build_gghl_detector(5, backbone="resnet10t", neck_widths=(32, 64, 128), neck_convs=1, spp=False)
    raw = net(torch.randn(2, 3, 96, 96))
    assert [tuple(r.shape) for r in raw] == [(2, 15, 12, 12), (2, 15, 6, 6), (2, 15, 3, 3)]


def test_backbone_options_set_the_timm_widths() -> None:
    # the make train model: resnet10t at half width (timm ResNet ``channels`` / ``stem_width``)
    net = build_gghl_detector(
        5,
        backbone="resnet10t",
        neck_widths=(32, 64, 128),
        neck_convs=1,
        spp=False,
        backbone_options={"channels": [32, 64, 128, 256], "stem_width": 16},
    )
    assert net.backbone.channels == [64, 128, 256]
    assert net.backbone.body.conv1[0].out_channels == 12  # tiered stem: 3/4 of stem_width, then stem_width
    raw = net(torch.randn(1, 3, 64, 64))
    assert [tuple(r.shape) for r in raw] == [(1, 15, 8, 8), (1, 15, 4, 4), (1, 15, 2, 2)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pretrained": True}, r"may not set \['pretrained'\]"),
        ({"out_indices": [1], "checkpoint_path": "x"}, r"may not set \['checkpoint_path', 'out_indices'\]"),
        (
            {"channelz": [1, 2, 3, 4]},
            r"backbone_options \['channelz'\] for timm model 'resnet10t'.*=null drops",
        ),
        ([32, 64], r"backbone_options must be a mapping, got \[32, 64\]"),
    ],
)
def test_backbone_options_errors_name_the_key(options: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_gghl_detector(5, backbone="resnet10t", neck_widths=(32, 64, 128), backbone_options=options)


def test_paper_model_parameter_count_matches_official() -> None:
    # docs/gghl.md#head-and-decode: official Darknet53 GGHL: 68.78 M parameters at C = 15 (backbone 40.58 M)
    with torch.device("meta"):  # shapes only: no memory, no init cost
        net = build_gghl_detector(15, backbone="darknet53", prior_prob=None)
    total = sum(p.numel() for p in net.parameters()) / 1e6
    backbone = sum(p.numel() for p in net.backbone.parameters()) / 1e6
    assert round(total, 2) == 68.78
    assert round(backbone, 2) == 40.58


def test_head_prior_initialisation() -> None:
    head = GGHLHead([8, 16], num_classes=3, prior_prob=0.01)
    # In eval mode BN maps a zero input to ~0, so the output is the bias: sigmoid = prior on conf and classes.
    head.eval()
    raw = head([torch.zeros(1, 8, 4, 4), torch.zeros(1, 16, 2, 2)])
    conf = torch.sigmoid(raw[0][:, 9])
    cls = torch.sigmoid(raw[0][:, 10:])
    assert torch.allclose(conf, torch.full_like(conf, 0.01), atol=1e-3)
    assert torch.allclose(cls, torch.full_like(cls, 0.01), atol=1e-3)


def test_affine_inverse_round_trip() -> None:
    ang = 0.3
    a = torch.tensor(
        [[2 * math.cos(ang), -2 * math.sin(ang), 5.0], [2 * math.sin(ang), 2 * math.cos(ang), -7.0]],
        dtype=torch.float64,
    )
    pts = torch.rand(10, 8, dtype=torch.float64) * 100
    back = apply_affine_to_points(apply_affine_to_points(pts, a), invert_affine(a))
    assert torch.allclose(back, pts, atol=1e-10)


def test_orc_polygon_from_decoded() -> None:
    from gghl.structures.gghl_decode import decoded_to_polygons

    dec = torch.zeros(2, 14 + 2)
    dec[:, :4] = torch.tensor([50.0, 40.0, 20.0, 10.0])
    dec[1, 4:8] = torch.tensor([0.5, 0.5, 0.5, 0.5])
    polys = decoded_to_polygons(dec)
    # s = 0: the HBB corners TL, TR, BR, BL.
    assert polys[0].tolist() == [40.0, 35.0, 60.0, 35.0, 60.0, 45.0, 40.0, 45.0]
    # s = 0.5: the mid-points of the sides (a diamond), top, right, bottom, left.
    assert polys[1].tolist() == [50.0, 35.0, 60.0, 40.0, 50.0, 45.0, 40.0, 40.0]
