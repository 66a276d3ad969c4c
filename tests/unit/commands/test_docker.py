"""The docker argv of the blue-green host, asserted whole (Kamal's app_test.rb style)."""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from gangway.commands import docker
from gangway.commands.docker import AppContainer, Command, Target

TARGET = Target("notes", "production")
SECRET_VALUE = "postgresql://notes:s3cr3t-p4ss@db:5432/notes"


RELEASE = AppContainer(
    image="127.0.0.1:5000/notes:1.2.3",
    version="1.2.3",
    color="green",
    port=8000,
    env={"APP_ENV": "production", "LOG_LEVEL": "INFO"},
    secrets=("DATABASE_URL",),
    health_interval=1,
)


def test_target_names_everything_after_app_and_environment() -> None:
    assert TARGET.network == "notes-production"
    assert TARGET.router == "notes-production-router"
    assert TARGET.proxy == "notes-production-proxy"
    assert TARGET.state_volume == "notes-production-state"
    assert TARGET.lock == "notes-production-lock"
    assert TARGET.container("blue") == "notes-production-blue"
    assert TARGET.container("green") == "notes-production-green"


def test_labels_carry_app_environment_role_and_extras_under_the_gangway_prefix() -> None:
    assert TARGET.labels("app", color="blue") == {
        "dev.gangway.app": "notes",
        "dev.gangway.env": "production",
        "dev.gangway.role": "app",
        "dev.gangway.color": "blue",
    }


def test_other_color_is_the_one_a_new_release_goes_to() -> None:
    assert docker.other("blue") == "green"
    assert docker.other("green") == "blue"


def test_run_app_labels_the_release_and_passes_secrets_by_name_only() -> None:
    command = docker.run_app(TARGET, RELEASE, pull_policy="missing")

    assert command.argv == (
        "docker", "run", "--detach", "--pull=missing",
        "--name", "notes-production-green",
        "--network", "notes-production",
        "--restart", "unless-stopped",
        "--label", "dev.gangway.app=notes",
        "--label", "dev.gangway.env=production",
        "--label", "dev.gangway.role=app",
        "--label", "dev.gangway.color=green",
        "--label", "dev.gangway.version=1.2.3",
        "--label", "dev.gangway.image=127.0.0.1:5000/notes:1.2.3",
        "--health-interval", "1s",
        "--env", "APP_ENV=production",
        "--env", "LOG_LEVEL=INFO",
        "--env", "DATABASE_URL",
        "127.0.0.1:5000/notes:1.2.3",
    )  # fmt: skip
    assert command.purpose == "start green (1.2.3)"
    assert command.stdin is None
    assert not command.query


def test_run_app_without_health_interval_leaves_the_images_own() -> None:
    command = docker.run_app(TARGET, replace(RELEASE, health_interval=None), pull_policy="always")

    assert "--health-interval" not in command.argv
    assert "--pull=always" in command.argv


def test_secret_value_in_the_environ_never_reaches_an_argv_or_a_shell_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", SECRET_VALUE)
    app = RELEASE
    commands = [
        docker.run_app(TARGET, app, pull_policy="missing"),
        docker.run_once(TARGET, app, ["app", "migrate"], pull_policy="missing"),
    ]

    for command in commands:
        assert ("--env", "DATABASE_URL") in zip(command.argv, command.argv[1:], strict=False)
        assert not any(SECRET_VALUE in arg for arg in command.argv)
        assert SECRET_VALUE not in command.shell()


def test_run_once_runs_the_release_image_once_and_removes_it() -> None:
    command = docker.run_once(TARGET, RELEASE, ["app", "migrate"], pull_policy="missing")

    assert command.argv == (
        "docker", "run", "--rm", "--pull=missing", "--network", "notes-production",
        "--label", "dev.gangway.app=notes",
        "--label", "dev.gangway.env=production",
        "--label", "dev.gangway.role=task",
        "--label", "dev.gangway.version=1.2.3",
        "--env", "APP_ENV=production",
        "--env", "LOG_LEVEL=INFO",
        "--env", "DATABASE_URL",
        "127.0.0.1:5000/notes:1.2.3", "app", "migrate",
    )  # fmt: skip
    assert command.purpose == "run `app migrate` in 1.2.3"


