"""Darknet binary weights (darknet53.conv.74 / darknet53_448.weights layout) and timm weight files load into the
backbone through ``checkpoint_path``, detected by content.

The writers here follow the file format from its description (header, then per convolution BN bias, BN weight,
running mean, running var, conv weight), with the convolution order spelled out from names (darknet's cfg
order), not from the loader's module walk; every tensor is then compared with what was written.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import timm
import torch

from gghl.models.backbones import TimmBackbone
from gghl.models.backbones.darknet_weights import conv_units, is_darknet_file, load_darknet_weights
from gghl.models.backbones.weights_format import weights_file_format
from gghl.models.convert import official_key_map
from gghl.models.gghl_detector import build_gghl_detector
from gghl.models.layers import ConvBNAct

from .official_gghl_weights import fixture_meta

HEADER_V2 = (
    np.array([0, 2, 0], "<i4").tobytes() + np.array([32013312], "<i8").tobytes()
)  # 20 bytes: seen is int64
HEADER_V1 = np.array([0, 1, 0, 12345], "<i4").tobytes()  # 16 bytes: seen is int32


def _timm_conv_order(state_keys: list[str]) -> list[str]:
    """Darknet cfg order of a timm Darknet: stem, then per stage the stride-2 conv and each block's conv1, conv2."""
    prefixes = {k.rsplit(".conv.weight", 1)[0] for k in state_keys if k.endswith(".conv.weight")}

    def rank(p: str) -> tuple[int, int, int]:
        if p == "stem_conv1":
            return (-1, 0, 0)
        m = re.fullmatch(r"stages_(\d)\.(?:conv_down|blocks\.(\d+)\.conv([12]))", p)
        assert m is not None, p
        return (int(m[1]), -1, 0) if m[2] is None else (int(m[1]), int(m[2]), int(m[3]))

    return sorted(prefixes, key=rank)


def _write_darknet(path: Path, header: bytes, units: list[list[torch.Tensor]], extra: int = 0) -> None:
    with path.open("wb") as f:
        f.write(header)
        for tensors in units:
            for t in tensors:
                f.write(t.detach().numpy().astype("<f4").tobytes())
        f.write(np.arange(extra, dtype="<f4").tobytes())


def _random_units(shapes: list[tuple[int, ...]], seed: int) -> list[list[torch.Tensor]]:
    """Per conv ``[bn bias, bn weight, running mean, running var (positive), conv weight]``."""
    g = torch.Generator().manual_seed(seed)
    units = []
    for shape in shapes:
        n = shape[0]
        units.append(
            [
                torch.randn(n, generator=g),
                torch.randn(n, generator=g),
                torch.randn(n, generator=g),
                torch.rand(n, generator=g) + 0.5,
                torch.randn(shape, generator=g),
            ]
        )
    return units


def test_darknet_file_loads_weight_by_weight_through_checkpoint_path(tmp_path: Path) -> None:
    with torch.device("meta"):
        ref = timm.create_model("darknet17", features_only=True, out_indices=(3, 4, 5)).state_dict()
    order = _timm_conv_order(list(ref))
    units = _random_units([tuple(ref[f"{p}.conv.weight"].shape) for p in order], seed=1)
    path = tmp_path / "darknet17.weights"
    _write_darknet(path, HEADER_V2, units, extra=1000 * 1024 + 1000)  # + an ImageNet classifier, ignored
    assert weights_file_format(path) == "darknet"
    net = build_gghl_detector(
        3, backbone="darknet17", checkpoint_path=str(path), neck_widths=(16, 32, 64), neck_convs=1, spp=False
    )
    got = net.backbone.body.state_dict()
    for prefix, (beta, gamma, mean, var, weight) in zip(order, units):
        for leaf, value in (
            ("bn.bias", beta),
            ("bn.weight", gamma),
            ("bn.running_mean", mean),
            ("bn.running_var", var),
            ("conv.weight", weight),
        ):
            assert torch.equal(got[f"{prefix}.{leaf}"], value), f"{prefix}.{leaf}"


