"""What `gangway status` reports about an environment, as a typed record."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gangway.release.state import HostState, ReleaseRecord


@dataclass(frozen=True)
class LiveRelease:
    color: str
    version: str
    image: str
    image_id: str
    running: bool
    health: str | None


@dataclass(frozen=True)
class ContainerStatus:
    name: str
    role: str
    color: str | None
    version: str
    status: str
    health: str | None


@dataclass(frozen=True)
class LockStatus:
    holder: str
    host: str
    since: str


@dataclass(frozen=True)
class DatabaseStatus:
    kind: str
    container: str | None
    running: bool | None
    backup_volume: str


@dataclass(frozen=True)
class EnvironmentStatus:
    """One environment as its host reports it: live release, containers, lock, history."""

    environment: str
    url: str
    bootstrapped: bool
    maintenance: bool
    live: LiveRelease | None
    containers: tuple[ContainerStatus, ...]
    lock: LockStatus | None
    history: tuple[ReleaseRecord, ...]
    database: DatabaseStatus

    def to_dict(self) -> dict[str, object]:
        """The JSON `gangway status --json` prints."""
        data = asdict(self)
        data["containers"] = [asdict(c) for c in self.containers]
        data["history"] = [record.__dict__ for record in self.history]
        return data


def environment_status(
    state: HostState,
    *,
    environment: str,
    url: str,
    database_kind: str,
    backup_volume: str,
    history: int = 10,
) -> EnvironmentStatus:
    """The status record of `state` (pure: the host was read before)."""
    live = state.live
    lock = state.lock
    accessory = state.by_role("db")
    return EnvironmentStatus(
        environment=environment,
        url=url,
        bootstrapped=state.bootstrapped,
        maintenance=state.routing.maintenance,
        live=None
        if live is None or live.color is None
        else LiveRelease(
            live.color, live.version, live.image, live.image_id, live.running, live.health
        ),
        containers=tuple(
            ContainerStatus(c.name, c.role, c.color, c.version, c.status, c.health)
            for c in state.containers
            if c.role == "app"
        ),
        lock=None
        if lock is None
        else LockStatus(lock.label("holder"), lock.label("host"), lock.label("since")),
        history=state.history[-history:],
        database=DatabaseStatus(
            kind=database_kind,
            container=accessory.name if accessory else None,
            running=accessory.running if accessory else None,
            backup_volume=backup_volume,
        ),
    )
