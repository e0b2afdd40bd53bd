"""A checkpoint seen through the same interface as :class:`gghl.export.runtime.ExportedModel`.

Predictions come from the tasks' own inference code (``GGHLDetectionTask.predict_batch``, the query
``postprocess``), not from the export wrappers, so comparing the two classes checks the exported graph plus
its host-side post-processing against the reference path end to end.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gghl.export.postprocess import query_detections
from gghl.export.wrapper import export_module
from gghl.tasks.restore import RestoredTask


class CheckpointModel:
    """``predict_batch(images [B,3,S,S] in [0,1]) -> list[dict]`` for a loaded task (see ``ExportedModel``).

    Args:
        loaded: from :func:`gghl.tasks.restore.restore_task`.
        img_size: network input side (default: the training ``img_size`` of the data config).
        device: where the network runs.
        post: post-processing settings of an export (``meta["postprocess"]``); GGHL's ``score_thresh`` and
            ``pre_nms_topk`` are taken from it (an ``nms=true`` export caps ``pre_nms_topk`` at ``nms_pre``).
        fuse_bn: GGHL only (other kinds: ``ValueError``): run a copy of the network with every conv + batch norm folded
            (:func:`gghl.export.fuse.fuse_conv_bn`; same function up to float rounding, faster on CPU). Off by
            default so that eval and predict give the training test step's exact numbers.
    """

    def __init__(
        self,
        loaded: RestoredTask,
        img_size: int | None = None,
        device: str | torch.device = "cpu",
        post: dict[str, Any] | None = None,
        fuse_bn: bool = False,
    ) -> None:
        self.loaded = loaded
        self.task = loaded.task.to(device).eval()
        self.device = torch.device(device)
        self.kind = loaded.kind
        self.class_names = loaded.class_names
        size = img_size or loaded.img_size
        if not size:
            raise ValueError("the checkpoint's data config has no img_size/image_size; pass img_size=")
        self.img_size = int(size)
        self.module, self.post = export_module(loaded)
        if post is not None:
            self.post = {**self.post, **post}
        self.module.to(device)
        self.score_thresh: float | None = self.post.get("score_thresh")
        self.fused: torch.nn.Module | None = None
        if fuse_bn and self.kind != "gghl":
            raise ValueError(f"fuse_bn applies to GGHL checkpoints only; this one is kind={self.kind}")
        if fuse_bn:
            from gghl.export.fuse import fuse_conv_bn

            self.fused = fuse_conv_bn(self.task.eval_net())
            if self.task.channels_last:  # folded weights are new tensors in the default layout
                self.fused.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def predict_batch(self, images: Tensor, targets: Any = None) -> list[dict[str, Tensor]]:
        images = images.to(self.device, torch.float32)
        if self.kind == "gghl":
            pp = self.task.postprocess
            old, old_topk = pp.score_thresh, pp.pre_nms_topk
            pp.score_thresh = self.score_thresh if self.score_thresh is not None else old
            pp.pre_nms_topk = int(self.post.get("pre_nms_topk", old_topk))
            try:
                preds = self.task.predict_batch(images, net=self.fused)
            finally:
                pp.score_thresh, pp.pre_nms_topk = old, old_topk
            return [{k: v.cpu() for k, v in p.items()} for p in preds]
        if self.kind == "query":
            from gghl.models.query.postprocess import postprocess

            out = self.task.model(images)
            dets = postprocess(
                out["cls_logits"][-1], out["boxes"][-1], max_det=int(self.task.hparams.max_det)
            )
            return [
                query_detections(d["boxes"].cpu(), d["scores"].cpu(), d["labels"].cpu(), self.score_thresh)
                for d in dets
            ]
        logits, probs = self.module(images)
        return [{"probs": p.cpu(), "logits": lg.cpu()} for p, lg in zip(probs, logits)]
