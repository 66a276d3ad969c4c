"""A bare stdlib HTTP app for the tests: port 9000, /healthz and /readyz, a small backlog."""

# Deliberately unlike the sample app (README.md here says how and why); it runs
# from a scratch image with nothing but the interpreter, so it imports the stdlib only.

from __future__ import annotations

import os
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULTS = ("", "unhealthy", "crash", "errors")
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@dataclass(frozen=True)
class Settings:
    """What the environment asks of this process."""

    host: str = "0.0.0.0"
    port: int = 9000
    version: str = "0.0.0"
    fault: str = ""
    drain_seconds: float = 0.0
    backlog: int = 4
    access_log: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        fault = environ.get("FAULT", "").strip().lower()
        if fault not in FAULTS:
            raise ValueError(f"FAULT must be one of {', '.join(f for f in FAULTS if f)}")
        return cls(
            host=environ.get("HOST", cls.host),
            port=int(environ.get("PORT", cls.port)),
            version=environ.get("VERSION", cls.version),
            fault=fault,
            drain_seconds=float(environ.get("DRAIN_SECONDS", cls.drain_seconds)),
            backlog=int(environ.get("LISTEN_BACKLOG", cls.backlog)),
            access_log=environ.get("ACCESS_LOG", "") == "1",
        )


class InFlight:
    """Counts requests between their first line and their last byte, so a drain can wait."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1

    def __exit__(self, *_: object) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    @property
    def count(self) -> int:
        with self._changed:
            return self._count

    def wait_idle(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._count == 0)


class BareServer(ThreadingHTTPServer):
    """A threading server whose listen backlog is the configured one, not Python's 5."""

    def __init__(self, settings: Settings) -> None:
        # socketserver reads the backlog from this attribute when it calls listen().
        self.request_queue_size = settings.backlog
        self.settings = settings
        self.in_flight = InFlight()
        self.draining = threading.Event()
        super().__init__((settings.host, settings.port), Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN: a DNS round trip at start for a
        # name nobody reads, and one more library a scratch image would need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]  # type: ignore[assignment]


class Handler(BaseHTTPRequestHandler):
    """The endpoints; every answer has a length, so HTTP/1.1 connections stay open."""

    protocol_version = "HTTP/1.1"
    server: BareServer
    server_version = "bare"
    sys_version = ""

    def do_GET(self) -> None:
        with self.server.in_flight:
            self._route()

    def _route(self) -> None:
        settings = self.server.settings
        url = urlsplit(self.path)
        if url.path == "/healthz":
            if settings.fault == "unhealthy":
                self._answer(500, "unhealthy\n")
            else:
                self._answer(200, "ok\n")
        elif url.path == "/readyz":
            if self.server.draining.is_set():
                self._answer(503, "draining\n")
            else:
                self._answer(200, "ready\n")
        elif settings.fault == "errors":
            self._answer(500, "error\n")
        elif url.path == "/":
            self._answer(200, settings.version)
        elif url.path == "/slow":
            try:
                seconds = float(parse_qs(url.query).get("s", ["1"])[0])
            except ValueError:
                self._answer(400, "s must be a number of seconds\n")
                return
            # Said out loud so a test knows the request reached this process (and which).
            log(f"{settings.version} slow request started ({seconds:g}s)")
            time.sleep(max(0.0, seconds))
            self._answer(200, f"slept {seconds:g}\n")
        else:
            self._answer(404, "not found\n")

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if self.server.draining.is_set():
            # Clients on keep-alive connections must go elsewhere for their next request.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Eight clients in a loop would fill `docker logs` with access lines.
        if self.server.settings.access_log:
            super().log_message(format, *args)


def log(message: str) -> None:
    print(f"bare: {message}", file=sys.stderr, flush=True)


def serve(server: BareServer) -> int:
    """Serve until SIGTERM or SIGINT, then drain: the exit code of the process."""
    settings = server.settings
    # Blocked before any thread starts, so every thread inherits the mask and the signal
    # stays pending for sigwait below. With a handler instead, a signal the kernel hands to
    # a worker thread would not wake a main thread blocked on a lock.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    loop = threading.Thread(target=server.serve_forever, name="accept", daemon=True)
    loop.start()
    log(f"{settings.version} listening on {settings.host}:{server.server_port} "
        f"(backlog {settings.backlog})")  # fmt: skip
    received = signal.Signals(signal.sigwait(STOP_SIGNALS)).name
    server.draining.set()
    if settings.drain_seconds > 0:
        # The slow drainer: still accepting and answering (but not ready) for a while.
        log(f"{received}: not ready, still serving for {settings.drain_seconds:g}s")
        time.sleep(settings.drain_seconds)
    server.shutdown()
    # Stop accepting: connections still queued in the backlog are refused from here on.
    server.socket.close()
    log(f"{received}: stopped accepting; waiting for {server.in_flight.count} request(s) "
        "in flight")  # fmt: skip
    server.in_flight.wait_idle()
    log("drained, exiting 0")
    return 0


def main(environ: Mapping[str, str] = os.environ) -> int:
    try:
        settings = Settings.from_environ(environ)
    except ValueError as exc:
        log(f"bad environment: {exc}")
        return 2
    if settings.fault == "crash":
        log("FAULT=crash: exiting at start")
        return 3
    for signum in STOP_SIGNALS:
        # Never called (the signals stay blocked), but as PID 1 of a container a signal
        # whose action is the default one would not even be queued.
        signal.signal(signum, lambda *_: None)
    with BareServer(settings) as server:
        return serve(server)


if __name__ == "__main__":
    sys.exit(main())
