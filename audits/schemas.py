"""The audits API's public shapes. Inputs forbid unknown fields so a typo never drops data."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

ActionType = Literal[
    "create", "update", "delete", "view", "export", "import", "login", "logout", "other"
]
Status = Literal["success", "failure", "pending"]

NoNulString = Annotated[str, Field(pattern=r"^[^\x00]*$")]
# Not blank and no NUL, said as a pattern so the OpenAPI document states the rule too.
NonBlankString = Annotated[str, Field(pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")]

RFC3339_START = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _rfc3339_only(value: Any) -> Any:
    # pydantic would otherwise read a bare number as Unix time: 5 becomes 1970-01-01T00:00:05Z.
    if isinstance(value, str) and not RFC3339_START.match(value):
        raise ValueError("must be an RFC 3339 timestamp with a UTC offset")
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 timestamp string")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]


def _is_ip_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("ip_address must be a valid IPv4 or IPv6 address") from None
    return value


IpAddress = Annotated[
    str,
    AfterValidator(_is_ip_address),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "ipv4"}, {"type": "string", "format": "ipv6"}],
            "maxLength": 45,
        }
    ),
]


MAX_DETAILS_DEPTH = 32


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Count container levels iteratively, so hostile nesting cannot exhaust the stack."""
    level, depth = [value], 0
    while containers := [item for item in level if isinstance(item, dict | list)]:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return False


def check_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """Refuse what PostgreSQL's jsonb cannot keep faithfully. The size cap is a setting, so
    the route checks it (`details_size`) with the settings its app was built with."""
    if details is None:
        return None
    if _nests_deeper_than(details, MAX_DETAILS_DEPTH):
        raise ValueError(f"details must not nest deeper than {MAX_DETAILS_DEPTH} levels")
    try:
        serialized = json.dumps(details, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise ValueError("details must not contain NaN or Infinity") from None
    if "\\u0000" in serialized:
        raise ValueError("details must not contain NUL (\\u0000) characters")
    try:
        serialized.encode()
    except UnicodeEncodeError:
        raise ValueError("details must be valid Unicode (no lone surrogates)") from None
    return details


def details_size(details: dict[str, Any] | None) -> int:
    """Bytes of `details` serialized as stored (0 for none); call after `check_details`."""
    return 0 if details is None else len(json.dumps(details, ensure_ascii=False).encode())


MAX_CONTAINS_CHARS = 2000


def _json_object_text(value: Any) -> Any:
    """A `details` containment filter: JSON object text (a query) or an object (a body),
    returned as compact JSON text for `@> $n::jsonb`."""
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, str) or len(value) > MAX_CONTAINS_CHARS:
        raise ValueError(f"details must be a JSON object of at most {MAX_CONTAINS_CHARS} chars")
    try:
        parsed = json.loads(value, parse_constant=_refuse_constant)
    except ValueError:
        raise ValueError("details must be valid JSON (a URL-encoded JSON object)") from None
    if not isinstance(parsed, dict):
        raise ValueError('details must be a JSON object, like {"field":"amount"}')
    check_details(parsed)
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


# The documented form is a flat object of scalars (what a generator can be held to); nested
# objects and arrays are accepted too, as `@>` means them.
_KEY = r'"[A-Za-z0-9_]+"'
_SCALAR = r'("[A-Za-z0-9_ .-]*"|-?(0|[1-9][0-9]*)|true|false|null)'
DETAILS_PATTERN = rf"^\{{({_KEY}:{_SCALAR}(,{_KEY}:{_SCALAR})*)?\}}$"
DetailsContains = Annotated[
    str,
    BeforeValidator(_json_object_text),
    WithJsonSchema({"type": "string", "pattern": DETAILS_PATTERN, "maxLength": MAX_CONTAINS_CHARS}),
]


EXAMPLE_AUDIT = {
    "action_type": "update",
    "entity_type": "invoice",
    "entity_id": "6f1c1f1e-3c1a-4a53-9d1e-2b9d1c0b7a11",
    "user_id": "0b8f2b1e-9a57-4a8e-8a7e-5f0f0c7d2e33",
    "details": {"field": "amount", "from": 100, "to": 120},
    "status": "success",
    "ip_address": "203.0.113.7",
    "user_agent": "billing-ui/2.4",
}


class AuditCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_AUDIT]})

    action_type: ActionType
    entity_type: NonBlankString = Field(min_length=1, max_length=100)
    entity_id: UUID
    user_id: UUID | None = Field(default=None, description="null means the system acted")
    details: dict[str, Any] | None = Field(default=None, description="Free-form, ≤ 64 KiB")
    status: Status = "success"
    ip_address: IpAddress | None = Field(default=None, max_length=45, description="IPv4 or IPv6")
    user_agent: NoNulString | None = Field(default=None, max_length=500)

    @field_validator("details")
    @classmethod
    def details_fit_jsonb(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_details(value)


class AuditUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "success", "details": {"reviewed": True}}]},
    )

    status: Status | None = Field(default=None, description="pending → success | failure only")
    details: dict[str, Any] | None = Field(
        default=None, description="Merged into the stored object: keys added or replaced."
    )

    @field_validator("details")
    @classmethod
    def details_fit_jsonb(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_details(value)


class AuditOut(BaseModel):
    id: UUID
    action_type: ActionType
    entity_type: str
    entity_id: UUID
    user_id: UUID | None
    details: dict[str, Any] | None
    status: Status
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
    updated_at: datetime | None
    recorded_by: str | None = Field(
        description="The API key that wrote the record, as 'name (prefix)'; set by the server "
        "from the request's key, never by a client; null when the service runs without keys."
    )
    ledger_seq: int | None = Field(
        description="The record's latest journal entry: a receipt to check later against "
        "`GET /api/v1/audits/{id}/proof` (see the ledger routes)."
    )


class AuditFilters(BaseModel):
    """List filters, combined with AND. Unknown query parameters are refused, like body fields."""

    model_config = ConfigDict(extra="forbid")

    action_type: ActionType | None = None
    entity_type: NonBlankString | None = Field(default=None, min_length=1, max_length=100)
    entity_id: UUID | None = None
    user_id: UUID | None = None
    status: Status | None = None
    created_after: Timestamp | None = Field(
        default=None, description="Inclusive lower bound, RFC 3339 with a UTC offset."
    )
    created_before: Timestamp | None = Field(
        default=None, description="Exclusive upper bound, RFC 3339 with a UTC offset."
    )
    recorded_by: NonBlankString | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description="The key that wrote the record, exactly as shown: 'name (prefix)'.",
    )
    details: DetailsContains | None = Field(
        default=None,
        description="A JSON object (URL-encoded in a query): matches records whose `details` "
        'contain it (PostgreSQL `@>`), e.g. `{"field":"amount"}`.',
        examples=['{"field":"amount"}'],
    )


CURSOR_DESCRIPTION = (
    "Opaque: a page's `next_cursor` (older records) or `prev_cursor` (newer ones). Send it "
    "with the same filters it was made for, and without `offset`; a forged, changed or "
    "mismatched cursor is a 422 on `query.cursor`."
)


class AuditListQuery(AuditFilters):
    limit: int = Field(default=20, ge=1, le=50, description="Page size, 1-50.")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="Rows to skip.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=500, description=CURSOR_DESCRIPTION
    )


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None = Field(
        description="Send as `cursor` for the next page (older records); null on the last."
    )
    prev_cursor: str | None = Field(
        description="Send as `cursor` for the previous page (newer records); null on the newest."
    )
    total: int = Field(
        description="Matching records: exact up to 10,000 (LIST_EXACT_TOTAL_UP_TO), beyond "
        "that PostgreSQL's planner estimate and `total_is_estimate` is true. On a page reached "
        "by a cursor, the total its walk's first page counted."
    )
    total_is_estimate: bool
    limit: int
    offset: int


class AuditExportQuery(AuditFilters):
    format: Literal["ndjson", "csv"] = Field(
        default="ndjson", description="`ndjson`: one JSON record a line; `csv`: RFC 4180."
    )
    order: Literal["newest", "oldest"] = Field(
        default="newest", description="`newest` first (as the list) or `oldest` first."
    )


class AuditStatsQuery(AuditFilters):
    group_by: Literal["action_type", "entity_type", "status", "user_id", "recorded_by"] = Field(
        default="action_type", description="The column each bucket is split by."
    )
    interval: Literal["hour", "day", "week"] = Field(
        default="day", description="Bucket width, in UTC; weeks start on Monday (ISO 8601)."
    )


class StatsBucket(BaseModel):
    start: datetime = Field(description="The bucket's start, RFC 3339 in UTC (`...Z`).")
    group: str | None = Field(description="The group's value; null for records without one.")
    count: int


class AuditStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "group_by": "status",
                    "interval": "day",
                    "buckets": [
                        {"start": "2026-11-30T00:00:00Z", "group": "failure", "count": 3},
                        {"start": "2026-11-30T00:00:00Z", "group": "success", "count": 41},
                    ],
                    "total": 44,
                }
            ]
        }
    )

    group_by: str
    interval: str
    buckets: list[StatsBucket] = Field(description="Ordered by start, then group (null last).")
    total: int = Field(description="The sum of the counts: every matching record, once.")
