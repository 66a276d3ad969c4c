"""Shared helpers of the scan gate tests: the project's small reports and Trivy's own."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Final

import pytest

from gangway.config import ScanConfig
from gangway.scan import Report, load_report

REPORTS: Final = Path(__file__).resolve().parent / "reports"
TRIVY_FIXTURES: Final = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "trivy"
TODAY: Final = date(2026, 6, 1)


def own_report(name: str) -> Report:
    """One of the small reports written for the project (tests/unit/scan/reports)."""
    return load_report(REPORTS / name)


def trivy_fixture(name: str) -> Path:
    """A report produced by Trivy itself; skips the test where ../shared is not checked out."""
    if not TRIVY_FIXTURES.is_dir():
        pytest.skip(f"Trivy fixtures not found at {TRIVY_FIXTURES} (../shared is not checked out)")
    path = TRIVY_FIXTURES / name
    assert path.is_file(), f"{path} is missing from the shared fixtures"
    return path


def policy(**fields: object) -> ScanConfig:
    """A [scan] section as pipeline.toml would give it."""
    return ScanConfig.model_validate(fields)
