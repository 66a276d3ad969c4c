"""Shared fixtures of the unit tests: a clean environment and pipeline.toml writers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from gangway.masking import MASK

# The property suites (tests/unit/config, tests/unit/scan): CI runs 1,000 examples per
# category; locally a lighter run. No example database: nothing written to the tree.
settings.register_profile(
    "ci",
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None, database=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)

MINIMAL_TOML = """\
[app]
name = "notes"

[environments.staging]
port = 8080
preview_port = 8180

[environments.production]
port = 8081
preview_port = 8181
"""

WriteConfig = Callable[[str], Path]


@pytest.fixture(autouse=True)
def _no_gangway_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own GANGWAY_* variables must not leak into any test."""
    for name in list(os.environ):
        if name.startswith("GANGWAY_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _no_masked_values() -> Iterator[None]:
    """Secrets a test registered for masking do not stay masked in the next test."""
    MASK.clear()
    yield
    MASK.clear()


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write the given text as tmp_path/pipeline.toml and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "pipeline.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def minimal_config(write_config: WriteConfig) -> Path:
    """The smallest valid pipeline.toml: an app name and the two environments' ports."""
    return write_config(MINIMAL_TOML)


@pytest.fixture
def minimal_toml() -> str:
    """The text of the smallest valid pipeline.toml, to extend in a test."""
    return MINIMAL_TOML
