"""Image reader limits and odd files (issue 13, deliverable 6, first half).

A header that claims more pixels than the limit is refused before anything is decoded, naming the file,
the claimed size and the setting that raises the limit; real images of every common mode still read.
Lying headers are crafted byte by byte here (valid CRCs / markers, tiny payloads).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gghl.data.image_io import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    ImageReadError,
    ImageTooLargeError,
    max_image_pixels,
    read_image,
    read_image_size,
    set_max_image_pixels,
)


@pytest.fixture(autouse=True)
def _default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)


# ------------------------------------------------------------------ crafted headers
def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bytes(w: int, h: int, raw: bytes = b"\0" * 16, color: int = 2, depth: int = 8) -> bytes:
    """A PNG whose IHDR says ``w x h`` with ``raw`` (filter bytes + pixels) as its only IDAT payload."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def _saved(img: Image.Image, fmt: str, **kw) -> bytearray:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return bytearray(buf.getvalue())


def jpeg_bytes(w: int, h: int) -> bytes:
    """An 8 x 8 baseline JPEG whose SOF0 marker claims ``w x h``."""
    b = _saved(Image.new("RGB", (8, 8), (10, 20, 30)), "JPEG")
    struct.pack_into(">HH", b, b.find(b"\xff\xc0") + 5, h, w)
    return bytes(b)


def tiff_bytes(w: int, h: int) -> bytes:
    """An 8 x 8 TIFF whose ImageWidth / ImageLength tags claim ``w x h``."""
    b = _saved(Image.new("RGB", (8, 8)), "TIFF")
    ifd = struct.unpack_from("<I", b, 4)[0]
    for k in range(struct.unpack_from("<H", b, ifd)[0]):
        entry = ifd + 2 + 12 * k
        tag, typ = struct.unpack_from("<HH", b, entry)
        if tag in (256, 257):
            val = w if tag == 256 else h
            struct.pack_into("<H" if typ == 3 else "<I", b, entry + 8, min(val, 65535) if typ == 3 else val)
    return bytes(b)


def bmp_bytes(w: int, h: int) -> bytes:
    """An 8 x 8 BMP whose info header claims ``w x h`` (negative ``h``: top-down rows)."""
    b = _saved(Image.new("RGB", (8, 8)), "BMP")
    struct.pack_into("<ii", b, 18, w, h)
    return bytes(b)


LYING = {
    "png_65535.png": (png_bytes(65535, 65535), (65535, 65535)),
    "jpeg_65535.jpg": (jpeg_bytes(65535, 65535), (65535, 65535)),
    "tiff_1e5.tif": (tiff_bytes(100000, 100000), (100000, 100000)),
    "bmp_1e5.bmp": (bmp_bytes(100000, 100000), (100000, 100000)),
    "bmp_topdown.bmp": (bmp_bytes(30000, -30000), (30000, 30000)),
    "jpeg_named.png": (jpeg_bytes(65535, 65535), (65535, 65535)),  # the extension lies too
}


@pytest.mark.parametrize("name", list(LYING))
@pytest.mark.parametrize("reader", [read_image, read_image_size], ids=["read_image", "read_image_size"])
def test_lying_header_is_refused_before_decoding(tmp_path: Path, name: str, reader) -> None:
    data, (w, h) = LYING[name]
    path = tmp_path / name
    path.write_bytes(data)
    assert len(data) < 4096
    with pytest.raises(ImageTooLargeError) as info:
        reader(path)
    msg = str(info.value)
    assert str(path) in msg and f"{w} x {h} = {w * h:,} pixels" in msg
    assert (
        f"limit of {DEFAULT_MAX_PIXELS:,} pixels" in msg
        and MAX_PIXELS_ENV in msg
        and "set_max_image_pixels" in msg
    )
    assert isinstance(info.value, ImageReadError) and isinstance(info.value, OSError)
    assert info.value.size == (w, h) and info.value.limit == DEFAULT_MAX_PIXELS


def test_default_limit_admits_the_largest_dota_image(tmp_path: Path) -> None:
    assert DEFAULT_MAX_PIXELS == 20000 * 20000 == max_image_pixels()
    (tmp_path / "dota.png").write_bytes(png_bytes(20000, 20000))
    assert read_image_size(tmp_path / "dota.png") == (20000, 20000)  # header only: nothing decoded
    (tmp_path / "over.png").write_bytes(png_bytes(20001, 20000))
    with pytest.raises(ImageTooLargeError, match="20001 x 20000"):
        read_image_size(tmp_path / "over.png")


