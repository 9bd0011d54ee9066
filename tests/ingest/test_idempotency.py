"""Idempotency-Key on the write routes (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid

import httpx
import pytest

from ingest.schemas import parse_idempotency_key
from settings import Settings
from tests.helpers import AUDITS, assert_error, audit_body

BATCH = f"{AUDITS}/batch"


def keyed(key: str | bytes) -> dict:
    return {"Idempotency-Key": key}


async def count_for(db, entity_id) -> int:
    return await db.fetchval("SELECT count(*) FROM audit WHERE entity_id = $1", entity_id)


async def test_a_retried_create_replays_the_first_answer_and_writes_nothing(client, db, entity_id):
    key, body = str(uuid.uuid4()), audit_body(entity_id)
    first = await client.post(AUDITS, json=body, headers=keyed(key))
    again = await client.post(AUDITS, json=body, headers=keyed(key))

    assert first.status_code == again.status_code == 201, again.text
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_for(db, entity_id) == 1


async def test_the_replay_is_the_first_answer_even_after_the_record_changed(client, entity_id):
    key = str(uuid.uuid4())
    body = audit_body(entity_id, status="pending")
    first = await client.post(AUDITS, json=body, headers=keyed(key))
    await client.put(f"{AUDITS}/{first.json()['id']}", json={"status": "success"})

    again = await client.post(AUDITS, json=body, headers=keyed(key))

    assert again.json()["status"] == "pending"
    assert again.content == first.content


async def test_a_retried_batch_replays_the_first_answer_and_writes_nothing(client, db, entity_id):
    key = str(uuid.uuid4())
    records = {"records": [audit_body(entity_id) for _ in range(30)]}
    first = await client.post(BATCH, json=records, headers=keyed(key))
    again = await client.post(BATCH, json=records, headers=keyed(key))

    assert first.status_code == again.status_code == 201, again.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_for(db, entity_id) == 30


async def test_the_same_key_with_another_body_is_422_and_writes_nothing(client, db, entity_id):
    key = str(uuid.uuid4())
    await client.post(AUDITS, json=audit_body(entity_id), headers=keyed(key))

    other = await client.post(
        AUDITS, json=audit_body(entity_id, status="failure"), headers=keyed(key)
    )
    elsewhere = await client.post(
        BATCH, json={"records": [audit_body(entity_id)]}, headers=keyed(key)
    )

    assert_error(other, 422, "idempotency_key_reused")
    assert_error(elsewhere, 422, "idempotency_key_reused")
    assert await count_for(db, entity_id) == 1


async def test_the_quoted_form_of_the_draft_and_the_bare_form_are_the_same_key(
    client, db, entity_id
):
    key, body = f"order-{uuid.uuid4()}", audit_body(entity_id)
    first = await client.post(AUDITS, json=body, headers=keyed(f'"{key}"'))
    again = await client.post(AUDITS, json=body, headers=keyed(key))

    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await count_for(db, entity_id) == 1


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b'""',
        b"x" * 256,
        b"two words",
        "caf\u00e9".encode("latin-1"),
        b'"unterminated',
        b"a\x7f",
    ],
    ids=["empty", "empty-string", "too-long", "space", "non-ascii", "bad-quote", "control"],
)
async def test_an_invalid_key_is_422_naming_the_header(client, db, entity_id, value):
    response = await client.post(AUDITS, json=audit_body(entity_id), headers=keyed(value))

    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"][0]["field"] == "header.Idempotency-Key"
    assert await count_for(db, entity_id) == 0


async def test_a_key_of_255_characters_is_accepted(client, entity_id):
    response = await client.post(AUDITS, json=audit_body(entity_id), headers=keyed("k" * 255))
    assert response.status_code == 201, response.text


async def statements_waiting_for_a_lock(db, naming: str, count: int) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    waiting = """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1
    """
    while True:
        # Inside a transaction pg_stat_activity is read once; clear that copy on every look.
        await db.execute("SELECT pg_stat_clear_snapshot()")
        if await db.fetchval(waiting, f"%{naming}%") >= count:
            return
        assert asyncio.get_running_loop().time() < deadline, "the requests never all waited"
        await asyncio.sleep(0.02)


async def test_concurrent_duplicates_create_one_record_and_all_get_its_answer(
    client, db, entity_id
):
    key = str(uuid.uuid4())
    body = {"records": [audit_body(entity_id) for _ in range(200)]}

    # Left alone, the first request often commits before the others reach the database, and
    # then even a missing unique index on the key goes unnoticed. Holding every INSERT into
    # audit back until all four wait makes them read "no answer for this key yet" together.
    async with db.transaction():
        await db.execute("LOCK TABLE audit IN SHARE MODE")
        posts = [
            asyncio.create_task(client.post(BATCH, json=body, headers=keyed(key))) for _ in range(4)
        ]
        # Every write sets the acting key first: a phrase near the start of its (truncated) text.
        await statements_waiting_for_a_lock(db, "looped_needle.actor", 4)
    answers = await asyncio.gather(*posts)

    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    assert await count_for(db, entity_id) == 200


async def _hold_key_in_another_transaction(db, key: str, fingerprint: str = "f"):
    """What a first request still running in another worker looks like to the database."""
    transaction = db.transaction()
    await transaction.start()
    await db.execute(
        "INSERT INTO idempotency_key (owner, key, fingerprint, response_status, response_body,"
        " created_at, expires_at) VALUES ('anonymous', $1, $2, 201, '{\"held\":true}', now(),"
        " now() + interval '1 day')",
        key,
        fingerprint,
    )
    return transaction


async def test_a_duplicate_waits_for_the_first_request_and_replays_its_answer(
    client, db, entity_id
):
    key, body = str(uuid.uuid4()), json.dumps(audit_body(entity_id)).encode()
    fingerprint = hashlib.sha256(f"POST {AUDITS}\n".encode() + body).hexdigest()
    running = await _hold_key_in_another_transaction(db, key, fingerprint)
    headers = {**keyed(key), "Content-Type": "application/json"}
    duplicate = asyncio.create_task(client.post(AUDITS, content=body, headers=headers))
    await asyncio.sleep(0.5)
    assert not duplicate.done()
    await running.commit()  # the first request succeeds: the duplicate answers what it did

    response = await duplicate

    assert response.status_code == 201, response.text
    assert response.json() == {"held": True}
    assert response.headers["idempotent-replayed"] == "true"
    assert await count_for(db, entity_id) == 0


async def test_a_duplicate_waits_and_does_the_work_when_the_first_request_fails(
    client, db, entity_id
):
    key = str(uuid.uuid4())
    running = await _hold_key_in_another_transaction(db, key)
    duplicate = asyncio.create_task(
        client.post(AUDITS, json=audit_body(entity_id), headers=keyed(key))
    )
    await asyncio.sleep(0.5)
    assert not duplicate.done()
    await running.rollback()  # the first request failed: the duplicate now does the work

    response = await duplicate

    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    assert await count_for(db, entity_id) == 1


@pytest.fixture
async def impatient_client():
    from app import create_app

    app = create_app(Settings(auth_required=False, idempotency_wait_s=0.3))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_a_duplicate_still_running_after_the_wait_is_409_with_retry_after(
    impatient_client, db, entity_id
):
    key = str(uuid.uuid4())
    running = await _hold_key_in_another_transaction(db, key)
    try:
        response = await impatient_client.post(
            AUDITS, json=audit_body(entity_id), headers=keyed(key)
        )
    finally:
        await running.rollback()

    assert_error(response, 409, "idempotency_key_in_flight")
    assert int(response.headers["retry-after"]) >= 1
    assert await count_for(db, entity_id) == 0


async def test_a_failed_write_keeps_no_key_so_the_retry_writes(client, db, entity_id):
    key = str(uuid.uuid4())
    poison = f"poison-{uuid.uuid4().hex[:8]}"
    body = audit_body(entity_id, entity_type=poison)
    constraint = f"no_{poison[7:]}"
    await db.execute(
        f"ALTER TABLE audit ADD CONSTRAINT {constraint} CHECK (entity_type <> '{poison}')"
    )
    try:
        failed = await client.post(AUDITS, json=body, headers=keyed(key))
    finally:
        await db.execute(f"ALTER TABLE audit DROP CONSTRAINT {constraint}")

    retried = await client.post(AUDITS, json=body, headers=keyed(key))

    assert_error(failed, 500, "internal_error")
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    assert await count_for(db, entity_id) == 1


async def test_an_expired_key_is_forgotten_and_a_new_request_writes(client, db, entity_id):
    key, body = str(uuid.uuid4()), audit_body(entity_id)
    first = await client.post(AUDITS, json=body, headers=keyed(key))
    await db.execute(
        "UPDATE idempotency_key SET expires_at = now() - interval '1 second' WHERE key = $1", key
    )

    again = await client.post(AUDITS, json=body, headers=keyed(key))

    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert await count_for(db, entity_id) == 2


async def test_each_new_key_sweeps_a_bounded_number_of_expired_ones(client, db, entity_id):
    await db.execute("DELETE FROM idempotency_key WHERE expires_at <= now()")
    await db.execute(
        "INSERT INTO idempotency_key (owner, key, fingerprint, response_status, response_body,"
        " created_at, expires_at) SELECT 'sweep-test', 'k' || n, 'f', 201, '{}',"
        " now() - interval '2 days', now() - interval '1 day' FROM generate_series(1, 150) n"
    )

    await client.post(AUDITS, json=audit_body(entity_id), headers=keyed(str(uuid.uuid4())))
    left_after_one = await db.fetchval(
        "SELECT count(*) FROM idempotency_key WHERE expires_at <= now()"
    )
    await client.post(AUDITS, json=audit_body(entity_id), headers=keyed(str(uuid.uuid4())))
    left_after_two = await db.fetchval(
        "SELECT count(*) FROM idempotency_key WHERE expires_at <= now()"
    )

    assert (left_after_one, left_after_two) == (50, 0)


async def test_keys_belong_to_the_api_key_that_sent_them(auth_client, mint, db, entity_id):
    one, other = await mint("audits:write", name="one"), await mint("audits:write", name="other")
    key = str(uuid.uuid4())

    first = await auth_client.post(
        AUDITS, json=audit_body(entity_id), headers={**keyed(key), "Authorization": f"Bearer {one}"}
    )
    second = await auth_client.post(
        AUDITS,
        json=audit_body(entity_id),
        headers={**keyed(key), "Authorization": f"Bearer {other}"},
    )

    assert first.status_code == second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert await count_for(db, entity_id) == 2


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('"with space and \\"quotes\\" and \\\\"', 'with space and "quotes" and \\'),
        ("bare-token_1", "bare-token_1"),
        ('"a"; p=1', None),  # parameters are not part of a key
        ('"bad \\x escape"', None),
        ('"' + "k" * 255 + '"', "k" * 255),
        ('"' + "k" * 256 + '"', None),
    ],
)
def test_the_header_is_read_as_the_drafts_structured_string_or_a_bare_token(value, key):
    assert parse_idempotency_key(value) == key
