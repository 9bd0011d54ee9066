"""POST /api/v1/audits/batch: up to 1,000 records in one statement, all or nothing."""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Body, status
from fastapi.exceptions import RequestValidationError

from access.auth import GuardedRoute, acting
from errors import error_responses
from ingest import queries
from ingest.idempotency import IDEMPOTENCY_RESPONSES, Once, answer_once
from ingest.schemas import AuditBatch, AuditBatchOut
from responses import JSONText
from settings import SettingsDep

router = APIRouter(prefix="/api/v1/audits", tags=["audits"], route_class=GuardedRoute)

BATCH_PATH = f"{router.prefix}/batch"
Writer = acting("audits:write")


def details_texts(batch: AuditBatch, limit_bytes: int) -> list[str | None]:
    """Each record's `details` as the JSON text to store, after the size cap
    (MAX_DETAILS_BYTES), which names every record over it like any other invalid field."""
    texts = [queries.details_text(record.details) for record in batch.records]
    message = f"Value error, details is larger than {limit_bytes} bytes when serialized"
    problems = [
        {"type": "value_error", "loc": ("body", "records", n, "details"), "msg": message}
        for n, text in enumerate(texts)
        if text is not None and len(text.encode()) > limit_bytes
    ]
    if problems:
        raise RequestValidationError(problems)
    return texts


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    summary="Record up to 1,000 audit events at once",
    description="Each record is validated exactly like `POST /api/v1/audits`; a problem is "
    "named by its place (`body.records[12].entity_type`). All or nothing: one invalid record "
    "or one failure writes none, and the batch is one transaction, journaled record by record "
    "like single creates. The body may be up to 4 MiB (MAX_BATCH_BODY_BYTES). Answers 201 "
    "with the created records in the request's order. Takes an `Idempotency-Key`.",
    response_model=AuditBatchOut,
    responses={
        **error_responses(413, 415, 422, 500, 503),
        **IDEMPOTENCY_RESPONSES,
    },
)
async def create_audit_batch(
    batch: Annotated[AuditBatch, Body()], settings: SettingsDep, writer: Writer, once: Once
) -> JSONText:
    details = details_texts(batch, settings.max_details_bytes)
    ids = [uuid4() for _ in batch.records]
    params = queries.batch_params(ids, batch.records, details)
    if once is not None:
        return await answer_once(once, queries.KEYED_BATCH_SQL, [*params, writer], settings)
    return JSONText(await queries.insert_batch(params, writer), status_code=201)
