"""The nginx configurations of the proxy (public port) and the router (switches colors).

Two nginx containers stand in front of the app, because an nginx reload closes the
idle keep-alive connections of its clients, and a client that sends its next request
on such a connection at that moment sees it fail. The proxy owns the public port and
the clients' connections and is never reloaded by a deploy; it opens a new connection
to the router for every request. The router is reloaded to switch colors: its old
workers finish their in-flight requests (bounded by `worker_shutdown_timeout`), new
requests go to the new workers. Both resolve names through Docker's DNS at request
time, so either can start before the containers it points at exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from gangway.commands.docker import (
    LOG_DIR,
    PROXY_PORT,
    ROUTER_LIVE_PORT,
    ROUTER_PREVIEW_PORT,
    Color,
    Target,
)

_DOCKER_DNS = "127.0.0.11"

_MAIN = """\
# Written by gangway; changes are overwritten at the next deploy.
worker_processes 1;
pid /tmp/{role}.pid;
error_log stderr warn;
worker_shutdown_timeout {shutdown}s;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    server_tokens off;
    resolver {dns} valid=5s ipv6=off;
    resolver_timeout 2s;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_connect_timeout 5s;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
    client_max_body_size 10m;
    # One status per line, per color: the post-deploy watch reads the new color's
    # error rate from here, whatever the app exposes.
    log_format gangway_status '$status';
{servers}}}
"""

_UPSTREAM = """\
    server {{
        listen {port};
        {log}
        location / {{
            set $backend {backend};
            proxy_pass http://$backend:{backend_port};
            add_header X-Gangway-Color {color} always;
        }}
    }}
"""


def status_log(color: Color) -> str:
    """The router's log of the statuses the live `color` answered."""
    return f"{LOG_DIR}/{color}.log"


_UNAVAILABLE = """\
    server {{
        listen {port};
        location / {{
            default_type application/json;
            {extra}return 503 '{body}';
        }}
    }}
"""


@dataclass(frozen=True)
class Routes:
    """Where the router sends traffic: the live color, the preview color, maintenance."""

    live: Color | None = None
    preview: Color | None = None
    maintenance: bool = False


def router_config(
    target: Target, routes: Routes, *, app_port: int, drain_seconds: int, retry_after: int = 30
) -> str:
    """The router's whole nginx.conf for `routes`."""
    if routes.maintenance:
        live = _UNAVAILABLE.format(
            port=ROUTER_LIVE_PORT,
            extra=f"add_header Retry-After {retry_after} always;\n            ",
            body='{"error":"maintenance","detail":"down for maintenance, back soon"}',
        )
    elif routes.live is None:
        live = _UNAVAILABLE.format(
            port=ROUTER_LIVE_PORT, extra="", body='{"error":"no release deployed yet"}'
        )
    else:
        live = _UPSTREAM.format(
            port=ROUTER_LIVE_PORT,
            log=f"access_log {status_log(routes.live)} gangway_status;",
            backend=target.container(routes.live),
            backend_port=app_port,
            color=routes.live,
        )
    if routes.preview is None:
        preview = _UNAVAILABLE.format(
            port=ROUTER_PREVIEW_PORT, extra="", body='{"error":"nothing to preview"}'
        )
    else:
        preview = _UPSTREAM.format(
            port=ROUTER_PREVIEW_PORT,
            log="access_log off;",
            backend=target.container(routes.preview),
            backend_port=app_port,
            color=routes.preview,
        )
    return _MAIN.format(
        role="router", shutdown=drain_seconds, dns=_DOCKER_DNS, servers=live + "\n" + preview
    )


def proxy_config(target: Target, *, drain_seconds: int) -> str:
    """The proxy's nginx.conf: every request to the router, on a connection of its own."""
    server = f"""\
    server {{
        listen {PROXY_PORT};
        keepalive_timeout 65s;
        location / {{
            set $router {target.router};
            proxy_pass http://$router:{ROUTER_LIVE_PORT};
        }}
    }}
"""
    return _MAIN.format(role="proxy", shutdown=drain_seconds, dns=_DOCKER_DNS, servers=server)


def count_statuses(log: str) -> tuple[int, int]:
    """(requests, 5xx responses) in a status log."""
    statuses = [line.strip() for line in log.splitlines() if line.strip()]
    return len(statuses), sum(1 for status in statuses if status.startswith("5"))
