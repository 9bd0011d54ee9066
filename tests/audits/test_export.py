"""Streamed export: NDJSON and CSV of every match, gzip on request, stopped by a disconnect."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import zlib

import pytest

from audits.export import MARKER
from audits.schemas import AuditOut
from harness.server_process import ServerProcess
from tests.helpers import AUDITS, assert_error, create_audit

EXPORT = f"{AUDITS}/export"
AWKWARD_AGENT = 'ui "quoted", with comma\r\nand a new line'


@pytest.fixture
async def made(client, entity_id) -> list[dict]:
    records = [
        await create_audit(client, entity_id, details={"n": n, "big": 2**70 + n}) for n in range(7)
    ]
    records.append(await create_audit(client, entity_id, details=None, user_agent=AWKWARD_AGENT))
    records.append(await create_audit(client, entity_id, status="failure", user_id=None))
    return records


async def listed(client, params) -> dict:
    response = await client.get(AUDITS, params={**params, "limit": 50})
    assert response.status_code == 200, response.text
    return response.json()


async def test_ndjson_has_one_line_per_listed_record_exactly_as_the_list_renders_it(
    client, entity_id, made
):
    params = {"entity_id": str(entity_id)}
    response = await client.get(EXPORT, params=params)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="audits-') and disposition.endswith(
        '.ndjson"'
    )
    lines = response.text.splitlines()
    page = await listed(client, params)
    assert len(lines) == page["total"] == len(made)
    assert [json.loads(line) for line in lines] == page["items"]
    assert all(list(json.loads(line)) == list(AuditOut.model_fields) for line in lines)
    assert all(json.loads(line)["ledger_seq"] is not None for line in lines)
    assert f'"big": {2**70}' in response.text  # exact past 64 bits


async def test_order_oldest_is_the_reverse_and_filters_apply(client, entity_id, made):
    params = {"entity_id": str(entity_id)}
    newest = (await client.get(EXPORT, params=params)).text.splitlines()
    oldest = (await client.get(EXPORT, params={**params, "order": "oldest"})).text.splitlines()
    failures = (await client.get(EXPORT, params={**params, "status": "failure"})).text

    assert oldest == newest[::-1]
    assert [json.loads(line)["id"] for line in failures.splitlines()] == [made[-1]["id"]]
    contained = await client.get(EXPORT, params={**params, "details": '{"n": 3}'})
    assert [json.loads(line)["id"] for line in contained.text.splitlines()] == [made[3]["id"]]


async def test_csv_is_rfc_4180_and_round_trips_through_pythons_csv(client, entity_id, made):
    params = {"entity_id": str(entity_id), "format": "csv"}
    response = await client.get(EXPORT, params=params)

    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    assert response.text.endswith("\r\n") and "\r\n" in response.text.split(AWKWARD_AGENT)[0]
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    header, body = rows[0], rows[1:]
    items = (await listed(client, {"entity_id": str(entity_id)}))["items"]
    assert header == list(AuditOut.model_fields)
    assert len(body) == len(items) == len(made)
    for row, item in zip(body, items, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["id"] == item["id"]
        assert cells["user_agent"] == (item["user_agent"] or "")
        assert (json.loads(cells["details"]) if cells["details"] else None) == item["details"]
        assert cells["created_at"] == item["created_at"]
        assert cells["ledger_seq"] == str(item["ledger_seq"])


async def test_gzip_when_the_client_accepts_it(client, entity_id, made):
    params = {"entity_id": str(entity_id)}
    plain = await client.get(EXPORT, params=params, headers={"Accept-Encoding": "identity"})
    async with client.stream(
        "GET", EXPORT, params=params, headers={"Accept-Encoding": "gzip"}
    ) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])

    assert response.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["vary"]
    assert "content-encoding" not in plain.headers
    assert raw[:2] == b"\x1f\x8b"
    assert zlib.decompress(raw, 16 + zlib.MAX_WBITS) == plain.content


async def test_an_empty_export_is_an_empty_body_or_just_the_header(client):
    params = {"entity_type": "nothing-like-this-exists"}
    ndjson = await client.get(EXPORT, params=params)
    as_csv = await client.get(EXPORT, params={**params, "format": "csv"})
    assert ndjson.status_code == 200 and ndjson.content == b""
    assert as_csv.text == ",".join(AuditOut.model_fields) + "\r\n"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xml"}, "query.format"),
        ({"order": "random"}, "query.order"),
        ({"details": "nope"}, "query.details"),
        ({"limit": 5}, "query.limit"),
    ],
)
async def test_bad_export_parameters_are_422_before_anything_streams(client, params, field):
    body = assert_error(await client.get(EXPORT, params=params), 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == [field]


async def _export_backends(conn) -> list[str]:
    rows = await conn.fetch(
        "SELECT state FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
        f"{MARKER}%",
    )
    return [row["state"] for row in rows]


async def test_a_client_that_disconnects_stops_the_export_query(db):
    # Enough rows that the stream cannot fit in the socket buffers: the server must wait.
    await db.execute(
        """INSERT INTO audit (id, action_type, entity_type, entity_id, status, details, created_at)
           SELECT gen_random_uuid(), 'view', 'export_disconnect', gen_random_uuid(), 'success',
                  jsonb_build_object('pad', repeat('x', 400), 'n', n), now()
           FROM generate_series(1, 40000) AS n"""
    )
    with ServerProcess(LOG_LEVEL="WARNING") as server:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(
            f"GET {EXPORT}?entity_type=export_disconnect HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\n\r\n".encode()
        )
        assert b"200 OK" in client.recv(65536)
        await asyncio.sleep(0.5)
        # One connection, inside its transaction: fetching, or waiting for the client to read.
        running = await _export_backends(db)
        assert len(running) == 1 and running[0] in {"active", "idle in transaction"}

        client.close()
        for _ in range(30):  # within 3 seconds
            if not (remaining := await _export_backends(db)):
                break
            await asyncio.sleep(0.1)

    assert remaining == [], f"the export query outlived its client: {remaining}"