def test_run_router_publishes_only_the_preview_port_on_the_address() -> None:
    command = docker.run_router(TARGET, "nginx:1.27-alpine", "127.0.0.1", 8181, pull_policy="never")

    assert command.argv == (
        "docker", "run", "--detach", "--pull=never",
        "--name", "notes-production-router",
        "--network", "notes-production",
        "--restart", "unless-stopped",
        "--stop-signal", "SIGQUIT",
        "--label", "dev.gangway.app=notes",
        "--label", "dev.gangway.env=production",
        "--label", "dev.gangway.role=router",
        "--volume", "notes-production-state:/var/lib/gangway",
        "--publish", "127.0.0.1:8181:81",
        "--entrypoint", "nginx", "nginx:1.27-alpine",
        "-c", "/var/lib/gangway/nginx/router.conf", "-g", "daemon off;",
    )  # fmt: skip


def test_run_proxy_publishes_the_public_port_and_mounts_the_state_read_only() -> None:
    command = docker.run_proxy(TARGET, "nginx:1.27-alpine", "0.0.0.0", 8081, pull_policy="missing")

    assert command.argv == (
        "docker", "run", "--detach", "--pull=missing",
        "--name", "notes-production-proxy",
        "--network", "notes-production",
        "--restart", "unless-stopped",
        "--stop-signal", "SIGQUIT",
        "--label", "dev.gangway.app=notes",
        "--label", "dev.gangway.env=production",
        "--label", "dev.gangway.role=proxy",
        "--volume", "notes-production-state:/var/lib/gangway:ro",
        "--publish", "0.0.0.0:8081:80",
        "--entrypoint", "nginx", "nginx:1.27-alpine",
        "-c", "/var/lib/gangway/nginx/proxy.conf", "-g", "daemon off;",
    )  # fmt: skip


def test_write_file_is_atomic_through_a_temp_file_and_rename() -> None:
    command = docker.write_file(TARGET, "/var/lib/gangway/state.json", '{"live": "blue"}\n')

    assert command.argv == (
        "docker", "exec", "--interactive", "notes-production-router", "sh", "-c",
        "mkdir -p $(dirname /var/lib/gangway/state.json)"
        " && cat > /var/lib/gangway/state.json.tmp"
        " && mv /var/lib/gangway/state.json.tmp /var/lib/gangway/state.json",
    )  # fmt: skip
    assert command.stdin == '{"live": "blue"}\n'
    assert command.purpose == "write /var/lib/gangway/state.json"


def test_write_file_append_adds_to_the_end_without_replacing() -> None:
    command = docker.write_file(TARGET, docker.HISTORY_FILE, "{}\n", append=True)

    assert command.argv[:6] == (
        "docker", "exec", "--interactive", "notes-production-router", "sh", "-c",
    )  # fmt: skip
    assert command.argv[-1].endswith("cat >> /var/lib/gangway/history.jsonl")
    assert command.purpose == "append to /var/lib/gangway/history.jsonl"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "new\n"),
        ("old\n", "old\nnew\n"),
        ("old\ntor", "old\ntor\nnew\n"),  # a deployer killed mid-append
    ],
)
def test_append_script_never_glues_a_record_onto_a_torn_line(
    tmp_path: Path, before: str, after: str
) -> None:
    path = tmp_path / "history.jsonl"
    if before:
        path.write_text(before)
    script = docker.write_file(TARGET, str(path), "new\n", append=True).argv[-1]

    subprocess.run(["sh", "-c", script], input="new\n", text=True, check=True)

    assert path.read_text() == after


def test_write_file_quotes_a_path_with_spaces_for_the_shell() -> None:
    command = docker.write_file(TARGET, "/var/lib/gangway/odd name", "x")

    assert shlex.split(command.argv[-1])[-1] == "/var/lib/gangway/odd name"


def test_read_file_prints_nothing_for_a_missing_file_and_is_a_query() -> None:
    command = docker.read_file(TARGET, docker.STATE_FILE)

    assert command.argv == (
        "docker", "exec", "notes-production-router", "sh", "-c",
        'cat "/var/lib/gangway/state.json" 2>/dev/null || true',
    )  # fmt: skip
    assert command.query


