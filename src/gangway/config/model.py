"""The typed model of pipeline.toml: one pydantic class per section, unknown keys refused."""

from __future__ import annotations

import ipaddress
import re
import types
from datetime import date, timedelta
from typing import Annotated, Final, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

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

from gangway.config.durations import AtMost, Duration
from gangway.config.values import check_image_reference
from gangway.errors import ValueSource

EnvironmentName = Literal["staging", "production"]
Severity = Literal["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
Event = Literal["started", "succeeded", "failed", "rolled_back"]
ENVIRONMENT_NAMES: Final[tuple[EnvironmentName, ...]] = ("staging", "production")
SEVERITIES: Final[tuple[Severity, ...]] = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
EVENTS: Final[tuple[Event, ...]] = ("started", "succeeded", "failed", "rolled_back")
DEFAULT_FAIL_ON: Final[tuple[Severity, ...]] = ("HIGH", "CRITICAL")
PullPolicy = Literal["always", "missing", "never"]
PrunePolicy = Literal["pulled", "all"]
WebhookFormat = Literal["slack", "json"]


def _matching(pattern: str, error_type: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(error_type, message)
        return value

    return AfterValidator(check)


def _check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise PydanticCustomError(
            "ip_address", "expected an IP address such as '127.0.0.1' or '0.0.0.0'"
        ) from None


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("http_url", "expected an http:// or https:// URL")
    return value


def _check_secret_http_url(value: SecretStr) -> SecretStr:
    _check_http_url(value.get_secret_value())
    return value


_DOCKER_HOST_EXPECTED = (
    'expected "" (the local engine), unix:///path/to/docker.sock, tcp://host:port '
    "or ssh://user@host[:port]"
)


def _check_docker_host(value: str) -> str:
    if not value:
        return value
    if not value.isascii() or not value.startswith(("unix://", "tcp://", "ssh://")):
        raise PydanticCustomError("docker_host", _DOCKER_HOST_EXPECTED)
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise PydanticCustomError("docker_host", "the port is not in 1–65535; " +
                                  _DOCKER_HOST_EXPECTED) from None  # fmt: skip
    if parts.scheme == "unix":
        missing = "a socket path" if not parts.path.strip("/") else ""
    else:
        missing = "a host" if not parts.hostname else ""
        if port == 0:
            missing = "a port from 1 to 65535"
    if missing:
        raise PydanticCustomError(
            "docker_host",
            "{scheme}:// needs {missing}; " + _DOCKER_HOST_EXPECTED,
            {"scheme": parts.scheme, "missing": missing},
        )
    return value


def _check_image(value: str) -> str:
    try:
        return check_image_reference(value)
    except ValueError as exc:
        raise PydanticCustomError("image_reference", str(exc)) from None


def _whole_number(value: object) -> object:
    # TOML gives ints as ints; `true`, `8085.0` or "8085" in the file is a mistake, not a
    # number to coerce (the loader turns the text of GANGWAY_* variables into ints first).
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError(
            "int_type", "expected a whole number such as 3 (not true/false, a fraction or text)"
        )
    return value


def _port_number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError(
            "int_type", "expected a port number: a whole number from 1 to 65535, such as 8080"
        )
    return value


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("float_type", "expected a number such as 0.05")
    return value


def _flag(value: object) -> object:
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "expected true or false")
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


AppName = Annotated[
    str,
    _matching(
        r"[a-z][a-z0-9-]{0,40}",
        "app_name",
        "expected lowercase letters, digits and '-', starting with a letter, at most 41 "
        "characters (it names the containers <name>-blue and <name>-green)",
    ),
]
ImageRepository = Annotated[
    str,
    _matching(
        r"|[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*",
        "image_repository",
        "expected an image repository such as 'notes' or 'team/notes' (lowercase)",
    ),
]
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
RegistryAddress = Annotated[
    str,
    _matching(
        rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])"
        r"(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?"
        r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*",
        "registry_address",
        "expected host[:port][/path] without a scheme, such as '127.0.0.1:5000' or 'ghcr.io/org'",
    ),
]
EnvVarName = Annotated[
    str,
    _matching(
        r"[A-Za-z_][A-Za-z0-9_]*",
        "env_name",
        "expected an environment variable name (letters, digits and '_')",
    ),
]
SecretName = Annotated[
    str,
    _matching(
        r"[A-Z_][A-Z0-9_]*",
        "secret_name",
        "expected an upper-case environment variable name such as 'DATABASE_URL'",
    ),
]
UrlPath = Annotated[
    str, _matching(r"/\S*", "url_path", "expected a path starting with '/', such as '/health'")
]
LivenessPath = Annotated[
    str,
    _matching(
        r"(/\S*)?",
        "url_path",
        "expected a path starting with '/', such as '/health', or \"\" to rely on the "
        "image's HEALTHCHECK alone",
    ),
]
Port = Annotated[int, BeforeValidator(_port_number), Field(ge=1, le=65535)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Number = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Flag = Annotated[bool, BeforeValidator(_flag)]
ImageReference = Annotated[str, AfterValidator(_check_image)]
DockerHost = Annotated[str, AfterValidator(_check_docker_host)]
IpAddress = Annotated[str, AfterValidator(_check_ip)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
SecretHttpUrl = Annotated[SecretStr, AfterValidator(_check_secret_http_url)]


def _non_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value.strip()


NonEmptyText = Annotated[str, AfterValidator(_non_blank)]


def value_type(annotation: object) -> object:
    """Strip `Annotated[...]` and `X | None` down to the type that holds the value."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


class Section(BaseModel):
    """Base of every section: a key the model does not know is an error, never ignored."""

    model_config = ConfigDict(extra="forbid")


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


DatabaseKind = Literal["external", "accessory"]


class EnvironmentDatabaseConfig(Section):
    """The environment's database: started by gangway or external, and its backups."""

    kind: DatabaseKind = Field(
        default="external",
        description="`accessory`: gangway starts and keeps `<app>-<env>-db` from "
        "`[database].image`, data in the volume `<app>-<env>-db-data`, a password made once "
        "on the host; the app gets `DATABASE_URL_FILE`. `external`: the URL is the "
        "`DATABASE_URL` secret.",
    )
    backup_volume: str = Field(
        default="",
        description="Docker volume on the host that holds the backups; empty: "
        "`<app>-<env>-backups`.",
        json_schema_extra={"default_doc": "`<app>-<env>-backups`"},
    )
    backup_retain: WholeNumber = Field(
        default=7,
        ge=1,
        le=1000,
        description="Backups kept in the volume, newest first (1 to 1000).",
    )


class HealthConfig(Section):
    """How a new color is proven healthy, and how long the old one drains."""

    path: LivenessPath = Field(
        default="/health",
        description="Liveness path of the app: gangway polls it through the preview port "
        "until 2xx before the switch, and during the watch (a failing liveness switches "
        'back), besides the image\'s own HEALTHCHECK (both must pass); `""`: rely on the '
        "image's HEALTHCHECK alone.",
    )
    ready_path: UrlPath = Field(
        default="/ready", description="Readiness path, polled through the preview port."
    )
    interval: Annotated[timedelta, AtMost(timedelta(minutes=5))] = Field(
        default=timedelta(seconds=1), description="Time between polls (at most 5m)."
    )
    timeout: Annotated[timedelta, AtMost(timedelta(minutes=5))] = Field(
        default=timedelta(seconds=5), description="Timeout of one poll (at most 5m)."
    )
    deploy_timeout: Annotated[timedelta, AtMost(timedelta(hours=1))] = Field(
        default=timedelta(seconds=30),
        description="How long a new color may take to become ready before the deploy fails "
        "(at most 1h).",
    )
    drain_timeout: Annotated[timedelta, AtMost(timedelta(hours=1))] = Field(
        default=timedelta(seconds=30),
        description="Grace given to in-flight requests of the old color before it stops "
        "(at most 1h).",
    )


class MigrationsConfig(Section):
    """The database migration run in the new image before traffic moves."""

    command: list[str] = Field(
        default_factory=lambda: ["app", "migrate"],
        description="Command run in a one-off container of the new image; `[]`: no migrations.",
    )
    pending: list[str] = Field(
        default_factory=lambda: ["app", "migrate", "--pending"],
        description="Command run in a one-off container of the new image that prints, as "
        'the last line, JSON `{"pending": [{"revision", "description", "path", "source"}]}`: '
        "no pending revision, no backup and no migration. `[]`: always back up and migrate "
        "(and no destructive-migration check).",
    )
    transactional: Flag = Field(
        default=True,
        description="A failed migration rolls itself back (PostgreSQL DDL in one "
        "transaction). `false`: on failure the database is restored from the backup made "
        "just before.",
    )


class WatchConfig(Section):
    """The window after the switch in which a bad release is rolled back at once."""

    window: Annotated[timedelta, AtMost(timedelta(hours=6))] = Field(
        default=timedelta(seconds=60),
        description="How long the new color is watched while the old one keeps running "
        "(at most 6h).",
    )
    max_error_rate: Number = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of 5xx responses (0 to 1) above which traffic goes back.",
    )
    min_requests: WholeNumber = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="Requests the new color must have served in the window before its "
        "error rate is judged; with fewer, the release is kept.",
    )


