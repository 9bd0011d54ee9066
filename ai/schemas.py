"""The AI API's public shapes. Inputs are bounded so one request cannot cost a fortune."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from audits.schemas import AuditFilters, AuditOut, Timestamp

MAX_MESSAGES = 50


def _not_a_boolean(value: Any) -> Any:
    # JSON `true` would otherwise count as 1 (found by schemathesis's random seed).
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true or false")
    return value


Count = Annotated[int, BeforeValidator(_not_a_boolean)]
MAX_TOTAL_CHARS = 32_000


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1, max_length=MAX_TOTAL_CHARS)


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "messages": [
                        {"role": "system", "content": "You are terse."},
                        {"role": "user", "content": "What is an audit trail?"},
                    ],
                    "temperature": 0.2,
                    "max_tokens": 200,
                }
            ]
        },
    )

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:/-]+$",
        description="Defaults to the server's OPENAI_MODEL.",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    # The bounds come before the validator, on the integer itself: only then does the OpenAPI
    # schema state them (`minimum`/`maximum`); otherwise pydantic writes `ge`/`le`, which
    # JSON Schema does not know, and clients are told any integer fits.
    max_tokens: Annotated[int, Field(ge=1, le=4096), BeforeValidator(_not_a_boolean)] | None = None

    @model_validator(mode="after")
    def total_size_is_bounded(self) -> ChatRequest:
        total = sum(len(message.content) for message in self.messages)
        if total > MAX_TOTAL_CHARS:
            raise ValueError(f"messages total {total} characters; the limit is {MAX_TOTAL_CHARS}")
        return self


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    id: str
    model: str
    content: str
    finish_reason: str | None
    usage: Usage
    latency_ms: float = Field(description="Time spent waiting for the AI service.")


class SummaryRequest(AuditFilters):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"entity_type": "invoice", "status": "failure", "max_records": 50}]
        },
    )

    max_records: Count = Field(default=50, ge=1, le=200, description="Newest first, at most 200.")


class SummaryResponse(BaseModel):
    summary: str
    record_count: int = Field(description="How many records were summarised.")
    cited_ids: list[UUID] = Field(description="Ids of summarised records the summary cites.")
    model: str | None = Field(description="null when there was nothing to summarise.")
    usage: Usage
    latency_ms: float


class SearchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "failed logins in the last week", "limit": 20}]
        },
    )

    question: str = Field(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")
    limit: Count = Field(default=20, ge=1, le=50)
    offset: Count = Field(default=0, ge=0, le=1_000_000)
    cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="A previous answer's `next_cursor` or `prev_cursor`, with the same "
        "question. It holds only if the model chooses the same filters again; otherwise, or "
        "if forged or sent with `offset` > 0, it is a 422 on `body.cursor`.",
    )


class SearchResponse(BaseModel):
    filters: AuditFilters = Field(description="The filters the model chose, as validated.")
    items: list[AuditOut]
    next_cursor: str | None = Field(description="As in the audits list: the next older page.")
    prev_cursor: str | None = Field(description="As in the audits list: the next newer page.")
    total: int = Field(description="As in the audits list: exact up to 10,000, else estimated.")
    total_is_estimate: bool
    limit: int
    offset: int


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Timestamp | None = Field(default=None, description="Inclusive, with offset.")
    until: Timestamp | None = Field(default=None, description="Exclusive, with offset.")


class LatencyStats(BaseModel):
    p50: float
    p95: float


class OperationUsage(BaseModel):
    operation: str
    model: str
    calls: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    latency_ms: LatencyStats


class UsageReport(BaseModel):
    since: datetime | None
    until: datetime | None
    operations: list[OperationUsage]
