"""QueryDetector: timm backbone + ChannelMapping neck + learned queries + AdaMixer/StageInteractor decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gghl.models.query.boxes import whole_image_xyzr
from gghl.models.query.decoder import QueryDecoder
from gghl.models.query.neck import ChannelMapping


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` by torchvision's ``FrozenBatchNorm2d`` with the same statistics
    (mmdet ``norm_eval`` + ``requires_grad=False``, as the paper's R50 recipe with ImageNet weights)."""
    from torchvision.ops.misc import FrozenBatchNorm2d

    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(module, name, frozen)
        else:
            freeze_batchnorm(child)
    return module


def freeze_stages(backbone: nn.Module, num_stages: int) -> nn.Module:
    """Stop gradients into the stem (stage 0) and ``layer1..layer{num_stages}`` of a ResNet-style backbone
    (mmdet ``frozen_stages``; the paper's R50 recipe uses 1). ``0`` freezes nothing.

    Raises ``ValueError`` naming the missing modules when the backbone has no ResNet stage names.
    """
    if num_stages <= 0:
        return backbone
    body = getattr(backbone, "body", backbone)  # TimmBackbone wraps the timm model as ``.body``
    names = ["conv1", "bn1"] + [f"layer{i}" for i in range(1, num_stages + 1)]
    children = dict(body.named_children())
    missing = [n for n in names if n not in children]
    if missing:
        raise ValueError(
            f"frozen_stages={num_stages} needs a ResNet-style backbone with modules {names}; missing {missing} "
            f"(has {sorted(children)})"
        )
    for n in names:
        for p in children[n].parameters():
            p.requires_grad_(False)
    return backbone


def _build_backbone(
    name: str, pretrained: bool, checkpoint_path: str | None, strides: Sequence[int]
) -> nn.Module:
    """The project's ``TimmBackbone`` (``.channels`` / ``.strides``), or plain timm ``features_only``."""
    try:
        from gghl.models.backbones.timm_backbone import TimmBackbone
    except ImportError:  # pragma: no cover - fallback only for a tree without the shared backbone
        import timm

        body = timm.create_model(name, pretrained=pretrained, features_only=True, out_indices=(1, 2, 3, 4))
        body.channels = list(body.feature_info.channels())
        body.strides = list(body.feature_info.reduction())
        return body
    return TimmBackbone(name, pretrained=pretrained, checkpoint_path=checkpoint_path, strides=tuple(strides))


