"""The Dagger functions of the pipeline: each stage of the core's graph in a container.

Every function is an adapter. What to run comes from the core: the road (the stage
order, which deploy is smoke-tested first: `gangway.stages.road`) and its gates
(`gangway.stages.graph`), the command lines (`gangway.stages.argv`, and
`gangway.scan.trivy` for Trivy), the configuration (`pipeline.toml` through
`gangway.config.load_config`). The containers install that same core from
`src/gangway`, so the deployer and the scan gate that run here are the ones the local
runner runs.

Each function builds its container lazily and awaits as little as possible (reading
pipeline.toml, then one leaf), so the offline tests can check what it would run
without an engine. Functions with a side effect, or whose answer depends on the world
rather than on their inputs, are `cache="never"` and carry a per-run value in their
last container, or the engine would replay an old result for up to 7 days.
"""

from __future__ import annotations

import posixpath
import shlex
import sys
import tempfile
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
import dagger
from dagger import DefaultPath, Doc, Ignore, dag, function, object_type

from gangway.config import ENVIRONMENT_NAMES, PipelineConfig, load_config
from gangway.errors import CommandFailed, GangwayError
from gangway.scan import trivy
from gangway.stages import StageResult, render_table, road, run_stages
from gangway.stages.argv import (
    build_args,
    gangway_argv,
    image_ref,
    integration_test_argv,
    publish_tags,
    rollback_argv,
    run_tests_argv,
    smoke_argv,
    status_argv,
)

