"""The list page: newest first, by offset or past a cursor (keyset), with its total.

PostgreSQL renders the page as one JSON array (so `details` numbers stay exact) and reports
the keys of the page's ends, from which the route signs `next_cursor` and `prev_cursor`.
The SQL is module-level so that bench/reference.py runs the very same statements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from audits.cursor import Cursor
from audits.queries import (
    CREATED_AT,
    ID,
    NEWEST_FIRST,
    OLDEST_FIRST,
    RECORD_COLUMNS,
    TABLE,
    where_clause,
)
from db import connection


def page_sql(filters: dict[str, Any], after: Cursor | None = None) -> tuple[str, list[Any]]:
    """One page: the records as a JSON array (newest first), the keys of its newest and oldest
    rows, and whether matches lie beyond each end (probes ordered like the index, so the
    planner walks it from the boundary rather than scan for a row that may not exist). Limit
    and offset are the last two parameters. `after` starts the page past a cursor's row:
    keyset, so the index walks straight there and a deep page costs what the first does."""
    where, params = where_clause(filters)
    base, order = where, NEWEST_FIRST
    if after is not None:
        params += [after.created_at, after.id]
        sign = "<" if after.direction == "older" else ">"
        where += f" AND ({CREATED_AT}, {ID}) {sign} (${len(params) - 1}, ${len(params)})"
        order = NEWEST_FIRST if after.direction == "older" else OLDEST_FIRST
    n, newest, oldest = len(params), f"{CREATED_AT} DESC, {ID} DESC", f"{CREATED_AT}, {ID}"
    # Not json_agg(): it puts a newline between elements; this joins them with a bare comma.
    sql = f"""
        WITH page AS (
            SELECT {RECORD_COLUMNS} FROM {TABLE} WHERE {where} {order}
            LIMIT ${n + 1} OFFSET ${n + 2}
        ), ends AS (
            SELECT coalesce('[' || string_agg(row_to_json(page)::text, ',' ORDER BY {newest})
                            || ']', '[]') AS items,
                   (array_agg({CREATED_AT} ORDER BY {newest}))[1] AS newest_at,
                   (array_agg({ID} ORDER BY {newest}))[1] AS newest_id,
                   (array_agg({CREATED_AT} ORDER BY {oldest}))[1] AS oldest_at,
                   (array_agg({ID} ORDER BY {oldest}))[1] AS oldest_id
            FROM page
        )
        SELECT items, newest_at, newest_id, oldest_at, oldest_id,
               (SELECT 1 FROM {TABLE} WHERE {base} AND ({CREATED_AT}, {ID}) > (newest_at, newest_id)
                {OLDEST_FIRST} LIMIT 1) IS NOT NULL AS has_newer,
               (SELECT 1 FROM {TABLE} WHERE {base} AND ({CREATED_AT}, {ID}) < (oldest_at, oldest_id)
                {NEWEST_FIRST} LIMIT 1) IS NOT NULL AS has_older
        FROM ends
    """
    return sql, params


def count_sql(filters: dict[str, Any], up_to: int) -> tuple[str, list[Any]]:
    """Count matches, but stop after `up_to + 1`: an exact total never costs more than that."""
    where, params = where_clause(filters)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE {where} LIMIT {up_to + 1}) AS n"
    return sql, params


def estimate_sql(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    where, params = where_clause(filters)
    return f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {TABLE} WHERE {where}", params


@dataclass(frozen=True)
class Page:
    items: str  # JSON array text, newest first
    total: int | None
    total_is_estimate: bool
    newest: Cursor | None  # the newest row's key, when there is a newer match (else None)
    oldest: Cursor | None  # the oldest row's key, when there is an older match (else None)


async def count_total(conn, filters: dict[str, Any], exact_up_to: int) -> tuple[int, bool]:
    """The total and whether it is an estimate: exact while it is at most `exact_up_to`, else
    the planner's estimate (never below what was counted)."""
    sql, params = count_sql(filters, exact_up_to)
    total = await conn.fetchval(sql, *params)
    if total <= exact_up_to:
        return total, False
    sql, params = estimate_sql(filters)
    plan = json.loads(await conn.fetchval(sql, *params))
    return max(total, int(plan[0]["Plan"]["Plan Rows"])), True


async def walk_total(
    conn, filters: dict[str, Any], exact_up_to: int | None, after: Cursor | None
) -> tuple[int | None, bool]:
    """A page's total: the one its cursor carries from the walk's first page, else counted
    (see `count_total`); none without `exact_up_to`."""
    if after is not None and after.total is not None:
        return after.total, after.total_is_estimate
    if exact_up_to is None:
        return None, False
    return await count_total(conn, filters, exact_up_to)


async def list_audits(
    filters: dict[str, Any],
    limit: int,
    offset: int,
    *,
    exact_up_to: int | None,
    after: Cursor | None = None,
) -> Page:
    """One page, newest first with ties broken by id so pages are stable; past `after` if given.

    With `exact_up_to`, also the total (see `count_total`), counted once per walk: a cursor
    carries its first page's total, and the page's own cursors carry it on.
    """
    sql, params = page_sql(filters, after)
    async with connection() as conn:
        row = await conn.fetchrow(sql, *params, limit, offset)
        total, estimated = await walk_total(conn, filters, exact_up_to, after)
    return page_with_cursors(row, total, estimated)


def page_with_cursors(row, total: int | None, estimated: bool) -> Page:
    """The page `page_sql` rendered, its cursors carrying the walk's total."""
    ends = {"total": total, "total_is_estimate": estimated}
    newer = older = None
    if row["has_newer"]:
        newer = Cursor("newer", row["newest_at"], row["newest_id"], **ends)
    if row["has_older"]:
        older = Cursor("older", row["oldest_at"], row["oldest_id"], **ends)
    return Page(row["items"], total, estimated, newer, older)
