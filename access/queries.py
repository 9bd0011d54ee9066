"""Async query helpers for API keys, written with Piccolo's query builder.

Piccolo compiles each query to SQL and parameters; we run that on a connection from
`db.connection()` rather than with `.run()`, because `.run()` would take its own connection
from the pool, bypassing the acquire timeout and the outage mapping (503) that every other
query gets there. Helpers return plain dicts and never the secret hash, except `find_key`,
which the authentication check needs.
"""

from __future__ import annotations

from typing import Any

from piccolo.query import WhereRaw
from piccolo.querystring import QueryString

# A module import, not `from db import connection`: piccolo_conf's AppRegistry imports this
# app (through its commands) while db.py is itself still importing piccolo_conf.
import db
from access.tables import ApiKey

# The public face of a key: everything but the secret hash.
PUBLIC_COLUMNS = (
    ApiKey.name,
    ApiKey.prefix,
    ApiKey.scopes,
    ApiKey.created_at,
    ApiKey.last_used_at,
    ApiKey.revoked_at,
)
# A key in use gets its last_used_at moved at most this often, so reads do not become writes.
LAST_USED_RESOLUTION = "1 minute"


def _compiled(query: Any) -> tuple[str, list[Any]]:
    (querystring,) = query.querystrings
    return querystring.compile_string(engine_type="postgres")


async def _fetch(query: Any) -> list[dict[str, Any]]:
    sql, params = _compiled(query)
    async with db.connection() as conn:
        return [dict(record) for record in await conn.fetch(sql, *params)]


async def create_key(name: str, prefix: str, secret_hash: str, scopes: list[str]) -> dict:
    """Store a new key (its hash only); the row's public fields."""
    row = ApiKey(name=name, prefix=prefix, secret_hash=secret_hash, scopes=scopes)
    (created,) = await _fetch(ApiKey.insert(row).returning(*PUBLIC_COLUMNS))
    return created


async def find_key(prefix: str) -> dict | None:
    """The key with this prefix, with its secret hash, revoked or not; None if none."""
    rows = await _fetch(
        ApiKey.select(*PUBLIC_COLUMNS, ApiKey.secret_hash).where(ApiKey.prefix == prefix)
    )
    return rows[0] if rows else None


async def list_keys() -> list[dict]:
    """Every key ever minted, newest first, revoked ones included (with revoked_at)."""
    return await _fetch(ApiKey.select(*PUBLIC_COLUMNS).order_by(ApiKey.created_at, ascending=False))


async def revoke_key(prefix: str) -> dict | None:
    """Mark the key revoked (keeping the first revocation time); None if no such key."""
    rows = await _fetch(
        ApiKey.update({ApiKey.revoked_at: QueryString("COALESCE(revoked_at, now())")})
        .where(ApiKey.prefix == prefix)
        .returning(*PUBLIC_COLUMNS)
    )
    return rows[0] if rows else None


async def touch_last_used(prefix: str) -> None:
    """Record use, unless it was already recorded within LAST_USED_RESOLUTION."""
    await _fetch(
        ApiKey.update({ApiKey.last_used_at: QueryString("now()")}).where(
            ApiKey.prefix == prefix,
            ApiKey.last_used_at.is_null()
            | WhereRaw(f"last_used_at < now() - interval '{LAST_USED_RESOLUTION}'"),
        )
    )


async def has_active_key() -> bool:
    sql, params = _compiled(ApiKey.exists().where(ApiKey.revoked_at.is_null()))
    async with db.connection() as conn:
        return await conn.fetchval(sql, *params)
