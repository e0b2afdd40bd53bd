"""Finding image (and label) files in a folder whatever the case of their extension.

``P0001.PNG``, ``P0001.Jpg`` and ``P0001.png`` are all images: the extension is compared lower-cased
against :data:`gghl.data.image_io.IMAGE_EXTENSIONS`, the stem is kept exactly (stems are image ids and
match label file names case-sensitively). Hidden files (``.name``, e.g. macOS ``._P0001.png``) and
folders are ignored. Two files with one stem (``a.png`` and ``a.jpg``, or ``a.png`` and ``a.PNG``) are
ambiguous: :func:`index_files` reports them so the caller can refuse them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gghl.data.image_io import IMAGE_EXTENSIONS

__all__ = ["IMAGE_EXTENSIONS", "describe_exts", "find_image", "index_files", "list_files", "list_image_files"]


def _norm(exts: Sequence[str]) -> tuple[str, ...]:
    return tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in exts)


def describe_exts(exts: Sequence[str] = IMAGE_EXTENSIONS) -> str:
    """``"*.png, *.jpg, ..., any case"`` for messages that say what was looked for."""
    return ", ".join(f"*{e}" for e in _norm(exts)) + ", any case"


def list_files(folder: str | os.PathLike, exts: Sequence[str]) -> list[Path]:
    """Files of ``folder`` (not recursive) whose lower-cased extension is in ``exts``; sorted by name.

    Raises ``FileNotFoundError`` when ``folder`` is not a directory.
    """
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: folder not found")
    want = _norm(exts)
    return sorted(
        p for p in d.iterdir() if not p.name.startswith(".") and p.suffix.lower() in want and p.is_file()
    )


def list_image_files(folder: str | os.PathLike, exts: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Image files of ``folder``, any extension case (see :func:`list_files`)."""
    return list_files(folder, exts)


def index_files(
    folder: str | os.PathLike, exts: Sequence[str] = IMAGE_EXTENSIONS
) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """``(stem -> file, stem -> [files] for stems with several files)`` of :func:`list_files`.

    Ambiguous stems are only in the second dict; with several extensions the caller cannot know which
    file an id means, so it should refuse (or skip and count) them.
    """
    by_stem: dict[str, list[Path]] = {}
    for p in list_files(folder, exts):
        by_stem.setdefault(p.stem, []).append(p)
    unique = {s: ps[0] for s, ps in by_stem.items() if len(ps) == 1}
    dup = {s: ps for s, ps in by_stem.items() if len(ps) > 1}
    return unique, dup


def find_image(folder: str | os.PathLike, stem: str, exts: Sequence[str] = IMAGE_EXTENSIONS) -> Path | None:
    """The one image ``folder/<stem>.<ext>`` with any extension case, or ``None``.

    Lists the folder (for many look-ups in one folder use :func:`index_files` once). Raises
    ``ValueError`` when several files match (``a.png`` and ``a.jpg``, or ``a.png`` and ``a.PNG``).
    """
    found = [p for p in list_files(folder, exts) if p.stem == stem]
    if len(found) > 1:
        raise ValueError(f"{folder}: several images for {stem!r}: {[p.name for p in found]}")
    return found[0] if found else None
