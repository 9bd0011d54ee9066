"""HTTP routes for audit records: thin functions that validate, call one query helper, answer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Header, Query, Response, status
from fastapi.exceptions import RequestValidationError

from access.auth import GuardedRoute, acting, require
from audits import export, listing, paging, queries, stats
from audits.schemas import (
    AuditCreate,
    AuditExportQuery,
    AuditListQuery,
    AuditOut,
    AuditPage,
    AuditStats,
    AuditStatsQuery,
    AuditUpdate,
    details_size,
)
from errors import AuditNotFound, InvalidStatusTransition, error_responses
from ingest.idempotency import IDEMPOTENCY_RESPONSES, Once, answer_once
from ingest.queries import KEYED_CREATE_SQL
from responses import ClosingStream, JSONBytes, JSONText
from settings import SettingsDep

router = APIRouter(prefix="/api/v1/audits", tags=["audits"], route_class=GuardedRoute)

COMMON_ERRORS = error_responses(422, 500, 503)
CURSOR_PAGING = (
    "Cursor paging (keyset on `created_at`, `id`): every page carries `next_cursor` (the next "
    "older page; null when there is none) and `prev_cursor` (the next newer page; null on the "
    "newest page). Send one back as `cursor`, with the same filters and no `offset`; a deep "
    "page then costs what the first costs. A forged, malformed or changed cursor, one made "
    "for other filters, or one with `offset` > 0 is a 422 `validation_error` on "
    "`query.cursor`. Cursors are signed with a key derived from LEDGER_SIGNING_KEY, so they "
    "work on every worker and across restarts. A walk counts once: pages reached by a cursor "
    "report the `total` of the walk's first page."
)
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
    "both RFC 3339 with a UTC offset (a window that ends before it starts is simply empty); "
    "`details` is a URL-encoded JSON object the records' `details` must contain (`@>`). "
    "`limit` is 1-50 (default 20; larger is a 422, not "
    "clamped); `offset` is 0-1,000,000. Unknown query parameters are refused. Deleted records "
    "are never listed. `total` is exact up to 10,000 matches; past that it is PostgreSQL's "
    "estimate and `total_is_estimate` is true (an exact count of millions of rows would cost "
    "more than the page). " + CURSOR_PAGING,
    response_model=AuditPage,
    responses=COMMON_ERRORS,
    dependencies=[require("audits:read")],
)
async def list_audits(query: Annotated[AuditListQuery, Query()], settings: SettingsDep) -> JSONText:
    filters = query.model_dump(exclude={"limit", "offset", "cursor"}, exclude_none=True)
    after = paging.read_cursor(query.cursor, query.offset, filters, settings)
    page = await listing.list_audits(
        filters,
        query.limit,
        query.offset,
        exact_up_to=settings.list_exact_total_up_to,
        after=after,
    )
    return JSONText(paging.render_page(page, filters, query.limit, query.offset, settings))


EXPORT_MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@router.get(
    "/export",
    summary="Export audit records (streamed)",
    description="Every record matching the list filters, streamed: `format=ndjson` (one JSON "
    "record a line, rendered by PostgreSQL, so integers of any size stay exact) or `csv` "
    "(RFC 4180, CRLF line ends, a header row of the record's columns, `details` as a JSON "
    "text column); `order=newest` (default) or `oldest`. Each record carries `ledger_seq`. "
    "Memory stays constant however many rows match: one server-side cursor in a read-only "
    "snapshot, fetched 2,000 rows at a time as the client reads. gzip when the request says "
    "`Accept-Encoding: gzip`. A client that disconnects stops the query. The answer is an "
    "attachment (`Content-Disposition`); a stream cut short by a server failure ends without "
    "its final chunk, so the client sees an error rather than a short file.",
    response_class=ClosingStream,
    responses={
        200: {
            "description": "The records, as a download.",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **COMMON_ERRORS,
    },
    dependencies=[require("audits:read")],
)
async def export_audits(
    query: Annotated[AuditExportQuery, Query()],
    accept_encoding: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ClosingStream:
    filters = query.model_dump(exclude={"format", "order"}, exclude_none=True)
    gzip = export.accepts_gzip(accept_encoding)
    body = await export.start_export(filters, query.order, query.format, gzip=gzip)
    headers = {
        "Content-Disposition": f'attachment; filename="{export.filename(query.format)}"',
        "Vary": "Accept-Encoding",
    }
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return ClosingStream(body, media_type=EXPORT_MEDIA_TYPES[query.format], headers=headers)


@router.get(
    "/stats",
    summary="Count audit records per time bucket and group",
    description="For dashboards: the records matching the list filters, counted per "
    "`interval` (hour, day or week; buckets start at UTC boundaries, weeks on Monday) and per "
    "value of `group_by`. Buckets are ordered by `start`, then `group` (null last); empty "
    "buckets are left out; `total` is the sum. More than 10,000 buckets is a 422 on "
    "`query.interval`: narrow the window or use a coarser interval.",
    response_model=AuditStats,
    responses=COMMON_ERRORS,
    dependencies=[require("audits:read")],
)
async def audit_stats(query: Annotated[AuditStatsQuery, Query()]) -> JSONBytes:
    filters = query.model_dump(exclude={"group_by", "interval"}, exclude_none=True)
    try:
        buckets = await stats.audit_stats(filters, query.group_by, query.interval)
    except stats.TooManyBuckets:
        message = f"more than {stats.MAX_BUCKETS} buckets: narrow the filters or coarsen this"
        raise paging.invalid(("query", "interval"), message) from None
    return JSONBytes(
        {
            "group_by": query.group_by,
            "interval": query.interval,
            "buckets": buckets,
            "total": sum(bucket["count"] for bucket in buckets),
        }
    )


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
