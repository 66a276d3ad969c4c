"""Settings: every problem reported at once, secrets from files, secrets never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sample_app.settings import Settings, SettingsError, load_settings
from tests.app.conftest import app_env, run_app

URL = "postgresql://notes:hunter2-secret@db.internal:5432/notes"


def test_defaults_apply_when_only_database_url_is_set() -> None:
    settings = load_settings({"DATABASE_URL": URL})
    assert settings.app_env == "development"
    assert settings.app_version == "0.0.0+dev"
    assert settings.host == "0.0.0.0"
    assert settings.port == 8000
    assert settings.log_level == "INFO"
    assert settings.shutdown_timeout == 20


def test_database_url_uses_the_psycopg3_dialect() -> None:
    settings = load_settings({"DATABASE_URL": URL})
    assert settings.sqlalchemy_url == (
        "postgresql+psycopg://notes:hunter2-secret@db.internal:5432/notes"
    )


def test_every_missing_and_invalid_variable_is_listed_together() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"PORT": "abc", "LOG_LEVEL": "loud", "SHUTDOWN_TIMEOUT": "0", "APP_ENV": " "})
    assert caught.value.render() == "\n".join(
        [
            "invalid settings:",
            "  DATABASE_URL: required (set DATABASE_URL or DATABASE_URL_FILE)",
            "  APP_ENV: must not be empty",
            "  PORT: must be an integer between 1 and 65535 (got 'abc')",
            "  LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'loud')",
            "  SHUTDOWN_TIMEOUT: must be a whole number of seconds from 1 to 3600 (got '0')",
        ]
    )


@pytest.mark.parametrize(
    ("port", "valid"),
    [("1", True), ("65535", True), ("0", False), ("65536", False), ("8.5", False)],
)
def test_port_must_be_in_tcp_range(port: str, valid: bool) -> None:
    environ = {"DATABASE_URL": URL, "PORT": port}
    if valid:
        assert load_settings(environ).port == int(port)
    else:
        with pytest.raises(SettingsError, match="PORT: must be an integer"):
            load_settings(environ)


def test_non_postgres_url_is_rejected_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"DATABASE_URL": "mysql://root:hunter2-secret@db/notes"})
    message = caught.value.render()
    assert "DATABASE_URL: must start with postgresql:// (got scheme 'mysql')" in message
    assert "hunter2-secret" not in message


def test_database_url_is_read_from_file_without_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(URL + "\n")
    settings = load_settings({"DATABASE_URL_FILE": str(secret)})
    assert settings.database_url.get_secret_value() == URL


def test_giving_both_variable_and_file_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(URL)
    with pytest.raises(SettingsError) as caught:
        load_settings({"DATABASE_URL": URL, "DATABASE_URL_FILE": str(secret), "PORT": "x"})
    assert caught.value.problems == [
        ("DATABASE_URL", "set either DATABASE_URL or DATABASE_URL_FILE, not both"),
        ("PORT", "must be an integer between 1 and 65535 (got 'x')"),
    ]


def test_unreadable_secret_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SettingsError) as caught:
        load_settings({"DATABASE_URL_FILE": str(missing)})
    assert caught.value.problems == [
        ("DATABASE_URL_FILE", f"cannot read {str(missing)!r}: No such file or directory")
    ]


def test_secret_stays_out_of_repr_str_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings({"DATABASE_URL": URL})
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s %r", settings, settings)
    for text in (repr(settings), str(settings), caplog.text, settings.model_dump_json()):
        assert "hunter2-secret" not in text
    assert "**********" in repr(settings)


def test_settings_are_immutable() -> None:
    settings = load_settings({"DATABASE_URL": URL})
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)


def test_serve_with_bad_settings_exits_2_listing_all_problems() -> None:
    result = run_app("serve", env=app_env(PORT="abc", SHUTDOWN_TIMEOUT="soon"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: invalid settings:",
        "  DATABASE_URL: required (set DATABASE_URL or DATABASE_URL_FILE)",
        "  PORT: must be an integer between 1 and 65535 (got 'abc')",
        "  SHUTDOWN_TIMEOUT: must be a whole number of seconds from 1 to 3600 (got 'soon')",
    ]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_migrate_with_bad_settings_exits_2_without_showing_the_secret(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(URL)
    result = run_app(
        "migrate", env=app_env(DATABASE_URL=URL, DATABASE_URL_FILE=str(secret), LOG_LEVEL="x")
    )
    assert result.returncode == 2
    assert "DATABASE_URL: set either DATABASE_URL or DATABASE_URL_FILE, not both" in result.stderr
    assert "LOG_LEVEL: must be one of" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