def test_create_lock_is_a_named_container_labelled_with_its_holder() -> None:
    command = docker.create_lock(
        TARGET,
        "nginx:1.27-alpine",
        "ana@laptop:42:1",
        "laptop",
        "2025-01-02T03:04:05+00:00",
        pull_policy="never",
    )

    assert command.argv == (
        "docker", "create", "--pull=never", "--name", "notes-production-lock",
        "--network=none",
        "--label", "dev.gangway.app=notes",
        "--label", "dev.gangway.env=production",
        "--label", "dev.gangway.role=lock",
        "--label", "dev.gangway.holder=ana@laptop:42:1",
        "--label", "dev.gangway.host=laptop",
        "--label", "dev.gangway.since=2025-01-02T03:04:05+00:00",
        "--entrypoint", "true", "nginx:1.27-alpine",
    )  # fmt: skip
    assert not command.query


def test_stop_gives_the_container_its_grace_period() -> None:
    command = docker.stop("notes-production-blue", 10)

    assert command.argv == ("docker", "stop", "--time", "10", "notes-production-blue")
    assert command.purpose == "stop notes-production-blue (grace 10s)"


def test_start_remove_and_pull_are_single_verbs() -> None:
    assert docker.start("x").argv == ("docker", "start", "x")
    assert docker.remove("x").argv == ("docker", "rm", "--force", "x")
    assert docker.remove_image("img:1").argv == ("docker", "image", "rm", "img:1")


def test_switch_routes_tests_the_candidate_before_promoting_and_reloading() -> None:
    command = docker.switch_routes(TARGET, "events {}", "route live=blue preview=none")

    assert command.argv[:6] == (
        "docker", "exec", "--interactive", "notes-production-router", "sh", "-c",
    )  # fmt: skip
    script = command.argv[-1]
    # the order is the safety: test, and only then rename over the live config and reload
    assert script.index("nginx -t -q -c /var/lib/gangway/nginx/router.conf.next") < script.index(
        "mv /var/lib/gangway/nginx/router.conf.next /var/lib/gangway/nginx/router.conf"
    )
    assert script.endswith("kill -HUP 1")
    assert command.stdin == "events {}"
    assert not command.query


@pytest.mark.parametrize(("nginx_t", "promoted"), [(0, True), (1, False)])
def test_switch_routes_script_promotes_only_a_config_nginx_accepts(
    tmp_path: Path, nginx_t: int, promoted: bool
) -> None:
    # Run the real script with stand-ins for nginx and kill, in a temp dir.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, code in (("nginx", nginx_t), ("kill", 0)):
        (bin_dir / tool).write_text(
            f'#!/bin/sh\necho {tool} "$@" >> {tmp_path}/calls\nexit {code}\n'
        )
        (bin_dir / tool).chmod(0o755)
    live = tmp_path / "router.conf"
    live.write_text("old")
    script = (
        docker.switch_routes(TARGET, "new", "route")
        .argv[-1]
        .replace("/var/lib/gangway/nginx", str(tmp_path))
        .replace("kill -HUP 1", f"{bin_dir}/kill -HUP 1")  # kill is a builtin: use the stand-in
    )
    proc = subprocess.run(
        ["sh", "-c", script], input="new", text=True, check=False,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )  # fmt: skip

    assert (proc.returncode == 0) is promoted
    assert live.read_text() == ("new" if promoted else "old")
    assert not (tmp_path / "router.conf.next").exists()
    assert ("kill -HUP 1" in (tmp_path / "calls").read_text()) is promoted


def test_seed_file_writes_into_the_volume_from_a_throwaway_container() -> None:
    command = docker.seed_file(
        TARGET, "nginx:1.27-alpine", docker.PROXY_CONFIG, "conf", pull_policy="always"
    )

    assert command.argv == (
        "docker", "run", "--rm", "--interactive", "--pull=always", "--network=none",
        "--volume", "notes-production-state:/var/lib/gangway", "--entrypoint", "sh",
        "nginx:1.27-alpine", "-c",
        "mkdir -p $(dirname /var/lib/gangway/nginx/proxy.conf) && "
        "if [ -s /var/lib/gangway/nginx/proxy.conf ]; then cat > /dev/null; "
        "else cat > /var/lib/gangway/nginx/proxy.conf; fi",
    )  # fmt: skip
    assert command.stdin == "conf"


