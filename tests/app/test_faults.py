"""APP_FAULT: the switches that turn the sample app into a bad release for pipeline tests."""

from __future__ import annotations

import warnings

import pytest

from sample_app.settings import SettingsError, load_settings
from sample_app.web import create_app
from tests.app.conftest import app_env, run_app, settings_for

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def test_unknown_fault_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"APP_FAULT: must be one of none, crash"):
        load_settings({"DATABASE_URL": "postgresql://u:p@db/app", "APP_FAULT": "explode"})


def test_no_fault_by_default() -> None:
    assert load_settings({"DATABASE_URL": "postgresql://u:p@db/app"}).app_fault == "none"


def test_crash_fault_exits_at_start_with_a_message(migrated_url: str) -> None:
    proc = run_app("serve", env=app_env(DATABASE_URL=migrated_url, APP_FAULT="crash"))
    assert proc.returncode == 3
    assert "APP_FAULT=crash" in proc.stderr


def test_unhealthy_fault_fails_health_only(migrated_url: str) -> None:
    with TestClient(create_app(settings_for(migrated_url, APP_FAULT="unhealthy"))) as client:
        assert client.get("/health").status_code == 503
        assert client.get("/notes").status_code == 200


def test_not_ready_fault_fails_ready_but_stays_healthy(migrated_url: str) -> None:
    with TestClient(create_app(settings_for(migrated_url, APP_FAULT="not-ready"))) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "APP_FAULT=not-ready" in ready.json()["reasons"]


def test_errors_fault_fails_the_api_passes_probes_and_is_counted(migrated_url: str) -> None:
    with TestClient(create_app(settings_for(migrated_url, APP_FAULT="errors"))) as client:
        assert client.get("/notes").status_code == 500
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
        metrics = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="unmatched",status="500"} 1.0' in metrics
