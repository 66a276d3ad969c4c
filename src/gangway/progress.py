"""Progress lines with timings: one line per step, each ending with a verdict."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from gangway.masking import redact


class Progress:
    """Prints `[  1.2s] step: what ... ok (0.3s)` lines to a stream (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        if self.quiet:
            return
        try:
            print(f"[{self.elapsed():6.1f}s] {redact(message)}", file=self.stream, flush=True)
        except OSError:
            # Whoever read our output went away (`gangway deploy 2>&1 | head`): a deploy
            # must not stop half-way for that. The host's history still records it.
            self.quiet = True

    @contextmanager
    def step(self, name: str, what: str, *, announce: bool = False) -> Iterator[None]:
        """One line per step with its verdict (`ok` or `FAILED`) and duration; long
        steps (`announce`) also get a line when they begin."""
        began = time.monotonic()
        if announce:
            self.say(f"{name}: {what} ...")
        try:
            yield
        except BaseException:
            self.say(f"{name}: {what}: FAILED after {time.monotonic() - began:.1f}s")
            raise
        self.say(f"{name}: {what}: ok ({time.monotonic() - began:.1f}s)")
