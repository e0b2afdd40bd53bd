"""build_classifier: small_cnn, timm models by name, local checkpoint loading."""

import pytest
import torch

from gghl.models.classifier import build_classifier


def test_small_cnn_and_timm_shapes():
    x = torch.randn(2, 3, 32, 32)
    assert build_classifier("small_cnn", 10, width=8)(x).shape == (2, 10)
    m = build_classifier("resnet10t", 7, channels=(16, 32, 64, 128), stem_width=8)
    assert m(x).shape == (2, 7)


def test_checkpoint_path_state_dict_and_lightning_prefix(tmp_path):
    src = build_classifier("small_cnn", 10, width=8)
    torch.save(src.state_dict(), tmp_path / "w.pt")
    torch.save({"state_dict": {f"net.{k}": v for k, v in src.state_dict().items()}}, tmp_path / "l.ckpt")
    for name in ("w.pt", "l.ckpt"):
        dst = build_classifier("small_cnn", 10, width=8, checkpoint_path=str(tmp_path / name))
        torch.testing.assert_close(dst.head.weight, src.head.weight)
    # A different class count keeps the backbone and re-initialises the head.
    dst = build_classifier("small_cnn", 4, width=8, checkpoint_path=str(tmp_path / "w.pt"))
    torch.testing.assert_close(dst.features[0][0].weight, src.features[0][0].weight)
    with pytest.raises(FileNotFoundError, match="nope"):
        build_classifier("small_cnn", 10, checkpoint_path=str(tmp_path / "nope.pt"))
