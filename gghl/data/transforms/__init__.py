"""OBB-aware data transforms on the sample dict (``image``, ``polygons``, ``labels``, ``difficult``,
``weights``, ``image_id``, ``orig_size``, ``affine``).

Every geometric transform changes ``image`` and ``polygons`` together and composes its map into
``affine`` (original file pixels -> current pixels), so predictions map back with its inverse.
Pixel frame: continuous coordinates, image covering ``[0, W] x [0, H]``, pixel centres at
``i + 0.5``. Angles are clockwise on screen (y down), like the OBB angle. Random transforms take
``(sample, generator=None)`` and are deterministic given a ``torch.Generator``; none mutates its
input dict. Run them before collate (collate derives ``obb``/``hbb``; geometric transforms drop
stale ones).
"""

from gghl.data.transforms.clip import ClipToImage, clip_polygons, clip_to_image
from gghl.data.transforms.color import RandomHSV, hsv_jitter, hsv_to_rgb, rgb_to_hsv
from gghl.data.transforms.compose import Compose
from gghl.data.transforms.geometric import (
    RandomHorizontalFlip,
    RandomRot90,
    RandomVerticalFlip,
    hflip,
    rot90,
    vflip,
)
from gghl.data.transforms.mixup import RandomMixup, mixup, sample_beta
from gghl.data.transforms.resize import GGHL_PAD_VALUE, Letterbox, MultiScale, RandomScale, letterbox, resize
from gghl.data.transforms.warp import RandomRotate, rotate, warp_image

__all__ = [
    "Compose",
    "hflip",
    "vflip",
    "rot90",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomRot90",
    "rotate",
    "RandomRotate",
    "warp_image",
    "clip_polygons",
    "clip_to_image",
    "ClipToImage",
    "letterbox",
    "Letterbox",
    "resize",
    "RandomScale",
    "MultiScale",
    "GGHL_PAD_VALUE",
    "hsv_jitter",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "RandomHSV",
    "mixup",
    "RandomMixup",
    "sample_beta",
]
