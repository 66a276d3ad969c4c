"""Parsing what the host reports: docker inspect JSON, the history lines, state.json."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gangway.commands.nginx import Routes
from gangway.release.state import (
    ContainerInfo,
    HostState,
    Outcome,
    ReleaseRecord,
    RoutingState,
    parse_history,
    parse_inspect,
)


def inspect_item(
    name: str,
    *,
    running: bool = True,
    status: str = "running",
    health: str | None = "healthy",
    exit_code: int = 0,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One element of `docker container inspect`, trimmed to realistic essentials."""
    state: dict[str, Any] = {
        "Status": status,
        "Running": running,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 4242 if running else 0,
        "ExitCode": exit_code,
        "Error": "",
        "StartedAt": "2025-03-01T10:00:00.123456789Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
    }
    if health is not None:
        state["Health"] = {"Status": health, "FailingStreak": 0, "Log": []}
    return {
        "Id": "5f0c" * 16,
        "Created": "2025-03-01T09:59:59.000000000Z",
        "Path": "app",
        "Args": ["serve"],
        "State": state,
        "Image": "sha256:" + "ab" * 32,
        "Name": f"/{name}",
        "RestartCount": 0,
        "Config": {
            "Hostname": "5f0c5f0c5f0c",
            "Env": ["APP_ENV=production", "PATH=/usr/local/bin:/usr/bin"],
            "Image": "127.0.0.1:5000/notes:1.2.3",
            "Labels": labels,
        },
        "NetworkSettings": {"Networks": {"notes-production": {"IPAddress": "172.18.0.4"}}},
    }


BLUE_LABELS = {
    "dev.gangway.app": "notes",
    "dev.gangway.env": "production",
    "dev.gangway.role": "app",
    "dev.gangway.color": "blue",
    "dev.gangway.version": "1.2.3",
    "dev.gangway.image": "127.0.0.1:5000/notes:1.2.3",
    "org.opencontainers.image.version": "1.2.3",
}


def test_parse_inspect_reads_name_state_health_and_labels() -> None:
    text = json.dumps([inspect_item("notes-production-blue", labels=BLUE_LABELS)], indent=4)

    [blue] = parse_inspect(text)

    assert blue.name == "notes-production-blue"
    assert blue.role == "app"
    assert blue.running
    assert blue.status == "running"
    assert blue.health == "healthy"
    assert blue.exit_code == 0
    assert blue.image_id == "sha256:" + "ab" * 32
    assert blue.color == "blue"
    assert blue.version == "1.2.3"
    assert blue.image == "127.0.0.1:5000/notes:1.2.3"
    assert blue.labels["org.opencontainers.image.version"] == "1.2.3"


def test_parse_inspect_of_a_stopped_container_without_healthcheck_or_labels() -> None:
    item = inspect_item(
        "notes-production-green", running=False, status="exited", health=None, exit_code=137
    )

    [green] = parse_inspect(json.dumps([item]))

    assert not green.running
    assert green.status == "exited"
    assert green.health is None
    assert green.exit_code == 137
    assert green.role == ""
    assert green.color is None
    assert green.version == ""
    assert green.labels == {}


def test_parse_inspect_of_nothing_is_no_container() -> None:
    assert parse_inspect("") == []
    assert parse_inspect("  \n") == []
    assert parse_inspect("[]") == []


def test_a_color_label_that_is_not_blue_or_green_is_no_color() -> None:
    info = ContainerInfo("x", "app", True, "running", None, 0, "", {"dev.gangway.color": "red"})
    assert info.color is None


def record(
    version: str,
    outcome: Outcome = "succeeded",
    *,
    previous_version: str = "",
    step: str = "",
    reason: str = "",
) -> ReleaseRecord:
    return ReleaseRecord(
        action="deploy",
        version=version,
        image=f"127.0.0.1:5000/notes:{version}",
        image_id="sha256:" + "cd" * 32,
        color="green",
        outcome=outcome,
        who="ana",
        host="laptop",
        started_at="2025-03-01T10:00:00+00:00",
        duration_s=12.5,
        previous_version=previous_version,
        step=step,
        reason=reason,
    )


