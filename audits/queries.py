"""Async query helpers for audits: each one SQL statement, plain values in and out.

Every column name comes from the Piccolo table (`audits/tables.py`) and every filter name
from `AuditFilters`, so renaming either fails at import or in a test, never in production.

The soft delete is Piccolo's query builder. The rest stays SQL because Piccolo cannot say
it without loss: the status rule and the `details` merge must be one statement so two
requests cannot both win; PostgreSQL renders each record as JSON text (`row_to_json`) so
numbers in `details` come back exactly as stored and the API returns the text unparsed; and
LIMIT/OFFSET are bound parameters. The SQL is module-level so that bench/reference.py runs
the very same statements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from piccolo.columns import JSONB, Column

from audits.schemas import AuditCreate, AuditFilters
from audits.tables import Audit
from db import DATABASE_NOW, connection, run


def _name(column: Column) -> str:
    return column._meta.db_column_name


TABLE = Audit._meta.tablename
ID, STATUS, DETAILS = _name(Audit.id), _name(Audit.status), _name(Audit.details)
CREATED_AT, UPDATED_AT = _name(Audit.created_at), _name(Audit.updated_at)
LIVE = f"{_name(Audit.deleted_at)} IS NULL"
NEWEST_FIRST = f"ORDER BY {CREATED_AT} DESC, {ID} DESC"
OLDEST_FIRST = f"ORDER BY {CREATED_AT}, {ID}"

# The public fields: every column but the soft-delete stamp, in the table's order.
# row_to_json() of a row with exactly these columns renders the record compactly, keys in
# this order.
RECORD_FIELDS = tuple(column for column in Audit._meta.columns if column is not Audit.deleted_at)
RECORD_COLUMNS = ", ".join(_name(column) for column in RECORD_FIELDS)
AUDIT_COLUMNS = ", ".join(f"{TABLE}.{_name(column)}" for column in RECORD_FIELDS)

# What a client sends, bound after the id in this order; the database stamps created_at.
CREATE_FIELDS = tuple(Audit._meta.get_column_by_name(name) for name in AuditCreate.model_fields)
CREATE_VALUES = ", ".join(
    f"${n}::jsonb" if isinstance(column, JSONB) else f"${n}"
    for n, column in enumerate(CREATE_FIELDS, start=2)
)
# Who acts: the API key's label, for the journal trigger (ledger/) to write into the entry.
# Set inside the statement, local to its transaction, and before any row is written (the row
# is selected FROM it), so it works through PgBouncer and can never leak to another request.
ACTOR_PARAM = len(CREATE_FIELDS) + 2
ACTOR = (
    "actor AS (SELECT nullif(set_config('looped_needle.actor', coalesce(${n}, ''), true), '')"
    " AS name)"
)
CREATE_SQL = f"""
    WITH {ACTOR.format(n=ACTOR_PARAM)}, record AS (
        INSERT INTO {TABLE} ({ID}, {", ".join(_name(column) for column in CREATE_FIELDS)},
                             {_name(Audit.recorded_by)}, {CREATED_AT})
        SELECT $1, {CREATE_VALUES}, actor.name, now() FROM actor
        RETURNING {RECORD_COLUMNS}
    )
    SELECT row_to_json(record)::text FROM record
"""
GET_SQL = f"""
    SELECT row_to_json(record)::text
    FROM (SELECT {RECORD_COLUMNS} FROM {TABLE} WHERE {ID} = $1 AND {LIVE}) AS record
