"""Batch insert and Idempotency-Key bookkeeping: each write is ONE statement.

A batch is one `INSERT … SELECT FROM unnest(…)` of one array per column, so 1,000 records
cost one round trip and one transaction, and the journal trigger (ledger/) writes an entry
per row inside it. The acting key reaches the trigger as in audits/queries.py: set inside the
statement, local to its transaction.

With an Idempotency-Key the same statement also stores the answer in `idempotency_key`:
the records and the key commit together or not at all, so a client retrying after a timeout
either finds the answer stored or finds nothing written. A key already committed stops the
insert (no rows) and the caller replays; a key still being written by another request makes
our claim wait for that transaction (a unique index does that), bounded by `lock_timeout`,
then fail with a unique violation (so we replay) or succeed (the first one rolled back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from piccolo.columns import JSONB
from piccolo.columns import UUID as UUIDColumn

from audits.queries import (
    ACTOR,
    CREATE_FIELDS,
    CREATE_VALUES,
    ID,
    RECORD_COLUMNS,
    TABLE,
)
from audits.tables import Audit
from db import connection
from ingest.tables import IdempotencyKey

KEYS = IdempotencyKey._meta.tablename
# Expired keys a new key deletes on its way in: keeps the table bounded without a cron.
SWEEP_LIMIT = 100

INSERT_COLUMNS = ", ".join(
    column._meta.db_column_name
    for column in (Audit.id, *CREATE_FIELDS, Audit.recorded_by, Audit.created_at)
)


def _array_type(column) -> str:
    # JSONB travels as text and is cast per element: asyncpg then sends the client's JSON text
    # untouched, so integers past 64 bits stay exact.
    return "uuid[]" if isinstance(column, UUIDColumn) else "text[]"


BATCH_COLUMNS = (Audit.id, *CREATE_FIELDS)
BATCH_ARRAYS = ", ".join(
    f"${n}::{_array_type(column)}" for n, column in enumerate(BATCH_COLUMNS, start=1)
)
BATCH_NAMES = ", ".join(column._meta.db_column_name for column in BATCH_COLUMNS)
BATCH_VALUES = ", ".join(
    f"input.{column._meta.db_column_name}" + ("::jsonb" if isinstance(column, JSONB) else "")
    for column in BATCH_COLUMNS
)
BATCH_ACTOR_PARAM = len(BATCH_COLUMNS) + 1

# The records, and `answer`: the body the client gets, rendered by PostgreSQL.
BATCH_WRITE = f"""
    record AS (
        INSERT INTO {TABLE} ({INSERT_COLUMNS})
        SELECT {BATCH_VALUES}, actor.name, now()
        FROM actor, unnest({BATCH_ARRAYS}) AS input({BATCH_NAMES})
        RETURNING {RECORD_COLUMNS}
    ), answer AS (
        SELECT '{{"items":[' || string_agg(row_to_json(record)::text, ',' ORDER BY position.n)
               || '],"count":' || count(*) || '}}' AS body
        FROM record JOIN unnest($1::uuid[]) WITH ORDINALITY AS position(id, n)
             ON position.id = record.{ID}
        HAVING count(*) > 0
    )
"""
CREATE_ACTOR_PARAM = len(CREATE_FIELDS) + 2
CREATE_WRITE = f"""
    record AS (
        INSERT INTO {TABLE} ({INSERT_COLUMNS})
        SELECT $1, {CREATE_VALUES}, actor.name, now() FROM actor
        RETURNING {RECORD_COLUMNS}
    ), answer AS (SELECT row_to_json(record)::text AS body FROM record)
"""

BATCH_SQL = f"WITH {ACTOR.format(n=BATCH_ACTOR_PARAM)}, {BATCH_WRITE} SELECT body FROM answer"


def keyed(write: str, actor_param: int) -> str:
    """`write` (CTEs `record` and `answer`) that also claims the Idempotency-Key, whose
    parameters follow the actor's: wait (ms), owner, key, fingerprint, status, location, ttl."""
    wait, owner, key, fingerprint, status, location, ttl = range(actor_param + 1, actor_param + 8)
    return f"""
    WITH actor AS (
        SELECT nullif(set_config('looped_needle.actor', coalesce(${actor_param}, ''), true), '')
                   AS name,
               set_config('lock_timeout', ${wait}, true) AS waits
        WHERE NOT EXISTS (
            SELECT 1 FROM {KEYS}
            WHERE owner = ${owner} AND key = ${key} AND expires_at > now()
        )
    ), {write}, claim AS (
        INSERT INTO {KEYS} (owner, key, fingerprint, response_status, response_body,
                            response_location, created_at, expires_at)
        SELECT ${owner}, ${key}, ${fingerprint}, ${status}, answer.body, ${location}, now(),
               now() + make_interval(secs => ${ttl})
        FROM answer
        RETURNING response_body
    ), swept AS (
        DELETE FROM {KEYS} WHERE id IN (
            SELECT id FROM {KEYS} WHERE expires_at <= now()
            ORDER BY expires_at LIMIT {SWEEP_LIMIT} FOR UPDATE SKIP LOCKED
        )
    )
    SELECT response_body FROM claim
    """


