"""The rendered nginx configs of the router (switches colors) and the proxy (public port)."""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gangway.commands.docker import Target
from gangway.commands.nginx import Routes, proxy_config, router_config

TARGET = Target("notes", "production")
NGINX = shutil.which("nginx")


def server_blocks(config: str) -> dict[int, str]:
    """The `server { ... }` blocks of a rendered config, by the port they listen on."""
    blocks: dict[int, str] = {}
    for block in re.findall(r"    server \{\n.*?\n    \}\n", config, flags=re.DOTALL):
        port = re.search(r"listen (\d+);", block)
        assert port is not None, block
        blocks[int(port.group(1))] = block
    return blocks


def router(routes: Routes, *, drain_seconds: int = 30, retry_after: int = 30) -> str:
    return router_config(
        TARGET, routes, app_port=8000, drain_seconds=drain_seconds, retry_after=retry_after
    )


def test_live_route_points_at_the_live_colors_container_and_app_port() -> None:
    live = server_blocks(router(Routes(live="blue")))[80]

    assert "set $backend notes-production-blue;" in live
    assert "proxy_pass http://$backend:8000;" in live
    assert "add_header X-Gangway-Color blue always;" in live
    assert "green" not in live


def test_without_a_live_color_the_live_port_answers_503_json() -> None:
    live = server_blocks(router(Routes()))[80]

    assert "default_type application/json;" in live
    assert """return 503 '{"error":"no release deployed yet"}';""" in live
    assert "proxy_pass" not in live
    assert "Retry-After" not in live


def test_maintenance_answers_503_with_retry_after_even_with_a_live_color() -> None:
    live = server_blocks(router(Routes(live="green", maintenance=True), retry_after=120))[80]

    assert "add_header Retry-After 120 always;" in live
    assert "return 503 '" in live
    assert '"error":"maintenance"' in live
    assert "proxy_pass" not in live


def test_preview_server_listens_on_port_81_for_the_preview_color() -> None:
    blocks = server_blocks(router(Routes(live="blue", preview="green")))

    assert sorted(blocks) == [80, 81]
    assert "set $backend notes-production-green;" in blocks[81]
    assert "proxy_pass http://$backend:8000;" in blocks[81]
    assert "set $backend notes-production-blue;" in blocks[80]


def test_preview_port_answers_503_when_there_is_nothing_to_preview() -> None:
    preview = server_blocks(router(Routes(live="blue")))[81]

    assert """return 503 '{"error":"nothing to preview"}';""" in preview
    assert "proxy_pass" not in preview


def test_worker_shutdown_timeout_is_the_drain_time() -> None:
    assert "\nworker_shutdown_timeout 45s;\n" in router(Routes(live="blue"), drain_seconds=45)
    assert "\nworker_shutdown_timeout 7s;\n" in proxy_config(TARGET, drain_seconds=7)


def test_names_resolve_through_docker_dns_at_request_time() -> None:
    for config in (router(Routes(live="blue")), proxy_config(TARGET, drain_seconds=30)):
        assert "resolver 127.0.0.11 valid=5s ipv6=off;" in config
        # A literal host in proxy_pass is resolved once at start; a variable, per request.
        targets = re.findall(r"proxy_pass (\S+);", config)
        assert targets
        assert all(target.startswith("http://$") for target in targets), targets


def test_proxy_never_names_a_color_only_the_router() -> None:
    config = proxy_config(TARGET, drain_seconds=30)

    assert "blue" not in config
    assert "green" not in config
    assert "set $router notes-production-router;" in config
    assert "proxy_pass http://$router:80;" in config
    assert list(server_blocks(config)) == [80]


def test_each_nginx_keeps_its_pid_file_apart_under_tmp() -> None:
    assert "\npid /tmp/router.pid;\n" in router(Routes())
    assert "\npid /tmp/proxy.pid;\n" in proxy_config(TARGET, drain_seconds=30)


def test_proxy_closes_nothing_to_the_router_early_and_reuses_no_upstream_connection() -> None:
    config = proxy_config(TARGET, drain_seconds=30)

    assert 'proxy_set_header Connection "";' in config
    assert "keepalive_timeout 65s;" in config
    assert "upstream" not in config


def _ports_free(*ports: int) -> bool:
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    return False
                raise
    return True


# `nginx -t` does more than parse: it creates the pid file and the temp directories and
# binds every `listen` port (80 and 81 here). That needs root and free ports on the host;
# elsewhere the test is skipped rather than rewriting the ports it is meant to check.
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed on this host")
@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="nginx -t binds ports 80/81 and creates its temp paths: needs root",
)
@pytest.mark.parametrize(
    ("role", "render"),
    [
        ("router", lambda: router(Routes(live="blue", preview="green"))),
        ("router", lambda: router(Routes())),
        ("router", lambda: router(Routes(live="green", maintenance=True))),
        ("proxy", lambda: proxy_config(TARGET, drain_seconds=30)),
    ],
    ids=["router-live-and-preview", "router-empty", "router-maintenance", "proxy"],
)
def test_rendered_config_passes_nginx_t(
    tmp_path: Path, role: str, render: Callable[[], str]
) -> None:
    if not _ports_free(80, 81):
        pytest.skip("ports 80/81 are taken on this host; nginx -t would fail to bind them")
    text = render()
    # The pid file moves into tmp_path so the test neither collides with another run's
    # /tmp/<role>.pid nor leaves a root-owned file behind; everything else is as rendered.
    pid_line = f"pid /tmp/{role}.pid;"
    assert pid_line in text
    path = tmp_path / f"{role}.conf"
    path.write_text(text.replace(pid_line, f"pid {tmp_path / role}.pid;"), encoding="utf-8")
    assert NGINX is not None

    result = subprocess.run(
        [NGINX, "-t", "-c", str(path), "-p", f"{tmp_path}/", "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_live_route_logs_each_status_to_its_colors_file_and_preview_does_not() -> None:
    from gangway.commands.nginx import status_log

    config = router_config(TARGET, Routes(live="green", preview="blue"), app_port=8000,
                           drain_seconds=30)  # fmt: skip

    assert "log_format gangway_status '$status';" in config
    assert f"access_log {status_log('green')} gangway_status;" in config
    assert status_log("blue") not in config


def test_statuses_are_counted_with_their_5xx() -> None:
    from gangway.commands.nginx import count_statuses

    assert count_statuses("200\n500\n\n502\n404\n201\n") == (5, 2)
    assert count_statuses("") == (0, 0)
