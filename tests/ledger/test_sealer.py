"""The sealer: commit-visible order, no gap, nothing twice, one sealer at a time."""

import asyncio
import os
import uuid

import asyncpg

from ledger import merkle
from ledger.note import open_checkpoint, parse_signer
from ledger.sealer import SEALER_LOCK, seal_once
from tests.helpers import AUDITS, audit_body
from tests.ledger.conftest import wait_until_sealed

INSERT = """INSERT INTO audit (id, action_type, entity_type, entity_id, status)
            VALUES (gen_random_uuid(), 'create', 'invoice', gen_random_uuid(), 'pending')
            RETURNING ledger_seq"""


def signer():
    return parse_signer(os.environ["LEDGER_SIGNING_KEY"])


async def assert_tree_is_whole(db, verifier) -> int:
    """Indices 0..n-1 each used once, and the signed root is the leaves' own root."""
    size = await wait_until_sealed(db)
    rows = await db.fetch(
        "SELECT leaf_index, leaf FROM ledger_leaf JOIN journal_entry USING (seq) "
        "ORDER BY leaf_index"
    )
    assert [r["leaf_index"] for r in rows] == list(range(size))
    note = await db.fetchval("SELECT note FROM ledger_checkpoint WHERE tree_size = $1", size)
    checkpoint = open_checkpoint(note, verifier)
    assert checkpoint.root_hash == merkle.root_of(merkle.leaf_hash(r["leaf"]) for r in rows)
    return size


async def test_concurrent_creates_and_updates_are_each_sealed_exactly_once(client, db, verifier):
    async def create_then_update(i: int):
        created = await client.post(AUDITS, json=audit_body(uuid.uuid4(), status="pending"))
        record = created.json()
        await client.put(
            f"{AUDITS}/{record['id']}", json={"status": "success", "details": {"i": i}}
        )
        return record["id"]

    ids = await asyncio.gather(*(create_then_update(i) for i in range(200)))
    await assert_tree_is_whole(db, verifier)
    counts = await db.fetch(
        "SELECT audit_id, count(*) AS n FROM journal_entry WHERE audit_id = ANY($1::uuid[]) "
        "GROUP BY audit_id",
        [uuid.UUID(i) for i in ids],
    )
    assert len(counts) == 200 and {r["n"] for r in counts} == {2}


async def test_an_entry_that_commits_late_gets_a_later_index(db, verifier):
    late = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        transaction = late.transaction()
        await transaction.start()
        late_seq = await late.fetchval(INSERT)  # takes a sequence number, not yet visible
        early_seq = await db.fetchval(INSERT)
        assert early_seq > late_seq
        await wait_until_sealed(db)
        early_index = await db.fetchval(
            "SELECT leaf_index FROM ledger_leaf WHERE seq = $1", early_seq
        )
        await transaction.commit()
        await wait_until_sealed(db)
        late_index = await db.fetchval(
            "SELECT leaf_index FROM ledger_leaf WHERE seq = $1", late_seq
        )
    finally:
        await late.close()
    assert late_index > early_index
    await assert_tree_is_whole(db, verifier)


async def test_a_second_sealer_waits_while_one_holds_the_lock(db, verifier):
    other = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        async with db.transaction():
            assert await db.fetchval("SELECT pg_try_advisory_xact_lock($1)", SEALER_LOCK)
            await other.fetchval(INSERT)
            assert await seal_once(other, signer=signer(), batch_limit=1000) is None
            waiting = await other.fetchval("SELECT count(*) FROM journal_unsealed")
            assert waiting >= 1
    finally:
        await other.close()
    await assert_tree_is_whole(db, verifier)


async def test_records_written_before_the_ledger_existed_are_imported(server_url):
    # Covered by the migration: a database with rows, migrated forwards, journals them.
    # (See tests/test_migrations.py for the round trip; here only the `import` entries.)
    from tests.conftest import create_migrated_database, drop_database, run_piccolo

    name = f"looped_needle_import_{uuid.uuid4().hex[:8]}"
    url = await asyncio.to_thread(create_migrated_database, server_url, name)
    try:
        await asyncio.to_thread(
            run_piccolo,
            url,
            "migrations",
            "backwards",
            "ledger",
            "--migration_id=2026-11-30T08:40:02:486429",  # back past the journal's migration
            "--auto_agree",
        )
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO audit (id, action_type, entity_type, entity_id, status) "
                "SELECT gen_random_uuid(), 'create', 'invoice', gen_random_uuid(), 'success' "
                "FROM generate_series(1, 5)"
            )
            await asyncio.to_thread(run_piccolo, url, "migrations", "forwards", "all")
            changes = await conn.fetch("SELECT change FROM journal_entry")
            unjournaled = await conn.fetchval("SELECT count(*) FROM audit WHERE ledger_seq IS NULL")
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(drop_database, server_url, name)
    assert [r["change"] for r in changes] == ["import"] * 5
    assert unjournaled == 0
