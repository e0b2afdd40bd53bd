"""Images without objects (issue 13, deliverable 1): every transform, collate, assigner, loss and
evaluation path, for GGHL and the query detector, and a short training run on a DOTA split whose
patches are mostly empty.

An image without objects is an ordinary sample (``polygons [0, 8]``): geometric transforms still move
the image and compose ``affine``; losses are finite and background only (objectness / classification
towards 0, no regression term).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from gghl.assigners import GaussianAssigner
from gghl.assigners.cross_stage import CrossStageLabelAssigner, cross_stage_targets
from gghl.assigners.hungarian import HungarianMatcher, hungarian_match_stages
from gghl.callbacks.val_images import draw_polygons
from gghl.data import transforms as T
from gghl.data.collate import detection_collate, make_sample
from gghl.data.sample_pipeline import AugmentConfig, build_augment
from gghl.losses import JOLLoss
from gghl.losses.set_criterion import SetCriterion

STRIDES = (8, 16, 32)
REG_TERMS = ("loss_fg", "loss_pos", "loss_neg", "loss_iou", "loss_s", "loss_r", "loss_l", "loss_cls")


def _sample(n: int, h: int = 40, w: int = 60, seed: int = 0, image_id: str = "img") -> dict:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    polys = np.tile(np.array([[10.0, 8, 30, 8, 30, 20, 10, 20]]), (n, 1)) + np.arange(n)[:, None]
    return make_sample(img, polys, np.arange(n) % 3, None, image_id)


def _assert_empty(out: dict) -> None:
    assert tuple(out["polygons"].shape) == (0, 8)
    for key in ("labels", "difficult", "weights"):
        assert tuple(out[key].shape) == (0,), key
    assert tuple(out["affine"].shape) == (2, 3) and torch.isfinite(out["affine"]).all()


# ------------------------------------------------------------------ transforms
TRANSFORMS = {
    "hflip": T.hflip,
    "vflip": T.vflip,
    "rot90_1": lambda s: T.rot90(s, 1),
    "rot90_2": lambda s: T.rot90(s, 2),
    "rot90_3": lambda s: T.rot90(s, 3),
    "resize": lambda s: T.resize(s, (32, 48)),
    "letterbox": lambda s: T.letterbox(s, 64),
    "rotate": lambda s: T.rotate(s, 0.3),
    "rotate_expand": lambda s: T.rotate(s, 0.3, expand=True),
    "clip": T.clip_to_image,
    "hsv": lambda s: T.RandomHSV(p=1.0)(s, torch.Generator().manual_seed(0)),
    "random_scale": lambda s: T.RandomScale((0.5, 0.7))(s, torch.Generator().manual_seed(0)),
    "random_rotate": lambda s: T.RandomRotate(p=1.0)(s, torch.Generator().manual_seed(0)),
    "random_flips": lambda s: T.Compose(
        [T.RandomHorizontalFlip(1.0), T.RandomVerticalFlip(1.0), T.RandomRot90(1.0)]
    )(s, torch.Generator().manual_seed(0)),
    "train_augment": lambda s: build_augment(AugmentConfig(hflip=1.0, vflip=1.0, rot90=1.0, hsv_prob=1.0))(
        s, torch.Generator().manual_seed(0)
    ),
    "multiscale": lambda s: T.MultiScale((64, 96), every=1).letterbox_batch([s], 3)[0],
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_on_empty_sample(name: str) -> None:
    """Same image and affine as with objects; zero objects in every per-object key."""
    fn = TRANSFORMS[name]
    out = fn(_sample(0))
    _assert_empty(out)
    ref = fn(_sample(2))  # the same transform on the same image with objects
    assert out["image"].shape == ref["image"].shape
    torch.testing.assert_close(out["image"], ref["image"])
    torch.testing.assert_close(out["affine"], ref["affine"])


def test_clip_polygons_of_nothing() -> None:
    pts, cnt = T.clip_polygons(torch.zeros(0, 8, dtype=torch.float64), 10, 10)
    assert pts.shape[0] == 0 and cnt.shape == (0,)


@pytest.mark.parametrize("n_b", [0, 2])
def test_mixup_with_an_empty_sample(n_b: int) -> None:
    a, b = T.letterbox(_sample(0), 64), T.letterbox(_sample(n_b, seed=1), 64)
    out = T.mixup(a, b, 0.3)
    assert out["polygons"].shape == (n_b, 8) and out["labels"].shape == (n_b,)
    torch.testing.assert_close(out["weights"], torch.full((n_b,), 0.7))
    kept = T.RandomMixup(p=0.0)(a, b, torch.Generator().manual_seed(0))
    _assert_empty(kept)


@pytest.mark.parametrize("counts", [(0, 0), (0, 2, 0)], ids=["all_empty", "some_empty"])
def test_collate_with_empty_images(counts: tuple[int, ...]) -> None:
    images, targets = detection_collate([T.letterbox(_sample(n, seed=i), 64) for i, n in enumerate(counts)])
    assert images.shape == (len(counts), 3, 64, 64)
    for n, t in zip(counts, targets):
        assert t["obb"].shape == (n, 5) and t["hbb"].shape == (n, 4) and t["polygons"].shape == (n, 8)
        assert t["obb"].dtype == torch.float32 and torch.isfinite(t["obb"]).all()


# ------------------------------------------------------------------ GGHL: assigner + JOL loss
def _targets(counts: tuple[int, ...], size: int = 64) -> list[dict]:
    return detection_collate([T.letterbox(_sample(n, seed=i), size) for i, n in enumerate(counts)])[1]


def _raw(batch: int, size: int = 64, num_classes: int = 3, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, 10 + num_classes, size // s, size // s, generator=gen).requires_grad_()
        for s in STRIDES
    ]


@pytest.mark.parametrize("variant", ["gghl_obb", "gghl_alg1", "gghl_fixed"])
def test_gghl_loss_on_an_empty_image_is_background_only(variant: str) -> None:
    maps = GaussianAssigner(3, variant=variant).assign(_targets((0,)), 64)
    assert all(torch.all(m[..., 13] == 0) and torch.all(m[..., 14] == 1) for m in maps)
    raw = _raw(1)
    out = JOLLoss(3)(raw, [m.float() for m in maps])
    val = {k: float(v.detach()) for k, v in out.items()}
    assert math.isfinite(val["loss"]) and val["loss_bg"] > 0
    for key in REG_TERMS:
        assert val[key] == 0.0, key
    assert val["loss"] == pytest.approx(val["loss_bg"], rel=1e-6)
    out["loss"].backward()
    for r in raw:  # only the objectness logit (channel 9) gets a gradient
        assert torch.isfinite(r.grad).all()
        assert r.grad[:, 9].abs().sum() > 0
        assert torch.all(r.grad[:, :9] == 0) and torch.all(r.grad[:, 10:] == 0)


def test_gghl_official_empty_image_has_no_loss() -> None:
    """``empty_background=False`` is the official loader: mix 0, so the empty image adds nothing."""
    maps = GaussianAssigner(3, empty_background=False).assign(_targets((0,)), 64)
    out = JOLLoss(3)(_raw(1), [m.float() for m in maps])
    assert float(out["loss"].detach()) == 0.0


@pytest.mark.parametrize("counts", [(0, 0), (0, 2)], ids=["all_empty", "some_empty"])
def test_gghl_batch_loss_is_the_mean_of_image_losses(counts: tuple[int, ...]) -> None:
    assigner, loss = GaussianAssigner(3), JOLLoss(3)
    targets, raw = _targets(counts), [r.detach() for r in _raw(len(counts))]
    batch = loss(raw, [m.float() for m in assigner.assign(targets, 64)])
    singles = [
        loss([r[i : i + 1] for r in raw], [m.float() for m in assigner.assign([t], 64)])
        for i, t in enumerate(targets)
    ]
    for key in ("loss", "loss_bg", "loss_fg", "loss_iou"):
        want = sum(float(s[key]) for s in singles) / len(counts)
        assert float(batch[key]) == pytest.approx(want, rel=1e-5, abs=1e-9), key
    assert math.isfinite(float(batch["loss"]))


def test_gghl_eval_and_val_images_with_no_ground_truth(tmp_path: Path) -> None:
    from gghl.tasks.gghl_detection import GGHLDetectionTask
    from gghl.testing.tiny import tiny_gghl_net

    net = tiny_gghl_net(3)
    task = GGHLDetectionTask(net, 3, optimizer="adamw").eval()
    logged: dict[str, float] = {}
    task.log = lambda name, value, **kw: logged.__setitem__(name, float(value))  # type: ignore[method-assign]
    images, targets = detection_collate(
        [T.letterbox(_sample(0, seed=i, image_id=f"e{i}"), 64) for i in range(2)]
    )
    with torch.no_grad():
        task._eval_step((images, targets), task.val_metric)
        preds = task.predict_batch(images)
    task._log_dota("val", task.val_metric)
    assert math.isfinite(logged["val/mAP50"])
    pic = draw_polygons(
        images[0],
        preds[0]["polygons"],
        preds[0]["scores"],
        preds[0]["labels"],
        gt_polygons=targets[0]["polygons"],
    )
    assert pic.size == (64, 64)


# ------------------------------------------------------------------ query detector: Hungarian + cross-stage + set criterion
def _query_inputs(counts: tuple[int, ...], stages: int = 2, queries: int = 5, classes: int = 3):
    gen = torch.Generator().manual_seed(0)
    b = len(counts)
    logits = torch.randn(stages, b, queries, classes, generator=gen).requires_grad_()
    xy = torch.rand(stages, b, queries, 2, generator=gen) * 40
    boxes = torch.cat(
        [xy, xy + 5 + torch.rand(stages, b, queries, 2, generator=gen) * 20], -1
    ).requires_grad_()
    gtb = [torch.tensor([[4.0, 4, 30, 20]]).repeat(n, 1) + torch.arange(n)[:, None] for n in counts]
    gtl = [torch.arange(n) % classes for n in counts]
    wh = torch.tensor([[64.0, 64.0]]).expand(b, 2)
    return logits, boxes, gtb, gtl, wh


def _set_criterion(assigner: str) -> SetCriterion:
    """3 classes; ``cross_stage`` (StageInteractor) or ``o2o`` (one-to-one labels, AdaMixer) label assigner."""
    o2o = {"candidates": "none", "keep_own_positive": True} if assigner == "o2o" else {}
    return SetCriterion(3, HungarianMatcher(), CrossStageLabelAssigner(**o2o))


@pytest.mark.parametrize("assigner", ["cross_stage", "o2o"])
def test_query_loss_on_empty_images_is_background_only(assigner: str) -> None:
    logits, boxes, gtb, gtl, wh = _query_inputs((0, 0))
    matches = hungarian_match_stages(logits.detach(), boxes.detach(), gtb, gtl, wh)
    assert torch.all(matches == -1)
    tgt = cross_stage_targets(1, list(matches), boxes[1].detach(), gtb, gtl, 3)
    assert tgt.shape == (2, 5, 3) and torch.all(tgt == 0)
    out = _set_criterion(assigner)(logits, boxes, gtb, gtl, wh)
    val = {k: float(v.detach()) for k, v in out.items()}
    assert math.isfinite(val["loss"])
    for s in range(2):
        assert val[f"s{s}.loss_cls"] > 0
        assert val[f"s{s}.loss_bbox"] == 0.0 and val[f"s{s}.loss_iou"] == 0.0
    out["loss"].backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert torch.all(boxes.grad == 0)  # no regression target, no box gradient


@pytest.mark.parametrize("assigner", ["cross_stage", "o2o"])
def test_query_loss_with_some_empty_images(assigner: str) -> None:
    logits, boxes, gtb, gtl, wh = _query_inputs((0, 2, 0))
    out = _set_criterion(assigner)(logits, boxes, gtb, gtl, wh)
    assert math.isfinite(float(out["loss"].detach())) and float(out["s1.loss_bbox"].detach()) > 0
    out["loss"].backward()
    assert torch.isfinite(boxes.grad).all()
    assert torch.all(boxes.grad[:, 0] == 0) and torch.all(boxes.grad[:, 2] == 0)  # empty images: no box grad


# ------------------------------------------------------------------ end to end: DOTA split with mostly empty patches
def _mostly_empty_dota_split(root: Path) -> tuple[Path, list[str]]:
    """2 synthetic images + 2 blank ones (empty label files) split into 64-px patches."""
    from gghl.data.dota_split import split_dataset
    from gghl.data.image_io import write_png
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_dota

    ds = SyntheticOrientedDataset(2, img_size=128, num_classes=5, seed=0)
    src = write_synthetic_dota(ds, root / "src", "train")
    for k in range(2):
        write_png(src / "images" / f"blank{k}.png", np.full((128, 128, 3), 90, np.uint8))
        (src / "labelTxt" / f"blank{k}.txt").write_text("imagesource:synthetic\ngsd:0.5\n" if k else "")
    split_dataset(src, root / "split" / "train", sizes=[64], gaps=[0], num_workers=0, progress=False)
    return root / "split", ds.class_names


@pytest.mark.filterwarnings("ignore:1 objects are in no patch")
@pytest.mark.filterwarnings("ignore:.*LeafSpec")
def test_training_on_a_mostly_empty_dota_split(tmp_path: Path) -> None:
    from gghl.data.detection_datamodule import DotaDataModule
    from gghl.tasks.gghl_detection import GGHLDetectionTask
    from gghl.testing.tiny import tiny_gghl_net

    root, names = _mostly_empty_dota_split(tmp_path)
    labels = sorted((root / "train" / "labelTxt").glob("*.txt"))
    n_objects = [sum(len(line.split()) >= 9 for line in p.read_text().splitlines()) for p in labels]
    assert len(labels) == 16 and sum(n == 0 for n in n_objects) >= len(labels) / 2
    dm = DotaDataModule(
        str(root),
        version=None,
        class_names=names,
        splits={"train": "train", "val": "train", "test": None},
        img_size=64,
        batch_size=4,
        num_workers=0,
        hflip=0.5,
        vflip=0.5,
        rot90=0.5,
        mixup_prob=0.5,
        multiscale_sizes=[64, 96],
        multiscale_every=1,
        seed=3,
    )
    net = tiny_gghl_net(5)
    task = GGHLDetectionTask(
        net, 5, class_names=names, optimizer="adamw", lr=1e-3, warmup_epochs=0, max_bad_steps=1
    )
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=3,
        limit_val_batches=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=dm)
    metrics = trainer.callback_metrics
    assert trainer.global_step == 3 and task.skipped_steps == 0
    assert math.isfinite(float(metrics["train/loss_total"])) and float(metrics["train/loss_bg"]) > 0
    assert 0.0 <= float(metrics["val/mAP50"]) <= 1.0
    assert all(torch.isfinite(p).all() for p in task.net.parameters())


def test_query_detector_on_coco_images_without_annotations(tmp_path: Path) -> None:
    """COCO loader keeps images without annotations; the query task trains and evaluates on them."""
    from gghl.data.detection_datamodule import CocoDataModule
    from gghl.data.synthetic import SyntheticOrientedDataset
    from gghl.data.synthetic_export import write_synthetic_coco
    from gghl.models.query.detector import QueryDetector
    from gghl.models.query.tiny_backbone import TinyConvBackbone
    from gghl.tasks.query_detection import QueryDetectionTask

    ds = SyntheticOrientedDataset(4, img_size=64, num_classes=3, seed=0)
    ann = tmp_path / "annotations" / "instances_train.json"
    data = write_synthetic_coco(ds, tmp_path / "train", ann)
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] == 1]  # images 2..4: no annotation
    ann.write_text(json.dumps(data))
    dm = CocoDataModule(
        str(tmp_path),
        splits={"train": "train", "val": "train", "test": None},
        img_size=64,
        batch_size=2,
        num_workers=0,
        hflip=1.0,
        rot90=1.0,
        mixup_prob=0.0,
    )
    net = QueryDetector(
        3,
        backbone=TinyConvBackbone((8, 8, 16, 16), 8, 0),
        num_queries=6,
        dim=32,
        num_stages=2,
        heads=2,
        ffn_dim=32,
        groups=2,
        points=2,
        subboxes=[2, 2],
        out_points=4,
    )
    task = QueryDetectionTask(3, net, _set_criterion("cross_stage"), lr=1e-3, max_det=5)
    task.log = lambda *a, **k: None  # type: ignore[method-assign]
    batches = list(dm.train_dataloader())
    assert sum(t["labels"].numel() == 0 for _, ts in batches for t in ts) == 3
    for batch in batches:
        loss = task.training_step(batch, 0)
        assert torch.isfinite(loss)
        loss.backward()
    metric = task.val_metric
    metric.reset()
    with torch.no_grad():
        for batch in dm.val_dataloader():
            task._eval_step(batch, metric)
    assert [int(row[0, 1]) for row in metric.meta].count(0) == 3  # meta rows: (image key, n_gt, n_det)
    assert all(torch.isfinite(v) for v in metric.compute().values())
