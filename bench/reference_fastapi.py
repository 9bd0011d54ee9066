"""The framework floor: a bare FastAPI app answering the benchmarked routes with the same SQL
and JSON as the service, typed the FastAPI way (a pydantic body, typed path and query
parameters), but with no middleware, no auth, no logging and no error mapping.

Next to bench/reference.py (bare Starlette) it shows what FastAPI itself costs; next to the
service, what ours adds on top. Run by bench/run.py as `uvicorn bench.reference_fastapi:app`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from audits.queries import CREATE_SQL, GET_SQL, create_params
from audits.schemas import AuditCreate, AuditListQuery
from bench import reference

app = FastAPI(lifespan=reference.lifespan, openapi_url=None, docs_url=None, redoc_url=None)


def json_response(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


@app.get("/health")
async def health() -> Response:
    now = datetime.now(UTC).isoformat()
    return json_response(f'{{"status":"healthy","timestamp":"{now}","version":"1.0.0"}}')


@app.get("/health/db")
async def health_db(request: Request) -> Response:
    return await reference.health_db(request)


@app.post("/api/v1/audits", status_code=201)
async def create(audit: AuditCreate) -> Response:
    audit_id = uuid4()
    async with reference.pool().acquire() as conn:
        created = await conn.fetchval(
            CREATE_SQL, *create_params(audit_id, audit.model_dump()), None
        )
    response = json_response(created, 201)
    response.headers["location"] = f"/api/v1/audits/{audit_id}"
    return response


@app.get("/api/v1/audits")
async def listing(query: Annotated[AuditListQuery, Query()]) -> Response:
    filters = query.model_dump(exclude={"limit", "offset", "cursor"}, exclude_none=True)
    return json_response(await reference.page(filters, query.limit, query.offset, query.cursor))


@app.get("/api/v1/audits/{audit_id}")
async def read(audit_id: UUID) -> Response:
    async with reference.pool().acquire() as conn:
        found = await conn.fetchval(GET_SQL, audit_id)
    return json_response(found) if found else json_response('{"error":"audit_not_found"}', 404)
