"""DotaDataset on files written by the synthetic generator, and every kind of bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gghl.data.dota import DotaDataset
from gghl.data.dota_text import DotaFormatError
from gghl.data.image_io import ImageReadError, read_image
from gghl.data.synthetic import SyntheticOrientedDataset
from gghl.data.synthetic_export import write_synthetic_dota


@pytest.fixture(scope="module")
def syn() -> SyntheticOrientedDataset:
    return SyntheticOrientedDataset(6, img_size=160, seed=3, difficult_prob=0.3)


@pytest.fixture(scope="module")
def dota_root(tmp_path_factory, syn) -> Path:
    root = tmp_path_factory.mktemp("dota")
    write_synthetic_dota(syn, root, "train")
    return root


def _copy(root: Path, tmp_path: Path) -> Path:
    shutil.copytree(root, tmp_path / "d")
    return tmp_path / "d"


def test_read_back_exactly(dota_root, syn) -> None:
    ds = DotaDataset(dota_root, "train", class_names=syn.class_names)
    assert len(ds) == len(syn) and not ds.skipped
    n_diff = 0
    for i in range(len(syn)):
        r = syn.render(i)
        s = ds[i]
        assert s["image_id"] == syn.image_id(i)
        assert s["polygons"].dtype == torch.float64 and s["labels"].dtype == torch.int64
        np.testing.assert_allclose(s["polygons"].numpy(), r.polygons, atol=1e-6, rtol=0)
        assert np.array_equal(s["labels"].numpy(), r.labels)
        assert np.array_equal(s["difficult"].numpy(), r.difficult)
        n_diff += int(r.difficult.sum())
        assert s["image"].shape == (3, 160, 160) and s["image"].dtype == torch.float32
        assert torch.equal(
            (s["image"] * 255).round().to(torch.uint8).permute(1, 2, 0), torch.from_numpy(r.image)
        )
        assert s["orig_size"] == (160, 160)
        assert torch.equal(s["affine"], torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64))
        assert torch.equal(s["weights"], torch.ones(len(r.labels)))
    assert n_diff > 0, "fixture should contain difficult objects"
    rec = ds.records[0]
    assert rec.image_source == "synthetic" and rec.gsd == 0.5
    assert int(ds.num_objects().sum()) == sum(len(syn.render(i).labels) for i in range(len(syn)))


def test_empty_label_file_is_an_image_without_objects(dota_root, syn, tmp_path) -> None:
    root = _copy(dota_root, tmp_path)
    (root / "train" / "labelTxt" / f"{syn.image_id(2)}.txt").write_text("imagesource:synthetic\ngsd:null\n")
    ds = DotaDataset(root, "train", class_names=syn.class_names)
    s = ds[2]
    assert s["polygons"].shape == (0, 8) and s["labels"].shape == (0,) and s["difficult"].shape == (0,)


def test_malformed_line_raises_with_file_and_line_or_skips(dota_root, syn, tmp_path) -> None:
    root = _copy(dota_root, tmp_path)
    label = root / "train" / "labelTxt" / f"{syn.image_id(1)}.txt"
    lines = label.read_text().splitlines()
    lines.insert(3, "10 10 20 10 20 20 plane 0")
    label.write_text("\n".join(lines) + "\n")
    with pytest.raises(DotaFormatError, match=rf"{label.name}:4: expected 9 or 10 tokens"):
        DotaDataset(root, "train", class_names=syn.class_names)
    ds = DotaDataset(root, "train", class_names=syn.class_names, on_error="skip")
    assert ds.skipped["malformed_line"] == 1
    assert len(ds[1]["labels"]) == len(syn.render(1).labels)  # the good lines are all kept


def test_unknown_class(dota_root, syn, tmp_path) -> None:
    root = _copy(dota_root, tmp_path)
    label = root / "train" / "labelTxt" / f"{syn.image_id(0)}.txt"
    label.write_text(label.read_text() + "1 1 5 1 5 5 1 5 spaceship 0\n")
    n_lines = len(label.read_text().splitlines())
    with pytest.raises(DotaFormatError) as info:
        DotaDataset(root, "train", class_names=syn.class_names)
    msg = str(info.value)
    assert f"{label}:{n_lines}:" in msg and "'spaceship'" in msg and "storage-tank" in msg
    ds = DotaDataset(root, "train", class_names=syn.class_names, on_error="skip")
    assert ds.skipped["unknown_class"] == 1 and len(ds) == len(syn)


def test_missing_image_and_missing_label(dota_root, syn, tmp_path) -> None:
    root = _copy(dota_root, tmp_path)
    (root / "train" / "images" / f"{syn.image_id(4)}.png").unlink()
    with pytest.raises(FileNotFoundError, match=f"{syn.image_id(4)}.txt: no image"):
        DotaDataset(root, "train", class_names=syn.class_names)
    ds = DotaDataset(root, "train", class_names=syn.class_names, on_error="skip")
    assert len(ds) == len(syn) - 1 and ds.skipped["missing_image"] == 1
    (root / "train" / "labelTxt" / f"{syn.image_id(4)}.txt").unlink()  # drop entry 4 entirely
    (root / "train" / "labelTxt" / f"{syn.image_id(5)}.txt").unlink()
    with pytest.raises(FileNotFoundError, match=f"{syn.image_id(5)}.png: no label file"):
        DotaDataset(root, "train", class_names=syn.class_names)
    with pytest.raises(FileNotFoundError, match="images folder not found"):
        DotaDataset(root, "nosplit", class_names=syn.class_names)


@pytest.mark.parametrize("damage", ["random_bytes", "truncated"])
def test_corrupt_png(dota_root, syn, tmp_path, damage: str) -> None:
    root = _copy(dota_root, tmp_path)
    img = root / "train" / "images" / f"{syn.image_id(3)}.png"
    data = img.read_bytes()
    img.write_bytes(
        np.random.default_rng(0).bytes(2000) if damage == "random_bytes" else data[: len(data) // 2]
    )
    ds = DotaDataset(root, "train", class_names=syn.class_names)  # lazy: found when loaded
    with pytest.raises(ImageReadError, match=str(img)):
        ds[3]
    with pytest.raises(ImageReadError, match=img.name):
        DotaDataset(root, "train", class_names=syn.class_names, check_images=True)
    ds = DotaDataset(root, "train", class_names=syn.class_names, check_images=True, on_error="skip")
    assert len(ds) == len(syn) - 1 and ds.skipped["corrupt_image"] == 1


def test_split_without_labels_indexes_images(dota_root, syn, tmp_path) -> None:
    root = _copy(dota_root, tmp_path)
    shutil.rmtree(root / "train" / "labelTxt")
    ds = DotaDataset(root, "train", class_names=syn.class_names)
    assert len(ds) == len(syn) and ds[0]["polygons"].shape == (0, 8)


def test_image_modes(tmp_path) -> None:
    gray16 = (np.arange(12 * 10, dtype=np.uint16).reshape(12, 10) * 500).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    assert out.shape == (12, 10, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], np.rint(gray16 * 255.0 / 65535.0).astype(np.uint8))
    rgba = np.random.default_rng(1).integers(0, 256, (8, 9, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgba[..., :3])
    Image.fromarray(rgba[..., 0]).save(tmp_path / "gray.png")
    np.testing.assert_array_equal(read_image(tmp_path / "gray.png"), np.repeat(rgba[..., :1], 3, axis=2))
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "missing.png")
    assert Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS >= 20000 * 20000
