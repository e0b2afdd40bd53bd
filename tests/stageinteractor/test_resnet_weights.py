"""ImageNet ResNet-50 weights (a saved torchvision / timm ``resnet50`` state dict) load into the query
detector's backbone from a local path, as the official recipe starts from them (``torchvision://resnet50``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gghl.models.query.detector import QueryDetector

SMALL_DECODER = dict(
    num_queries=4, dim=32, num_stages=1, heads=2, ffn_dim=32, groups=2, points=2, subboxes=[2], out_points=4
)


def _check_backbone_equals(det: QueryDetector, state: dict[str, torch.Tensor]) -> None:
    got = det.backbone.body.state_dict()
    assert len(got) == 318 and set(state) - set(got) == {"fc.weight", "fc.bias"}
    for key, value in got.items():
        assert torch.equal(value, state[key]), key


def test_torchvision_resnet50_state_dict_loads_into_the_backbone(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(0)
    state = torchvision.models.resnet50().state_dict()
    for key, value in state.items():  # distinctive statistics, so a skipped BN buffer would show
        if key.endswith(("running_mean", "running_var")):
            value.uniform_(0.5, 1.5)
    path = tmp_path / "resnet50-torchvision.pth"
    torch.save(state, path)
    det = QueryDetector(3, backbone="resnet50", checkpoint_path=str(path), **SMALL_DECODER)
    _check_backbone_equals(det, state)
    # the paper recipe on top: BN frozen with the file's statistics, stem + layer1 without gradients
    frozen = QueryDetector(
        3, backbone="resnet50", checkpoint_path=str(path), freeze_bn=True, frozen_stages=1, **SMALL_DECODER
    )
    body = frozen.backbone.body
    torch.testing.assert_close(
        body.layer2[0].bn1.running_var, state["layer2.0.bn1.running_var"], rtol=0, atol=0
    )
    assert not any(p.requires_grad for n in ("conv1", "layer1") for p in getattr(body, n).parameters())
    assert all(p.requires_grad for p in body.layer2.parameters())


def test_frozen_stages_needs_resnet_stage_names() -> None:
    from gghl.models.query.tiny_backbone import TinyConvBackbone

    with pytest.raises(
        ValueError, match=r"frozen_stages=1 needs a ResNet-style backbone.*missing \['conv1', 'bn1'"
    ):
        QueryDetector(3, backbone=TinyConvBackbone((8, 8, 16, 16), 8, 0), frozen_stages=1, **SMALL_DECODER)


@pytest.mark.slow
def test_timm_resnet50_safetensors_loads_into_the_backbone(tmp_path: Path) -> None:
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    state = timm.create_model("resnet50").state_dict()
    path = tmp_path / "resnet50-timm.safetensors"
    save_file(state, str(path))
    _check_backbone_equals(
        QueryDetector(3, backbone="resnet50", checkpoint_path=str(path), **SMALL_DECODER), state
    )
