"""The ceiling: a bare Starlette + asyncpg app answering the benchmarked routes with the same
SQL and JSON shape as the service — no validation, no logging, no middleware.

Run by bench/run.py as `uvicorn bench.reference:app` with DATABASE_URL set.
"""

import os
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from audits import cursor
from audits.listing import page_sql, page_with_cursors, walk_total
from audits.queries import (
    CREATE_SQL,
    FILTER_COMPARISONS,
    GET_SQL,
    WINDOW,
    create_params,
)
from audits.schemas import AuditCreate
from db import keep_session
from responses import page_json

_pool: asyncpg.Pool
EXACT_UP_TO = 10_000
# The service's cursor key, so a cursor from either one works on both.
CURSOR_KEY = cursor.cursor_key(os.environ.get("LEDGER_SIGNING_KEY"))


def json_response(body: bytes | str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


async def health(request):
    now = datetime.now(UTC).isoformat()
    return json_response(f'{{"status":"healthy","timestamp":"{now}","version":"1.0.0"}}')


async def health_db(request):
    started = time.perf_counter()
    async with pool().acquire() as conn:
        await conn.fetchval("SELECT 1")
    latency = (time.perf_counter() - started) * 1000
    now = datetime.now(UTC).isoformat()
    return json_response(
        f'{{"status":"healthy","timestamp":"{now}","version":"1.0.0",'
        f'"checks":{{"database":{{"status":"healthy","latency_ms":{latency}}}}}}}'
    )


async def create(request):
    body = orjson.loads(await request.body())
    fields = {name: body.get(name) for name in AuditCreate.model_fields}
    fields["status"] = fields["status"] or "success"
    audit_id = uuid.uuid4()
    async with pool().acquire() as conn:
        created = await conn.fetchval(CREATE_SQL, *create_params(audit_id, fields), None)
    response = json_response(created, 201)
    response.headers["location"] = f"/api/v1/audits/{audit_id}"
    return response


async def read(request):
    async with pool().acquire() as conn:
        found = await conn.fetchval(GET_SQL, request.path_params["audit_id"])
    return json_response(found) if found else json_response('{"error":"audit_not_found"}', 404)


IDS = ("entity_id", "user_id")


def parse_filter(name: str, value: str):
    if name in WINDOW:
        return datetime.fromisoformat(value)
    return uuid.UUID(value) if name in IDS else value


async def page(filters: dict, limit: int, offset: int, cursor_text: str | None) -> str:
    """The list answer, cursors included, with the service's SQL (no validation)."""
    after = cursor.decode(cursor_text, filters, CURSOR_KEY) if cursor_text else None
    sql, params = page_sql(filters, after)
    async with pool().acquire() as conn:
        row = await conn.fetchrow(sql, *params, limit, offset)
        total, estimated = await walk_total(conn, filters, EXACT_UP_TO, after)
    found = page_with_cursors(row, total, estimated)
    return page_json(
        found.items,
        total,
        estimated,
        limit,
        offset,
        next_cursor=found.oldest and cursor.encode(found.oldest, filters, CURSOR_KEY),
        prev_cursor=found.newest and cursor.encode(found.newest, filters, CURSOR_KEY),
    )


async def listing(request: Request) -> Response:
    query = request.query_params
    filters = {
        name: parse_filter(name, query[name]) for name in FILTER_COMPARISONS if name in query
    }
    limit, offset = int(query.get("limit", 20)), int(query.get("offset", 0))
    return json_response(await page(filters, limit, offset, query.get("cursor")))


def pool() -> asyncpg.Pool:
    return _pool


@asynccontextmanager
async def lifespan(app):
    global _pool
    _pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=2,
        max_size=10,
        server_settings={"timezone": "UTC"},
        reset=keep_session,
    )
    yield
    await _pool.close()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/health/db", health_db),
        Route("/api/v1/audits", create, methods=["POST"]),
        Route("/api/v1/audits", listing),
        Route("/api/v1/audits/{audit_id:uuid}", read),
    ],
    lifespan=lifespan,
)
