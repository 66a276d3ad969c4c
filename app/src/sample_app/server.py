"""Run the app under uvicorn and drain it gracefully on SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import socket
import time
from pathlib import Path
from types import FrameType

import uvicorn

from sample_app.settings import Settings
from sample_app.web import ServiceState, create_app

log = logging.getLogger("sample_app.server")


class DrainingServer(uvicorn.Server):
    """A uvicorn server that marks the app as draining the moment a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, service: ServiceState) -> None:
        super().__init__(config)
        self.service = service
        self.signalled_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # No logging here: this runs inside a signal handler, possibly mid-write of
        # another log line. Flip the flag first so /ready fails from now on.
        self.service.start_draining()
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        log.info(
            "shutdown started: no new connections, draining in-flight requests",
            extra={
                "in_flight": len(self.server_state.tasks),
                "timeout_s": self.config.timeout_graceful_shutdown,
            },
        )
        await super().shutdown(sockets)


def _ignore_resent_signal(_sig: int, _frame: FrameType | None) -> None:
    """Swallow the stop signal uvicorn re-raises after a graceful exit."""


def serve(settings: Settings, *, reload: bool = False) -> int:
    """Serve until stopped; return the process exit code."""
    if reload:
        # uvicorn's reloader needs an import string and runs the app in a child process.
        uvicorn.run(
            "sample_app.__main__:create_app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            reload=True,
            reload_dirs=[str(Path(__file__).resolve().parent)],
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=settings.shutdown_timeout,
        )
        return 0

    app = create_app(settings)
    service: ServiceState = app.state.service
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    server = DrainingServer(config, service)
    # uvicorn re-raises the captured signal after shutting down, to let a previous
    # handler run. Under the default handler SIGTERM would then kill us (exit 143)
    # after a clean drain; as PID 1 that would report failure for a normal stop.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _ignore_resent_signal)
    log.info(
        "starting",
        extra={
            "version": settings.app_version,
            "environment": settings.app_env,
            "host": settings.host,
            "port": settings.port,
        },
    )
    server.run()
    if server.signalled_at is not None:
        log.info(
            "shutdown complete",
            extra={"duration_s": round(time.monotonic() - server.signalled_at, 3)},
        )
    return 0 if server.started else 1