def test_history_round_trips_through_json_lines() -> None:
    records = [
        record("1.0.0"),
        record("1.1.0", "failed", step="health", reason="still 'starting'"),
        record("1.0.1", previous_version="1.0.0"),
    ]
    text = "".join(r.to_json() + "\n" for r in records)

    assert parse_history(text) == records
    assert all("\n" not in r.to_json() for r in records)


def test_history_line_is_sorted_json_with_every_field() -> None:
    data = json.loads(record("1.0.0").to_json())

    assert list(data) == sorted(data)
    assert data["outcome"] == "succeeded"
    assert data["previous_version"] == ""


def test_a_torn_last_line_is_skipped() -> None:
    good = record("1.0.0").to_json()
    torn = record("1.1.0").to_json()[:40]

    assert parse_history(f"{good}\n{torn}") == [record("1.0.0")]


@pytest.mark.parametrize(
    "line",
    ['{"action": "deploy", "vers', '{"action": "deploy"}', "[1, 2]", "42", '"text"', "null"],
    ids=["torn", "missing-fields", "list", "number", "string", "null"],
)
def test_lines_that_are_not_records_are_skipped(line: str) -> None:
    assert ReleaseRecord.from_json(line) is None
    assert parse_history(line + "\n" + record("1.0.0").to_json()) == [record("1.0.0")]


def test_unknown_keys_from_a_newer_gangway_are_ignored() -> None:
    data = json.loads(record("1.0.0").to_json()) | {"added_later": True}
    assert ReleaseRecord.from_json(json.dumps(data)) == record("1.0.0")


def test_blank_lines_in_the_history_are_ignored() -> None:
    text = "\n" + record("1.0.0").to_json() + "\n\n   \n"
    assert parse_history(text) == [record("1.0.0")]


def test_routing_state_from_empty_text_is_nothing_live() -> None:
    routing = RoutingState.from_json("")

    assert routing == RoutingState(live=None, maintenance=False)
    assert routing.routes() == Routes()


def test_routing_state_round_trips_and_ends_with_a_newline() -> None:
    routing = RoutingState(live="green", maintenance=True)

    assert routing.to_json() == '{"live": "green", "maintenance": true}\n'
    assert RoutingState.from_json(routing.to_json()) == routing


def test_routing_state_ignores_an_unknown_color() -> None:
    assert RoutingState.from_json('{"live": "purple"}') == RoutingState()


def test_routes_keep_live_and_maintenance_and_add_the_preview() -> None:
    routes = RoutingState(live="blue", maintenance=True).routes(preview="green")
    assert routes == Routes(live="blue", preview="green", maintenance=True)


def containers(*items: dict[str, Any]) -> tuple[ContainerInfo, ...]:
    return tuple(parse_inspect(json.dumps(list(items))))


def role_labels(role: str, **extra: str) -> dict[str, str]:
    labels = {"dev.gangway.app": "notes", "dev.gangway.env": "production"}
    return labels | {"dev.gangway.role": role} | {f"dev.gangway.{k}": v for k, v in extra.items()}


def test_host_state_finds_containers_by_role_and_color() -> None:
    state = HostState(
        containers=containers(
            inspect_item("notes-production-router", labels=role_labels("router")),
            inspect_item("notes-production-proxy", labels=role_labels("proxy")),
            inspect_item("notes-production-blue", labels=BLUE_LABELS),
            inspect_item(
                "notes-production-green",
                running=False,
                labels=role_labels("app", color="green", version="1.1.0"),
            ),
        ),
        network=True,
        routing=RoutingState(live="blue"),
    )

    assert state.bootstrapped
    assert state.router is not None
    assert state.router.name == "notes-production-router"
    assert state.lock is None
    assert state.live is not None
    assert state.live.name == "notes-production-blue"
    green = state.app("green")
    assert green is not None
    assert green.version == "1.1.0"


def test_live_is_none_when_routing_points_nowhere_or_at_a_missing_container() -> None:
    proxy_only = containers(inspect_item("notes-production-proxy", labels=role_labels("proxy")))

    assert HostState().live is None
    assert not HostState().bootstrapped
    assert HostState(containers=proxy_only, routing=RoutingState(live="green")).live is None
    assert not HostState(containers=proxy_only).bootstrapped
