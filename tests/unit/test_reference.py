"""The pipeline.toml reference: generated from the models, and docs/reference.md kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from gangway.config import load_config, render_reference
from tests.support.docs import ROOT, all_blocks

REFERENCE = ROOT / "docs" / "reference.md"
START, END = "<!-- pipeline-reference:start -->", "<!-- pipeline-reference:end -->"


def test_reference_page_block_matches_the_models() -> None:
    text = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    _, start, rest = text.partition(START)
    block, end, _ = rest.partition(END)

    assert start, f"{REFERENCE} needs a line {START}"
    assert end, f"{REFERENCE} needs a line {END} after {START}"
    assert block.strip("\n") == render_reference().strip("\n"), (
        "the pipeline.toml reference in docs/reference.md is out of date: replace the lines "
        f"between {START} and {END} with the output of `gangway config --reference`"
    )


def test_every_toml_example_in_the_readme_and_docs_loads(tmp_path: Path) -> None:
    examples = all_blocks("toml")
    assert examples, "the README and docs/ show no ```toml example"

    failures = []
    for number, example in enumerate(examples, start=1):
        path = tmp_path / f"example-{number}" / "pipeline.toml"
        path.parent.mkdir()
        path.write_text(example.text, encoding="utf-8")
        try:
            load_config(path, environ={})
        except Exception as exc:  # noqa: BLE001 - report every failing example at once
            failures.append(f"{example.where}: ```toml example:\n{exc}")
    assert not failures, "\n\n".join(failures)


def headings(reference: str) -> list[str]:
    return [line for line in reference.splitlines() if line.startswith("### ")]


def test_reference_has_one_section_per_table_in_file_order() -> None:
    assert headings(render_reference()) == [
        "### `[app]`",
        "### `[image]`",
        "### `[registry]`",
        "### `[scan]`",
        "### `[[scan.ignore]]`",
        "### `[stages]`",
        "### `[proxy]`",
        "### `[database]`",
        "### `[environments.staging]` and `[environments.production]`",
        "### `[environments.<name>.health]`",
        "### `[environments.<name>.migrations]`",
        "### `[environments.<name>.database]`",
        "### `[environments.<name>.watch]`",
        "### `[notifications]`",
        "### `[[notifications.webhooks]]`",
    ]


def test_reference_rows_come_from_the_field_descriptions() -> None:
    reference = render_reference()

    assert "| `port` | integer | required | Public port served by the proxy (1–65535). |" in (
        reference
    )
    assert '| `base_image` | string | `"python:3.12-slim"` |' in reference


@pytest.mark.parametrize(
    "row",
    [
        "| `deploy_timeout` | duration | `30s` |",
        "| `interval` | duration | `1s` |",
        "| `timeout` | duration | `5s` |",
    ],
)
def test_reference_shows_durations_in_their_short_form(row: str) -> None:
    assert row in render_reference()


def test_reference_shows_derived_defaults_in_words() -> None:
    reference = render_reference()

    assert "| `repository` | string | the app name |" in reference
    assert "| `url` | string | `http://{address}:{port}` |" in reference
