"""PostgreSQL itself refuses to destroy or rewrite audit rows, whoever connects."""

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.helpers import create_audit


async def refused(db, statement: str, *args) -> str:
    with pytest.raises(asyncpg.exceptions.RestrictViolationError) as error:
        await db.execute(statement, *args)
    return str(error.value)


async def test_delete_is_refused(client, entity_id, db):
    record = await create_audit(client, entity_id)
    message = await refused(db, "DELETE FROM audit WHERE id = $1", record["id"])
    assert "append-only" in message
    assert await db.fetchval("SELECT count(*) FROM audit WHERE id = $1", record["id"]) == 1


async def test_truncate_is_refused(db):
    before = await db.fetchval("SELECT count(*) FROM audit")
    await refused(db, "TRUNCATE audit")
    assert await db.fetchval("SELECT count(*) FROM audit") == before


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("id", uuid.uuid4()),
        ("action_type", "delete"),
        ("entity_type", "other"),
        ("entity_id", uuid.uuid4()),
        ("user_id", uuid.uuid4()),
        ("ip_address", "10.0.0.1"),
        ("user_agent", "forged"),
        ("created_at", datetime(2001, 1, 1, tzinfo=UTC)),
    ],
)
async def test_immutable_columns_cannot_change(client, entity_id, db, column, value):
    record = await create_audit(client, entity_id, status="pending")
    await refused(db, f"UPDATE audit SET {column} = $2 WHERE id = $1", record["id"], value)


async def test_user_id_cannot_be_erased_either(client, entity_id, db):
    record = await create_audit(client, entity_id)
    await refused(db, "UPDATE audit SET user_id = NULL WHERE id = $1", record["id"])


@pytest.mark.parametrize("final", ["success", "failure"])
async def test_a_final_status_cannot_move(client, entity_id, db, final):
    record = await create_audit(client, entity_id, status=final)
    for other in {"success", "failure", "pending"} - {final}:
        await refused(db, "UPDATE audit SET status = $2 WHERE id = $1", record["id"], other)


async def test_details_keys_cannot_be_removed_or_wiped(client, entity_id, db):
    record = await create_audit(client, entity_id, details={"a": 1, "b": 2})
    await refused(db, """UPDATE audit SET details = '{"a": 1}' WHERE id = $1""", record["id"])
    await refused(db, "UPDATE audit SET details = NULL WHERE id = $1", record["id"])
    stored = await db.fetchval("SELECT details FROM audit WHERE id = $1", record["id"])
    assert json.loads(stored) == {"a": 1, "b": 2}


async def test_what_the_api_does_is_still_allowed(client, entity_id, db):
    record = await create_audit(client, entity_id, status="pending", details={"a": 1})
    await db.execute(
        """UPDATE audit SET status = 'success', details = details || '{"a": 2, "b": 3}',
                  updated_at = now() WHERE id = $1""",
        record["id"],
    )
    await db.execute("UPDATE audit SET deleted_at = now() WHERE id = $1", record["id"])
    row = await db.fetchrow(
        "SELECT status, details, deleted_at FROM audit WHERE id = $1", record["id"]
    )
    assert row["status"] == "success" and json.loads(row["details"]) == {"a": 2, "b": 3}
    assert row["deleted_at"] is not None


async def test_a_deleted_record_stays_deleted(client, entity_id, db):
    record = await create_audit(client, entity_id)
    await client.delete(f"/api/v1/audits/{record['id']}")
    await refused(db, "UPDATE audit SET deleted_at = NULL WHERE id = $1", record["id"])
