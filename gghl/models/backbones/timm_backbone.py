"""Any timm model as a multi-scale feature extractor, with no hub access at run time."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import Tensor, nn


class TimmBackbone(nn.Module):
    """Wrap ``timm.create_model(name, features_only=True)``.

    Args:
        name: any timm model name that supports ``features_only`` (e.g. ``resnet18``, ``cspdarknet53``).
        pretrained: load timm's pretrained weights. Defaults to False because nothing may be fetched from a
            hub at run time; set it only where the weights are already in the local timm/HF cache.
        checkpoint_path: a local file with weights for the *full* timm model (classifier weights are
            ignored); the usual way to start from ImageNet weights without network access.
        strides: feature strides to return (each must exist in the model's ``feature_info``).
        in_chans: input channels.
        kwargs: passed through to ``timm.create_model`` (e.g. ``drop_path_rate``).

    Output of ``forward(x: Tensor[B,in_chans,H,W])``: a list of ``Tensor[B, channels[i], H/strides[i], W/strides[i]]``.
    Attributes ``channels`` and ``strides`` describe that list, so necks never hard-code widths.
    """

    def __init__(
        self,
        name: str = "resnet18",
        pretrained: bool = False,
        checkpoint_path: str | None = None,
        strides: tuple[int, ...] = (8, 16, 32),
        in_chans: int = 3,
        **kwargs: object,
    ) -> None:
        super().__init__()
        probe = timm.create_model(name, pretrained=False, features_only=True, in_chans=in_chans, **kwargs)
        reductions = list(probe.feature_info.reduction())
        missing = [s for s in strides if s not in reductions]
        if missing:
            raise ValueError(f"timm model {name!r} has feature strides {reductions}; strides {missing} are not available")
        # The last feature of each requested stride (timm may report several at one stride).
        out_indices = tuple(max(i for i, r in enumerate(reductions) if r == s) for s in strides)
        del probe
        self.body = timm.create_model(
            name, pretrained=pretrained, features_only=True, out_indices=out_indices, in_chans=in_chans, **kwargs
        )
        if checkpoint_path:
            self._load_local_weights(Path(checkpoint_path))
        self.channels: list[int] = list(self.body.feature_info.channels())
        self.strides: list[int] = list(self.body.feature_info.reduction())

    def _load_local_weights(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"backbone checkpoint_path does not exist: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        missing, _unexpected = self.body.load_state_dict(state, strict=False)
        if len(missing) == len(self.body.state_dict()):
            raise ValueError(f"no weight in {path} matches the backbone (wrong model or key prefix?)")

    def forward(self, x: Tensor) -> list[Tensor]:
        return list(self.body(x))