KEYED_CREATE_SQL = keyed(CREATE_WRITE, CREATE_ACTOR_PARAM)
KEYED_BATCH_SQL = keyed(BATCH_WRITE, BATCH_ACTOR_PARAM)
LOOKUP_SQL = f"""
    SELECT fingerprint, response_status, response_body, response_location,
           expires_at > now() AS live
    FROM {KEYS} WHERE owner = $1 AND key = $2
"""
FORGET_EXPIRED_SQL = f"DELETE FROM {KEYS} WHERE owner = $1 AND key = $2 AND expires_at <= now()"
UNIQUE_KEY = IdempotencyKey.one_per_owner._meta.name


def batch_params(ids: list[UUID], records: list[Any], details: list[str | None]) -> list[Any]:
    """BATCH_SQL's arrays: the ids, then one array per client field, read straight off the
    validated records (details as JSON text, serialized once by the caller)."""
    columns: list[list[Any]] = [ids]
    for column in CREATE_FIELDS:
        if isinstance(column, JSONB):
            columns.append(details)
        else:
            name = column._meta.name
            columns.append([getattr(record, name) for record in records])
    return columns


def details_text(details: dict[str, Any] | None) -> str | None:
    # The stdlib json, not orjson: orjson cannot write integers past 64 bits.
    return None if details is None else json.dumps(details, ensure_ascii=False)


async def insert_batch(params: list[Any], actor: str | None) -> str:
    """Insert every record or none; the answer body (items in input order, count)."""
    async with connection() as conn:
        return await conn.fetchval(BATCH_SQL, *params, actor)


@dataclass(frozen=True)
class Claim:
    owner: str  # the API key's prefix, or "anonymous"
    key: str
    fingerprint: str  # hex SHA-256 of method, path and raw body


@dataclass(frozen=True)
class Written:
    body: str


@dataclass(frozen=True)
class Replayed:
    status: int
    body: str
    location: str | None


@dataclass(frozen=True)
class KeyReused:
    """The key's first request had another body (or went to another route)."""


@dataclass(frozen=True)
class KeyInFlight:
    """The key's first request is still running after the wait."""


async def write_once(
    sql: str,
    params: list[Any],
    claim: Claim,
    *,
    status: int,
    location: str | None,
    wait_s: float,
    ttl_s: int,
) -> Written | Replayed | KeyReused | KeyInFlight:
    """Run a keyed write (`keyed(...)` SQL, `params` up to the actor) unless the key has an
    answer already."""
    key_params = [str(int(wait_s * 1000)), claim.owner, claim.key, claim.fingerprint]
    key_params += [status, location, float(ttl_s)]
    # A third pass happens only if a stored answer expired or vanished twice in a row.
    for _ in range(3):
        async with connection() as conn:
            try:
                body = await conn.fetchval(sql, *params, *key_params)
            except asyncpg.LockNotAvailableError:
                return KeyInFlight()
            except asyncpg.UniqueViolationError as error:
                if error.constraint_name != UNIQUE_KEY:
                    raise
                body = None  # the first request committed while we waited: replay it
            if body is not None:
                return Written(body)
            stored = await conn.fetchrow(LOOKUP_SQL, claim.owner, claim.key)
            if stored is None:
                continue  # swept between the two statements: nothing holds the key now
            if not stored["live"]:
                await conn.execute(FORGET_EXPIRED_SQL, claim.owner, claim.key)
                continue
        if stored["fingerprint"] != claim.fingerprint:
            return KeyReused()
        return Replayed(
            stored["response_status"], stored["response_body"], stored["response_location"]
        )
    return KeyInFlight()
