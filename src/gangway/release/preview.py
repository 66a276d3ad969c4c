"""Where the deployer reaches a new color before any user does, and how routes read."""

from __future__ import annotations

from urllib.parse import urlsplit

from gangway.commands.nginx import Routes
from gangway.config import EnvironmentConfig


def describe_routes(routes: Routes) -> str:
    """`live=blue preview=green`, `maintenance`, for progress lines and plans."""
    live = "maintenance" if routes.maintenance else f"live={routes.live or 'none'}"
    return f"{live} preview={routes.preview or 'none'}"


_WILDCARD = frozenset({"0.0.0.0", "::"})  # noqa: S104 - recognising the bind-all address
_LOOPBACK = frozenset({"127.0.0.1", "::1"})


def preview_host(env: EnvironmentConfig) -> str:
    """Where the deployer reaches the preview port: the bind address, or for a loopback
    or wildcard bind on a remote engine, that engine's host."""
    address = env.address
    if address in _WILDCARD | _LOOPBACK and env.docker_host.startswith(("ssh://", "tcp://")):
        host = urlsplit(env.docker_host).hostname
        if host and host != "localhost":
            return f"[{host}]" if ":" in host else host
    if address in _WILDCARD:
        return "127.0.0.1"
    return f"[{address}]" if ":" in address else address
