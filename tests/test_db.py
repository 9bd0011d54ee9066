"""db.run: a Piccolo query behind the same guard as raw SQL, answering as Piccolo would."""

import json
import time
import uuid

import pytest

import db
from audits.tables import Audit
from errors import DatabaseUnavailable
from piccolo_conf import DB
from tests.helpers import create_audit


async def test_run_answers_what_piccolos_own_run_answers(client, entity_id):
    created = await create_audit(client, entity_id, details={"big": 2**70})
    query = (
        Audit.select(Audit.id, Audit.details)
        .where(Audit.id == uuid.UUID(created["id"]))
        .output(load_json=True)
    )

    guarded = await db.run(query)

    assert (
        guarded
        == await query.run()
        == [{"id": uuid.UUID(created["id"]), "details": {"big": 2**70}}]
    )


async def test_run_leaves_no_borrowed_connection_behind_even_when_the_query_fails(client):
    with pytest.raises(ValueError, match="No values were specified"):
        await db.run(Audit.update({}).where(Audit.id == uuid.uuid4()))

    assert DB.current_transaction.get() is None


async def test_an_app_shutting_down_leaves_the_pool_to_the_apps_still_running(client, capsys):
    """The pool is one per process: the last app to stop closes it, not the first."""
    from app import create_app

    other = create_app()
    async with other.router.lifespan_context(other):
        assert (await client.get("/health/db")).status_code == 200

    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert "database pool closed" not in [line.get("message") for line in logged]
    assert DB.pool is not None
    assert (await client.get("/health/db")).json()["status"] == "healthy"


async def test_timestamps_are_utc_whatever_the_database_default(client, db, entity_id):
    """The pool asks for UTC on every connection: the API's timestamps never carry an offset
    the server was configured with."""
    name = await db.fetchval("SELECT current_database()")
    await db.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'Asia/Kolkata'")
    try:
        await DB.pool.expire_connections()  # new connections, which read the database default
        record = await create_audit(client, entity_id)
    finally:
        await db.execute(f'ALTER DATABASE "{name}" RESET timezone')
        await DB.pool.expire_connections()
    assert record["created_at"].endswith("+00:00"), record["created_at"]


async def test_a_statement_past_its_bound_is_a_503_not_a_hang(client):
    """The pool bounds every statement by DB_STATEMENT_TIMEOUT_S (a frozen database is a 503,
    not a wait); a job that knowingly runs longer names its own bound, and only it gets it."""
    bound = db._settings.db_statement_timeout_s
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        async with db.connection() as conn:
            await conn.execute(f"SELECT pg_sleep({bound + 20})")
    assert time.monotonic() - started < bound + 3

    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        async with db.connection(statement_timeout_s=0.3) as conn:
            await conn.execute("SELECT pg_sleep(10)")
    assert time.monotonic() - started < 3
    async with db.connection() as conn:  # the next borrower has the usual bound again
        assert await conn.fetchval("SELECT 1 FROM pg_sleep(0.5)") == 1


async def test_the_pools_connections_never_jit_compile(client):
    # A short API statement misplanned as big (no statistics yet after a bulk load) spent
    # 35 ms compiling a 1 ms proof lookup.
    async with db.connection() as conn:
        assert await conn.fetchval("SHOW jit") == "off"
