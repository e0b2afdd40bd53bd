"""Malformed and lying image files for ``scripts/fuzz_parsers.py`` (target ``image_reader``).

:func:`make_input` takes a small valid file (PNG RGB / gray / RGBA / palette / 16-bit, JPEG RGB / CMYK,
BMP, TIFF RGB / float), mutates it 1-3 times - header width/height overwritten with 0, 1, 2^16, 2^31, 2^32-1
or random values (PNG CRC recomputed or not, BMP top-down rows), byte flips, truncation, inserted random
runs - and writes it under a random extension (the extension may lie). ``call()`` reads it with
:func:`gghl.data.image_io.read_image` and :func:`~gghl.data.image_io.read_image_size` under a pixel limit
of ``IMAGE_LIMIT`` (4 Mpx: no input can make the reader decode more than ~50 MB, whatever its header
claims) and asserts the contract: an RGB ``uint8 [H, W, 3]`` C-contiguous array with ``0 < H*W <= limit``
and the header size equal to the decoded size, or an :class:`~gghl.data.image_io.ImageReadError`
(:data:`DOCUMENTED_ERRORS`). Anything else is a finding.
"""

from __future__ import annotations

import io
import os
import random
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gghl.data.image_io import (
    MAX_PIXELS_ENV,
    ImageReadError,
    read_image,
    read_image_size,
    set_max_image_pixels,
)

__all__ = ["DOCUMENTED_ERRORS", "IMAGE_LIMIT", "make_input"]

DOCUMENTED_ERRORS: tuple[type[BaseException], ...] = (ImageReadError,)


def _image_seeds() -> list[tuple[str, bytes]]:
    """Small valid files of every container and common mode (made once)."""
    g = np.random.default_rng(0)
    rgb = g.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    imgs = [("png", Image.fromarray(rgb), "PNG"), ("png", Image.fromarray(rgb[..., 0]), "PNG"),
            ("png", Image.fromarray(np.dstack([rgb, rgb[..., :1]])), "PNG"),
            ("png", Image.fromarray(rgb).quantize(8), "PNG"),
            ("png", Image.fromarray(g.integers(0, 65536, (12, 10), dtype=np.uint16)), "PNG"),
            ("jpg", Image.fromarray(rgb), "JPEG"), ("jpg", Image.fromarray(rgb).convert("CMYK"), "JPEG"),
            ("bmp", Image.fromarray(rgb), "BMP"), ("tif", Image.fromarray(rgb), "TIFF"),
            ("tif", Image.fromarray(g.random((12, 10), dtype=np.float32)), "TIFF")]  # fmt: skip
    out = []
    for ext, im, fmt in imgs:
        buf = io.BytesIO()
        im.save(buf, fmt)
        out.append((ext, buf.getvalue()))
    return out


IMAGE_SEEDS: list[tuple[str, bytes]] = []
IMAGE_LIMIT = 1 << 22  # 4 Mpx while fuzzing: no input may make the reader decode more than ~50 MB
HUGE_DIMS = [0, 1, 2, 2047, 2048, 2049, 65535, 65536, 1 << 20, (1 << 31) - 1, 1 << 31, (1 << 32) - 1]


def _lie_about_size(rng: random.Random, ext: str, b: bytearray) -> None:
    """Overwrite the width/height fields of the header (valid PNG CRC kept or not)."""
    w, h = rng.choice(HUGE_DIMS + [rng.randrange(1 << 16)]), rng.choice(HUGE_DIMS + [rng.randrange(1 << 16)])
    if ext == "png" and len(b) >= 33:
        struct.pack_into(">II", b, 16, w & 0xFFFFFFFF, h & 0xFFFFFFFF)
        if rng.random() < 0.8:
            struct.pack_into(">I", b, 29, zlib.crc32(bytes(b[12:29])) & 0xFFFFFFFF)
    elif ext == "jpg" and 0 <= (i := b.find(b"\xff\xc0")) <= len(b) - 9:
        struct.pack_into(">HH", b, i + 5, h & 0xFFFF, w & 0xFFFF)
    elif ext == "bmp" and len(b) >= 26:
        struct.pack_into(
            "<ii", b, 18, w % (1 << 31), -(h % (1 << 31)) if rng.random() < 0.3 else h % (1 << 31)
        )
    elif ext == "tif" and len(b) >= 8 and (ifd := struct.unpack_from("<I", b, 4)[0]) + 2 <= len(b):
        for k in range(struct.unpack_from("<H", b, ifd)[0]):
            entry = ifd + 2 + 12 * k
            if entry + 12 > len(b):
                break
            tag, typ = struct.unpack_from("<HH", b, entry)
            if tag in (256, 257):
                v = w if tag == 256 else h
                struct.pack_into(
                    "<H" if typ == 3 else "<I", b, entry + 8, v & (0xFFFF if typ == 3 else 0xFFFFFFFF)
                )


def make_input(rng: random.Random, tmp: Path) -> tuple[bytes, Callable[[], Any]]:
    """One mutated image file written under ``tmp`` and the ``call`` that reads it (see module docstring)."""
    if not IMAGE_SEEDS:
        IMAGE_SEEDS.extend(_image_seeds())
    ext, seed = rng.choice(IMAGE_SEEDS)
    b = bytearray(seed)
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if op < 0.45:
            _lie_about_size(rng, ext, b)
        elif op < 0.7 and b:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.85:
            del b[rng.randrange(len(b) + 1) :]
        else:
            b[rng.randrange(len(b) + 1) : rng.randrange(len(b) + 1)] = rng.randbytes(rng.randint(1, 64))
    data = bytes(b)
    path = tmp / f"img.{rng.choice(['png', 'jpg', 'bmp', 'tif', ext, ext])}"  # the extension may lie
    path.write_bytes(data)

    def call() -> None:
        previous = os.environ.get(MAX_PIXELS_ENV)
        set_max_image_pixels(IMAGE_LIMIT)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PIL's notes on odd tags; the outcome is what is checked
                arr = read_image(path)
                size = read_image_size(path)
            assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and arr.flags.c_contiguous
            assert 0 < arr.shape[0] * arr.shape[1] <= IMAGE_LIMIT and size == arr.shape[:2]
        finally:
            set_max_image_pixels(None if previous is None else int(previous))

    return data, call
