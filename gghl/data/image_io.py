"""Image file reading for detection datasets (PIL based).

Every reader returns RGB ``uint8`` arrays ``[H, W, 3]`` in file pixel coordinates (row = y, col = x).
Formats met in aerial data are normalised explicitly: 16-bit grayscale (``I;16*``), 32-bit integer
(``I``) and float (``F``) images are scaled to 8 bit by their nominal range, grayscale/palette/CMYK
are converted to RGB, and the alpha channel of RGBA/LA images is dropped (DOTA PNGs carry no
meaningful alpha).

PIL refuses images above ``Image.MAX_IMAGE_PIXELS`` (~89 Mpx) as "decompression bombs"; DOTA-v2
holds images of 20000 x 20000 px and more, so this module lifts the limit to ``MAX_PIXELS``
(4 Gpx) when it is imported. That is a process-wide PIL setting and deliberate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 1 << 32
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class ImageReadError(OSError):
    """An image file is missing, not an image, truncated or corrupt. The message names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot read image ({reason})")


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to an RGB ``uint8 [H, W, 3]`` array (see module docstring)."""
    mode = img.mode
    if mode in ("RGB",):
        return np.array(img, dtype=np.uint8)  # a writable copy (asarray of PIL is read-only)
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img)
        if mode.startswith("I;16"):
            scale = 255.0 / 65535.0
        elif mode == "I":
            # 32-bit integer PNGs are in practice 16-bit data widened by PIL; fall back to the max.
            scale = 255.0 / (65535.0 if arr.max(initial=0) <= 65535 else float(arr.max()))
        else:
            scale = 255.0 if arr.max(initial=0.0) <= 1.0 else 1.0
        gray = np.clip(np.rint(arr.astype(np.float64) * scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        return np.asarray(img, dtype=np.uint8)[..., :3].copy()
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path: image file (PNG, JPEG, TIFF, BMP, ...).

    Returns:
        ``uint8 [H, W, 3]`` RGB array, C-contiguous.

    Raises:
        ImageReadError: the file is missing, unreadable, not an image or truncated/corrupt.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(p, "file not found")
    try:
        with Image.open(p) as img:
            img.load()  # decode now so truncation surfaces here, not later inside numpy/torch
            arr = _to_rgb_uint8(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageReadError(p, f"{type(e).__name__}: {e}") from e
    return np.ascontiguousarray(arr)


def read_image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` from the file header without decoding pixels. Raises ``ImageReadError``."""
    p = Path(path)
    if not p.is_file():
        raise ImageReadError(p, "file not found")
    try:
        with Image.open(p) as img:
            w, h = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageReadError(p, f"{type(e).__name__}: {e}") from e
    return int(h), int(w)


def verify_image(path: str | Path) -> None:
    """Fully decode ``path`` once; raise ``ImageReadError`` if it is missing or corrupt."""
    read_image(path)


def write_png(path: str | Path, image: np.ndarray, compress_level: int = 1) -> None:
    """Write an RGB ``uint8 [H, W, 3]`` array as PNG (low compression: fast, for generated data)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(
        path, format="PNG", compress_level=compress_level
    )
