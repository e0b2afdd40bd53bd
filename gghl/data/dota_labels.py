"""Reader and writer for DOTA annotation files (``labelTxt/<image>.txt``).

Format (DOTA v1.0/v1.5/v2.0, unchanged):

* header lines ``imagesource:<text>`` and ``gsd:<number or null>``, recognised by their ``key:`` prefix
  (case-insensitive, spaces allowed before the colon and in the value: ``imagesource:Google Earth`` is a
  header); conventionally at the top, accepted anywhere; a key given twice or an unknown ``key:`` line
  is malformed;
* one object per line: ``x1 y1 x2 y2 x3 y3 x4 y4 <class> [<difficult>]`` in original-image pixels,
  vertices in the annotator's order (kept as given), ``difficult`` an integer (0/1; the split tool
  writes 2 for truncated objects), absent means 0.

Encoding, line ends, separators, refused characters and number syntax (coordinates within
``+-MAX_ABS_COORD``) follow :mod:`gghl.data.dota_text`, shared with the evaluator, the split and merge
tools. Blank lines are ignored. Anything else is malformed: :class:`DotaFormatError` naming file and
line, or, with ``on_error="skip"``, the line is skipped and recorded in ``DotaLabelFile.skipped``.
A file that is not UTF-8 is an error in both modes (there is no line to skip).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gghl.data.dota_text import (
    MAX_ABS_COORD,
    DotaFormatError,
    check_line,
    iter_lines,
    parse_coordinates,
    parse_finite,
    parse_int,
    tokens,
)

__all__ = ["DotaLabelFile", "DotaObject", "read_dota_labels", "write_dota_labels"]

_HEADER = re.compile(r"[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*:(.*)")
HEADER_KEYS = ("imagesource", "gsd")


@dataclass(frozen=True)
class DotaObject:
    """One annotated object: ``polygon`` ``(x1, y1, ..., x4, y4)`` (8 floats, file pixels), class name,
    ``difficult`` flag and the 1-based ``line_no`` it came from (0 when not read from a file).

    The one object type of the DOTA readers, the split tool and the evaluator. Any sequence of 8 numbers
    (tuple, list, numpy array) is accepted and stored as a tuple of Python floats.
    """

    polygon: tuple[float, ...]
    class_name: str
    difficult: int = 0
    line_no: int = 0

    def __post_init__(self) -> None:
        if type(self.difficult) is not int:
            object.__setattr__(self, "difficult", int(self.difficult))
        poly = self.polygon
        if type(poly) is tuple and len(poly) == 8 and all(type(v) is float for v in poly):
            return  # already normalised (the reader's case: no numpy round trip per object)
        poly = tuple(float(v) for v in np.asarray(poly, dtype=np.float64).reshape(-1))
        if len(poly) != 8:
            raise ValueError(f"a DOTA polygon has 8 coordinates, got {len(poly)}")
        object.__setattr__(self, "polygon", poly)

    def poly_array(self) -> np.ndarray:
        """``float64 [8]`` copy of the polygon."""
        return np.asarray(self.polygon, dtype=np.float64)


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


def _parse_gsd(value: str) -> float | None:
    if value.lower() in ("null", "none", ""):
        return None
    v = parse_finite(value, "gsd")
    if v < 0:
        raise ValueError(f"gsd {value!r} is negative")
    return v


def _parse_object(toks: list[str], line_no: int) -> DotaObject:
    if len(toks) not in (9, 10):
        raise ValueError(f"expected 9 or 10 tokens (8 coordinates, class, [difficult]), got {len(toks)}")
    coords = parse_coordinates(toks[:8])
    difficult = parse_int(toks[9], "difficult flag") if len(toks) == 10 else 0
    return DotaObject(polygon=coords, class_name=toks[8], difficult=difficult, line_no=line_no)


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
        or undecodable file (both modes).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: DOTA label file not found")
    out = DotaLabelFile(path=str(p))
    header_line: dict[str, int] = {}
    for line_no, line, problem in iter_lines(p):
        try:
            if problem is not None:
                raise ValueError(problem)
            m = _HEADER.fullmatch(line) if ":" in line else None
            if m is not None:
                key, value = m.group(1).lower(), m.group(2).strip(" \t")
                if key not in HEADER_KEYS:
                    raise ValueError(
                        f"unknown header {m.group(1)!r}: (DOTA headers are imagesource: and gsd:)"
                    )
                if key in header_line:
                    raise ValueError(f"header {key}: given twice (first on line {header_line[key]})")
                header_line[key] = line_no
                if key == "imagesource":
                    out.image_source = value
                else:
                    out.gsd = _parse_gsd(value)
                continue
            out.objects.append(_parse_object(tokens(line), line_no))
        except ValueError as e:
            err = DotaFormatError(p, line_no, str(e), line)
            if on_error == "raise":
                raise err from None
            out.skipped.append((line_no, err.reason))
    return out


def _fmt(v: float, decimals: int | None) -> str:
    if decimals is None:
        r = repr(float(v))  # shortest repr: reads back bit-exactly
        return r[:-2] if r.endswith(".0") and "e" not in r else r
    return f"{float(v):.{decimals}f}"


def _check_text(path: Any, what: str, value: str, single_token: bool) -> None:
    problem = check_line(value)
    if problem is None and single_token and (not value or len(tokens(value)) != 1 or value != value.strip()):
        problem = "empty or contains whitespace"
    if problem is not None:
        raise ValueError(f"{path}: {what} {value!r}: {problem}")


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

    Everything written reads back with :func:`read_dota_labels`: non-finite coordinates or ones outside
    ``+-MAX_ABS_COORD``, class names with whitespace or refused characters, an ``image_source`` with a
    line break are a ``ValueError`` naming the file.

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
    diff = (
        np.zeros(n, dtype=np.int64)
        if difficult is None
        else np.asarray(difficult).astype(np.int64).reshape(-1)
    )
    if diff.shape[0] != n:
        raise ValueError(f"{path}: {n} polygons but {diff.shape[0]} difficult flags")
    bad = ~(np.abs(polys) <= MAX_ABS_COORD).all(axis=1)  # NaN compares False: caught too
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: object {i} has a coordinate that is not finite or outside "
            f"+-{MAX_ABS_COORD:g} px (MAX_ABS_COORD): {polys[i].tolist()}"
        )
    if gsd is not None and not (math.isfinite(float(gsd)) and float(gsd) >= 0):
        raise ValueError(f"{path}: gsd must be finite and >= 0, got {gsd}")
    lines: list[str] = []
    if image_source is not None:
        _check_text(path, "image_source", image_source, single_token=False)
        lines.append(f"imagesource:{image_source}")
        lines.append(f"gsd:{'null' if gsd is None else repr(float(gsd))}")
    elif gsd is not None:
        lines.append(f"gsd:{float(gsd)!r}")
    for poly, name, d in zip(polys, class_names, diff):
        _check_text(path, "class name", name, single_token=True)
        lines.append(" ".join([_fmt(v, decimals) for v in poly] + [name, str(int(d))]))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
