"""The typed model of pipeline.toml: one pydantic class per section, unknown keys refused."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gangway.config.durations import AtMost
from gangway.config.environment import (
    EnvironmentConfig,
    EnvironmentsConfig,
)
from gangway.config.types import (
    DEFAULT_FAIL_ON,
    ENVIRONMENT_NAMES,
    EVENTS,
    AppName,
    EnvironmentName,
    Event,
    Flag,
    ImageReference,
    ImageRepository,
    NonEmptyText,
    Port,
    RegistryAddress,
    SecretHttpUrl,
    Section,
    Severity,
    WebhookFormat,
    WholeNumber,
    _matching,
    _upper,
)
from gangway.errors import ValueSource


class AppConfig(Section):
    """The application being deployed."""

    name: AppName = Field(
        description="Name of the app: lowercase letters, digits and `-`. The app "
        "containers are called `<name>-blue` and `<name>-green`."
    )
    description: str = Field(default="", description="One line saying what the app is.")
    port: Port = Field(
        default=8000, description="Port the app listens on inside its container (1–65535)."
    )


class ImageConfig(Section):
    """How the app image is built."""

    repository: ImageRepository = Field(
        default="",
        description="Image repository under the registry address; empty means the app name.",
        json_schema_extra={"default_doc": "the app name"},
    )
    dockerfile: str = Field(
        default="docker/Dockerfile", description="Dockerfile, relative to the repository root."
    )
    context: str = Field(default=".", description="Build context, relative to the repository root.")
    base_image: ImageReference = Field(
        default="python:3.12-slim",
        description="Runtime base image, passed to the Dockerfile as a build argument.",
    )
    builder_image: ImageReference = Field(
        default="python:3.12",
        description="Builder base image (compilers, headers), passed as a build argument.",
    )
    pip_no_index: Flag = Field(
        default=False,
        description="Install Python packages from the wheelhouse `docker/wheels` only, "
        "never from an index (for machines without internet access).",
    )


class RegistryConfig(Section):
    """The registry the image is pushed to and pulled from."""

    address: RegistryAddress = Field(
        default="127.0.0.1:5000",
        description="Registry as `host[:port][/path]`, e.g. `127.0.0.1:5000` or `ghcr.io/org`.",
    )
    username: str | None = Field(default=None, description="User to log in as; unset: no login.")
    password: SecretStr | None = Field(
        default=None,
        description="Password or token for `username`; best given as the secret file "
        "`registry.password` or `GANGWAY_REGISTRY__PASSWORD`.",
    )
    insecure: Flag = Field(
        default=False, description="Talk plain HTTP to the registry (local registries only)."
    )

    @field_validator("password")
    @classmethod
    def _needs_username(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and "username" in info.data and info.data["username"] is None:
            raise PydanticCustomError("password_without_user", "a password needs a username")
        return value


DEFAULT_TRIVY_IMAGE: Final = (
    "aquasec/trivy:0.74.0@sha256:62b1e65e8869bc4b4c6aa4fa2b21595256c7c2f6018a9d9ad61caf87187c1969"
)
_PINNED_IMAGE = re.compile(
    r"(?P<repository>[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._-]+)*)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@sha256:[0-9a-f]{64}"
)
#: Trivy releases published by the attacker in March 2026: never run them.
_COMPROMISED_TRIVY = re.compile(r"v?0\.69\.[4-6](?:[^0-9].*)?")


def _check_trivy_image(value: str) -> str:
    match = _PINNED_IMAGE.fullmatch(value)
    if match is None:
        raise PydanticCustomError(
            "trivy_image_unpinned",
            "expected an image pinned by tag and digest, "
            "'repository:tag@sha256:<64 hex digits>', e.g. '{example}' "
            "(a tag alone can be moved to other content; find the digest with "
            "`docker buildx imagetools inspect repository:tag`)",
            {"example": DEFAULT_TRIVY_IMAGE},
        )
    if _COMPROMISED_TRIVY.fullmatch(match["tag"]):
        raise PydanticCustomError(
            "trivy_image_compromised",
            "Trivy 0.69.4, 0.69.5 and 0.69.6 were malicious releases (March 2026); "
            "pin another version, e.g. '{example}'",
            {"example": DEFAULT_TRIVY_IMAGE},
        )
    return value


TrivyImage = Annotated[str, AfterValidator(_check_trivy_image)]
DockerVolumeName = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9_.-]+",
        "volume_name",
        "expected a Docker volume name (letters, digits, '_', '.', '-'), "
        "such as 'gangway-trivy-cache'",
    ),
]


class ScanIgnore(Section):
    """A vulnerability accepted on purpose, until a date."""

    id: NonEmptyText = Field(description="Vulnerability id, e.g. `CVE-2024-12345`.")
    reason: NonEmptyText = Field(description="Why it is acceptable for now (required).")
    expires: date = Field(
        description="TOML date after which the finding fails the gate again, e.g. `2026-06-30`."
    )


class ScanConfig(Section):
    """The vulnerability gate (Trivy) the image must pass before it is published."""

    fail_on: list[Annotated[Severity, BeforeValidator(_upper)]] = Field(
        default_factory=lambda: list(DEFAULT_FAIL_ON),
        description="Severities that fail the gate, from `UNKNOWN`, `LOW`, `MEDIUM`, `HIGH`, "
        "`CRITICAL`.",
    )
    ignore_unfixed: Flag = Field(
        default=True, description="Do not fail on vulnerabilities that have no fixed version yet."
    )
    trivy_image: TrivyImage = Field(
        default=DEFAULT_TRIVY_IMAGE,
        description="Trivy image that runs the scan, pinned by tag and digest: "
        "`repo:tag@sha256:<64 hex>` (a tag alone can be moved; 0.69.4–0.69.6 were malicious).",
    )
    offline: Flag = Field(
        default=False,
        description="Never update Trivy's databases: scan with the pre-filled cache only "
        "(air-gapped machines); without a database there the scan is unavailable.",
    )
    cache_volume: DockerVolumeName = Field(
        default="gangway-trivy-cache",
        description="Docker volume holding Trivy's cache (vulnerability database) between scans.",
    )
    required: Flag = Field(
        default=True,
        description="Block when the scan cannot run (no Trivy image, no database); "
        "`false` lets the release through with a warning saying it was not scanned.",
    )
    audit_required: Flag = Field(
        default=True,
        description="Block when the dependency audit (pip-audit) cannot reach its "
        "vulnerability service; `false` lets it through with a warning.",
    )
    ignore: list[ScanIgnore] = Field(
        default_factory=list, description="Accepted findings, as `[[scan.ignore]]` entries."
    )


URL_PLACEHOLDER = "{url}"


def _needs_url(value: list[str], *, allow_empty: bool) -> list[str]:
    if not value and allow_empty:
        return value
    if not value:
        raise PydanticCustomError("empty_command", "must name a command to run")
    if not any(URL_PLACEHOLDER in part for part in value):
        raise PydanticCustomError(
            "url_placeholder",
            "must contain {placeholder}, where the environment's base URL goes",
            {"placeholder": URL_PLACEHOLDER},
        )
    return value


class StagesConfig(Section):
    """The commands of the pipeline's test stages, run from the repository root."""

    test: list[str] = Field(
        default_factory=lambda: ["python", "-m", "pytest", "-m", "not integration", "-q"],
        min_length=1,
        description="The test stage: unit tests and anything else that needs no deployment.",
    )
    integration_test: list[str] = Field(
        default_factory=lambda: [
            "python",
            "-m",
            "pytest",
            "tests/deployed",
            "-q",
            "--base-url",
            "{url}",
        ],
        description="The integration-test stage, against staging's base URL (`{url}`).",
    )
    smoke: list[str] = Field(
        default_factory=lambda: [
            "python",
            "-m",
            "pytest",
            "tests/deployed",
            "-q",
            "-m",
            "smoke",
            "--base-url",
            "{url}",
        ],
        description="Run against the new color's preview URL (`{url}`) before production "
        "switches to it; a failure backs the release out. `[]`: no smoke tests.",
    )
    smoke_timeout: Annotated[timedelta, AtMost(timedelta(hours=1))] = Field(
        default=timedelta(minutes=2),
        description="Bound on the smoke command's run time (at most 1h).",
    )
    audit: list[str] = Field(
        default_factory=lambda: ["app/requirements.txt"],
        description="Locked requirement files the test stage audits with pip-audit "
        "(judged by [scan]: the ignore list, `audit_required`); `[]`: no audit.",
    )

    @field_validator("integration_test")
    @classmethod
    def _integration_has_url(cls, value: list[str]) -> list[str]:
        return _needs_url(value, allow_empty=False)

    @field_validator("smoke")
    @classmethod
    def _smoke_has_url(cls, value: list[str]) -> list[str]:
        return _needs_url(value, allow_empty=True)


