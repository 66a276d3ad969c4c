"""Progress lines: one per step with its verdict and timing, and never fatal to a deploy."""

from __future__ import annotations

import io
import re

import pytest

from gangway.progress import Progress


def test_a_step_prints_one_line_with_its_verdict_and_duration() -> None:
    out = io.StringIO()
    with Progress(out).step("switch", "route live=green preview=none"):
        pass

    assert re.fullmatch(
        r"\[\s*\d+\.\ds\] switch: route live=green preview=none: ok \(\d+\.\ds\)\n", out.getvalue()
    )


def test_a_failing_step_says_failed_and_lets_the_error_through() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress(out).step("prove", "wait", announce=True):
        raise RuntimeError("boom")

    lines = out.getvalue().splitlines()
    assert lines[0].endswith("prove: wait ...")
    assert "prove: wait: FAILED after" in lines[1]


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_went_away_never_stops_the_deploy() -> None:
    progress = Progress(ClosedPipe())

    with progress.step("switch", "route"):
        progress.say("still going")

    assert progress.quiet
