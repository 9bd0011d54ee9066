"""PostgreSQL itself refuses to destroy or rewrite audit rows: by trigger for every role but a
superuser (who can disable triggers; the ledger is what catches that), and by privilege for
the runtime role the service runs as."""

import asyncio
import json
import os
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from harness.server_process import ServerProcess
from tests.conftest import run_piccolo
from tests.helpers import AUDITS, audit_body, create_audit


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
        ("recorded_by", "forged (000000000000)"),
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


async def test_replica_mode_does_not_skip_the_guard(client, entity_id, db):
    # Replication tools (and anyone allowed to) set `replica` to skip ordinary triggers; the
    # guard is ENABLE ALWAYS so that it is not one of them.
    record = await create_audit(client, entity_id, status="pending")
    await db.execute("SET session_replication_role = replica")
    await refused(db, "DELETE FROM audit WHERE id = $1", record["id"])
    await refused(db, "TRUNCATE audit")
    await refused(db, "UPDATE audit SET user_id = $2 WHERE id = $1", record["id"], uuid.uuid4())
    await db.execute("RESET session_replication_role")
    assert await db.fetchval("SELECT count(*) FROM audit WHERE id = $1", record["id"]) == 1


@pytest.fixture
async def as_runtime_role():
    """A connection as the least-privilege role the suite's server processes use."""
    conn = await asyncpg.connect(os.environ["RUNTIME_DATABASE_URL"])
    yield conn
    await conn.close()


async def denied(conn, statement: str, *args) -> None:
    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
        await conn.execute(statement, *args)


# With its own `seq`, so that only the privilege on the table can refuse it (the role has no
# USAGE on journal_entry's sequence either, which would refuse a forgery that used it).
JOURNAL_FORGERY = (
    "INSERT INTO journal_entry (seq, audit_id, change, leaf, created_at) "
    "VALUES (9000000000000000000, $1, 'update', '\\x00'::bytea, now())"
)


async def test_the_runtime_role_is_refused_by_privilege_not_only_by_trigger(
    client, entity_id, db, as_runtime_role
):
    record = await create_audit(client, entity_id, status="pending")
    before = await db.fetchval("SELECT count(*) FROM journal_entry")
    assert await as_runtime_role.fetchval("SELECT current_user") != await db.fetchval(
        "SELECT current_user"
    )
    for statement, *args in [
        ("DELETE FROM audit WHERE id = $1", record["id"]),
        ("TRUNCATE audit",),
        ("ALTER TABLE audit ADD COLUMN forged text",),
        ("ALTER TABLE audit DISABLE TRIGGER ALL",),
        ("DROP TABLE audit",),
        ("UPDATE audit SET entity_type = 'other' WHERE id = $1", record["id"]),
        ("UPDATE audit SET id = gen_random_uuid() WHERE id = $1", record["id"]),
        ("UPDATE audit SET created_at = now() WHERE id = $1", record["id"]),
        ("UPDATE audit SET ledger_seq = 1 WHERE id = $1", record["id"]),
        (JOURNAL_FORGERY, record["id"]),
        ("UPDATE journal_entry SET leaf = '\\x00'::bytea WHERE audit_id = $1", record["id"]),
        ("DELETE FROM journal_entry WHERE audit_id = $1", record["id"]),
        ("TRUNCATE journal_entry, ledger_node, ledger_checkpoint",),
        ("DELETE FROM api_key",),
        ("SET session_replication_role = replica",),
    ]:
        await denied(as_runtime_role, statement, *args)
    assert await db.fetchval("SELECT count(*) FROM journal_entry") == before


async def test_the_runtime_role_can_do_what_the_api_does_and_each_change_is_journaled(
    entity_id, db, as_runtime_role
):
    role = await as_runtime_role.fetchval("SELECT current_user")
    server = ServerProcess()  # the suite's servers connect as that role
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            created = await http.post(AUDITS, json=audit_body(entity_id, status="pending"))
            assert created.status_code == 201
            audit_id = created.json()["id"]
            changed = await http.put(f"{AUDITS}/{audit_id}", json={"status": "success"})
            assert changed.status_code == 200
            assert (await http.delete(f"{AUDITS}/{audit_id}")).status_code == 204
    finally:
        await asyncio.to_thread(server.stop)
    leaves = await db.fetch(
        "SELECT change, convert_from(leaf, 'UTF8')::jsonb->>'db_user' AS by_user "
        "FROM journal_entry WHERE audit_id = $1 ORDER BY seq",
        uuid.UUID(audit_id),
    )
    assert [(row["change"], row["by_user"]) for row in leaves] == [
        ("create", role),
        ("update", role),
        ("delete", role),
    ]


async def test_granting_again_takes_back_what_was_added_by_hand(db, as_runtime_role):
    role = await as_runtime_role.fetchval("SELECT current_user")
    await db.execute(f'GRANT DELETE, TRUNCATE ON audit TO "{role}"')
    await db.execute(f'GRANT UPDATE ON audit TO "{role}"')
    run_piccolo(os.environ["DATABASE_URL"], "access", "grant_runtime_role", f"--name={role}")
    await denied(as_runtime_role, "TRUNCATE audit")
    await denied(as_runtime_role, "UPDATE audit SET entity_type = 'other' WHERE false")


async def test_every_table_the_service_uses_is_granted_to_the_runtime_role(db):
    """A new table left out of RUNTIME_TABLES would be a 500 in production (as the
    idempotency store was, until schemathesis found it): every table but Piccolo's own
    migration log must be listed."""
    from access.runtime_role import RUNTIME_TABLES

    tables = {
        row["tablename"]
        for row in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables - {"migration"} == set(RUNTIME_TABLES)
