"""The deployed-app suite: runs against a live environment through its public URL.

    python -m pytest tests/deployed --base-url http://127.0.0.1:8080
    python -m pytest tests/deployed -m smoke --base-url http://127.0.0.1:8181

The pipeline runs it as the integration-test stage against staging, and its `smoke`
subset (read-only: it never writes to a production database) against the preview
route before production switches.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest) -> str:
    url = request.config.getoption("--base-url")
    if not url:
        pytest.fail("tests/deployed needs --base-url URL of the deployed app", pytrace=False)
    return str(url).rstrip("/")


@pytest.fixture(scope="session")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        yield client
