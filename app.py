"""Build the FastAPI app: lifespan, middleware, error handlers, routers, `/` and health."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel

import db
from access.auth import authenticated, document_scopes, warn_if_no_keys
from access.routes import router as access_router
from ai.client import create_client
from ai.routes import router as ai_router
from audits.routes import router as audits_router
from errors import DatabaseUnavailable, install_error_handlers
from logs import configure_logging
from middleware import RequestContextMiddleware
from responses import JSONBytes
from settings import SERVICE_NAME, SERVICE_VERSION, Settings, get_settings


class ServiceIndex(BaseModel):
    name: str
    version: str
    links: dict[str, str]
    routes: list[str]


class Check(BaseModel):
    status: str
    latency_ms: float | None = None
    message: str | None = None


class Health(BaseModel):
    status: str
    timestamp: datetime
    version: str
    checks: dict[str, Check] | None = None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await db.open_pool(settings)
        await warn_if_no_keys(settings)
        app.state.openai = create_client(settings)
        yield
        if app.state.openai is not None:
            await app.state.openai.close()
        await db.close_pool()

    app = FastAPI(
        title=SERVICE_NAME,
        version=SERVICE_VERSION,
        description="An audit trail API: who did what to which entity, when, and how it ended. "
        "Every error answers `{error, message, details}` with an `X-Request-ID` header.",
        lifespan=lifespan,
        # No OpenTelemetry is configured; skip FastAPI's per-request check for it.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Location", "Retry-After", "WWW-Authenticate"],
    )
    app.include_router(audits_router, dependencies=[authenticated])
    app.include_router(ai_router, dependencies=[authenticated])
    app.include_router(access_router, dependencies=[authenticated])
    document_scopes(app)

    @app.get("/", tags=["service"], summary="Service index", description="Name, version, links.")
    async def index() -> ServiceIndex:
        return ServiceIndex(
            name=SERVICE_NAME,
            version=SERVICE_VERSION,
            links={"docs": "/docs", "redoc": "/redoc", "openapi": "/openapi.json"},
            routes=["/health", "/api/v1/audits", "/api/v1/ai"],
        )

    @app.get(
        "/health",
        tags=["service"],
        summary="Liveness",
        description="Answers while the process runs; never touches the database.",
        response_model=Health,
    )
    async def health() -> JSONBytes:
        # Built by hand: probes call this constantly and it needs no validation.
        now = datetime.now(UTC)
        return JSONBytes({"status": "healthy", "timestamp": now, "version": SERVICE_VERSION})

    @app.get(
        "/health/db",
        tags=["service"],
        summary="Readiness",
        description="Runs `SELECT 1` with a short timeout. 503 with the same shape, status "
        "`unhealthy` and a message when the database cannot be reached.",
        response_model=Health,
        response_model_exclude_none=True,
        responses={503: {"model": Health, "description": "The database is unreachable."}},
    )
    async def health_db() -> Health | JSONBytes:
        started = time.perf_counter()
        try:
            async with db.connection(timeout_s=settings.db_health_timeout_s) as conn:
                await conn.fetchval("SELECT 1", timeout=settings.db_health_timeout_s)
            check = Check(status="healthy", latency_ms=(time.perf_counter() - started) * 1000)
        except DatabaseUnavailable:
            check = Check(status="unhealthy", message="The database cannot be reached.")
        body = Health(
            status=check.status,
            timestamp=datetime.now(UTC),
            version=SERVICE_VERSION,
            checks={"database": check},
        )
        if check.status == "healthy":
            return body
        unhealthy = body.model_dump(mode="json", exclude_none=True)
        return JSONBytes(unhealthy, status_code=503, headers={"Retry-After": "5"})

    return app


app = create_app()
