"""Reader for DOTA Task1 result files (``Task1_<class>.txt``): ``imgname score x1 y1 ... x4 y4`` per line.

Used by the evaluator (``gghl.evaluation.dota_io.parse_det_file``) and the merge tool
(``gghl.data.dota_merge.read_task1``), so both read a file the same way. Text rules (encoding, BOM,
line ends, refused characters, whitespace runs, number syntax) are :mod:`gghl.data.dota_text`'s:

* exactly 10 tokens per non-blank line; no header lines (a Task1 file has none);
* the image name is any token; the score a plain decimal finite in float64 (NaN, inf, ``1e309`` refused);
* coordinates plain decimals with ``|v| <= MAX_ABS_COORD``.

A malformed line is a :class:`~gghl.data.dota_text.DotaFormatError` naming file and line. Rows keep
file order (the evaluator's tie-break order) and their 1-based line numbers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gghl.data.dota_text import (
    MAX_ABS_COORD,
    DotaFormatError,
    check_line,
    parse_coordinates,
    parse_finite,
    read_text,
    split_lines,
    tokens,
)

__all__ = ["Task1Rows", "read_task1_rows"]

# ASCII controls that may not appear anywhere (tab, \n and \r are checked separately).
_BAD_ASCII = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Task1Rows:
    """Rows of one Task1 file: ``images`` (D names), ``scores`` float64 [D], ``polys`` float64 [D, 8],
    ``line_no`` int64 [D] (1-based), all in file order."""

    images: list[str]
    scores: np.ndarray
    polys: np.ndarray
    line_no: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def _clean_ascii(text: str) -> bool:
    """``text`` is ASCII with no refused character (every ``\r`` ends a line), so no line needs checking."""
    cr = text.count("\r")
    if cr and cr != text.count("\r\n") + text.endswith("\r"):
        return False
    return text.isascii() and _BAD_ASCII.search(text) is None


def _fast(text: str, lines: list[str]) -> Task1Rows | None:
    """Well-formed, clean ASCII files at C speed (numpy's reader); ``None`` when any line is malformed,
    so that :func:`_slow` names it. numpy's ASCII number syntax is ours plus nan/inf spellings, which the
    finiteness check refuses, so both paths accept and read exactly the same numbers."""
    kept = [(i, ln) for i, ln in enumerate(lines, start=1) if ln.strip(" \t")]
    if not kept:
        return Task1Rows([], np.zeros(0), np.zeros((0, 8)), np.zeros(0, dtype=np.int64))
    body = [ln for _, ln in kept]
    single_spaced = (
        "\t" not in text
        and "  " not in text
        and not any(s in text for s in (" \n", "\n ", " \r"))
        and not text.startswith(" ")
        and not text.endswith(" ")
    )
    if single_spaced:
        # loadtxt below refuses rows with fewer than 10 columns; this total then allows no row with more.
        if text.count(" ") != 9 * len(body):
            return None
        names = [ln.split(" ", 1)[0] for ln in body]
    else:
        split = [ln.split() for ln in body]
        if any(len(t) != 10 for t in split):
            return None
        names = [t[0] for t in split]
    try:
        nums = np.loadtxt(body, usecols=range(1, 10), dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    if not np.isfinite(nums[:, 0]).all() or not (np.abs(nums[:, 1:]) <= MAX_ABS_COORD).all():
        return None
    return Task1Rows(names, nums[:, 0].copy(), nums[:, 1:].copy(), np.asarray([i for i, _ in kept], np.int64))


def _slow(path: Path, lines: list[str]) -> Task1Rows:
    images: list[str] = []
    scores: list[float] = []
    polys: list[list[float]] = []
    line_nos: list[int] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip(" \t"):
            continue
        try:
            problem = check_line(line)
            if problem is not None:
                raise ValueError(problem)
            toks = tokens(line)
            if len(toks) != 10:
                raise ValueError(f"expected 10 tokens (imgname score x1 y1 ... x4 y4), got {len(toks)}")
            score = parse_finite(toks[1], "score")
            coords = list(parse_coordinates(toks[2:]))
        except ValueError as e:
            raise DotaFormatError(path, line_no, str(e), line) from None
        images.append(toks[0])
        scores.append(score)
        polys.append(coords)
        line_nos.append(line_no)
    return Task1Rows(
        images,
        np.asarray(scores, dtype=np.float64),
        np.asarray(polys, dtype=np.float64).reshape(-1, 8),
        np.asarray(line_nos, dtype=np.int64),
    )


def read_task1_rows(path: str | os.PathLike) -> Task1Rows:
    """All detections of one Task1 file (see the module docstring for the rules).

    Raises:
        FileNotFoundError: no such file. DotaFormatError: undecodable file or malformed line (``path:line``).
    """
    p = Path(path)
    text = read_text(p)
    lines = split_lines(text)
    if _clean_ascii(text):
        fast = _fast(text, lines)
        if fast is not None:
            return fast
    return _slow(p, lines)
