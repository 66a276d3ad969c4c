"""The environments of pipeline.toml: where and how each one is deployed."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gangway.config.durations import AtMost, Duration
from gangway.config.types import (
    DockerHost,
    EnvVarName,
    Flag,
    HttpUrl,
    IpAddress,
    LivenessPath,
    Number,
    Port,
    PrunePolicy,
    PullPolicy,
    SecretName,
    Section,
    UrlPath,
    WholeNumber,
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
