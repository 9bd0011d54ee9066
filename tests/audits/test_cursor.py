"""Cursor paging on the list: keyset on (created_at, id), opaque, signed, tied to its filters."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from audits import queries
from audits.cursor import cursor_key
from harness.server_process import ServerProcess
from tests.helpers import AUDITS, assert_error, audit_body

BASE = datetime(2025, 3, 1, tzinfo=UTC)


async def seed(db, entity_id: uuid.UUID, count: int) -> list[str]:
    """`count` records of one entity in the past, three to a timestamp (ties break on id).
    Returns their ids newest first, the list's order."""
    rows = await db.fetch(
        """INSERT INTO audit (id, action_type, entity_type, entity_id, status, created_at)
           SELECT gen_random_uuid(), 'view', 'report', $1, 'success',
                  $2::timestamptz + (n / 3) * interval '1 second'
           FROM generate_series(0, $3 - 1) AS n
           RETURNING id::text, created_at""",
        entity_id,
        BASE,
        count,
    )
    newest_first = sorted(rows, key=lambda row: (row["created_at"], uuid.UUID(row["id"])))[::-1]
    return [row["id"] for row in newest_first]


async def walk(client, params: dict, direction: str = "next_cursor", cursor: str | None = None):
    """Follow `direction` from `cursor` (or the first page) to the end; the pages' id lists
    and the answers."""
    pages, answers = [], []
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(AUDITS, params=query)
        assert response.status_code == 200, response.text
        answer = response.json()
        pages.append([item["id"] for item in answer["items"]])
        answers.append(answer)
        cursor = answer[direction]
        if cursor is None:
            return pages, answers


async def test_a_walk_returns_every_record_once_in_order_and_back_gives_the_same_pages(
    client, db, entity_id
):
    ids = await seed(db, entity_id, 23)
    params = {"entity_id": str(entity_id), "limit": 5}

    forward, answers = await walk(client, params)
    backward, _ = await walk(client, params, "prev_cursor", answers[-1]["prev_cursor"])

    assert [record for page in forward for record in page] == ids
    assert [len(page) for page in forward] == [5, 5, 5, 5, 3]
    assert answers[0]["prev_cursor"] is None and answers[-1]["next_cursor"] is None
    assert all(answer["total"] == 23 for answer in answers)
    assert backward[::-1] == forward[:-1]


async def test_a_walk_while_50_writers_insert_skips_and_repeats_nothing(client, db, entity_id):
    before = await seed(db, entity_id, 400)
    params = {"entity_id": str(entity_id), "limit": 9}
    stop = asyncio.Event()
    written: list[str] = []
    fields = audit_body(entity_id) | {"entity_id": entity_id, "user_id": None}

    # 50 connections of their own, running the service's own INSERT, so the writers race the
    # walk in PostgreSQL without queueing it behind them for the app's pool.
    async def writer(conn):
        while not stop.is_set():
            audit_id = uuid.uuid4()
            await conn.fetchval(queries.CREATE_SQL, *queries.create_params(audit_id, fields), None)
            written.append(str(audit_id))
            await asyncio.sleep(0.01)

    async with asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=50, max_size=50) as pool:
        connections = [await pool.acquire() for _ in range(50)]
        writers = [asyncio.create_task(writer(conn)) for conn in connections]
        try:
            await asyncio.sleep(0.2)  # the writers are going before the walk starts
            forward, answers = await walk(client, params)
        finally:
            stop.set()
            await asyncio.gather(*writers)
            for conn in connections:
                await pool.release(conn)

    seen = [record for page in forward for record in page]
    assert len(written) > 50, "the writers hardly wrote: the test proves nothing"
    assert len(seen) == len(set(seen)), "a record came twice"
    assert [record for record in seen if record in set(before)] == before
    # Back from the last page, the pages of records older than the walk come back unchanged.
    backward, _ = await walk(client, params, "prev_cursor", answers[-1]["prev_cursor"])
    settled = [page for page in forward[:-1] if set(page) <= set(before)]
    assert len(settled) > 30
    assert backward[::-1][-len(settled) :] == settled


async def test_offset_pages_carry_cursors_too(client, db, entity_id):
    ids = await seed(db, entity_id, 10)
    params = {"entity_id": str(entity_id), "limit": 3}

    middle = (await client.get(AUDITS, params={**params, "offset": 3})).json()
    older = (await client.get(AUDITS, params={**params, "cursor": middle["next_cursor"]})).json()
    newer = (await client.get(AUDITS, params={**params, "cursor": middle["prev_cursor"]})).json()

    assert [item["id"] for item in middle["items"]] == ids[3:6]
    assert [item["id"] for item in older["items"]] == ids[6:9]
    assert [item["id"] for item in newer["items"]] == ids[0:3]
    assert newer["prev_cursor"] is None