@pytest.mark.parametrize(("before", "after"), [(None, "new"), ("", "new"), ("kept", "kept")])
def test_seed_script_never_overwrites_what_the_volume_holds(
    tmp_path: Path, before: str | None, after: str
) -> None:
    path = tmp_path / "nginx" / "state.json"
    if before is not None:
        path.parent.mkdir()
        path.write_text(before)
    script = docker.seed_file(TARGET, "nginx", str(path), "new", pull_policy="never").argv[-1]

    subprocess.run(["sh", "-c", script], input="new", text=True, check=True)

    assert path.read_text() == after


def test_network_and_volume_are_labelled_for_the_environment() -> None:
    assert docker.create_network(TARGET).argv == (
        "docker", "network", "create",
        "--label", "dev.gangway.app=notes",
        "--label", "dev.gangway.env=production",
        "--label", "dev.gangway.role=network",
        "notes-production",
    )  # fmt: skip
    assert docker.create_volume(TARGET).argv[-1] == "notes-production-state"
    assert "dev.gangway.role=state" in docker.create_volume(TARGET).argv


def test_list_containers_filters_on_app_and_environment_labels() -> None:
    command = docker.list_containers(TARGET)

    assert command.argv == (
        "docker", "ps", "--all", "--quiet", "--no-trunc",
        "--filter", "label=dev.gangway.app=notes",
        "--filter", "label=dev.gangway.env=production",
    )  # fmt: skip
    assert command.query


@pytest.mark.parametrize(
    "command",
    [
        docker.list_containers(TARGET),
        docker.inspect_containers(["a", "b"]),
        docker.inspect_image("notes:1"),
        docker.read_file(TARGET, docker.STATE_FILE),
        docker.inspect_network(TARGET),
        docker.logs("notes-production-blue"),
        docker.container_state("notes-production-blue"),
        docker.addresses("notes-production-blue"),
        docker.router_traffic(TARGET, "/var/lib/gangway/logs/blue.log"),
    ],
    ids=lambda command: command.argv[1] + " " + command.argv[2],
)
def test_reads_of_the_host_are_queries(command: Command) -> None:
    assert command.query


@pytest.mark.parametrize(
    "command",
    [
        docker.create_network(TARGET),
        docker.run_router(TARGET, "nginx", "127.0.0.1", 8181, pull_policy="never"),
        docker.write_file(TARGET, docker.STATE_FILE, "{}"),
        docker.switch_routes(TARGET, "", "route"),
        docker.stop("x", 1),
        docker.create_lock(TARGET, "nginx", "h", "host", "now", pull_policy="never"),
    ],
    ids=lambda command: command.argv[1],
)
def test_changes_to_the_host_are_not_queries(command: Command) -> None:
    assert not command.query


def test_container_state_asks_for_state_and_restart_count_as_json() -> None:
    command = docker.container_state("notes-production-blue")

    assert command.argv == (
        "docker", "container", "inspect", "--format",
        '{"state": {{json .State}}, "restarts": {{.RestartCount}}}',
        "notes-production-blue",
    )  # fmt: skip


def test_the_drain_reads_the_router_never_the_apps_image() -> None:
    command = docker.router_traffic(TARGET, "/var/lib/gangway/logs/blue.log")
    assert command.argv[:5] == ("docker", "exec", "notes-production-router", "sh", "-c")
    assert command.argv[5] == (
        "wc -l < /var/lib/gangway/logs/blue.log 2>/dev/null || echo 0; echo ---; "
        "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null || true"
    )


def test_shell_line_shows_stdin_by_size_only() -> None:
    secret_text = "héllo"  # 6 bytes in UTF-8, 5 characters
    command = docker.write_file(TARGET, docker.STATE_FILE, secret_text)

    line = command.shell()

    assert line.endswith("  <<< (6 bytes on stdin)")
    assert secret_text not in line
    assert line.startswith("docker exec --interactive notes-production-router sh -c 'mkdir -p")


def test_shell_line_without_stdin_is_the_quoted_argv() -> None:
    assert docker.stop("notes-production-blue", 10).shell() == (
        "docker stop --time 10 notes-production-blue"
    )
    assert (
        docker.run_router(TARGET, "nginx", "127.0.0.1", 8181, pull_policy="never")
        .shell()
        .endswith("nginx -c /var/lib/gangway/nginx/router.conf -g 'daemon off;'")
    )
