"""The at-scale scenarios of issue 12, run by bench/run.py after the wrk matrix:

- export: rows/s of the service's NDJSON export of the whole table next to PostgreSQL's own
  `COPY (SELECT …) TO STDOUT` of the same rows and SQL (asyncpg `copy_from_query` into a
  counting sink), and the service's RSS growth while it streams;
- deep page: cursor page 1,000 of the unfiltered list (a fixed cursor URL) under wrk at 10
  connections, next to page 1;
- open loop: /health, GET by id and create at a fixed rate of 50% of the service's measured
  maximum (wrk, 10 connections), on the service and on both references, p50/p99 measured
  from each request's scheduled time (bench/openloop.py).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import httpx

from audits import cursor
from audits.export import export_sql
from audits.listing import count_total
from bench import openloop
from settings import Settings

DEEP_PAGE, PAGE_SIZE = 1_000, 20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def copy_rows(database_url: str) -> dict:
    """PostgreSQL's own limit: COPY of the export's very query to a sink that only counts."""
    sql, params = export_sql({}, "newest", "ndjson")
    assert not params
    received = 0

    async def sink(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetchval("SELECT count(*) FROM audit WHERE deleted_at IS NULL")
        started = time.perf_counter()
        await conn.copy_from_query(sql, output=sink)
        seconds = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "bytes": received,
    }


def export_rows(service_url: str, headers: dict[str, str], pid: int) -> dict:
    """The service's NDJSON export of every row, read as fast as the client can, with the
    server's RSS sampled throughout."""
    before = peak = rss_mb(pid)
    lines = size = 0
    started = time.perf_counter()
    with httpx.stream(
        "GET",
        f"{service_url}/api/v1/audits/export?format=ndjson",
        headers={**headers, "Accept-Encoding": "identity"},
        timeout=600,
    ) as response:
        response.raise_for_status()
        for n, chunk in enumerate(response.iter_raw(1 << 20)):
            lines += chunk.count(b"\n")
            size += len(chunk)
            if n % 8 == 0:
                peak = max(peak, rss_mb(pid))
    seconds = time.perf_counter() - started
    return {
        "rows": lines,
        "seconds": round(seconds, 2),
        "rows_per_s": round(lines / seconds),
        "bytes": size,
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_mb": round(peak - before, 1),
    }


async def deep_cursor_path(database_url: str, signing_key: str) -> str:
    """The list URL of page DEEP_PAGE (unfiltered, PAGE_SIZE a page): a cursor past the row
    just above it, signed with the service's key, as page 999's `next_cursor` would be."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT created_at, id FROM audit WHERE deleted_at IS NULL "
            "ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
            (DEEP_PAGE - 1) * PAGE_SIZE - 1,
        )
        # Page 1 counted the walk's total; every cursor after it carries that count.
        total, estimated = await count_total(conn, {}, Settings().list_exact_total_up_to)
    finally:
        await conn.close()
    after = cursor.Cursor("older", row["created_at"], row["id"], total, estimated)
    token = cursor.encode(after, {}, cursor.cursor_key(signing_key))
    return f"/api/v1/audits?limit={PAGE_SIZE}&cursor={token}"


def open_loop(url: str, rate: float, seconds: float, headers: dict, post: str | None) -> dict:
    return asyncio.run(
        openloop.run(url, rate, seconds, connections=4, headers=headers, post_template=post)
    )
