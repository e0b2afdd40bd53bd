"""Readers for DOTA Task1 files with the devkit's semantics and clear errors.

The evaluator is the judge, so it parses label files itself and does not use the training loaders.
Rules (spec/dota-eval.md, "File formats"), each with what we do where the devkit crashes:

* Tokens are split on a **single space** after stripping the line, like the devkit. A double space
  makes an empty token: the devkit dies with ``ValueError``; we raise :class:`DOTAFormatError`
  naming file and line.
* GT lines with fewer than 9 tokens are skipped (this drops ``imagesource:``/``gsd:`` headers and
  blank lines). 9 tokens: ``x1 y1 ... x4 y4 class`` (difficult 0); 10 tokens: ``... class difficult``
  with an integer flag, non-zero = difficult. 11+ tokens: the devkit raises ``KeyError``; we raise
  :class:`DOTAFormatError`.
* Detection lines are exactly ``imgname score x1 y1 ... x4 y4`` (10 tokens), else an error. Blank
  lines are skipped (the devkit crashes on them). Scores must not be NaN; coordinates must be finite.
* Undecodable (non UTF-8) files: :class:`DOTAFormatError` naming the file.
* Image set: one name per line, surrounding whitespace stripped, blank lines skipped; a name listed
  twice is an error (the devkit would count its GT twice).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["DOTAFormatError", "read_imageset", "parse_gt_file", "parse_det_file"]

PathLike = str | os.PathLike


class DOTAFormatError(ValueError):
    """Malformed DOTA file content; the message starts with ``path:line:``."""

    def __init__(self, path: PathLike, line: int, msg: str, text: str | None = None) -> None:
        where = f"{path}:{line}: " if line > 0 else f"{path}: "
        shown = f" (line: {text!r})" if text is not None else ""
        super().__init__(f"{where}{msg}{shown}")


def _float(tok: str, path: PathLike, lineno: int, line: str, what: str) -> float:
    try:
        return float(tok)
    except ValueError:
        raise DOTAFormatError(path, lineno, f"{what} {tok!r} is not a number", line) from None


def _coords(toks: Sequence[str], path: PathLike, lineno: int, line: str) -> list[float]:
    vals = [_float(t, path, lineno, line, "coordinate") for t in toks]
    if not all(math.isfinite(v) for v in vals):
        raise DOTAFormatError(path, lineno, "non-finite coordinate", line)
    return vals


def _no_empty(toks: Sequence[str], path: PathLike, lineno: int, line: str) -> None:
    if "" in toks:
        raise DOTAFormatError(path, lineno, f"empty field {toks.index('') + 1} (double space?)", line)


def _read_lines(path: Path) -> list[str]:
    """Lines of a text file; undecodable bytes are a :class:`DOTAFormatError` naming the file."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DOTAFormatError(path, 0, f"not a UTF-8 text file ({e.reason} at byte {e.start})") from None


def read_imageset(imageset: PathLike | Sequence[str]) -> list[str]:
    """Image names from a file (one per line) or a sequence of names, in order, unique."""
    if isinstance(imageset, (str, os.PathLike)):
        path = Path(imageset)
        if not path.is_file():
            raise FileNotFoundError(f"image set file not found: {path}")
        entries = [(i + 1, ln.strip()) for i, ln in enumerate(_read_lines(path))]
        src: PathLike = path
    else:
        entries = [(0, str(n).strip()) for n in imageset]
        src = "<imageset list>"
    names: list[str] = []
    seen: set[str] = set()
    for lineno, name in entries:
        if not name:
            continue
        if name in seen:
            raise DOTAFormatError(src, lineno, f"image {name!r} is listed twice")
        seen.add(name)
        names.append(name)
    return names


def parse_gt_file(path: PathLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One ``labelTxt`` file -> ``(class_names[G], polys[G, 8] float64, difficult[G] bool)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ground-truth file not found: {path}")
    names: list[str] = []
    polys: list[list[float]] = []
    diff: list[bool] = []
    for lineno, raw in enumerate(_read_lines(path), start=1):
        line = raw.strip()
        toks = line.split(" ")
        if len(toks) < 9:  # devkit L34-35: headers (imagesource:, gsd:) and blank lines
            continue
        _no_empty(toks, path, lineno, line)
        if len(toks) > 10:
            raise DOTAFormatError(path, lineno, f"{len(toks)} fields, expected 9 or 10", line)
        coords = _coords(toks[:8], path, lineno, line)
        flag = False
        if len(toks) == 10:
            try:
                flag = int(toks[9]) != 0
            except ValueError:
                raise DOTAFormatError(
                    path, lineno, f"difficult flag {toks[9]!r} is not an integer", line
                ) from None
        names.append(toks[8])
        polys.append(coords)
        diff.append(flag)
    return names, np.asarray(polys, dtype=np.float64).reshape(-1, 8), np.asarray(diff, dtype=bool)


def parse_det_file(path: PathLike) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One ``Task1_<class>.txt`` file -> ``(image_names[D], scores[D], polys[D, 8], line_numbers[D])``
    in file order (the tie-break order)."""
    path = Path(path)
    lines = _read_lines(path)
    fast = _parse_det_fast(lines)
    if fast is not None:
        return fast
    # Slow path: only reached when something is wrong, to name the first bad line.
    images: list[str] = []
    scores: list[float] = []
    polys: list[list[float]] = []
    linenos: list[int] = []
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        toks = line.split(" ")
        _no_empty(toks, path, lineno, line)
        if len(toks) != 10:
            raise DOTAFormatError(
                path, lineno, f"{len(toks)} fields, expected 10 (imgname score x1 y1 ... x4 y4)", line
            )
        score = _float(toks[1], path, lineno, line, "score")
        if math.isnan(score):
            raise DOTAFormatError(path, lineno, "score is NaN", line)
        images.append(toks[0])
        scores.append(score)
        polys.append(_coords(toks[2:], path, lineno, line))
        linenos.append(lineno)
    return (
        images,
        np.asarray(scores, dtype=np.float64),
        np.asarray(polys, dtype=np.float64).reshape(-1, 8),
        np.asarray(linenos, dtype=np.int64),
    )


def _parse_det_fast(lines: list[str]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse well-formed detection lines with numpy's C reader (~3x faster on million-line files);
    ``None`` when any line is malformed, so that the caller's line-by-line path names it."""
    kept = [(i, ln.strip()) for i, ln in enumerate(lines, start=1)]
    kept = [(i, ln) for i, ln in kept if ln]
    if not kept:
        return [], np.zeros(0), np.zeros((0, 8)), np.zeros(0, dtype=np.int64)
    if any(ln.count(" ") != 9 for _, ln in kept):  # exactly 10 single-space separated fields
        return None
    text = [ln for _, ln in kept]
    try:  # an empty field (double space) or a non-number raises here
        nums = np.loadtxt(text, delimiter=" ", usecols=range(1, 10), dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    if np.isnan(nums[:, 0]).any() or not np.isfinite(nums[:, 1:]).all():
        return None
    names = [ln.split(" ", 1)[0] for ln in text]
    return names, nums[:, 0].copy(), nums[:, 1:].copy(), np.asarray([i for i, _ in kept], dtype=np.int64)