def test_limit_is_set_by_function_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (16, 16), (1, 2, 3)).save(path)
    set_max_image_pixels(255)
    try:
        assert os.environ[MAX_PIXELS_ENV] == "255" and max_image_pixels() == 255
        with pytest.raises(ImageTooLargeError, match=r"16 x 16 = 256 pixels, above the limit of 255 pixels"):
            read_image(path)
        set_max_image_pixels(256)
        assert read_image(path).shape == (16, 16, 3)
    finally:
        set_max_image_pixels(None)
    assert MAX_PIXELS_ENV not in os.environ and max_image_pixels() == DEFAULT_MAX_PIXELS
    monkeypatch.setenv(
        MAX_PIXELS_ENV, "5_000_000_000"
    )  # raised above the default: the lying PNG is "genuine"
    assert max_image_pixels() == 5_000_000_000
    for bad in ("lots", "-5", "0", "1.5e9"):
        monkeypatch.setenv(MAX_PIXELS_ENV, bad)
        with pytest.raises(ValueError, match=rf"{MAX_PIXELS_ENV}='{bad}': expected a positive integer"):
            read_image(path)
    for bad in (0, -1, 2.5, "100", True):
        with pytest.raises(ValueError, match="positive int or None"):
            set_max_image_pixels(bad)  # type: ignore[arg-type]


