"""QueryDetector: timm backbone + ChannelMapping neck + learned queries + AdaMixer/StageInteractor decoder."""

from __future__ import annotations

from collections.abc import Sequence

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


def _build_backbone(name: str, pretrained: bool, checkpoint_path: str | None, strides: Sequence[int]) -> nn.Module:
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
    """Query-based detector (spec/stageinteractor.md §1.0).

    Args:
        num_classes: ``C``; backbone: any timm name with ``features_only``, or a module with ``channels`` and
        ``strides`` attributes (e.g. ``TinyConvBackbone``); pretrained / checkpoint_path:
        backbone weights (never fetched by default); strides: pyramid strides (4, 8, 16, 32);
        num_queries: ``N``; dim: ``D``; decoder kwargs: see :class:`QueryDecoder`; freeze_bn: freeze the
        backbone's BatchNorm (only sensible with pretrained weights).

    ``forward(images [B,3,H,W], img_wh [B,2] | None)`` -> ``{"cls_logits": [S,B,N,C], "boxes": [S,B,N,4]}``
    (abs xyxy in the pixels of ``images``). ``img_wh`` defaults to the padded tensor size.
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
    ) -> None:
        super().__init__()
        self.num_classes, self.num_queries = num_classes, num_queries
        if isinstance(backbone, nn.Module):
            self.backbone = backbone
        else:
            self.backbone = _build_backbone(backbone, pretrained, checkpoint_path, strides)
        if freeze_bn:
            freeze_batchnorm(self.backbone)
        self.strides = list(self.backbone.strides)
        self.neck = ChannelMapping(self.backbone.channels, dim)
        self.query_embed = nn.Embedding(num_queries, dim)
        nn.init.normal_(self.query_embed.weight, 0.0, 1.0)
        self.query_norm = nn.LayerNorm(dim)
        if not isinstance(subboxes, int):
            subboxes = list(subboxes)[:num_stages]
        self.decoder = QueryDecoder(
            num_classes, num_stages, dim, heads, ffn_dim, groups, points, subboxes, out_points,
            reuse_operators, num_levels=len(self.strides), dropout=dropout,
        )

    def forward(self, images: Tensor, img_wh: Tensor | None = None) -> dict[str, Tensor]:
        b, _, h, w = images.shape
        if img_wh is None:
            img_wh = images.new_tensor([[w, h]]).expand(b, 2)
        feats = self.neck(self.backbone(images))
        q = self.query_norm(self.query_embed.weight)[None].expand(b, -1, -1)
        xyzr = whole_image_xyzr(img_wh.to(images.device), self.num_queries)
        return self.decoder(feats, self.strides, q, xyzr)


def build_query_detector(**kwargs) -> QueryDetector:
    """Explicit builder used by configs (``kwargs`` of :class:`QueryDetector`)."""
    return QueryDetector(**kwargs)