async def test_a_cursor_for_other_filters_is_refused(client, db, entity_id):
    await seed(db, entity_id, 4)
    page = (await client.get(AUDITS, params={"entity_id": str(entity_id), "limit": 2})).json()

    elsewhere = {"entity_id": str(uuid.uuid4()), "limit": 2, "cursor": page["next_cursor"]}
    narrower = {"entity_id": str(entity_id), "status": "success", "cursor": page["next_cursor"]}
    for params in (elsewhere, narrower, {"cursor": page["next_cursor"]}):
        body = assert_error(await client.get(AUDITS, params=params), 422, "validation_error")
        assert body["validation_errors"][0]["field"] == "query.cursor"
        assert "other filters" in body["validation_errors"][0]["message"]


def _tampered(cursor: str) -> str:
    body, tag = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["t"] = (datetime.fromisoformat(payload["t"]) - timedelta(days=1)).isoformat()
    edited = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{edited}.{tag}"


async def test_forged_malformed_or_offset_cursors_are_422_on_query_cursor(client, db, entity_id):
    await seed(db, entity_id, 4)
    params = {"entity_id": str(entity_id), "limit": 2}
    cursor = (await client.get(AUDITS, params=params)).json()["next_cursor"]

    for bad in (_tampered(cursor), "not-a-cursor", cursor[:-3] + "AAA", "é.é", "a.b.c"):
        response = await client.get(AUDITS, params={**params, "cursor": bad})
        body = assert_error(response, 422, "validation_error")
        assert [problem["field"] for problem in body["validation_errors"]] == ["query.cursor"]
    response = await client.get(AUDITS, params={**params, "cursor": cursor, "offset": 2})
    body = assert_error(response, 422, "validation_error")
    assert "offset" in body["validation_errors"][0]["message"]


def _openssl_hmac_hex(key: bytes, message: bytes) -> str:
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", f"hexkey:{key.hex()}"],
        input=message,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().split("= ")[-1].strip()


async def test_the_cursor_tag_is_hmac_sha256_under_a_key_derived_from_the_signing_key(
    client, db, entity_id
):
    await seed(db, entity_id, 3)
    cursor = (await client.get(AUDITS, params={"entity_id": str(entity_id), "limit": 1})).json()[
        "next_cursor"
    ]
    body, tag = cursor.split(".")

    signing_key = os.environ["LEDGER_SIGNING_KEY"].encode()
    derived = bytes.fromhex(_openssl_hmac_hex(signing_key, b"looped-needle cursor v1"))
    expected = _openssl_hmac_hex(derived, body.encode())
    assert base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)).hex() == expected


@pytest.fixture(scope="module")
def other_process():
    """The service in a process of its own: another worker, or the same one after a restart."""
    with ServerProcess(LOG_LEVEL="WARNING") as server:
        yield server


async def test_a_cursor_works_on_another_worker_or_after_a_restart(
    client, db, entity_id, other_process
):
    ids = await seed(db, entity_id, 6)
    params = {"entity_id": str(entity_id), "limit": 2}
    cursor = (await client.get(AUDITS, params=params)).json()["next_cursor"]

    async with httpx.AsyncClient(base_url=other_process.base_url) as elsewhere:
        response = await elsewhere.get(AUDITS, params={**params, "cursor": cursor})

    assert response.status_code == 200, response.text
    assert [item["id"] for item in response.json()["items"]] == ids[2:4]


async def test_a_walk_keeps_the_total_its_first_page_counted(client, db, entity_id):
    # Counting is the costly part of a page deep in a big list, so a walk counts once: the
    # cursor carries its first page's total, even as new matches arrive meanwhile.
    await seed(db, entity_id, 12)
    params = {"entity_id": str(entity_id), "limit": 5}
    first = (await client.get(AUDITS, params=params)).json()
    await seed(db, entity_id, 4)
    second = (await client.get(AUDITS, params={**params, "cursor": first["next_cursor"]})).json()
    assert first["total"] == second["total"] == 12
    assert (await client.get(AUDITS, params=params)).json()["total"] == 16  # a new walk counts


def signed_cursor(payload: dict) -> str:
    """A cursor as the service signs one (body and tag base64url, the tag HMAC-SHA256)."""
    key = cursor_key(os.environ["LEDGER_SIGNING_KEY"])
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    tag = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(tag).rstrip(b'=').decode()}"


async def test_a_cursor_issued_before_cursors_carried_the_total_still_works(client, db, entity_id):
    ids = await seed(db, entity_id, 8)
    params = {"entity_id": str(entity_id), "limit": 5}
    body, _, _ = (await client.get(AUDITS, params=params)).json()["next_cursor"].partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload.pop("n") == 8 and payload.pop("e") is False
    older = signed_cursor(payload)
    page = (await client.get(AUDITS, params={**params, "cursor": older})).json()
    assert [item["id"] for item in page["items"]] == ids[5:]
    assert page["total"] == 8
