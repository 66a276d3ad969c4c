"""Positions in TOML and JSON text, and the checks of parsed data no parser makes for us.

Python's parsers stop at some inputs without saying where (a RecursionError for deep
nesting, a ValueError for an integer of thousands of digits, "end of document" for a
string that never closes); these helpers find the line and column to report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

#: Deeper than any value pipeline.toml or a Trivy report holds, far below the recursion limit.
MAX_DEPTH: Final = 32
_LONG_NUMBER = re.compile(r"[0-9][0-9_]{1000,}")

Loc = tuple[str | int, ...]


def line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of `text[index]`."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def last_position(text: str) -> tuple[int, int]:
    """The line and column of the last character (where a file that ends early ends)."""
    stripped = text.rstrip()
    return line_column(text, max(len(stripped) - 1, 0))


def nesting_position(text: str, limit: int = MAX_DEPTH, *, comments: bool) -> tuple[int, int]:
    """Where brackets (`[`, `{`) outside strings first nest deeper than `limit`.

    `comments`: `#` starts a comment (TOML); JSON has none. Returns the last position when
    no such place is found, so a caller always has one to report.
    """
    depth, index, size = 0, 0, len(text)
    while index < size:
        char = text[index]
        if comments and char == "#":
            end = text.find("\n", index)
            index = size if end < 0 else end
            continue
        if char in "\"'":
            index = _string_end(text, index, triple=comments)
            continue
        if char in "[{":
            depth += 1
            if depth > limit:
                return line_column(text, index)
        elif char in "]}":
            depth = max(0, depth - 1)
        index += 1
    return last_position(text)


def _string_end(text: str, start: int, *, triple: bool) -> int:
    quote = text[start]
    if triple and text.startswith(quote * 3, start):
        end = text.find(quote * 3, start + 3)
        return len(text) if end < 0 else end + 3
    index = start + 1
    while index < len(text) and text[index] not in (quote, "\n"):
        index += 2 if text[index] == "\\" and quote == '"' else 1
    return index + 1


def long_number_position(text: str) -> tuple[int, int, int] | None:
    """Line, column and length of the first run of more than 1000 digits, if any."""
    match = _LONG_NUMBER.search(text)
    if match is None:
        return None
    line, column = line_column(text, match.start())
    return line, column, len(match.group().replace("_", ""))


def opening_position(text: str, parses: Callable[[str], bool]) -> tuple[int, int]:
    """Where the construct that is still open at the end of `text` was opened.

    `parses(prefix)` says whether a prefix of whole lines is complete; the construct
    opened on the first line after the longest complete prefix. On a file too large to
    search this way, the last line.
    """
    lines = text.splitlines(keepends=True)
    if len(lines) * len(text) > 5_000_000:
        return last_position(text)
    for count in range(len(lines) - 1, -1, -1):
        if parses("".join(lines[:count])):
            line = lines[count]
            quotes = [line.find(char) for char in "\"'[" if char in line]
            return count + 1, (min(quotes) + 1 if quotes else 1)
    return 1, 1


def data_defect(value: object, limit: int = MAX_DEPTH) -> tuple[Loc, str] | None:
    """The first place in parsed data nested deeper than `limit` or holding unencodable text.

    Iterative, so data a recursive walk (or repr) could not handle is still located.
    """
    stack: list[tuple[object, Loc]] = [(value, ())]
    while stack:
        item, loc = stack.pop()
        if len(loc) > limit:
            return loc[
                :limit
            ], f"nested more than {limit} levels deep (arrays or tables inside each other)"
        if isinstance(item, str):
            if not _encodable(item):
                return loc, "holds text that cannot be encoded as UTF-8 (a lone surrogate)"
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if isinstance(key, str) and not _encodable(key):
                    return (
                        *loc,
                        printable(key),
                    ), "a key holds text that cannot be encoded as UTF-8"
                stack.append((child, (*loc, str(key))))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*loc, index)) for index, child in reversed(list(enumerate(item))))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """`text` safe to print: undecodable bytes (surrogates) written as `\\xff` escapes."""
    handler = "surrogateescape" if _only_escapes(text) else "backslashreplace"
    return text.encode("utf-8", handler).decode("utf-8", "backslashreplace")


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(char) <= 0xDFFF or 0xDC80 <= ord(char) <= 0xDCFF for char in text)


def undecodable_byte(text: str) -> str | None:
    """For text read with `surrogateescape` (os.environ, file names): the first bad byte."""
    for index, char in enumerate(text):
        if 0xDC80 <= ord(char) <= 0xDCFF:
            return f"byte 0x{ord(char) - 0xDC00:02x} at position {index}"
        if 0xD800 <= ord(char) <= 0xDFFF:
            return f"a lone surrogate at position {index}"
    return None