def _small_darknet() -> torch.nn.Module:
    """Stem + one stage of a Darknet in our own blocks (conv+BN units) and a plain conv with bias at the end."""
    return torch.nn.Sequential(
        ConvBNAct(3, 8, 3),
        ConvBNAct(8, 16, 3, stride=2),
        ConvBNAct(16, 8, 1),
        ConvBNAct(8, 16, 3),
        torch.nn.Conv2d(16, 5, 1),
    )


def test_darknet_old_header_and_a_conv_with_bias(tmp_path: Path) -> None:
    net = _small_darknet()
    shapes = [tuple(m[0].weight.shape) for m in list(net)[:4]]
    units = _random_units(shapes, seed=5)
    head_bias, head_weight = torch.randn(5), torch.randn(5, 16, 1, 1)
    path = tmp_path / "small.weights"
    _write_darknet(path, HEADER_V1, [*units, [head_bias, head_weight]])
    assert weights_file_format(path) == "darknet"
    info = load_darknet_weights(net, path)
    assert (info["major"], info["minor"], info["seen"], info["convs"], info["floats_ignored"]) == (
        0,
        1,
        12345,
        5,
        0,
    )
    for m, (beta, gamma, mean, var, weight) in zip(list(net)[:4], units):
        conv, bn = m[0], m[1]
        assert all(
            torch.equal(a, b)
            for a, b in (
                (bn.bias, beta),
                (bn.weight, gamma),
                (bn.running_mean, mean),
                (bn.running_var, var),
                (conv.weight, weight),
            )
        )
    assert torch.equal(net[4].bias, head_bias) and torch.equal(net[4].weight, head_weight)


def test_darknet_file_errors_name_the_file_and_the_conv(tmp_path: Path) -> None:
    body = _small_darknet()
    n_units = len(conv_units(body))
    units = _random_units([tuple(m[0].weight.shape) for m in list(body)[:4]], seed=2)
    order = ["0", "1", "2", "3"]
    short = tmp_path / "short.weights"
    _write_darknet(short, HEADER_V2, units[:-1])
    last = re.escape(f"'{order[-1]}.0' (of {n_units})")
    with pytest.raises(
        ValueError, match=rf"short.weights: darknet weights end after \d+ values, but conv #3 {last}"
    ):
        load_darknet_weights(body, short)
    info_path = tmp_path / "full.weights"
    _write_darknet(info_path, HEADER_V2, [*units, [torch.zeros(5), torch.zeros(5, 16, 1, 1)]], extra=7)
    info = load_darknet_weights(body, info_path)
    assert (info["convs"], info["floats_ignored"], info["seen"]) == (n_units, 7, 32013312)
    no_bias = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1, bias=False))
    with pytest.raises(ValueError, match="conv #0 '0' has neither batch norm nor bias"):
        load_darknet_weights(no_bias, info_path)
    with pytest.raises(ValueError, match="has no convolution"):
        load_darknet_weights(torch.nn.Linear(2, 2), info_path)


