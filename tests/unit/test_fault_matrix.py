"""The reliability table: one row per cell, verdicts from the recorded outcomes."""

from __future__ import annotations

from tests.support.fault_matrix import CELLS, Outcome, render


def test_every_cell_gets_a_row_with_its_verdict() -> None:
    outcomes = [
        Outcome(1, "test_deploy.py::test_bad[crash]", "passed", 3.0),
        Outcome(6, "test_faults.py::test_killed[after start]", "passed", 9.0),
        Outcome(6, "test_faults.py::test_killed[after switch]", "failed", 9.0),
        Outcome(9, "test_faults.py::test_dockerd", "skipped", 0.0),
    ]
    table = render(outcomes, engine="20.10.24", date="2026-11-27")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(CELLS)
    assert (
        "| 1 | new release crashes at start | `test_deploy.py::test_bad` | passed (1 case) |"
        in (table)
    )
    assert "| **1 failed** of 2 |" in table
    row_9 = f"| 9 | {CELLS[9]} | `test_faults.py::test_dockerd` | skipped |"
    assert row_9 in table
    assert "| 13 | database backup restored and verified | — | not run |" in table
    assert "Docker engine 20.10.24" in table


def test_the_reliability_page_names_every_cell_and_only_tests_that_exist() -> None:
    import re

    from tests.support.docs import ROOT as root
    from tests.support.fault_matrix import END, PAGE, START

    page = PAGE.read_text(encoding="utf-8")
    table = page[page.index(START) : page.index(END)]
    rows = [line for line in table.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [int(row.split("|")[1]) for row in rows] == list(CELLS)
    for name in re.findall(r"`(test_\w+\.py)::(test_\w+)`", table):
        source = (root / "tests" / "integration" / name[0]).read_text(encoding="utf-8")
        assert f"def {name[1]}(" in source, name
