"""db.py: the pool (one per process, sized and bounded by the settings, started on first use
if the database was down) and db.run, a Piccolo query behind the same guard as raw SQL."""

import asyncio
import contextlib
import json
import time
import uuid

import httpx
import pytest
from pydantic import SecretStr

import db
from audits.tables import Audit
from errors import DatabaseUnavailable
from logs import configure_logging
from piccolo_conf import DB
from tests.helpers import AUDITS, create_audit
from tests.pg_proxy import PostgresProxy


@pytest.fixture
async def own_pool(app, monkeypatch):
    """The process's pool set aside: the test's apps (or its first query) start one of their
    own, as the first app in a process does, and it is closed after the test. The session
    app's sealer waits meanwhile, as in an outage: it would otherwise start the pool itself."""
    from ledger import sealer

    class Outage:
        OUTAGE_ERRORS = db.OUTAGE_ERRORS

        @staticmethod
        def connection(**_):
            raise DatabaseUnavailable()

    monkeypatch.setattr(sealer, "db", Outage)
    monkeypatch.setattr(DB, "pool", None)
    monkeypatch.setattr(db, "_users", 0)
    monkeypatch.setattr(db, "_settings", db._settings)
    yield
    if DB.pool is not None:
        await DB.pool.close()
    configure_logging(db._settings.log_level)  # the test's apps logged to its own stdout


def settings_with(**changes):
    """The suite's settings for an app of the test's own, which seals nothing."""
    return db._settings.model_copy(update={"ledger_sealer": False, **changes})


def pool_log(capsys) -> list[str]:
    """What the pool logged (`create_app` points the log at the test's stdout)."""
    out = capsys.readouterr().out.splitlines()
    lines = [json.loads(line) for line in out if line.startswith("{")]
    return [line["message"] for line in lines if line["logger"] == "looped_needle.db"]


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


async def test_the_pool_stays_open_until_the_last_app_using_it_stops(own_pool, capsys):
    """The pool is one per process: the last app to stop closes it, not the first."""
    from app import create_app

    first, second = create_app(settings_with()), create_app(settings_with())
    async with first.router.lifespan_context(first):
        pool = DB.pool
        async with second.router.lifespan_context(second):
            pass
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first), base_url="http://testserver"
        ) as client:
            assert (await client.get("/health/db")).status_code == 200
        assert not pool.is_closing()
        assert "database pool closed" not in pool_log(capsys)

    assert pool.is_closing()
    assert pool_log(capsys) == ["database pool closed"]


@pytest.mark.parametrize(
    ("outage", "error"), [("down", "ConnectionRefusedError"), ("silent", "TimeoutError")]
)
async def test_an_app_starts_without_its_database_and_opens_the_pool_once_it_answers(
    own_pool, capsys, entity_id, outage, error
):
    """Down (refused) or silent (accepts, never answers) at start-up: the app starts within
    DB_CONNECT_TIMEOUT_S, says why, answers 503 meanwhile, and the next request once the
    database answers opens the pool."""
    from app import create_app

    proxy = PostgresProxy(db._settings.database_url.get_secret_value())
    if outage == "silent":
        await proxy.start()
        proxy.freeze()
    app = create_app(settings_with(database_url=SecretStr(proxy.url), db_connect_timeout_s=0.5))
    async with contextlib.AsyncExitStack() as running:
        async with asyncio.timeout(3):  # DB_CONNECT_TIMEOUT_S, not asyncpg's default 60 s
            await running.enter_async_context(app.router.lifespan_context(app))
        assert pool_log(capsys)[:2] == [
            f"could not open the database pool: {error}",
            "database unreachable at start-up; will retry on the next request",
        ]
        client = await running.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        )
        unavailable = await client.get(AUDITS, params={"entity_id": entity_id})
        assert unavailable.status_code == 503, unavailable.text
        assert unavailable.headers["retry-after"]

        if outage == "silent":
            proxy.thaw()
        else:
            await proxy.start()
        answered = await client.get(AUDITS, params={"entity_id": entity_id})
        assert answered.status_code == 200, answered.text
    await proxy.cut()


async def test_the_pool_holds_db_pool_min_connections_and_never_more_than_db_pool_max(own_pool, db):
    """What an operator sizes PostgreSQL's max_connections by: DB_POOL_MIN connections open
    at start, DB_POOL_MAX at most; a borrower past that waits DB_ACQUIRE_TIMEOUT_S for a 503."""
    import db as database
    from app import create_app

    tag = f"pool_test_{uuid.uuid4().hex[:8]}"
    url = database._settings.database_url.get_secret_value()
    tagged = f"{url}{'&' if '?' in url else '?'}application_name={tag}"
    app = create_app(
        settings_with(
            database_url=SecretStr(tagged), db_pool_min=1, db_pool_max=2, db_acquire_timeout_s=0.3
        )
    )
    connections = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
    async with app.router.lifespan_context(app):
        assert await db.fetchval(connections, tag) == 1
        async with database.connection(), database.connection():
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                async with database.connection():
                    pass
            assert time.monotonic() - started < 2
            assert await db.fetchval(connections, tag) == 2


async def test_timestamps_are_utc_whatever_the_database_default(own_pool, client, db, entity_id):
    """The pool asks for UTC on every connection: the API's timestamps never carry an offset
    the server was configured with."""
    name = await db.fetchval("SELECT current_database()")
    await db.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'Asia/Kolkata'")
    try:
        record = await create_audit(client, entity_id)  # the pool starts: new connections
    finally:
        await db.execute(f'ALTER DATABASE "{name}" RESET timezone')
    assert record["created_at"].endswith("+00:00"), record["created_at"]


async def test_a_statement_past_its_bound_is_a_503_not_a_hang(own_pool):
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


async def test_the_pools_connections_never_jit_compile(own_pool):
    # A short API statement misplanned as big (no statistics yet after a bulk load) spent
    # 35 ms compiling a 1 ms proof lookup.
    async with db.connection() as conn:
        assert await conn.fetchval("SHOW jit") == "off"


async def test_with_no_statement_cache_no_prepared_statement_outlives_its_query(own_pool):
    """DB_STATEMENT_CACHE_SIZE=0, for PgBouncer before 1.21 in transaction mode: a named
    prepared statement left on a server connection breaks the next client to get it."""
    await db.open_pool(settings_with(db_statement_cache_size=0))
    async with db.connection() as conn:
        await conn.fetchval("SELECT $1::int", 1)
        assert await conn.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0
    await db.close_pool()


async def test_a_connection_goes_back_to_the_pool_without_a_round_trip(own_pool):
    """asyncpg's default reset sends `RESET ALL; UNLISTEN *; ...` on every release, a round
    trip per request; our statements leave no session state, so the pool sends nothing."""
    sent = []

    def note(record):
        sent.append(record.query)

    async with db.connection() as conn:
        raw = conn._con
        raw.add_query_logger(note)
        await conn.fetchval("SELECT 1")
    raw.remove_query_logger(note)
    assert sent == ["SELECT 1"]
