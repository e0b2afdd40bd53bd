"""Any timm model as a multi-scale feature extractor, with no hub access at run time."""

from __future__ import annotations

from pathlib import Path

import timm
from torch import Tensor, nn

from gghl.checkpoint import read_weights


class TimmBackbone(nn.Module):
    """Wrap ``timm.create_model(name, features_only=True)``.

    Args:
        name: any timm model name that supports ``features_only`` (e.g. ``resnet18``, ``cspdarknet53``).
        pretrained: load timm's pretrained weights. Defaults to False because nothing may be fetched from a
            hub at run time; set it only where the weights are already in the local timm/HF cache.
        checkpoint_path: a local weights file, detected by its content: a torch file (``.pth``/``.pt``, a state
            dict or ``{"state_dict"|"model": ...}``) or a safetensors file with weights of the *full* timm model
            (classifier weights are ignored), or Darknet binary weights (``darknet53.conv.74``,
            ``darknet53_448.weights``: the convolutions in network order, see ``gghl.models.backbones.darknet_weights``).
            The usual way to start from ImageNet weights without network access.
        strides: feature strides to return (each must exist in the model's ``feature_info``).
        in_chans: input channels.
        leaky_slope: if set, the negative slope of every ``LeakyReLU`` of the model (Darknet-53 as trained by
            darknet / GGHL: 0.1; timm's ``darknet53`` uses 0.01). Models without LeakyReLU are unaffected.
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
        leaky_slope: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__()
        probe = timm.create_model(name, pretrained=False, features_only=True, in_chans=in_chans, **kwargs)
        reductions = list(probe.feature_info.reduction())
        missing = [s for s in strides if s not in reductions]
        if missing:
            raise ValueError(
                f"timm model {name!r} has feature strides {reductions}; strides {missing} are not available"
            )
        # The last feature of each requested stride (timm may report several at one stride).
        out_indices = tuple(max(i for i, r in enumerate(reductions) if r == s) for s in strides)
        del probe
        self.body = timm.create_model(
            name,
            pretrained=pretrained,
            features_only=True,
            out_indices=out_indices,
            in_chans=in_chans,
            **kwargs,
        )
        if leaky_slope is not None:
            for m in self.body.modules():
                if isinstance(m, nn.LeakyReLU):
                    m.negative_slope = float(leaky_slope)
        if checkpoint_path:
            self._load_local_weights(Path(checkpoint_path))
        self.channels: list[int] = list(self.body.feature_info.channels())
        self.strides: list[int] = list(self.body.feature_info.reduction())

    def _load_local_weights(self, path: Path) -> None:
        from gghl.models.backbones.darknet_weights import load_darknet_weights
        from gghl.models.backbones.weights_format import weights_file_format

        if not path.is_file():
            raise FileNotFoundError(f"backbone checkpoint_path does not exist: {path}")
        fmt = weights_file_format(path)
        if fmt == "darknet":
            load_darknet_weights(self.body, path)
            return
        if fmt == "safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = read_weights(path)
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
        if not isinstance(state, dict):
            raise ValueError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
        own = self.body.state_dict()
        matched = _match_feature_keys(list(own), state)
        if not matched:
            raise ValueError(f"no weight in {path} matches the backbone (wrong model or key prefix?)")
        # Every weight must come from the file (BN's num_batches_tracked may be absent from older files): a
        # partial load would silently train from a half-random backbone.
        missing = [k for k in own if k not in matched and not k.endswith("num_batches_tracked")]
        if missing:
            raise ValueError(
                f"{path}: {len(missing)} of {len(own)} backbone weights are not in the file (e.g. {missing[:3]}); "
                "is it a checkpoint of another model?"
            )
        wrong = [
            f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
            for k, v in matched.items()
            if v.shape != own[k].shape
        ]
        if wrong:
            raise ValueError(
                f"{path}: {len(wrong)} backbone weights have another shape (file vs model): {wrong[:3]}"
            )
        self.body.load_state_dict(matched, strict=False)

    def forward(self, x: Tensor) -> list[Tensor]:
        return list(self.body(x))


def _match_feature_keys(keys: list[str], state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The file's tensor for each key of the ``features_only`` body.

    timm's feature wrapper flattens the top modules: the full model's ``stem.conv1.conv.weight`` (CSPNet /
    Darknet) is ``stem_conv1.conv.weight`` in the body, ``stages.0...`` is ``stages_0...``. A key is looked up as
    is, else with one ``_`` of its first component read as the ``.`` it replaced.
    """
    out: dict[str, Tensor] = {}
    for key in keys:
        if key in state:
            out[key] = state[key]
            continue
        first, dot, rest = key.partition(".")
        for i, ch in enumerate(first):
            if ch == "_" and (cand := f"{first[:i]}.{first[i + 1 :]}{dot}{rest}") in state:
                out[key] = state[cand]
                break
    return out
