"""Steady HTTP load from worker threads, recorded per request, to judge a live traffic switch."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import httpx

#: How long stop() waits for a worker beyond one request timeout before giving up on it.
_JOIN_GRACE = 5.0
_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Sample:
    """One GET: when it started (time.monotonic), how long it took, and how it ended."""

    started: float
    duration: float
    status: int | None
    error: str | None
    path: str
    slow: bool

    @property
    def failed(self) -> bool:
        """A transport error or any status outside 2xx: what a client would count as an outage."""
        return self.error is not None or self.status is None or not 200 <= self.status < 300

    @property
    def ended(self) -> float:
        return self.started + self.duration


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q% of `values` at or below it."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100 (got {q})")
    ordered = sorted(values)
    # Rounded first: 99.9 / 100 * 1000 is 999.0000000000001 in floats, whose ceiling is 1000.
    rank = max(1, math.ceil(round(q * len(ordered) / 100, 9)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LoadSummary:
    """Counts and latencies of the samples in one window.

    `requests`, `failed`, `non_2xx` and `errors` count every sample, slow ones included;
    the latency percentiles cover only the regular samples, since the deliberately slow
    requests would otherwise be the p99; `slow_completed`/`slow_failed` count those.
    """

    requests: int
    failed: int
    non_2xx: int
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: tuple[str, ...] = ()
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    slow_completed: int = 0
    slow_failed: int = 0

    def line(self) -> str:
        errors = ", ".join(f"{kind}×{count}" for kind, count in self.errors.most_common(_EXAMPLES))
        return (
            f"{self.requests} requests, {self.failed} failed ({self.non_2xx} non-2xx, "
            f"{sum(self.errors.values())} errors{': ' + errors if errors else ''}); "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms; "
            f"slow {self.slow_completed} ok / {self.slow_failed} failed"
        )


def in_window(sample: Sample, start: float | None, end: float | None) -> bool:
    """A sample belongs to the window its start falls in, [start, end), so windows partition."""
    return (start is None or sample.started >= start) and (end is None or sample.started < end)


def summarize(
    samples: Iterable[Sample], start: float | None = None, end: float | None = None
) -> LoadSummary:
    """Counts and latencies of the samples that started in [start, end) (open where None)."""
    chosen = [s for s in samples if in_window(s, start, end)]
    errors: Counter[str] = Counter()
    examples: list[str] = []
    for sample in chosen:
        if sample.error is None:
            continue
        errors[sample.error.split(":", 1)[0]] += 1
        if len(examples) < _EXAMPLES:
            examples.append(f"GET {sample.path}: {sample.error}")
    latencies = [s.duration * 1000 for s in chosen if not s.slow]
    return LoadSummary(
        requests=len(chosen),
        failed=sum(s.failed for s in chosen),
        non_2xx=sum(s.status is not None and not 200 <= s.status < 300 for s in chosen),
        errors=errors,
        error_examples=tuple(examples),
        # An empty window has no latency; 0.0 keeps the fields plain floats.
        p50_ms=percentile(latencies, 50) if latencies else 0.0,
        p99_ms=percentile(latencies, 99) if latencies else 0.0,
        max_ms=max(latencies, default=0.0),
        slow_completed=sum(s.slow and not s.failed for s in chosen),
        slow_failed=sum(s.slow and s.failed for s in chosen),
    )


class LoadGenerator:
    """`clients` threads GET `paths` round-robin over keep-alive connections, no retries.

    With `slow_path`, another thread starts one request to it every `slow_every`
    seconds, each on a thread of its own, so slow requests overlap and some are always
    in flight. Everything stops after `max_seconds` even if stop() is never called.
    """

    def __init__(
        self,
        base_url: str,
        *,
        clients: int = 4,
        paths: Sequence[str] = ("/health",),
        slow_path: str | None = None,
        slow_every: float = 0.0,
        timeout: float = 30.0,
        max_seconds: float = 600.0,
    ) -> None:
        if clients < 1:
            raise ValueError(f"clients must be at least 1 (got {clients})")
        if not paths:
            raise ValueError("paths must name at least one path")
        if slow_path is not None and slow_every <= 0:
            raise ValueError(f"slow_every must be positive with a slow_path (got {slow_every})")
        self.base_url = base_url
        self.clients = clients
        self.paths = tuple(paths)
        self.slow_path = slow_path
        self.slow_every = slow_every
        self.timeout = timeout
        self.max_seconds = max_seconds
        self._samples: list[Sample] = []
        self._marks: dict[str, float] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deadline = math.inf

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> LoadGenerator:
        if self._threads:
            raise RuntimeError("LoadGenerator already started")
        self._deadline = time.monotonic() + self.max_seconds
        self._threads = [
            threading.Thread(target=self._work, args=(n,), name=f"load-{n}", daemon=True)
            for n in range(self.clients)
        ]
        if self.slow_path is not None:
            self._threads.append(
                threading.Thread(target=self._schedule_slow, name="load-slow", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop issuing requests and wait (bounded) for the ones in flight to be recorded."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        deadline = time.monotonic() + self.timeout + _JOIN_GRACE
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> LoadGenerator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- observations ----------------------------------------------------------------

    def mark(self, label: str) -> float:
        """Remember `label` at the current monotonic time and return that time."""
        now = time.monotonic()
        with self._changed:
            self._marks[label] = now
        return now

    @property
    def marks(self) -> dict[str, float]:
        with self._changed:
            return dict(self._marks)

    def samples(self) -> list[Sample]:
        with self._changed:
            return list(self._samples)

    def summary(self, start: float | None = None, end: float | None = None) -> LoadSummary:
        """Summary of the samples that started in [start, end) (open where None)."""
        return summarize(self.samples(), start, end)

    def wait_for_requests(self, n: int, timeout: float) -> int:
        """Block until at least `n` samples are recorded; return how many there are."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._samples) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._samples)} of {n} requests after {timeout:.0f}s")
                if self._stop.is_set():
                    raise RuntimeError(
                        f"load generator stopped after {len(self._samples)} of {n} requests"
                    )
                self._changed.wait(timeout=left)
            return len(self._samples)

    # -- threads ---------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        # One client per thread keeps connections per thread, as real callers have them.
        # trust_env=False: a proxy from the environment must never carry test traffic.
        return httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            transport=httpx.HTTPTransport(retries=0),
            trust_env=False,
        )

    def _keep_going(self) -> bool:
        if time.monotonic() >= self._deadline:
            self._stop.set()
        return not self._stop.is_set()

    def _work(self, worker: int) -> None:
        # Workers start at different paths so a short run still covers all of them.
        index = worker
        with self._client() as client:
            while self._keep_going():
                path = self.paths[index % len(self.paths)]
                index += 1
                self._record(self._get(client, path, slow=False))

    def _schedule_slow(self) -> None:
        assert self.slow_path is not None
        slow_path = self.slow_path
        in_flight: list[threading.Thread] = []
        with self._client() as client:
            while self._keep_going():
                thread = threading.Thread(
                    target=lambda: self._record(self._get(client, slow_path, slow=True)),
                    name="load-slow-request",
                    daemon=True,
                )
                thread.start()
                in_flight = [t for t in in_flight if t.is_alive()] + [thread]
                self._stop.wait(min(self.slow_every, max(0.0, self._deadline - time.monotonic())))
            # The client must outlive the requests still using it.
            for thread in in_flight:
                thread.join(timeout=self.timeout + _JOIN_GRACE)

    def _get(self, client: httpx.Client, path: str, *, slow: bool) -> Sample:
        started = time.monotonic()
        try:
            response = client.get(path)
        except httpx.HTTPError as exc:
            message = str(exc)
            error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
            return Sample(started, time.monotonic() - started, None, error, path, slow)
        return Sample(started, time.monotonic() - started, response.status_code, None, path, slow)

    def _record(self, sample: Sample) -> None:
        with self._changed:
            self._samples.append(sample)
            self._changed.notify_all()
