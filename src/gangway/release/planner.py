"""The blue-green planner: (config, host state, release) -> the plan, with no I/O.

A deploy, in order (DESIGN.md, "Blue-green protocol"):

    prepare  bootstrap (network, database accessory, state volume, router, proxy: what
             is missing) -> check the pending migrations (none: skip) -> destructive
             guard -> backup -> migrate -> the new color's container
    prove    preview route to it -> Docker health -> liveness (health.path) and /ready
             through the preview route -> smoke tests
    switch   router config, nginx -t and graceful reload in one exec (the preview route
             left on the new color while a watch probes its liveness there)
    watch    the new color's 5xx share and liveness, the old color still running
    retire   drain the old color -> stop it (kept for rollback) -> prune images beyond
             `retain` that gangway pulled (all of them with `prune = "all"`)
    finally  the image id and the history record

The lock is taken before the host is read and released after the plan ends; it is not
a step of the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gangway.commands import database, docker
from gangway.commands.database import DatabaseTarget
from gangway.commands.docker import Color, Command, Target, other
from gangway.commands.nginx import Routes, proxy_config, router_config, status_log
from gangway.config import EnvironmentConfig, PipelineConfig
from gangway.errors import FailedStep
from gangway.release.backups import backup_commands
from gangway.release.images import RELEASE_IMAGE, image_notes, prunable
from gangway.release.plan import Check, Phase, Plan, Record, Release, Run, Step, Wait
from gangway.release.preview import describe_routes, preview_host
from gangway.release.state import (
    ContainerInfo,
    HostState,
    ImageInfo,
    ReleaseRecord,
    RoutingState,
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


def _seconds(value: float) -> int:
    return max(1, round(value))


@dataclass(frozen=True)
class Planner:
    """Plans for one environment of one app; every method is a pure function of its
    arguments and of the configuration."""

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

    # -- the whole plans ---------------------------------------------------------------

    def deploy(
        self,
        state: HostState,
        image: str,
        version: str,
        *,
        allow_destructive: bool = False,
        reads: Sequence[Command] = (),
        image_info: ImageInfo | None = None,
    ) -> Plan:
        """Every step of a deploy of `image` against `state`, in order. `image_info`: the
        image as the host has it now (None: not read; taken as already there)."""
        release = self.next_release(state, image, version)
        old = state.live
        bootstrap = self.bootstrap_steps(state)
        pulls = image_info is not None and not image_info.present
        if _router_stopped(state):
            later = self._replan_later("deploy", state, release, bootstrap, reads)
            return replace(later, pulls_image=pulls)
        steps = [
            *bootstrap,
            *self.migrate_steps(release, allow_destructive=allow_destructive),
            *self.start_steps(state, release, reuse=False),
            *self.prove_and_switch_steps(state, release, watched=_watched(old)),
            *self.watch_steps(release, old),
            *self.retire_steps(old),
            *self.prune_steps(state, release, pulled=pulls),
        ]
        migrations = self.env.migrations
        always = bool(migrations.command) and not migrations.pending
        return Plan(
            action="deploy",
            environment=self.environment,
            release=release,
            previous=_describe(old),
            steps=tuple(steps),
            finish=self.finish_steps(release),
            reads=tuple(reads),
            notes=(
                *(
                    ("migrations.pending is []: backing up and migrating on every deploy",)
                    if always
                    else ()
                ),
                *image_notes(image_info, pull=self.env.pull, liveness_url=self.liveness_url),
            ),
            images=self.images(release),
            pulls_image=pulls,
        )

    def rollback(
        self,
        state: HostState,
        target: ReleaseRecord,
        *,
        reuse: bool,
        reads: Sequence[Command] = (),
    ) -> Plan:
        """Back to `target`: its kept container (reuse) or a new one from its image,
        proven like a deploy, then the live color retired."""
        live = state.live
        assert live is not None  # the deployer says so before it plans
        release = Release(image=target.image, version=target.version, color=other_of(live))
        steps = [
            *self.start_steps(state, release, reuse=reuse),
            *self.prove_and_switch_steps(state, release, watched=False),
            *self.retire_steps(live),
        ]
        return Plan(
            action="rollback",
            environment=self.environment,
            release=release,
            previous=_describe(live),
            steps=tuple(steps),
            finish=self.finish_steps(release),
            reads=tuple(reads),
            images=self.images(release),
        )

    def maintenance(self, state: HostState, on: bool, *, reads: Sequence[Command] = ()) -> Plan:
        """Serve the 503 page (on) or the live release again (off)."""
        routing = RoutingState(live=state.routing.live, maintenance=on)
        bootstrap = self.bootstrap_steps(state)
        steps = [*bootstrap, *self.route_steps(routing.routes(), "switch", record=routing)]
        return Plan(
            action="maintenance",
            environment=self.environment,
            release=None,
            previous=_describe(state.live),
            steps=tuple(bootstrap if _router_stopped(state) else steps),
            reads=tuple(reads),
            replan_after_bootstrap=_router_stopped(state),
            images=self.images(None),
        )

    def _replan_later(
        self,
        action: str,
        state: HostState,
        release: Release,
        bootstrap: list[Step],
        reads: Sequence[Command],
    ) -> Plan:
        return Plan(
            action="deploy",
            environment=self.environment,
            release=release,
            previous=_describe(state.live),
            steps=tuple(bootstrap),
            reads=tuple(reads),
            notes=(f"the router is stopped: its routes are read once it runs ({action})",),
            replan_after_bootstrap=True,
            images=self.images(release),
        )

    def next_release(self, state: HostState, image: str, version: str) -> Release:
        live = state.routing.live
        return Release(image=image, version=version, color="blue" if live is None else other(live))

    # -- prepare -------------------------------------------------------------------------

    def _router_text(self, routes: Routes) -> str:
        return router_config(
            self.target,
            routes,
            app_port=self.config.app.port,
            drain_seconds=_seconds(self.env.health.drain_timeout.total_seconds()),
        )

    def bootstrap_steps(self, state: HostState) -> list[Step]:
        """Network, database, state volume, router and proxy, for whatever is missing."""
        image = self.config.proxy.image
        pull = self.env.pull
        drain = _seconds(self.env.health.drain_timeout.total_seconds())
        target = self.target
        steps: list[Step] = []
        if not state.network:
            steps.append(_run(docker.create_network(target), "bootstrap"))
        steps += self.database_steps(state)
        if state.router is None:
            seeds = (
                (docker.ROUTER_CONFIG, self._router_text(state.routing.routes())),
                (docker.PROXY_CONFIG, proxy_config(target, drain_seconds=drain)),
                (docker.STATE_FILE, state.routing.to_json()),
            )
            steps += [
                _run(docker.create_volume(target), "bootstrap"),
                *(
                    _run(docker.seed_file(target, image, p, t, pull_policy=pull), "bootstrap")
                    for p, t in seeds
                ),
                _run(
                    docker.run_router(
                        target, image, self.env.address, self.env.preview_port, pull_policy=pull
                    ),
                    "bootstrap",
                ),
            ]
        elif not state.router.running:
            steps.append(_run(docker.start(target.router), "bootstrap"))
        if state.proxy is None:
            run_proxy = docker.run_proxy(
                target, image, self.env.address, self.env.port, pull_policy=pull
            )
            steps.append(_run(run_proxy, "bootstrap"))
        elif not state.proxy.running:
            steps.append(_run(docker.start(target.proxy), "bootstrap"))
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
                _run(database.create_volume(self.target, db.secrets_volume, "db-secrets"),
                     "database"),
                _run(database.create_volume(self.target, db.data_volume, "db-data"),
                     "database"),
                _run(database.make_secrets(db), "database"),
                _run(database.run_database(db), "database"),
                wait,
            ]  # fmt: skip
        if not existing.running:
            return [_run(docker.start(db.container), "database"), wait]
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
            health_interval=_seconds(self.env.health.interval.total_seconds()),
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
            _run(command, "migrate") for command in self.task_commands(release, migrations.command)
        ]
        then: list[Step] = [*(_run(command, "backup") for command in backup), *migrate]
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
            Run(docker.stop(name, _seconds(grace)), "prepare", "start", check=False),
        )
        if reuse and existing is not None:
            return [_run(docker.start(name), "start", undo=undo)]
        steps: list[Step] = []
        if existing is not None:
            steps.append(_run(docker.remove(name), "start"))
        commands = docker.launch_app(
            self.target,
            self.app_container(release),
            pull_policy=self.env.pull,
            secret_files=self.secret_files,
        )
        steps.append(_run(commands[0], "start", undo=undo))
        steps += [_run(command, "start") for command in commands[1:]]
        return steps

    # -- prove and switch ----------------------------------------------------------------

    def route_steps(
        self,
        routes: Routes,
        phase: Phase,
        *,
        record: RoutingState | None = None,
        undo: Run | None = None,
    ) -> list[Step]:
        """Point the router at `routes` (tested with `nginx -t`, then a graceful reload).
        A color that becomes live starts with an empty status log: the watch reads it.
        `record`, the routing state to keep on the host, is written in the same step."""
        fresh = status_log(routes.live) if routes.live and not routes.maintenance else None
        command = docker.switch_routes(
            self.target,
            self._router_text(routes),
            f"route {describe_routes(routes)}",
            fresh_log=fresh,
            state=None if record is None else record.to_json(),
        )
        step: FailedStep = "switch" if phase == "switch" else "ready"
        undone: tuple[Run, ...] = () if undo is None else (undo,)
        return [Run(command, phase, step, undo=undone, undo_key="routes" if undo else None)]

    def routes_back(self, state: HostState, *, record: bool) -> Run:
        """The routes as they were before the plan (what an undo puts back)."""
        routing = state.routing
        [back] = self.route_steps(routing.routes(), "prove", record=routing if record else None)
        assert isinstance(back, Run)
        return replace(back, check=False)

    def prove_and_switch_steps(
        self, state: HostState, release: Release, *, watched: bool
    ) -> list[Step]:
        """Healthy, alive and ready through the preview port, smoke tests, then the switch.
        `watched`: a watch follows, and it probes liveness through the preview route, so
        the switch leaves that route on the new color (the next write of the routes,
        a deploy, a rollback, a switch-back or maintenance, puts it elsewhere)."""
        health = self.env.health
        timeout = health.deploy_timeout.total_seconds()
        name = self.target.container(release.color)
        routing = state.routing
        switched = RoutingState(live=release.color, maintenance=routing.maintenance)
        interval = health.interval.total_seconds()
        request_timeout = {"request_timeout_s": health.timeout.total_seconds()}
        live: list[Step] = []
        if self.liveness_url:
            live.append(Wait("live", self.liveness_url, "prove", "health", timeout=timeout,
                             interval=interval, thresholds=request_timeout,
                             diagnose=docker.logs(name)))  # fmt: skip
        keep_preview = release.color if watched and self.liveness_url else None
        return [
            # The preview route may point at the new color before it is healthy: only the
            # deployer's checks use it. Setting it first takes it off the critical path.
            *self.route_steps(
                routing.routes(preview=release.color),
                "prove",
                undo=self.routes_back(state, record=False),
            ),
            Wait("healthy", name, "prove", "health", timeout=timeout,
                 interval=min(POLL_INTERVAL, interval), probe=docker.container_state(name),
                 diagnose=docker.logs(name)),
            *live,
            Wait("ready", self.preview_url + health.ready_path, "prove", "ready",
                 timeout=timeout, interval=interval, thresholds=request_timeout),
            *self.smoke_steps(),
            *self.route_steps(switched.routes(preview=keep_preview), "switch", record=switched,
                              undo=self.routes_back(state, record=True)),
        ]  # fmt: skip

    def smoke_steps(self) -> list[Step]:
        """The smoke tests against the new color, through the preview route."""
        if not self.smoke:
            return []
        url = self.preview_url
        return [
            Wait(
                "smoke",
                url,
                "prove",
                "smoke",
                timeout=self.config.stages.smoke_timeout.total_seconds(),
                interval=0,
                argv=tuple(part.replace("{url}", url) for part in self.smoke),
            )
        ]

    # -- watch and retire -----------------------------------------------------------------

    def watch_steps(self, release: Release, old: ContainerInfo | None) -> list[Step]:
        """The watch window: the new color's error rate, with the old color still running
        to go back to. Nothing to watch for when nothing was live before."""
        if not _watched(old):
            return []
        watch = self.env.watch
        thresholds: dict[str, float] = {
            "min_requests": watch.min_requests,
            "max_error_rate": watch.max_error_rate,
        }
        if self.liveness_url:
            health = self.env.health
            thresholds |= {
                "liveness_interval_s": health.interval.total_seconds(),
                "liveness_failures": LIVENESS_FAILURES,
                "request_timeout_s": health.timeout.total_seconds(),
            }
        return [
            Wait(
                "watch",
                release.color,
                "watch",
                "watch",
                timeout=watch.window.total_seconds(),
                interval=POLL_INTERVAL,
                probe=docker.read_status_log(self.target, status_log(release.color)),
                thresholds=thresholds,
                url=self.liveness_url,
            )
        ]

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

    def retire_steps(self, old: ContainerInfo | None) -> list[Step]:
        """Drain and stop the old color (kept for rollback); its stop grace is the
        environment's drain_timeout, the time its app was promised to finish in."""
        if old is None or not old.running or old.color is None:
            return []
        drain = self.env.health.drain_timeout.total_seconds()
        return [
            self.drain_wait(old.name, old.color, timeout=drain, phase="retire", step="retire"),
            _run(docker.stop(old.name, _seconds(drain)), "retire", phase="retire"),
        ]

    def prune_steps(self, state: HostState, release: Release, *, pulled: bool) -> list[Step]:
        """Remove images of releases older than the `retain` most recent ones, never one a
        container still uses after this deploy. Only images gangway pulled onto the host
        (`pulled`: this release's) are removed, unless the environment says
        `prune = "all"`: a tag the user built or loaded himself is his."""
        return [
            Run(
                replace(
                    docker.remove_image(image),
                    purpose=f"prune {image} (beyond retain={self.env.retain}, {why})",
                ),
                "retire",
                "retire",
                check=False,
            )
            for image, why in prunable(
                state, release.image, release.color, pulled=pulled, retain=self.env.retain,
                everything=self.env.prune == "all",
            )
        ]  # fmt: skip

    def finish_steps(self, release: Release) -> tuple[Step, ...]:
        """Whatever the outcome: the image id for the record, then the record."""
        lookup = Run(docker.inspect_image(release.image), "retire", "history", check=False)
        append = docker.write_file(self.target, docker.HISTORY_FILE, "", append=True)
        return (lookup, Record(replace(append, purpose="append the release to the history")))


def _run(
    command: Command,
    step: FailedStep,
    *,
    phase: Phase = "prepare",
    undo: tuple[Run | Wait, ...] = (),
) -> Run:
    """A prepare-phase command (most of them are) failing as `step`."""
    return Run(command, phase, step, undo=undo, undo_key="new_color" if undo else None)


def _watched(old: ContainerInfo | None) -> bool:
    """A watch follows the switch: there is an old color still running to go back to."""
    return old is not None and old.running


def _router_stopped(state: HostState) -> bool:
    return state.router is not None and not state.router.running


def other_of(live: ContainerInfo) -> docker.Color:
    return other(live.color) if live.color else "blue"


def _describe(container: ContainerInfo | None) -> str:
    return "" if container is None else f"{container.color} {container.version}"
