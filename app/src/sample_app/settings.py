"""Settings read from the environment, validated all at once before anything starts."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Variables that may hold a secret and so may come from a file (Docker/Compose secrets).
SECRET_CAPABLE = frozenset({"DATABASE_URL"})
_POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+psycopg"})


# A release that crashes at start, never turns healthy, never turns ready, or answers
# 500 to its API: how the pipeline's tests make bad releases of this very app.
FAULTS = ("none", "crash", "unhealthy", "not-ready", "errors")


class SettingsError(Exception):
    """Every problem found in the environment, so an operator fixes them in one go."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = ["invalid settings:"]
        lines.extend(f"  {name}: {message}" for name, message in self.problems)
        return "\n".join(lines)


class Settings(BaseModel):
    """The validated runtime configuration; the database URL is a secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: SecretStr
    app_env: str = Field(default="development", min_length=1)
    app_version: str = Field(default="0.0.0+dev", min_length=1)
    host: str = Field(default="0.0.0.0", min_length=1)  # noqa: S104 - a container must listen on all interfaces
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    shutdown_timeout: int = Field(default=20, ge=1, le=3600)
    # Fault injection for the pipeline's own tests of bad releases; "none" in real use.
    app_fault: str = "none"

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in SQLAlchemy's psycopg 3 dialect (still secret: do not log)."""
        return to_sqlalchemy_url(self.database_url.get_secret_value())


def to_sqlalchemy_url(url: str) -> str:
    """Point a libpq-style `postgresql://` URL at SQLAlchemy's psycopg 3 driver."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def _read_raw(name: str, environ: Mapping[str, str], problems: list[tuple[str, str]]) -> str | None:
    """Return the variable's value, reading NAME_FILE for secret-capable ones."""
    value = environ.get(name)
    file_name = f"{name}_FILE"
    file_path = environ.get(file_name) if name in SECRET_CAPABLE else None
    if value is not None and file_path is not None:
        problems.append((name, f"set either {name} or {file_name}, not both"))
        return None
    if file_path is None:
        return value
    try:
        content = Path(file_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        problems.append((file_name, f"cannot read {file_path!r}: {reason}"))
        return None
    # Editors and `echo` add a final newline that is never part of the secret.
    return content.rstrip("\r\n")


def _check_database_url(value: str) -> str | None:
    """Explain what is wrong with a database URL without echoing it (it holds a password)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "must be a URL like postgresql://user:password@host:5432/dbname (cannot parse it)"
    if parts.scheme not in _POSTGRES_SCHEMES:
        shown = parts.scheme or "none"
        return f"must start with postgresql:// (got scheme {shown!r})"
    if not parts.hostname:
        return "must name a host, as in postgresql://user:password@host:5432/dbname"
    if port is not None and not 1 <= port <= 65535:
        return "port must be between 1 and 65535"
    if not parts.path.strip("/"):
        return "must name a database, as in postgresql://user:password@host:5432/dbname"
    return None


def _parse_int(raw: str, low: int, high: int) -> int | None:
    try:
        number = int(raw.strip())
    except ValueError:
        return None
    return number if low <= number <= high else None


def parse_port(raw: str | None) -> int:
    """Parse PORT alone (all that `healthcheck` needs), raising SettingsError."""
    if raw is None or raw == "":
        return 8000
    port = _parse_int(raw, 1, 65535)
    if port is None:
        raise SettingsError([("PORT", f"must be an integer between 1 and 65535 (got {raw!r})")])
    return port


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise one SettingsError listing all problems."""
    env = os.environ if environ is None else environ
    problems: list[tuple[str, str]] = []
    values: dict[str, object] = {}

    database_url = _read_raw("DATABASE_URL", env, problems)
    already_reported = any(name.startswith("DATABASE_URL") for name, _ in problems)
    if database_url is None or database_url == "":
        if not already_reported:
            problems.append(("DATABASE_URL", "required (set DATABASE_URL or DATABASE_URL_FILE)"))
    elif (reason := _check_database_url(database_url)) is not None:
        problems.append(("DATABASE_URL", reason))
    else:
        values["database_url"] = SecretStr(database_url)

    for name in ("APP_ENV", "APP_VERSION", "HOST"):
        raw = env.get(name)
        if raw is None:
            continue
        if raw.strip() == "":
            problems.append((name, "must not be empty"))
        else:
            values[name.lower()] = raw.strip()

    raw_port = env.get("PORT")
    if raw_port is not None:
        try:
            values["port"] = parse_port(raw_port)
        except SettingsError as exc:
            problems.extend(exc.problems)

    raw_level = env.get("LOG_LEVEL")
    if raw_level is not None:
        level = raw_level.strip().upper()
        if level in LOG_LEVELS:
            values["log_level"] = level
        else:
            problems.append(
                ("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)} (got {raw_level!r})")
            )

    raw_timeout = env.get("SHUTDOWN_TIMEOUT")
    if raw_timeout is not None:
        timeout = _parse_int(raw_timeout, 1, 3600)
        if timeout is None:
            problems.append(
                (
                    "SHUTDOWN_TIMEOUT",
                    f"must be a whole number of seconds from 1 to 3600 (got {raw_timeout!r})",
                )
            )
        else:
            values["shutdown_timeout"] = timeout

    raw_fault = env.get("APP_FAULT")
    if raw_fault is not None:
        fault = raw_fault.strip().lower() or "none"
        if fault in FAULTS:
            values["app_fault"] = fault
        else:
            problems.append(
                ("APP_FAULT", f"must be one of {', '.join(FAULTS)} (got {raw_fault!r})")
            )

    if problems:
        raise SettingsError(problems)
    return Settings.model_validate(values)


def log_level_number(settings: Settings) -> int:
    """The `logging` level number for LOG_LEVEL."""
    return logging.getLevelNamesMapping()[settings.log_level]
