"""db.run: a Piccolo query behind the same guard as raw SQL, answering as Piccolo would."""

import asyncio
import json
import logging
import time
import uuid

import pytest

import db
from audits.tables import Audit
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


def db_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "looped_needle.db"]


async def test_the_last_app_to_stop_closes_the_pool_and_says_so(app, client, caplog):
    with caplog.at_level(logging.INFO, logger="looped_needle.db"):
        await db.close_pool()  # what the session's app does at shutdown
    try:
        # (the ledger's sealer, still running, may log its lost connection, or reopen the pool)
        assert "database pool closed" in db_log(caplog)
    finally:
        await db.open_pool(app.state.settings)
    assert (await client.get("/health/db")).json()["status"] == "healthy"


@pytest.fixture
async def silent_server():
    """A 'database' that accepts connections and never answers."""
    accepted = []

    async def hold(reader, writer):
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield f"postgresql://postgres@127.0.0.1:{server.sockets[0].getsockname()[1]}/postgres"
    for writer in accepted:
        writer.close()
    server.close()


@pytest.mark.timeout(20)
async def test_an_app_starting_while_the_database_is_silent_starts_and_says_so(
    app, client, caplog, silent_server
):
    from settings import Settings

    silent = Settings(database_url=silent_server, db_connect_timeout_s=0.5)
    await db.close_pool()
    caplog.clear()
    try:
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="looped_needle.db"):
            await db.open_pool(silent)  # the lifespan's call: it must not raise
        assert time.monotonic() - started < 5  # bounded by DB_CONNECT_TIMEOUT_S
        assert DB.pool is None
        # The ledger's sealer, still running, may try the silent database too and log so.
        logged = db_log(caplog)
        said = logged.index("database unreachable at start-up; will retry on the next request")
        assert "could not open the database pool: TimeoutError" in logged[:said]
    finally:
        await db.close_pool()
        await db.open_pool(app.state.settings)
    assert (await client.get("/health/db")).json()["status"] == "healthy"


async def test_timestamps_are_utc_whatever_the_database_default(app, client, db, entity_id):
    """The pool asks for UTC on every connection: the API's timestamps never carry an offset
    the server was configured with."""
    name = await db.fetchval("SELECT current_database()")
    await db.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'Asia/Kolkata'")
    try:
        await db_module_reopen(app)  # new connections, which read the database default
        record = await create_audit(client, entity_id)
    finally:
        await db.execute(f'ALTER DATABASE "{name}" RESET timezone')
        await db_module_reopen(app)
    assert record["created_at"].endswith("+00:00"), record["created_at"]


async def db_module_reopen(app) -> None:
    await db.close_pool()
    await db.open_pool(app.state.settings)
