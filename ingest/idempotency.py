"""The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header) on write routes.

A route takes `Once` (the parsed key, or None without the header) and hands its keyed
statement to `answer_once`, which writes and answers, or replays the stored first answer.

The fingerprint is SHA-256 over the method, the path and the raw body bytes, not over a
canonical form of the JSON: a retry re-sends the same bytes, hashing them needs no second
parse, and no canonicaliser has to agree on what `1.0`, `1e0` or a 30-digit integer mean
(RFC 8785 would turn big integers into floats). A client that re-serialises its body
differently gets a clear 422, never a second record.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError

from access.auth import authenticate
from errors import AppError, ErrorBody, error_response
from ingest import queries
from ingest.schemas import KEY_DESCRIPTION, KEY_PATTERN, MAX_KEY_LENGTH, parse_idempotency_key
from responses import JSONBytes, JSONText
from settings import Settings

REPLAYED_HEADER = "Idempotent-Replayed"
KEY_LOCATION = ("header", "Idempotency-Key")
KEY_FIELD = ".".join(KEY_LOCATION)
ANONYMOUS = "anonymous"


REUSED_MESSAGE = (
    "This Idempotency-Key was first used with a different request body (or route). "
    "Use a new key for a new request."
)


def key_reused() -> JSONBytes:
    """422 in the validation error's shape (what the route documents for 422), with its own
    code, as the draft asks: the header is the invalid field."""
    return error_response(
        422,
        "idempotency_key_reused",
        REUSED_MESSAGE,
        validation_errors=[{"field": KEY_FIELD, "message": REUSED_MESSAGE}],
    )


class IdempotencyKeyInFlight(AppError):
    status_code = 409
    code = "idempotency_key_in_flight"
    message = "A request with this Idempotency-Key is still being processed. Retry shortly."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


IDEMPOTENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {
        "headers": {
            REPLAYED_HEADER: {
                "description": "`true` when this is the stored first answer to the same "
                "Idempotency-Key, replayed; absent on a fresh write.",
                "schema": {"type": "string", "enum": ["true"]},
            }
        }
    },
    409: {
        "model": ErrorBody,
        "description": "`idempotency_key_in_flight`: a request with the same Idempotency-Key "
        "is still running; retry after Retry-After seconds.",
    },
}


async def idempotency_claim(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=KEY_DESCRIPTION,
            json_schema_extra={"pattern": KEY_PATTERN, "maxLength": MAX_KEY_LENGTH},
        ),
    ] = None,
) -> queries.Claim | None:
    if idempotency_key is None:
        return None
    values = request.headers.getlist("idempotency-key")
    key = parse_idempotency_key(idempotency_key) if len(values) == 1 else None
    if key is None:
        message = (
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters, bare or "
            'as a quoted string ("..."), sent once'
        )
        raise RequestValidationError([{"type": "value_error", "loc": KEY_LOCATION, "msg": message}])
    caller = await authenticate(request)
    body = await request.body()
    digest = hashlib.sha256(f"{request.method} {request.url.path}\n".encode())
    digest.update(body)
    return queries.Claim(caller.prefix if caller else ANONYMOUS, key, digest.hexdigest())


Once = Annotated[queries.Claim | None, Depends(idempotency_claim)]


async def answer_once(
    claim: queries.Claim,
    sql: str,
    params: list[Any],
    settings: Settings,
    *,
    location: str | None = None,
) -> JSONText | JSONBytes:
    """Run the keyed write `sql` and answer 201, or replay the key's first answer."""
    outcome = await queries.write_once(
        sql,
        params,
        claim,
        status=201,
        location=location,
        wait_s=settings.idempotency_wait_s,
        ttl_s=settings.idempotency_ttl_s,
    )
    match outcome:
        case queries.Written(body):
            headers = {"Location": location} if location else {}
            return JSONText(body, status_code=201, headers=headers)
        case queries.Replayed(status, body, stored_location):
            headers = {REPLAYED_HEADER: "true"}
            if stored_location:
                headers["Location"] = stored_location
            return JSONText(body, status_code=status, headers=headers)
        case queries.KeyReused():
            return key_reused()
        case queries.KeyInFlight():
            raise IdempotencyKeyInFlight()
    raise AssertionError(outcome)
