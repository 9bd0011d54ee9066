"""Every state change of a record appends one journal entry, written by PostgreSQL itself."""

import json
import uuid

import asyncpg
import pytest

from tests.helpers import AUDITS, create_audit
from tests.ledger.conftest import wait_until_sealed


async def entries_of(db, audit_id) -> list[dict]:
    rows = await db.fetch(
        "SELECT seq, change, leaf FROM journal_entry WHERE audit_id = $1 ORDER BY seq",
        uuid.UUID(str(audit_id)),
    )
    return [{"seq": r["seq"], "change": r["change"], "leaf": bytes(r["leaf"])} for r in rows]


async def test_create_update_delete_each_append_one_entry_holding_the_record(client, db, entity_id):
    record = await create_audit(client, entity_id, status="pending")
    updated = (await client.put(f"{AUDITS}/{record['id']}", json={"status": "success"})).json()
    assert (await client.delete(f"{AUDITS}/{record['id']}")).status_code == 204

    entries = await entries_of(db, record["id"])
    assert [e["change"] for e in entries] == ["create", "update", "delete"]
    leaves = [json.loads(e["leaf"]) for e in entries]
    assert [leaf["seq"] for leaf in leaves] == [e["seq"] for e in entries]
    assert all(leaf["audit_id"] == record["id"] for leaf in leaves)
    # The receipt a client got is the entry that holds exactly what it was shown.
    assert record["ledger_seq"] == entries[0]["seq"]
    assert updated["ledger_seq"] == entries[1]["seq"]
    for shown, leaf in ((record, leaves[0]), (updated, leaves[1])):
        assert {k: leaf["record"][k] for k in shown} == shown
    assert leaves[2]["record"]["deleted_at"] is not None


async def test_a_change_that_changes_nothing_appends_nothing(client, db, entity_id):
    record = await create_audit(client, entity_id, status="success")
    again = await client.put(f"{AUDITS}/{record['id']}", json={"status": "success"})
    assert again.status_code == 200
    assert again.json()["ledger_seq"] == record["ledger_seq"]
    assert len(await entries_of(db, record["id"])) == 1


async def test_the_leaf_keeps_big_integers_and_unicode_exactly(client, db, entity_id):
    details = {"big": 123456789012345678901234567890, "name": "Zoë ✓ 数据", "neg": -(2**70)}
    record = await create_audit(client, entity_id, details=details)
    (entry,) = await entries_of(db, record["id"])
    assert "Zoë ✓ 数据".encode() in entry["leaf"]
    assert b"123456789012345678901234567890" in entry["leaf"]
    assert json.loads(entry["leaf"])["record"]["details"] == details


async def test_direct_sql_cannot_change_a_record_without_an_entry(client, db, entity_id):
    record = await create_audit(client, entity_id, status="pending")
    # Replica mode skips ordinary triggers; the journal's fires ALWAYS.
    await db.execute("SET session_replication_role = replica")
    await db.execute(
        'UPDATE audit SET details = details || \'{"by": "dba"}\' WHERE id = $1',
        uuid.UUID(record["id"]),
    )
    entries = await entries_of(db, record["id"])
    assert [e["change"] for e in entries] == ["create", "update"]
    leaf = json.loads(entries[-1]["leaf"])
    assert leaf["by"] is None and leaf["db_user"]
    assert leaf["record"]["details"]["by"] == "dba"


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM journal_entry",
        "TRUNCATE journal_entry",
        "UPDATE journal_entry SET leaf = 'x'::bytea",
        "UPDATE journal_entry SET change = 'create'",
        "UPDATE journal_entry SET created_at = now()",
        "UPDATE ledger_leaf SET leaf_index = leaf_index + 1",
        "DELETE FROM ledger_leaf",
        "TRUNCATE ledger_leaf",
        "TRUNCATE journal_unsealed",
        "DELETE FROM ledger_node",
        "UPDATE ledger_node SET hash = hash",
        "UPDATE ledger_checkpoint SET note = 'x'",
    ],
)
async def test_the_ledger_tables_only_grow(client, db, entity_id, statement):
    await create_audit(client, entity_id)
    await wait_until_sealed(db)  # so that every ledger table has rows to refuse changing
    with pytest.raises(asyncpg.PostgresError, match="only grow"):
        await db.execute(statement)
