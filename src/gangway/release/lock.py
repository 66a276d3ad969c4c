"""The deploy lock of one environment: a container name only one `docker create` wins.

It records who holds it, on which host and since when; a holder that is gone (its
process on this host has exited, or the lock is older than `lock_timeout`) is taken
over, so a crashed deployer cannot leave an environment stuck (DESIGN invariant 5).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gangway.commands import docker
from gangway.commands.docker import Target
from gangway.errors import CommandFailed, LockHeld
from gangway.execute import Executor
from gangway.progress import Progress
from gangway.release.images import image_unavailable, missing_image
from gangway.release.state import ContainerInfo, parse_inspect


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class DeployLock:
    """Takes, inspects and releases `<app>-<env>-lock` on the environment's engine."""

    target: Target
    image: str
    executor: Executor
    progress: Progress
    who: str
    timeout: float  # lock_timeout: older than this, a lock is stale
    pull_policy: str  # the environment's `pull`: the lock is a container of proxy.image
    host: str = field(default_factory=socket.gethostname)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    token: str = field(default="", init=False)

    @contextmanager
    def held(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the lock for the block (with its progress line), release it after."""
        with self.progress.step("lock", f"take the {self.target.environment} deploy lock"):
            self.acquire(wait)
        try:
            yield
        finally:
            self.release()

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to `wait` s; take over a stale one."""
        deadline = time.monotonic() + wait
        token = f"{self.who}@{self.host}:{os.getpid()}:{time.time_ns()}"
        announced = False
        while True:
            command = docker.create_lock(
                self.target, self.image, token, self.host, _now(), pull_policy=self.pull_policy
            )
            result = self.executor.run(command, check=False)
            if result.ok:
                self.token = token
                return
            if "already in use" not in result.stderr and "Conflict" not in result.stderr:
                if said := image_unavailable(result.stderr):
                    raise missing_image(
                        "proxy.image", self.image, said, pull=self.pull_policy,
                        environment=self.target.environment, step="lock",
                    )  # fmt: skip
                raise CommandFailed(command.argv, result.returncode, result.stdout, result.stderr)
            lock = self.info()
            if lock is None:
                continue  # released between our create and our look
            stale = self.stale(lock)
            if stale:
                self.progress.say(
                    f"lock: warning: taking over the lock of {lock.label('holder')} "
                    f"(since {lock.label('since')}): {stale}"
                )
                self.executor.run(docker.remove(self.target.lock), check=False)
                continue
            if time.monotonic() >= deadline:
                raise LockHeld(self.target.environment, lock.label("holder"), lock.label("since"))
            if not announced:
                self.progress.say(f"lock: waiting for {lock.label('holder')}")
                announced = True
            self.sleep(1.0)

    def stale(self, lock: ContainerInfo) -> str:
        """Why a lock's holder is gone ("" while it may be alive)."""
        age = _age(lock.label("since"))
        if age is not None and age > self.timeout:
            return "older than lock_timeout"
        # A holder on this very machine can be checked directly: a killed deployer
        # must not block the next deploy for a whole lock_timeout.
        if lock.label("host") == self.host:
            pid = _holder_pid(lock.label("holder"))
            if pid is not None and not _pid_alive(pid):
                return f"its process {pid} on this host is gone"
        return ""

    def info(self) -> ContainerInfo | None:
        """The lock container, or None when nobody holds it. An engine that cannot be
        asked is an error, never "unlocked"."""
        command = docker.inspect_containers([self.target.lock])
        result = self.executor.run(command, check=False)
        if not result.ok:
            if "No such" in result.stderr or "no such" in result.stderr:
                return None
            raise CommandFailed(command.argv, result.returncode, result.stdout, result.stderr)
        found = parse_inspect(result.stdout)
        return found[0] if found else None

    def release(self, *, force: bool = False) -> bool:
        """Remove the lock if we hold it (or always, with force); True if one was removed."""
        lock = self.info()
        if lock is None:
            return False
        if not force and lock.label("holder") != self.token:
            return False
        self.executor.run(docker.remove(self.target.lock), check=False)
        self.token = ""
        return True


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
