"""Prometheus metrics of one app instance, kept in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

UNMATCHED_ROUTE = "unmatched"
# Upper bounds fit a small API: most requests take milliseconds; /slow reaches 10 s.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    """The request counter, duration histogram, in-flight gauge and app_info of one app."""

    def __init__(self, *, version: str, environment: str) -> None:
        # Not the global registry: tests build several apps in one process.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to finishing its response, by method and route.",
            ("method", "route"),
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being handled right now.",
            registry=self.registry,
        )
        self.info = Gauge(
            "app_info",
            "Always 1; labels tell which version runs in which environment.",
            ("version", "environment"),
            registry=self.registry,
        )
        self.info.labels(version=version, environment=environment).set(1)

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(method=method, route=route, status=str(status)).inc()
        self.duration.labels(method=method, route=route).observe(seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return bytes(generate_latest(self.registry))
