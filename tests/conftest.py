"""Options shared by the suites: `--base-url` points the deployed suite at a live app."""

from __future__ import annotations

from pathlib import Path

import pytest

DEPLOYED = Path(__file__).parent / "deployed"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--base-url",
        default=None,
        metavar="URL",
        help="base URL of a deployed app for tests/deployed (e.g. http://127.0.0.1:8080)",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/deployed runs only against a deployed app: without --base-url it is left out
    of the collection (the unit run must not try to reach an app)."""
    if config.getoption("--base-url") is None and DEPLOYED in (
        collection_path,
        *collection_path.parents,
    ):
        return True
    return None
