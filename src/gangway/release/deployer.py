"""The commands that change a host: read state -> plan -> interpret, under the lock.

`Deployer` wires the parts for one environment: the planner (`planner.py`, pure), the
interpreter (`interpret.py`, the phases and their failures), the pollers (`probes.py`),
the lock (`lock.py`) and the status record (`status.py`). `gangway plan` prints the
plan `deploy` would interpret for the same state; there is no other description of a
deploy.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import FrameType

from gangway.commands import database, docker
from gangway.commands.docker import Command, other
from gangway.config import EnvironmentConfig, PipelineConfig
from gangway.errors import DeployFailed
from gangway.execute import DEFAULT_TIMEOUT, Executor, LocalProcess, Output, Result
from gangway.progress import Progress
from gangway.release.backups import Backups
from gangway.release.interpret import Context, Interpreter, now_iso
from gangway.release.lock import DeployLock
from gangway.release.plan import Plan, version_of
from gangway.release.planner import Planner
from gangway.release.probes import Pollers, ReadinessProbe, http_readiness
from gangway.release.state import (
    ContainerInfo,
    HostState,
    ReleaseRecord,
    RoutingState,
    parse_history,
    parse_image_inspect,
    parse_inspect,
)
from gangway.release.status import EnvironmentStatus, environment_status

__all__ = ["Deployer", "version_of"]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class _Reads:
    """An executor that remembers what it ran: the reads a plan was made from."""

    executor: Executor
    commands: list[Command] = field(default_factory=list)

    def run(
        self,
        command: Command,
        *,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        output: Output = None,
    ) -> Result:
        self.commands.append(command)
        return self.executor.run(command, check=check, timeout=timeout, output=output)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a plan runs, SIGTERM (a CI job cancelled, `docker stop` of the deployer)
    is handled like Ctrl-C: by the phase it arrives in, never half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Deployer:
    """Deploys, rolls back, switches maintenance and reports one environment of one app."""

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
    # Runs the smoke command on this machine.
    local: Executor = field(default_factory=LocalProcess, repr=False)
    readiness: ReadinessProbe = field(default=http_readiness, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    # The record the last deploy or rollback appended to the history (notifications).
    last_record: ReleaseRecord | None = field(default=None, init=False, repr=False)
    # The plan the last deploy, rollback or maintenance switch interpreted.
    last_plan: Plan | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.env: EnvironmentConfig = self.config.environment(self.environment)
        if not self.who:
            self.who = os.environ.get("GANGWAY_ACTOR") or _user()
        self.host = socket.gethostname()
        self.planner = Planner(self.config, self.environment, self.smoke, self.secret_files)
        self.target = self.planner.target
        self.database = self.planner.database
        self.backups = Backups(
            self.database,
            self.executor,
            self.progress,
            self.environment,
            self.env.database.backup_retain,
        )
        self.lock = DeployLock(
            self.target,
            self.config.proxy.image,
            self.executor,
            self.progress,
            self.who,
            self.env.lock_timeout.total_seconds(),
            self.env.pull,
            host=self.host,
            sleep=self.sleep,
        )
        pollers = Pollers(self.executor, self.local, self.progress, self.readiness, self.sleep)
        context = Context(
            environment=self.environment,
            who=self.who,
            host=self.host,
            transactional=self.env.migrations.transactional,
            pull=self.env.pull,
            # `docker stop` waits for the app's own grace; image pulls can be slow.
            command_timeout=max(120.0, self.env.health.deploy_timeout.total_seconds() + 60),
        )
        self.interpreter = Interpreter(self.executor, pollers, self.progress, context, self.backups)

    # -- reading the host -----------------------------------------------------------------

    def read_state(self, executor: Executor | None = None) -> HostState:
        """Containers, routing and history of the environment, as the host reports them."""
        run = executor or self.executor
        ids = run.run(docker.list_containers(self.target)).stdout.split()
        inspect = run.run(docker.inspect_containers(ids)).stdout if ids else ""
        containers = parse_inspect(inspect)
        network = run.run(docker.inspect_network(self.target), check=False).ok
        state = HostState(containers=tuple(containers), network=network)
        router = state.router
        if router is None:
            # A router removed while its volume stayed: the routes are read from the volume
            # once a new router runs, never taken for "nothing live".
            volume = run.run(database.inspect_volume(self.target.state_volume), check=False)
            return replace(state, state_volume=volume.ok)
        if not router.running:
            return state
        routing = RoutingState.from_json(
            run.run(docker.read_file(self.target, docker.STATE_FILE)).stdout
        )
        history = parse_history(run.run(docker.read_file(self.target, docker.HISTORY_FILE)).stdout)
        return replace(state, routing=routing, history=tuple(history))

    def _image_on_host(self, image: str, executor: Executor | None = None) -> bool:
        return (executor or self.executor).run(docker.inspect_image(image), check=False).ok

    # -- plans ------------------------------------------------------------------------------

    def plan_deploy(
        self, image: str, version: str | None = None, *, allow_destructive: bool = False
    ) -> Plan:
        """Read the host, then plan a deploy of `image` (what `gangway plan` prints)."""
        reads = _Reads(self.executor)
        state = self.read_state(reads)
        # Whether the host has the image before the deploy: the record keeps it (only what
        # gangway pulled is pruned), and its HEALTHCHECK tells what proves it alive.
        inspect = reads.run(docker.inspect_image(image), check=False)
        return self.planner.deploy(
            state, image, version or version_of(image),
            allow_destructive=allow_destructive, reads=reads.commands,
            image_info=parse_image_inspect(inspect.stdout, ok=inspect.ok),
        )  # fmt: skip

    def plan_rollback(self, to: str | None = None) -> Plan:
        """Read the host, then plan a rollback to `to` (default: the previous release)."""
        reads = _Reads(self.executor)
        state = self.read_state(reads)
        live = state.live
        if live is None:
            raise DeployFailed(
                "rollback",
                "nothing is live in this environment yet",
                hint=f"deploy a release first: gangway deploy --env {self.environment} "
                "--image IMAGE",
            )
        target = self.rollback_target(state, to, reads)
        idle = other(live.color) if live.color else "blue"
        kept = state.app(idle)
        reuse = kept is not None and kept.version == target.version and kept.image == target.image
        if not reuse and not self._image_on_host(target.image, reads):
            raise DeployFailed(
                "rollback",
                f"release {target.version} has neither a kept container nor its image "
                f"({target.image}) on the host",
                hint=f"available: {', '.join(self.available_versions(state)) or 'none'}",
            )
        plan = self.planner.rollback(state, target, reuse=reuse, reads=reads.commands)
        how = " from its kept container" if reuse else " recreated from its image"
        return replace(plan, notes=(*plan.notes, f"{target.version} comes back{how}"))

    def rollback_target(
        self, state: HostState, to: str | None, executor: Executor | None = None
    ) -> ReleaseRecord:
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
                hint=f"available: {', '.join(self.available_versions(state, executor)) or 'none'}",
            )
        for record in candidates:
            if record.version != live.version:
                return record
        raise DeployFailed(
            "rollback",
            "there is no earlier successful release to go back to",
            hint="deploy the release you want instead",
        )

    def available_versions(self, state: HostState, executor: Executor | None = None) -> list[str]:
        """Versions rollback can reach: a kept container or an image on the host."""
        live = state.live
        seen: list[str] = []
        for record in reversed(state.history):
            if record.outcome != "succeeded" or record.version in seen:
                continue
            if live is not None and record.version == live.version:
                continue
            kept = any(c.version == record.version for c in state.containers if c.role == "app")
            if kept or self._image_on_host(record.image, executor):
                seen.append(record.version)
        return seen

    # -- the commands -----------------------------------------------------------------------

    @contextmanager
    def locked(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the environment's deploy lock for the block (with its progress line)."""
        with self.lock.held(wait):
            yield

    def lock_info(self) -> ContainerInfo | None:
        return self.lock.info()

    def release_lock(self, *, force: bool = False) -> bool:
        return self.lock.release(force=force)

    def deploy(
        self,
        image: str,
        version: str | None = None,
        *,
        lock_wait: float = 0.0,
        allow_destructive: bool = False,
    ) -> ReleaseRecord:
        """Deploy `image` blue-green; return the history record (raises DeployFailed)."""
        started, started_at = time.monotonic(), now_iso()
        with self.locked(lock_wait):
            self.on_start()
            plan = self.plan_deploy(image, version, allow_destructive=allow_destructive)
            if plan.replan_after_bootstrap:
                self._run(plan, started, started_at)
                plan = self.plan_deploy(image, version, allow_destructive=allow_destructive)
            release = plan.release
            assert release is not None
            self.progress.say(
                f"deploy: {release.version} -> {release.color}"
                + (f" (live: {plan.previous})" if plan.previous else " (first release)")
            )
            for note in plan.notes:
                self.progress.say(f"deploy: {note}")
            record = self._run(plan, started, started_at)
            assert record is not None
            return record

    def rollback(self, to: str | None = None, *, lock_wait: float = 0.0) -> ReleaseRecord:
        """Go back to the previous (or the named) release, with the same gating."""
        started, started_at = time.monotonic(), now_iso()
        with self.locked(lock_wait):
            self.on_start()
            plan = self.plan_rollback(to)
            release = plan.release
            assert release is not None
            self.progress.say(
                f"rollback: {plan.previous} -> {release.version} ({release.color}); "
                + "; ".join(plan.notes)
            )
            try:
                record = self._run(plan, started, started_at)
            except DeployFailed as exc:
                raise DeployFailed(
                    exc.step, exc.reason, hint=f"{plan.previous} is still live", logs=exc.logs
                ) from exc
            assert record is not None
            return record

    def maintenance(self, on: bool) -> None:
        """Serve the 503 maintenance page (on) or the live release again (off)."""
        with self.locked():
            plan = self._maintenance_plan(on)
            if plan.replan_after_bootstrap:
                self._run(plan, time.monotonic(), now_iso())
                plan = self._maintenance_plan(on)
            self._run(plan, time.monotonic(), now_iso())

    def _maintenance_plan(self, on: bool) -> Plan:
        reads = _Reads(self.executor)
        return self.planner.maintenance(self.read_state(reads), on, reads=reads.commands)

    def _run(self, plan: Plan, started: float, started_at: str) -> ReleaseRecord | None:
        self.interpreter.last_record = None
        self.last_plan = plan
        try:
            with _sigterm_as_interrupt():
                return self.interpreter.execute(plan, started=started, started_at=started_at)
        finally:
            self.last_record = self.interpreter.last_record or self.last_record

    # -- status ------------------------------------------------------------------------------

    def status(self) -> EnvironmentStatus:
        return environment_status(
            self.read_state(),
            environment=self.environment,
            url=self.env.effective_url,
            database_kind=self.env.database.kind,
            backup_volume=self.database.backups,
        )
