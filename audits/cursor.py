"""Opaque, signed page cursors for keyset paging on (created_at, id), newest first.

A cursor is `base64url(JSON).base64url(HMAC-SHA256 tag)`. The JSON names the direction
(`older` for the next page, `newer` for the previous one), the boundary row's `created_at`
and `id`, a digest of the filters the page was made for, and the walk's total (counted
once, with its first page, so a deep walk never counts again). The tag's key is derived from
LEDGER_SIGNING_KEY, so every worker and every restart accepts the same cursors, and a cursor
that was edited, forged, or is used with other filters fails `decode`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

Direction = Literal["older", "newer"]
KEY_LABEL = b"looped-needle cursor v1"
# Without a signing key (a local run), cursors hold only inside this process.
_PROCESS_SECRET = secrets.token_bytes(32)


class InvalidCursor(ValueError):
    """The cursor is malformed, forged, or was made for other filters."""


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    created_at: datetime
    id: UUID
    # The walk's `total` and `total_is_estimate`, from its first page (None: count again).
    total: int | None = None
    total_is_estimate: bool = False


@functools.cache  # one signing key per process; every list answer signs its cursors
def cursor_key(signing_key: str | None) -> bytes:
    """The cursor MAC key: HMAC(signing key bytes, label), never the signing key itself."""
    secret = signing_key.encode() if signing_key else _PROCESS_SECRET
    return hmac.new(secret, KEY_LABEL, hashlib.sha256).digest()


def filters_digest(filters: dict[str, Any]) -> str:
    """A short digest of the filters (JSON-ready values), independent of their order."""
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
    return _b64(hashlib.sha256(canonical.encode()).digest()[:16])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(cursor: Cursor, filters: dict[str, Any], key: bytes) -> str:
    payload = {
        "d": cursor.direction,
        "t": cursor.created_at.isoformat(),
        "i": str(cursor.id),
        "f": filters_digest(filters),
    }
    if cursor.total is not None:
        payload |= {"n": cursor.total, "e": cursor.total_is_estimate}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    tag = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(tag)}"


def decode(text: str, filters: dict[str, Any], key: bytes) -> Cursor:
    body, dot, tag = text.partition(".")
    try:
        if not dot or not body.isascii() or not tag.isascii():
            raise ValueError
        given = _unb64(tag)
        expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
    except (ValueError, binascii.Error):
        raise InvalidCursor("the cursor is malformed") from None
    if not hmac.compare_digest(given, expected):
        raise InvalidCursor("the cursor was not issued by this service (or was changed)")
    payload = json.loads(_unb64(body))
    if payload["f"] != filters_digest(filters):
        raise InvalidCursor("the cursor was made for other filters; send the same filters")
    try:
        created_at = datetime.fromisoformat(payload["t"])
    except ValueError:
        raise InvalidCursor("the cursor is malformed") from None
    return Cursor(
        payload["d"], created_at, UUID(payload["i"]), payload.get("n"), payload.get("e", False)
    )
