"""The design notes in docs/ and the code point at each other, and neither points at anything missing.

* every repository path a note names in backticks (``gghl/...``, ``scripts/...``, ``tests/...``,
  ``configs/...``, ``docs/...``) exists, and every dotted ``gghl.x.y`` name starts with a real module;
* every markdown link between notes (``[x](gghl.md#section)``) reaches an existing file and heading;
* every ``docs/<note>.md#<section>`` cited in code, configs or tests reaches an existing heading;
* no file cites a document that is not in the repository (the old ``spec/*.md``, ``architecture.md``,
  section signs, bare quirk labels such as "Q4", or anything under ``../shared``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTES = sorted(DOCS.glob("*.md"))
CODE_DIRS = ("gghl", "scripts", "tests", "configs")
TEXT_SUFFIXES = {".py", ".yaml", ".yml", ".md", ".toml", ".txt", ".sh", ".cfg", ".ini"}

_PATH = re.compile(r"`((?:gghl|scripts|tests|configs|docs)/[\w./-]*)`")
_DOTTED = re.compile(r"`(gghl(?:\.\w+)+)")
_LINK = re.compile(r"\]\(([^)\s]*)\)")
_CITED = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
# Citations of documents that are not in the repository: the old spec notes, section signs, quirk labels.
_MISSING = re.compile(r"spec/[\w-]+\.md|(?<![\w/])architecture\.md|\.\./shared|\bQ[0-9]+\b|§")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(note: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in note.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        base = _anchor(line.lstrip("#"))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _code_files() -> list[Path]:
    files = []
    for d in CODE_DIRS:
        files += [p for p in (ROOT / d).rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES]
    return [p for p in files if "__pycache__" not in p.parts and p != Path(__file__).resolve()]


def test_notes_exist() -> None:
    names = {p.name for p in NOTES}
    assert {
        "README.md",
        "boxes.md",
        "gghl.md",
        "stageinteractor.md",
        "evaluation.md",
        "label-quality.md",
    } <= names


@pytest.mark.parametrize("note", NOTES, ids=lambda p: p.name)
def test_paths_and_modules_named_by_a_note_exist(note: Path) -> None:
    text = note.read_text(encoding="utf-8")
    missing = [p for p in _PATH.findall(text) if not (ROOT / p.rstrip("/")).exists()]
    assert not missing, f"{note.name} names paths that do not exist: {missing}"
    bad = []
    for dotted in _DOTTED.findall(text):
        parts = dotted.split(".")
        found = any(
            (ROOT.joinpath(*parts[:k]).with_suffix(".py")).is_file()
            or (ROOT.joinpath(*parts[:k]) / "__init__.py").is_file()
            for k in range(2, len(parts) + 1)
        )
        if not found:
            bad.append(dotted)
    assert not bad, f"{note.name} names modules that do not exist: {bad}"


@pytest.mark.parametrize("note", NOTES, ids=lambda p: p.name)
def test_links_between_notes_resolve(note: Path) -> None:
    bad = []
    for target in _LINK.findall(note.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        dest = (note.parent / file) if file else note
        if not dest.is_file():
            bad.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(target)
    assert not bad, f"{note.name}: links that lead nowhere: {bad}"


def test_sections_cited_in_code_exist() -> None:
    anchors = {p.name: _anchors(p) for p in NOTES}
    bad = []
    for path in _code_files():
        for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for name, anchor in _CITED.findall(line):
                if name not in anchors or (anchor and anchor not in anchors[name]):
                    bad.append(f"{path.relative_to(ROOT)}:{line_no}: docs/{name}#{anchor}")
    assert not bad, "citations of missing notes or sections:\n" + "\n".join(bad)


def test_no_citation_of_documents_outside_the_repository() -> None:
    bad = []
    for path in _code_files():
        for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if _MISSING.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{line_no}: {line.strip()}")
    assert not bad, "cite docs/<note>.md#<section> instead:\n" + "\n".join(bad)