class ProxyConfig(Section):
    """The nginx proxy that owns the public port and switches blue and green."""

    image: ImageReference = Field(
        default="nginx:1.27-alpine", description="nginx image of the proxy."
    )


class DatabaseConfig(Section):
    """The database accessory started next to the app."""

    image: ImageReference = Field(
        default="postgres:16-alpine",
        description="PostgreSQL image: runs the accessory, and pg_dump/pg_restore for backups "
        "(its client must be at least the server's version).",
    )


class WebhookConfig(Section):
    """A webhook told about deploys."""

    url: SecretHttpUrl = Field(
        description="http(s) URL to POST to; a secret, as such URLs usually embed a token."
    )
    format: WebhookFormat = Field(
        default="json", description="Payload: `slack` (Slack-compatible) or `json`."
    )
    events: list[Event] = Field(
        default_factory=lambda: list(EVENTS),
        min_length=1,
        description="Events sent, from `started`, `succeeded`, `failed`, `rolled_back`.",
    )
    environments: list[EnvironmentName] = Field(
        default_factory=lambda: list(ENVIRONMENT_NAMES),
        min_length=1,
        description="Environments whose deploys are sent.",
    )


class NotificationsConfig(Section):
    """Who is told when a deploy starts, succeeds, fails or is rolled back."""

    webhooks: list[WebhookConfig] = Field(
        default_factory=list, description="Webhooks, as `[[notifications.webhooks]]` entries."
    )
    timeout: Annotated[timedelta, AtMost(timedelta(minutes=5))] = Field(
        default=timedelta(seconds=5), description="Timeout of one POST (at most 5m)."
    )
    retries: WholeNumber = Field(
        default=2, ge=0, le=5, description="Retries of a failed POST (0 to 5)."
    )


