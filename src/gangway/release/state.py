"""What a host reports about an environment, parsed from docker's JSON into plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from gangway.commands.docker import LABEL, Color
from gangway.commands.nginx import Routes

Outcome = Literal["succeeded", "failed", "rolled_back", "interrupted"]


@dataclass(frozen=True)
class ContainerInfo:
    """One container gangway owns, as `docker container inspect` describes it."""

    name: str
    role: str
    running: bool
    status: str
    health: str | None
    exit_code: int
    image_id: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def color(self) -> Color | None:
        value = self.labels.get(f"{LABEL}.color", "")
        return "blue" if value == "blue" else "green" if value == "green" else None

    @property
    def version(self) -> str:
        return self.labels.get(f"{LABEL}.version", "")

    @property
    def image(self) -> str:
        return self.labels.get(f"{LABEL}.image", "")

    def label(self, key: str) -> str:
        return self.labels.get(f"{LABEL}.{key}", "")


def parse_inspect(text: str) -> list[ContainerInfo]:
    """Containers from the JSON array `docker container inspect` prints."""
    if not text.strip():
        return []
    return [_container(item) for item in json.loads(text)]


def _container(item: dict[str, Any]) -> ContainerInfo:
    state = item.get("State", {})
    labels = item.get("Config", {}).get("Labels") or {}
    health = state.get("Health")
    return ContainerInfo(
        name=str(item.get("Name", "")).lstrip("/"),
        role=labels.get(f"{LABEL}.role", ""),
        running=bool(state.get("Running")),
        status=str(state.get("Status", "")),
        health=health.get("Status") if isinstance(health, dict) else None,
        exit_code=int(state.get("ExitCode", 0)),
        image_id=str(item.get("Image", "")),
        labels=dict(labels),
    )


@dataclass(frozen=True)
class ReleaseRecord:
    """One line of the host's release history: a deploy or rollback and how it ended."""

    action: Literal["deploy", "rollback"]
    version: str
    image: str
    image_id: str
    color: str
    outcome: Outcome
    who: str
    host: str
    started_at: str
    duration_s: float
    previous_version: str = ""
    step: str = ""
    reason: str = ""
    # gangway brought the image onto the host (it was not there before this deploy);
    # records older than this field say False, so their images are never pruned unless
    # the environment says `prune = "all"`.
    pulled: bool = False

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> ReleaseRecord | None:
        try:
            data = json.loads(line)
            record = cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
            # Only a real `true` counts: a hand-edited or foreign value keeps the image.
            return replace(record, pulled=record.pulled is True)
        except (ValueError, TypeError):
            return None  # a torn last line (deployer killed mid-write) is skipped


@dataclass(frozen=True)
class ImageInfo:
    """The release image as the host has it before a deploy (`docker image inspect`)."""

    present: bool
    # Its HEALTHCHECK: None when the image is not on the host yet (unknown until pulled).
    healthcheck: bool | None = None


def parse_image_inspect(text: str, *, ok: bool) -> ImageInfo:
    """What `docker image inspect` said: absent (it failed), or present with or without a
    HEALTHCHECK (`Config.Healthcheck` missing, or its test `["NONE"]`: none)."""
    if not ok:
        return ImageInfo(present=False)
    try:
        data = json.loads(text)
        config = (data[0] if isinstance(data, list) and data else {}).get("Config") or {}
    except (ValueError, AttributeError):
        return ImageInfo(present=True)
    test = (config.get("Healthcheck") or {}).get("Test") or []
    return ImageInfo(present=True, healthcheck=bool(test) and test != ["NONE"])


def parse_history(text: str) -> list[ReleaseRecord]:
    records = (ReleaseRecord.from_json(line) for line in text.splitlines() if line.strip())
    return [record for record in records if record is not None]


@dataclass(frozen=True)
class RoutingState:
    """state.json on the host: where the router sends traffic."""

    live: Color | None = None
    maintenance: bool = False

    def to_json(self) -> str:
        return json.dumps({"live": self.live, "maintenance": self.maintenance}) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RoutingState:
        if not text.strip():
            return cls()
        data = json.loads(text)
        live = data.get("live")
        return cls(
            live="blue" if live == "blue" else "green" if live == "green" else None,
            maintenance=bool(data.get("maintenance", False)),
        )

    def routes(self, preview: Color | None = None) -> Routes:
        return Routes(live=self.live, preview=preview, maintenance=self.maintenance)


@dataclass(frozen=True)
class HostState:
    """Everything the deployer needs to know about one environment on its host."""

    containers: tuple[ContainerInfo, ...] = ()
    network: bool = False
    routing: RoutingState = RoutingState()
    history: tuple[ReleaseRecord, ...] = ()
    # The state volume exists (read only when the router does not).
    state_volume: bool = False

    def by_role(self, role: str) -> ContainerInfo | None:
        return next((c for c in self.containers if c.role == role), None)

    @property
    def proxy(self) -> ContainerInfo | None:
        return self.by_role("proxy")

    @property
    def router(self) -> ContainerInfo | None:
        return self.by_role("router")

    @property
    def lock(self) -> ContainerInfo | None:
        return self.by_role("lock")

    def app(self, color: Color) -> ContainerInfo | None:
        return next((c for c in self.containers if c.role == "app" and c.color == color), None)

    @property
    def live(self) -> ContainerInfo | None:
        return None if self.routing.live is None else self.app(self.routing.live)

    @property
    def bootstrapped(self) -> bool:
        return self.proxy is not None and self.router is not None
