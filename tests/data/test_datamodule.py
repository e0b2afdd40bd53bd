"""Detection DataModules: construction attributes, one batch per split, letterbox affine,
multi-scale batches, deterministic loading, Hydra configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from gghl.configs import CONFIG_DIR
from gghl.data.detection_datamodule import CocoDataModule, DotaDataModule, SyntheticDataModule
from gghl.data.multiscale import MultiScaleBatchSampler
from gghl.data.synthetic import SyntheticOrientedDataset
from gghl.data.synthetic_export import write_synthetic_coco, write_synthetic_dota

CONFIGS = Path(CONFIG_DIR) / "data"
SMALL = dict(train_size=8, val_size=4, test_size=4, batch_size=4, num_workers=0)


def _check_batch(images: torch.Tensor, targets: list[dict], size: int, b: int) -> None:
    assert images.shape == (b, 3, size, size) and images.dtype == torch.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert len(targets) == b
    for t in targets:
        n = t["labels"].shape[0]
        assert t["polygons"].shape == (n, 8) and t["obb"].shape == (n, 5) and t["hbb"].shape == (n, 4)
        assert t["difficult"].shape == (n,) and t["weights"].shape == (n,)
        assert t["affine"].shape == (2, 3) and isinstance(t["image_id"], str) and len(t["orig_size"]) == 2


def test_synthetic_datamodule_batches_and_affine() -> None:
    dm = SyntheticDataModule(img_size=128, gen_size=96, **SMALL)
    assert dm.num_classes == 5 and dm.class_names[0] == "plane"  # before setup
    dm.setup("fit")
    dm.setup("test")
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        images, targets = next(iter(loader))
        _check_batch(images, targets, 128, 4)
    # val: no augmentation, letterbox 96 -> 128 is a pure scale; the affine maps original polygons
    images, targets = next(iter(dm.val_dataloader()))
    raw = SyntheticOrientedDataset(4, img_size=96, seed=dm.seed + 1)
    for i, t in enumerate(targets):
        orig = torch.from_numpy(raw.render(i).polygons)
        a = t["affine"]
        torch.testing.assert_close(a, torch.tensor([[128 / 96, 0, 0], [0, 128 / 96, 0]], dtype=torch.float64))
        mapped = (orig.reshape(-1, 4, 2) @ a[:, :2].T + a[:, 2]).reshape(-1, 8)
        torch.testing.assert_close(t["polygons"], mapped.float())


def test_training_batches_are_reproducible_and_augmented() -> None:
    def first(seed: int):
        dm = SyntheticDataModule(
            img_size=96, seed=seed, hflip=0.5, vflip=0.5, rot90=0.5, mixup_prob=0.5, **SMALL
        )
        dm.setup("fit")
        return next(iter(dm.train_dataloader()))

    (ia, ta), (ib, tb), (ic, _) = first(0), first(0), first(1)
    assert torch.equal(ia, ib) and all(torch.equal(x["polygons"], y["polygons"]) for x, y in zip(ta, tb))
    assert not torch.equal(ia, ic)


def test_multiscale_batch_sampler_sizes() -> None:
    dm = SyntheticDataModule(
        img_size=128,
        multiscale_sizes=[64, 96, 128],
        multiscale_every=1,
        seed=3,
        train_size=16,
        val_size=0,
        test_size=0,
        batch_size=2,
        num_workers=0,
    )
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert isinstance(loader.batch_sampler, MultiScaleBatchSampler)
    sizes = [images.shape[-1] for images, _ in loader]
    assert len(sizes) == 8 and set(sizes) <= {64, 96, 128} and len(set(sizes)) > 1
    expected = [loader.batch_sampler.schedule.size_for_batch(i, 0) for i in range(8)]
    assert sizes == expected


def test_target_transform_runs_last() -> None:
    def tt(sample: dict) -> dict:
        sample["seen_size"] = tuple(sample["image"].shape)
        return sample

    dm = SyntheticDataModule(img_size=64, target_transform=tt, **SMALL)
    _, targets = next(iter(dm.val_dataloader()))
    assert targets[0]["seen_size"] == (3, 64, 64)


def test_dota_and_coco_datamodules_on_written_files(tmp_path) -> None:
    syn = SyntheticOrientedDataset(4, img_size=160, seed=5)
    write_synthetic_dota(syn, tmp_path / "dota", "train")
    write_synthetic_dota(syn, tmp_path / "dota", "val")
    dm = DotaDataModule(
        str(tmp_path / "dota"),
        version=None,
        class_names=syn.class_names,
        img_size=128,
        batch_size=2,
        num_workers=0,
        mixup_prob=0.5,
    )
    assert dm.num_classes == 5
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        _check_batch(*next(iter(loader)), 128, 2)
    assert DotaDataModule(str(tmp_path / "dota")).num_classes == 15
    with pytest.raises(ValueError, match="not the DOTA v1.0 classes"):
        DotaDataModule(str(tmp_path / "dota"), version="1.0", class_names=syn.class_names)
    assert DotaDataModule(str(tmp_path / "dota"), version="2.0").num_classes == 18

    write_synthetic_coco(
        syn,
        tmp_path / "coco" / "val2017",
        tmp_path / "coco" / "annotations" / "instances_val2017.json",
        category_ids=[2, 4, 6, 8, 10],
    )
    cm = CocoDataModule(
        str(tmp_path / "coco"),
        splits={"train": None, "val": "val2017", "test": "val2017"},
        img_size=96,
        batch_size=2,
        num_workers=0,
    )
    assert (
        cm.num_classes == 5
        and cm.class_names == syn.class_names
        and cm.contiguous_to_cat_id == [2, 4, 6, 8, 10]
    )
    images, targets = next(iter(cm.val_dataloader()))
    _check_batch(images, targets, 96, 2)
    assert "crowd_hbb" in targets[0]
    ann = tmp_path / "coco" / "annotations" / "instances_val2017.json"
    assert cm.annotation_file("val") == ann and cm.annotation_file("val2017") == ann
    with pytest.raises(RuntimeError, match="no 'train' split"):
        cm.train_dataloader()
    empty = SyntheticDataModule(img_size=64, train_size=4, val_size=0, test_size=0, num_workers=0)
    assert empty.val_dataloader() == [] and empty.test_dataloader() == []


@pytest.mark.parametrize("name", ["synthetic", "dota", "coco"])
def test_hydra_configs_instantiate(name: str, tmp_path) -> None:
    cfg = OmegaConf.load(CONFIGS / f"{name}.yaml")
    if name == "synthetic":
        cfg.train_size, cfg.val_size, cfg.num_workers, cfg.img_size = 4, 2, 0, 64
        dm = instantiate(cfg)
        assert isinstance(dm, SyntheticDataModule)
        _check_batch(*next(iter(dm.train_dataloader())), 64, 4)
    else:
        cfg.root = str(tmp_path)
        if name == "coco":  # class list given in the config: no file read at construction
            dm = instantiate(cfg)
            assert dm.num_classes == 80 and dm.class_names[0] == "person"
        else:
            dm = instantiate(cfg)
            assert dm.num_classes == 15 and dm.class_names == list(cfg.class_names)
    assert dm.num_classes == cfg.num_classes and dm.class_names == list(cfg.class_names)


def test_lightning_ddp_sampler_injection_keeps_the_batch_sampler() -> None:
    # what Lightning does under DDP: re-create our batch sampler around a DistributedSampler
    from lightning.fabric.utilities.data import _replace_dunder_methods
    from lightning.pytorch.utilities.data import _update_dataloader
    from torch.utils.data import BatchSampler, DataLoader, DistributedSampler

    dm = SyntheticDataModule(img_size=64, multiscale_sizes=[32, 64], multiscale_every=1, **SMALL)
    with _replace_dunder_methods(DataLoader, "dataset"), _replace_dunder_methods(BatchSampler):
        loader = dm.train_dataloader()
    dist = DistributedSampler(loader.dataset, num_replicas=2, rank=1, shuffle=True, seed=0)
    new = _update_dataloader(loader, dist, mode="fit")
    assert isinstance(new.batch_sampler, MultiScaleBatchSampler) and new.batch_sampler.sampler is dist
    assert new.batch_sampler.sizes == [32, 64] and len(list(new.batch_sampler)) == 1  # 4 of 8 images, batch 4


def test_batches_do_not_depend_on_worker_count() -> None:
    def batch(workers: int):
        dm = SyntheticDataModule(img_size=64, seed=4, mixup_prob=0.5, **{**SMALL, "num_workers": workers})
        return next(iter(dm.train_dataloader()))

    (i0, t0), (i2, t2) = batch(0), batch(2)
    assert torch.equal(i0, i2)
    assert all(
        torch.equal(a["polygons"], b["polygons"]) and torch.equal(a["weights"], b["weights"])
        for a, b in zip(t0, t2)
    )


@pytest.mark.parametrize(("name", "n"), [("dota", 15), ("dota_v15", 16), ("dota_v20", 18)])
def test_dota_version_configs_compose(name: str, n: int, tmp_path) -> None:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name=name, overrides=[f"root={tmp_path}"])
    dm = instantiate(cfg)
    assert dm.num_classes == n == cfg.num_classes and dm.class_names == list(cfg.class_names)
