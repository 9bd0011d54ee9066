"""Async query helpers for audits: each one SQL statement, plain values in and out.

They speak SQL on the pool behind Piccolo's engine (Piccolo owns the table and its
migrations). Every rule that must hold under concurrency (the status rule, the details
merge, soft delete) is decided inside one statement, so two requests cannot both win.

PostgreSQL also renders each record as JSON text (`row_to_json`): numbers in `details`
come back exactly as stored, and the API returns the text without re-parsing it. The SQL
is module-level so that bench/reference.py runs the very same statements.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from db import connection

LIVE = "deleted_at IS NULL"
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"
# The public fields, in the order a record is shown. row_to_json() of a row with exactly
# these columns renders the record compactly, keys in this order.
RECORD_COLUMNS = (
    "id, action_type, entity_type, entity_id, user_id, details, status, ip_address, "
    "user_agent, created_at, updated_at"
)
AUDIT_COLUMNS = ", ".join(f"audit.{name.strip()}" for name in RECORD_COLUMNS.split(","))

CREATE_SQL = f"""
    WITH record AS (
        INSERT INTO audit (id, action_type, entity_type, entity_id, user_id, details,
                           status, ip_address, user_agent, created_at)
        VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, now())
        RETURNING {RECORD_COLUMNS}
    )
    SELECT row_to_json(record)::text FROM record
"""
GET_SQL = f"""
    SELECT row_to_json(record)::text
    FROM (SELECT {RECORD_COLUMNS} FROM audit WHERE id = $1 AND {LIVE}) AS record
"""
UPDATE_SQL = f"""
    WITH target AS (
        SELECT id, status AS current_status FROM audit WHERE id = $1 AND {LIVE} FOR UPDATE
    ), changed AS (
        UPDATE audit SET
            status = COALESCE($2, audit.status),
            details = CASE WHEN $3::jsonb IS NULL THEN audit.details
                           ELSE COALESCE(audit.details, '{{}}'::jsonb) || $3::jsonb END,
            updated_at = CASE
                WHEN COALESCE($2, audit.status) IS DISTINCT FROM audit.status
                  OR ($3::jsonb IS NOT NULL
                      AND COALESCE(audit.details, '{{}}'::jsonb) || $3::jsonb
                          IS DISTINCT FROM audit.details)
                THEN now() ELSE audit.updated_at END
        FROM target
        WHERE audit.id = target.id
          AND ($2::text IS NULL OR audit.status = 'pending' OR audit.status = $2)
        RETURNING {AUDIT_COLUMNS}
    )
    SELECT target.current_status, (SELECT row_to_json(changed)::text FROM changed) AS record
    FROM target
"""
DELETE_SQL = f"UPDATE audit SET deleted_at = now() WHERE id = $1 AND {LIVE} RETURNING id"

FILTER_COMPARISONS = {
    "action_type": "action_type = ${}",
    "entity_type": "entity_type = ${}",
    "entity_id": "entity_id = ${}",
    "user_id": "user_id = ${}",
    "status": "status = ${}",
    "created_after": "created_at >= ${}",
    "created_before": "created_at < ${}",
}


def where_clause(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """AND together the filters that were given, as positional parameters."""
    clauses, params = [LIVE], []
    for name, template in FILTER_COMPARISONS.items():
        value = filters.get(name)
        if value is not None:
            params.append(value)
            clauses.append(template.format(len(params)))
    return " AND ".join(clauses), params


def page_sql(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """One page as a JSON array; limit and offset are the last two parameters."""
    where, params = where_clause(filters)
    n = len(params)
    sql = (
        "SELECT coalesce(json_agg(record ORDER BY record.created_at DESC, record.id DESC), "
        f"'[]')::text FROM (SELECT {RECORD_COLUMNS} FROM audit WHERE {where} "
        f"{NEWEST_FIRST} LIMIT ${n + 1} OFFSET ${n + 2}) AS record"
    )
    return sql, params


def count_sql(filters: dict[str, Any], up_to: int) -> tuple[str, list[Any]]:
    """Count matches, but stop after `up_to + 1`: an exact total never costs more than that."""
    where, params = where_clause(filters)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM audit WHERE {where} LIMIT {up_to + 1}) AS capped"
    return sql, params


def estimate_sql(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    where, params = where_clause(filters)
    return f"EXPLAIN (FORMAT JSON) SELECT 1 FROM audit WHERE {where}", params


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    # The stdlib json, not orjson: orjson cannot write integers past 64 bits.
    return None if value is None else json.dumps(value, ensure_ascii=False)


async def create_audit(audit_id: UUID, fields: dict[str, Any]) -> str:
    """Insert one record; the database stamps created_at. Returns the record as JSON text."""
    async with connection() as conn:
        return await conn.fetchval(
            CREATE_SQL,
            audit_id,
            fields["action_type"],
            fields["entity_type"],
            fields["entity_id"],
            fields["user_id"],
            _json_or_none(fields["details"]),
            fields["status"],
            fields["ip_address"],
            fields["user_agent"],
        )


async def get_audit(audit_id: UUID) -> str | None:
    async with connection() as conn:
        return await conn.fetchval(GET_SQL, audit_id)


async def list_audits(
    filters: dict[str, Any], limit: int, offset: int, *, exact_up_to: int | None
) -> tuple[str, int | None, bool]:
    """One page (JSON array text), newest first with ties broken by id so pages are stable.

    With `exact_up_to`, also the total: exact while it is at most that many, else the
    planner's estimate (never below what was counted), flagged as an estimate.
    """
    sql, params = page_sql(filters)
    async with connection() as conn:
        page = await conn.fetchval(sql, *params, limit, offset)
        if exact_up_to is None:
            return page, None, False
        sql, params = count_sql(filters, exact_up_to)
        total = await conn.fetchval(sql, *params)
        if total <= exact_up_to:
            return page, total, False
        sql, params = estimate_sql(filters)
        plan = json.loads(await conn.fetchval(sql, *params))
    return page, max(total, int(plan[0]["Plan"]["Plan Rows"])), True


def page_json(
    items: str, total: int, estimated: bool, limit: int, offset: int, **members: str
) -> str:
    """The list answer around a page PostgreSQL rendered; `members` are extra raw-JSON fields."""
    extra = "".join(f'"{name}":{value},' for name, value in members.items())
    flag = "true" if estimated else "false"
    return (
        f'{{{extra}"items":{items},"total":{total},"total_is_estimate":{flag},'
        f'"limit":{limit},"offset":{offset}}}'
    )


async def update_audit(
    audit_id: UUID, status: str | None, details: dict[str, Any] | None
) -> tuple[str | None, str | None]:
    """Apply a status change (only from 'pending', or to the same status) and merge details.

    Returns (record JSON, None) when applied; (None, current_status) when the status rule
    refused; (None, None) when there is no live record.
    """
    async with connection() as conn:
        row = await conn.fetchrow(UPDATE_SQL, audit_id, status, _json_or_none(details))
    if row is None:
        return None, None
    return row["record"], None if row["record"] else row["current_status"]


async def delete_audit(audit_id: UUID) -> bool:
    """Soft delete: stamp deleted_at. False if there was no live record."""
    async with connection() as conn:
        return await conn.fetchval(DELETE_SQL, audit_id) is not None
