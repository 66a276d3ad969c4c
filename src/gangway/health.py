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


# /proc/net/tcp states: a connection the router has open to a color, answered or not.
# SYN_SENT counts too: an app whose listen queue is full drops the SYN, and the request
# still waits for it (it is the router's, and nobody else sees it).
_ESTABLISHED = "01"
_SYN_SENT = "02"
_OPEN = frozenset({_ESTABLISHED, _SYN_SENT})


def proc_address(ip: str) -> str:
    """An IPv4 address as /proc/net/tcp writes it (the bytes in host order: x86 and ARM
    are little-endian), e.g. 172.18.0.3 -> 030012AC."""
    parts = [int(part) for part in ip.split(".")]
    return "".join(f"{part:02X}" for part in reversed(parts))


def count_open_to(proc_net_tcp: str, addresses: frozenset[str], port: int) -> int:
    """Connections open from this network namespace (the router's) to `port` of any of
    `addresses`: the requests the router has in flight to a color, including the ones
    still waiting in the app's listen queue — whatever runs inside the app's image."""
    wanted = {f"{proc_address(ip)}:{port:04X}" for ip in addresses}
    count = 0
    for line in proc_net_tcp.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] == "sl":
            continue
        if fields[2].upper() in wanted and fields[3] in _OPEN:
            count += 1
    return count
