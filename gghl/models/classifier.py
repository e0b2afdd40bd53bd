"""Image classifiers: any timm model by name, or a tiny CNN for small images (``small_cnn``).

No weights are downloaded unless ``pretrained=True``; ``checkpoint_path`` loads local weights
(a timm/torch state dict, or a Lightning checkpoint whose keys start with ``net.``).
"""

from __future__ import annotations

import os

from torch import Tensor, nn

from gghl.checkpoint import read_weights


class SmallCNN(nn.Module):
    """Three conv blocks (conv-BN-ReLU x2, max-pool) and a linear head; for 8-64 px images.

    Input float ``[B, in_chans, H, W]`` -> logits ``[B, num_classes]``.
    """

    def __init__(self, num_classes: int, in_chans: int = 3, width: int = 32, drop_rate: float = 0.1) -> None:
        super().__init__()
        self.num_classes = num_classes

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.features = nn.Sequential(
            block(in_chans, width), block(width, 2 * width), block(2 * width, 4 * width)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.drop(self.pool(self.features(x)).flatten(1)))


def _load_local(model: nn.Module, path: str) -> None:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint_path not found: {path}")
    state = read_weights(path)  # weights_only: a weights file never runs code
    if isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if isinstance(state, dict) and any(k.startswith("net.") for k in state):
        state = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
    # Heads of a different class count are skipped so a backbone can be fine-tuned on a new label set.
    own = model.state_dict()
    keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not keep:
        raise ValueError(f"{path}: no tensor matches the model's parameters")
    model.load_state_dict(keep, strict=False)


def build_classifier(
    name: str,
    num_classes: int,
    pretrained: bool = False,
    checkpoint_path: str | None = None,
    in_chans: int = 3,
    **kwargs,
) -> nn.Module:
    """Create a classifier ``[B, in_chans, H, W] -> [B, num_classes]``.

    Args:
        name: ``small_cnn`` or any ``timm.create_model`` name (e.g. ``resnet10t``).
        num_classes: output classes.
        pretrained: timm pretrained weights (download; off by default).
        checkpoint_path: local weights loaded after creation (mismatching head shapes are skipped).
        in_chans: input channels.
        **kwargs: forwarded to the model constructor (``width`` for small_cnn; e.g. ``channels`` or
            ``drop_rate`` for timm models).
    """
    if name == "small_cnn":
        model: nn.Module = SmallCNN(num_classes, in_chans=in_chans, **kwargs)
    else:
        import timm

        model = timm.create_model(
            name, pretrained=pretrained, num_classes=num_classes, in_chans=in_chans, **kwargs
        )
    if checkpoint_path:
        _load_local(model, checkpoint_path)
    return model
