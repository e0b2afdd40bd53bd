"""Query detector, post-processing, LightningModule and Hydra configs."""

import json
import math
from pathlib import Path

import pytest
import torch

from gghl.assigners.cross_stage import CrossStageLabelAssigner
from gghl.assigners.hungarian import HungarianMatcher
from gghl.configs import CONFIG_DIR
from gghl.losses.set_criterion import SetCriterion
from gghl.models.query.detector import QueryDetector
from gghl.models.query.postprocess import invert_affine_boxes, postprocess
from gghl.models.query.tiny_backbone import TinyConvBackbone
from gghl.tasks.query_detection import QueryDetectionTask, step_lr_factor

#: QueryDetector arguments of a tiny decoder (the backbone is added by ``_tiny_task``).
TINY = {
    "num_queries": 6,
    "dim": 32,
    "num_stages": 2,
    "heads": 2,
    "ffn_dim": 32,
    "groups": 2,
    "points": 2,
    "subboxes": [2, 2],
    "out_points": 4,
}


#: Label-assigner settings: StageInteractor's cross-stage labels, AdaMixer's one-to-one labels.
ASSIGNERS = {"cross_stage": {}, "o2o": {"candidates": "none", "keep_own_positive": True}}


def _tiny_task(assigner: str = "cross_stage") -> QueryDetectionTask:
    net = QueryDetector(3, backbone=TinyConvBackbone((8, 8, 16, 16), 8, 0), **TINY)
    criterion = SetCriterion(3, HungarianMatcher(), CrossStageLabelAssigner(**ASSIGNERS[assigner]))
    return QueryDetectionTask(3, net, criterion, lr=1e-3, max_det=5)


def test_step_lr_schedule():
    def f(s: int) -> float:
        return step_lr_factor(
            s, steps_per_epoch=10, warmup_iters=5, warmup_ratio=0.001, lr_steps=[8, 11], gamma=0.1
        )

    assert f(0) == pytest.approx(0.001) and f(5) == 1.0 and f(79) == 1.0
    assert f(80) == pytest.approx(0.1) and f(110) == pytest.approx(0.01)


def test_postprocess_topk_and_inverse_affine():
    logits = torch.full((1, 3, 2), -10.0)
    logits[0, 1, 0], logits[0, 2, 1], logits[0, 1, 1] = 3.0, 2.0, 1.0
    boxes = torch.tensor([[[0.0, 0, 1, 1], [10, 20, 30, 40], [50, 50, 60, 70]]])
    # original -> current: scale 0.5 then horizontal flip in a 100-px-wide current image
    aff = torch.tensor([[-0.5, 0.0, 100.0], [0.0, 0.5, 0.0]], dtype=torch.float64)
    out = postprocess(logits, boxes, [aff], max_det=3)[0]
    assert out["labels"].tolist() == [0, 1, 1]
    assert out["scores"][0].item() == pytest.approx(1 / (1 + math.exp(-3)))
    torch.testing.assert_close(out["boxes"][0], torch.tensor([140.0, 40.0, 180.0, 80.0]))
    torch.testing.assert_close(out["boxes"][1], torch.tensor([80.0, 100.0, 100.0, 140.0]))
    torch.testing.assert_close(
        invert_affine_boxes(
            out["boxes"][:1],
            torch.linalg.inv(torch.cat([aff, torch.tensor([[0.0, 0, 1]], dtype=torch.float64)]))[:2],
        ),
        boxes[0, 1:2],
    )


def test_detector_with_timm_name_and_module():
    det = QueryDetector(
        3,
        backbone=TinyConvBackbone((8, 8, 16, 16), 8, 0),
        num_queries=4,
        dim=32,
        num_stages=2,
        heads=2,
        ffn_dim=32,
        groups=2,
        points=2,
        subboxes=[2, 2],
        out_points=4,
    )
    out = det(torch.rand(1, 3, 64, 96))
    assert out["boxes"].shape == (2, 1, 4, 4)
    torch.testing.assert_close(out["boxes"][0, 0, 0], torch.tensor([0.0, 0.0, 96.0, 64.0]), atol=1e-4, rtol=0)
    timm_det = QueryDetector(
        3,
        backbone="resnet10t",
        num_queries=4,
        dim=32,
        num_stages=1,
        heads=2,
        ffn_dim=32,
        groups=2,
        points=2,
        subboxes=[2],
        out_points=4,
    )
    assert timm_det.strides == [4, 8, 16, 32]


def _batch():
    images = torch.rand(2, 3, 64, 64)
    aff = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]], dtype=torch.float64)
    targets = [
        {
            "hbb": torch.tensor([[4.0, 4.0, 30.0, 20.0]]),
            "labels": torch.tensor([1]),
            "image_id": "0_0",
            "orig_size": (128, 128),
            "affine": aff,
        },
        {
            "hbb": torch.zeros(0, 4),
            "labels": torch.zeros(0, dtype=torch.long),
            "image_id": "0_1",
            "orig_size": (128, 128),
            "affine": aff,
        },
    ]
    return images, targets


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")
@pytest.mark.parametrize("assigner", ["cross_stage", "o2o"])
def test_task_train_and_eval_steps(assigner):
    torch.manual_seed(0)
    task = _tiny_task(assigner)
    images, targets = _batch()
    loss = task.training_step((images, targets), 0)
    assert torch.isfinite(loss) and loss.requires_grad
    loss.backward()
    metric = task.val_metric
    metric.reset()
    task._eval_step((images, targets), metric)
    boxes = metric.det_boxes[0]  # the first image's rows (the metric keeps one state entry per image)
    assert boxes.shape == (5, 4)
    gt = torch.tensor([[8.0, 8.0, 60.0, 40.0]], dtype=torch.float64)
    torch.testing.assert_close(metric.gt_boxes[0], gt)  # original pixels
    assert float(boxes.max()) <= 128.0


