"""The load generator against a real in-process HTTP/1.1 server: counts, keep-alive, failures."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import urlsplit

import pytest

from tests.support.load import LoadGenerator, LoadSummary, Sample, percentile, summarize


class _Server(ThreadingHTTPServer):
    """Counts connections and hits per path; `/flaky` answers 500 while `failing` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.connections = 0
        self.hits: Counter[str] = Counter()
        self.failing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections open between requests, which the generator must reuse.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's
    # delayed ACK and every request takes ~40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        server = cast(_Server, self.server)
        with server.lock:
            server.connections += 1

    def do_GET(self) -> None:
        server = cast(_Server, self.server)
        path = urlsplit(self.path).path
        with server.lock:
            server.hits[path] += 1
            failing = server.failing
        if path == "/drop":
            self.close_connection = True
            return
        if path == "/slow":
            time.sleep(0.5)
        status = 500 if path == "/fail" or (path == "/flaky" and failing) else 200
        body = b"ok\n" if status == 200 else b"broken\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Thousands of requests per test would bury pytest's output.
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def poll(what: str, probe: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}", pytrace=False)
        time.sleep(0.02)


def sample(
    started: float,
    ms: float,
    status: int | None = 200,
    *,
    error: str | None = None,
    path: str = "/ok",
    slow: bool = False,
) -> Sample:
    return Sample(started, ms / 1000, None if error else status, error, path, slow)


# -- pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        ([50, 15, 40, 35, 20], 50, 35),
        ([7], 99, 7),
        (list(range(1, 101)), 0, 1),
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 99, 99),
        (list(range(1, 1001)), 99, 990),
        (list(range(1, 1001)), 99.9, 999),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_percentile_rejects_no_values_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summary_percentiles_on_a_known_distribution_ignore_slow_requests() -> None:
    samples = [sample(float(n), ms=n) for n in range(1, 101)]
    samples += [sample(200.0, ms=3000, path="/slow", slow=True)]
    samples += [sample(201.0, ms=3000, path="/slow", slow=True, error="ReadTimeout")]

    result = summarize(samples)

    assert (result.p50_ms, result.p99_ms, result.max_ms) == pytest.approx((50, 99, 100))
    assert (result.requests, result.failed) == (102, 1)
    assert (result.slow_completed, result.slow_failed) == (1, 1)


def test_summary_window_counts_samples_by_start_time() -> None:
    samples = [
        sample(1.0, ms=10),
        sample(2.0, ms=5000, status=503),  # starts before the window, ends inside it
        sample(3.0, ms=10, error="ConnectError: [Errno 111] Connection refused"),
        sample(4.0, ms=10, status=500),
        sample(5.0, ms=10),  # exactly at the end: belongs to the next window
    ]

    before = summarize(samples, None, 3.0)
    during = summarize(samples, 3.0, 5.0)
    after = summarize(samples, 5.0)

    assert (before.requests, before.failed, before.non_2xx) == (2, 1, 1)
    assert (during.requests, during.failed, during.non_2xx) == (2, 2, 1)
    assert during.errors == Counter({"ConnectError": 1})
    assert during.error_examples == ("GET /ok: ConnectError: [Errno 111] Connection refused",)
    assert (after.requests, after.failed) == (1, 0)


def test_empty_summary_has_zero_latency_and_a_readable_line() -> None:
    result = summarize([])

    assert result == LoadSummary(requests=0, failed=0, non_2xx=0)
    assert result.line().startswith("0 requests, 0 failed")


def test_slow_path_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="slow_every"):
        LoadGenerator("http://127.0.0.1:9", slow_path="/slow")


# -- against the server ------------------------------------------------------------------


def test_requests_are_counted_over_reused_keep_alive_connections(server: _Server) -> None:
    with LoadGenerator(server.url, clients=4, paths=("/ok",)) as load:
        load.wait_for_requests(2000, timeout=60)
    result = load.summary()

    assert result.requests >= 2000
    assert result.requests == server.hits["/ok"]
    assert (result.failed, result.non_2xx, result.errors) == (0, 0, Counter())
    assert server.connections <= 4
    assert server.connections < result.requests / 10
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert "failed" in result.line()


