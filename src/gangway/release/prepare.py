"""The prepare phase of a plan, and what every phase shares: the environment's names,
its images, the new color's container, its migrations and its drain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gangway.commands import database, docker
from gangway.commands.database import DatabaseTarget
from gangway.commands.docker import Color, Command, Target
from gangway.commands.nginx import Routes, proxy_config, router_config, status_log
from gangway.config import EnvironmentConfig, PipelineConfig
from gangway.errors import FailedStep
from gangway.release.backups import backup_commands
from gangway.release.images import RELEASE_IMAGE
from gangway.release.plan import Check, Phase, Release, Run, Step, Wait
from gangway.release.preview import preview_host
from gangway.release.state import (
    HostState,
)

#: How long a color taken back out after a failure (the watch's included) is drained.
SWITCH_BACK_DRAIN = 10.0
#: A drained color has had nothing open and nothing sent for this long (s).
DRAIN_QUIET = 1.0
#: The pace of polls that read the host (Docker health, the watch's status log).
POLL_INTERVAL = 0.5
#: Liveness checks failing in a row in the watch before traffic goes back (Docker's
#: HEALTHCHECK default of retries): one lost probe is not a dead release.
LIVENESS_FAILURES = 3


def whole_seconds(value: float) -> int:
    return max(1, round(value))


@dataclass(frozen=True)
class PlanParts:
    """The environment a plan is for, and the steps of its prepare phase; pure, like
    every method of the planner."""

    config: PipelineConfig
    environment: str
    # Run on the deployer's machine against the preview URL (`{url}`) before the switch.
    smoke: tuple[str, ...] = ()
    # Values of the environment's `secret_files`, copied into release containers.
    secret_files: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def env(self) -> EnvironmentConfig:
        return self.config.environment(self.environment)

    @property
    def target(self) -> Target:
        return Target(self.config.app.name, self.environment)

    @property
    def database(self) -> DatabaseTarget:
        return DatabaseTarget(
            self.target,
            self.config.database.image,
            accessory=self.env.database.kind == "accessory",
            backup_volume=self.env.database.backup_volume,
            pull_policy=self.env.pull,
        )

    @property
    def preview_url(self) -> str:
        return f"http://{preview_host(self.env)}:{self.env.preview_port}"

    @property
    def liveness_url(self) -> str:
        """health.path through the preview route ("" when the image's HEALTHCHECK alone
        counts)."""
        path = self.env.health.path
        return self.preview_url + path if path else ""

    def images(self, release: Release | None) -> dict[str, str]:
        """The images a plan runs, by the key that names them."""
        found = {"proxy.image": self.config.proxy.image}
        if self.database.accessory or self.env.migrations.command:
            found["database.image"] = self.database.image
        if release is not None:
            found[RELEASE_IMAGE] = release.image
        return found

    # -- prepare -------------------------------------------------------------------------

    def _router_text(self, routes: Routes) -> str:
        return router_config(
            self.target,
            routes,
            app_port=self.config.app.port,
            drain_seconds=whole_seconds(self.env.health.drain_timeout.total_seconds()),
        )

    def bootstrap_steps(self, state: HostState) -> list[Step]:
        """Network, database, state volume, router and proxy, for whatever is missing."""
        image = self.config.proxy.image
        pull = self.env.pull
        drain = whole_seconds(self.env.health.drain_timeout.total_seconds())
        target = self.target
        steps: list[Step] = []
        if not state.network:
            steps.append(prepare_step(docker.create_network(target), "bootstrap"))
        steps += self.database_steps(state)
        if state.router is None:
            seeds = (
                (docker.ROUTER_CONFIG, self._router_text(state.routing.routes())),
                (docker.PROXY_CONFIG, proxy_config(target, drain_seconds=drain)),
                (docker.STATE_FILE, state.routing.to_json()),
            )
            steps += [
                prepare_step(docker.create_volume(target), "bootstrap"),
                *(
                    prepare_step(
                        docker.seed_file(target, image, p, t, pull_policy=pull), "bootstrap"
                    )
                    for p, t in seeds
                ),
                prepare_step(
                    docker.run_router(
                        target, image, self.env.address, self.env.preview_port, pull_policy=pull
                    ),
                    "bootstrap",
                ),
            ]
        elif not state.router.running:
            steps.append(prepare_step(docker.start(target.router), "bootstrap"))
        if state.proxy is None:
            run_proxy = docker.run_proxy(
                target, image, self.env.address, self.env.port, pull_policy=pull
            )
            steps.append(prepare_step(run_proxy, "bootstrap"))
        elif not state.proxy.running:
            steps.append(prepare_step(docker.start(target.proxy), "bootstrap"))
        return steps

    def database_steps(self, state: HostState) -> list[Step]:
        """The accessory, when the environment has one and it is missing or stopped: its
        volumes, a password made once on the host, the container, then wait for it."""
        db = self.database
        if not db.accessory:
            return []
        existing = state.by_role("db")
        wait = Wait(
            "database",
            db.container,
            "prepare",
            "database",
            timeout=max(60.0, self.env.health.deploy_timeout.total_seconds()),
            interval=POLL_INTERVAL,
            probe=database.database_ready(db),
            diagnose=docker.logs(db.container),
        )
        if existing is None:
            return [
                prepare_step(database.create_volume(self.target, db.secrets_volume, "db-secrets"),
                     "database"),
                prepare_step(database.create_volume(self.target, db.data_volume, "db-data"),
                     "database"),
                prepare_step(database.make_secrets(db), "database"),
                prepare_step(database.run_database(db), "database"),
                wait,
            ]  # fmt: skip
        if not existing.running:
            return [prepare_step(docker.start(db.container), "database"), wait]
        return []

    def app_container(self, release: Release) -> docker.AppContainer:
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
            health_interval=whole_seconds(self.env.health.interval.total_seconds()),
            volumes=volumes,
        )

    def task_commands(self, release: Release, command: Sequence[str]) -> list[Command]:
        """A one-off container of the release image, with its secret files copied in."""
        return docker.run_task(
            self.target,
            self.app_container(release),
            command,
            pull_policy=self.env.pull,
            secret_files=self.secret_files,
        )

    def migrate_steps(self, release: Release, *, allow_destructive: bool = False) -> list[Step]:
        """Back up and migrate when the new image brings migrations (DESIGN invariant 7):
        with `migrations.pending`, only if it lists some, after the destructive guard."""
        migrations = self.env.migrations
        if not migrations.command:
            return []
        backup = backup_commands(
            self.database,
            self.environment,
            release.version,
            f"before migrating to {release.version}",
            self.env.database.backup_retain,
        )
        migrate = [
            prepare_step(command, "migrate")
            for command in self.task_commands(release, migrations.command)
        ]
        then: list[Step] = [*(prepare_step(command, "backup") for command in backup), *migrate]
        if not migrations.pending:
            return then
        *setup, listing = self.task_commands(release, migrations.pending)
        listing = replace(listing, purpose=f"list the migrations {release.version} would apply")
        guard = Check("destructive_guard", "prepare", "guard", allow=allow_destructive)
        return [
            Check(
                "pending_migrations",
                "prepare",
                "migrate",
                commands=(*setup, listing),
                then=(guard, *then),
            )
        ]

    def start_steps(self, state: HostState, release: Release, *, reuse: bool) -> list[Step]:
        """Put `release` in its color: reuse a kept container, or (re)create it. A failure
        later on stops it again (its logs stay readable)."""
        name = self.target.container(release.color)
        existing = state.app(release.color)
        # Taken back out after a failure: drained first (after a switch-back it has served
        # users; requests still on it finish), bounded by a shorter timeout, then stopped.
        grace = min(self.env.health.drain_timeout.total_seconds(), SWITCH_BACK_DRAIN)
        undo = (
            self.drain_wait(name, release.color, timeout=grace, phase="prepare", step="start"),
            Run(docker.stop(name, whole_seconds(grace)), "prepare", "start", check=False),
        )
        if reuse and existing is not None:
            return [prepare_step(docker.start(name), "start", undo=undo)]
        steps: list[Step] = []
        if existing is not None:
            steps.append(prepare_step(docker.remove(name), "start"))
        commands = docker.launch_app(
            self.target,
            self.app_container(release),
            pull_policy=self.env.pull,
            secret_files=self.secret_files,
        )
        steps.append(prepare_step(commands[0], "start", undo=undo))
        steps += [prepare_step(command, "start") for command in commands[1:]]
        return steps

    def drain_wait(
        self, name: str, color: Color, *, timeout: float, phase: Phase, step: FailedStep
    ) -> Wait:
        """Until the router has nothing open to `name` and has sent it nothing for a quiet
        while (DESIGN invariant 4), read from the router, bounded by `timeout`."""
        return Wait(
            "drained",
            name,
            phase,
            step,
            timeout=timeout,
            interval=0.2,
            setup=docker.addresses(name),
            probe=docker.router_traffic(self.target, status_log(color)),
            thresholds={"port": self.config.app.port, "quiet_s": DRAIN_QUIET},
        )


def prepare_step(
    command: Command,
    step: FailedStep,
    *,
    phase: Phase = "prepare",
    undo: tuple[Run | Wait, ...] = (),
) -> Run:
    """A prepare-phase command (most of them are) failing as `step`."""
    return Run(command, phase, step, undo=undo, undo_key="new_color" if undo else None)