class EnvironmentConfig(Section):
    """One deployment target: a Docker host running the proxy, blue and green."""

    docker_host: DockerHost = Field(
        default="",
        description='Docker engine to deploy to: `""` is the local engine, else '
        "`unix://…`, `tcp://…` or `ssh://user@host`.",
    )
    address: IpAddress = Field(
        default="127.0.0.1",
        description="IP address the public and preview ports bind to (`0.0.0.0`: all).",
    )
    port: Port = Field(description="Public port served by the proxy (1–65535).")
    preview_port: Port = Field(
        description="Port on which the proxy serves the new color before the switch; "
        "must differ from `port`."
    )
    url: HttpUrl | None = Field(
        default=None,
        description="Base URL users reach the app at; unset: `http://{address}:{port}`.",
        json_schema_extra={"default_doc": "`http://{address}:{port}`"},
    )
    pull: PullPolicy = Field(
        default="missing", description="When the host pulls the image: always, missing, never."
    )
    env: dict[EnvVarName, str] = Field(
        default_factory=dict, description="Plain environment variables of the app container."
    )
    secrets: list[SecretName] = Field(
        default_factory=list,
        description="Names of environment variables the app needs as secrets; their values "
        "come from the deployer's environment or the file `NAME` in `$GANGWAY_SECRETS_DIR`, "
        "never from this file.",
    )
    secret_files: list[SecretName] = Field(
        default_factory=list,
        description="Names of secrets the app reads from files: each is written to "
        "`/run/secrets/NAME` in the container (never to the image, labels or env) and "
        "`NAME_FILE` is set to that path; values come from the deployer's environment or "
        "the file `NAME` in `$GANGWAY_SECRETS_DIR`.",
    )
    health: HealthConfig = Field(default_factory=HealthConfig, description="Health checks.")
    migrations: MigrationsConfig = Field(
        default_factory=MigrationsConfig, description="Database migrations."
    )
    database: EnvironmentDatabaseConfig = Field(
        default_factory=EnvironmentDatabaseConfig, description="Database and backups."
    )
    watch: WatchConfig = Field(default_factory=WatchConfig, description="Post-switch watch.")
    retain: WholeNumber = Field(
        default=3, ge=1, le=100, description="Releases kept on the host for rollback (1 to 100)."
    )
    prune: PrunePolicy = Field(
        default="pulled",
        description="Images of releases beyond `retain` that a deploy removes: `pulled`, "
        "only those gangway pulled onto the host; `all`, also those that were already there "
        "(tags you built or loaded yourself). Never one a kept release or a container uses.",
    )
    lock_timeout: Duration = Field(
        default=timedelta(minutes=15),
        description="Age after which a deploy lock whose holder went away is taken over "
        "(with a warning); longer than any deploy can take (at most 24h).",
    )

    @field_validator("url")
    @classmethod
    def _without_trailing_slash(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    @field_validator("preview_port")
    @classmethod
    def _differs_from_port(cls, value: int, info: ValidationInfo) -> int:
        if value == info.data.get("port"):
            raise PydanticCustomError("port_collision", "must differ from port")
        return value

    @field_validator("secrets")
    @classmethod
    def _not_also_plain(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for name in value:
            if name in info.data.get("env", {}):
                raise PydanticCustomError(
                    "secret_in_env",
                    "{name} is both a secret and a plain env variable",
                    {"name": name},
                )
        return value

    @field_validator("secret_files")
    @classmethod
    def _delivered_once(cls, value: list[str], info: ValidationInfo) -> list[str]:
        env = info.data.get("env", {})
        for name in value:
            if name in info.data.get("secrets", []):
                raise PydanticCustomError(
                    "secret_twice",
                    "{name} is in both secrets and secret_files; deliver it one way",
                    {"name": name},
                )
            for taken in (name, f"{name}_FILE"):
                if taken in env:
                    raise PydanticCustomError(
                        "secret_in_env",
                        "{taken} is set in env, but secret file {name} sets it",
                        {"name": name, "taken": taken},
                    )
        return value

    @model_validator(mode="after")
    def _database_url_source(self) -> EnvironmentConfig:
        if self.database.kind == "accessory" and "DATABASE_URL" in self.secrets:
            raise PydanticCustomError(
                "database_url_twice",
                "database.kind is 'accessory': gangway gives the app its URL "
                "(DATABASE_URL_FILE); remove DATABASE_URL from secrets",
            )
        return self

    @property
    def effective_url(self) -> str:
        """The URL the app is reached at: `url`, or derived from address and port."""
        if self.url:
            return self.url
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"


class EnvironmentsConfig(Section):
    """The two deployment targets; the pipeline goes through staging to production."""

    staging: EnvironmentConfig = Field(description="Where each release is proven first.")
    production: EnvironmentConfig = Field(description="Where users are served.")

    @field_validator("production")
    @classmethod
    def _ports_free(cls, value: EnvironmentConfig, info: ValidationInfo) -> EnvironmentConfig:
        staging = info.data.get("staging")
        if not isinstance(staging, EnvironmentConfig) or staging.docker_host != value.docker_host:
            return value
        taken = {staging.port: "port", staging.preview_port: "preview_port"}
        for key in ("port", "preview_port"):
            port = getattr(value, key)
            if port in taken:
                raise PydanticCustomError(
                    "port_collision",
                    "port {port} is already used by environments.staging.{other} "
                    "on the same Docker host",
                    {"port": port, "other": taken[port], "at": key},
                )
        return value

    def get(self, name: str) -> EnvironmentConfig:
        """The environment called `name` (`staging` or `production`)."""
        if name == "staging":
            return self.staging
        if name == "production":
            return self.production
        raise KeyError(name)


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