class _Reader:
    """A picklable dataset that reads one file per index (for worker processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> np.ndarray:
        return read_image(self.path)


def test_limit_reaches_dataloader_workers(tmp_path: Path) -> None:
    import torch.utils.data

    path = tmp_path / "small.png"
    Image.new("RGB", (16, 16)).save(path)
    loader = torch.utils.data.DataLoader(_Reader(path), batch_size=None, num_workers=1)
    set_max_image_pixels(100)
    try:
        with pytest.raises(ImageTooLargeError, match=r"small\.png.*16 x 16 = 256 pixels.*limit of 100"):
            next(iter(loader))  # raised in the worker, re-raised here with its type
    finally:
        set_max_image_pixels(None)


# ------------------------------------------------------------------ modes that must keep working
def _mode_image(mode: str) -> tuple[Image.Image, np.ndarray]:
    """A 5 x 7 image of ``mode`` and the RGB uint8 array ``read_image`` must return for it."""
    rng = np.random.default_rng(0)
    g8 = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    if mode == "L":
        return Image.fromarray(g8), np.repeat(g8[..., None], 3, 2)
    if mode == "1":
        bits = g8 > 127
        return Image.fromarray(bits), np.repeat(np.where(bits, 255, 0).astype(np.uint8)[..., None], 3, 2)
    if mode in ("RGBA", "LA"):
        alpha = rng.integers(0, 256, (5, 7), dtype=np.uint8)
        if mode == "LA":
            return Image.fromarray(np.stack([g8, alpha], -1), "LA"), np.repeat(g8[..., None], 3, 2)
        return Image.fromarray(np.concatenate([rgb, alpha[..., None]], -1)), rgb
    if mode in ("P", "P+transparency"):
        pal = Image.fromarray(rgb).quantize(16)
        if mode == "P+transparency":
            pal.info["transparency"] = 0
        return pal, np.asarray(pal.convert("RGB"))
    if mode == "I;16":
        g16 = rng.integers(0, 65536, (5, 7), dtype=np.uint16)
        want = np.clip(np.rint(g16 * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return Image.fromarray(g16), np.repeat(want[..., None], 3, 2)
    if mode == "I":  # 32-bit integer holding 16-bit data (how PIL widens 16-bit PNGs)
        g32 = rng.integers(0, 65536, (5, 7)).astype(np.int32)
        want = np.clip(np.rint(g32 * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
        return Image.fromarray(g32, "I"), np.repeat(want[..., None], 3, 2)
    if mode == "F":
        f = rng.random((5, 7)).astype(np.float32)
        f[0, 0], f[0, 1], f[0, 2] = np.nan, np.inf, -np.inf
        want = np.clip(
            np.rint(
                np.nan_to_num(f.astype(np.float64), nan=0, posinf=np.nanmax(f[np.isfinite(f)]), neginf=0)
                * 255
            ),
            0,
            255,
        ).astype(np.uint8)
        return Image.fromarray(f, "F"), np.repeat(want[..., None], 3, 2)
    if mode == "CMYK":
        img = Image.fromarray(rgb).convert("CMYK")
        return img, np.asarray(img.convert("RGB"))
    raise AssertionError(mode)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("L", "PNG"),
        ("1", "PNG"),
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("P", "PNG"),
        ("P+transparency", "PNG"),
        ("I;16", "PNG"),
        ("I;16", "TIFF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
        ("CMYK", "TIFF"),
        ("L", "BMP"),
    ],
)
def test_image_modes_read_as_rgb_uint8(tmp_path: Path, mode: str, fmt: str) -> None:
    img, want = _mode_image(mode)
    path = tmp_path / f"x.{fmt.lower()}"
    img.save(path, fmt)
    got = read_image(path)
    assert got.dtype == np.uint8 and got.shape == (5, 7, 3) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def test_16_bit_rgb_png(tmp_path: Path) -> None:
    """48-bit RGB PNG (big-endian samples): read as the high bytes."""
    px = np.array([[[0x1234, 0xABCD, 0xFFFF], [0x0000, 0x8000, 0x00FF]]], dtype=">u2")  # 1 x 2
    raw = b"\0" + px.tobytes()
    (tmp_path / "rgb48.png").write_bytes(png_bytes(2, 1, raw, color=2, depth=16))
    np.testing.assert_array_equal(
        read_image(tmp_path / "rgb48.png"), [[[0x12, 0xAB, 0xFF], [0x00, 0x80, 0x00]]]
    )


def test_extension_does_not_decide_the_format(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "real.jpg", "JPEG")
    Image.fromarray(rgb).save(tmp_path / "png_named.jpg", "PNG")
    (tmp_path / "jpeg_named.png").write_bytes((tmp_path / "real.jpg").read_bytes())
    np.testing.assert_array_equal(read_image(tmp_path / "jpeg_named.png"), read_image(tmp_path / "real.jpg"))
    np.testing.assert_array_equal(read_image(tmp_path / "png_named.jpg"), rgb)


# ------------------------------------------------------------------ broken files: ImageReadError naming the file
def _truncated_png() -> bytes:
    return _saved(
        Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "PNG"
    )[:-200]


def _truncated_jpeg() -> bytes:
    return bytes(
        _saved(
            Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG"
        )[:300]
    )


BROKEN = {
    "empty_file.png": (b"", "cannot identify image file"),
    "text.png": (b"imagesource:GoogleEarth\n", "cannot identify image file"),
    "zero_width.png": (png_bytes(0, 10), "cannot"),
    "zero_height.jpg": (jpeg_bytes(10, 0), "cannot"),
    "truncated.png": (_truncated_png(), "truncated|broken|error|Truncated"),
    "truncated.jpg": (_truncated_jpeg(), "truncated|broken|error|Truncated"),
    "header_only.png": (png_bytes(64, 64)[:33], "cannot|truncated|EOF"),
    "bad_idat.png": (png_bytes(8, 8, raw=b"\0"), "truncated|broken|error|Truncated"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_files_name_the_file(tmp_path: Path, name: str) -> None:
    data, reason = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert str(info.value).startswith(f"{path}: cannot read image (") and info.value.path == str(path)
    assert not isinstance(info.value, ImageTooLargeError)


def test_too_large_image_is_skipped_and_counted_by_the_dota_dataset(tmp_path: Path) -> None:
    from gghl.data.dota import DotaDataset

    for split_dir in ("images", "labelTxt"):
        (tmp_path / "train" / split_dir).mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(tmp_path / "train" / "images" / "ok.png")
    (tmp_path / "train" / "images" / "bomb.png").write_bytes(png_bytes(65535, 65535))
    for stem in ("ok", "bomb"):
        (tmp_path / "train" / "labelTxt" / f"{stem}.txt").write_text("")
    ds = DotaDataset(tmp_path, "train", class_names=["plane"], on_error="skip", check_images=True)
    assert len(ds) == 1 and ds.skipped["corrupt_image"] == 1
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png.*65535 x 65535"):
        DotaDataset(tmp_path, "train", class_names=["plane"], check_images=True)


def test_pil_limit_follows_ours(tmp_path: Path) -> None:
    """PIL's process-wide bomb limit is ours (it was lifted to 4 Gpx before), so a plain ``Image.open``
    elsewhere in the process refuses what we refuse (PIL raises above twice its limit)."""
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_PIXELS
    set_max_image_pixels(1000)
    try:
        assert Image.MAX_IMAGE_PIXELS == 1000
    finally:
        set_max_image_pixels(None)
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_PIXELS
    (tmp_path / "bomb.png").write_bytes(png_bytes(65535, 65535))
    with pytest.raises(Image.DecompressionBombError):
        Image.open(tmp_path / "bomb.png")