class QueryDetector(nn.Module):
    """Query-based detector (docs/stageinteractor.md#network).

    Args:
        num_classes: ``C``; backbone: any timm name with ``features_only``, or a module with ``channels`` and
        ``strides`` attributes (e.g. ``TinyConvBackbone``); pretrained / checkpoint_path:
        backbone weights (never fetched by default); strides: pyramid strides (4, 8, 16, 32);
        num_queries: ``N``; dim: ``D``; decoder kwargs: see :class:`QueryDecoder`; freeze_bn: freeze the
        backbone's BatchNorm (only sensible with pretrained weights); frozen_stages: no gradients into the
        backbone stem and its first ``frozen_stages`` ResNet stages (paper: 1); pixel_mean / pixel_std:
        per-channel input normalisation ``(images - mean) / std`` that ``forward`` applies to ``[0, 1]`` RGB
        images (official: ImageNet ``(0.485, 0.456, 0.406)`` / ``(0.229, 0.224, 0.225)``, which is mmdet's
        ``mean=[123.675, 116.28, 103.53] std=[58.395, 57.12, 57.375]`` on 0-255 pixels); ``None`` feeds the
        images unchanged. They are not in the state dict: the config defines them.

    ``forward(images [B,3,H,W], img_wh [B,2] | None)`` -> ``{"cls_logits": [S,B,N,C], "boxes": [S,B,N,4]}``
    (abs xyxy in the pixels of ``images``). ``img_wh`` defaults to the padded tensor size; the initial boxes
    are ``[0, w] x [0, h]`` of it (official: mmdet's ``img_shape``, the image before its bottom-right padding).
    ``stage_outputs(x)`` takes an already-normalised ``x`` and returns one dict per stage (the official
    ``_bbox_forward`` quantities): ``logits [B,N,C]`` before the sigmoid, ``boxes [B,N,4]`` xyxy pixels,
    not clipped.

    As in the official network, the initial query content is ``layer_norm(embedding)`` without affine
    parameters (``SubInitialQueryGenerator``) and the hidden Linear layers of the cls / reg branches have
    biases (``StageInteractorHead``).
    """

    def __init__(
        self,
        num_classes: int,
        backbone: str | nn.Module = "resnet50",
        pretrained: bool = False,
        checkpoint_path: str | None = None,
        strides: Sequence[int] = (4, 8, 16, 32),
        num_queries: int = 100,
        dim: int = 256,
        num_stages: int = 6,
        heads: int = 8,
        ffn_dim: int = 2048,
        groups: int = 4,
        points: int = 8,
        subboxes: int | Sequence[int] = (8, 4, 4, 4, 4, 4),
        out_points: int = 128,
        reuse_operators: bool = True,
        dropout: float = 0.0,
        freeze_bn: bool = False,
        frozen_stages: int = 0,
        pixel_mean: Sequence[float] | None = None,
        pixel_std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.num_classes, self.num_queries = num_classes, num_queries
        if isinstance(backbone, nn.Module):
            self.backbone = backbone
        else:
            self.backbone = _build_backbone(backbone, pretrained, checkpoint_path, strides)
        if freeze_bn:
            freeze_batchnorm(self.backbone)
        freeze_stages(self.backbone, int(frozen_stages))
        self.normalize = _check_normalization(pixel_mean, pixel_std)
        mean = torch.tensor([float(v) for v in pixel_mean or (0.0, 0.0, 0.0)]).view(1, 3, 1, 1)
        std = torch.tensor([float(v) for v in pixel_std or (1.0, 1.0, 1.0)]).view(1, 3, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)
        self.strides = list(self.backbone.strides)
        self.neck = ChannelMapping(self.backbone.channels, dim)
        self.query_embed = nn.Embedding(num_queries, dim)
        nn.init.normal_(self.query_embed.weight, 0.0, 1.0)
        if not isinstance(subboxes, int):
            subboxes = list(subboxes)[:num_stages]
        self.decoder = QueryDecoder(
            num_classes,
            num_stages,
            dim,
            heads,
            ffn_dim,
            groups,
            points,
            subboxes,
            out_points,
            reuse_operators,
            num_levels=len(self.strides),
            dropout=dropout,
        )

    def forward(self, images: Tensor, img_wh: Tensor | None = None) -> dict[str, Tensor]:
        if self.normalize:
            images = (images - self.pixel_mean.to(images.dtype)) / self.pixel_std.to(images.dtype)
        return self.forward_normalized(images, img_wh)

    def forward_normalized(self, x: Tensor, img_wh: Tensor | None = None) -> dict[str, Tensor]:
        """``forward`` without the input normalisation (``x`` is what the backbone sees)."""
        b, _, h, w = x.shape
        if img_wh is None:
            img_wh = x.new_tensor([[w, h]]).expand(b, 2)
        feats = self.neck(self.backbone(x))
        # parameter-free LayerNorm of the learned content (official SubInitialQueryGenerator)
        q = F.layer_norm(self.query_embed.weight, (self.query_embed.embedding_dim,))[None].expand(b, -1, -1)
        # float32 boxes (float64 for a float64 input): never rounded to a bf16 / fp16 input's precision
        img_wh = img_wh.to(device=x.device, dtype=torch.promote_types(x.dtype, torch.float32))
        xyzr = whole_image_xyzr(img_wh, self.num_queries)
        return self.decoder(feats, self.strides, q, xyzr)

    def stage_outputs(self, x: Tensor, img_wh: Tensor | None = None) -> list[dict[str, Tensor]]:
        """Per decoder stage ``{"logits": [B,N,C], "boxes": [B,N,4]}`` for an already-normalised ``x``."""
        out = self.forward_normalized(x, img_wh)
        return [
            {"logits": lg, "boxes": bx} for lg, bx in zip(out["cls_logits"].unbind(0), out["boxes"].unbind(0))
        ]


def _check_normalization(mean: Sequence[float] | None, std: Sequence[float] | None) -> bool:
    """True when both are given (3 values each, std > 0); ``ValueError`` naming the arguments otherwise."""
    if mean is None and std is None:
        return False
    if mean is None or std is None:
        raise ValueError("pixel_mean and pixel_std must be given together (or both null)")
    if len(mean) != 3 or len(std) != 3 or min(float(v) for v in std) <= 0:
        raise ValueError(
            f"pixel_mean / pixel_std must be 3 values each with std > 0, got {list(mean)} / {list(std)}"
        )
    return True
