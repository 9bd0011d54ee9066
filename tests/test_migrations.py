"""Migrations are Piccolo's own, run by its CLI, and reversible on a database holding data."""

import asyncio
import uuid

import asyncpg
import pytest

from tests.conftest import create_migrated_database, database_url_for, drop_database, run_piccolo

# The first of the ledger migrations that moved tree positions and the seal queue out.
MOVE_OUT_OF_THE_JOURNAL = "2026-11-30T12:09:11:298217"

SCHEMA_QUERY = """
SELECT 'column' AS kind, table_name || '.' || column_name || ' ' || data_type
       || ' null=' || is_nullable || ' default=' || coalesce(column_default, '') AS what
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'trigger', tgname || ' on ' || tgrelid::regclass::text || ' enabled=' || tgenabled::text
FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'function', p.proname || ' md5=' || md5(p.prosrc) || ' ' || coalesce(p.proconfig::text, '')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
ORDER BY 1, 2
"""


async def _fetch(url: str, query: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await conn.fetch(query, *args)]
    finally:
        await conn.close()


@pytest.fixture
def scratch_database(server_url):
    name = f"looped_needle_migrations_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(server_url, name)
    yield url
    drop_database(server_url, name)


def test_forwards_backwards_forwards_keeps_the_schema_and_the_rows(scratch_database):
    url = scratch_database
    before = asyncio.run(_fetch(url, SCHEMA_QUERY))
    assert any("audit_live_newest_idx" in what for _, what in before)
    asyncio.run(
        _fetch(
            url,
            """INSERT INTO audit (id, action_type, entity_type, entity_id, status)
               SELECT gen_random_uuid(), 'create', 'invoice', gen_random_uuid(), 'success'
               FROM generate_series(1, 50) RETURNING id""",
        )
    )

    # Step back over the newest migration of the audits app with rows present, then forwards.
    run_piccolo(url, "migrations", "backwards", "audits", "--auto_agree")
    stepped_back = asyncio.run(_fetch(url, SCHEMA_QUERY))
    assert stepped_back != before
    run_piccolo(url, "migrations", "forwards", "all")

    assert asyncio.run(_fetch(url, SCHEMA_QUERY)) == before
    assert asyncio.run(_fetch(url, "SELECT count(*) FROM audit")) == [(50,)]


def test_every_app_can_go_all_the_way_back_and_forwards_again(scratch_database):
    url = scratch_database
    before = asyncio.run(_fetch(url, SCHEMA_QUERY))

    run_piccolo(url, "migrations", "backwards", "all", "--auto_agree")
    left = asyncio.run(_fetch(url, SCHEMA_QUERY))
    assert [what for _, what in left if "audit" in what] == []  # only Piccolo's own table
    run_piccolo(url, "migrations", "forwards", "all")

    assert asyncio.run(_fetch(url, SCHEMA_QUERY)) == before


def test_the_url_helper_keeps_credentials_and_socket_options():
    url = "postgresql://app:pw@/postgres?host=/tmp/sock"
    assert database_url_for(url, "other") == "postgresql://app:pw@/other?host=/tmp/sock"


def test_moving_tree_positions_out_of_the_journal_keeps_them_both_ways(scratch_database):
    # The ledger's storage moved from `journal_entry.leaf_index` to `ledger_leaf` and a seal
    # queue: stepping back over that move and forwards again keeps every sealed entry's
    # index and every waiting entry waiting, so no entry is lost, resealed or reordered.
    from ledger.note import generate_key, parse_signer
    from ledger.sealer import seal_once

    async def write_and_seal_some():
        conn = await asyncpg.connect(scratch_database)
        try:
            await conn.execute(
                """INSERT INTO audit (id, action_type, entity_type, entity_id, status)
                   SELECT gen_random_uuid(), 'create', 'invoice', gen_random_uuid(), 'success'
                   FROM generate_series(1, 30)"""
            )
            signer = parse_signer(generate_key("looped-needle.test/migrations")[0])
            assert await seal_once(conn, signer=signer, batch_limit=20) == 20
        finally:
            await conn.close()

    asyncio.run(write_and_seal_some())
    positions = "SELECT seq, leaf_index FROM ledger_leaf ORDER BY seq"
    queued = "SELECT seq FROM journal_unsealed ORDER BY seq"
    sealed_before = asyncio.run(_fetch(scratch_database, positions))
    waiting_before = asyncio.run(_fetch(scratch_database, queued))
    assert len(sealed_before) == 20 and len(waiting_before) == 10

    run_piccolo(
        scratch_database,
        "migrations",
        "backwards",
        "ledger",
        f"--migration_id={MOVE_OUT_OF_THE_JOURNAL}",
        "--auto_agree",
    )
    in_the_journal = asyncio.run(
        _fetch(scratch_database, "SELECT seq, leaf_index FROM journal_entry ORDER BY seq")
    )
    assert [row for row in in_the_journal if row[1] is not None] == sealed_before
    assert [(seq,) for seq, index in in_the_journal if index is None] == waiting_before

    run_piccolo(scratch_database, "migrations", "forwards", "all")
    assert asyncio.run(_fetch(scratch_database, positions)) == sealed_before
    assert asyncio.run(_fetch(scratch_database, queued)) == waiting_before
