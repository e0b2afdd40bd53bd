"""The one set of rules for DOTA-style text files: label files, Task1 result files, image sets.

Every reader of such files (training dataset, split tool, merge tool, evaluator) goes through this
module, so a file is read the same way everywhere. The rules:

* **Encoding**: UTF-8, with or without a byte-order mark (BOM) as the very first character. Anything
  undecodable is a :class:`DotaFormatError` naming the file and the byte offset.
* **Lines**: only ``\\n`` ends a line; one ``\\r`` right before it (or at the end of the file) is
  dropped, so ``\\r\\n`` files read like ``\\n`` files. ``str.splitlines`` is *not* used: it would also
  split on ``\\x0b \\x0c \\x1c-\\x1e \\x85 \\u2028 \\u2029`` and a lone ``\\r``. Those characters, any other
  control character except the tab, format characters (a BOM after the start, zero-width space, direction
  marks), line/paragraph separators and non-ASCII spaces (no-break space, ideographic space...) are
  **refused** with ``file:line`` and the code point: they are invisible, they are not separators here,
  and glued into a token they would make a class or image name that silently matches nothing. A file
  with old Mac line endings (lone ``\\r``) therefore fails on line 1 with a message saying so.
  Line numbers are 1-based and count every line, blank ones included.
* **Tokens**: separated by any run of spaces and tabs (the devkit splits on single spaces and crashes on
  double spaces; we accept runs). Blank lines are skipped.
* **Numbers**: plain ASCII decimals, ``[+-]digits[.digits][e[+-]digits]`` (``1``, ``-2.5``, ``.5``,
  ``3e2``). ``nan``, ``inf``, ``1_000``, full-width digits and hex are refused (Python's ``float``
  would accept several of them). Coordinates must satisfy ``|v| <= MAX_ABS_COORD`` (1e6 px), scores and
  other values must be finite in float64: see :data:`MAX_ABS_COORD` for why this bound.

Errors are :class:`DotaFormatError` (a ``ValueError``) with ``path``, 1-based ``line_no`` (0 for the
whole file) and ``reason``; the message is ``path:line: reason: 'the line'``.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "MAX_ABS_COORD",
    "DotaFormatError",
    "check_line",
    "iter_lines",
    "parse_coordinate",
    "parse_coordinates",
    "parse_finite",
    "parse_int",
    "read_imageset",
    "read_text",
    "split_lines",
    "tokens",
]

PathLike = str | os.PathLike

#: Largest accepted ``|coordinate|`` in pixels. DOTA's largest images are ~20000 px on a side (50x
#: margin for objects annotated outside the image, rescaled splits and other datasets). At 1e6, float32
#: (training boxes) still resolves 1/16 px, and squared lengths / polygon areas (1e12) stay far inside
#: float32 and float64 range, so no coordinate we accept can become ``inf`` or lose all precision
#: downstream. ``1e308`` (finite in float64, ``inf`` in float32) is refused with file:line.
MAX_ABS_COORD: float = 1e6

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT = re.compile(r"[+-]?[0-9]{1,10}")
_NUMBER_CHARS = re.compile(r"[0-9+\-.eE]*")
# ASCII characters that may not appear inside a line: controls except tab (a \r here is a lone CR).
_BAD_ASCII = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp", "Zs")
_SHOWN = 120  # characters of the offending line shown in a message
_BOUND = f"{MAX_ABS_COORD:g}".replace("e+0", "e")  # "1e6"


class DotaFormatError(ValueError):
    """A DOTA-style text file (labels, Task1 results, image set) cannot be read.

    ``path`` and 1-based ``line_no`` (0: the file as a whole) name the place; ``reason`` says what is wrong.
    """

    def __init__(self, path: PathLike, line_no: int, reason: str, line: str = "") -> None:
        self.path = str(path)
        self.line_no = int(line_no)
        self.reason = reason
        text = line.strip(" \t")
        if len(text) > _SHOWN:
            text = text[:_SHOWN] + "..."
        where = f"{self.path}:{self.line_no}" if self.line_no > 0 else self.path
        super().__init__(f"{where}: {reason}" + (f": {text!r}" if text else ""))


def _char_problem(ch: str) -> str:
    """Why ``ch`` may not appear inside a line (for the error message)."""
    code = f"U+{ord(ch):04X}"
    name = unicodedata.name(ch, "")
    label = f"{code} {name}".strip() if name else code
    if ch == "\r":
        return (
            f"carriage return ({code}) inside a line: only \\n and \\r\\n end a line (old Mac line endings?)"
        )
    if ch == "\ufeff":
        return f"byte-order mark ({code}) after the start of the file"
    if ch in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        return f"{label or code} is not a line end here (only \\n and \\r\\n end a line)"
    if unicodedata.category(ch) == "Zs":
        return f"{label} is not a separator here (tokens are separated by spaces and tabs)"
    return f"invisible or control character {label} (only printable characters, spaces and tabs are allowed)"


def check_line(line: str) -> str | None:
    """``None`` if ``line`` (without its line end) only has allowed characters, else the reason."""
    if line.isascii():
        m = _BAD_ASCII.search(line)
        return None if m is None else _char_problem(m.group())
    for ch in line:
        if ch == " " or ch == "\t":
            continue
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            return _char_problem(ch)
    return None


def read_text(path: PathLike) -> str:
    """The decoded text of ``path`` (leading BOM removed). Raises ``FileNotFoundError`` / ``DotaFormatError``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: file not found")
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DotaFormatError(p, 0, f"not a UTF-8 text file ({e.reason} at byte {e.start})") from None


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` per the module rules: split on ``\\n`` only, one trailing ``\\r`` dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the text ended with a line end
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def iter_lines(path: PathLike, text: str | None = None) -> Iterator[tuple[int, str, str | None]]:
    """``(line_no, line, problem)`` for every non-blank line of ``path``.

    ``problem`` is ``None`` for a clean line, else the reason it is refused (the caller raises or skips,
    so that skip-mode readers can go on). ``text``: already decoded content (else read from ``path``).
    """
    if text is None:
        text = read_text(path)
    for line_no, line in enumerate(split_lines(text), start=1):
        if line.strip(" \t"):  # blank lines (spaces/tabs only) are skipped
            yield line_no, line, check_line(line)


def tokens(line: str) -> list[str]:
    """Tokens of a clean line (spaces/tabs runs separate; after :func:`check_line` no other whitespace is left)."""
    return line.split()


def _not_a_number(tok: str, what: str) -> str:
    try:
        v = float(tok)
    except ValueError:
        return f"{what} {tok!r} is not a number"
    if not math.isfinite(v):
        return f"{what} {tok!r} is not finite"
    return f"{what} {tok!r} is not a plain decimal number (digits, '.', exponent)"


def parse_finite(tok: str, what: str) -> float:
    """``float(tok)`` for a plain decimal that is finite in float64; raises ``ValueError(reason)``."""
    if _NUMBER.fullmatch(tok) is None:
        raise ValueError(_not_a_number(tok, what))
    v = float(tok)
    if not math.isfinite(v):
        raise ValueError(f"{what} {tok!r} overflows float64")
    return v


def parse_coordinate(tok: str, what: str = "coordinate") -> float:
    """A pixel coordinate: :func:`parse_finite` and ``|v| <= MAX_ABS_COORD``; raises ``ValueError(reason)``."""
    v = parse_finite(tok, what)
    if abs(v) > MAX_ABS_COORD:
        raise ValueError(f"{what} {tok!r} is outside +-{_BOUND} px (MAX_ABS_COORD)")
    return v


def parse_coordinates(toks: Sequence[str]) -> tuple[float, ...]:
    """:func:`parse_coordinate` of every token, fast for well-formed ones; raises ``ValueError(reason)``.

    Fast check: the tokens only use the characters ``0-9 + - . e E`` and ``float`` reads them: that is
    exactly the number syntax above (``float``'s decimal grammar; letters, ``_`` and non-ASCII digits are
    excluded by the character set), then the bound. Anything else goes token by token for the message.
    """
    try:
        vals = tuple(map(float, toks))
    except ValueError:
        vals = ()
    if (
        vals
        and _NUMBER_CHARS.fullmatch("".join(toks))
        and all(-MAX_ABS_COORD <= v <= MAX_ABS_COORD for v in vals)
    ):
        return vals
    return tuple(parse_coordinate(t) for t in toks)


def parse_int(tok: str, what: str) -> int:
    """A plain decimal integer of at most 10 digits; raises ``ValueError(reason)``."""
    if _INT.fullmatch(tok) is None:
        raise ValueError(f"{what} {tok!r} is not an integer")
    return int(tok)


def read_imageset(imageset: PathLike | Sequence[str]) -> list[str]:
    """Image names from an image-set file (one name per line) or a sequence of names; in order, unique.

    File: the module's line rules (BOM, CRLF, refused characters); blank lines skipped; surrounding
    spaces/tabs stripped; a line with two tokens (a name with a space) and a name listed twice are
    errors. An image set that names no image is an error (an evaluation over nothing is a mistake).
    """
    if isinstance(imageset, (str, os.PathLike)):
        path = Path(imageset)
        if not path.is_file():
            raise FileNotFoundError(f"image set file not found: {path}")
        src: PathLike = path
        entries: list[tuple[int, str]] = []
        for line_no, line, problem in iter_lines(path):
            if problem is not None:
                raise DotaFormatError(path, line_no, problem, line)
            toks = tokens(line)
            if len(toks) != 1:
                raise DotaFormatError(
                    path, line_no, f"expected one image name per line, got {len(toks)} tokens", line
                )
            entries.append((line_no, toks[0]))
    else:
        src = "<imageset list>"
        entries = []
        for i, n in enumerate(imageset, start=1):
            name = str(n).strip(" \t")
            problem = check_line(name)
            if problem is None and len(tokens(name)) > 1:
                problem = "an image name may not contain spaces or tabs"
            if problem is not None:
                raise DotaFormatError(src, i, problem, name)
            if name:
                entries.append((i, name))
    names: list[str] = []
    seen: set[str] = set()
    for line_no, name in entries:
        if name in seen:
            raise DotaFormatError(src, line_no, f"image {name!r} is listed twice")
        seen.add(name)
        names.append(name)
    if not names:
        raise DotaFormatError(src, 0, "the image set names no image")
    return names
