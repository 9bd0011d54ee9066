"""Batch ingest's public shapes, and the Idempotency-Key header's syntax."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from audits.schemas import EXAMPLE_AUDIT, AuditCreate, AuditOut

MAX_BATCH_RECORDS = 1000


class AuditBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"records": [EXAMPLE_AUDIT, {**EXAMPLE_AUDIT, "action_type": "view"}]}]
        },
    )

    records: list[AuditCreate] = Field(
        min_length=1,
        max_length=MAX_BATCH_RECORDS,
        description="1 to 1,000 records, each exactly what `POST /api/v1/audits` takes.",
    )


class AuditBatchOut(BaseModel):
    items: list[AuditOut] = Field(description="The created records, in the request's order.")
    count: int


MAX_KEY_LENGTH = 255
# The draft (draft-ietf-httpapi-idempotency-key-header) makes the field an RFC 8941 String:
# printable ASCII in double quotes, with only \" and \\ escaped. Most clients in the wild
# (Stripe's) send the bare value, so a bare run of visible ASCII is taken as the key too.
SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
BARE_KEY = re.compile(r"[\x21-\x7e]+")
KEY_PATTERN = r'^("([\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])+"|[\x21\x23-\x7e][\x21-\x7e]*)$'
KEY_DESCRIPTION = (
    "Makes a retry safe: the same key with the same body within 24 hours replays the first "
    "answer (with `Idempotent-Replayed: true`) instead of writing again. An RFC 8941 String "
    '(`"8e03978e-40d5-43e8-bc93-6894a57f9324"`) as the IETF draft says, or the bare value; '
    f"1-{MAX_KEY_LENGTH} printable ASCII characters. Keys are per API key."
)


def parse_idempotency_key(value: str) -> str | None:
    """The key a header value carries, or None if the value is not a valid key."""
    value = value.strip(" \t")
    quoted = SF_STRING.fullmatch(value)
    if quoted:
        key = re.sub(r"\\(.)", r"\1", quoted.group(1))
    elif BARE_KEY.fullmatch(value) and not value.startswith('"'):
        key = value
    else:
        return None
    return key if 0 < len(key) <= MAX_KEY_LENGTH else None
