"""The ai_call ledger: write one row per upstream attempt; read usage totals in SQL.

The write is Piccolo's query builder. The usage report stays SQL: Piccolo has no
`percentile_cont … WITHIN GROUP` or aggregate `FILTER`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ai.tables import AiCall
from db import DATABASE_NOW, connection, run
from errors import DatabaseUnavailable

logger = logging.getLogger("looped_needle.ai")


async def record_call(
    *,
    operation: str,
    model: str,
    status: str,
    error_code: str | None,
    attempt: int,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    latency_ms: float,
    request_id: str | None,
) -> None:
    """Append a ledger row. A ledger outage is logged, never allowed to fail the AI answer."""
    try:
        await run(
            AiCall.insert(
                AiCall(
                    created_at=DATABASE_NOW,
                    operation=operation,
                    model=model[:200],
                    status=status,
                    error_code=error_code,
                    attempt=attempt,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    latency_ms=latency_ms,
                    request_id=request_id,
                )
            )
        )
    except DatabaseUnavailable:
        logger.warning(
            "ai_call ledger row lost: database unavailable",
            extra={"operation": operation, "status": status, "request_id": request_id},
        )


async def usage_totals(since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
    """Per operation and model: calls, failures, tokens, p50/p95 latency over the window."""
    async with connection() as conn:
        records = await conn.fetch(
            """
            SELECT operation, model,
                   count(*) AS calls,
                   count(*) FILTER (WHERE status <> 'success') AS failures,
                   coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
                   coalesce(sum(completion_tokens), 0) AS completion_tokens,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_latency_ms,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms
            FROM ai_call
            WHERE ($1::timestamptz IS NULL OR created_at >= $1)
              AND ($2::timestamptz IS NULL OR created_at < $2)
            GROUP BY operation, model
            ORDER BY operation, model
            """,
            since,
            until,
        )
    return [dict(record) for record in records]
