"""HTTP routes for audit records: thin functions that validate, call one query helper, answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Query, Response, status

from audits import queries
from audits.schemas import AuditCreate, AuditListQuery, AuditOut, AuditPage, AuditUpdate
from errors import AuditNotFound, InvalidStatusTransition, error_responses

router = APIRouter(prefix="/api/v1/audits", tags=["audits"])

COMMON_ERRORS = error_responses(422, 500, 503)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record an audit event",
    description="Store who did what to which entity, and how it ended. The server assigns "
    "`id` and `created_at`. Unknown fields are refused (422). Answers 201 with the record "
    "and a `Location` header.",
    responses={**COMMON_ERRORS, **error_responses(413, 415)},
)
async def create_audit(audit: Annotated[AuditCreate, Body()], response: Response) -> AuditOut:
    row = await queries.create_audit(audit.model_dump())
    response.headers["Location"] = f"{router.prefix}/{row['id']}"
    return AuditOut.model_validate(row)


@router.get(
    "",
    summary="List audit records",
    description="Newest first (`created_at` desc, then `id` desc, so pages are stable). "
    "Filters combine with AND; `created_after` is inclusive, `created_before` exclusive, "
    "both RFC 3339 with a UTC offset (a window that ends before it starts is simply empty). "
    "`limit` is 1-50 (default 20; larger is a 422, not "
    "clamped); `offset` is 0-1,000,000. Unknown query parameters are refused. Deleted records "
    "are never listed.",
    responses=COMMON_ERRORS,
)
async def list_audits(query: Annotated[AuditListQuery, Query()]) -> AuditPage:
    filters = query.model_dump(exclude={"limit", "offset"}, exclude_none=True)
    rows, total = await queries.list_audits(filters, query.limit, query.offset)
    return AuditPage(
        items=[AuditOut.model_validate(row) for row in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )


@router.get(
    "/{audit_id}",
    summary="Get an audit record",
    description="Return one audit record by id. Deleted records answer 404.",
    responses={**COMMON_ERRORS, **error_responses(404)},
)
async def read_audit(audit_id: UUID) -> AuditOut:
    row = await queries.get_audit(audit_id)
    if row is None:
        raise AuditNotFound(audit_id)
    return AuditOut.model_validate(row)


@router.put(
    "/{audit_id}",
    summary="Finalise a status or add details",
    description="Only `status` and `details` may be sent. `details` is merged into the stored "
    "object (new keys added, same keys replaced), never wiped. `pending` may become `success` "
    "or `failure`; a final status cannot change (409), and re-sending it is a no-op 200. "
    "`updated_at` moves only when something changed; a body with nothing to change (`{}`) "
    "is a no-op that returns the record.",
    responses={**COMMON_ERRORS, **error_responses(404, 409, 413, 415)},
)
async def update_audit(audit_id: UUID, change: Annotated[AuditUpdate, Body()]) -> AuditOut:
    row, refused_from = await queries.update_audit(audit_id, change.status, change.details)
    if row is not None:
        return AuditOut.model_validate(row)
    if refused_from is not None:
        raise InvalidStatusTransition(refused_from, change.status or refused_from)
    raise AuditNotFound(audit_id)


@router.delete(
    "/{audit_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an audit record (soft)",
    description="Hide the record from the API: it stays in the database with `deleted_at` "
    "set. Afterwards GET, PUT and DELETE on it answer 404 and lists leave it out.",
    responses={**COMMON_ERRORS, **error_responses(404)},
)
async def delete_audit(audit_id: UUID) -> Response:
    if not await queries.delete_audit(audit_id):
        raise AuditNotFound(audit_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
