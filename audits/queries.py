"""Async query helpers for audits: each one SQL statement, plain dicts in and out.

They speak SQL on the pool behind Piccolo's engine (Piccolo owns the table and its
migrations). Every rule that must hold under concurrency — the status rule, the details
merge, soft delete — is decided inside one statement, so two requests cannot both win.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from audits.tables import Audit
from db import connection

Row = dict[str, Any]

PUBLIC_COLUMNS = [
    column._meta.db_column_name
    for column in Audit._meta.columns
    if column._meta.db_column_name != "deleted_at"
]
SELECT_COLUMNS = ", ".join(PUBLIC_COLUMNS)
LIVE = "deleted_at IS NULL"
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


# details go through the stdlib json both ways: orjson cannot write integers past 64 bits
# and reads them back as floats, which would change what the client stored.
def _to_row(record: Any) -> Row:
    row = dict(record)
    if row.get("details") is not None:
        row["details"] = json.loads(row["details"])
    return row


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


async def create_audit(fields: dict[str, Any]) -> Row:
    """Insert one record; the database assigns id and created_at."""
    async with connection() as conn:
        record = await conn.fetchrow(
            f"""
            INSERT INTO audit (id, action_type, entity_type, entity_id, user_id, details,
                               status, ip_address, user_agent, created_at)
            VALUES (gen_random_uuid(), $1, $2, $3, $4, $5::jsonb, $6, $7, $8, now())
            RETURNING {SELECT_COLUMNS}
            """,
            fields["action_type"],
            fields["entity_type"],
            fields["entity_id"],
            fields["user_id"],
            _json_or_none(fields["details"]),
            fields["status"],
            fields["ip_address"],
            fields["user_agent"],
        )
    return _to_row(record)


async def get_audit(audit_id: UUID) -> Row | None:
    async with connection() as conn:
        record = await conn.fetchrow(
            f"SELECT {SELECT_COLUMNS} FROM audit WHERE id = $1 AND {LIVE}", audit_id
        )
    return None if record is None else _to_row(record)


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """AND together the filters that were given, as positional parameters."""
    clauses, params = [LIVE], []
    comparisons = {
        "action_type": "action_type = ${}",
        "entity_type": "entity_type = ${}",
        "entity_id": "entity_id = ${}",
        "user_id": "user_id = ${}",
        "status": "status = ${}",
        "created_after": "created_at >= ${}",
        "created_before": "created_at < ${}",
    }
    for name, template in comparisons.items():
        value = filters.get(name)
        if value is not None:
            params.append(value)
            clauses.append(template.format(len(params)))
    return " AND ".join(clauses), params


async def list_audits(
    filters: dict[str, Any], limit: int, offset: int, *, count: bool = True
) -> tuple[list[Row], int | None]:
    """One page, newest first (ties broken by id so pages are stable), and the matching total
    (None when `count` is off)."""
    where, params = _where(filters)
    page_sql = (
        f"SELECT {SELECT_COLUMNS} FROM audit WHERE {where} {NEWEST_FIRST} "
        f"LIMIT ${len(params) + 1} OFFSET ${len(params) + 2}"
    )
    async with connection() as conn:
        records = await conn.fetch(page_sql, *params, limit, offset)
        total = None
        if count:
            total = await conn.fetchval(f"SELECT count(*) FROM audit WHERE {where}", *params)
    return [_to_row(record) for record in records], total


async def update_audit(
    audit_id: UUID, status: str | None, details: dict[str, Any] | None
) -> tuple[Row | None, str | None]:
    """Apply a status change (only from 'pending', or to the same status) and merge details.

    Returns (row, None) when applied; (None, current_status) when the status rule refused;
    (None, None) when there is no live record.
    """
    async with connection() as conn:
        record = await conn.fetchrow(
            f"""
            WITH target AS (
                SELECT id, status AS current_status FROM audit
                WHERE id = $1 AND {LIVE} FOR UPDATE
            ), changed AS (
                UPDATE audit SET
                    status = COALESCE($2, audit.status),
                    details = CASE WHEN $3::jsonb IS NULL THEN audit.details
                                   ELSE COALESCE(audit.details, '{{}}'::jsonb) || $3::jsonb END,
                    updated_at = CASE
                        WHEN COALESCE($2, audit.status) IS DISTINCT FROM audit.status
                          OR ($3::jsonb IS NOT NULL AND COALESCE(audit.details, '{{}}'::jsonb)
                              || $3::jsonb IS DISTINCT FROM audit.details)
                        THEN now() ELSE audit.updated_at END
                FROM target
                WHERE audit.id = target.id
                  AND ($2::text IS NULL OR audit.status = 'pending' OR audit.status = $2)
                RETURNING {", ".join(f"audit.{name}" for name in PUBLIC_COLUMNS)}
            )
            SELECT target.current_status, changed.* FROM target LEFT JOIN changed ON true
            """,
            audit_id,
            status,
            _json_or_none(details),
        )
    if record is None:
        return None, None
    if record["id"] is None:
        return None, record["current_status"]
    row = _to_row(record)
    del row["current_status"]
    return row, None


async def delete_audit(audit_id: UUID) -> bool:
    """Soft delete: stamp deleted_at. False if there was no live record."""
    async with connection() as conn:
        deleted_id = await conn.fetchval(
            f"UPDATE audit SET deleted_at = now() WHERE id = $1 AND {LIVE} RETURNING id", audit_id
        )
    return deleted_id is not None
