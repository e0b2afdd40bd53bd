"""Reader and writer for DOTA annotation files (``labelTxt/<image>.txt``).

Format (DOTA v1.0/v1.5/v2.0, unchanged):

* optional header lines ``imagesource:<text>`` and ``gsd:<float or null>`` at the top;
* one object per line: ``x1 y1 x2 y2 x3 y3 x4 y4 <class> [<difficult>]`` in original-image pixels,
  vertices in the annotator's order (kept as given), ``difficult`` 0/1, absent means 0.

Unlike the devkit (which splits on single spaces and crashes on double spaces) any run of whitespace
separates tokens. Blank lines are ignored. Anything else (wrong token count, non-numeric or non-finite
coordinate, difficult flag that is not an integer) is malformed: ``DotaFormatError`` naming file and
line, or, with ``on_error="skip"``, the line is skipped and recorded in ``DotaLabelFile.skipped``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class DotaFormatError(ValueError):
    """A DOTA annotation line cannot be parsed. ``path`` and 1-based ``line_no`` name the place."""

    def __init__(self, path: str | Path, line_no: int, reason: str, line: str = "") -> None:
        self.path = str(path)
        self.line_no = line_no
        self.reason = reason
        shown = f": {line.strip()!r}" if line.strip() else ""
        super().__init__(f"{self.path}:{line_no}: {reason}{shown}")


@dataclass(frozen=True)
class DotaObject:
    """One annotated object: polygon ``(x1, y1, ..., x4, y4)`` in file pixels, class name, flag."""

    polygon: tuple[float, ...]
    class_name: str
    difficult: int
    line_no: int


@dataclass
class DotaLabelFile:
    """Parsed annotation file. ``skipped`` lists ``(line_no, reason)`` of lines dropped in skip mode."""

    path: str
    objects: list[DotaObject] = field(default_factory=list)
    image_source: str | None = None
    gsd: float | None = None
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def polygons(self) -> np.ndarray:
        """``float64 [N, 8]`` polygons."""
        return np.asarray([o.polygon for o in self.objects], dtype=np.float64).reshape(-1, 8)


def _parse_header(key: str, value: str, out: DotaLabelFile, path: Path, line_no: int, line: str) -> None:
    if key == "imagesource":
        out.image_source = value
        return
    if value.lower() in ("null", "none", ""):
        out.gsd = None
        return
    try:
        out.gsd = float(value)
    except ValueError as e:
        raise DotaFormatError(path, line_no, f"gsd is not a number: {value!r}", line) from e


def _parse_object(tokens: list[str], path: Path, line_no: int, line: str) -> DotaObject:
    if len(tokens) not in (9, 10):
        raise DotaFormatError(
            path, line_no, f"expected 9 or 10 tokens (8 coordinates, class, [difficult]), got {len(tokens)}", line
        )
    try:
        coords = tuple(float(t) for t in tokens[:8])
    except ValueError as e:
        raise DotaFormatError(path, line_no, f"coordinate is not a number ({e})", line) from e
    if not all(math.isfinite(c) for c in coords):
        raise DotaFormatError(path, line_no, "coordinate is not finite", line)
    difficult = 0
    if len(tokens) == 10:
        try:
            difficult = int(tokens[9])
        except ValueError as e:
            raise DotaFormatError(path, line_no, f"difficult flag is not an integer: {tokens[9]!r}", line) from e
    return DotaObject(polygon=coords, class_name=tokens[8], difficult=difficult, line_no=line_no)


def read_dota_labels(path: str | Path, on_error: str = "raise") -> DotaLabelFile:
    """Parse one DOTA annotation file.

    Args:
        path: ``labelTxt/<image>.txt``.
        on_error: ``"raise"`` (default): a malformed line raises ``DotaFormatError`` with file:line;
            ``"skip"``: the line is dropped and recorded in ``skipped``.

    Returns:
        ``DotaLabelFile`` with objects in file order (an empty file gives zero objects).

    Raises:
        FileNotFoundError: ``path`` does not exist. ``DotaFormatError``: malformed line (raise mode)
        or undecodable file.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: DOTA label file not found")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DotaFormatError(p, 0, f"not a UTF-8 text file ({e})") from e
    out = DotaLabelFile(path=str(p))
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            head, sep, value = stripped.partition(":")
            if sep and head.strip().lower() in ("imagesource", "gsd") and len(stripped.split()) < 9:
                _parse_header(head.strip().lower(), value.strip(), out, p, line_no, line)
                continue
            out.objects.append(_parse_object(stripped.split(), p, line_no, line))
        except DotaFormatError as e:
            if on_error == "raise":
                raise
            out.skipped.append((line_no, e.reason))
    return out


def _fmt(v: float, decimals: int | None) -> str:
    if decimals is None:
        r = repr(float(v))  # shortest repr: reads back bit-exactly
        return r[:-2] if r.endswith(".0") and "e" not in r else r
    return f"{float(v):.{decimals}f}"


def write_dota_labels(
    path: str | Path,
    polygons: np.ndarray | Sequence[Sequence[float]],
    class_names: Sequence[str],
    difficult: Sequence[int] | np.ndarray | None = None,
    image_source: str | None = None,
    gsd: float | None = None,
    decimals: int | None = None,
) -> None:
    """Write one DOTA annotation file (10 tokens per line, headers only when given).

    Args:
        path: output ``.txt`` (parent folders are created).
        polygons: ``[N, 8]`` pixel coordinates (any float/int array or tensor converted with numpy).
        class_names: ``N`` class names (must not contain whitespace).
        difficult: ``N`` flags (0/1); default all 0.
        image_source, gsd: header values; ``gsd=None`` with ``image_source`` set writes ``gsd:null``.
        decimals: digits after the point; ``None`` writes the shortest exact repr (bit-exact round trip).
    """
    polys = np.asarray(polygons, dtype=np.float64).reshape(-1, 8)
    n = polys.shape[0]
    if len(class_names) != n:
        raise ValueError(f"{path}: {n} polygons but {len(class_names)} class names")
    diff = np.zeros(n, dtype=np.int64) if difficult is None else np.asarray(difficult).astype(np.int64).reshape(-1)
    if diff.shape[0] != n:
        raise ValueError(f"{path}: {n} polygons but {diff.shape[0]} difficult flags")
    lines: list[str] = []
    if image_source is not None:
        lines.append(f"imagesource:{image_source}")
        lines.append(f"gsd:{'null' if gsd is None else repr(float(gsd))}")
    elif gsd is not None:
        lines.append(f"gsd:{float(gsd)!r}")
    for poly, name, d in zip(polys, class_names, diff):
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"{path}: class name {name!r} is empty or contains whitespace")
        lines.append(" ".join([_fmt(v, decimals) for v in poly] + [name, str(int(d))]))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