class ConfigOrigin(BaseModel):
    """What a loaded configuration was resolved from (names only, never values)."""

    model_config = ConfigDict(frozen=True)

    file: str = Field(description="The pipeline.toml that was read.")
    overrides: tuple[ValueSource, ...] = Field(
        default=(), description="The layers that overrode values of the file, highest last."
    )


class PipelineConfig(Section):
    """The whole of pipeline.toml."""

    app: AppConfig = Field(description="The application being deployed.")
    image: ImageConfig = Field(default_factory=ImageConfig, description="Image build.")
    registry: RegistryConfig = Field(default_factory=RegistryConfig, description="Registry.")
    scan: ScanConfig = Field(default_factory=ScanConfig, description="Vulnerability gate.")
    stages: StagesConfig = Field(
        default_factory=StagesConfig, description="Commands of the test stages."
    )
    proxy: ProxyConfig = Field(default_factory=ProxyConfig, description="Proxy.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="Database.")
    environments: EnvironmentsConfig = Field(description="Deployment targets.")
    notifications: NotificationsConfig = Field(
        default_factory=NotificationsConfig, description="Notifications."
    )

    _origin: ConfigOrigin | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _default_repository(self) -> PipelineConfig:
        if not self.image.repository:
            self.image.repository = self.app.name
        return self

    @property
    def origin(self) -> ConfigOrigin | None:
        """The file and override layers this config was loaded from (None if built directly)."""
        return self._origin

    def environment(self, name: str) -> EnvironmentConfig:
        """The environment called `name`; KeyError for any other name."""
        return self.environments.get(name)
