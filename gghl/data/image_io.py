"""Image file reading for detection datasets (PIL based).

Every reader returns RGB ``uint8`` arrays ``[H, W, 3]`` in file pixel coordinates (row = y, col = x).
Formats met in aerial data are normalised explicitly: 16-bit grayscale (``I;16*``), 32-bit integer
(``I``) and float (``F``) images are scaled to 8 bit by their nominal range, grayscale/palette/CMYK
are converted to RGB, and the alpha channel of RGBA/LA images is dropped (DOTA PNGs carry no
meaningful alpha). The format is read from the file's content, not its extension (a JPEG named
``.png`` reads as the JPEG it is).

Pixel limit. A header can claim any size (a 2 KB PNG may claim 65535 x 65535 px, 13 GB of RGB once
decoded), so every reader checks ``width * height`` from the header against a limit **before**
anything is decoded and raises :class:`ImageTooLargeError` (an :class:`ImageReadError`) naming the
file, its claimed size and how to raise the limit. The default, ``DEFAULT_MAX_PIXELS = 20000 * 20000``,
admits the largest DOTA images. Raise it with the environment variable ``GGHL_MAX_IMAGE_PIXELS``
(read at every call, so data-loader workers see it) or :func:`set_max_image_pixels` (which sets that
variable for this process and the workers it starts). PIL's own decompression-bomb limit
(``Image.MAX_IMAGE_PIXELS``, process-wide) is set to the same value, so PIL neither warns below it nor
lets anything larger through.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

#: The largest DOTA images are 20000 x 20000 px.
DEFAULT_MAX_PIXELS = 20000 * 20000
#: Environment variable holding the pixel limit (an integer; ``_`` separators allowed).
MAX_PIXELS_ENV = "GGHL_MAX_IMAGE_PIXELS"

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def max_image_pixels() -> int:
    """The pixel limit in force: ``$GGHL_MAX_IMAGE_PIXELS`` if set, else ``DEFAULT_MAX_PIXELS``.

    Raises:
        ValueError: the variable is set but not a positive integer (the message names it).
    """
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(
            f"{MAX_PIXELS_ENV}={raw!r}: expected a positive integer number of pixels, e.g. 1000000000"
        )
    return value


def set_max_image_pixels(pixels: int | None) -> None:
    """Set the pixel limit for this process and the processes it starts (data-loader workers).

    Args:
        pixels: positive ``width * height`` bound, or ``None`` to return to ``DEFAULT_MAX_PIXELS``.
    """
    if pixels is None:
        os.environ.pop(MAX_PIXELS_ENV, None)
        Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
        return
    if isinstance(pixels, bool) or not isinstance(pixels, int) or pixels <= 0:
        raise ValueError(f"max image pixels must be a positive int or None, got {pixels!r}")
    os.environ[MAX_PIXELS_ENV] = str(pixels)
    Image.MAX_IMAGE_PIXELS = pixels


try:  # PIL's process-wide bomb limit = ours from the start (the readers re-apply it at every call)
    Image.MAX_IMAGE_PIXELS = max_image_pixels()
except ValueError:  # a malformed $GGHL_MAX_IMAGE_PIXELS is reported by the first read, naming the variable
    pass


class ImageReadError(OSError):
    """An image file is missing, not an image, truncated or corrupt. The message names the file.

    ``ImageReadError(message)`` with one argument keeps a finished message: torch's ``DataLoader``
    re-raises a worker's exception as ``type(exc)(message)``, and the type survives that way.
    """

    def __init__(self, path: str | Path, reason: str | None = None) -> None:
        if reason is None:
            self.path, self.reason = "", str(path)
            super().__init__(str(path))
            return
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot read image ({reason})")


class ImageTooLargeError(ImageReadError):
    """The header claims more pixels than the limit (see the module docstring); nothing was decoded."""

    def __init__(
        self, path: str | Path, size: tuple[int, int] | None = None, pixels: int | None = None, limit: int = 0
    ) -> None:
        self.size, self.pixels, self.limit = size, pixels, int(limit)
        if pixels is None:  # one argument: a finished message (DataLoader re-raise)
            super().__init__(path)
            return
        claim = f"{size[0]} x {size[1]} = {pixels:,} pixels" if size else f"{pixels:,} pixels"
        super().__init__(
            path,
            f"its header claims {claim}, above the limit of {limit:,} pixels; if the image is genuine, "
            f"raise the limit with the environment variable {MAX_PIXELS_ENV}=<pixels> or "
            "gghl.data.image_io.set_max_image_pixels(<pixels>)",
        )


def _to_rgb_uint8(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to an RGB ``uint8 [H, W, 3]`` array (see module docstring)."""
    mode = img.mode
    if mode in ("RGB",):
        return np.array(img, dtype=np.uint8)  # a writable copy (asarray of PIL is read-only)
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img).astype(np.float64)
        if mode == "F" and not np.isfinite(arr).all():
            # NaN / -inf -> 0 and +inf -> the finite maximum, instead of undefined float -> uint8 casts
            top = float(arr[np.isfinite(arr)].max(initial=0.0))
            arr = np.nan_to_num(arr, nan=0.0, posinf=top, neginf=0.0)
        if mode.startswith("I;16"):
            scale = 255.0 / 65535.0
        elif mode == "I":
            # 32-bit integer PNGs are in practice 16-bit data widened by PIL; fall back to the max.
            scale = 255.0 / (65535.0 if arr.max(initial=0) <= 65535 else float(arr.max()))
        else:
            scale = 255.0 if arr.max(initial=0.0) <= 1.0 else 1.0
        gray = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        return np.asarray(img, dtype=np.uint8)[..., :3].copy()
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _header_size(path: Path) -> tuple[int, int] | None:
    """``(W, H)`` from the header through PIL's format plugins, without PIL's own size check (only used
    to name the size when PIL refused the file as a decompression bomb); ``None`` if no plugin reads it."""
    Image.init()
    with open(path, "rb") as fp:
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            ok = True if accept is None else accept(prefix)
            if not ok or isinstance(ok, str):  # a str is PIL's "looks like it, but unsupported" note
                continue
            try:
                fp.seek(0)
                im = factory(fp, str(path))
                return int(im.size[0]), int(im.size[1])
            except Exception:  # noqa: BLE001 - any plugin failure means "not this format"
                continue
    return None