def test_500_is_a_non_2xx_failure_not_a_transport_error(server: _Server) -> None:
    with LoadGenerator(server.url, clients=2, paths=("/ok", "/fail")) as load:
        load.wait_for_requests(200, timeout=30)
    result = load.summary()
    failures = [s for s in load.samples() if s.path == "/fail"]

    assert failures
    assert all(s.status == 500 and s.failed for s in failures)
    assert result.non_2xx == result.failed == len(failures)
    assert result.errors == Counter()


def test_dropped_connection_is_a_failed_transport_error(server: _Server) -> None:
    with LoadGenerator(server.url, clients=1, paths=("/ok", "/drop")) as load:
        load.wait_for_requests(100, timeout=30)
    result = load.summary()
    dropped = [s for s in load.samples() if s.path == "/drop"]

    assert dropped
    assert all(s.failed and s.status is None and s.error for s in dropped)
    assert all(not s.failed for s in load.samples() if s.path == "/ok")
    assert result.failed == sum(result.errors.values()) == len(dropped)
    assert result.non_2xx == 0
    assert set(result.errors) == {"RemoteProtocolError"}
    assert len(result.error_examples) == 5
    assert "RemoteProtocolError×" in result.line()


def test_slow_requests_overlap_and_finish_before_stop_returns(server: _Server) -> None:
    with LoadGenerator(
        server.url, clients=2, paths=("/ok",), slow_path="/slow?seconds=0.5", slow_every=0.1
    ) as load:
        poll("five slow requests to complete", lambda: load.summary().slow_completed >= 5)
    slow = sorted((s for s in load.samples() if s.slow), key=lambda s: s.started)
    result = load.summary()
    regular = [s.duration * 1000 for s in load.samples() if not s.slow]

    # stop() waited for the slow requests in flight: every one the server saw is recorded.
    assert len(slow) == server.hits["/slow"] == result.slow_completed
    assert result.slow_failed == 0
    assert all(s.path == "/slow?seconds=0.5" for s in slow)
    assert any(later.started < earlier.ended for earlier, later in itertools.pairwise(slow))
    assert result.max_ms == pytest.approx(max(regular))


def test_window_between_marks_holds_the_outage(server: _Server) -> None:
    clients = 3
    with LoadGenerator(server.url, clients=clients, paths=("/flaky",)) as load:
        load.wait_for_requests(300, timeout=30)
        outage_start = load.mark("outage-start")
        server.failing = True
        load.wait_for_requests(len(load.samples()) + 300, timeout=30)
        server.failing = False
        outage_end = load.mark("outage-end")
        load.wait_for_requests(len(load.samples()) + 300, timeout=30)
    before = load.summary(end=outage_start)
    during = load.summary(outage_start, outage_end)
    after = load.summary(start=outage_end)
    everything = load.summary()

    assert load.marks == {"outage-start": outage_start, "outage-end": outage_end}
    assert before.requests + during.requests + after.requests == everything.requests
    assert during.requests == sum(outage_start <= s.started < outage_end for s in load.samples())
    # Only a request already in flight when the flag flipped can land on the other side.
    assert before.failed <= clients
    assert after.failed <= clients
    assert during.failed >= during.requests - 2 * clients
    assert during.failed > 0


def test_generator_stops_itself_after_max_seconds(server: _Server) -> None:
    load = LoadGenerator(server.url, clients=2, paths=("/ok",), max_seconds=0.3)
    load.start()
    try:
        poll("the generator to stop on its own", lambda: not load.running)
        with pytest.raises(RuntimeError, match="stopped after"):
            load.wait_for_requests(10**9, timeout=30)
    finally:
        load.stop()
    assert load.summary().requests > 0


def test_wait_for_requests_gives_up_at_its_deadline(server: _Server) -> None:
    with (
        LoadGenerator(server.url, clients=1, paths=("/slow",)) as load,
        pytest.raises(TimeoutError, match="of 1000000 requests"),
    ):
        load.wait_for_requests(1_000_000, timeout=0.2)
