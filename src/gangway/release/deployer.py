"""The blue-green sequence: what to run given what the host reports, and when to back out.

A deploy, in order (DESIGN.md, "Blue-green protocol"):

    lock -> bootstrap (network, database accessory, state volume, router, proxy; first
            deploy only)
         -> pending migrations (one-off container of the new image); none: skip to start
         -> destructive-migration guard -> backup (pg_dump) -> migrate (one-off container)
         -> start the idle color, preview route to it -> Docker health `healthy`
         -> /ready through the preview port
         -> switch (router config, nginx -t, graceful reload in one exec)
         -> watch window: the new color's 5xx share, the old color still running
         -> drain the old color (no request in flight) -> stop it (kept for rollback)
         -> prune releases beyond `retain` -> history -> unlock

Anything that fails before the switch leaves the live color untouched: the new
container is stopped (its logs shown) and the preview route is cleared. A watch that
trips switches back to the old color at once. The steps are data (`Step`), so
`gangway plan` prints the very commands a deploy would run.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import anyio

from gangway.commands import database, docker
from gangway.commands.database import DatabaseTarget
from gangway.commands.docker import Color, Command, Target, other
from gangway.commands.nginx import (
    Routes,
    count_statuses,
    proxy_config,
    router_config,
    status_log,
)
from gangway.config import EnvironmentConfig, PipelineConfig
from gangway.errors import (
    CommandFailed,
    DeployFailed,
    HealthCheckFailed,
    LockHeld,
    PendingUnreadable,
)
from gangway.execute import Executor
from gangway.health import count_in_flight, wait_until_ready
from gangway.masking import redact
from gangway.progress import Progress
from gangway.release.backups import Backup, Backups
from gangway.release.migrations import (
    EXPAND_CONTRACT,
    PendingReport,
    destructive_findings,
    parse_pending,
)
from gangway.release.state import (
    ContainerInfo,
    HostState,
    ReleaseRecord,
    RoutingState,
    parse_history,
    parse_inspect,
)

Phase = Literal["bootstrap", "migrate", "prepare", "prove", "switch", "watch", "retire"]
WaitKind = Literal["healthy", "ready", "smoke", "watch", "drained", "database"]


@dataclass(frozen=True)
class Run:
    """Run one command."""

    command: Command
    phase: Phase

    def describe(self) -> str:
        return self.command.shell()


@dataclass(frozen=True)
class Wait:
    """Wait for a condition of the host, bounded by `timeout` seconds."""

    kind: WaitKind
    subject: str
    timeout: float
    phase: Phase

    def describe(self) -> str:
        what = {
            "healthy": f"until Docker reports {self.subject} healthy",
            "ready": f"until {self.subject} answers 2xx",
            "smoke": f"until the smoke tests pass against {self.subject}",
            "watch": f"while {self.subject}'s error rate is watched, the old color still running",
            "drained": f"until {self.subject} has no request in flight",
            "database": f"until {self.subject} accepts connections",
        }[self.kind]
        return f"# wait {what} (at most {self.timeout:g}s)"


Step = Run | Wait


@dataclass(frozen=True)
class Release:
    """What is being deployed: the image, its version, and the color it goes to."""

    image: str
    version: str
    color: Color


def version_of(image: str) -> str:
    """The version an image reference carries: its tag, else its short digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1]
    return digest.split(":")[-1][:12] if digest else "latest"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _seconds(value: float) -> int:
    return max(1, round(value))


