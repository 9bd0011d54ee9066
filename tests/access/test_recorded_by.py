"""Every record and every journal entry names the key that wrote it; no client can say so."""

import json
import uuid

import asyncpg
import pytest

from tests.access.conftest import bearer
from tests.helpers import AUDITS, assert_error, audit_body


async def journal_by(db, audit_id: str) -> list[tuple[str, str | None]]:
    rows = await db.fetch(
        "SELECT change, leaf FROM journal_entry WHERE audit_id = $1 ORDER BY seq",
        uuid.UUID(audit_id),
    )
    return [(row["change"], json.loads(row["leaf"])["by"]) for row in rows]


async def test_the_server_records_which_key_wrote_changed_and_deleted_a_record(
    auth_client, mint, db
):
    writer = await mint("audits:write", "audits:read", name="billing")
    deleter = await mint("audits:delete", name="cleanup")
    writer_label = f"billing ({writer.split('_')[1]})"
    deleter_label = f"cleanup ({deleter.split('_')[1]})"

    created = await auth_client.post(
        AUDITS, json=audit_body(uuid.uuid4(), status="pending"), headers=bearer(writer)
    )
    record = created.json()
    assert record["recorded_by"] == writer_label
    listed = await auth_client.get(
        AUDITS,
        params={"recorded_by": writer_label, "entity_id": record["entity_id"]},
        headers=bearer(writer),
    )
    assert [item["id"] for item in listed.json()["items"]] == [record["id"]]
    await auth_client.put(
        f"{AUDITS}/{record['id']}", json={"status": "success"}, headers=bearer(writer)
    )
    await auth_client.delete(f"{AUDITS}/{record['id']}", headers=bearer(deleter))

    assert await journal_by(db, record["id"]) == [
        ("create", writer_label),
        ("update", writer_label),
        ("delete", deleter_label),
    ]


async def test_a_client_cannot_set_or_change_recorded_by(auth_client, mint):
    key = await mint("audits:write", name="honest")
    forged = audit_body(uuid.uuid4(), recorded_by="someone-else (000000000000)")
    assert_error(
        await auth_client.post(AUDITS, json=forged, headers=bearer(key)), 422, "validation_error"
    )
    record = (
        await auth_client.post(AUDITS, json=audit_body(uuid.uuid4()), headers=bearer(key))
    ).json()
    change = {"recorded_by": "someone-else"}
    answer = await auth_client.put(f"{AUDITS}/{record['id']}", json=change, headers=bearer(key))
    assert_error(answer, 422, "validation_error")


async def test_direct_sql_cannot_change_recorded_by(client, db, entity_id):
    created = await client.post(AUDITS, json=audit_body(entity_id))
    assert created.status_code == 201, created.text
    record = created.json()
    with pytest.raises(asyncpg.PostgresError, match="only status, details"):
        await db.execute(
            "UPDATE audit SET recorded_by = 'forged' WHERE id = $1", uuid.UUID(record["id"])
        )
    assert record["recorded_by"] is None  # the suite's own app runs without keys
