"""The HTTP application: health, readiness, metrics and the notes resource."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any

from alembic.script import ScriptDirectory
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sample_app import __version__
from sample_app.db import alembic_config, check_database, current_revisions, make_engine
from sample_app.logs import request_id_var
from sample_app.metrics import UNMATCHED_ROUTE, HttpMetrics
from sample_app.models import TITLE_MAX_LENGTH, Note
from sample_app.settings import Settings

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
access_log = logging.getLogger("sample_app.access")
log = logging.getLogger("sample_app.web")


@dataclass
class ServiceState:
    """What the endpoints share: settings, database, metrics, and whether we are draining."""

    settings: Settings
    engine: Engine
    metrics: HttpMetrics
    expected_heads: frozenset[str]
    known_revisions: frozenset[str]
    sessions: sessionmaker[Session] = field(init=False)
    # Set from the SIGTERM handler; only ever goes from False to True.
    draining: bool = False

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def start_draining(self) -> None:
        """Make /ready fail so the proxy stops sending new requests here."""
        self.draining = True


class NoteIn(BaseModel):
    """A note to create."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=TITLE_MAX_LENGTH)
    body: str = ""


class NoteOut(BaseModel):
    """A stored note."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    created_at: datetime


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Raw paths would give every note id its own time series; templates keep it bounded.
    return path if isinstance(path, str) else UNMATCHED_ROUTE


_PROBES = frozenset({"/health", "/ready", "/metrics"})


class FailingApi:
    """APP_FAULT=errors: answer 500 to everything but the probes (a bad release that
    passes its health checks and fails its users)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _PROBES:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"detail": "APP_FAULT=errors"}, status_code=500)
        await response(scope, receive, send)


class RequestObserver:
    """ASGI middleware: request id, access log line and metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        # Until a response starts, an escaping exception becomes a 500 further out.
        status_code = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.in_flight.dec()
            route = _route_template(scope)
            method = str(scope["method"])
            self.metrics.observe(method=method, route=route, status=status_code, seconds=seconds)
            client = scope.get("client")
            access_log.info(
                "%s %s %s",
                method,
                scope["path"],
                status_code,
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status_code,
                    "duration_ms": round(seconds * 1000, 2),
                    "client": f"{client[0]}:{client[1]}" if client else None,
                },
            )
            request_id_var.reset(token)


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def _session(request: Request) -> Iterator[Session]:
    with _state(request).sessions() as session:
        yield session


StateDep = Annotated[ServiceState, Depends(_state)]
SessionDep = Annotated[Session, Depends(_session)]


def create_app(settings: Settings) -> FastAPI:
    """Build the app; nothing connects to the database until a request needs it."""
    scripts = ScriptDirectory.from_config(alembic_config())
    service = ServiceState(
        settings=settings,
        engine=make_engine(settings),
        metrics=HttpMetrics(version=settings.app_version, environment=settings.app_env),
        expected_heads=frozenset(scripts.get_heads()),
        known_revisions=frozenset(rev.revision for rev in scripts.walk_revisions()),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        service.engine.dispose()

    app = FastAPI(
        title="gangway sample app",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    if settings.app_fault == "errors":
        # Added first so it sits inside the observer: its 500s are logged and counted.
        app.add_middleware(FailingApi)
    app.add_middleware(RequestObserver, metrics=service.metrics)

    @app.exception_handler(SQLAlchemyError)
    async def database_unavailable(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("database error: %s", type(exc).__name__, exc_info=exc)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    @app.get("/health")
    def health(state: StateDep) -> JSONResponse:
        """Liveness plus a database round trip; Docker's HEALTHCHECK calls this."""
        database = check_database(state.engine, state.settings)
        if state.settings.app_fault == "unhealthy":
            database = replace(database, ok=False, error="APP_FAULT=unhealthy")
        body: dict[str, Any] = {
            "status": "ok" if database.ok else "error",
            "version": state.settings.app_version,
            "environment": state.settings.app_env,
            "database": {"ok": database.ok, "latency_ms": database.latency_ms},
        }
        if database.error is not None:
            body["database"]["error"] = database.error
        return JSONResponse(body, status_code=200 if database.ok else 503)

    @app.get("/ready")
    def ready(state: StateDep) -> JSONResponse:
        """200 only when this instance should get traffic: DB up, schema current, not draining."""
        if state.draining:
            # Skip the database: a draining instance is out whatever the database says.
            return JSONResponse({"ready": False, "reasons": ["shutting down"]}, status_code=503)
        reasons = _readiness_problems(state)
        if state.settings.app_fault == "not-ready":
            reasons.append("APP_FAULT=not-ready")
        return JSONResponse(
            {"ready": not reasons, "reasons": reasons}, status_code=503 if reasons else 200
        )

    @app.get("/metrics")
    def metrics(state: StateDep) -> Response:
        """Prometheus scrape endpoint."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/notes", status_code=status.HTTP_201_CREATED)
    def create_note(note: NoteIn, session: SessionDep) -> NoteOut:
        """Store a note."""
        row = Note(title=note.title, body=note.body)
        session.add(row)
        session.commit()
        session.refresh(row)
        return NoteOut.model_validate(row)

    @app.get("/notes")
    def list_notes(
        session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
    ) -> list[NoteOut]:
        """The newest notes first."""
        rows = session.scalars(
            select(Note).order_by(Note.created_at.desc(), Note.id.desc()).limit(limit)
        )
        return [NoteOut.model_validate(row) for row in rows]

    @app.get("/notes/{note_id}")
    def get_note(note_id: int, session: SessionDep) -> NoteOut:
        """One note, or 404."""
        row = session.get(Note, note_id)
        if row is None:
            raise HTTPException(status_code=404, detail=f"note {note_id} not found")
        return NoteOut.model_validate(row)

    @app.get("/slow")
    async def slow(seconds: Annotated[float, Query(ge=0, le=10)]) -> dict[str, float]:
        """Answer after a delay without blocking a worker, to exercise draining."""
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    return app


def _readiness_problems(state: ServiceState) -> list[str]:
    database = check_database(state.engine, state.settings)
    if not database.ok:
        return [f"database unreachable: {database.error}"]
    try:
        with state.engine.connect() as connection:
            current = current_revisions(connection)
    except SQLAlchemyError as exc:
        return [f"cannot read the schema revision: {type(exc).__name__}"]
    if current == state.expected_heads:
        return []
    if current and not current <= state.known_revisions:
        # A newer release already migrated ahead of this code; its migrations are
        # written to stay compatible with the release before, which must keep serving
        # through the watch window and any rollback.
        return []
    shown = ", ".join(sorted(current)) or "none"
    expected = ", ".join(sorted(state.expected_heads))
    return [f"schema at revision {shown}, expected {expected} (run `migrate`)"]
