"""Counts per time bucket and group, for dashboards: one GROUP BY statement, buckets in UTC."""

from __future__ import annotations

from typing import Any, Literal

from audits.queries import CREATED_AT, TABLE, _name, where_clause
from audits.tables import Audit
from db import connection

GroupBy = Literal["action_type", "entity_type", "status", "user_id", "recorded_by"]
Interval = Literal["hour", "day", "week"]
# Only these column names ever reach the SQL text: `group_by` is checked against them.
GROUP_COLUMNS = {name: _name(Audit._meta.get_column_by_name(name)) for name in GroupBy.__args__}
MAX_BUCKETS = 10_000


class TooManyBuckets(Exception):
    """The answer would exceed MAX_BUCKETS rows: narrow the window or coarsen the interval."""


def stats_sql(filters: dict[str, Any], group_by: GroupBy) -> tuple[str, list[Any]]:
    """Buckets as (start, group, count); the interval and the row cap are the last two params.

    The bucket is `date_trunc` of the UTC wall time, so a day is a UTC day whatever the
    session's zone, and a week starts on Monday (ISO 8601)."""
    where, params = where_clause(filters)
    n = len(params)
    column = GROUP_COLUMNS[group_by]
    sql = f"""
        SELECT to_char(date_trunc(${n + 1}, {CREATED_AT} AT TIME ZONE 'UTC'),
                       'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS start,
               {column}::text AS "group", count(*) AS count
        FROM {TABLE} WHERE {where}
        GROUP BY 1, 2 ORDER BY 1, 2 LIMIT ${n + 2}
    """
    return sql, params


async def audit_stats(
    filters: dict[str, Any], group_by: GroupBy, interval: Interval
) -> list[dict[str, Any]]:
    """Buckets ordered by start then group (null last); raises TooManyBuckets past the cap."""
    sql, params = stats_sql(filters, group_by)
    async with connection() as conn:
        rows = await conn.fetch(sql, *params, interval, MAX_BUCKETS + 1)
    if len(rows) > MAX_BUCKETS:
        raise TooManyBuckets()
    return [dict(row) for row in rows]
