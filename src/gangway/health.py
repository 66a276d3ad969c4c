"""Readiness over HTTP under an anyio deadline, and in-flight counting from /proc/net/tcp."""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
import httpx


@dataclass(frozen=True)
class Probe:
    """The last answer of a poll: ready, or why not (refused, timed out, a status)."""

    ready: bool
    detail: str
    attempts: int
    elapsed: float


async def wait_until_ready(
    url: str,
    *,
    deadline: float,
    interval: float = 1.0,
    request_timeout: float = 5.0,
    client: httpx.AsyncClient | None = None,
) -> Probe:
    """Poll `url` until it answers 2xx or `deadline` seconds pass.

    Polls start fast and back off to `interval`, never sleeping past the deadline. A
    refused connection and a 503 are told apart in the result: the first means nothing
    listens yet, the second that the app runs but says it cannot serve.
    """
    own = client is None
    http = client or httpx.AsyncClient()
    started = time.monotonic()
    attempts = 0
    detail = "not polled"
    pause = min(0.1, interval)
    try:
        with anyio.move_on_after(deadline):
            while True:
                attempts += 1
                left = deadline - (time.monotonic() - started)
                try:
                    response = await http.get(url, timeout=max(0.1, min(request_timeout, left)))
                except httpx.ConnectError:
                    detail = "connection refused"
                except httpx.TimeoutException:
                    detail = f"no answer within {request_timeout:g}s"
                except httpx.HTTPError as exc:
                    detail = f"{type(exc).__name__}: {exc}"
                else:
                    if response.is_success:
                        return Probe(True, f"HTTP {response.status_code}", attempts,
                                     time.monotonic() - started)  # fmt: skip
                    detail = f"HTTP {response.status_code}: {response.text[:200].strip()}"
                left = deadline - (time.monotonic() - started)
                await anyio.sleep(max(0.0, min(pause, left)))
                pause = min(pause * 2, interval)
    finally:
        if own:
            await http.aclose()
    return Probe(False, detail, attempts, time.monotonic() - started)


_ESTABLISHED = "01"
_LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def count_in_flight(proc_net_tcp: str, port: int) -> int:
    """Established connections to `port` from outside the container.

    The router opens one connection per request and closes it with the response, so
    these are the requests still in flight. Connections from the container itself (its
    Docker health check) do not count.
    """
    count = 0
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1] or fields[0] == "sl":
            continue
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        remote_ip = fields[2].rsplit(":", 1)[0]
        if local_port == port and fields[3] == _ESTABLISHED and remote_ip not in _LOOPBACK:
            count += 1
    return count
