"""Conv + batch-norm folding for inference (gghl.export.fuse)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from gghl.export.fuse import FuseError, fuse_conv_bn
from gghl.testing.tiny import tiny_gghl_net


def _random_bn_statistics(net: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial running statistics and affine parameters, so a wrong fold shows."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=gen) - 0.5)


@pytest.mark.parametrize("backbone", ["test_resnet", "resnet10t"])
def test_fused_gghl_net_computes_the_same_function(backbone: str) -> None:
    gen = torch.Generator().manual_seed(0)
    net = tiny_gghl_net(3, backbone=backbone)
    _random_bn_statistics(net, gen)
    net.train()
    fused = fuse_conv_bn(net)
    assert net.training, "the original keeps its mode"
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) > 0
    assert sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules()) == 0
    x = torch.rand(2, 3, 64, 64, generator=gen)
    net.eval()
    with torch.no_grad():
        ref, out = net(x), fused(x)
    for r, o in zip(ref, out):
        assert r.shape == o.shape
        assert float((r - o).abs().max()) <= 1e-5 * float(r.abs().max())


class _DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: Tensor) -> Tensor:
        if x.sum() > 0:  # untraceable: depends on the values
            return self.bn(self.conv(x))
        return x


def test_untraceable_network_is_a_named_error() -> None:
    with pytest.raises(FuseError, match="_DataDependent"):
        fuse_conv_bn(_DataDependent())


def test_checkpoint_model_fuse_bn_gives_the_same_detections(checkpoints: dict) -> None:
    from gghl.export import CheckpointModel
    from gghl.tasks.restore import restore_task

    loaded = restore_task(checkpoints["gghl"])
    plain, fused = CheckpointModel(loaded), CheckpointModel(loaded, fuse_bn=True)
    assert fused.fused is not None and plain.fused is None
    plain.score_thresh = fused.score_thresh = 0.0  # keep many detections, so NMS and ranking are compared
    x = torch.rand(2, 3, plain.img_size, plain.img_size, generator=torch.Generator().manual_seed(1))
    for a, b in zip(plain.predict_batch(x), fused.predict_batch(x)):
        assert a["polygons"].shape[0] > 0 and a["polygons"].shape == b["polygons"].shape
        assert torch.equal(a["labels"], b["labels"])
        assert float((a["polygons"] - b["polygons"]).abs().max()) < 1e-3
        assert float((a["scores"] - b["scores"]).abs().max()) < 1e-5


def test_fuse_bn_on_another_model_kind_is_refused(checkpoints: dict) -> None:
    from gghl.export import CheckpointModel
    from gghl.tasks.restore import restore_task

    with pytest.raises(ValueError, match="GGHL checkpoints only; this one is kind=classifier"):
        CheckpointModel(restore_task(checkpoints["classifier"]), fuse_bn=True)
