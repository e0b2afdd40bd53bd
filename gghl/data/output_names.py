"""The one rule for the names under which predict and eval write an image's results.

A name is the first field of every DOTA Task1 line (``name score x1 y1 ... x4 y4``, split on whitespace),
the key of ``detections.json`` and the stem of the drawn image ``images/<name>.png``. Rule:

* a name that is empty or contains whitespace (any character for which ``str.isspace()`` is true: space,
  tab, newline, no-break space, ...) is refused **before any inference**, with the file named: such a
  Task1 line would have more than 10 fields and no reader could split it back;
* the name is the file stem (``P0001.png`` -> ``P0001``), as DOTA expects; when several inputs share a
  stem (``a.png`` and ``a.jpg``), every one of them keeps its extension (``a.png``, ``a.jpg``) so that
  neither overwrites the other's drawn image nor merges into its Task1 lines. Stems are compared
  case-insensitively (``A.png`` / ``a.jpg``), so the outputs do not collide on case-insensitive file
  systems either; inputs whose full names still collide that way are refused, naming both files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path


class ImageNameError(ValueError):
    """An image (file) name that cannot be an output name; the message names the file and the rule."""


def check_output_name(name: str, source: str | Path | None = None) -> str:
    """``name`` itself when it can be a Task1 image name, else :class:`ImageNameError` naming ``source``."""
    where = f"{source}: " if source is not None else ""
    if not name:
        raise ImageNameError(f"{where}empty image name")
    bad = sorted({repr(ch) for ch in name if ch.isspace()})
    if bad:
        raise ImageNameError(
            f"{where}image name {name!r} contains whitespace ({', '.join(bad)}); DOTA Task1 lines are "
            "whitespace-separated, so results for it could not be read back. Rename the file."
        )
    return name


def output_names(paths: Sequence[str | Path]) -> list[str]:
    """Output name of each of ``paths`` (same order), by the module rule.

    Raises:
        ImageNameError: a name with whitespace, or two inputs whose names collide even with extensions.
    """
    ps = [Path(p) for p in paths]
    by_stem: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(ps):
        by_stem[p.stem.casefold()].append(i)
    names = [p.name if len(by_stem[p.stem.casefold()]) > 1 else p.stem for p in ps]
    seen: dict[str, int] = {}
    for i, (p, name) in enumerate(zip(ps, names)):
        check_output_name(name, p)
        j = seen.setdefault(name.casefold(), i)
        if j != i:
            raise ImageNameError(f"{ps[j]} and {p}: the same output name {name!r}; rename one of them")
    return names


def check_output_names(names: Sequence[str], sources: Sequence[str | Path] | None = None) -> None:
    """Check image ids that are used as they are (dataset ids, e.g. DOTA label stems): each one by
    :func:`check_output_name` and all distinct. ``sources`` (same length) name the files in errors."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        src = sources[i] if sources is not None else None
        check_output_name(name, src)
        j = seen.setdefault(name, i)
        if j != i:
            other = sources[j] if sources is not None else name
            raise ImageNameError(f"{other} and {src or name}: the same image name {name!r}")


__all__ = ["ImageNameError", "check_output_name", "check_output_names", "output_names"]
