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

from collections.abc import Sequence
from dataclasses import dataclass, replace

from gangway.commands import docker
from gangway.commands.docker import Command, other
from gangway.commands.nginx import Routes, status_log
from gangway.errors import FailedStep
from gangway.release.images import image_notes, prunable
from gangway.release.plan import Phase, Plan, Record, Release, Run, Step, Wait
from gangway.release.prepare import (
    LIVENESS_FAILURES,
    POLL_INTERVAL,
    PlanParts,
    prepare_step,
    whole_seconds,
)
from gangway.release.preview import describe_routes
from gangway.release.state import (
    ContainerInfo,
    HostState,
    ImageInfo,
    ReleaseRecord,
    RoutingState,
)


@dataclass(frozen=True)
class Planner(PlanParts):
    """Plans for one environment of one app; every method is a pure function of its
    arguments and of the configuration."""

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
        later = _router_stopped(state)
        switch = self.route_steps(routing.routes(), "switch", record=routing)
        return Plan(
            action="maintenance",
            environment=self.environment,
            release=None,
            previous=_describe(state.live),
            steps=tuple(bootstrap if later else [*bootstrap, *switch]),
            reads=tuple(reads),
            replan_after_bootstrap=later,
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
            notes=(f"the router is not running: its routes are read once it runs ({action})",),
            replan_after_bootstrap=True,
            images=self.images(release),
        )

    def next_release(self, state: HostState, image: str, version: str) -> Release:
        live = state.routing.live
        return Release(image=image, version=version, color="blue" if live is None else other(live))

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

    def retire_steps(self, old: ContainerInfo | None) -> list[Step]:
        """Drain and stop the old color (kept for rollback); its stop grace is the
        environment's drain_timeout, the time its app was promised to finish in."""
        if old is None or not old.running or old.color is None:
            return []
        drain = self.env.health.drain_timeout.total_seconds()
        return [
            self.drain_wait(old.name, old.color, timeout=drain, phase="retire", step="retire"),
            prepare_step(docker.stop(old.name, whole_seconds(drain)), "retire", phase="retire"),
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


def _watched(old: ContainerInfo | None) -> bool:
    """A watch follows the switch: there is an old color still running to go back to."""
    return old is not None and old.running


def _router_stopped(state: HostState) -> bool:
    """The routes cannot be read until the router runs: it is stopped, or it is gone but
    its state volume (routes and history) is still there."""
    if state.router is None:
        return state.state_volume
    return not state.router.running


def other_of(live: ContainerInfo) -> docker.Color:
    return other(live.color) if live.color else "blue"


def _describe(container: ContainerInfo | None) -> str:
    return "" if container is None else f"{container.color} {container.version}"