SRC: Final = "/src"
PIP_CACHE: Final = "/root/.cache/pip"
DOCKER_SOCKET: Final = "/var/run/docker.sock"
DOCKER_CLI: Final = "/usr/local/bin/docker"
# What the smoke tests of tests/deployed need in the deployer's container.
SMOKE_REQUIREMENTS: Final = ("pytest>=9.0", "httpx>=0.28")
# Paths inside throwaway containers, where /tmp always exists and nobody else writes.
IMAGE_TAR: Final = "/tmp/gangway-image.tar"  # noqa: S108
TRIVY_REPORT: Final = "/tmp/gangway-trivy-report.json"  # noqa: S108
SSH_KEY: Final = "/root/.ssh/id_gangway"
KNOWN_HOSTS: Final = "/root/.ssh/known_hosts"
SSH_CONFIG: Final = (
    "Host *\n"
    f"  IdentityFile {SSH_KEY}\n"
    "  IdentitiesOnly yes\n"
    "  StrictHostKeyChecking yes\n"
    f"  UserKnownHostsFile {KNOWN_HOSTS}\n"
)
INSTALL_SSH: Final = (
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends openssh-client "
    ">/dev/null && rm -rf /var/lib/apt/lists/*"
)
#: Throwaway PostgreSQL of the test stage and the dev service: not a secret.
TEST_DB_HOST: Final = "db"
TEST_DB_PASSWORD: Final = "gangway-test"  # noqa: S105 - a throwaway test server
TEST_DB_URL: Final = f"postgresql://postgres:{TEST_DB_PASSWORD}@{TEST_DB_HOST}:5432/postgres"
#: tests/app/conftest.py creates its databases on this server instead of running initdb.
TEST_DATABASE_VARIABLE: Final = "GANGWAY_TEST_DATABASE_URL"
#: Set to a new value on every run of a side-effecting exec, so its layer is never reused.
RUN_ID_VARIABLE: Final = "GANGWAY_RUN_ID"
SOURCE_IGNORE: Final = [
    ".git",
    ".nox",
    "**/.venv",
    "**/__pycache__",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/.pytest_cache",
    "**/*.egg-info",
    "bench/results",
    "dagger/sdk",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def uncached_function(fn: _F) -> _F:
    """`@function(cache="never")`, typed (the SDK's overloads of `function` omit `cache`).

    It registers the function itself: stacking `@function` on it would reset the policy.
    """
    never: Callable[[_F], _F] = function(cache="never")  # type: ignore[call-overload]
    return never(fn)


def check(fn: _F) -> _F:
    """`@dagger.check` (run by `dagger check`), typed: the SDK's returns a union."""
    dagger.check(fn)
    return fn


def up(fn: _F) -> _F:
    """`@dagger.up` (started by `dagger up`), typed: the SDK's returns a union."""
    dagger.up(fn)
    return fn


class PipelineUsageError(GangwayError):
    """An argument of a Dagger function is missing or wrong; says which and what to pass."""


class ContainerCommandFailed(CommandFailed):
    """A command in a container exited non-zero; the message carries its output's tail.

    `str(dagger.ExecError)` is only "process ... did not complete successfully", so the
    command, its exit code and the last lines of stderr (or stdout) are put back.
    """

    TAIL_LINES: Final = 40

    def __init__(self, exc: dagger.ExecError) -> None:
        super().__init__(exc.command, exc.exit_code, exc.stdout, exc.stderr)
        output = (exc.stderr.strip() or exc.stdout.strip()).splitlines()
        tail = "\n".join(output[-self.TAIL_LINES :])
        self.args = (f"{shlex.join(exc.command)} exited {exc.exit_code}\n{tail}".rstrip(),)

    def __str__(self) -> str:
        return str(self.args[0])


class EngineError(GangwayError):
    """The engine refused a request (not a command that failed): its message, one line."""


class PipelineStopped(GangwayError):
    """`deploy` stopped at a failed gate; the message is the stage table."""


async def output(ctr: dagger.Container) -> str:
    """Run `ctr` to its last exec and return what it printed; a failure keeps its stderr."""
    try:
        return await ctr.combined_output()
    except dagger.ExecError as exc:
        raise ContainerCommandFailed(exc) from exc
    except dagger.QueryError as exc:
        raise EngineError(str(exc)) from exc


def parse_config(text: str, name: str) -> PipelineConfig:
    """Validate pipeline.toml as read from the source directory (no GANGWAY_ overrides)."""
    with tempfile.TemporaryDirectory(prefix="gangway-config-") as tmp:
        path = Path(tmp) / posixpath.basename(name)
        path.write_text(text, encoding="utf-8")
        return load_config(path, environ={})


def last_line(text: str) -> str:
    """The last non-empty line of a command's output: its verdict, for the stage table."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "done"


SourceDir = Annotated[
    dagger.Directory,
    DefaultPath("."),
    Ignore(SOURCE_IGNORE),
    Doc("The repository: app, Dockerfile, pipeline.toml, tests and the core (src/gangway)"),
]
Version = Annotated[str, Doc("Version of the release: its image tag, e.g. the commit SHA")]
Revision = Annotated[str, Doc("VCS revision recorded in the image labels")]
Environment = Annotated[str, Doc("Environment of pipeline.toml: staging or production")]
DockerSocket = Annotated[
    dagger.Socket | None,
    Doc("The target Docker engine's socket, e.g. /var/run/docker.sock (a local engine)"),
]
DockerHost = Annotated[
    str,
    Doc("Override the environment's docker_host, e.g. ssh://deploy@app1.example.com"),
]
SshKey = Annotated[
    dagger.Secret | None,
    Doc("Private key for an ssh:// docker host, e.g. file://$HOME/.ssh/id_ed25519"),
]
KnownHosts = Annotated[
    dagger.File | None,
    Doc("known_hosts with the ssh:// docker host's key (host keys are always checked)"),
]
AppSecrets = Annotated[
    list[dagger.Secret] | None,
    Doc(
        "Values of the environment's `secrets` (pipeline.toml), in the order listed there, "
        "e.g. env://DATABASE_URL"
    ),
]
RegistryUsername = Annotated[str, Doc("Registry user; default: registry.username")]
RegistryPassword = Annotated[dagger.Secret | None, Doc("Registry password or token")]


@dataclass
class Target:
    """How the deployer container reaches an environment's Docker engine."""

    docker_socket: dagger.Socket | None = None
    docker_host: str = ""
    ssh_key: dagger.Secret | None = None
    known_hosts: dagger.File | None = None


@object_type
class GangwayPipeline:
    """Test, build, scan, publish and deploy (blue-green) the app of pipeline.toml."""

    source: SourceDir
    config: Annotated[str, Doc("pipeline.toml, relative to the source")] = "pipeline.toml"
    python_image: Annotated[str, Doc("Image of the test, gate and deployer containers")] = (
        "python:3.12-slim"
    )
    docker_cli_image: Annotated[str, Doc("Image the deployer's docker CLI is copied from")] = (
        "docker:28.2-cli"
    )
    actor: Annotated[str, Doc("Who deploys, as recorded in the release history")] = "dagger"

    # -- checks ---------------------------------------------------------------------

    @function
    @check
    async def lint(self) -> str:
        """Lint, formatting and types: ruff check, ruff format --check, mypy --strict."""
        ctr = (
            self.dev_env("lint", "typecheck")
            .with_exec(["ruff", "check", "."])
            .with_exec(["ruff", "format", "--check", "."])
            .with_exec(["mypy"])
        )
        return await output(ctr)

    @function
    @check
    async def test(self) -> str:
        """The test stage: unit and app tests, PostgreSQL running as a Dagger service."""
        cfg = await self.read_config()
        return await output(self.test_container(cfg))

    # Never cached: the verdict depends on today's vulnerability database, not only on
    # the image, so Trivy runs again each time (its database stays in the cache volume).
    @uncached_function
    @check
    async def scan(
        self,
        version: Version = "dev",
        revision: Revision = "unknown",
        ignore_file: Annotated[
            str, Doc("A .trivyignore.yaml (relative to the source) the gate also applies")
        ] = "",
    ) -> str:
        """Build the image, scan its tarball with Trivy (database in a cache volume), gate it.

        The gate is the core's `gangway scan --report` under pipeline.toml's [scan] policy.
        """
        cfg = await self.read_config()
        image = self.image(cfg, version=version, revision=revision)
        return await output(self.scan_gate(cfg, self.trivy_report(cfg, image), ignore_file))

    # -- build and publish ----------------------------------------------------------

    @function
    async def build(
        self, version: Version = "dev", revision: Revision = "unknown"
    ) -> dagger.Container:
        """Build the app image from the Dockerfile of pipeline.toml (docker_build)."""
        cfg = await self.read_config()
        return self.image(cfg, version=version, revision=revision)

    @uncached_function
    async def publish(
        self,
        version: Version,
        revision: Revision = "unknown",
        registry_username: RegistryUsername = "",
        registry_password: RegistryPassword = None,
    ) -> str:
        """Build and push the image tagged with the version and latest; prints the refs."""
        cfg = await self.read_config()
        image = self.image(cfg, version=version, revision=revision)
        refs = await self.push_image(cfg, image, version, registry_username, registry_password)
        return "\n".join(refs)

    # -- environments ---------------------------------------------------------------

    @uncached_function
    async def deploy_staging(
        self,
        version: Version,
        image: Annotated[str, Doc("Image to deploy; default: registry/repository:version")] = "",
        docker_socket: DockerSocket = None,
        docker_host: DockerHost = "",
        ssh_key: SshKey = None,
        known_hosts: KnownHosts = None,
        app_secrets: AppSecrets = None,
    ) -> str:
        """Deploy the image to staging, blue-green, with the core's deployer."""
        cfg = await self.read_config()
        target = Target(docker_socket, docker_host, ssh_key, known_hosts)
        return await output(
            self.deploy_container(cfg, "staging", version, image, target, app_secrets)
        )

    @uncached_function
    async def integration_test(
        self,
        base_url: Annotated[str, Doc("URL of the deployed app; default: staging's url")] = "",
        smoke: Annotated[bool, Doc("Run only the smoke subset")] = False,
    ) -> str:
        """Run the deployed-app test suite against staging (or base_url)."""
        cfg = await self.read_config()
        url = base_url or cfg.environments.staging.effective_url
        return await output(self.integration_container(cfg, url, smoke=smoke))

    @uncached_function
    async def deploy_production(
        self,
        version: Version,
        image: Annotated[str, Doc("Image to deploy; default: registry/repository:version")] = "",
        docker_socket: DockerSocket = None,
        docker_host: DockerHost = "",
        ssh_key: SshKey = None,
        known_hosts: KnownHosts = None,
        app_secrets: AppSecrets = None,
    ) -> str:
        """Deploy the image to production, blue-green, watched, rolled back on errors."""
        cfg = await self.read_config()
        target = Target(docker_socket, docker_host, ssh_key, known_hosts)
        return await output(
            self.deploy_container(cfg, "production", version, image, target, app_secrets)
        )

    @uncached_function
    async def rollback(
        self,
        environment: Environment = "production",
        to: Annotated[str, Doc("Version to go back to; default: the previous release")] = "",
        docker_socket: DockerSocket = None,
        docker_host: DockerHost = "",
        ssh_key: SshKey = None,
        known_hosts: KnownHosts = None,
        app_secrets: AppSecrets = None,
    ) -> str:
        """Put the previous (or a named) release back in an environment."""
        cfg = await self.read_config()
        target = Target(docker_socket, docker_host, ssh_key, known_hosts)
        argv = rollback_argv(self.config, checked(environment), to=to or None)
        ctr = self.deployer(cfg, checked(environment), target, app_secrets)
        return await output(ctr.with_exec(argv))

    @uncached_function
    async def status(
        self,
        environment: Environment = "production",
        json: Annotated[bool, Doc("Print JSON")] = False,
        docker_socket: DockerSocket = None,
        docker_host: DockerHost = "",
        ssh_key: SshKey = None,
        known_hosts: KnownHosts = None,
    ) -> str:
        """Live color, version, health, lock and last deploys of an environment."""
        cfg = await self.read_config()
        target = Target(docker_socket, docker_host, ssh_key, known_hosts)
        # Only deploy and rollback start app containers: status needs no app secrets.
        ctr = self.deployer(cfg, checked(environment), target, None, with_secrets=False)
        return await output(ctr.with_exec(status_argv(self.config, environment, json=json)))

    # -- the whole road -------------------------------------------------------------

    @uncached_function
    async def deploy(
        self,
        version: Version,
        revision: Revision = "unknown",
        registry_username: RegistryUsername = "",
        registry_password: RegistryPassword = None,
        docker_socket: DockerSocket = None,
        ssh_key: SshKey = None,
        known_hosts: KnownHosts = None,
        app_secrets: AppSecrets = None,
        staging_url: Annotated[
            str, Doc("URL the integration tests use; default: staging's url")
        ] = "",
    ) -> str:
        """Test, build, scan, publish, deploy to staging, integration-test, deploy to production.

        The core's stage graph runs them in order and stops at the first failed gate;
        prints the stage table and fails if a stage failed.
        """
        cfg = await self.read_config()
        stages = DaggerRoad(
            self,
            cfg,
            version=version,
            revision=revision,
            registry=(registry_username, registry_password),
            target=Target(docker_socket, "", ssh_key, known_hosts),
            app_secrets=app_secrets,
            staging_url=staging_url,
        )
        return await stages.run()

    # -- development ----------------------------------------------------------------

    @function
    @up
    async def serve(self, version: Version = "dev") -> dagger.Service:
        """The app with its PostgreSQL, migrated, on the app port (`dagger up`)."""
        cfg = await self.read_config()
        return self.app_service(cfg, version)

    # -- containers (lazy: nothing runs until a function awaits a leaf) ---------------

    async def read_config(self) -> PipelineConfig:
        text = await self.source.file(self.config).contents()
        return parse_config(text, self.config)

    def workspace(self) -> dagger.Container:
        """The Python image with the repository at /src and pip's cache kept between runs."""
        return (
            dag.container()
            .from_(self.python_image)
            .with_env_variable("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .with_env_variable("PIP_ROOT_USER_ACTION", "ignore")
            .with_mounted_cache(PIP_CACHE, dag.cache_volume("gangway-pip"))
            .with_directory(SRC, self.source)
            .with_workdir(SRC)
        )

    def with_core(self) -> dagger.Container:
        """The workspace with the core (`gangway`, src/gangway) installed from the root."""
        return self.workspace().with_exec(["pip", "install", "--quiet", "."])

    def dev_env(self, *groups: str) -> dagger.Container:
        """The app, the core and dependency groups of pyproject.toml, as nox installs them."""
        group_args = [arg for group in groups for arg in ("--group", group)]
        return (
            self.workspace()
            .with_exec(["pip", "install", "--quiet", "pip>=25.1"])
            .with_exec(["pip", "install", "--quiet", "-r", "app/requirements.txt"])
            .with_exec(["pip", "install", "--quiet", "--no-deps", "-e", "app"])
            .with_exec(["pip", "install", "--quiet", "-e", ".", *group_args])
        )

    def postgres(self, cfg: PipelineConfig) -> dagger.Service:
        """A throwaway PostgreSQL (pipeline.toml's database image) as a service."""
        return (
            dag.container()
            .from_(cfg.database.image)
            .with_env_variable("POSTGRES_PASSWORD", TEST_DB_PASSWORD)
            .with_exposed_port(5432)
            # The image's entrypoint initialises the cluster: without it nothing listens.
            .as_service(use_entrypoint=True)
        )

    def test_container(self, cfg: PipelineConfig) -> dagger.Container:
        """The test stage's argv in the dev environment, against the PostgreSQL service."""
        return (
            self.dev_env("test")
            .with_service_binding(TEST_DB_HOST, self.postgres(cfg))
            .with_env_variable(TEST_DATABASE_VARIABLE, TEST_DB_URL)
            .with_exec(run_tests_argv(cfg))
        )

    def image(self, cfg: PipelineConfig, *, version: str, revision: str) -> dagger.Container:
        """The app image: the Dockerfile and build arguments the core derives from the config."""
        context = cfg.image.context.strip("/") or "."
        directory = self.source if context == "." else self.source.directory(context)
        arguments = build_args(cfg, version=version, revision=revision)
        return directory.docker_build(
            dockerfile=posixpath.relpath(cfg.image.dockerfile, context),
            build_args=[dagger.BuildArg(name=k, value=v) for k, v in arguments.items()],
        )

    def trivy_report(self, cfg: PipelineConfig, image: dagger.Container) -> dagger.File:
        """Trivy's JSON report on the image tarball; its database lives in a cache volume."""
        args: list[str] = trivy.vuln_scan_args(
            cfg.scan, input_tar=IMAGE_TAR, report=TRIVY_REPORT, cache_dir=trivy.CONTAINER_CACHE_DIR
        )
        return (
            dag.container()
            .from_(cfg.scan.trivy_image)
            .with_mounted_cache(trivy.CONTAINER_CACHE_DIR, dag.cache_volume(cfg.scan.cache_volume))
            .with_mounted_file(IMAGE_TAR, image.as_tarball())
            .with_env_variable(RUN_ID_VARIABLE, uuid.uuid4().hex)
            .with_exec(["trivy", *args])
            .file(TRIVY_REPORT)
        )

    def scan_gate(
        self, cfg: PipelineConfig, report: dagger.File, ignore_file: str
    ) -> dagger.Container:
        """The core's gate on the report: `gangway scan --report` (exit 1 = blocked)."""
        argv = gangway_argv(self.config, "scan", "--report", TRIVY_REPORT)
        if ignore_file:
            argv += ["--ignore-file", ignore_file]
        return self.with_core().with_mounted_file(TRIVY_REPORT, report).with_exec(argv)

    async def push_image(
        self,
        cfg: PipelineConfig,
        image: dagger.Container,
        version: str,
        username: str,
        password: dagger.Secret | None,
    ) -> list[str]:
        user = username or cfg.registry.username or ""
        if password is not None:
            if not user:
                raise PipelineUsageError(
                    "--registry-password needs --registry-username (or registry.username "
                    "in pipeline.toml)"
                )
            image = image.with_registry_auth(image_ref(cfg, version), user, password)
        try:
            return [await image.publish(image_ref(cfg, tag)) for tag in publish_tags(version)]
        except dagger.ExecError as exc:
            raise ContainerCommandFailed(exc) from exc
        except dagger.QueryError as exc:  # the registry refused the push or the login
            raise EngineError(str(exc)) from exc

    def deployer(
        self,
        cfg: PipelineConfig,
        environment: str,
        target: Target,
        app_secrets: list[dagger.Secret] | None,
        *,
        with_secrets: bool = True,
    ) -> dagger.Container:
        """The core's CLI with a docker CLI, pointed at the environment's engine."""
        env = cfg.environment(environment)
        docker = dag.container().from_(self.docker_cli_image).file(DOCKER_CLI)
        ctr = self.with_core().with_file(DOCKER_CLI, docker)
        host = target.docker_host or env.docker_host
        if target.docker_socket is not None:
            ctr = ctr.with_unix_socket(DOCKER_SOCKET, target.docker_socket)
            host = f"unix://{DOCKER_SOCKET}"
        elif host.startswith("ssh://"):
            ctr = with_ssh(ctr, environment, target)
        elif not host:
            raise PipelineUsageError(
                f"{environment}: no way to reach its Docker engine from a container: pass "
                "--docker-socket=/var/run/docker.sock, or an ssh:// docker host "
                f"(environments.{environment}.docker_host or --docker-host) with --ssh-key "
                "and --known-hosts"
            )
        ctr = ctr.with_env_variable(
            f"GANGWAY_ENVIRONMENTS__{environment.upper()}__DOCKER_HOST", host
        ).with_env_variable("GANGWAY_ACTOR", self.actor)
        names = env.secrets if with_secrets else []
        values = app_secrets or []
        if len(values) != len(names):
            listed = ", ".join(names) or "none"
            raise PipelineUsageError(
                f"environments.{environment}.secrets lists {listed}: pass --app-secrets once "
                f"per name, in that order (got {len(values)})"
            )
        for name, value in zip(names, values, strict=True):
            ctr = ctr.with_secret_variable(name, value)
        return ctr.with_env_variable(RUN_ID_VARIABLE, uuid.uuid4().hex)

    def deploy_container(
        self,
        cfg: PipelineConfig,
        environment: str,
        version: str,
        image: str,
        target: Target,
        app_secrets: list[dagger.Secret] | None,
    ) -> dagger.Container:
        """`gangway deploy` of one image to one environment, as the core plans it; for
        production with `[stages] smoke`, run by the deployer against the preview route
        before the switch (pytest and httpx added to its container for that)."""
        argv = road.Road(cfg, self.config, version).deploy_argv(environment, image)
        ctr = self.deployer(cfg, environment, target, app_secrets)
        if road.smoke_before(cfg, environment):
            ctr = ctr.with_exec(["pip", "install", "--quiet", *SMOKE_REQUIREMENTS])
        return ctr.with_exec(argv)

    def integration_container(
        self, cfg: PipelineConfig, base_url: str, *, smoke: bool = False
    ) -> dagger.Container:
        """The deployed-app suite (or its smoke subset) against `base_url`, run fresh
        every time."""
        argv = smoke_argv(cfg, base_url) if smoke else integration_test_argv(cfg, base_url)
        return (
            self.dev_env("test")
            .with_env_variable(RUN_ID_VARIABLE, uuid.uuid4().hex)
            .with_exec(argv)
        )

    def app_service(self, cfg: PipelineConfig, version: str) -> dagger.Service:
        """The built app on a throwaway PostgreSQL: migrations first, then the server."""
        migrate = cfg.environments.staging.migrations.command
        script = (f"{shlex.join(migrate)} && " if migrate else "") + "exec app serve"
        return (
            self.image(cfg, version=version, revision="dev")
            .with_service_binding(TEST_DB_HOST, self.postgres(cfg))
            .with_env_variable("DATABASE_URL", TEST_DB_URL)
            .with_exposed_port(cfg.app.port)
            .as_service(args=["sh", "-c", script])
        )


def checked(environment: str) -> str:
    """`environment` if pipeline.toml has it, else a one-line usage error."""
    if environment not in ENVIRONMENT_NAMES:
        raise PipelineUsageError(
            f"--environment: expected one of {', '.join(ENVIRONMENT_NAMES)} (got {environment!r})"
        )
    return environment


def with_ssh(ctr: dagger.Container, environment: str, target: Target) -> dagger.Container:
    """An ssh client with the key and known_hosts, for DOCKER_HOST=ssh://…"""
    if target.ssh_key is None or target.known_hosts is None:
        raise PipelineUsageError(
            f"{environment}: an ssh:// docker host needs --ssh-key (e.g. "
            "file://$HOME/.ssh/id_ed25519) and --known-hosts (e.g. $HOME/.ssh/known_hosts)"
        )
    return (
        ctr.with_exec(["sh", "-c", INSTALL_SSH])
        .with_mounted_secret(SSH_KEY, target.ssh_key, mode=0o600)
        .with_mounted_file(KNOWN_HOSTS, target.known_hosts)
        .with_new_file("/root/.ssh/config", SSH_CONFIG, permissions=0o600)
    )


StageFn = Callable[[], Coroutine[Any, Any, StageResult]]


class DaggerRoad:
    """The `deploy` function's run of the core's road with Dagger stages (a StageRunner)."""

    def __init__(
        self,
        pipeline: GangwayPipeline,
        cfg: PipelineConfig,
        *,
        version: str,
        revision: str,
        registry: tuple[str, dagger.Secret | None],
        target: Target,
        app_secrets: list[dagger.Secret] | None,
        staging_url: str,
    ) -> None:
        self.pipeline = pipeline
        self.cfg = cfg
        self.version = version
        self.target = target
        self.app_secrets = app_secrets
        self.registry = registry
        self.staging_url = staging_url or cfg.environments.staging.effective_url
        self.built = pipeline.image(cfg, version=version, revision=revision)
        self.published = ""

    async def run(self) -> str:
        """Run the core's road in the core's runner (a worker thread) and return its table."""
        stages = [(name, blocking(fn)) for name, fn in road.bind(self)]
        report = await anyio.to_thread.run_sync(
            lambda: run_stages(stages, out=sys.stderr), abandon_on_cancel=False
        )
        table = render_table(report)
        if report.outcome == "failed":
            raise PipelineStopped(table)
        return table

    async def test(self) -> StageResult:
        out = await output(self.pipeline.test_container(self.cfg))
        return StageResult(name="test", status="passed", message=last_line(out))

    async def build(self) -> StageResult:
        try:
            await self.built.sync()
        except dagger.ExecError as exc:
            raise ContainerCommandFailed(exc) from exc
        except dagger.QueryError as exc:  # a Dockerfile the engine cannot parse, say
            raise EngineError(str(exc)) from exc
        message = f"built {self.cfg.image.dockerfile} as version {self.version}"
        return StageResult(name="build", status="passed", message=message)

    async def scan(self) -> StageResult:
        report = self.pipeline.trivy_report(self.cfg, self.built)
        out = await output(self.pipeline.scan_gate(self.cfg, report, ""))
        message = next((line for line in out.splitlines() if line.strip()), "passed")
        return StageResult(name="scan", status="passed", message=message)

    async def publish(self) -> StageResult:
        username, password = self.registry
        refs = await self.pipeline.push_image(
            self.cfg, self.built, self.version, username, password
        )
        self.published = refs[0]
        return StageResult(name="publish", status="passed", message=f"pushed {', '.join(refs)}")

    async def deploy(self, environment: str) -> StageResult:
        ctr = self.pipeline.deploy_container(
            self.cfg, environment, self.version, self.published, self.target, self.app_secrets
        )
        name = road.deploy_stage(environment).name
        return StageResult(name=name, status="passed", message=last_line(await output(ctr)))

    async def integration_test(self) -> StageResult:
        out = await output(self.pipeline.integration_container(self.cfg, self.staging_url))
        return StageResult(name="integration-test", status="passed", message=last_line(out))


def blocking(fn: StageFn) -> Callable[[], StageResult]:
    """A stage coroutine as the plain callable the core's runner calls from its thread."""
    return lambda: anyio.from_thread.run(fn)
