"""The README and docs/ pages as the tests read them: fenced blocks, headings, links.

One reader for every test that holds a page to the code (the reference, the fault
matrix, the dagger commands, links, command blocks), so they agree on what a block is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
ILLUSTRATIVE = "<!-- illustrative -->"
COMMAND_LANGUAGES = ("sh", "bash", "console")

_FENCE = re.compile(r"^(```+)\s*([\w+-]*)")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"`+[^`]*`+")


def pages() -> list[Path]:
    """The README first, then every page under docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str  # the line just before the opening fence, stripped

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def illustrative(self) -> bool:
        return self.marker == ILLUSTRATIVE

    def commands(self) -> list[str]:
        """Its command lines: continuations joined, comments and `$ ` prompts cut."""
        found = []
        for line in self.text.replace("\\\n", " ").splitlines():
            line = line.strip()
            if self.language == "console":
                if not line.startswith("$ "):
                    continue  # output, not a command
                line = line[2:]
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                found.append(" ".join(line.split()))
        return found


def blocks(path: Path) -> list[Block]:
    found = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, language = opening.groups()
        end = index + 1
        while end < len(lines) and not lines[end].startswith(fence):
            end += 1
        marker = lines[index - 1].strip() if index else ""
        text = "".join(f"{line}\n" for line in lines[index + 1 : end])
        found.append(Block(path, index + 1, language, text, marker))
        index = end + 1
    return found


def all_blocks(*languages: str) -> list[Block]:
    return [b for path in pages() for b in blocks(path) if b.language in languages]


def prose(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced blocks, inline code removed."""
    fence = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence:
            if line.startswith(fence):
                fence = ""
            continue
        if opening is not None:
            fence = opening.group(1)
            continue
        yield number, line


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to `-`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor, repeated ones numbered `-1`, `-2` as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose(path):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading is None:
            continue
        slug = anchor(heading.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """Every link target of a page's prose, with its line."""
    return [
        (number, target)
        for number, line in prose(path)
        for target in _LINK.findall(_CODE_SPAN.sub("", line))
    ]