def test_format_detection_by_content(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    t = {"a": torch.zeros(3)}
    torch.save(t, tmp_path / "a.weights")  # a torch file whatever its name
    torch.save(t, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    save_file(t, tmp_path / "a.bin")
    _write_darknet(tmp_path / "d.pth", HEADER_V2, [[torch.zeros(2)]])
    assert [weights_file_format(tmp_path / n) for n in ("a.weights", "legacy.pt", "a.bin", "d.pth")] == [
        "torch",
        "torch",
        "safetensors",
        "darknet",
    ]
    assert not is_darknet_file(tmp_path / "a.bin")


def _save_timm(state: dict, path: Path, kind: str) -> None:
    from safetensors.torch import save_file

    if kind == "safetensors":
        save_file(state, path)
    else:
        torch.save({"state_dict": state} if kind == "pth-state_dict" else state, path)


def _check_full_model_file_loads(name: str, tmp_path: Path, kind: str) -> None:
    torch.manual_seed(3)
    state = timm.create_model(name).state_dict()  # the whole classifier, as timm publishes it
    path = tmp_path / ("w.safetensors" if kind == "safetensors" else "w.pth")
    _save_timm(state, path, kind)
    got = TimmBackbone(name, checkpoint_path=str(path)).body.state_dict()
    # timm's feature wrapper renames the full model's stem.conv1 / stages.0 to stem_conv1 / stages_0: the stem
    # must load too (it was silently skipped before)
    full_key = {k: re.sub(r"^stages_(\d)", r"stages.\1", re.sub(r"^stem_", "stem.", k)) for k in got}
    assert any(k != v for k, v in full_key.items())
    assert all(torch.equal(got[k], state[full_key[k]]) for k in got)


@pytest.mark.parametrize("kind", ["safetensors", "pth", "pth-state_dict"])
def test_timm_weight_files_keep_loading(tmp_path: Path, kind: str) -> None:
    _check_full_model_file_loads(
        "test_nfnet", tmp_path, kind
    )  # 0.4 M parameters, stem flattened like darknet's


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["safetensors", "pth"])
def test_timm_darknet53_files_keep_loading(tmp_path: Path, kind: str) -> None:
    _check_full_model_file_loads("darknet53", tmp_path, kind)


def test_timm_weight_file_of_another_model_is_refused(tmp_path: Path) -> None:
    state = timm.create_model("test_nfnet").state_dict()
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in state.items() if not k.startswith("stem.conv1.")}, partial)
    with pytest.raises(
        ValueError, match=r"partial.pth: 3 of \d+ backbone weights are not in the file .*stem_conv1"
    ):
        TimmBackbone("test_nfnet", checkpoint_path=str(partial))
    shaped = tmp_path / "shaped.pth"
    torch.save({**state, "stem.conv1.weight": torch.zeros(1, 1, 1, 1)}, shaped)
    with pytest.raises(
        ValueError,
        match=r"shaped.pth: 1 backbone weights have another shape .*stem_conv1.weight \(1, 1, 1, 1\) vs",
    ):
        TimmBackbone("test_nfnet", checkpoint_path=str(shaped))
    other = tmp_path / "other.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), other)
    with pytest.raises(ValueError, match="no weight in .*other.pth matches the backbone"):
        TimmBackbone("test_nfnet", checkpoint_path=str(other))


def test_timm_darknet53_network_order_is_the_official_one() -> None:
    """The loader walks convolutions in module order; for timm darknet53 that is the official Darknet53 order
    (the order of ``load_darknet_weights`` with cutoff 52 in the official code)."""
    with torch.device("meta"):
        body = TimmBackbone("darknet53").body
    ours = [f"backbone.body.{name}.weight" for name, _, bn in conv_units(body)]
    assert len(ours) == 52 and all(bn is not None for _, _, bn in conv_units(body))
    to_ours = official_key_map(15)
    official = [
        to_ours[k]
        for k, _, _ in fixture_meta()["keys"]
        if k.startswith("_GGHL__backnone") and k.endswith("_Convolutional__conv.weight")
    ]
    assert ours == official


@pytest.mark.slow
def test_darknet53_conv74_in_official_order_loads_weight_by_weight(tmp_path: Path) -> None:
    """A full-size darknet53.conv.74 written in the official backbone's key order (52 convs, 166 MB)."""
    keys = [(k, shape) for k, shape, _ in fixture_meta()["keys"] if k.startswith("_GGHL__backnone")]
    convs = [
        k[: -len("._Convolutional__conv.weight")]
        for k, _ in keys
        if k.endswith("_Convolutional__conv.weight")
    ]
    shapes = dict(keys)
    units = _random_units([tuple(shapes[f"{c}._Convolutional__conv.weight"]) for c in convs], seed=4)
    path = tmp_path / "darknet53.conv.74"
    _write_darknet(path, HEADER_V2, units)
    assert path.stat().st_size == 20 + 4 * sum(t.numel() for u in units for t in u)
    assert path.stat().st_size == 162_482_580  # the size of the published darknet53.conv.74
    net = build_gghl_detector(15, checkpoint_path=str(path))
    got = net.state_dict()
    to_ours = official_key_map(15)
    for conv, (beta, gamma, mean, var, weight) in zip(convs, units):
        for leaf, value in (
            ("norm.bias", beta),
            ("norm.weight", gamma),
            ("norm.running_mean", mean),
            ("norm.running_var", var),
            ("conv.weight", weight),
        ):
            assert torch.equal(got[to_ours[f"{conv}._Convolutional__{leaf}"]], value), (conv, leaf)
