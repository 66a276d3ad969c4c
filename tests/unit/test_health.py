"""Readiness polling with an injected httpx transport, and in-flight counting from /proc."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from gangway.health import count_open_to, proc_address, wait_until_ready

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


# /proc/net/tcp of the router (172.18.0.3), seen from its own network namespace. The old
# color is 172.18.0.2 (app port 8000 = 0x1F40), the new one 172.18.0.4: two requests in
# flight to the old color, one waiting in its full listen queue (SYN_SENT), one just
# finished (TIME_WAIT); one to the new color; the proxy's request to the router itself
# (local port 80); a connection to the old color on another port.
ROUTER_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0
   1: 030012AC:D2F4 020012AC:1F40 01 00000000:00000000 00:00000000 00000000   101        0 41301 1 0000000000000000 20 4 30 10 -1
   2: 030012AC:D2F6 020012AC:1F40 01 00000000:00000000 00:00000000 00000000   101        0 41302 1 0000000000000000 20 4 30 10 -1
   3: 030012AC:D2F8 020012AC:1F40 02 00000000:00000000 01:00000100 00000000   101        0 41303 1 0000000000000000 20 4 30 10 -1
   4: 030012AC:D2F0 020012AC:1F40 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   5: 030012AC:D300 040012AC:1F40 01 00000000:00000000 00:00000000 00000000   101        0 41310 1 0000000000000000 20 4 30 10 -1
   6: 030012AC:0050 050012AC:B000 01 00000000:00000000 00:00000000 00000000   101        0 41320 1 0000000000000000 20 4 30 10 -1
   7: 030012AC:D302 020012AC:1538 01 00000000:00000000 00:00000000 00000000   101        0 41321 1 0000000000000000 20 4 30 10 -1
"""  # noqa: E501
OLD = frozenset({"172.18.0.2"})


def test_an_address_is_written_as_proc_net_tcp_writes_it() -> None:
    assert proc_address("172.18.0.3") == "030012AC"
    assert proc_address("10.0.0.1") == "0100000A"


def test_counts_what_the_router_has_open_to_the_color_waiting_ones_included() -> None:
    # two answered, one waiting in the listen queue; not the one in TIME_WAIT
    assert count_open_to(ROUTER_TCP, OLD, 8000) == 3


def test_the_other_color_the_proxy_and_other_ports_do_not_count() -> None:
    assert count_open_to(ROUTER_TCP, frozenset({"172.18.0.4"}), 8000) == 1
    assert count_open_to(ROUTER_TCP, OLD, 5432) == 1
    assert count_open_to(ROUTER_TCP, frozenset({"172.18.0.9"}), 8000) == 0


def test_a_color_on_two_networks_counts_on_both() -> None:
    assert count_open_to(ROUTER_TCP, frozenset({"172.18.0.2", "172.18.0.4"}), 8000) == 4


def test_empty_or_header_only_output_has_nothing_open() -> None:
    assert count_open_to("", OLD, 8000) == 0
    assert count_open_to(ROUTER_TCP.splitlines()[0], OLD, 8000) == 0