@contextmanager
def _open_checked(path: Path, limit: int) -> Iterator[Image.Image]:
    """``Image.open`` whose header size was checked against ``limit`` (and is not empty) before any decode."""
    if Image.MAX_IMAGE_PIXELS != limit:
        Image.MAX_IMAGE_PIXELS = limit  # PIL's bomb check: warns above, raises above twice this
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", Image.DecompressionBombWarning
            )  # refused below, with the file named
            img = Image.open(path)
    except Image.DecompressionBombError as e:
        size = _header_size(path)
        found = re.search(r"\((\d+) pixels\)", str(e))
        pixels = size[0] * size[1] if size else int(found.group(1)) if found else limit + 1
        raise ImageTooLargeError(path, size, pixels, limit) from e
    with img:
        w, h = img.size
        if w * h > limit:
            raise ImageTooLargeError(path, (w, h), w * h, limit)
        if w <= 0 or h <= 0:
            raise ImageReadError(path, f"its header claims an empty image, {w} x {h} pixels")
        yield img


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Args:
        path: image file (PNG, JPEG, TIFF, BMP, ...; the content decides the format, not the extension).

    Returns:
        ``uint8 [H, W, 3]`` RGB array, C-contiguous.

    Raises:
        ImageTooLargeError: the header claims more than :func:`max_image_pixels` pixels (nothing decoded).
        ImageReadError: the file is missing, unreadable, not an image, empty (0 px) or truncated/corrupt.
        ValueError: ``$GGHL_MAX_IMAGE_PIXELS`` is not a positive integer.
    """
    p = Path(path)
    limit = max_image_pixels()
    if not p.is_file():
        raise ImageReadError(p, "file not found")
    try:
        with _open_checked(p, limit) as img:
            img.load()  # decode now so truncation surfaces here, not later inside numpy/torch
            arr = _to_rgb_uint8(img)
    except ImageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - PIL plugins raise many types (OSError, SyntaxError, struct.error,
        # IndexError, MemoryError, ...) on hostile files; every one means "this file cannot be read"
        raise ImageReadError(p, f"{type(e).__name__}: {e}") from e
    return np.ascontiguousarray(arr)


def read_image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` from the file header without decoding pixels.

    Raises ``ImageReadError`` (``ImageTooLargeError`` above the pixel limit, so a file that
    :func:`read_image` would refuse is refused here too, before any work is planned on it).
    """
    p = Path(path)
    limit = max_image_pixels()
    if not p.is_file():
        raise ImageReadError(p, "file not found")
    try:
        with _open_checked(p, limit) as img:
            w, h = img.size
    except ImageReadError:
        raise
    except Exception as e:  # noqa: BLE001 - as in read_image
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
