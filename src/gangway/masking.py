"""Secret values gangway knows, and their replacement by `[REDACTED]` in all it prints or records.

Like a CI runner's "add mask": once the release commands have resolved the app's
secrets (and the config's own, such as webhook URLs), every value is registered here,
and every path out of the process — progress lines, error lines, the failed release's
log lines, docker's output inside CommandFailed, history records, plans, notification
payloads — goes through `redact()`. Registering is process-wide on purpose: a secret
must not escape through a path someone forgot to hand a masker to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

REDACTED: Final = "[REDACTED]"
#: Shorter values are not masked: replacing every "abc" would garble docker's JSON and
#: every message, and a value that short is no secret worth the name.
MIN_LENGTH: Final = 4
#: Lines of a multi-line secret (a PEM key) at least this long are masked on their own
#: too, as tools print such values line by line.
_MIN_LINE: Final = 8


class Masker:
    """The known secret values; `redact` replaces each (longest first) in a text."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self.add(*values)

    def add(self, *values: str) -> None:
        for value in values:
            value = value.strip("\r\n")
            if len(value) < MIN_LENGTH:
                continue
            self._values.add(value)
            lines = [line.strip() for line in value.splitlines()]
            self._values.update(line for line in lines if len(line) >= _MIN_LINE)

    def clear(self) -> None:
        self._values.clear()

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text


#: The process-wide mask the CLI registers secrets into.
MASK: Final = Masker()


def register(*values: str) -> None:
    """Mask these values from now on in everything gangway prints or records."""
    MASK.add(*values)


def redact(text: str) -> str:
    """`text` with every registered secret value replaced by `[REDACTED]`."""
    return MASK.redact(text)
