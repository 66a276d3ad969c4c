"""Readiness polling with an injected httpx transport, and in-flight counting from /proc."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from gangway.health import count_in_flight, wait_until_ready

URL = "http://127.0.0.1:8181/ready"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_for(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def answers(*responses: httpx.Response | type[httpx.RequestError]) -> Handler:
    """A handler giving `responses` in order (the last one forever); classes are raised."""
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, type):
            raise item("simulated", request=request)
        return item

    return handle


@pytest.mark.anyio
async def test_ready_on_the_third_answer_counts_every_attempt() -> None:
    handler = answers(
        httpx.ConnectError,
        httpx.Response(503, text='{"ready": false, "reasons": ["database"]}'),
        httpx.Response(200, json={"ready": True}),
    )
    async with client_for(handler) as client:
        probe = await wait_until_ready(URL, deadline=5, interval=0.05, client=client)

    assert probe.ready
    assert probe.detail == "HTTP 200"
    assert probe.attempts == 3


@pytest.mark.anyio
async def test_503_forever_is_not_ready_and_keeps_the_body_as_the_reason() -> None:
    body = '{"ready": false, "reasons": ["database unreachable"]}'
    async with client_for(answers(httpx.Response(503, text=body))) as client:
        probe = await wait_until_ready(URL, deadline=0.3, interval=0.05, client=client)

    assert not probe.ready
    assert probe.detail == f"HTTP 503: {body}"
    assert probe.attempts >= 2


@pytest.mark.anyio
async def test_refused_connection_is_told_apart_from_a_503() -> None:
    async with client_for(answers(httpx.ConnectError)) as client:
        refused = await wait_until_ready(URL, deadline=0.3, interval=0.05, client=client)
    async with client_for(answers(httpx.Response(503, text="starting"))) as client:
        unavailable = await wait_until_ready(URL, deadline=0.3, interval=0.05, client=client)

    assert not refused.ready
    assert refused.detail == "connection refused"
    assert unavailable.detail == "HTTP 503: starting"


@pytest.mark.anyio
async def test_a_timed_out_poll_says_it_got_no_answer() -> None:
    async with client_for(answers(httpx.ReadTimeout)) as client:
        probe = await wait_until_ready(
            URL, deadline=0.3, interval=0.05, request_timeout=2, client=client
        )

    assert not probe.ready
    assert probe.detail == "no answer within 2s"


@pytest.mark.anyio
async def test_other_transport_errors_are_named() -> None:
    async with client_for(answers(httpx.RemoteProtocolError)) as client:
        probe = await wait_until_ready(URL, deadline=0.3, interval=0.05, client=client)

    assert probe.detail == "RemoteProtocolError: simulated"


@pytest.mark.anyio
async def test_polling_stops_at_the_deadline() -> None:
    async with client_for(answers(httpx.Response(503))) as client:
        probe = await wait_until_ready(URL, deadline=0.3, interval=1.0, client=client)

    assert not probe.ready
    # A sanity bound only: the deadline ends the poll instead of the interval.
    assert 0.25 <= probe.elapsed < 0.3 + 2.0


@pytest.mark.anyio
async def test_an_injected_client_is_left_open_for_its_owner() -> None:
    client = client_for(answers(httpx.Response(204)))
    probe = await wait_until_ready(URL, deadline=1, client=client)

    assert probe.ready
    assert probe.detail == "HTTP 204"
    assert not client.is_closed
    await client.aclose()


@pytest.mark.anyio
async def test_polls_the_given_url() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    async with client_for(handle) as client:
        await wait_until_ready(URL, deadline=1, client=client)

    assert seen == [URL]


# /proc/net/tcp of an app container listening on 8000 (0x1F40): the router at 172.18.0.3
# has two requests in flight, one just finished (TIME_WAIT), the Docker health check
# talks over loopback, and the app holds a connection to PostgreSQL (remote port 5432).
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41234 1 0000000000000000 100 0 0 10 0
   1: 020012AC:1F40 030012AC:D2F4 01 00000000:00000000 00:00000000 00000000  1000        0 41301 1 0000000000000000 20 4 30 10 -1
   2: 020012AC:1F40 030012AC:D2F6 01 00000000:00000000 00:00000000 00000000  1000        0 41302 1 0000000000000000 20 4 30 10 -1
   3: 020012AC:1F40 030012AC:D2F0 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   4: 0100007F:1F40 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 41310 1 0000000000000000 20 4 30 10 -1
   5: 020012AC:C350 040012AC:1538 01 00000000:00000000 00:00000000 00000000  1000        0 41320 1 0000000000000000 20 4 30 10 -1
"""  # noqa: E501

# /proc/net/tcp6 of the same container: one request from the router over IPv4-mapped
# IPv6, a health check from ::1 and another from ::ffff:127.0.0.1, a listener.
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41235 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF0000020012AC:1F40 0000000000000000FFFF0000030012AC:D300 01 00000000:00000000 00:00000000 00000000  1000        0 41330 1 0000000000000000 20 4 30 10 -1
   2: 00000000000000000000000001000000:1F40 00000000000000000000000001000000:B000 01 00000000:00000000 00:00000000 00000000  1000        0 41331 1 0000000000000000 20 4 30 10 -1
   3: 0000000000000000FFFF00000100007F:1F40 0000000000000000FFFF00000100007F:B002 01 00000000:00000000 00:00000000 00000000  1000        0 41332 1 0000000000000000 20 4 30 10 -1
"""  # noqa: E501


def test_counts_established_connections_from_outside_on_the_app_port() -> None:
    assert count_in_flight(PROC_NET_TCP, 8000) == 2


def test_listen_and_time_wait_are_not_in_flight() -> None:
    listening_and_closing = "\n".join(
        line for line in PROC_NET_TCP.splitlines() if " 0A " in line or " 06 " in line
    )
    assert count_in_flight(listening_and_closing, 8000) == 0


def test_loopback_health_checks_do_not_count_in_either_table() -> None:
    loopback_only = "\n".join(
        line
        for line in (PROC_NET_TCP + PROC_NET_TCP6).splitlines()
        if "0100007F:A1B2" in line or ":B000" in line or ":B002" in line
    )
    assert loopback_only.count("\n") == 2
    assert count_in_flight(loopback_only, 8000) == 0


def test_ipv6_table_counts_ipv4_mapped_requests() -> None:
    assert count_in_flight(PROC_NET_TCP6, 8000) == 1


def test_both_tables_concatenated_as_cat_prints_them() -> None:
    assert count_in_flight(PROC_NET_TCP + PROC_NET_TCP6, 8000) == 3


def test_connections_on_other_ports_are_not_counted() -> None:
    # The PostgreSQL connection is established, but its local port is not the app's.
    assert count_in_flight(PROC_NET_TCP, 50000) == 1
    assert count_in_flight(PROC_NET_TCP + PROC_NET_TCP6, 8080) == 0


def test_empty_or_header_only_output_has_nothing_in_flight() -> None:
    assert count_in_flight("", 8000) == 0
    assert count_in_flight(PROC_NET_TCP.splitlines()[0], 8000) == 0
