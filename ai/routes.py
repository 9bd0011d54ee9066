"""HTTP routes for the AI features. Each calls the model through `ai.client.complete`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import ValidationError

from access.auth import GuardedRoute, require
from ai import prompts, queries
from ai.client import AIDep, complete
from ai.schemas import (
    ChatRequest,
    ChatResponse,
    SearchRequest,
    SearchResponse,
    SummaryRequest,
    SummaryResponse,
    UsageQuery,
    UsageReport,
)
from audits import listing, paging
from audits.schemas import AuditFilters
from errors import AIBadResponse, error_responses
from responses import JSONText
from settings import SettingsDep

router = APIRouter(prefix="/api/v1/ai", tags=["ai"], route_class=GuardedRoute)

AI_ERRORS = error_responses(413, 415, 422, 429, 500, 502, 503)
NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@router.post(
    "/chat",
    summary="Chat with the model",
    description="Send up to 50 messages (32,000 characters in all) and get the model's answer. "
    "`model` defaults to the server's OPENAI_MODEL. Failures: 503 `ai_not_configured`, "
    "502 `ai_authentication_failed`, 429 `ai_rate_limited` (with Retry-After), 503 "
    "`ai_unavailable` (with Retry-After), 502 `ai_bad_response`, 502 `ai_request_rejected` "
    "(for example an unknown model).",
    responses=AI_ERRORS,
    dependencies=[require("ai")],
)
async def chat(request: Annotated[ChatRequest, Body()], ai: AIDep) -> ChatResponse:
    options = request.model_dump(include={"temperature", "max_tokens"}, exclude_none=True)
    completion = await complete(
        ai,
        operation="chat",
        messages=[message.model_dump() for message in request.messages],
        model=request.model,
        **options,
    )
    return ChatResponse(
        id=completion.id,
        model=completion.model,
        content=completion.content,
        finish_reason=completion.finish_reason,
        usage=completion.usage,
        latency_ms=completion.latency_ms,
    )


@router.post(
    "/audits/summary",
    summary="Summarise audit records",
    description="Select up to `max_records` records (newest first) with the audits list "
    "filters, and have the model summarise them. The model sees no `ip_address` or "
    "`user_agent`. `cited_ids` only ever holds ids of the summarised records. With no "
    "matching records the answer says so, without calling the model (`model` is null).",
    responses=AI_ERRORS,
    dependencies=[require("ai", "audits:read")],
)
async def summarise_audits(
    request: Annotated[SummaryRequest, Body()], ai: AIDep
) -> SummaryResponse:
    filters = request.model_dump(exclude={"max_records"}, exclude_none=True)
    page = await listing.list_audits(filters, request.max_records, 0, exact_up_to=None)
    rows = json.loads(page.items)
    if not rows:
        return SummaryResponse(
            summary="No audit records match these filters, so there is nothing to summarise.",
            record_count=0,
            cited_ids=[],
            model=None,
            usage=NO_USAGE,
            latency_ms=0,
        )
    completion = await complete(
        ai,
        operation="audit_summary",
        messages=[
            {"role": "system", "content": prompts.SUMMARY_SYSTEM},
            {"role": "user", "content": prompts.render_records(rows)},
        ],
        json_schema=prompts.SUMMARY_SCHEMA,
    )
    answer = completion.parsed
    if not isinstance(answer, dict) or not isinstance(answer.get("summary"), str):
        raise AIBadResponse("The AI service's summary did not follow the schema.")
    known_ids = {str(row["id"]) for row in rows}
    cited = [cited for cited in answer.get("cited_ids") or [] if str(cited) in known_ids]
    return SummaryResponse(
        summary=answer["summary"],
        record_count=len(rows),
        cited_ids=list(dict.fromkeys(cited)),
        model=completion.model,
        usage=completion.usage,
        latency_ms=completion.latency_ms,
    )


@router.post(
    "/audits/search",
    summary="Search audit records in plain English",
    description="The model turns `question` into audits list filters (never SQL). The "
    "filters are validated exactly like the list route's query; if the model's filters fail "
    "validation the answer is 502 `ai_bad_response` and no query runs. Otherwise the normal "
    "list query runs and the page is returned with the filters used, with `next_cursor` / "
    "`prev_cursor` as in the audits list (send one back as `cursor` with the same question).",
    response_model=SearchResponse,
    responses=AI_ERRORS,
    dependencies=[require("ai", "audits:read")],
)
async def search_audits(
    request: Annotated[SearchRequest, Body()], ai: AIDep, settings: SettingsDep
) -> JSONText:
    completion = await complete(
        ai,
        operation="audit_search",
        messages=[
            {"role": "system", "content": prompts.search_system_prompt(datetime.now(UTC))},
            {"role": "user", "content": request.question},
        ],
        json_schema=prompts.SEARCH_SCHEMA,
    )
    try:
        filters = AuditFilters.model_validate(completion.parsed)
    except ValidationError:
        raise AIBadResponse("The AI service proposed filters that are not valid.") from None
    chosen = filters.model_dump(exclude_none=True)
    location = ("body", "cursor")
    after = paging.read_cursor(request.cursor, request.offset, chosen, settings, location)
    page = await listing.list_audits(
        chosen,
        request.limit,
        request.offset,
        exact_up_to=settings.list_exact_total_up_to,
        after=after,
    )
    used = filters.model_dump_json()
    return JSONText(
        paging.render_page(page, chosen, request.limit, request.offset, settings, filters=used)
    )


@router.get(
    "/usage",
    summary="AI usage from the ledger",
    description="Per operation and model over an optional window (`since` inclusive, `until` "
    "exclusive): upstream calls (each retry counts), failures, tokens, and p50/p95 latency "
    "in milliseconds. Works without an OpenAI key.",
    responses=error_responses(422, 500, 503),
    dependencies=[require("admin")],
)
async def read_usage(query: Annotated[UsageQuery, Query()]) -> UsageReport:
    rows = await queries.usage_totals(query.since, query.until)
    return UsageReport(
        since=query.since,
        until=query.until,
        operations=[
            {
                **row,
                "total_tokens": row["prompt_tokens"] + row["completion_tokens"],
                "latency_ms": {"p50": row["p50_latency_ms"], "p95": row["p95_latency_ms"]},
            }
            for row in rows
        ],
    )