@dataclass
class Deployer:
    """Deploys, rolls back and reports one environment of one app."""

    config: PipelineConfig
    environment: str
    executor: Executor
    progress: Progress = field(default_factory=Progress)
    who: str = ""
    # Run on this machine against the preview URL (`{url}`) before the switch.
    smoke: tuple[str, ...] = ()
    # Values of the environment's `secret_files`, copied into release containers.
    secret_files: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Called once a deploy or rollback holds the lock (the `started` notification).
    on_start: Callable[[], None] = field(default=lambda: None, repr=False)
    # The record the last deploy or rollback appended to the history (notifications).
    last_record: ReleaseRecord | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.env: EnvironmentConfig = self.config.environment(self.environment)
        self.target = Target(self.config.app.name, self.environment)
        if not self.who:
            self.who = os.environ.get("GANGWAY_ACTOR") or _user()
        self.host = socket.gethostname()
        self._lock_token = ""
        self.database = DatabaseTarget(
            self.target,
            self.config.database.image,
            accessory=self.env.database.kind == "accessory",
            backup_volume=self.env.database.backup_volume,
        )
        self.backups = Backups(
            self.database,
            self.executor,
            self.progress,
            self.environment,
            self.env.database.backup_retain,
        )

    # -- reading the host -------------------------------------------------------------

    def run(self, command: Command, *, check: bool = True, timeout: float = 120) -> str:
        return self.executor.run(command, check=check, timeout=timeout).stdout

    def read_state(self) -> HostState:
        """Containers, routing and history of the environment, as the host reports them."""
        ids = self.run(docker.list_containers(self.target)).split()
        containers = parse_inspect(self.run(docker.inspect_containers(ids))) if ids else []
        network = self.executor.run(docker.inspect_network(self.target), check=False).ok
        state = HostState(containers=tuple(containers), network=network)
        router = state.router
        if router is None or not router.running:
            return state
        routing = RoutingState.from_json(self.run(docker.read_file(self.target, docker.STATE_FILE)))
        history = parse_history(self.run(docker.read_file(self.target, docker.HISTORY_FILE)))
        return replace(state, routing=routing, history=tuple(history))

    # -- planning ---------------------------------------------------------------------

    def _router_text(self, routes: Routes) -> str:
        return router_config(
            self.target,
            routes,
            app_port=self.config.app.port,
            drain_seconds=_seconds(self.env.health.drain_timeout.total_seconds()),
        )

    def bootstrap_steps(self, state: HostState) -> list[Step]:
        """Network, state volume, router and proxy, for whatever is missing."""
        image = self.config.proxy.image
        drain = _seconds(self.env.health.drain_timeout.total_seconds())
        steps: list[Step] = []
        if not state.network:
            steps.append(Run(docker.create_network(self.target), "bootstrap"))
        steps += self.database_steps(state)
        if state.router is None:
            steps += [
                Run(docker.create_volume(self.target), "bootstrap"),
                *(
                    Run(docker.seed_file(self.target, image, path, text), "bootstrap")
                    for path, text in (
                        (docker.ROUTER_CONFIG, self._router_text(state.routing.routes())),
                        (docker.PROXY_CONFIG, proxy_config(self.target, drain_seconds=drain)),
                        (docker.STATE_FILE, state.routing.to_json()),
                    )
                ),
                Run(
                    docker.run_router(self.target, image, self.env.address, self.env.preview_port),
                    "bootstrap",
                ),
            ]
        elif not state.router.running:
            steps.append(Run(docker.start(self.target.router), "bootstrap"))
        if state.proxy is None:
            steps.append(
                Run(
                    docker.run_proxy(self.target, image, self.env.address, self.env.port),
                    "bootstrap",
                )
            )
        elif not state.proxy.running:
            steps.append(Run(docker.start(self.target.proxy), "bootstrap"))
        return steps

    def database_steps(self, state: HostState) -> list[Step]:
        """The accessory, when the environment has one and it is missing or stopped: its
        volumes, a password made once on the host, the container, then wait for it."""
        db = self.database
        if not db.accessory:
            return []
        existing = state.by_role("db")
        timeout = max(60.0, self.env.health.deploy_timeout.total_seconds())
        wait = Wait("database", db.container, timeout, "bootstrap")
        if existing is None:
            return [
                Run(database.create_volume(self.target, db.secrets_volume, "db-secrets"),
                    "bootstrap"),
                Run(database.create_volume(self.target, db.data_volume, "db-data"), "bootstrap"),
                Run(database.make_secrets(db), "bootstrap"),
                Run(database.run_database(db), "bootstrap"),
                wait,
            ]  # fmt: skip
        if not existing.running:
            return [Run(docker.start(db.container), "bootstrap"), wait]
        return []

    def route_steps(
        self, routes: Routes, phase: Phase, *, record: RoutingState | None = None
    ) -> list[Step]:
        """Point the router at `routes` (tested with `nginx -t`, then a graceful reload).
        A color that becomes live starts with an empty status log: the watch reads it.
        `record`, the routing state to keep on the host, is written in the same step."""
        fresh = status_log(routes.live) if routes.live and not routes.maintenance else None
        return [
            Run(
                docker.switch_routes(
                    self.target,
                    self._router_text(routes),
                    f"route {describe_routes(routes)}",
                    fresh_log=fresh,
                    state=None if record is None else record.to_json(),
                ),
                phase,
            )
        ]

    def _app_container(self, release: Release) -> docker.AppContainer:
        env = dict(self.env.env)
        volumes: tuple[str, ...] = ()
        if self.database.accessory:
            # The URL stays on the host: a file in a volume, the Docker secrets convention.
            env.setdefault("DATABASE_URL_FILE", database.URL_FILE)
            volumes = (f"{self.database.secrets_volume}:{database.SECRETS_DIR}:ro",)
        return docker.AppContainer(
            image=release.image,
            version=release.version,
            color=release.color,
            port=self.config.app.port,
            env=env,
            secrets=tuple(self.env.secrets),
            secret_files=tuple(self.env.secret_files),
            health_interval=_seconds(self.env.health.interval.total_seconds()),
            volumes=volumes,
        )

    def start_steps(self, state: HostState, release: Release, *, reuse: bool) -> list[Step]:
        """Put `release` in its color: reuse a kept container, or (re)create it."""
        name = self.target.container(release.color)
        existing = state.app(release.color)
        if reuse and existing is not None:
            return [Run(docker.start(name), "prepare")]
        steps: list[Step] = []
        if existing is not None:
            steps.append(Run(docker.remove(name), "prepare"))
        app = self._app_container(release)
        steps += [
            Run(command, "prepare")
            for command in docker.launch_app(
                self.target, app, pull_policy=self.env.pull, secret_files=self.secret_files
            )
        ]
        return steps

    def prove_and_switch_steps(self, state: HostState, release: Release) -> list[Step]:
        """Healthy, ready through the preview port, then the switch."""
        health = self.env.health
        timeout = health.deploy_timeout.total_seconds()
        preview_url = f"http://{preview_host(self.env)}:{self.env.preview_port}"
        routing = state.routing
        switched = RoutingState(live=release.color, maintenance=routing.maintenance)
        return [
            # The preview route may point at the new color before it is healthy: only the
            # deployer's checks use it. Setting it first takes it off the critical path.
            *self.route_steps(routing.routes(preview=release.color), "prove"),
            Wait("healthy", self.target.container(release.color), timeout, "prove"),
            Wait("ready", preview_url + health.ready_path, timeout, "prove"),
            *self.smoke_steps(preview_url),
            *self.route_steps(switched.routes(), "switch", record=switched),
        ]

    def smoke_steps(self, preview_url: str) -> list[Step]:
        """The smoke tests against the new color, through the preview route."""
        if not self.smoke:
            return []
        timeout = self.config.stages.smoke_timeout.total_seconds()
        return [Wait("smoke", preview_url, timeout, "prove")]

    def watch_steps(self, release: Release, old: ContainerInfo | None) -> list[Step]:
        """The watch window: the new color's error rate, with the old color still running
        to go back to. Nothing to watch for when nothing was live before."""
        if old is None or not old.running:
            return []
        return [Wait("watch", release.color, self.env.watch.window.total_seconds(), "watch")]

    def retire_steps(self, old: ContainerInfo | None) -> list[Step]:
        """Drain and stop the old color (kept for rollback)."""
        if old is None or not old.running:
            return []
        drain = self.env.health.drain_timeout.total_seconds()
        return [
            Wait("drained", old.name, drain, "retire"),
            Run(docker.stop(old.name, 10), "retire"),
        ]

    def migrate_steps(self, release: Release) -> list[Step]:
        """For the plan: list pending migrations, back up, migrate. A deploy runs the
        backup and the migration only when the new image brings pending revisions."""
        migrations = self.env.migrations
        if not migrations.command:
            return []
        app = self._app_container(release)
        steps: list[Step] = []
        if migrations.pending:
            steps += [Run(command, "migrate") for command in self._pending_commands(release)]
        backup = database.backup(self.database, "<time>-" + release.version, "{...}",
                                 self.env.database.backup_retain)  # fmt: skip
        steps += [
            Run(replace(backup, purpose=backup.purpose + " (if migrations are pending)"),
                "migrate"),
        ]  # fmt: skip
        steps += [Run(command, "migrate") for command in self._task(app, migrations.command)]
        return steps

    def _task(self, app: docker.AppContainer, command: Sequence[str]) -> list[Command]:
        """A one-off container of the release image, with its secret files copied in."""
        return docker.run_task(
            self.target, app, command, pull_policy=self.env.pull, secret_files=self.secret_files
        )

    def _pending_commands(self, release: Release) -> list[Command]:
        *setup, command = self._task(self._app_container(release), self.env.migrations.pending)
        purpose = f"list the migrations {release.version} would apply"
        return [*setup, replace(command, purpose=purpose)]

    def pending_migrations(self, release: Release) -> PendingReport | None:
        """What the new image would migrate (None: no `pending` command, cannot tell)."""
        if not self.env.migrations.pending:
            return None
        *setup, command = self._pending_commands(release)
        try:
            for step in setup:
                self.run(step, timeout=self._command_timeout())
            with self.progress.step("migrate", command.purpose):
                out = self.run(command, timeout=self._command_timeout())
            return parse_pending(out)
        except (CommandFailed, PendingUnreadable) as exc:
            missing = isinstance(exc, CommandFailed) and image_unavailable(exc.stderr)
            if missing:
                raise DeployFailed(
                    "image",
                    f"{release.image} is not on the host and could not be pulled: {missing}",
                    hint=f"nothing live changed; check the image reference, that it was "
                    f"published, and that the host reaches its registry (pull = {self.env.pull})",
                ) from exc
            raise DeployFailed(
                "migrate",
                f"could not list the pending migrations of {release.version}: {exc}",
                hint="nothing was changed; fix migrations.pending, or set it to [] to back up "
                "and migrate on every deploy",
            ) from exc

    def migrate(
        self, release: Release, previous: ContainerInfo | None, *, allow_destructive: bool,
        started: float, started_at: str,
    ) -> Backup | None:  # fmt: skip
        """Back up and migrate if the new image brings migrations (DESIGN invariant 7).
        A failure: nothing switched, the database unchanged (transactional) or restored
        from the backup just made; recorded in the history."""
        migrations = self.env.migrations
        if not migrations.command:
            return None
        try:
            report = self.pending_migrations(release)
        except DeployFailed as exc:
            self._append_history(
                self._record("deploy", release, "failed", started, started_at,
                             previous=previous, error=exc)
            )  # fmt: skip
            raise
        if report is not None and not report.pending:
            at = ", ".join(report.current) or "an empty schema"
            self.progress.say(
                f"migrate: {release.version} brings no new migration (database at {at}); "
                "no backup needed"
            )
            return None
        if report is not None:
            self.progress.say(
                f"migrate: {len(report.pending)} pending: "
                + ", ".join(m.revision + (f" ({m.description})" if m.description else "")
                            for m in report.pending)
            )  # fmt: skip
            self.check_destructive(report, allow_destructive=allow_destructive)
        else:
            self.progress.say("migrate: migrations.pending is []: backing up and migrating")
        try:
            backup = self.backups.create(release.version, f"before migrating to {release.version}")
        except DeployFailed as exc:
            self._append_history(
                self._record("deploy", release, "failed", started, started_at,
                             previous=previous, error=exc)
            )  # fmt: skip
            raise
        *setup, command = self._task(self._app_container(release), migrations.command)
        try:
            for step in setup:
                self.run(step, timeout=self._command_timeout())
            with self.progress.step("migrate", command.purpose, announce=True):
                self.run(command, timeout=self._command_timeout())
        except CommandFailed as exc:
            failure = self._migration_failed(exc, backup)
            self._append_history(
                self._record("deploy", release, "failed", started, started_at,
                             previous=previous, error=failure)
            )  # fmt: skip
            raise failure from exc
        return backup

    def _migration_failed(self, exc: CommandFailed, backup: Backup) -> DeployFailed:
        detail = (exc.stderr.strip() or exc.stdout.strip()).splitlines()
        # The command's own last line says what broke ("error: migration failed: ...").
        reason = detail[-1].removeprefix("error: ") if detail else f"the migration failed: {exc}"
        live = "nothing switched: the live color keeps serving"
        if self.env.migrations.transactional:
            return DeployFailed(
                "migrate",
                reason,
                hint=f"{live}; the migration ran in one transaction, so the database is "
                f"unchanged (backup {backup.name} was made before it)",
            )
        self.progress.say(f"migrate: not transactional: restoring {backup.name}")
        try:
            self.backups.restore(backup.name)
        except DeployFailed as restore_failed:
            return DeployFailed(
                "migrate",
                f"{reason}; and restoring {backup.name} failed: {restore_failed.reason}",
                hint=f"{live} on a partly migrated database: restore it with `gangway db "
                f"restore --env {self.environment} {backup.name}`",
            )
        return DeployFailed(
            "migrate",
            reason,
            hint=f"{live}; the database was restored from {backup.name}",
        )

    def check_destructive(self, report: PendingReport, *, allow_destructive: bool) -> None:
        """Refuse drops and renames in pending migrations unless allowed (expand/contract)."""
        findings = destructive_findings(report.pending)
        if not findings:
            return
        listed = "; ".join(finding.describe() for finding in findings)
        if allow_destructive:
            self.progress.say(f"migrate: warning: destructive, allowed: {listed}")
            return
        raise DeployFailed(
            "guard",
            f"pending migrations drop or rename what the live release uses: {listed}",
            hint=f"refused before anything changed: {EXPAND_CONTRACT}",
        )

    def deploy_steps(self, state: HostState, image: str, version: str) -> list[Step]:
        """Every step of a deploy of `image` against `state`, in order."""
        release = self.next_release(state, image, version)
        old = state.live
        return [
            *self.bootstrap_steps(state),
            *self.migrate_steps(release),
            *self.start_steps(state, release, reuse=False),
            *self.prove_and_switch_steps(state, release),
            *self.watch_steps(release, old),
            *self.retire_steps(old),
        ]

    def next_release(self, state: HostState, image: str, version: str) -> Release:
        live = state.routing.live
        return Release(image=image, version=version, color="blue" if live is None else other(live))

    # -- executing --------------------------------------------------------------------

    def execute(self, steps: Iterable[Step]) -> None:
        for step in steps:
            if isinstance(step, Run):
                with self.progress.step(step.phase, step.command.purpose):
                    self.run(step.command, timeout=self._command_timeout())
            else:
                with self.progress.step(step.phase, step.describe()[2:], announce=True):
                    self.wait(step)

    def _command_timeout(self) -> float:
        # `docker stop` waits for the app's own grace; image pulls can be slow.
        return max(120.0, self.env.health.deploy_timeout.total_seconds() + 60)

    def wait(self, step: Wait) -> None:
        if step.kind == "healthy":
            self.wait_healthy(step.subject, step.timeout)
        elif step.kind == "ready":
            self.wait_ready(step.subject, step.timeout)
        elif step.kind == "smoke":
            self.run_smoke(step.subject, step.timeout)
        elif step.kind == "watch":
            self.watch(step.subject, step.timeout)
        elif step.kind == "database":
            self.wait_database(step.timeout)
        else:
            self.wait_drained(step.subject, step.timeout)

    def wait_healthy(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        interval = min(0.5, self.env.health.interval.total_seconds())
        while True:
            report = json.loads(self.run(docker.container_state(name)))
            state = report["state"]
            health = (state.get("Health") or {}).get("Status")
            # With a restart policy a crashing release is rarely seen stopped: count restarts.
            if not state.get("Running") or state.get("Restarting") or report["restarts"]:
                raise HealthCheckFailed(
                    "start",
                    f"{name} crashed at start and was restarted {report['restarts']} time(s)"
                    if report["restarts"]
                    else f"{name} exited with code {state.get('ExitCode')} before it became "
                    "healthy",
                    hint="its last log lines are above; fix the release and deploy again",
                    logs=self._logs(name),
                )
            if health in (None, "healthy"):  # no HEALTHCHECK in the image: running is all
                return
            if health == "unhealthy" or time.monotonic() >= deadline:
                checks = (state.get("Health") or {}).get("Log") or [{}]
                last = str(checks[-1].get("Output", "")).strip().replace("\n", " ")[:200]
                raise HealthCheckFailed(
                    "health",
                    f"{name} did not become healthy within {timeout:g}s (Docker health: "
                    f"{health}" + (f"; last check: {last}" if last else "") + ")",
                    hint="read its logs above; raise health.deploy_timeout only if the app "
                    "is just slow to start",
                    logs=self._logs(name),
                )
            time.sleep(interval)

    def run_smoke(self, url: str, timeout: float) -> None:
        """Run the smoke command against `url`; a failure or a timeout backs out."""
        argv = [part.replace("{url}", url) for part in self.smoke]
        hint = "the new color answers but fails its smoke tests; nothing live changed"
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise DeployFailed(
                "smoke", f"smoke command not found: {argv[0]}", hint="check [stages] smoke"
            ) from None
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout if isinstance(exc.stdout, str) else ""
            raise DeployFailed(
                "smoke",
                f"smoke tests did not finish within {timeout:g}s",
                hint=hint,
                logs=_tail(output),
            ) from None
        if proc.returncode != 0:
            raise DeployFailed(
                "smoke",
                f"smoke tests failed against {url} (exit {proc.returncode})",
                hint=hint,
                logs=_tail(proc.stdout + proc.stderr),
            )

    def wait_database(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.executor.run(database.database_ready(self.database), check=False).ok:
            if time.monotonic() >= deadline:
                raise DeployFailed(
                    "database",
                    f"{self.database.container} did not accept connections within {timeout:g}s",
                    hint="its last log lines are above",
                    logs=self._logs(self.database.container),
                )
            time.sleep(0.5)

    def wait_ready(self, url: str, timeout: float) -> None:
        health = self.env.health
        probe = anyio.run(
            lambda: wait_until_ready(
                url,
                deadline=timeout,
                interval=health.interval.total_seconds(),
                request_timeout=health.timeout.total_seconds(),
            )
        )
        if not probe.ready:
            raise HealthCheckFailed(
                "ready",
                f"{url} did not answer 2xx within {timeout:g}s (last: {probe.detail}, "
                f"{probe.attempts} attempts)",
                hint="the app runs but says it cannot serve: check its /ready reasons and logs",
            )

    def watch(self, color: str, window: float) -> None:
        """Read the new color's error rate through the window; over the threshold (with
        enough requests to judge), fail at once so traffic goes back."""
        watch = self.env.watch
        shade: Color = "blue" if color == "blue" else "green"
        log = status_log(shade)
        deadline = time.monotonic() + window
        total = errors = 0
        while True:
            total, errors = count_statuses(self.run(docker.read_status_log(self.target, log)))
            if total >= watch.min_requests and errors / total > watch.max_error_rate:
                raise DeployFailed(
                    "watch",
                    f"{color} answered {errors} of {total} requests with 5xx "
                    f"({errors / total:.0%} > max_error_rate {watch.max_error_rate:.0%}); "
                    "traffic went back to the previous release",
                    hint="the release is stopped and kept: read its logs with "
                    f"`docker logs {self.target.container(shade)}`",
                )
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(0.5, left))
        judged = "judged" if total >= watch.min_requests else "too few to judge"
        self.progress.say(f"watch: {color} served {total} requests, {errors} 5xx ({judged})")

    def wait_drained(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = self.executor.run(docker.open_connections(name), check=False)
            if not result.ok:
                return  # the container is gone or has no /proc: nothing left to drain
            in_flight = count_in_flight(result.stdout, self.config.app.port)
            if in_flight == 0:
                return
            if time.monotonic() >= deadline:
                self.progress.say(
                    f"retire: {in_flight} request(s) still in flight on {name} after "
                    f"{timeout:g}s; stopping it anyway"
                )
                return
            time.sleep(0.2)

    def _logs(self, name: str) -> str:
        result = self.executor.run(docker.logs(name), check=False)
        return (result.stdout + result.stderr).strip()

    # -- lock ---------------------------------------------------------------------------

    @contextmanager
    def locked(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the environment's deploy lock for the block (with its progress line)."""
        with self.progress.step("lock", f"take the {self.environment} deploy lock"):
            self.acquire_lock(wait)
        try:
            yield
        finally:
            self.release_lock()

    def acquire_lock(self, wait: float = 0.0) -> None:
        """Take the environment's lock, waiting up to `wait` s; take over a stale one."""
        deadline = time.monotonic() + wait
        token = f"{self.who}@{self.host}:{os.getpid()}:{time.time_ns()}"
        announced = False
        while True:
            command = docker.create_lock(
                self.target, self.config.proxy.image, token, self.host, _now()
            )
            result = self.executor.run(command, check=False)
            if result.ok:
                self._lock_token = token
                return
            if "already in use" not in result.stderr and "Conflict" not in result.stderr:
                raise CommandFailed(command.argv, result.returncode, result.stdout, result.stderr)
            lock = self.lock_info()
            if lock is None:
                continue  # released between our create and our look
            stale = self._stale(lock)
            if stale:
                self.progress.say(
                    f"lock: warning: taking over the lock of {lock.label('holder')} "
                    f"(since {lock.label('since')}): {stale}"
                )
                self.run(docker.remove(self.target.lock), check=False)
                continue
            if time.monotonic() >= deadline:
                raise LockHeld(self.environment, lock.label("holder"), lock.label("since"))
            if not announced:
                self.progress.say(f"lock: waiting for {lock.label('holder')}")
                announced = True
            time.sleep(1.0)

    def _stale(self, lock: ContainerInfo) -> str:
        """Why a lock's holder is gone ("" while it may be alive)."""
        age = _age(lock.label("since"))
        if age is not None and age > self.env.lock_timeout.total_seconds():
            return "older than lock_timeout"
        # A holder on this very machine can be checked directly: a killed deployer
        # must not block the next deploy for a whole lock_timeout.
        if lock.label("host") == self.host:
            pid = _holder_pid(lock.label("holder"))
            if pid is not None and not _pid_alive(pid):
                return f"its process {pid} on this host is gone"
        return ""

    def lock_info(self) -> ContainerInfo | None:
        result = self.executor.run(docker.inspect_containers([self.target.lock]), check=False)
        found = parse_inspect(result.stdout) if result.ok else []
        return found[0] if found else None

    def release_lock(self, *, force: bool = False) -> bool:
        """Remove the lock if we hold it (or always, with force); True if one was removed."""
        lock = self.lock_info()
        if lock is None:
            return False
        if not force and lock.label("holder") != self._lock_token:
            return False
        self.run(docker.remove(self.target.lock), check=False)
        self._lock_token = ""
        return True

    # -- the commands ------------------------------------------------------------------

    def deploy(
        self,
        image: str,
        version: str | None = None,
        *,
        lock_wait: float = 0.0,
        allow_destructive: bool = False,
    ) -> ReleaseRecord:
        """Deploy `image` blue-green; return the history record (raises DeployFailed)."""
        version = version or version_of(image)
        started = time.monotonic()
        started_at = _now()
        with self.progress.step("lock", f"take the {self.environment} deploy lock"):
            self.acquire_lock(lock_wait)
        try:
            self.on_start()
            state = self.read_state()
            bootstrap = self.bootstrap_steps(state)
            if bootstrap:
                self.execute(bootstrap)
                state = self.read_state()
            release = self.next_release(state, image, version)
            old = state.live
            self.progress.say(
                f"deploy: {version} -> {release.color}"
                + (f" (live: {old.color} {old.version})" if old else " (first release)")
            )
            self.migrate(release, old, allow_destructive=allow_destructive,
                         started=started, started_at=started_at)  # fmt: skip
            steps = [
                *self.start_steps(state, release, reuse=False),
                *self.prove_and_switch_steps(state, release),
            ]
            try:
                self._switch_or_back_out("deploy", state, release, steps, started, started_at)
            except CommandFailed as exc:
                raise DeployFailed(
                    "deploy",
                    str(exc),
                    hint="nothing live changed; fix the cause and deploy again",
                ) from exc
            self.progress.say(f"switch: {release.color} ({version}) is live")
            try:
                self.execute(self.watch_steps(release, old))
            except DeployFailed as exc:
                self._switch_back(state, release)
                record = self._record(
                    "deploy", release, "rolled_back", started, started_at, previous=old, error=exc
                )
                self._append_history(record)
                raise
            try:
                self.execute(self.retire_steps(old))
                self.prune(self.read_state(), release)
            except (DeployFailed, CommandFailed) as exc:
                self.progress.say(f"retire: warning: {exc} (the new release is live)")
            record = self._record("deploy", release, "succeeded", started, started_at, previous=old)
            self._append_history(record)
            return record
        finally:
            self.release_lock()

    def _switch_or_back_out(
        self,
        action: Literal["deploy", "rollback"],
        state: HostState,
        release: Release,
        steps: Sequence[Step],
        started: float,
        started_at: str,
    ) -> None:
        """Run the steps up to and including the switch; if one fails, nothing live has
        changed: back out, record the failure, and let the error through."""
        try:
            self.execute(steps)
        except (DeployFailed, CommandFailed) as exc:
            self._back_out(state, release)
            record = self._record(
                action, release, "failed", started, started_at, previous=state.live, error=exc
            )
            self._append_history(record)
            raise

    def _switch_back(self, state: HostState, release: Release) -> None:
        """The watch failed: traffic back to the old color (it never stopped), the new
        one stopped and kept for a look at its logs."""
        self.progress.say(f"watch: going back to {state.routing.live} at once")
        self.execute(self.route_steps(state.routing.routes(), "watch", record=state.routing))
        self.executor.run(docker.stop(self.target.container(release.color), 5), check=False)

    def _back_out(self, state: HostState, release: Release) -> None:
        """After a failure before the switch: stop the new color, clear the preview."""
        name = self.target.container(release.color)
        self.progress.say(f"back out: live stays on {state.routing.live or 'nothing'}")
        self.executor.run(docker.stop(name, 5), check=False)
        try:
            self.execute(self.route_steps(state.routing.routes(), "prove"))
        except (CommandFailed, DeployFailed) as exc:
            self.progress.say(f"back out: could not clear the preview route: {exc}")

    def _record(
        self,
        action: Literal["deploy", "rollback"],
        release: Release,
        outcome: Literal["succeeded", "failed", "rolled_back"],
        started: float,
        started_at: str,
        *,
        previous: ContainerInfo | None,
        error: Exception | None = None,
    ) -> ReleaseRecord:
        return ReleaseRecord(
            action=action,
            version=release.version,
            image=release.image,
            image_id=self._image_id(release.image),
            color=release.color,
            outcome=outcome,
            who=self.who,
            host=self.host,
            started_at=started_at,
            duration_s=round(time.monotonic() - started, 3),
            previous_version=previous.version if previous else "",
            step=error.step
            if isinstance(error, DeployFailed)
            else ("" if error is None else "docker"),
            reason="" if error is None else redact(str(error).splitlines()[0]),
        )

    def _image_id(self, image: str) -> str:
        result = self.executor.run(docker.inspect_image(image), check=False)
        if not result.ok:
            return ""
        data = json.loads(result.stdout)
        return str(data[0].get("Id", "")) if data else ""

    def _append_history(self, record: ReleaseRecord) -> None:
        self.last_record = record
        try:
            self.run(
                docker.write_file(
                    self.target, docker.HISTORY_FILE, record.to_json() + "\n", append=True
                )
            )
        except CommandFailed as exc:
            self.progress.say(f"history: warning: could not record the release: {exc}")

    def prune(self, state: HostState, live: Release) -> None:
        """Remove images of releases older than the `retain` most recent ones."""
        keep: list[str] = [live.image]
        for record in reversed(state.history):
            if record.outcome == "succeeded" and record.image not in keep:
                keep.append(record.image)
        in_use = {c.image for c in state.containers if c.role == "app"}
        for image in keep[self.env.retain :]:
            if image in in_use:
                continue
            result = self.executor.run(docker.remove_image(image), check=False)
            if result.ok:
                self.progress.say(f"retire: pruned {image} (beyond retain={self.env.retain})")

    def rollback(self, to: str | None = None, *, lock_wait: float = 0.0) -> ReleaseRecord:
        """Go back to the previous (or the named) release, with the same gating."""
        started = time.monotonic()
        started_at = _now()
        with self.progress.step("lock", f"take the {self.environment} deploy lock"):
            self.acquire_lock(lock_wait)
        try:
            self.on_start()
            state = self.read_state()
            live = state.live
            if live is None:
                raise DeployFailed(
                    "rollback",
                    "nothing is live in this environment yet",
                    hint=f"deploy a release first: gangway deploy --env "
                    f"{self.environment} --image IMAGE",
                )
            target = self.rollback_target(state, to)
            idle = other(live.color) if live.color else "blue"
            kept = state.app(idle)
            reuse = (
                kept is not None and kept.version == target.version and kept.image == target.image
            )
            release = Release(image=target.image, version=target.version, color=idle)
            if not reuse and not self._image_id(target.image):
                raise DeployFailed(
                    "rollback",
                    f"release {target.version} has neither a kept container nor its image "
                    f"({target.image}) on the host",
                    hint=f"available: {', '.join(self.available_versions(state)) or 'none'}",
                )
            self.progress.say(
                f"rollback: {live.version} ({live.color}) -> {target.version} ({idle})"
                + (" from its kept container" if reuse else " recreated from its image")
            )
            steps = [
                *self.start_steps(state, release, reuse=reuse),
                *self.prove_and_switch_steps(state, release),
            ]
            try:
                self._switch_or_back_out("rollback", state, release, steps, started, started_at)
            except (DeployFailed, CommandFailed) as exc:
                raise DeployFailed(
                    "rollback", str(exc).splitlines()[0], hint=f"{live.version} is still live"
                ) from exc
            self.progress.say(f"switch: {idle} ({target.version}) is live")
            self.execute(self.retire_steps(live))
            record = self._record(
                "rollback", release, "succeeded", started, started_at, previous=live
            )
            self._append_history(record)
            return record
        finally:
            self.release_lock()

    def rollback_target(self, state: HostState, to: str | None) -> ReleaseRecord:
        live = state.live
        assert live is not None
        candidates = [r for r in reversed(state.history) if r.outcome == "succeeded"]
        if to is not None and to == live.version:
            raise DeployFailed("rollback", f"{to} is already live", hint="nothing to do")
        if to is not None:
            for record in candidates:
                if record.version == to:
                    return record
            raise DeployFailed(
                "rollback",
                f"no successful release {to!r} in this environment's history",
                hint=f"available: {', '.join(self.available_versions(state)) or 'none'}",
            )
        for record in candidates:
            if record.version != live.version:
                return record
        raise DeployFailed(
            "rollback",
            "there is no earlier successful release to go back to",
            hint="deploy the release you want instead",
        )

    def available_versions(self, state: HostState) -> list[str]:
        """Versions rollback can reach: a kept container or an image on the host."""
        live = state.live
        seen: list[str] = []
        for record in reversed(state.history):
            if record.outcome != "succeeded" or record.version in seen:
                continue
            if live is not None and record.version == live.version:
                continue
            kept = any(c.version == record.version for c in state.containers if c.role == "app")
            if kept or self._image_id(record.image):
                seen.append(record.version)
        return seen

    # -- status and maintenance ----------------------------------------------------------

    def status(self) -> dict[str, object]:
        state = self.read_state()
        live = state.live
        lock = state.lock
        return {
            "environment": self.environment,
            "url": self.env.effective_url,
            "bootstrapped": state.bootstrapped,
            "maintenance": state.routing.maintenance,
            "live": None
            if live is None
            else {
                "color": live.color,
                "version": live.version,
                "image": live.image,
                "image_id": live.image_id,
                "running": live.running,
                "health": live.health,
            },
            "containers": [
                {
                    "name": c.name,
                    "role": c.role,
                    "color": c.color,
                    "version": c.version,
                    "status": c.status,
                    "health": c.health,
                }
                for c in state.containers
                if c.role == "app"
            ],
            "lock": None
            if lock is None
            else {
                "holder": lock.label("holder"),
                "host": lock.label("host"),
                "since": lock.label("since"),
            },
            "history": [record.__dict__ for record in state.history[-10:]],
            "database": self._database_status(state),
        }

    def _database_status(self, state: HostState) -> dict[str, object]:
        accessory = state.by_role("db")
        return {
            "kind": self.env.database.kind,
            "container": accessory.name if accessory else None,
            "running": accessory.running if accessory else None,
            "backup_volume": self.database.backups,
        }

    def maintenance(self, on: bool) -> None:
        with self.locked():
            state = self.read_state()
            self.execute(self.bootstrap_steps(state))
            routing = RoutingState(live=state.routing.live, maintenance=on)
            self.execute(self.route_steps(routing.routes(), "switch", record=routing))


def describe_routes(routes: Routes) -> str:
    """`live=blue preview=green`, `maintenance`, for progress lines and plans."""
    live = "maintenance" if routes.maintenance else f"live={routes.live or 'none'}"
    return f"{live} preview={routes.preview or 'none'}"


# What docker says when an image is neither on the host nor pullable from its registry.
_IMAGE_UNAVAILABLE = (
    "Unable to find image",
    "pull access denied",
    "manifest unknown",
    "No such image",
    "not found: manifest",
    "connection refused",
    "no such host",
    "i/o timeout",
)


def image_unavailable(stderr: str) -> str:
    """docker's line saying an image could not be found or pulled ("" if it says not)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not any(sign in line for line in lines for sign in _IMAGE_UNAVAILABLE):
        return ""
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines)[-1].removeprefix("docker: ")


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def plan_lines(steps: Sequence[Step]) -> list[str]:
    """The steps as a printable plan: commands as shell lines, waits as comments."""
    lines: list[str] = []
    phase = ""
    for step in steps:
        if step.phase != phase:
            phase = step.phase
            lines.append(f"# --- {phase}")
        lines.append(step.describe())
    return lines


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


_WILDCARD = frozenset({"0.0.0.0", "::"})  # noqa: S104 - recognising the bind-all address
_LOOPBACK = frozenset({"127.0.0.1", "::1"})


def preview_host(env: EnvironmentConfig) -> str:
    """Where the deployer reaches the preview port: the bind address, or for a loopback
    or wildcard bind on a remote engine, that engine's host."""
    address = env.address
    if address in _WILDCARD | _LOOPBACK and env.docker_host.startswith(("ssh://", "tcp://")):
        host = urlsplit(env.docker_host).hostname
        if host and host != "localhost":
            return f"[{host}]" if ":" in host else host
    if address in _WILDCARD:
        return "127.0.0.1"
    return f"[{address}]" if ":" in address else address


def _holder_pid(holder: str) -> int | None:
    """The pid in a lock token `who@host:pid:nanos`."""
    parts = holder.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _age(since: str) -> float | None:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()
    except ValueError:
        return None
