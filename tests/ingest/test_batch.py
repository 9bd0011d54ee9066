"""POST /api/v1/audits/batch: every record or none, in one statement, in request order."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.helpers import AUDITS, assert_error, audit_body

BATCH = f"{AUDITS}/batch"
HUGE = 12345678901234567890123456789  # past 64 bits: must come back exactly


async def count_for(db, entity_id) -> int:
    return await db.fetchval("SELECT count(*) FROM audit WHERE entity_id = $1", entity_id)


async def test_a_batch_answers_every_record_in_request_order_as_a_single_create_would(
    client, db, entity_id
):
    bodies = [
        audit_body(entity_id, action_type="view", details={"n": n, "big": HUGE}) for n in range(25)
    ]
    response = await client.post(BATCH, json={"records": bodies})

    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["count"] == 25 == len(answer["items"])
    assert [item["details"]["n"] for item in answer["items"]] == list(range(25))
    assert json.loads(response.text)["items"][0]["details"]["big"] == HUGE
    single = (await client.post(AUDITS, json=bodies[0])).json()
    assert list(answer["items"][0]) == list(single)
    fetched = (await client.get(f"{AUDITS}/{answer['items'][3]['id']}")).json()
    assert fetched == answer["items"][3]
    assert await count_for(db, entity_id) == 26


async def test_every_record_of_a_batch_is_journaled_with_its_own_ledger_seq(client, db, entity_id):
    response = await client.post(BATCH, json={"records": [audit_body(entity_id)] * 10})
    items = response.json()["items"]

    seqs = [item["ledger_seq"] for item in items]
    assert all(seq is not None for seq in seqs) and len(set(seqs)) == 10
    journaled = await db.fetch(
        "SELECT seq, audit_id, change FROM journal_entry WHERE seq = ANY($1::bigint[])", seqs
    )
    assert {(r["seq"], str(r["audit_id"]), r["change"]) for r in journaled} == {
        (item["ledger_seq"], item["id"], "create") for item in items
    }


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"status": "done"}, "body.records[7].status"),
        ({"details": {"note": "a\u0000b"}}, "body.records[7].details"),
        ({"entity_type": " "}, "body.records[7].entity_type"),
        ({"surprise": 1}, "body.records[7].surprise"),
    ],
)
async def test_one_invalid_record_is_named_by_its_place_and_nothing_is_written(
    client, db, entity_id, bad, field
):
    records = [audit_body(entity_id) for _ in range(20)]
    records[7].update(bad)
    before = await db.fetchval("SELECT count(*) FROM audit")

    response = await client.post(BATCH, json={"records": records})

    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == [field]
    assert await db.fetchval("SELECT count(*) FROM audit") == before


async def test_details_over_the_size_cap_are_named_by_their_place(client, db, entity_id):
    records = [audit_body(entity_id) for _ in range(5)]
    records[3]["details"] = {"blob": "x" * (64 * 1024)}

    response = await client.post(BATCH, json={"records": records})

    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == [
        "body.records[3].details"
    ]
    assert await count_for(db, entity_id) == 0


@pytest.mark.parametrize("size", [0, 1001])
async def test_a_batch_holds_1_to_1000_records(client, db, entity_id, size):
    response = await client.post(BATCH, json={"records": [audit_body(entity_id)] * size})

    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"][0]["field"] == "body.records"
    assert await count_for(db, entity_id) == 0


async def test_a_full_batch_of_1000_is_accepted(client, db, entity_id):
    response = await client.post(BATCH, json={"records": [audit_body(entity_id)] * 1000})

    assert response.status_code == 201, response.text
    assert response.json()["count"] == 1000
    assert await count_for(db, entity_id) == 1000


async def test_a_database_failure_mid_batch_writes_nothing(client, db, entity_id):
    poison = f"poison-{uuid.uuid4().hex[:8]}"
    records = [audit_body(entity_id) for _ in range(20)]
    records[12]["entity_type"] = poison
    await db.execute(
        f"ALTER TABLE audit ADD CONSTRAINT no_{poison[7:]} CHECK (entity_type <> '{poison}')"
    )
    journal_before = await db.fetchval("SELECT count(*) FROM journal_entry")
    try:
        response = await client.post(BATCH, json={"records": records})
    finally:
        await db.execute(f"ALTER TABLE audit DROP CONSTRAINT no_{poison[7:]}")

    assert_error(response, 500, "internal_error")
    assert poison not in response.text
    assert await count_for(db, entity_id) == 0
    assert await db.fetchval("SELECT count(*) FROM journal_entry") == journal_before


async def test_the_batch_route_takes_bodies_up_to_4_mib_and_single_creates_keep_1_mib(
    client, entity_id
):
    padding = {"pad": "x" * 4000}
    records = [audit_body(entity_id, details=padding) for _ in range(400)]  # about 1.7 MiB
    assert len(json.dumps({"records": records})) > 1024 * 1024

    batch = await client.post(BATCH, json={"records": records})
    single = await client.post(AUDITS, json=audit_body(entity_id, details={"pad": "x" * 2**20}))
    too_big = await client.post(
        BATCH, json={"records": [audit_body(entity_id, details={"pad": "x" * 60_000})] * 80}
    )

    assert batch.status_code == 201, batch.text
    assert assert_error(single, 413, "payload_too_large")["details"]["limit_bytes"] == 2**20
    assert assert_error(too_big, 413, "payload_too_large")["details"]["limit_bytes"] == 4 * 2**20


async def test_a_batch_records_the_acting_key_on_every_record_and_journal_entry(
    auth_client, mint, db, entity_id
):
    key = await mint("audits:write", name="batcher")
    prefix = key.split("_")[1]

    response = await auth_client.post(
        BATCH,
        json={"records": [audit_body(entity_id)] * 3},
        headers={"Authorization": f"Bearer {key}"},
    )

    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert {item["recorded_by"] for item in items} == {f"batcher ({prefix})"}
    leaves = await db.fetch(
        "SELECT convert_from(leaf, 'UTF8')::jsonb ->> 'by' AS by FROM journal_entry "
        "WHERE seq = ANY($1::bigint[])",
        [item["ledger_seq"] for item in items],
    )
    assert [row["by"] for row in leaves] == [f"batcher ({prefix})"] * 3
