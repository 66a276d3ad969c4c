"""The README stays a front door, and the README and docs/ hold no dead link or untested command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docs import (
    COMMAND_LANGUAGES,
    ILLUSTRATIVE,
    README,
    ROOT,
    Block,
    all_blocks,
    anchor,
    anchors,
    links,
    pages,
)

README_LIMIT = 10_240

# Command blocks this file runs as written, from the repository root: only what is quick
# and changes nothing (no engine, no network). A block no test exercises is marked
# illustrative instead.
RUN = (
    "gangway config --env staging",
    "gangway scan --image notes:1.0.0 --dry-run",
)


def is_dagger_block(block: Block) -> bool:
    """Every command is a `dagger` one: tests/unit/dagger/test_ci_files.py checks each."""
    commands = block.commands()
    return bool(commands) and all(c.startswith("dagger ") for c in commands)


def is_run_here(block: Block) -> bool:
    return "\n".join(block.commands()) in RUN


def command_blocks() -> list[Block]:
    return all_blocks(*COMMAND_LANGUAGES)


def test_readme_fits_a_front_door() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes: move detail into docs/"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target.split("#")[0]).resolve() for _, target in links(README)}
    unlinked = [p.name for p in pages()[1:] if p.resolve() not in linked]
    assert unlinked == [], "add these pages to the README's table of docs"


def test_every_relative_link_reaches_a_file_and_heading() -> None:
    broken = []
    for page in pages():
        for line, target in links(page):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path_part, _, fragment = target.partition("#")
            destination = (page.parent / path_part).resolve() if path_part else page
            where = f"{page.relative_to(ROOT)}:{line}: {target}"
            if not destination.exists():
                broken.append(f"{where}: no such file")
            elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
                broken.append(f"{where}: no heading with that anchor")
    assert broken == [], "\n".join(broken)


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("The whole road: `nox -s pipeline`", "the-whole-road-nox--s-pipeline"),
        ("Set up, run, test", "set-up-run-test"),
        ("`[environments.<name>.health]`", "environmentsnamehealth"),
        ("Reliability: the fault matrix", "reliability-the-fault-matrix"),
    ],
)
def test_anchors_follow_githubs_rules(heading: str, expected: str) -> None:
    assert anchor(heading) == expected


def test_every_command_block_is_exercised_or_marked_illustrative() -> None:
    untested = []
    stale = []
    for block in command_blocks():
        exercised = is_dagger_block(block) or is_run_here(block)
        if block.illustrative and exercised:
            stale.append(f"{block.where}: a test exercises it; remove {ILLUSTRATIVE}")
        elif not block.illustrative and not exercised:
            untested.append(
                f"{block.where}: no test runs it; add a test, or put {ILLUSTRATIVE} on the "
                "line before the fence"
            )
    assert untested + stale == [], "\n".join(untested + stale)


def test_every_block_this_file_runs_is_still_shown() -> None:
    shown = {"\n".join(block.commands()) for block in command_blocks()}
    assert [command for command in RUN if command not in shown] == []


@pytest.mark.parametrize(
    "block", [b for b in command_blocks() if is_run_here(b)], ids=lambda b: b.where
)
def test_command_block_runs_as_written(block: Block) -> None:
    # The gangway of the interpreter running the tests, as the README's venv puts it first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = subprocess.run(
        ["sh", "-ec", block.text],
        cwd=ROOT,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"{block.where}:\n{proc.stdout}\n{proc.stderr}"