def test_configs_compose_and_instantiate():
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        coco = compose("train", overrides=["experiment=stageinteractor_r50_1x_coco", "data.num_classes=80"])
        assert coco.model.lr == 2.5e-5 and coco.model.weight_decay == 1e-4 and coco.model.lr_steps == [8, 11]
        assert coco.model.warmup_iters == 500 and coco.trainer.gradient_clip_val == 1.0
        assert coco.model.net.num_queries == 100 and coco.model.net.num_stages == 6
        assert coco.trainer.devices * coco.data.batch_size == 16 and coco.trainer.max_epochs == 12
        ada = compose("train", overrides=["experiment=stageinteractor_synthetic", "model=adamixer"])
        assert ada.model.net.reuse_operators is False
        one_to_one = ada.model.criterion.assigner
        assert one_to_one.candidates == "none" and one_to_one.keep_own_positive is True
        syn = compose(
            "train",
            overrides=[
                "experiment=stageinteractor_synthetic",
                "data.num_classes=5",
                "model.net.num_stages=2",
                "model.net.subboxes=[4,4]",
            ],
        )
        task = instantiate(syn.model, _convert_="all")
    assert isinstance(task, QueryDetectionTask) and isinstance(task.criterion, SetCriterion)
    assert isinstance(task.criterion.matcher, HungarianMatcher) and task.criterion.num_classes == 5
    assigner = task.criterion.assigner
    assert isinstance(assigner, CrossStageLabelAssigner) and assigner.candidates == "prev+future"
    assert task.criterion.weights == {"loss_cls": 2.0, "loss_bbox": 5.0, "loss_iou": 2.0}
    assert isinstance(task.model.backbone, TinyConvBackbone) and len(task.model.decoder.stages) == 2


def test_criterion_of_another_class_count_is_refused():
    net = QueryDetector(3, backbone=TinyConvBackbone((8, 8, 16, 16), 8, 0), **TINY)
    with pytest.raises(ValueError, match=r"criterion.num_classes \(4\) differs from num_classes \(3\)"):
        QueryDetectionTask(3, net, SetCriterion(4, HungarianMatcher(), CrossStageLabelAssigner()))


def test_freeze_bn_keeps_statistics():
    from torchvision.ops.misc import FrozenBatchNorm2d

    bb = TinyConvBackbone((8, 8, 16, 16), 8, 0)
    bb.stem[1].running_mean.fill_(0.25)
    x = torch.rand(1, 3, 32, 32)
    bb.eval()
    ref = bb(x)[-1]
    det = QueryDetector(
        3,
        backbone=bb,
        num_queries=2,
        dim=32,
        num_stages=1,
        heads=2,
        ffn_dim=32,
        groups=2,
        points=2,
        subboxes=[2],
        out_points=4,
        freeze_bn=True,
    )
    assert isinstance(det.backbone.stem[1], FrozenBatchNorm2d)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in det.backbone.modules())
    det.train()
    torch.testing.assert_close(det.backbone(x)[-1], ref)


def test_out_of_memory_in_training_step_names_batch_shape():
    from gghl.tasks.faults import BatchOutOfMemoryError

    task = _tiny_task()

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    task.model.forward = oom
    images, targets = _batch()
    with pytest.raises(
        BatchOutOfMemoryError, match=r"training_step .* shape \[2, 3, 64, 64\] float32.*data\.batch_size"
    ):
        task.training_step((images, targets), 0)


def test_paper_experiment_builds_the_official_network():
    """``experiment=stageinteractor_r50_1x_coco`` and the converter's stored config (official weights) build
    the same network: the same state-dict entries and shapes, 136,948,296 parameters (on the meta device)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from gghl.models.convert.stageinteractor_official import COCO_CLASSES, _model_config, stageinteractor_arch

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=stageinteractor_r50_1x_coco", "data.num_classes=80"])
    keys_file = Path(__file__).parents[1] / "data" / "official_stageinteractor" / "keys.json"
    keys = json.loads(keys_file.read_text())["keys"]
    arch = stageinteractor_arch({k: torch.empty(shape, device="meta") for k, shape, _ in keys})
    converted = _model_config(None, arch, list(COCO_CLASSES), 100)
    with torch.device("meta"):
        ours = instantiate(cfg.model, _convert_="all")
        theirs = instantiate(converted, _convert_="all")
    # the experiment freezes BN (for ImageNet weights): FrozenBatchNorm2d has no num_batches_tracked
    shapes = [
        {k: tuple(v.shape) for k, v in t.state_dict().items() if not k.endswith("num_batches_tracked")}
        for t in (ours, theirs)
    ]
    assert shapes[0] == shapes[1]
    stats = ("running_mean", "running_var", "num_batches_tracked")
    assert sum(math.prod(v) for k, v in shapes[0].items() if not k.endswith(stats)) == 136_948_296
    assert sum(p.numel() for p in theirs.parameters()) == 136_948_296
    assert (
        ours.criterion.weights == theirs.criterion.weights == {"loss_cls": 2, "loss_bbox": 5, "loss_iou": 2}
    )
    assert vars(ours.criterion.assigner) == vars(theirs.criterion.assigner)
    assert vars(ours.criterion.matcher) == vars(theirs.criterion.matcher)