"""
MERGED_DETAILS = f"COALESCE({TABLE}.{DETAILS}, '{{}}'::jsonb) || $3::jsonb"
UPDATE_SQL = f"""
    WITH {ACTOR.format(n=4)}, target AS (
        SELECT {ID}, {STATUS} AS current_status FROM {TABLE}
        WHERE {ID} = $1 AND {LIVE} FOR UPDATE
    ), changed AS (
        UPDATE {TABLE} SET
            {STATUS} = COALESCE($2, {TABLE}.{STATUS}),
            {DETAILS} = CASE WHEN $3::jsonb IS NULL THEN {TABLE}.{DETAILS}
                             ELSE {MERGED_DETAILS} END,
            {UPDATED_AT} = CASE
                WHEN COALESCE($2, {TABLE}.{STATUS}) IS DISTINCT FROM {TABLE}.{STATUS}
                  OR ($3::jsonb IS NOT NULL AND {MERGED_DETAILS} IS DISTINCT FROM {TABLE}.{DETAILS})
                THEN now() ELSE {TABLE}.{UPDATED_AT} END
        FROM target, actor
        WHERE {TABLE}.{ID} = target.{ID}
          AND ($2::text IS NULL OR {TABLE}.{STATUS} = 'pending' OR {TABLE}.{STATUS} = $2)
        RETURNING {AUDIT_COLUMNS}
    )
    SELECT target.current_status, (SELECT row_to_json(changed)::text FROM changed) AS record
    FROM target
"""

# Each list filter compares one column with one bound value: equality, except the window and
# the `details` containment (`@>`, served by a GIN jsonb_path_ops index).
WINDOW = {"created_after": f"{CREATED_AT} >= ${{n}}", "created_before": f"{CREATED_AT} < ${{n}}"}
FILTER_COMPARISONS = {
    name: WINDOW.get(name) or f"{_name(Audit._meta.get_column_by_name(name))} = ${{n}}"
    for name in AuditFilters.model_fields
} | {"details": f"{DETAILS} @> ${{n}}::jsonb"}


def where_clause(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """AND together the filters that were given, as positional parameters."""
    clauses, params = [LIVE], []
    for name, comparison in FILTER_COMPARISONS.items():
        value = filters.get(name)
        if value is not None:
            params.append(value)
            clauses.append(comparison.format(n=len(params)))
    return " AND ".join(clauses), params


def _json_or_none(value: dict[str, Any] | None) -> str | None:
    # The stdlib json, not orjson: orjson cannot write integers past 64 bits.
    return None if value is None else json.dumps(value, ensure_ascii=False)


def create_params(audit_id: UUID, fields: dict[str, Any]) -> list[Any]:
    """CREATE_SQL's parameters: the id, then each client field (JSONB ones as JSON text)."""
    values = [fields[column._meta.name] for column in CREATE_FIELDS]
    return [
        audit_id,
        *(
            _json_or_none(value) if isinstance(column, JSONB) else value
            for column, value in zip(CREATE_FIELDS, values, strict=True)
        ),
    ]


async def create_audit(audit_id: UUID, fields: dict[str, Any], actor: str | None = None) -> str:
    """Insert one record written by `actor` (an API key's label, or None); the database stamps
    created_at. Returns the record as JSON text."""
    async with connection() as conn:
        return await conn.fetchval(CREATE_SQL, *create_params(audit_id, fields), actor)


async def get_audit(audit_id: UUID) -> str | None:
    async with connection() as conn:
        return await conn.fetchval(GET_SQL, audit_id)


@dataclass(frozen=True)
class Updated:
    record: str  # the record after the change, as JSON text


@dataclass(frozen=True)
class StatusRefused:
    current_status: str  # final already: the status rule refused the change, nothing changed


@dataclass(frozen=True)
class NotFound:
    """No live record has that id."""


async def update_audit(
    audit_id: UUID, status: str | None, details: dict[str, Any] | None, actor: str | None = None
) -> Updated | StatusRefused | NotFound:
    """Apply a status change (only from 'pending', or to the same status) and merge details."""
    async with connection() as conn:
        row = await conn.fetchrow(UPDATE_SQL, audit_id, status, _json_or_none(details), actor)
    if row is None:
        return NotFound()
    if row["record"] is None:
        return StatusRefused(row["current_status"])
    return Updated(row["record"])


async def delete_audit(audit_id: UUID, actor: str | None = None) -> bool:
    """Soft delete: stamp deleted_at. False if there was no live record."""
    deleted = await run(
        Audit.update({Audit.deleted_at: DATABASE_NOW})
        .where((Audit.id == audit_id) & Audit.deleted_at.is_null())
        .returning(Audit.id),
        actor=actor,
    )
    return bool(deleted)
