"""Streamed export: every match, through a server-side cursor, in constant memory.

One pooled connection is held for the whole stream, inside a read-only REPEATABLE READ
transaction (one consistent snapshot however long the download takes) with its own long
statement timeout. Rows come in chunks of CHUNK_ROWS; the next chunk is fetched only when the
previous one has been handed to the client, so a slow client slows the query instead of
filling memory, and a client that leaves cancels it (the generator is closed, asyncpg
cancels the running FETCH and the transaction rolls back).
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

from piccolo.columns import Timestamptz

from audits.queries import CREATED_AT, ID, RECORD_COLUMNS, RECORD_FIELDS, TABLE, _name, where_clause
from db import connection

Format = Literal["ndjson", "csv"]
Order = Literal["newest", "oldest"]
CHUNK_ROWS = 2_000
MARKER = "/* looped-needle audit export */"
# API statements have asyncpg's short DB_COMMAND_TIMEOUT_S; an export's chunks may take
# longer on a cold cache, so they get their own bound, on both sides of the wire.
EXPORT_TIMEOUT_S = 3600
CSV_HEADER = [column._meta.name for column in RECORD_FIELDS]
# CSV cells are PostgreSQL's text of each column; timestamps as RFC 3339 (their JSON text),
# `details` as its JSON text, so big integers stay exact.
CSV_CELLS = ", ".join(
    f"to_json({_name(column)}) #>> '{{}}'"
    if isinstance(column, Timestamptz)
    else f"{_name(column)}::text"
    for column in RECORD_FIELDS
)


def export_sql(filters: dict[str, Any], order: Order, format: Format) -> tuple[str, list[Any]]:
    where, params = where_clause(filters)
    direction = "DESC" if order == "newest" else "ASC"
    ordering = f"ORDER BY {CREATED_AT} {direction}, {ID} {direction}"
    # The comment names the statement in pg_stat_activity, for operators (and the tests).
    if format == "ndjson":
        sql = (
            f"{MARKER} SELECT row_to_json(record)::text FROM "
            f"(SELECT {RECORD_COLUMNS} FROM {TABLE} WHERE {where} {ordering}) AS record"
        )
    else:
        sql = f"{MARKER} SELECT {CSV_CELLS} FROM {TABLE} WHERE {where} {ordering}"
    return sql, params


def _csv_chunk(rows: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def export_records(
    filters: dict[str, Any], order: Order, format: Format, *, gzip: bool = False
) -> AsyncIterator[bytes]:
    """The export's body, chunk by chunk (gzip-compressed incrementally when asked)."""
    sql, params = export_sql(filters, order, format)
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS) if gzip else None
    async with connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(f"SET LOCAL statement_timeout = '{EXPORT_TIMEOUT_S}s'")
        cur = await conn.cursor(sql, *params, timeout=EXPORT_TIMEOUT_S)
        # The first chunk: the query has started (or failed before any byte went out).
        yield _pack(packer, _csv_chunk([CSV_HEADER])) if format == "csv" else b""
        while rows := await cur.fetch(CHUNK_ROWS, timeout=EXPORT_TIMEOUT_S):
            if format == "ndjson":
                text = "\n".join(row[0] for row in rows) + "\n"
            else:
                text = _csv_chunk(rows)
            if packed := _pack(packer, text):
                yield packed
    if packer is not None:
        yield packer.flush()


def _pack(packer: Any, text: str) -> bytes:
    data = text.encode()
    return data if packer is None else packer.compress(data)


async def start_export(
    filters: dict[str, Any], order: Order, format: Format, *, gzip: bool = False
) -> AsyncIterator[bytes]:
    """Open the export's connection, snapshot and cursor now, so that a database outage is
    still a clean 503 rather than a broken 200; then stream the rest."""
    body = export_records(filters, order, format, gzip=gzip)
    first = await anext(body)

    async def stream() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for chunk in body:
                yield chunk
        finally:
            await body.aclose()

    return stream()


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when Accept-Encoding lists gzip with a non-zero q (RFC 9110 12.5.3)."""
    for item in (accept_encoding or "").split(","):
        coding, _, parameters = item.partition(";")
        if coding.strip().lower() == "gzip":
            q = parameters.strip().removeprefix("q=").strip() if parameters else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def filename(format: Format) -> str:
    return f"audits-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{format}"
