"""Regenerate the float64 references of this folder with the OFFICIAL StageInteractor code (not run by tests).

Needs a scratch environment that can import the official repository (MCG-NJU/StageInteractor at 477aa15 on
``sys.path``) and mmcv 1.3.3 built without ops (``MMCV_WITH_OPS=0 pip install --no-build-isolation mmcv==1.3.3``
with setuptools < 70), plus addict, yapf, six, matplotlib, terminaltables, opencv-python-headless. The compiled
``mmcv._ext`` is replaced by a module whose functions raise: the forward calls none of them. Nothing of the
official code is copied here; it is imported.

Weights: the rule of ``README.md`` (``keys.json`` order, ``seed_offset``). ``--small`` builds the official
``stageinteractor_r50_1x_coco.py`` model with smaller sizes (ResNet-18, D=64, 12 queries, 7 classes, FFN 96,
G=4, K=4 points per sub-box, P=4 then 2 sub-boxes, R=16, still 6 stages so stage 5 reuses 4 kernels).
Outputs: per stage ``cls_s{k}``, ``box_s{k}``, ``xyzr_s{k}``, ``delta_s{k}`` and the ``simple_test`` detections
``dets_img{b}`` (rows ``x1 y1 x2 y2 score label``, sorted by descending score then label), float64 with
``--double``; ``--keys`` writes ``[key, shape, dtype]`` of the official ``state_dict()``.

    python gen_reference.py --repo /path/to/StageInteractor --double --seed-offset 1000 --size 96 160 \
        --batch 3 --input-seed 7 --out paper_f64_s1000_96x160_b3.npz
    python gen_reference.py --repo ... --small --double --seed-offset 5 --size 64 96 --batch 2 --input-seed 3 \
        --out small_f64.npz --keys small_keys.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import types

import numpy as np
import torch


class _NoExt(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def fail(*args, **kwargs):
            raise RuntimeError(f"mmcv._ext.{name} was called")

        return fail


def rule_weights(state: dict[str, torch.Tensor], seed_offset: int) -> dict[str, torch.Tensor]:
    """The deterministic weights of README.md for an official ``state_dict()`` (same order)."""
    out = {}
    for i, (key, value) in enumerate(state.items()):
        shape = tuple(value.shape)
        if not value.is_floating_point():
            out[key] = torch.zeros_like(value)
            continue
        g = torch.Generator().manual_seed(i + seed_offset)
        if key == "rpn_head.init_proposal_bboxes":
            t = torch.tensor([0.5, 0.5, 1.0, 1.0]).expand(shape).clone()
        elif key.endswith("running_var"):
            t = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith("running_mean"):
            t = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1 and key.endswith("weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif key.endswith("bias"):
            t = 0.05 * torch.randn(shape, generator=g)
        else:
            t = torch.randn(shape, generator=g) * (1 / math.prod(shape[1:])) ** 0.5
        out[key] = t
    return out


def small_config(model) -> None:
    """Shrink the official R-50 1x model config in place (module docstring)."""
    dim, ffn, queries, classes, groups, k, r = 64, 96, 12, 7, 4, 4, 16
    in_points = [4, 2, 2, 2, 2, 2]
    model.backbone.depth = 18
    model.neck.in_channels = [64, 128, 256, 512]
    model.neck.out_channels = dim
    model.rpn_head.update(
        num_query=queries,
        content_dim=dim,
        per_group_point_num=in_points[0],
        point_group_num=groups,
        anchor_point_num=k,
        anchor_channel=dim // groups,
    )
    model.roi_head.content_dim = dim
    for i, head in enumerate(model.roi_head.bbox_head):
        head.update(
            num_classes=classes,
            feedforward_channels=ffn,
            content_dim=dim,
            feat_channels=dim,
            in_points=in_points[i],
            out_points=r,
            n_heads=groups,
            num_queries=queries,
            anchor_point_num=k,
            anchor_channel=dim // groups,
            subbox_poolsize=k,
            last_in_point_num=None if i == 0 else in_points[i - 1] * k,
        )
    model.test_cfg.rcnn.max_per_img = queries


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True, help="checkout of MCG-NJU/StageInteractor (477aa15)")
    p.add_argument("--small", action="store_true")
    p.add_argument("--double", action="store_true")
    p.add_argument("--seed-offset", type=int, default=0)
    p.add_argument("--size", type=int, nargs="+", default=[128], help="S or H W")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--input-seed", type=int, default=12345)
    p.add_argument("--out", required=True)
    p.add_argument("--keys", default=None)
    a = p.parse_args()

    sys.modules["mmcv._ext"] = _NoExt("mmcv._ext")
    sys.path.insert(0, a.repo)
    from mmcv import Config
    from mmdet.models import build_detector

    cfg = Config.fromfile(f"{a.repo}/configs/stageinteractor/stageinteractor_r50_1x_coco.py")
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    if a.small:
        small_config(cfg.model)
    model = build_detector(cfg.model).eval()
    state = model.state_dict()
    model.load_state_dict(rule_weights(state, a.seed_offset), strict=True)
    if a.keys:
        entries = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in state.items()]
        with open(a.keys, "w") as f:
            json.dump({"num_params": sum(v.numel() for v in model.parameters()), "keys": entries}, f)
    h, w = (a.size * 2)[:2]
    x = torch.rand(a.batch, 3, h, w, generator=torch.Generator().manual_seed(a.input_seed))
    if a.double:
        model.double()
        x = x.double()
    metas = [
        dict(
            img_shape=(h, w, 3),
            ori_shape=(h, w, 3),
            pad_shape=(h, w, 3),
            scale_factor=np.ones(4, np.float32),
            flip=False,
        )
        for _ in range(a.batch)
    ]
    records = []
    forward = model.roi_head._bbox_forward

    def record(*args, **kwargs):
        result = forward(*args, **kwargs)
        records.append(result)
        return result

    model.roi_head._bbox_forward = record
    with torch.no_grad():
        results = model.simple_test(x, metas, rescale=False)
    out = {"x": x.numpy()}
    for k, r in enumerate(records):
        for name, key in (
            ("cls", "cls_score"),
            ("box", "decode_bbox_pred"),
            ("xyzr", "xyzr"),
            ("delta", "box_delta"),
        ):
            out[f"{name}_s{k}"] = r[key].numpy()
    for b, per_class in enumerate(results):
        rows = np.array([[*row[:5], c] for c, arr in enumerate(per_class) for row in arr], np.float64)
        out[f"dets_img{b}"] = rows[np.lexsort((rows[:, 5], -rows[:, 4]))]
    np.savez_compressed(a.out, **out)
    print(
        f"{a.out}: {len(records)} stages, {sum(v.numel() for v in model.parameters())} parameters, "
        f"{len(state)} state-dict entries"
    )


if __name__ == "__main__":
    main()
