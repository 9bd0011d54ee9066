"""HTTP routes for audit records: thin functions that validate, call one query helper, answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Query, Response, status
from fastapi.exceptions import RequestValidationError

from access.auth import acting, require
from audits import queries
from audits.schemas import (
    AuditCreate,
    AuditListQuery,
    AuditOut,
    AuditPage,
    AuditUpdate,
    details_size,
)
from errors import AuditNotFound, InvalidStatusTransition, error_responses
from ingest.idempotency import IDEMPOTENCY_RESPONSES, Once, answer_once
from ingest.queries import KEYED_CREATE_SQL
from responses import JSONText, page_json
from settings import SettingsDep

router = APIRouter(prefix="/api/v1/audits", tags=["audits"])

COMMON_ERRORS = error_responses(422, 500, 503)
Writer = acting("audits:write")
Deleter = acting("audits:delete")


def refuse_details_over(limit_bytes: int, details: dict | None) -> None:
    """The `details` size cap (MAX_DETAILS_BYTES), answered like any other invalid field."""
    if details_size(details) > limit_bytes:
        message = f"Value error, details is larger than {limit_bytes} bytes when serialized"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "details"), "msg": message}]
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record an audit event",
    description="Store who did what to which entity, and how it ended. The server assigns "
    "`id` and `created_at`. Unknown fields are refused (422). Answers 201 with the record "
    "and a `Location` header. With an `Idempotency-Key`, a retry replays the first answer.",
    response_model=AuditOut,
    responses={**COMMON_ERRORS, **error_responses(413, 415), **IDEMPOTENCY_RESPONSES},
)
async def create_audit(
    audit: Annotated[AuditCreate, Body()], settings: SettingsDep, writer: Writer, once: Once
) -> JSONText:
    refuse_details_over(settings.max_details_bytes, audit.details)
    audit_id = uuid4()
    location = f"{router.prefix}/{audit_id}"
    if once is not None:
        params = [*queries.create_params(audit_id, audit.model_dump()), writer]
        return await answer_once(once, KEYED_CREATE_SQL, params, settings, location=location)
    record = await queries.create_audit(audit_id, audit.model_dump(), writer)
    return JSONText(record, status_code=201, headers={"Location": location})


@router.get(
    "",
    summary="List audit records",
    description="Newest first (`created_at` desc, then `id` desc, so pages are stable). "
    "Filters combine with AND; `created_after` is inclusive, `created_before` exclusive, "
    "both RFC 3339 with a UTC offset (a window that ends before it starts is simply empty). "
    "`limit` is 1-50 (default 20; larger is a 422, not "
    "clamped); `offset` is 0-1,000,000. Unknown query parameters are refused. Deleted records "
    "are never listed. `total` is exact up to 10,000 matches; past that it is PostgreSQL's "
    "estimate and `total_is_estimate` is true (an exact count of millions of rows would cost "
    "more than the page).",
    response_model=AuditPage,
    responses=COMMON_ERRORS,
    dependencies=[require("audits:read")],
)
async def list_audits(query: Annotated[AuditListQuery, Query()], settings: SettingsDep) -> JSONText:
    filters = query.model_dump(exclude={"limit", "offset"}, exclude_none=True)
    items, total, estimated = await queries.list_audits(
        filters, query.limit, query.offset, exact_up_to=settings.list_exact_total_up_to
    )
    return JSONText(page_json(items, total, estimated, query.limit, query.offset))


@router.get(
    "/{audit_id}",
    summary="Get an audit record",
    description="Return one audit record by id. Deleted records answer 404.",
    response_model=AuditOut,
    responses={**COMMON_ERRORS, **error_responses(404)},
    dependencies=[require("audits:read")],
)
async def read_audit(audit_id: UUID) -> JSONText:
    record = await queries.get_audit(audit_id)
    if record is None:
        raise AuditNotFound(audit_id)
    return JSONText(record)


@router.put(
    "/{audit_id}",
    summary="Finalise a status or add details",
    description="Only `status` and `details` may be sent. `details` is merged into the stored "
    "object (new keys added, same keys replaced), never wiped. `pending` may become `success` "
    "or `failure`; a final status cannot change (409), and re-sending it is a no-op 200. "
    "`updated_at` moves only when something changed; a body with nothing to change (`{}`) "
    "is a no-op that returns the record.",
    response_model=AuditOut,
    responses={**COMMON_ERRORS, **error_responses(404, 409, 413, 415)},
)
async def update_audit(
    audit_id: UUID, change: Annotated[AuditUpdate, Body()], settings: SettingsDep, writer: Writer
) -> JSONText:
    refuse_details_over(settings.max_details_bytes, change.details)
    match await queries.update_audit(audit_id, change.status, change.details, writer):
        case queries.Updated(record):
            return JSONText(record)
        case queries.StatusRefused(current):
            raise InvalidStatusTransition(current, change.status or current)
        case queries.NotFound():
            raise AuditNotFound(audit_id)


@router.delete(
    "/{audit_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an audit record (soft)",
    description="Hide the record from the API: it stays in the database with `deleted_at` "
    "set. Afterwards GET, PUT and DELETE on it answer 404 and lists leave it out.",
    responses={**COMMON_ERRORS, **error_responses(404)},
)
async def delete_audit(audit_id: UUID, deleter: Deleter) -> Response:
    if not await queries.delete_audit(audit_id, deleter):
        raise AuditNotFound(audit_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
