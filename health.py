"""The service routes: `/` (what this is, where things are) and the two health probes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

import db
from errors import DatabaseUnavailable
from responses import JSONBytes
from settings import SERVICE_NAME, SERVICE_VERSION

router = APIRouter(tags=["service"])

ROUTES = ["/health", "/health/db", "/api/v1/audits", "/api/v1/ai"]


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
    timestamp: datetime = Field(
        description="UTC, ISO 8601 with microseconds: `2026-01-31T12:00:00.000000+00:00`."
    )
    version: str
    checks: dict[str, Check] | None = None


def _health_body(status: str, **checks: dict[str, Any]) -> dict[str, Any]:
    """Both probes write their answer here, so their timestamps share one format. Plain
    dicts in the shape of `Health` and `Check` (which document it): probes call these
    constantly, and nothing here needs validating."""
    body: dict[str, Any] = {
        "status": status,
        # A string, not a datetime: renderers drop a zero fraction, which a parser may trip on.
        "timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
        "version": SERVICE_VERSION,
    }
    if checks:
        body["checks"] = checks
    return body


@router.get("/", summary="Service index", description="Name, version, links.")
async def index() -> ServiceIndex:
    return ServiceIndex(
        name=SERVICE_NAME,
        version=SERVICE_VERSION,
        links={"docs": "/docs", "redoc": "/redoc", "openapi": "/openapi.json"},
        routes=ROUTES,
    )


@router.get(
    "/health",
    summary="Liveness",
    description="Answers while the process runs; never touches the database.",
    response_model=Health,
)
async def health() -> JSONBytes:
    # Built by hand: probes call this constantly and it needs no validation.
    return JSONBytes(_health_body("healthy"))


@router.get(
    "/health/db",
    summary="Readiness",
    description="Runs `SELECT 1` with a short timeout. 503 with the same shape, status "
    "`unhealthy` and a message when the database cannot be reached.",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "The database is unreachable."}},
)
async def health_db(request: Request) -> JSONBytes:
    timeout_s = request.app.state.settings.db_health_timeout_s
    started = time.perf_counter()
    try:
        async with db.connection(timeout_s=timeout_s) as conn:
            await conn.fetchval("SELECT 1", timeout=timeout_s)
    except DatabaseUnavailable:
        check = {"status": "unhealthy", "message": "The database cannot be reached."}
        body = _health_body("unhealthy", database=check)
        return JSONBytes(body, status_code=503, headers={"Retry-After": "5"})
    check = {"status": "healthy", "latency_ms": (time.perf_counter() - started) * 1000}
    return JSONBytes(_health_body("healthy", database=check))
